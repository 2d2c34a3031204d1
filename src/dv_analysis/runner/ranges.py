"""A range of periods: the sequential notebooks (cleaning) quarter by quarter, the others
of several quarters at once; every quarter promoted in order (:func:`run_range`).
"""

from __future__ import annotations

import time

from dv_analysis.config import (
    ADDON_NOTEBOOKS,
    NOTEBOOK_REGISTRY,
    NOTEBOOKS,
    Period,
    Settings,
    period_range,
)
from dv_analysis.errors import MissingInputError
from dv_analysis.runner import forkserver, modes, staging
from dv_analysis.runner.addons import combined, mark_pending, run_addon
from dv_analysis.runner.locks import period_locks
from dv_analysis.runner.manifest import new_manifest, previous_run, record_ended, run_parameters
from dv_analysis.runner.notebook import single_threaded_kernels
from dv_analysis.runner.one_period import finish_period, is_partial, run, window_check
from dv_analysis.runner.provenance import run_key
from dv_analysis.runner.schedule import execute_notebooks
from dv_analysis.workers import cores, process_pool

#: Notebooks that read the previous quarter's own outputs (cleaning recognises re-exported
#: rows by the previous quarter's notifications): a range runs them quarter by quarter
#: first; the others only read clean tables and can run for several quarters at once.
SEQUENTIAL_NOTEBOOKS: tuple[str, ...] = tuple(n.name for n in NOTEBOOK_REGISTRY if n.sequential)


def default_jobs() -> int:
    """Parallel periods of a range: the machine's cores, at most 4 (each kernel holds ~0.6 GB)."""
    return max(1, min(cores(), 4))


def run_range(
    settings: Settings,
    start: str | Period,
    end: str | Period,
    *,
    seed: int = 42,
    force: bool = False,
    progress: bool = True,
    extra_parameters: dict | None = None,
    notebooks: tuple[str, ...] = NOTEBOOKS,
    jobs: int = 1,
) -> list[dict]:
    """Run every period from ``start`` to ``end``, skipping unchanged ones; manifests in order.

    Checks first that every period has a raw folder, and names the missing ones. With
    ``jobs`` > 1 the cleaning notebook runs quarter by quarter first (it reads the previous
    quarter's notifications), then the other notebooks of up to ``jobs`` quarters at once
    (they read only clean tables). Results do not depend on ``jobs``: every quarter has
    its own seeds. Each period's Gi* panel reuses the quarters computed before, so the
    emerging-hotspot panel is computed once for the range.
    """
    periods = period_range(start, end)
    missing = [str(p) for p in periods if not (settings.raw_dir / str(p)).is_dir()]
    if missing:
        raise MissingInputError(
            f"no raw exports for {', '.join(missing)} in {settings.raw_dir}"
            " (one folder per quarter, e.g. data_raw/2020Q4/)"
        )
    settings.check_public_dir()
    single_threaded_kernels()  # before the kernel server starts: it imports numpy
    with modes.owner_only(), forkserver.serving():  # one kernel server for the range
        return _run_periods(
            settings, periods, seed, force, progress, extra_parameters, notebooks, jobs
        )


def _run_periods(settings, periods, seed, force, progress, extra_parameters, notebooks, jobs):
    """:func:`run_range` once its periods are checked (owner-only files)."""
    t0 = time.perf_counter()
    first = tuple(n for n in notebooks if n in SEQUENTIAL_NOTEBOOKS)
    rest = tuple(n for n in notebooks if n not in SEQUENTIAL_NOTEBOOKS)
    if jobs <= 1 or len(periods) == 1 or not rest:
        manifests = []
        for i, p in enumerate(periods, 1):
            if progress and len(periods) > 1:
                print(f"=== {p} ({i}/{len(periods)}) ===", flush=True)
            manifests.append(
                run(
                    settings,
                    p,
                    seed=seed,
                    notebooks=notebooks,
                    progress=progress,
                    extra_parameters=extra_parameters,
                    force=force,
                    jobs=jobs,
                )
            )
    else:
        manifests = _run_parallel(
            settings, periods, first, rest, seed, force, progress, extra_parameters, jobs
        )
    if progress:
        done = sum(not m.get("skipped") for m in manifests)
        print(
            f"{len(periods)} period(s): {done} run, {len(periods) - done} unchanged and skipped,"
            f" in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    return manifests


def _addons(settings, results: dict, addons, params_of: dict, force, progress) -> None:
    """The add-ons of every period of a parallel range whose core is in place (ok or
    unchanged), in order; the periods are locked by the caller. ``results`` is updated."""
    for name in sorted(results):
        if results[name].get("status") != "ok":
            continue
        final = settings.period(name)
        for addon in addons:
            after = run_addon(
                settings,
                final,
                addon,
                params_of[name],
                progress=progress,
                force=force,
                strict=False,
            )
            results[name] = combined(results[name], after)


def _run_parallel(settings, periods, first, rest, seed, force, progress, extra, jobs) -> list:
    """Cleaning notebooks in order, then the rest of up to ``jobs`` periods at once.

    Every period is locked; every period to run is staged; the staged periods read each
    other (the cleaning of a quarter reads the previous one's notifications). When all
    have ended, periods are moved into place in order up to the first that failed; that one
    and the later ones keep their previous outputs and are marked in their manifests. The
    add-ons (the plan) then run for every period whose core is in place, still locked,
    before a failure is raised.
    """
    core = tuple(n for n in rest if n not in ADDON_NOTEBOOKS)
    addons = tuple(n for n in rest if n in ADDON_NOTEBOOKS)
    notebooks = first + core
    settings = settings.unstaged
    window_check(settings, periods[0], extra, progress)  # the quarters before the range
    results: dict[str, dict] = {}
    todo: list[tuple[Period, dict, dict]] = []
    params_of: dict[str, dict] = {}
    with period_locks(settings, periods):
        for p in periods:
            final = settings.period(p)
            params = params_of[str(p)] = run_parameters(settings, final, seed, extra)
            key = run_key(settings, final.period, params, notebooks)
            previous = previous_run(final, key, force, progress)
            if previous is not None:
                results[str(p)] = previous
            else:
                todo.append((final.period, params, key))
        error = _run_staged(settings, todo, first, core, addons, results, progress, jobs)
        if error is None or isinstance(error, Exception):  # not after Ctrl-C or SIGTERM
            _addons(settings, results, addons, params_of, force, progress)
    if error is not None:
        raise error
    return [results[str(p)] for p in periods]


def _run_staged(settings, todo, first, core, addons, results, progress, jobs):
    """Stage, run and promote in order the ``todo`` periods (locked by the caller); their
    manifests into ``results``; the error that stopped them, or None."""
    if not todo:
        return None
    notebooks = first + core
    staged = settings.with_staging(*(p for p, _, _ in todo))
    if progress:
        print(f"{len(todo)} period(s) to run: cleaning in order, then {jobs} at a time", flush=True)
    runs = []
    for p, params, key in todo:
        paths = staged.period(p)
        staging.prepare(paths, copy=is_partial(notebooks))
        staging.record_attempt(paths, "running")
        params = {**params, "staging": staged.staging_parameter}
        runs.append((paths, params, new_manifest(settings, paths, params, key)))
    error = None
    try:
        for paths, params, manifest in runs:
            execute_notebooks(
                paths,
                params,
                manifest,
                first,
                progress=progress,
                progress_bar=False,
                numbering=(1, len(notebooks)),
            )
        results.update(_finish_parallel(staged, runs, core, progress, jobs))
    except BaseException as e:
        error = e
    try:
        _promote_in_order(runs, results, error, addons)
    except BaseException as e:
        return e
    return None


def _finish_parallel(staged: Settings, runs, rest, progress: bool, jobs: int) -> dict[str, dict]:
    """The notebooks after cleaning, ``jobs`` periods at once; the manifests by period.

    Spawned workers (no inherited ZMQ state) from :func:`dv_analysis.workers.process_pool`:
    after the first failure, or on Ctrl-C, the periods still running are stopped at once
    (their results would not be used; their staging is marked by the caller).
    """
    from concurrent.futures import FIRST_EXCEPTION, wait

    out = {}
    with process_pool(jobs) as pool:
        futures = {
            pool.submit(
                finish_period, staged, str(paths.period), params, manifest, rest, progress
            ): str(paths.period)
            for paths, params, manifest in runs
        }
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for f in pending:
            f.cancel()
        for f in done:
            if f.exception() is None:
                out[futures[f]] = f.result()
        for f in done:
            if f.exception() is not None:
                raise f.exception()
    return out


def _promote_in_order(runs, results: dict, error: BaseException | None, addons=()) -> None:
    """Move the passed periods into place in order, up to the first that did not pass;
    mark that one and the later ones in their manifests (their staging is kept)."""
    blocked: BaseException | None = None
    for paths, _, _ in runs:
        name = str(paths.period)
        if blocked is None and results.get(name, {}).get("status") == "ok":
            mark_pending(paths, addons)
            staging.promote(paths)
            continue
        record_ended(paths, blocked or error or RuntimeError(f"{name} did not pass"))
        blocked = blocked or RuntimeError(f"an earlier quarter of the range ({name}) did not pass")
        results.pop(name, None)
    if error is not None:
        raise error
