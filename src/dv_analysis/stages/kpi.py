"""The centre's quarterly KPIs per district and city (``kpi.parquet``; ``docs/kpi.md``),
written by the report stage (05) for the last ``trend_quarters`` quarters with clean data.

Each quarter reads its own clean notifications and incidents and, for re-notification and
repeat victims, the incidents of the :data:`LOOKBACK_QUARTERS` quarters before it. The
statistics and their intervals are :mod:`dv_analysis.stats.kpi`'s.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from dv_analysis import layers
from dv_analysis.config import FIRST_REGISTER_QUARTER, Period, period_range
from dv_analysis.stages.features import AGE_BANDS, UNIT_CODES
from dv_analysis.stats import kpi as stats_kpi

#: Quarters before a quarter whose incidents count as earlier notifications (three years:
#: the reach of "repeat victim"; re-notification looks back 3 and 12 months of them).
LOOKBACK_QUARTERS = 12
#: 1 − the intervals' coverage (90 % intervals, as every interval staff read).
ALPHA = 0.1
#: Days of the re-notification windows: 3 and 12 months.
WINDOWS = {"renotified_3m": 91, "renotified_12m": 365}
#: Incident window of cleaning, when a quarter's summary does not say (CleanParams' default).
DEFAULT_GAP = 14
INCIDENT_COLUMNS = ["incident_id", "victim_key", "villcode", "first_notified", "last_notified",
                    "opened"]  # fmt: skip
NOTE_COLUMNS = ["incident_id", "victim_key", "notified_date", "incident_date", "reporter_unit",
                "victim_sex", "victim_age", "villcode"]  # fmt: skip


class _Quarters:
    """Clean tables of quarters, each read once."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.incidents: dict[str, pd.DataFrame | None] = {}

    def incidents_of(self, q: Period) -> pd.DataFrame | None:
        if str(q) not in self.incidents:
            f = self.settings.period(q).incidents
            self.incidents[str(q)] = (
                pd.read_parquet(f, columns=INCIDENT_COLUMNS) if f.exists() else None
            )
        return self.incidents[str(q)]

    def lookback(self, q: Period, quarters: int) -> pd.DataFrame:
        frames = [self.incidents_of(q.back(k)) for k in range(quarters, -1, -1)]
        frames = [f for f in frames if f is not None]
        return pd.concat(frames, ignore_index=True)


def quarter_kpis(
    notes: pd.DataFrame, incidents: pd.DataFrame, earlier: pd.DataFrame, towns: pd.Series,
    period: str, gap: int = DEFAULT_GAP, seed: int = 0,
) -> pd.DataFrame:  # fmt: skip
    """Every KPI of one quarter, per district and for the city (:data:`stats.kpi.KPI_COLUMNS`).

    ``notes`` and ``incidents`` are the quarter's clean tables, ``earlier`` the incidents of
    the quarters before it and of this one, ``towns`` each village's district, ``gap`` the
    cleaning's incident window in days.
    """
    inc = incidents.assign(area=incidents["villcode"].map(towns))
    first_of = inc.sort_values(["first_notified", "incident_id"]).drop_duplicates("victim_key")
    victim_area = first_of.set_index("victim_key")["area"]
    back_12m = earlier[
        earlier["first_notified"] >= inc["first_notified"].min() - pd.Timedelta(days=400)
    ]
    shares = []

    def share(name: str, flags: pd.Series, areas: pd.Series) -> None:
        shares.append(pd.DataFrame({"kpi": name, "area": areas.to_numpy(object),
                                    "flag": flags.to_numpy(object)}))  # fmt: skip

    for name, days in WINDOWS.items():
        r = stats_kpi.renotified(inc, back_12m, days, gap)
        share(name, r, victim_area.reindex(r.index))
    r = stats_kpi.renotified(inc, earlier, 10**6, gap)
    share("repeat_victims", r, victim_area.reindex(r.index))
    area = notes["villcode"].map(towns)
    for unit, code in UNIT_CODES.items():
        share(f"channel_{code}", notes["reporter_unit"] == unit, area)
    share("opened", inc["opened"].map({"是": True, "否": False}), inc["area"])
    for name, flags, areas in _victim_flags(notes, victim_area):
        share(name, flags, areas)
    table = stats_kpi.shares_table(pd.concat(shares, ignore_index=True), period, ALPHA)
    rows = [table.iloc[: _count_before(table, "repeat_victims")],
            *_delay_rows(notes, towns, period, seed),
            table.iloc[_count_before(table, "repeat_victims"):]]  # fmt: skip
    return pd.concat(rows, ignore_index=True)


def _count_before(table: pd.DataFrame, kpi: str) -> int:
    """Rows of ``table`` up to and including the last row of ``kpi``."""
    return int(np.flatnonzero(table["kpi"].to_numpy() == kpi)[-1]) + 1


def _delay_rows(notes: pd.DataFrame, towns: pd.Series, period: str, seed: int) -> list:
    """Days from the incident to its first notification: median (bootstrap) and mean (t)."""
    g = notes.groupby("incident_id")
    days = (g["notified_date"].min() - g["incident_date"].min()).dt.days.astype(float)
    days[days < 0] = np.nan  # an incident dated after its notification: flagged, not counted
    area = g["villcode"].first().map(towns)
    return [
        stats_kpi.summary_rows(days, area, "days_to_notification_median", period, "median",
                               ALPHA, seed),
        stats_kpi.summary_rows(days, area, "days_to_notification_mean", period, "mean", ALPHA),
    ]  # fmt: skip


def _victim_flags(notes: pd.DataFrame, victim_area: pd.Series) -> list:
    """Victims by sex (share female of known sex) and by age band (of known age): (kpi,
    flags, areas) per share."""
    known = notes[notes["victim_key"] != ""].sort_values("notified_date")
    last = known.groupby("victim_key").last()  # the latest age and sex a victim was given
    area = victim_area.reindex(last.index)
    out = [("victims_female", last["victim_sex"].map({"女": True, "男": False}), area)]
    age = last["victim_age"]
    for lo, hi, code in AGE_BANDS:
        out.append((f"victims_age_{code}", ((age >= lo) & (age < hi)).where(age.notna()), area))
    return out


def kpi_table(settings, period, quarters: int = 8, seed: int = 0) -> pd.DataFrame:
    """The KPIs of the last ``quarters`` quarters up to ``period`` that have clean tables."""
    b = layers.load_boundaries(settings)
    towns = layers.district_label(b, settings.city).set_axis(b["villcode"])
    tables = _Quarters(settings)
    period = Period.parse(str(period))
    start = max(period.back(quarters - 1), FIRST_REGISTER_QUARTER)
    out = []
    for q in period_range(start, period):
        paths = settings.period(q)
        inc = tables.incidents_of(q)
        if inc is None or not paths.notifications.exists():
            continue
        notes = pd.read_parquet(paths.notifications, columns=NOTE_COLUMNS)
        gap = DEFAULT_GAP
        if paths.cleaning_summary.exists():
            summary = json.loads(paths.cleaning_summary.read_text(encoding="utf-8"))
            gap = int(summary.get("incident_window_days", DEFAULT_GAP))
        earlier = tables.lookback(q, LOOKBACK_QUARTERS)
        out.append(quarter_kpis(notes, inc, earlier, towns, str(q), gap, seed))
    if not out:
        return pd.DataFrame(columns=list(stats_kpi.KPI_COLUMNS))
    return pd.concat(out, ignore_index=True)[list(stats_kpi.KPI_COLUMNS)]
