"""Add-on notebooks (the plans: ``06_service_plan``, ``07_caseload``), run after a period's core is in place.

A period's core (01–05 and the disclosure audit) is promoted as soon as it passes, with
the add-on marked ``pending`` in the manifest and on the front page (:func:`mark_pending`:
a run killed before the plan ends still says why the plan is missing). The add-on then
runs by itself, staged from a copy of the period and promoted only when it and the audit
pass, as the core is (:func:`run_addon`). Its failure never withholds the core:

* the manifest keeps ``status: ok`` and says under the add-on's stage (``plan``) that it
  ``failed``, with the error, when, and the command that completes it
  (``dv-analysis plan --period P``); an earlier finished plan still in place is kept under
  ``outputs``;
* the front page (``staff/index.html``) gets one line at the top saying the plan is missing
  (or that the page shows the earlier plan) and the error's type, never its text (which
  stays in the manifest, for analysts: an error may quote a value)
  (:func:`dv_analysis.pages.front_page.with_addon_notice`); the line goes when the plan is
  made;
* the console prints a warning, and ``dv-analysis run`` ends 0; ``dv-analysis plan``, which
  runs the add-on alone, ends with the error.

An add-on has its own run key (its parameters, its notebook, the code and the inputs): a
finished one with the same key is skipped, a failed one is run again by the next ``run``.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import UTC, datetime

from dv_analysis.config import NOTEBOOK_REGISTRY, NOTEBOOKS, PeriodPaths, Settings
from dv_analysis.errors import RunError
from dv_analysis.runner import staging
from dv_analysis.runner.manifest import audit_run
from dv_analysis.runner.provenance import run_key
from dv_analysis.runner.schedule import execute_notebooks

#: The stage of each add-on notebook: the manifest's key for it (``plan``).
ADDON_STAGES: dict[str, str] = {n.name: n.stage for n in NOTEBOOK_REGISTRY if n.addon}
#: Parameters that say where the files are, not what is computed.
_FOLDERS = ("staging", "raw_dir", "clean_dir", "reports_dir", "public_dir")


class CoreIncomplete(RunError):
    """An add-on was asked for a period whose core outputs are not complete."""


def rerun_command(stage: str, period) -> str:
    """The command that makes a stage's add-on again for a period."""
    return f"dv-analysis {stage} --period {period}"


def short_reason(error: str) -> str:
    """A failed notebook's error in one line for the console and the manifest: the
    exception and its message, without the notebook's name or the executed copy's path."""
    text = str(error).splitlines()[0] if str(error) else "unknown error"
    text = re.sub(r"^notebook \S+ failed for \S+: ", "", text)
    text = re.sub(r" \(executed copy: .*\)$", "", text)
    return text if len(text) <= 300 else text[:297] + "…"


def error_type(error: BaseException) -> str:
    """The exception's type alone (what a staff page may show): the notebook's own
    exception for a failed notebook, else the one raised."""
    found = re.search(r"failed for \S+: ([A-Za-z_][\w.]*)", str(error))
    return found.group(1) if found else type(error).__name__


def mark_pending(paths: PeriodPaths, addons: tuple[str, ...]) -> None:
    """Before a staged core is promoted: its manifest and front page say each add-on is
    ``pending`` (replaced when the add-on ends, kept if the process is killed first)."""
    if not addons:
        return
    m = staging.read_json(paths.manifest)
    for name in addons:
        stage = ADDON_STAGES[name]
        m[stage] = {"status": "pending", "rerun": rerun_command(stage, paths.period)}
        _set_notice(paths, (stage, "pending", ""))
    staging.write_json(paths.manifest, m)


def run_addon(
    settings: Settings,
    final: PeriodPaths,
    name: str,
    params: dict,
    *,
    progress: bool,
    force: bool,
    strict: bool,
    numbering: tuple[int, int] = (1, 1),
) -> dict:
    """Run the add-on notebook ``name`` for a period whose core is in place; the manifest.

    ``settings`` are unstaged and the period is locked by the caller. Skipped when the
    manifest records it finished with the same key (unless ``force``; the manifest returned
    then has ``skipped`` set). On failure the
    period keeps its core, the failure is recorded (manifest, front page) and, with
    ``strict``, raised; otherwise a warning is printed.
    """
    stage = ADDON_STAGES[name]
    current = staging.read_json(final.manifest)
    in_place = current.get("status") == "ok" or (current.get("outputs") or {}).get("status") == "ok"
    if not in_place:
        raise CoreIncomplete(
            f"{final.period}: the quarter's core outputs are not complete (status"
            f" {current.get('status', 'none')!r}); run `dv-analysis run --period {final.period}` first"
        )
    key = run_key(settings, final.period, params, (name,))
    done = current.get(stage, {})
    if not force and done.get("status") == "ok" and done.get("run_key") == key["key"]:
        if progress:
            print(f"{final.period}: {name} unchanged since its last run; skipped", flush=True)
        return {**current, "skipped": True}
    paths = settings.with_staging(final.period).period(final.period)
    staging.prepare(paths, copy=True)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    manifest = {
        **current,
        "notebooks": [e for e in current.get("notebooks", []) if e.get("notebook") != name],
    }
    try:
        _set_notice(paths, None, stage)
        execute_notebooks(
            paths,
            {**params, "staging": paths.settings.staging_parameter},
            manifest,
            (name,),
            progress=progress,
            progress_bar=progress,
            numbering=numbering,
        )
        audit_run(paths, _in_run_order(manifest), progress)
        for k in ("status", "attempt"):  # a later core attempt that did not pass stays said
            if k in current:
                manifest[k] = current[k]
        manifest[stage] = {
            "status": "ok",
            "run_key": key["key"],
            "started": started,
            "parameters": _own(params, current),
        }
        staging.write_json(paths.manifest, manifest)
        staging.promote(paths)
        return manifest
    except Exception as e:
        _record_failure(final, stage, e, started, paths)
        if strict:
            raise
        print(
            f"WARNING: {final.period}: the {stage} ({name}) failed: {short_reason(str(e))}."
            f" The quarter's other outputs are complete and in place; complete it with"
            f" `{rerun_command(stage, final.period)}`",
            file=sys.stderr,
            flush=True,
        )
        return staging.read_json(final.manifest)
    except BaseException as e:
        _record_failure(final, stage, e, started, paths, status="interrupted")
        raise


def _in_run_order(manifest: dict) -> dict:
    """The manifest with its notebooks in the registry's order: an add-on run alone
    (``plan``, ``caseload``) keeps its place instead of moving after the other add-ons."""
    order = {n: i for i, n in enumerate(NOTEBOOKS)}
    manifest["notebooks"].sort(key=lambda e: order.get(e.get("notebook"), len(order)))
    return manifest


def _own(params: dict, current: dict) -> dict:
    """The add-on's parameters that differ from the core run's (``dv-analysis plan`` flags)."""
    core = current.get("parameters", {})
    return {k: v for k, v in params.items() if core.get(k) != v and k not in _FOLDERS}


def _record_failure(
    final: PeriodPaths,
    stage: str,
    error: BaseException,
    started: str,
    staged: PeriodPaths,
    status: str = "failed",
) -> None:
    """The period's manifest (core kept, ``status`` unchanged) says the add-on did not
    finish, keeping an earlier finished one still in place under ``outputs``; the front
    page says so in one line."""
    m = staging.read_json(final.manifest)
    before = m.get(stage, {})
    earlier = before if before.get("status") == "ok" else before.get("outputs")
    m[stage] = {
        "status": status,
        "error": f"{type(error).__name__}: {error}",
        "reason": short_reason(str(error)) if str(error) else type(error).__name__,
        "started": started,
        "ended": datetime.now(UTC).isoformat(timespec="seconds"),
        "rerun": rerun_command(stage, final.period),
        "attempt_outputs": str(staged.reports),
    }
    if earlier:
        m[stage]["outputs"] = {**earlier, "note": "the files in place are those of this plan"}
    staging.write_json(final.manifest, m)
    kind = "kept" if earlier else ("failed" if status == "failed" else "pending")
    _set_notice(final, (stage, kind, error_type(error)))


def _set_notice(
    paths: PeriodPaths, notice: tuple[str, str, str] | None, stage: str | None = None
) -> None:
    """Add (``notice``: stage, kind, the error's type) or remove (``stage``'s) the front
    page's line on an add-on that is not there; the page is replaced whole (a temporary
    file, ``os.replace``)."""
    from dv_analysis.pages import front_page

    index = paths.staff / "index.html"
    if not index.exists():
        return
    page = index.read_text(encoding="utf-8")
    if notice is None:
        new = front_page.without_addon_notice(page, stage)
    else:
        stage, kind, reason = notice
        new = front_page.with_addon_notice(
            page, stage, kind, reason, rerun_command(stage, paths.period)
        )
    if new != page:
        tmp = index.with_name(f".{index.name}.{os.getpid()}.tmp")
        tmp.write_text(new, encoding="utf-8")
        os.chmod(tmp, index.stat().st_mode & 0o777)
        os.replace(tmp, index)


def combined(core: dict, addon: dict) -> dict:
    """A period's manifest after its core and an add-on: ``skipped`` only if both were."""
    out = {k: v for k, v in addon.items() if k != "skipped"}
    if core.get("skipped") and addon.get("skipped"):
        out["skipped"] = True
    return out
