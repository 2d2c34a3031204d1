"""Stale quarters and ranges: which quarters' clean tables are missing or out of date."""

from __future__ import annotations

from dv_analysis.config import Period, Settings, period_range
from dv_analysis.stages.clean.one_quarter import clean_key, clean_period, write_outputs
from dv_analysis.stages.clean.read import raw_exports


def stale_quarters(settings: Settings, period: str | Period, first: Period) -> list[Period]:
    """Quarters from ``first`` to the one before ``period`` with raw exports whose clean
    tables are missing or were made from other inputs (:func:`clean_key`), oldest first.
    Tables cleaned before ``data_quality.parquet`` existed are cleaned again, so the data
    quality of every reporting unit has its history.

    Keys chain through the previous quarter, so the check runs in order, as if every
    stale quarter before were cleaned again.
    """
    out = []
    p = Period.parse(period)
    if p <= first:
        return out
    for q in period_range(first, p.previous()):
        paths = settings.unstaged.period(q)
        if not (paths.raw.is_dir() and raw_exports(paths)):
            continue
        if (
            out
            or not paths.clean_key.exists()
            or not paths.data_quality.exists()
            or paths.clean_key.read_text() != clean_key(paths)
        ):
            out.append(q)
    return out


def ensure_cleaned(
    settings: Settings, period: str | Period, first: Period, progress: bool = True
) -> list[str]:
    """Clean every stale quarter before ``period`` (:func:`stale_quarters`), in order.

    ``dv-analysis run --period P`` calls it, so P's rolling window and panel read every
    quarter whose raw exports exist. Returns the quarters cleaned.
    """
    todo = stale_quarters(settings, period, first)
    if todo and progress:
        print(
            f"{len(todo)} earlier quarter(s) with raw exports but no up-to-date clean tables;"
            " cleaning them first (the window and panel read them):",
            flush=True,
        )
    if todo:
        clean_range(settings.unstaged, todo[0], todo[-1], progress=progress, only=todo)
    return [str(q) for q in todo]


def clean_range(
    settings: Settings,
    start: str | Period,
    end: str | Period,
    progress: bool = True,
    only: list[Period] | None = None,
) -> dict[str, dict]:
    """Clean every quarter from ``start`` to ``end`` (or the quarters ``only``) in order, so
    re-exports are recognised. Returns the totals per period.
    """
    out = {}
    periods = only if only is not None else period_range(start, end)
    for i, p in enumerate(periods, 1):
        paths = settings.period(p)
        result = clean_period(paths, progress=False)
        write_outputs(paths, result)
        out[str(p)] = result.summary["totals"]
        if progress:
            t = result.summary["totals"]
            print(
                f"[{i}/{len(periods)}] {p}: {t['rows_read']:,} rows → {t['clean']:,} clean, "
                f"{t['duplicate']:,} duplicate, {t['quarantined']:,} quarantined",
                flush=True,
            )
    return out
