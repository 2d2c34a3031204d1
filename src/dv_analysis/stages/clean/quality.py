"""Data quality by reporting unit and quarter, with the flag of a unit whose quarter departs
from its own history (``data_quality.parquet``; ``docs/cleaning.md``).

Per unit (the canonical 通報單位類別 of each row read) and quarter: the rows read, the
shares located by code, by names and by coordinates, the share unlocatable, the shares
missing the victim's age and the incident date, the duplicates, the quarantined rows and
the unit's largest share of a district's clean notifications. Each quarter's table holds
the earlier quarters' rows too (read from the previous quarter's table), so the history
travels with the clean tables and the page can show it.

The flag is the reporting model's own test of a unit's share
(:func:`dv_analysis.stats.detection.reporting.share_departure`, the conditional binomial
test of ``carried_by_one_unit``: ratio 1.23, with the history's overdispersion), applied to each share against the unit's previous
:data:`HISTORY_QUARTERS` quarters, and to the unit's share of all rows read (a unit that
reports far more or far less than it did).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from dv_analysis.config import PeriodPaths
from dv_analysis.stats.detection.reporting import share_departure

#: Columns of ``data_quality.parquet``.
QUALITY_COLUMNS = (
    "unit",
    "period",
    "rows",
    "located_code",
    "located_names",
    "located_xy",
    "unlocatable",
    "missing_age",
    "missing_incident_date",
    "duplicates",
    "quarantined",
    "district_share_max",
    "flagged",
    "reason",
)
#: Shares tested, and the direction that is a problem (+1 a rise, −1 a fall).
TESTED: dict[str, int] = {
    "located_code": -1,
    "located_names": -1,
    "located_xy": -1,
    "unlocatable": 1,
    "missing_age": 1,
    "missing_incident_date": 1,
    "duplicates": 1,
    "quarantined": 1,
}
#: Quarters of a unit's own history its quarter is judged against (as the early warning's
#: baseline); fewer than two never flag.
HISTORY_QUARTERS = 8
#: Relative change a share must exceed (the reporting model's: (k − 1) / ln k for k = 1.5).
RATIO = 0.5 / np.log(1.5)
#: Chance that a quarter with no change flags any unit (the early warning's city-wide 0.05:
#: one false flag in five years of quarterly runs); each of the quarter's tests is made at
#: ``ALPHA`` / their number (Bonferroni; z 3.16 for seven units).
ALPHA = 0.05
SHARES = ("located_code", "located_names", "located_xy", "unlocatable", "missing_age",
          "missing_incident_date")  # fmt: skip


def quarter_quality(df: pd.DataFrame, towns: pd.Series, period: str) -> pd.DataFrame:
    """This quarter's row per reporting unit (no flag yet), from the bucketed rows.

    ``df`` holds every row read with ``reporter_unit``, ``bucket``, ``reason``,
    ``locate_method``, ``villcode``, ``victim_age`` and ``incident_date``; ``towns`` maps
    a village code to its district.
    """
    unit = df["reporter_unit"].fillna("").astype(str)
    clean = df["bucket"].eq("clean")
    method = df["locate_method"].where(clean, "")
    parts = {
        "rows": pd.Series(1, index=df.index),
        "located_code": method.eq("code"),
        "located_names": method.eq("names"),
        "located_xy": method.eq("xy"),
        "unlocatable": df["bucket"].eq("quarantine") & df["reason"].eq("unlocatable"),
        "missing_age": df["victim_age"].isna(),
        "missing_incident_date": df["incident_date"].isna(),
        "duplicates": df["bucket"].eq("duplicate"),
        "quarantined": df["bucket"].eq("quarantine"),
    }
    counts = pd.DataFrame({k: v.astype(np.int64) for k, v in parts.items()}).groupby(unit).sum()
    out = counts[["rows", "duplicates", "quarantined"]].copy()
    for c in SHARES:
        out[c] = counts[c] / counts["rows"]
    district = df.loc[clean, "villcode"].map(towns)
    by = pd.crosstab(unit[clean], district)
    share = by / by.sum(axis=0)
    out["district_share_max"] = share.max(axis=1).reindex(out.index).fillna(0.0)
    out = out.rename_axis("unit").reset_index().assign(period=period)
    out["flagged"], out["reason"] = False, ""
    return out[list(QUALITY_COLUMNS)].sort_values("unit", ignore_index=True)


def _count(table: pd.DataFrame, col: str) -> np.ndarray:
    """A column as counts (the shares times the rows)."""
    v = table[col].to_numpy(float)
    return np.rint(v * table["rows"].to_numpy(float)) if col in SHARES else v


def flag_quarter(current: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """``current`` (one quarter) with ``flagged`` and ``reason`` set against ``history``.

    ``reason`` lists what departed, ``;``-separated, each a column name with ``+`` (rose) or
    ``-`` (fell); ``rows+``/``rows-`` is the unit's share of all rows read.
    """
    out = current.copy()
    periods = sorted(set(history["period"]))[-HISTORY_QUARTERS:]
    hist = history[history["period"].isin(periods)]
    reasons = [[] for _ in range(len(out))]
    z = float(norm.isf(ALPHA / max(len(out) * (len(TESTED) + 2), 1)))
    for col, direction in TESTED.items():
        k_h = hist.pivot_table(index="unit", columns="period", values=col, aggfunc="sum")
        n_h = hist.pivot_table(index="unit", columns="period", values="rows", aggfunc="sum")
        if col in SHARES:
            k_h = (k_h * n_h).round()
        k_h = k_h.reindex(out["unit"]).to_numpy(float)
        n_h = n_h.reindex(out["unit"]).to_numpy(float)
        _, hit = share_departure(
            _count(out, col), out["rows"], k_h, n_h, ratio=RATIO, z=z, direction=direction
        )
        for i in np.flatnonzero(hit):
            reasons[i].append(f"{col}{'+' if direction > 0 else '-'}")
    rows_h = hist.pivot_table(index="unit", columns="period", values="rows", aggfunc="sum")
    tot_h = np.broadcast_to(rows_h.sum(axis=0).to_numpy(float), (len(out), rows_h.shape[1]))
    k_h = rows_h.reindex(out["unit"]).to_numpy(float)
    total = np.full(len(out), float(out["rows"].sum()))
    for direction in (1, -1):
        _, hit = share_departure(
            out["rows"], total, k_h, np.where(np.isfinite(k_h), tot_h, np.nan), ratio=RATIO,
            z=z, direction=direction,
        )  # fmt: skip
        for i in np.flatnonzero(hit):
            reasons[i].append(f"rows{'+' if direction > 0 else '-'}")
    out["reason"] = [";".join(r) for r in reasons]
    out["flagged"] = out["reason"] != ""
    return out


def quality_table(df: pd.DataFrame, towns: pd.Series, paths: PeriodPaths) -> pd.DataFrame:
    """This quarter's rows, flagged against the units' history, after the earlier quarters'
    rows (the previous quarter's ``data_quality.parquet``, when it exists)."""
    current = quarter_quality(df, towns, str(paths.period))
    prev = paths.previous().data_quality
    history = (
        pd.read_parquet(prev) if prev.exists() else pd.DataFrame(columns=list(QUALITY_COLUMNS))
    )
    history = history[history["period"] < str(paths.period)]
    if len(history):
        current = flag_quarter(current, history)
    out = pd.concat([history, current], ignore_index=True) if len(history) else current
    return out[list(QUALITY_COLUMNS)].astype({"flagged": bool, "rows": np.int64})


def quarantine_by_unit(quarantine: pd.DataFrame) -> pd.DataFrame:
    """The quarter's quarantined rows counted by reporting unit (normalised as cleaning
    does) and reason: ``unit`` and one column per reason (an aggregate, no case row)."""
    from dv_analysis.stages.clean.fields import norm_unit
    from dv_analysis.stages.clean.read import HEADERS

    column = HEADERS["通報單位類別"]
    if quarantine.empty or column not in quarantine:
        return pd.DataFrame(columns=["unit"])
    raw = quarantine[column].fillna("").astype(str)
    unit = raw.map(lambda v: norm_unit(v) or "其他")
    t = pd.crosstab(unit, quarantine["reason"]).rename_axis(index="unit", columns=None)
    return t.reset_index()


def write_internal_page(paths: PeriodPaths, name: str, page: str):
    """Write an analysts' page (``page``, HTML made by ``pages``) into ``internal/``."""
    paths.internal.mkdir(parents=True, exist_ok=True)
    out = paths.internal / name
    out.write_text(page, encoding="utf-8")
    return out
