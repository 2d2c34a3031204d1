"""One quarter's cleaning: read, normalise, sort, locate, group; the tables and their summary."""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dv_analysis import layers
from dv_analysis.config import PeriodPaths
from dv_analysis.stages import params as check
from dv_analysis.stages.clean.buckets import assign_buckets, split_buckets
from dv_analysis.stages.clean.fields import normalise_fields
from dv_analysis.stages.clean.incidents import build_incidents
from dv_analysis.stages.clean.quality import quality_table
from dv_analysis.stages.clean.read import RawFile, raw_exports, read_raw_files


@dataclass
class CleaningResult:
    """The tables of a cleaned period: what ``write_outputs`` writes to ``data_clean/<period>/``."""

    notifications: pd.DataFrame
    incidents: pd.DataFrame
    quarantine: pd.DataFrame
    summary: dict
    duplicates: pd.DataFrame = field(default_factory=pd.DataFrame)  # file, row, reason, id
    extra: pd.DataFrame = field(default_factory=pd.DataFrame)  # unknown columns, kept aside
    key: str = ""  # what the tables were made from (:func:`clean_key`), written to clean.key
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)  # per reporting unit and quarter


@dataclass(frozen=True)
class CleanParams:
    """Settings of the cleaning stage (the ``parameters`` cell of ``01_clean``)."""

    incident_window_days: int = 14  # days within which one victim and case type make one incident

    def __post_init__(self):
        check.at_least("incident_window_days", self.incident_window_days, 0)


def _tables(parts, raws: list[RawFile], paths: PeriodPaths, n_read: int, window: int):
    """The clean, incident, quarantine, duplicate and extra-column tables and the summary."""
    notes, quarantine, duplicates, small = parts
    for c in ("notified_date", "incident_date"):
        notes[c] = pd.to_datetime(notes[c])
    b = layers.load_boundaries(paths.settings, paths.settings.city).set_index("villcode")
    notes.insert(
        notes.columns.get_loc("villcode") + 1, "townname", notes["villcode"].map(b["townname"])
    )
    notes.insert(
        notes.columns.get_loc("villcode") + 2, "villname", notes["villcode"].map(b["villname"])
    )
    incidents = build_incidents(notes, window)
    summary = _summary(paths, raws, small, notes, incidents, n_read, window)
    extra = (
        pd.concat(
            [r.extra.assign(source_file=r.path.name) for r in raws if r.extra.shape[1] > 1],
            ignore_index=True,
        )
        if any(r.extra.shape[1] > 1 for r in raws)
        else pd.DataFrame(columns=["source_file", "source_row"])
    )
    return CleaningResult(notes, incidents, quarantine, summary, duplicates, extra)


def clean_period(
    paths: PeriodPaths, params: CleanParams = CleanParams(), *, progress: bool = True
) -> CleaningResult:
    """Clean every raw file of a period; see the module docstring for the buckets.

    Raises :class:`RawInputError` for a file that cannot be read at all; a bad row
    is quarantined with its reason, never an error.
    """
    with _returning_arrow_pool():
        raws = read_raw_files(paths, progress)
        df = pd.concat([r.frame for r in raws], ignore_index=True)
        for r in raws:  # the rows live on in ``df`` only (memory: docs/benchmarks.md); an empty
            r.frame = pd.DataFrame(columns=r.frame.columns)  # slice would keep the Arrow buffers
        n_read = len(df)
        df = assign_buckets(normalise_fields(df), paths)
        b = layers.load_boundaries(paths.settings, paths.settings.city)
        towns = layers.district_label(b, paths.settings.city).set_axis(b["villcode"])
        quality = quality_table(df, towns, paths)
        parts = split_buckets(df)  # empties df: the raw text of clean rows is not kept
        del df
        result = _tables(parts, raws, paths, n_read, params.incident_window_days)
    result.quality = quality
    result.key = clean_key(paths, params)
    return result


@contextmanager
def _returning_arrow_pool():
    """Arrow's jemalloc pool, returning freed memory at once, while a period is cleaned.

    The default pool (mimalloc) keeps what the raw text frees for Arrow's own later use,
    so numpy's arrays grow beside it; with jemalloc the peak of 1.5 million rows falls
    from 1.8 to 1.5 GB (docs/benchmarks.md). Where jemalloc is not built in, nothing changes.
    """
    import pyarrow as pa

    before = pa.default_memory_pool()
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, pa.ArrowNotImplementedError):
        yield
        return
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(before)


def clean_key(paths: PeriodPaths, params: CleanParams = CleanParams()) -> str:
    """What a quarter's clean tables depend on: its raw exports, the cleaning settings and
    the previous quarter's key (its notifications decide which rows are re-exports).

    Tables whose ``clean.key`` differs are stale (:func:`stale_quarters`).
    """
    h = hashlib.sha256(f"clean|{json.dumps(vars(params), sort_keys=True)}|".encode())
    for f in raw_exports(paths):
        h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    prev = paths.previous()
    h.update(b"|previous=" + (prev.clean_key.read_bytes() if prev.clean_key.exists() else b""))
    return h.hexdigest()


def _summary(paths, raws, small, notes, incidents, n_read, window) -> dict:
    files = []
    for r in raws:
        sub = small[small["source_file"] == r.path.name]
        counts = sub["bucket"].value_counts()
        dup = sub[sub["bucket"] == "duplicate"]["reason"].value_counts()
        q = sub[sub["bucket"] == "quarantine"]["reason"].value_counts()
        entry = {
            "file": r.path.name,
            "encoding": r.encoding,
            "rows_read": int(len(sub)),
            "clean": int(counts.get("clean", 0)),
            "duplicate": int(counts.get("duplicate", 0)),
            "quarantined": int(counts.get("quarantine", 0)),
            "duplicate_reasons": {k: int(v) for k, v in dup.items()},
            "quarantine_reasons": {k: int(v) for k, v in q.items()},
            "extra_columns": [c for c in r.extra.columns if c != "source_row"],
            "missing_optional_columns": r.missing_optional,
        }
        entry["balanced"] = (
            entry["rows_read"] == entry["clean"] + entry["duplicate"] + entry["quarantined"]
        )
        files.append(entry)
    totals = {
        k: sum(f[k] for f in files) for k in ("rows_read", "clean", "duplicate", "quarantined")
    }
    if totals["rows_read"] != n_read or not all(f["balanced"] for f in files):
        raise AssertionError("row accounting does not balance; this is a bug in cleaning")
    q_all = small[small["bucket"] == "quarantine"]["reason"].value_counts()
    d_all = small[small["bucket"] == "duplicate"]["reason"].value_counts()
    return {
        "period": str(paths.period),
        "city": paths.settings.city,
        "files": files,
        "totals": totals,
        "balanced": True,
        "duplicate_reasons": {k: int(v) for k, v in d_all.items()},
        "quarantine_reasons": {k: int(v) for k, v in q_all.items()},
        "locate_methods": {k: int(v) for k, v in notes["locate_method"].value_counts().items()},
        "flags": {
            k: int(v) for k, v in notes["flags"][notes["flags"] != ""].value_counts().items()
        },
        "counts": {
            "notifications": int(len(notes)),
            "incidents": int(len(incidents)),
            "victims": int(notes.loc[notes["victim_key"] != "", "victim_key"].nunique()),
            "villages_with_notifications": int(notes["villcode"].nunique()),
        },
        "case_types": {k: int(v) for k, v in notes["case_type"].value_counts().items()},
        "incident_window_days": window,
    }


def write_outputs(paths: PeriodPaths, result: CleaningResult) -> list[Path]:
    """Write the clean tables and the summary to ``data_clean/<period>/``.

    Each file is written beside its place and moved in with ``os.replace``; ``clean.key``
    comes last, so tables cut short by an interruption are seen as stale and cleaned again.
    """
    paths.clean.mkdir(parents=True, exist_ok=True)
    paths.clean_key.unlink(missing_ok=True)
    tables = {
        paths.notifications: result.notifications,
        paths.incidents: result.incidents,
        paths.quarantine: result.quarantine,
        paths.duplicates: result.duplicates,
        paths.extra_columns: result.extra,
        paths.data_quality: result.quality,
    }
    for path, table in tables.items():
        tmp = path.with_name(f".{path.name}.tmp")
        table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    summary = json.dumps(result.summary, ensure_ascii=False, indent=1)
    for path, text in ((paths.cleaning_summary, summary), (paths.clean_key, result.key)):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return [*tables, paths.cleaning_summary]
