"""One period: locked, its window's quarters cleaned first, staged, executed, audited and
promoted only when everything passed (:func:`run`).
"""

from __future__ import annotations

import sys
import time

from dv_analysis.config import ADDON_NOTEBOOKS, NOTEBOOKS, Period, Settings
from dv_analysis.runner import modes, staging
from dv_analysis.runner.addons import combined, mark_pending, run_addon
from dv_analysis.runner.locks import period_lock
from dv_analysis.runner.manifest import (
    audit_run,
    carry_entries,
    new_manifest,
    previous_run,
    record_ended,
    run_parameters,
)
from dv_analysis.runner.provenance import run_key
from dv_analysis.runner.schedule import execute_notebooks

#: The notebooks whose outputs a period needs to be complete (all but the add-ons).
CORE_NOTEBOOKS: tuple[str, ...] = tuple(n for n in NOTEBOOKS if n not in ADDON_NOTEBOOKS)

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


def window_check(settings: Settings, period: Period, extra: dict | None, progress: bool) -> dict:
    """Clean the stale quarters before ``period`` and say how much of the window has data.

    Returns ``{"cleaned": [...], "cleaning_seconds": s, "window": n, "window_quarters": k, "window_missing": [...],
    "risk_window": m, "risk_window_quarters": j}`` (recorded in the manifest); a short
    window is a warning on the console, a short risk window a note.
    """
    from dv_analysis.config import (
        FIRST_REGISTER_QUARTER,
        RISK_WINDOW_QUARTERS,
        WINDOW_QUARTERS,
        window_periods,
    )
    from dv_analysis.stages.clean import ensure_cleaned

    def missing_of(length: int) -> list[str]:  # the period itself is cleaned by the run
        quarters = window_periods(period, length)[:-1]
        return [str(q) for q in quarters if not settings.period(q).notifications.exists()]

    started = time.perf_counter()
    cleaned = ensure_cleaned(settings, period, FIRST_REGISTER_QUARTER, progress)
    cleaning_seconds = round(time.perf_counter() - started, 2)
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
        "cleaning_seconds": cleaning_seconds,
        "window": window,
        "window_quarters": window - len(missing),
        "window_missing": missing,
        "risk_window": risk_window,
        "risk_window_quarters": risk_have,
    }


def is_partial(notebooks: tuple[str, ...]) -> bool:
    """A run of some core notebooks only: it starts from a copy of the period's outputs."""
    return set(notebooks) != set(CORE_NOTEBOOKS)


def run(
    settings: Settings,
    period: str | Period,
    *,
    seed: int = 42,
    notebooks: tuple[str, ...] = NOTEBOOKS,
    progress: bool = True,
    extra_parameters: dict | None = None,
    force: bool = False,
    jobs: int = 1,
) -> dict:
    """Execute the notebooks for a period; return the manifest (also written to disk).

    With ``jobs`` > 1 notebooks that do not read each other run at once (``03_hotspots``
    and ``03b_village_risk``, then ``04_accessibility`` beside the risk model); the results
    do not depend on it (every notebook has its own seeds).

    The period is locked for the run (:mod:`.locks`); the earlier quarters its window
    and panel read are cleaned first where stale. The core notebooks' outputs are written
    to the staging folders and moved into place only when every one of them and the audit
    passed (:mod:`.staging`); a failed or interrupted run leaves the previous outputs as
    they were and its state in the manifest. The add-ons (``config.ADDON_NOTEBOOKS``: the
    service plan) then run by themselves (:mod:`.addons`): their failure is recorded and
    warned of, and the core stays in place. Run alone (``dv-analysis plan``), an add-on's
    failure is raised.

    A period whose manifest records a finished run with the same :func:`run_key` (same
    parameters, code and inputs) is not recomputed, as in :func:`run_range`: its manifest is
    returned with ``skipped`` set. ``force=True`` recomputes it. Stops at the first failing
    core notebook with :class:`NotebookFailed`, after writing the manifest with the failure
    recorded.
    """
    settings.check_public_dir()
    settings = settings.unstaged
    final = settings.period(period)
    core = tuple(n for n in notebooks if n not in ADDON_NOTEBOOKS)
    with modes.owner_only(), period_lock(settings, final.period):
        params = run_parameters(settings, final, seed, extra_parameters)
        if core:
            addons = tuple(n for n in notebooks if n in ADDON_NOTEBOOKS)
            manifest = _run_core(
                settings,
                final,
                params,
                core,
                progress,
                extra_parameters,
                force,
                jobs,
                len(notebooks),
                addons,
            )
        else:
            manifest = staging.read_json(final.manifest)
        for i, name in enumerate(notebooks, 1):
            if name not in ADDON_NOTEBOOKS:
                continue
            after = run_addon(
                settings,
                final,
                name,
                params,
                progress=progress,
                force=force,
                strict=not core,
                numbering=(i, len(notebooks)),
            )
            manifest = combined(manifest, after)
    return manifest


def _run_core(settings, final, params, core, progress, extra, force, jobs, total, addons) -> dict:
    """The core notebooks of a locked period: staged, executed, audited, promoted (with the
    ``addons`` still to run marked pending)."""
    window = window_check(settings, final.period, extra, progress)
    key = run_key(settings, final.period, params, core)
    previous = previous_run(final, key, force, progress)
    if previous is not None:
        return previous
    paths = settings.with_staging(final.period).period(final.period)
    partial = is_partial(core)
    staging.prepare(paths, copy=partial)
    staging.record_attempt(paths, "running")
    try:
        manifest = new_manifest(settings, paths, params, key)
        manifest["window"] = window
        if partial:
            carry_entries(final, manifest, core)
        execute_notebooks(
            paths,
            {**params, "staging": paths.settings.staging_parameter},
            manifest,
            core,
            progress=progress,
            progress_bar=progress,
            jobs=jobs,
            numbering=(1, total),
        )
        audit_run(paths, manifest, progress)
        mark_pending(paths, addons)
        staging.promote(paths)
    except BaseException as e:
        record_ended(paths, e)
        raise
    if progress:
        print(f"done in {manifest['seconds']:.1f} s")
        print(f"  executed notebooks (internal): {final.internal}")
        print(f"  staff pages:                   {final.staff}")
        print(f"  clean tables (internal):       {final.clean}")
        print(f"  manifest:                      {final.manifest}")
    return manifest


def finish_period(
    settings: Settings, period: str, params: dict, manifest: dict, notebooks, progress: bool
) -> dict:
    """Worker of a parallel range: the notebooks after cleaning, audit and manifest."""
    paths = settings.period(period)
    done = len(manifest["notebooks"])
    execute_notebooks(
        paths,
        params,
        manifest,
        tuple(notebooks),
        progress=progress,
        progress_bar=False,
        numbering=(done + 1, done + len(notebooks)),
    )
    return audit_run(paths, manifest, progress)
