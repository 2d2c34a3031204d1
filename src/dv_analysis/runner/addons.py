"""Add-on notebooks (the plans: ``06_service_plan``), run after a period's core is in place.

A period's core (01–05 and the disclosure audit) is promoted as soon as it passes; an
add-on then runs by itself, staged from a copy of the period and promoted only when it and
the audit pass, as the core is (:func:`run_addon`). Its failure never withholds the core:

* the manifest keeps ``status: ok`` and says under the add-on's stage (``plan``) that it
  ``failed``, with the error, when, and the command that completes it
  (``dv-analysis plan --period P``);
* the front page (``staff/index.html``) gets one line at the top saying the plan is missing
  and why (:func:`dv_analysis.pages.front_page.with_addon_notice`), removed when the plan
  is made;
* the console prints a warning, and ``dv-analysis run`` ends 0; ``dv-analysis plan``, which
  runs the add-on alone, ends with the error.

An add-on has its own run key (its parameters, its notebook, the code and the inputs): a
finished one with the same key is skipped, a failed one is run again by the next ``run``.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime

from ..config import NOTEBOOK_REGISTRY, PeriodPaths, Settings
from . import staging
from .manifest import _audit
from .provenance import run_key
from .schedule import _execute

#: The stage of each add-on notebook: the manifest's key for it (``plan``).
ADDON_STAGES: dict[str, str] = {n.name: n.stage for n in NOTEBOOK_REGISTRY if n.addon}


def rerun_command(stage: str, period) -> str:
    """The command that makes a stage's add-on again for a period."""
    return f"dv-analysis {stage} --period {period}"


def short_reason(error: str) -> str:
    """The error of a failed notebook in a line staff can read: the exception and its
    message, without the notebook's name, folders or the executed copy's path."""
    text = str(error).splitlines()[0] if str(error) else "unknown error"
    text = re.sub(r"^notebook \S+ failed for \S+: ", "", text)
    text = re.sub(r" \(executed copy: [^)]*\)$", "", text)
    text = re.sub(r"(?:/[^\s/:'\"]+)+/([^\s/:'\"]+)", r"\1", text)  # a path: its last part
    return text if len(text) <= 160 else text[:157] + "…"


def run_addon(settings: Settings, final: PeriodPaths, name: str, params: dict, *,
              progress: bool, force: bool, strict: bool,
              numbering: tuple[int, int] = (1, 1)) -> dict:  # fmt: skip
    """Run the add-on notebook ``name`` for a period whose core is in place; the manifest.

    ``settings`` are unstaged and the period is locked by the caller. Skipped when the
    manifest records it finished with the same key (unless ``force``). On failure the
    period keeps its core, the failure is recorded (manifest, front page) and, with
    ``strict``, raised; otherwise a warning is printed.
    """
    stage = ADDON_STAGES[name]
    key = run_key(settings, final.period, params, (name,))
    current = staging.read_json(final.manifest)
    done = current.get(stage, {})
    if not force and done.get("status") == "ok" and done.get("run_key") == key["key"]:
        if progress:
            print(f"{final.period}: {name} unchanged since its last run; skipped", flush=True)
        return current
    paths = settings.with_staging(final.period).period(final.period)
    staging.prepare(paths, copy=True)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    manifest = {**current, "notebooks": [e for e in current.get("notebooks", [])
                                         if e.get("notebook") != name]}  # fmt: skip
    try:
        _execute(paths, {**params, "staging": paths.settings.staging_parameter}, manifest,
                 (name,), progress=progress, progress_bar=progress, numbering=numbering)  # fmt: skip
        _audit(paths, manifest, progress)
        manifest[stage] = {"status": "ok", "run_key": key["key"], "started": started,
                           "parameters": _own(params, current)}  # fmt: skip
        staging.write_json(paths.manifest, manifest)
        _set_notice(paths, None)
        staging.promote(paths)
        return manifest
    except Exception as e:
        _record_failure(final, stage, e, started, paths)
        if strict:
            raise
        print(f"WARNING: {final.period}: the {stage} ({name}) failed: {short_reason(str(e))}."
              f" The quarter's other outputs are complete and in place; complete it with"
              f" `{rerun_command(stage, final.period)}`", file=sys.stderr, flush=True)  # fmt: skip
        return staging.read_json(final.manifest)
    except BaseException as e:
        _record_failure(final, stage, e, started, paths, status="interrupted")
        raise


#: Parameters that say where the files are, not what is computed.
_FOLDERS = ("staging", "raw_dir", "clean_dir", "reports_dir", "public_dir")


def _own(params: dict, current: dict) -> dict:
    """The add-on's parameters that differ from the core run's (``dv-analysis plan`` flags)."""
    core = current.get("parameters", {})
    return {k: v for k, v in params.items() if core.get(k) != v and k not in _FOLDERS}


def _record_failure(final: PeriodPaths, stage: str, error: BaseException, started: str,
                    staged: PeriodPaths, status: str = "failed") -> None:  # fmt: skip
    """The period's manifest (core kept, ``status`` unchanged) says the add-on did not
    finish; the front page says so in one line."""
    m = staging.read_json(final.manifest)
    reason = short_reason(str(error)) if str(error) else type(error).__name__
    m[stage] = {"status": status, "error": f"{type(error).__name__}: {error}", "reason": reason,
                "started": started, "ended": datetime.now(UTC).isoformat(timespec="seconds"),
                "rerun": rerun_command(stage, final.period),
                "attempt_outputs": str(staged.reports)}  # fmt: skip
    staging.write_json(final.manifest, m)
    if status == "failed":
        _set_notice(final, (stage, reason))


def _set_notice(paths: PeriodPaths, failed: tuple[str, str] | None) -> None:
    """Add (``failed``: stage and reason) or remove the front page's line on a missing plan."""
    from ..pages import front_page

    index = paths.staff / "index.html"
    if not index.exists():
        return
    page = index.read_text(encoding="utf-8")
    if failed is None:
        new = front_page.without_addon_notice(page)
    else:
        stage, reason = failed
        new = front_page.with_addon_notice(page, stage, reason, rerun_command(stage, paths.period))
    if new != page:
        index.write_text(new, encoding="utf-8")
