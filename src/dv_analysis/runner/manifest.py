"""A period's manifest: parameters, provenance, timings and how a run ended.

:mod:`.provenance` supplies the git revision, package versions, input checksums and run
keys; the disclosure audit of ``staff/`` and ``public/`` closes every run (:func:`audit_run`).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from datetime import UTC, datetime

from dv_analysis.config import NOTEBOOKS, PeriodPaths, Settings
from dv_analysis.runner import staging
from dv_analysis.runner.provenance import (
    git_revision,
    input_checksums,
    missing_outputs,
    package_versions,
    up_to_date,
)


def run_parameters(settings: Settings, paths: PeriodPaths, seed: int, extra: dict | None) -> dict:
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


def new_manifest(settings: Settings, paths: PeriodPaths, params: dict, key: dict) -> dict:
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


def write_manifest(paths: PeriodPaths, manifest: dict, started: float) -> None:
    """Add the elapsed time and write the manifest (also after a failure)."""
    manifest["seconds"] = round(manifest.get("seconds", 0.0) + time.perf_counter() - started, 2)
    order = {n: i for i, n in enumerate(NOTEBOOKS)}
    manifest["notebooks"].sort(key=lambda e: order.get(e.get("notebook"), len(order)))
    manifest["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    paths.manifest.parent.mkdir(parents=True, exist_ok=True)
    paths.manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


def _model_checks(paths: PeriodPaths, manifest: dict) -> None:
    """Copy the village-risk model's diagnostics into the manifest; warn when they missed."""
    if not paths.risk_summary.exists():
        return
    summary = json.loads(paths.risk_summary.read_text(encoding="utf-8"))
    d = summary.get("diagnostics", {})
    manifest["risk_model"] = {
        "diagnostics": d,
        "engine": summary.get("engine", {}),
        "model": summary.get("model", {}),
    }
    if not d.get("ok", True):
        warning = (
            f"village-risk model did not converge for {paths.period}: {d.get('message', '')};"
            " its numbers are marked unusable on 03b_village_risk, 04b_priority and the report"
        )
        warnings = manifest.setdefault("warnings", [])
        if warning not in warnings:  # an add-on's audit reads the core's manifest again
            warnings.append(warning)
            print(f"WARNING: {warning}", file=sys.stderr, flush=True)


def audit_run(paths: PeriodPaths, manifest: dict, progress: bool) -> dict:
    """The disclosure audit of ``staff/`` and ``public/``; the run is ``ok`` only if it passes."""
    from dv_analysis import disclosure

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
        write_manifest(paths, manifest, started)
    return manifest


def previous_run(paths: PeriodPaths, key: dict, force: bool, progress: bool) -> dict | None:
    """The manifest of a finished run with this key (marked ``skipped``), or None to run
    (saying why when an earlier finished run is there)."""
    if force or not up_to_date(paths, key["key"]):
        if progress and not force:
            reason = _why_rerun(paths, key)
            if reason:
                print(f"{paths.period}: recomputed: {reason}", flush=True)
        return None
    if progress:
        print(
            f"{paths.period}: unchanged since its last run (same inputs, code and parameters);"
            " skipped (use --force to recompute)",
            flush=True,
        )
    return {**json.loads(paths.manifest.read_text(encoding="utf-8")), "skipped": True}


def _why_rerun(paths: PeriodPaths, key: dict) -> str:
    """Why a period whose last run finished is run again ('' without such a run)."""
    m = staging.read_json(paths.manifest)
    if m.get("status") != "ok":
        return ""
    before = m.get("run_key", {}).get("parts", {})
    changed = [k for k, v in key["parts"].items() if before.get(k) != v]
    if changed:
        return f"{', '.join(changed)} changed since its last run"
    missing = missing_outputs(m)
    return f"outputs of {', '.join(missing) or 'its notebooks'} are missing"


def carry_entries(final: PeriodPaths, manifest: dict, notebooks: tuple[str, ...]) -> None:
    """A run of some core notebooks starts from the period's outputs: its
    manifest keeps the entries of the other notebooks, marked with the run they come from,
    and lists the notebooks it reran."""
    previous = staging.read_json(final.manifest)
    manifest["rerun"] = list(notebooks)
    manifest["notebooks"] = [
        {**e, "from_run": e.get("from_run", previous.get("started"))}
        for e in previous.get("notebooks", [])
        if e.get("notebook") not in notebooks
    ]


def record_ended(paths: PeriodPaths, error: BaseException) -> None:
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
