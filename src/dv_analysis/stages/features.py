"""Per-village features for a quarter: counts, denominators, rates and covariates.

One row per village of the city's boundaries (zero-count villages included), keyed
``villcode``. Counts come from the clean tables of ``data_clean/<period>/`` for the
period and for a rolling window of quarters; denominators and covariates from the
real public layers of the matching quarter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dv_analysis import layers
from dv_analysis.config import (
    FIRST_REGISTER_QUARTER,
    WINDOW_QUARTERS,
    Period,
    PeriodPaths,
    Settings,
    period_range,
    window_periods,
)
from dv_analysis.errors import MissingInputError
from dv_analysis.stages import params as check
from dv_analysis.stats.rates import person_quarters, rates_table
from dv_analysis.stats.weights import build_weights

log = logging.getLogger(__name__)

CASE_TYPE_CODES = {
    "親密關係暴力": "ipv",
    "兒少保護": "child",
    "老人虐待": "elder",
    "其他家庭成員暴力": "other",
}
#: The population at risk for each case type's rate.
CASE_TYPE_DENOMINATOR = {
    "ipv": "pop_15plus",
    "child": "pop_0_14",
    "elder": "pop_65plus",
    "other": "pop_total",
}
UNIT_CODES = {
    "警政": "police",
    "醫院": "medical",
    "社政": "social",
    "教育": "school",
    "司法": "justice",
    "113專線": "hotline",
    "其他": "other",
}
AGE_BANDS = [
    (0, 12, "0_11"),
    (12, 18, "12_17"),
    (18, 30, "18_29"),
    (30, 45, "30_44"),
    (45, 65, "45_64"),
    (65, 200, "65plus"),
]


@dataclass(frozen=True)
class FeatureParams:
    """Settings of the features stage (the ``parameters`` cell of ``02_village_features``)."""

    window: int = WINDOW_QUARTERS  # rolling window in quarters for the window counts and rates
    weights: str = "queen"  # spatial weights of the spatial-EB rates (as 03 and 04)

    def __post_init__(self):
        check.at_least("window", self.window, 1)
        check.weights(self.weights)


def load_clean(
    settings: Settings, periods: list[Period], table: str = "notifications"
) -> tuple[pd.DataFrame, list[str]]:
    """Concatenate a clean table over periods; return it and the periods that were missing."""
    frames, missing = [], []
    for p in periods:
        path = getattr(settings.period(p), table)
        if path.exists():
            frames.append(pd.read_parquet(path).assign(period=str(p)))
        else:
            missing.append(str(p))
    if not frames:
        raise MissingInputError(
            f"no clean {table} for {periods[0]}…{periods[-1]} in {settings.clean_dir}; run the cleaning first"
        )
    return pd.concat(frames, ignore_index=True), missing


def _counts(
    notes: pd.DataFrame, incidents: pd.DataFrame, codes: pd.Index, suffix: str
) -> pd.DataFrame:
    out = pd.DataFrame(index=codes)
    out[f"notifications{suffix}"] = notes.groupby("villcode").size()
    out[f"incidents{suffix}"] = incidents.groupby("villcode").size()
    victims = notes[notes["victim_key"] != ""]
    out[f"victims{suffix}"] = victims.groupby("villcode")["victim_key"].nunique()
    for name, code in CASE_TYPE_CODES.items():
        out[f"incidents_{code}{suffix}"] = (
            incidents[incidents["case_type"] == name].groupby("villcode").size()
        )
    return out.fillna(0).astype(int)


def village_features(
    settings: Settings, period: str | Period, window: int = WINDOW_QUARTERS
) -> pd.DataFrame:
    """Features of every village for ``period`` (suffix ``_q``) and the rolling ``window`` (suffix ``_w``).

    Columns: names; counts of notifications, incidents and distinct victims, by
    case type; victim sex and age bands; repeat-victim share; reporting-unit mix;
    high-danger (TIPVDA ≥ 8) share; population denominators; rates per 1,000 with
    the right denominator per case type; covariates. ``attrs['missing_periods']``
    lists window quarters without clean data.
    """
    p = Period.parse(period)
    b = layers.load_boundaries(settings)
    codes = pd.Index(b["villcode"], name="villcode")
    periods = window_periods(p, window)
    notes_w, missing = load_clean(settings, periods, "notifications")
    inc_w, _ = load_clean(settings, periods, "incidents")
    if str(p) in missing:
        raise MissingInputError(
            f"no clean data for {p} in {settings.clean_dir}; run the cleaning first"
        )
    notes_q, inc_q = notes_w[notes_w["period"] == str(p)], inc_w[inc_w["period"] == str(p)]
    f = pd.concat(
        [_counts(notes_q, inc_q, codes, "_q"), _counts(notes_w, inc_w, codes, "_w")], axis=1
    )
    f = _quarter_profile(f, notes_q, inc_q, inc_w)
    nq = len(periods) - len(missing)
    f = _rates(_denominators(f, settings, p, codes), nq)
    f["window_quarters"] = nq
    f["window_length"] = window
    f["person_quarters_w"] = person_quarters(f["pop_total"], nq)
    f = f.join(covariates(settings, p, window))
    f.insert(0, "villname", b.set_index("villcode")["villname"].reindex(codes))
    f.insert(
        0,
        "townname",
        layers.district_label(b, settings.city).set_axis(b["villcode"]).reindex(codes),
    )
    f = f.reset_index()
    f.attrs["missing_periods"] = missing
    return f


def _quarter_profile(f, notes_q, inc_q, inc_w) -> pd.DataFrame:
    """Victims by sex and age band, repeat victims, reporting units and high-danger IPV of the quarter."""
    # victims of the quarter: sex, age bands (first notification of each victim)
    v = notes_q.sort_values("notified_date").drop_duplicates("victim_key")
    for sex, code in (("女", "female"), ("男", "male")):
        f[f"victims_{code}_q"] = v[v["victim_sex"] == sex].groupby("villcode").size()
    for lo, hi, label in AGE_BANDS:
        f[f"victims_age_{label}_q"] = (
            v[(v["victim_age"] >= lo) & (v["victim_age"] < hi)].groupby("villcode").size()
        )
    # repeat victims: victims of the quarter with more than one incident in the window
    per_victim = inc_w[inc_w["victim_key"] != ""].groupby("victim_key").size()
    v_rep = v[v["victim_key"].map(per_victim).fillna(0) > 1]
    f["repeat_victims_q"] = v_rep.groupby("villcode").size()
    # reporting units of the quarter's notifications
    for unit, code in UNIT_CODES.items():
        f[f"notifications_unit_{code}_q"] = (
            notes_q[notes_q["reporter_unit"] == unit].groupby("villcode").size()
        )
    ipv = inc_q[inc_q["case_type"] == "親密關係暴力"]
    f["incidents_ipv_high_danger_q"] = ipv[ipv["high_danger"]].groupby("villcode").size()
    f = f.fillna(0)
    count_cols = [c for c in f.columns if c.endswith(("_q", "_w"))]
    f[count_cols] = f[count_cols].astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        f["repeat_victim_share_q"] = f["repeat_victims_q"] / f["victims_q"].replace(0, np.nan)
        f["high_danger_share_q"] = f["incidents_ipv_high_danger_q"] / f["incidents_ipv_q"].replace(
            0, np.nan
        )
        f["police_share_q"] = f["notifications_unit_police_q"] / f["notifications_q"].replace(
            0, np.nan
        )

    return f


def _denominators(f, settings: Settings, p: Period, codes: pd.Index) -> pd.DataFrame:
    """Population denominators of the quarter (the register month matching it)."""
    pop = layers.load_population(settings, p)
    pop = pop[pop["in_boundaries"]].set_index("villcode")
    for c in ("households", "pop_total", "pop_female", "pop_0_14", "pop_15_64", "pop_65plus"):
        f[c] = pop[c].reindex(codes).fillna(0).astype(int)
    f["pop_15plus"] = f["pop_15_64"] + f["pop_65plus"]
    return f


def _rates(f: pd.DataFrame, nq: int) -> pd.DataFrame:
    """Rates per 1,000: quarter rates, and window rates per quarter averaged over the window."""
    with np.errstate(divide="ignore", invalid="ignore"):
        for unit in ("notifications", "incidents", "victims"):
            f[f"rate_{unit}_q"] = 1000 * f[f"{unit}_q"] / f["pop_total"].replace(0, np.nan)
            f[f"rate_{unit}_w"] = 1000 * f[f"{unit}_w"] / (f["pop_total"].replace(0, np.nan) * nq)
        for code, denom in CASE_TYPE_DENOMINATOR.items():
            f[f"rate_incidents_{code}_q"] = (
                1000 * f[f"incidents_{code}_q"] / f[denom].replace(0, np.nan)
            )
            f[f"rate_incidents_{code}_w"] = (
                1000 * f[f"incidents_{code}_w"] / (f[denom].replace(0, np.nan) * nq)
            )
    return f


def covariates(
    settings: Settings, period: str | Period, window: int = WINDOW_QUARTERS
) -> pd.DataFrame:
    """Village covariates from the real layers, indexed by villcode.

    Low-income and disabled recipients per 1,000 (Taipei welfare layer, 2023; NaN for
    other cities), divorces per 1,000 over the window's months, shares under 15 and
    over 64, and residents per km².
    """
    p = Period.parse(period)
    b = layers.load_boundaries(settings).set_index("villcode")
    pop = layers.load_population(settings, p)
    pop = pop[pop["in_boundaries"]].set_index("villcode").reindex(b.index)
    total = pop["pop_total"].replace(0, np.nan)
    out = pd.DataFrame(index=b.index)
    try:
        if not layers.covers(settings, "welfare_recipients"):
            raise FileNotFoundError("the welfare-recipient layer covers Taipei only")
        w = layers.load_welfare_recipients(settings)
        w = w[w["in_boundaries"]].set_index("villcode").reindex(b.index)
        out["low_income_per_1000"] = 1000 * w["low_income"] / total
        out["disabled_per_1000"] = 1000 * w["disabled"] / total
    except (FileNotFoundError, ValueError):
        log.warning(
            "no welfare-recipient layer for city %s: low income and disability left empty",
            settings.city,
        )
        out["low_income_per_1000"] = np.nan
        out["disabled_per_1000"] = np.nan
    months = [m for q in window_periods(p, window) for m in q.months()]
    try:
        if not layers.covers(settings, "vital_events"):
            raise FileNotFoundError("the vital-events layer covers Taipei, New Taipei, Taoyuan")
        v = layers.load_vital_events(settings, months)
        v = v[v["in_boundaries"]].set_index("villcode").reindex(b.index)
        out["divorces_per_1000"] = 1000 * v["divorces"].fillna(0) / total
    except FileNotFoundError:
        out["divorces_per_1000"] = np.nan
    out["share_under_15"] = pop["pop_0_14"] / total
    out["share_over_64"] = pop["pop_65plus"] / total
    out["area_km2"] = b.geometry.area / 1e6
    out["density_per_km2"] = pop["pop_total"] / out["area_km2"]
    return out


#: The population at risk of each case type in the space-time model's expected counts
#: (indirect standardisation, ``docs/risk_model.md``): the register's bands.
RISK_POPULATION = {
    "ipv": "pop_15plus",
    "child": "pop_0_17",
    "elder": "pop_65plus",
    "other": "pop_total",
}


def risk_populations(pop: pd.DataFrame) -> dict[str, pd.Series]:
    """The register's populations at risk per village: 15+, under 18 (total − 20+ − 18–19,
    never negative) and 65+."""
    under_18 = (pop["pop_total"] - pop["pop_20plus"] - pop["pop_18_19"]).clip(lower=0)
    return {
        "pop_15plus": pop["pop_15_64"] + pop["pop_65plus"],
        "pop_0_17": under_18,
        "pop_65plus": pop["pop_65plus"],
    }


def village_panel(settings: Settings, periods: list[Period]) -> pd.DataFrame:
    """Incidents (all and per case type), notifications and the populations at risk per
    village and quarter for every period with clean data."""
    b = layers.load_boundaries(settings)
    rows = []
    for p in periods:
        paths = settings.period(p)
        if not paths.incidents.exists():
            continue
        inc = pd.read_parquet(paths.incidents, columns=["villcode", "case_type"])
        notes = pd.read_parquet(paths.notifications, columns=["villcode"])
        pop = layers.load_population(settings, p)
        pop = pop[pop["in_boundaries"]].set_index("villcode")
        frame = pd.DataFrame({"villcode": b["villcode"], "period": str(p)})
        frame["incidents"] = (
            frame["villcode"].map(inc.groupby("villcode").size()).fillna(0).astype(int)
        )
        frame["notifications"] = (
            frame["villcode"].map(notes.groupby("villcode").size()).fillna(0).astype(int)
        )
        frame["pop_total"] = frame["villcode"].map(pop["pop_total"]).fillna(0).astype(int)
        by_type = inc.groupby(["villcode", "case_type"]).size().unstack(fill_value=0)
        for name, code in CASE_TYPE_CODES.items():
            col = by_type[name] if name in by_type else pd.Series(dtype=int)
            frame[f"incidents_{code}"] = frame["villcode"].map(col).fillna(0).astype(int)
        for col, values in risk_populations(pop).items():
            frame[col] = frame["villcode"].map(values).fillna(0).astype(int)
        rows.append(frame)
    if not rows:
        raise MissingInputError(f"no clean quarter in {settings.clean_dir}")
    return pd.concat(rows, ignore_index=True)


def village_units(settings: Settings, periods: list[Period]) -> pd.DataFrame:
    """Incidents per village, quarter and reporting unit (the unit of each incident's first
    notification), long: villcode, period, unit, incidents. The early warning tells a rise
    of risk from a reporting change with it."""
    rows = []
    for p in periods:
        paths = settings.period(p)
        if not paths.incidents.exists():
            continue
        inc = pd.read_parquet(paths.incidents, columns=["incident_id", "villcode"])
        notes = pd.read_parquet(
            paths.notifications, columns=["incident_id", "notified_date", "reporter_unit"]
        )
        first = notes.sort_values(["incident_id", "notified_date"], kind="stable")
        first = first.drop_duplicates("incident_id").set_index("incident_id")["reporter_unit"]
        unit = inc["incident_id"].map(first).fillna(UNKNOWN_UNIT)
        counts = inc.assign(unit=unit).groupby(["villcode", "unit"]).size()
        rows.append(counts.rename("incidents").reset_index().assign(period=str(p)))
    if not rows:
        return pd.DataFrame(columns=["villcode", "period", "unit", "incidents"])
    return pd.concat(rows, ignore_index=True)[["villcode", "period", "unit", "incidents"]]


#: The unit of an incident whose notifications name none.
UNKNOWN_UNIT = "unknown"


def build(
    paths: PeriodPaths, params: FeatureParams = FeatureParams()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features of the period and the panel of every earlier quarter with clean data; written to disk."""
    settings = paths.settings
    feats = village_features(settings, paths.period, params.window)
    panel = village_panel(settings, period_range(FIRST_REGISTER_QUARTER, paths.period))
    paths.clean.mkdir(parents=True, exist_ok=True)
    feats.to_parquet(paths.village_features, index=False)
    panel.to_parquet(paths.village_panel, index=False)
    units = village_units(settings, period_range(FIRST_REGISTER_QUARTER, paths.period))
    units.to_parquet(paths.village_units, index=False)
    return feats, panel


def village_areas(paths: PeriodPaths, count: str):
    """Village polygons with a count of the features and its person-quarters, in boundary order.

    ``person_quarters`` is ``person_quarters_w`` for a window count (``*_w``), the quarter's
    population otherwise; missing villages count 0.
    """
    feats = pd.read_parquet(paths.village_features)
    villages = layers.load_boundaries(paths.settings)
    denominator = "person_quarters_w" if count.endswith("_w") else "pop_total"
    g = villages.merge(feats[["villcode", count, denominator]], on="villcode", how="left")
    g["person_quarters"] = g[denominator].fillna(0).astype(float)
    return g.drop(columns=[denominator])


def window_rates(
    features: pd.DataFrame, villages, weights: str = "queen", count: str = "incidents_w"
) -> pd.DataFrame:
    """Raw, EB and spatial-EB rates per 1,000 residents per quarter of a window count.

    The denominator is the person-quarters of the window (``person_quarters_w``), the
    weights those named by the run's ``weights`` setting.
    """
    g = villages[["villcode"]].merge(features, on="villcode", how="left")
    w, _ = build_weights(villages, weights, ids="villcode")
    return rates_table(g[count].to_numpy(), g["person_quarters_w"].to_numpy(), w)
