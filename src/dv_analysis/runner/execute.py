"""Execute the notebooks of a period (or of a range of periods) with papermill.

The chain follows man-group/notebooker's report execution: papermill executes each
notebook with the period's parameters into ``reports/<period>/internal/`` (analysts
only), :mod:`.render` turns it into a staff page, and :mod:`.provenance` records
parameters, git revision, package versions, input checksums and timings in
``manifest.json``. The disclosure audit of ``staff/`` and ``public/`` closes every run.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ..config import (
    NOTEBOOK_NEEDS,
    NOTEBOOK_REGISTRY,
    NOTEBOOKS,
    Period,
    PeriodPaths,
    Settings,
    period_range,
)
from ..workers import cores, process_pool
from . import forkserver, kernels, modes, render, staging
from .locks import period_lock, period_locks
from .provenance import (
    git_revision,
    input_checksums,
    notebooks_dir,
    package_versions,
    run_key,
    up_to_date,
)
from .render import REPORT_NOTEBOOK, staff_html

#: Parameters every notebook declares (a test checks it with papermill.inspect_notebook).
CORE_PARAMETERS: tuple[str, ...] = (
    "period",
    "city",
    "public_dir",
    "raw_dir",
    "clean_dir",
    "reports_dir",
    "staging",
    "seed",
)


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook and the error."""


#: Notebooks that read the previous quarter's own outputs (cleaning recognises re-exported
#: rows by the previous quarter's notifications): a range runs them quarter by quarter
#: first; the others only read clean tables and can run for several quarters at once.
SEQUENTIAL_NOTEBOOKS: tuple[str, ...] = tuple(n.name for n in NOTEBOOK_REGISTRY if n.sequential)


def _parameters(settings: Settings, paths: PeriodPaths, seed: int, extra: dict | None) -> dict:
    return {
        "period": str(paths.period),
        "city": settings.city,
        "public_dir": str(settings.public_dir),
        "raw_dir": str(settings.raw_dir),
        "clean_dir": str(settings.clean_dir),
        "reports_dir": str(settings.reports_dir),
        "staging": settings.staging_parameter,
        "seed": int(seed),
        **(extra or {}),
    }


def _new_manifest(settings: Settings, paths: PeriodPaths, params: dict, key: dict) -> dict:
    for d in (paths.internal, paths.staff, paths.public, paths.clean):
        d.mkdir(parents=True, exist_ok=True)
    return {
        "period": str(paths.period),
        "city": settings.city,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": params,
        "git": git_revision(),
        "packages": package_versions(),
        "platform": {
            "machine": platform.machine(),
            "system": platform.system(),
            "python": sys.version.split()[0],
        },
        "inputs": input_checksums(paths),
        "run_key": key,
        "notebooks": [],
        "seconds": 0.0,
        "status": "running",
    }


#: Thread pools of the numerical libraries in the notebook kernels. One thread each: the
#: models are small (OpenMP spin-waiting made gradient boosting 8× slower when two kernels
#: ran at once on two cores), results do not depend on the machine's core count, and a
#: range runs several kernels side by side instead. An analyst's own setting is kept.
KERNEL_THREAD_VARIABLES: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def _single_threaded_kernels() -> None:
    """Kernels inherit this process's environment: one thread per library unless set."""
    for name in KERNEL_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def _write_manifest(paths: PeriodPaths, manifest: dict, started: float) -> None:
    """Add the elapsed time and write the manifest (also after a failure)."""
    manifest["seconds"] = round(manifest.get("seconds", 0.0) + time.perf_counter() - started, 2)
    order = {n: i for i, n in enumerate(NOTEBOOKS)}
    manifest["notebooks"].sort(key=lambda e: order.get(e.get("notebook"), len(order)))
    manifest["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    paths.manifest.parent.mkdir(parents=True, exist_ok=True)
    paths.manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


def _kernel_manager():
    """Kernels with CurveZMQ-encrypted channels where the kernel supports it (ipykernel ≥ 7.3
    warns on every start over plain TCP; the kernel and the runner share the machine),
    forked from the run's kernel server when one serves (:mod:`.forkserver`)."""
    import uuid

    from jupyter_client.manager import AsyncKernelManager

    class EncryptedKernelManager(AsyncKernelManager):
        def __init__(self, **kw):
            kw.setdefault("transport_encryption", "auto")
            super().__init__(**kw)

        async def _async_pre_start_kernel(self, **kw):
            # forked from the run's kernel server when one serves (.forkserver)
            if self.provisioner is None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                self.provisioner = forkserver.provisioner_class()(
                    kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
                )
            return await super()._async_pre_start_kernel(**kw)

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts a kernel before shutting it down; an idle kernel then
            # logs "ERROR | KeyboardInterrupt caught in kernel." on the run's console
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return EncryptedKernelManager


def _run_notebook(
    paths: PeriodPaths,
    name: str,
    params: dict,
    manifest: dict,
    progress_bar: bool,
    prepare_next: bool = False,
):
    """Execute one notebook and render its staff page; record it in the manifest.

    The notebook gets this process's spare kernel, started and warmed ahead
    (:mod:`~dv_analysis.runner.kernels`); with ``prepare_next`` the next spare starts warming
    while this notebook runs.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    nb_dir = notebooks_dir()
    out = paths.internal / name
    t0 = time.perf_counter()
    entry = {"notebook": name, "executed": str(paths.final.internal / name)}
    manifest["notebooks"].append(entry)
    try:
        manager = kernels.take(_kernel_manager(), nb_dir, prepare_next=prepare_next)
        pm.execute_notebook(
            str(nb_dir / name), str(out), parameters=params, cwd=str(nb_dir),
            progress_bar=progress_bar, kernel_name="python3", log_output=False,
            kernel_manager_class=manager, request_save_on_cell_execute=False,
        )  # fmt: skip
    except PapermillExecutionError as e:
        entry.update(status="failed", seconds=round(time.perf_counter() - t0, 2),
                     error=f"{e.ename}: {e.evalue}")  # fmt: skip
        manifest["status"] = "failed"
        raise NotebookFailed(
            f"notebook {name} failed for {paths.period}: {e.ename}: {e.evalue} (executed copy: {out})"
        ) from None
    stem = Path(name).stem
    html = staff_html(out, paths.staff / f"{stem}.html", f"{stem} {paths.period}")
    if name == REPORT_NOTEBOOK:
        staff_html(out, paths.staff / "index.html", f"家庭暴力風險季報 {paths.period}")
    final = paths.final.staff / html.name
    entry.update(status="ok", seconds=round(time.perf_counter() - t0, 2), staff_html=str(final))


def _execute(
    paths: PeriodPaths,
    params: dict,
    manifest: dict,
    notebooks: tuple[str, ...],
    *,
    progress: bool,
    progress_bar: bool,
    numbering: tuple[int, int] | None = None,
    jobs: int = 1,
) -> dict:
    """Execute ``notebooks`` for a period, adding to ``manifest``, which is written after the
    call whatever happens (with the failure recorded, :class:`NotebookFailed`).

    With ``jobs`` > 1 a notebook starts as soon as the notebooks it reads
    (:data:`~dv_analysis.config.NOTEBOOK_NEEDS`) have finished, up to ``jobs`` at once
    (:func:`_execute_graph`, without per-cell progress bars: their lines would interleave);
    otherwise one after the other in order.
    """
    started = time.perf_counter()
    first, count = numbering or (1, len(notebooks))
    _single_threaded_kernels()  # before the kernel server starts: it imports numpy
    try:
        with forkserver.serving():
            if jobs > 1 and len(notebooks) > 1:
                _execute_graph(paths, params, manifest, notebooks, progress, (first, count), jobs)
            else:
                for i, name in enumerate(notebooks, first):
                    if progress:
                        print(f"[{i}/{count}] {name} ({paths.period})", flush=True)
                    more = name != notebooks[-1]
                    _run_notebook(paths, name, params, manifest, progress_bar, prepare_next=more)
    finally:
        kernels.close()
        _write_manifest(paths, manifest, started)
    return manifest


def _notebook_job(
    paths: PeriodPaths, name: str, params: dict, prepare_next: bool
) -> tuple[dict, str | None]:
    """Worker of :func:`_execute_graph`: one notebook; its manifest entry and error, if any."""
    record: dict = {"notebooks": []}
    try:
        _run_notebook(paths, name, params, record, progress_bar=False, prepare_next=prepare_next)
    except NotebookFailed as e:
        return record["notebooks"][0], str(e)
    return record["notebooks"][0], None


def _worker_start() -> None:
    """Initializer of :func:`_execute_graph`'s workers: a spare kernel warms at once."""
    kernels.close_at_exit()
    kernels.prepare(_kernel_manager(), notebooks_dir())
    import papermill  # noqa: F401  (imported while the spare kernel starts, not after)

    render.warm()


def _no_op() -> None:
    """A task that makes the pool start a worker (workers start on demand)."""


def _execute_graph(paths, params, manifest, notebooks, progress, numbering, jobs) -> None:
    """Notebooks whose needs among ``notebooks`` have finished run at once, each in a process
    of its own (``jobs`` at most). After a failure nothing new starts; the running ones end
    and the first failure in the notebooks' order is raised. The manifest lists the
    notebooks in their order. Interrupted, the workers (and with them their kernels) stop.
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    first, count = numbering
    number = {n: i for i, n in enumerate(notebooks, first)}
    needs = {n: [m for m in NOTEBOOK_NEEDS[n] if m in notebooks] for n in notebooks}
    waiting, running, entries, errors = list(notebooks), {}, {}, {}
    try:
        with process_pool(jobs, initializer=_worker_start) as pool:
            # One worker (started by the first notebook) at first: the others would slow its
            # start by about 2 s on two cores. They start when it ends, behind the notebooks
            # then ready, and warm up while those run.
            others = min(jobs, len(notebooks)) - 1
            while waiting or running:
                ready = [] if errors else [
                    n for n in waiting
                    if all(entries.get(m, {}).get("status") == "ok" for m in needs[n])
                ]  # fmt: skip
                for name in ready[: jobs - len(running)]:
                    waiting.remove(name)
                    if progress:
                        print(f"[{number[name]}/{count}] {name} ({paths.period})", flush=True)
                    # a spare for every notebook still to come, counting the workers' first
                    more = len(waiting) >= jobs  # spares (their initializer): none left unused
                    running[pool.submit(_notebook_job, paths, name, params, more)] = name
                if entries and waiting and not errors:  # after the first notebook, behind the
                    # notebooks just submitted; none after a failure or when nothing is left
                    for _ in range(others):
                        pool.submit(_no_op)
                    others = 0
                if not running:
                    break  # after a failure: what waits for it never starts
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    entries[name], error = future.result()
                    if error:
                        errors[name] = error
                    elif progress:
                        print(f"      {name} done ({entries[name]['seconds']:.1f} s)", flush=True)
    finally:
        manifest["notebooks"].extend(entries[n] for n in notebooks if n in entries)
    if errors:
        manifest["status"] = "failed"
        raise NotebookFailed(errors[min(errors, key=notebooks.index)])


def _model_checks(paths: PeriodPaths, manifest: dict) -> None:
    """Copy the village-risk model's diagnostics into the manifest; warn when they missed."""
    if not paths.risk_summary.exists():
        return
    summary = json.loads(paths.risk_summary.read_text(encoding="utf-8"))
    d = summary.get("diagnostics", {})
    manifest["risk_model"] = {"diagnostics": d, "engine": summary.get("engine", {}),
                              "model": summary.get("model", {})}  # fmt: skip
    if not d.get("ok", True):
        warning = (
            f"village-risk model did not converge for {paths.period}: {d.get('message', '')};"
            " its numbers are marked unusable on 03b_village_risk, 04b_priority and the report"
        )
        manifest.setdefault("warnings", []).append(warning)
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)


def _audit(paths: PeriodPaths, manifest: dict, progress: bool) -> dict:
    """The disclosure audit of ``staff/`` and ``public/``; the run is ``ok`` only if it passes."""
    from .. import disclosure

    started = time.perf_counter()
    _model_checks(paths, manifest)
    try:
        if progress:
            print(f"disclosure audit of staff/ and public/ ({paths.period})", flush=True)
        level = manifest["parameters"].get("public_level", "district")
        manifest["public_level"] = level
        findings = disclosure.audit(paths.reports, public_level=level)
        manifest["audit"] = {
            "findings": [str(f) for f in findings],
            "policy": disclosure.DEFAULT_POLICY.as_dict(),
        }
        if findings:
            manifest["status"] = "audit failed"
            disclosure.check(paths.reports, public_level=level)  # names file and cell
        manifest["status"] = "ok"
    finally:
        _write_manifest(paths, manifest, started)
    return manifest


def _previous_run(paths: PeriodPaths, key: dict, force: bool, progress: bool) -> dict | None:
    """The manifest of a finished run with this key (marked ``skipped``), or None to run."""
    if force or not up_to_date(paths, key["key"]):
        return None
    if progress:
        print(
            f"{paths.period}: unchanged since its last run (same inputs, code and parameters);"
            " skipped (use --force to recompute)",
            flush=True,
        )
    return {**json.loads(paths.manifest.read_text(encoding="utf-8")), "skipped": True}


def _window_check(settings: Settings, period: Period, extra: dict | None, progress: bool) -> dict:
    """Clean the stale quarters before ``period`` and say how much of the window has data.

    Returns ``{"cleaned": [...], "window": n, "window_quarters": k, "window_missing": [...],
    "risk_window": m, "risk_window_quarters": j}`` (recorded in the manifest); a short
    window is a warning on the console, a short risk window a note.
    """
    from ..config import (
        FIRST_REGISTER_QUARTER,
        RISK_WINDOW_QUARTERS,
        WINDOW_QUARTERS,
        window_periods,
    )
    from ..stages.clean import ensure_cleaned

    def missing_of(length: int) -> list[str]:  # the period itself is cleaned by the run
        quarters = window_periods(period, length)[:-1]
        return [str(q) for q in quarters if not settings.period(q).notifications.exists()]

    cleaned = ensure_cleaned(settings, period, FIRST_REGISTER_QUARTER, progress)
    window = int((extra or {}).get("window", WINDOW_QUARTERS))
    missing = missing_of(window)
    if missing:
        print(
            f"WARNING: window: {window - len(missing)} of {window} quarters for {period};"
            f" no raw exports for {', '.join(missing)} in {settings.raw_dir}"
            " (the window counts and rates cover the quarters that exist)",
            file=sys.stderr,
            flush=True,
        )
    risk_window = int((extra or {}).get("risk_window", RISK_WINDOW_QUARTERS))
    risk_have = risk_window - len(missing_of(risk_window))
    if progress and risk_have < risk_window:
        print(
            f"note: the village-risk model reads {risk_have} of its {risk_window} quarters"
            f" for {period} (the others have no clean data); more quarters make its village"
            " risks surer",
            flush=True,
        )
    return {
        "cleaned": cleaned,
        "window": window,
        "window_quarters": window - len(missing),
        "window_missing": missing,
        "risk_window": risk_window,
        "risk_window_quarters": risk_have,
    }


def _partial(notebooks: tuple[str, ...]) -> bool:
    """A run of some notebooks only: it starts from a copy of the period's outputs."""
    return set(notebooks) != set(NOTEBOOKS)


def _carry_entries(final: PeriodPaths, manifest: dict, notebooks: tuple[str, ...]) -> None:
    """A run of some notebooks (``dv-analysis plan``) starts from the period's outputs: its
    manifest keeps the entries of the other notebooks, marked with the run they come from,
    and lists the notebooks it reran."""
    previous = staging.read_json(final.manifest)
    manifest["rerun"] = list(notebooks)
    manifest["notebooks"] = [
        {**e, "from_run": e.get("from_run", previous.get("started"))}
        for e in previous.get("notebooks", [])
        if e.get("notebook") not in notebooks
    ]


def _ended(paths: PeriodPaths, error: BaseException) -> None:
    """Record a staged run that did not pass in the period's manifest (staging kept)."""
    staged = staging.read_json(paths.manifest).get("status")
    if not isinstance(error, Exception):
        status = "interrupted"
    else:
        status = staged if staged in ("failed", "audit failed") else "failed"
    reason = f"{type(error).__name__}: {error}".rstrip(": ")
    staging.record_attempt(
        paths, status, error=f"{reason} (outputs of the attempt: {paths.reports})"
    )


def run(
    settings: Settings,
    period: str | Period,
    *,
    seed: int = 42,
    notebooks: tuple[str, ...] = NOTEBOOKS,
    progress: bool = True,
    extra_parameters: dict | None = None,
    force: bool = True,
    jobs: int = 1,
) -> dict:
    """Execute the notebooks for a period; return the manifest (also written to disk).

    With ``jobs`` > 1 notebooks that do not read each other run at once (``03_hotspots``
    and ``03b_village_risk``, then ``04_accessibility`` beside the risk model); the results
    do not depend on it (every notebook has its own seeds).

    The period is locked for the run (:mod:`.locks`); the earlier quarters its window
    and panel read are cleaned first where stale. Outputs are written to the staging
    folders and moved into place only when every notebook and the audit passed
    (:mod:`.staging`); a failed or interrupted run leaves the previous outputs as they
    were and its state in the manifest.

    With ``force=False`` a period whose manifest records a finished run with the same
    :func:`run_key` (same parameters, code and inputs) is not recomputed: its manifest is
    returned with ``skipped`` set. Stops at the first failing notebook with
    :class:`NotebookFailed`, after writing the manifest with the failure recorded.
    """
    settings.check_public_dir()
    settings = settings.unstaged
    final = settings.period(period)
    with modes.owner_only(), period_lock(settings, final.period):
        window = _window_check(settings, final.period, extra_parameters, progress)
        params = _parameters(settings, final, seed, extra_parameters)
        key = run_key(settings, final.period, params, notebooks)
        previous = _previous_run(final, key, force, progress)
        if previous is not None:
            return previous
        paths = settings.with_staging(final.period).period(final.period)
        partial = _partial(notebooks)
        staging.prepare(paths, copy=partial)
        staging.record_attempt(paths, "running")
        try:
            manifest = _new_manifest(settings, paths, params, key)
            manifest["window"] = window
            if partial:
                _carry_entries(final, manifest, notebooks)
            _execute(
                paths, {**params, "staging": paths.settings.staging_parameter}, manifest,
                notebooks, progress=progress, progress_bar=progress, jobs=jobs,
            )  # fmt: skip
            _audit(paths, manifest, progress)
            staging.promote(paths)
        except BaseException as e:
            _ended(paths, e)
            raise
    if progress:
        print(f"done in {manifest['seconds']:.1f} s")
        print(f"  executed notebooks (internal): {final.internal}")
        print(f"  staff pages:                   {final.staff}")
        print(f"  clean tables (internal):       {final.clean}")
        print(f"  manifest:                      {final.manifest}")
    return manifest


def _finish_period(
    settings: Settings, period: str, params: dict, manifest: dict, notebooks, progress: bool
) -> dict:
    """Worker of a parallel range: the notebooks after cleaning, audit and manifest."""
    paths = settings.period(period)
    done = len(manifest["notebooks"])
    _execute(
        paths, params, manifest, tuple(notebooks), progress=progress, progress_bar=False,
        numbering=(done + 1, done + len(notebooks)),
    )  # fmt: skip
    return _audit(paths, manifest, progress)


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
        raise FileNotFoundError(
            f"no raw exports for {', '.join(missing)} in {settings.raw_dir}"
            " (one folder per quarter, e.g. data_raw/2020Q4/)"
        )
    settings.check_public_dir()
    _single_threaded_kernels()  # before the kernel server starts: it imports numpy
    with modes.owner_only(), forkserver.serving():  # one kernel server for the range
        return _run_periods(settings, periods, seed, force, progress, extra_parameters,
                            notebooks, jobs)  # fmt: skip


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
                run(settings, p, seed=seed, notebooks=notebooks, progress=progress,
                    extra_parameters=extra_parameters, force=force, jobs=jobs)
            )  # fmt: skip
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


def _run_parallel(settings, periods, first, rest, seed, force, progress, extra, jobs) -> list:
    """Cleaning notebooks in order, then the rest of up to ``jobs`` periods at once.

    Every period to run is locked and staged; the staged periods read each other (the
    cleaning of a quarter reads the previous one's notifications). When all have ended,
    periods are moved into place in order up to the first that failed; that one and the
    later ones keep their previous outputs and are marked in their manifests.
    """
    notebooks = first + rest
    settings = settings.unstaged
    _window_check(settings, periods[0], extra, progress)  # the quarters before the range
    results: dict[str, dict] = {}
    todo: list[tuple[Period, dict, dict]] = []
    for p in periods:
        final = settings.period(p)
        params = _parameters(settings, final, seed, extra)
        key = run_key(settings, final.period, params, notebooks)
        previous = _previous_run(final, key, force, progress)
        if previous is not None:
            results[str(p)] = previous
        else:
            todo.append((final.period, params, key))
    if not todo:
        return [results[str(p)] for p in periods]
    staged = settings.with_staging(*(p for p, _, _ in todo))
    with period_locks(settings, [p for p, _, _ in todo]):
        if progress:
            print(
                f"{len(todo)} period(s) to run: cleaning in order, then {jobs} at a time",
                flush=True,
            )
        runs = []
        for p, params, key in todo:
            paths = staged.period(p)
            staging.prepare(paths, copy=_partial(notebooks))
            staging.record_attempt(paths, "running")
            params = {**params, "staging": staged.staging_parameter}
            runs.append((paths, params, _new_manifest(settings, paths, params, key)))
        error = None
        try:
            for paths, params, manifest in runs:
                _execute(paths, params, manifest, first, progress=progress, progress_bar=False,
                         numbering=(1, len(notebooks)))  # fmt: skip
            results.update(_finish_parallel(staged, runs, rest, progress, jobs))
        except BaseException as e:
            error = e
        _promote_in_order(runs, results, error)
    return [results[str(p)] for p in periods]


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
                _finish_period, staged, str(paths.period), params, manifest, rest, progress
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


def _promote_in_order(runs, results: dict, error: BaseException | None) -> None:
    """Move the passed periods into place in order, up to the first that did not pass;
    mark that one and the later ones in their manifests (their staging is kept)."""
    blocked: BaseException | None = None
    for paths, _, _ in runs:
        name = str(paths.period)
        if blocked is None and results.get(name, {}).get("status") == "ok":
            staging.promote(paths)
            continue
        _ended(paths, blocked or error or RuntimeError(f"{name} did not pass"))
        blocked = blocked or RuntimeError(f"an earlier quarter of the range ({name}) did not pass")
        results.pop(name, None)
    if error is not None:
        raise error
