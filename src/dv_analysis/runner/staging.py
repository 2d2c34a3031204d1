"""Atomic periods: a run writes to staging folders and replaces the period only when it passed.

``dv-analysis run`` gives the notebooks ``staging=<period>``: every output of the period
(clean tables, executed notebooks, staff and public pages, manifest) is written under
``data_clean/.staging/<period>/`` and ``reports/.staging/<period>/``. Only when every
notebook and the disclosure audit have passed does :func:`promote` move the two folders
into place (``os.replace`` of whole folders on the same file system). Until then the
previous complete outputs stay where they were, untouched and readable.

The period's own ``manifest.json`` tells where things stand while a run is under way or
after it stopped: ``status`` is ``running``, ``interrupted``, ``failed`` or ``audit
failed``, ``attempt`` holds when, which process and the error, and ``outputs`` describes
the complete run whose files are still in place (or ``null``). A period whose manifest is
not ``ok`` is never skipped as unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from dv_analysis.config import PeriodPaths
from dv_analysis.runner import modes


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_json(path: Path, data: dict) -> None:
    """Write JSON through a temporary file and ``os.replace``: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def _pairs(paths: PeriodPaths) -> list[tuple[Path, Path]]:
    """(staging folder, final folder) of the clean tables and of the reports."""
    final = paths.final
    return [(paths.clean, final.clean), (paths.reports, final.reports)]


def _old(folder: Path) -> Path:
    """Where a final folder waits while its replacement moves in."""
    return folder.parent / ".staging" / f"{folder.name}.old"


def recover(paths: PeriodPaths) -> list[str]:
    """Undo what a run killed during :func:`promote` left: a final folder moved aside is
    moved back. Returns what was done (for the console)."""
    done = []
    for _, dst in _pairs(paths):
        old = _old(dst)
        if old.exists() and not dst.exists():
            os.replace(old, dst)
            done.append(f"restored {dst} (a run was stopped while replacing it)")
        elif old.exists():
            shutil.rmtree(old)
    return done


def prepare(paths: PeriodPaths, copy: bool = False) -> None:
    """Empty staging folders for a staged period, or with ``copy`` copies of its final ones.

    A dead run's leftovers are removed first. A run of every notebook starts empty, so no
    file an earlier run wrote survives it (an old ``public/villages.csv``, say); a run of
    some notebooks only starts from a copy, keeping the other notebooks' outputs.
    """
    if not paths.is_staged:
        raise ValueError(f"{paths.period} is not staged")
    recover(paths)
    for src, dst in _pairs(paths):
        if src.exists():
            shutil.rmtree(src)
        src.parent.mkdir(parents=True, exist_ok=True)
        if copy and dst.is_dir():
            shutil.copytree(dst, src)
        else:
            src.mkdir()


def promote(paths: PeriodPaths) -> None:
    """Move a staged period into place: clean tables first, then the reports with the manifest.

    Each move is one ``os.replace`` of a folder; the previous folder is moved aside first
    and removed after. A run killed between the moves leaves the manifest of the attempt
    (not ``ok``), so the next run recomputes the period.
    """
    for src, dst in _pairs(paths):
        old = _old(dst)
        if old.exists():
            shutil.rmtree(old)
        if dst.exists():
            os.replace(dst, old)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        if old.exists():
            shutil.rmtree(old)
    modes.open_readable_tiers(paths.final.reports)


def record_attempt(paths: PeriodPaths, status: str, error: str | None = None) -> dict:
    """Mark the period's manifest (in its final folder) with the state of a staged run.

    ``running`` starts an attempt: the manifest of the complete run still in place is
    kept, described under ``outputs``. Any other status ends the attempt with ``error``.
    """
    final = paths.final
    m = read_json(final.manifest) or {"period": str(paths.period), "outputs": None}
    if status == "running":
        if m.get("status") == "ok":
            m["outputs"] = {
                "status": "ok",
                "finished": m.get("finished"),
                "run_key": m.get("run_key", {}).get("key"),
                "note": "the files in place are those of this complete run",
            }
        m["attempt"] = {"started": _now(), "pid": os.getpid(), "staging": str(paths.reports)}
    attempt = m.setdefault("attempt", {})
    attempt["status"] = status
    if status != "running":
        attempt["ended"] = _now()
    if error:
        attempt["error"] = error
    m["status"] = status
    write_json(final.manifest, m)
    return m
