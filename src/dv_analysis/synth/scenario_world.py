"""The world of a test scenario: villages, their people at risk, their true incident rates
and the usual mix of reporting units (``docs/scenarios.md``).

Rates are per resident at risk of each case type (intimate-partner and other-family
violence: residents 18+; child protection: residents under 18; elder abuse: residents
65+), from the real quarterly populations. A village's rate of each type depends on its
age structure and household size (real population layer), on random heterogeneity
(a spatially smooth field, a district effect, a village effect and a village-by-type
effect), on the city's seasons and trend per type, and on the scenario's planted
multipliers. The reporting units' shares depend on the case type, on each district (and,
where the scenario says so, on each village's distance to hospitals, police stations and
social-welfare centres), and on the school holidays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dv_analysis import layers
from dv_analysis.config import Period, Settings
from dv_analysis.synth.model import CASE_TYPES, UNITS, neighbours, standardised

#: Case types (in :data:`dv_analysis.synth.model.CASE_TYPES` order) and their shares of
#: incidents in the first year.
TYPE_SHARES = np.array([0.50, 0.25, 0.08, 0.17])
#: Who is at risk of each case type (columns of :func:`people_at_risk`).
AT_RISK = ("adults_18plus", "children_under18", "elders_65plus", "adults_18plus")
#: Incidents a quarter in the first year at full volume (×1.36 notifications each ≈ 2,650).
INCIDENTS_PER_QUARTER = 1950.0
#: Reporting units' shares of the notifications of each case type (rows: CASE_TYPES;
#: columns: UNITS = 警政, 醫院, 社政, 教育, 司法, 113專線, 其他). Over the case mix: about 46 %
#: police, 20 % hospitals, 10 % social services, 12 % schools, 3 % courts, 5 % the 113
#: line, 4 % others.
UNIT_SHARES_BY_TYPE = np.array(
    [
        [0.58, 0.22, 0.05, 0.01, 0.04, 0.06, 0.04],
        [0.17, 0.15, 0.18, 0.43, 0.01, 0.03, 0.03],
        [0.45, 0.28, 0.14, 0.001, 0.02, 0.05, 0.06],
        [0.52, 0.20, 0.09, 0.03, 0.04, 0.05, 0.07],
    ]
)
#: The units' weights that give UNIT_SHARES_BY_TYPE when each incident's 1–3 units are drawn
#: without replacement (calibrated once by simulation: a unit that notified first cannot
#: notify again, so the first unit's weight is above its share).
UNIT_WEIGHTS = np.array(
    [
        [0.7228, 0.1576, 0.0299, 0.0057, 0.0242, 0.0359, 0.0239],
        [0.1533, 0.1334, 0.1630, 0.4914, 0.0085, 0.0255, 0.0250],
        [0.5146, 0.2642, 0.1164, 0.0008, 0.0158, 0.0403, 0.0479],
        [0.6274, 0.1648, 0.0674, 0.0221, 0.0294, 0.0368, 0.0521],
    ]
)
#: Notifications per incident (1, 2, 3 different units): mean 1.36.
NOTIFICATIONS_PER_INCIDENT = (0.72, 0.20, 0.08)
#: Seasonal factor of each case type in Q1…Q4 (mean 1): intimate-partner and other-family
#: violence peak in summer and at the Lunar New Year; child protection dips in the summer
#: holidays (teachers do not see the children), elder abuse at the New Year.
SEASON = np.array(
    [
        [1.02, 0.98, 1.05, 0.95],
        [0.97, 1.07, 0.86, 1.10],
        [1.05, 0.98, 0.98, 0.99],
        [1.04, 0.97, 1.02, 0.97],
    ]
)
#: The city's trend: log change a year of each case type (2017–2020 rises in Taiwan).
TREND_PER_YEAR = np.array([0.03, 0.05, 0.04, 0.02])
#: Effects on the log rate of each case type (rows) of the standardised share over 64,
#: share under 15, share aged 15–64 and persons per household (columns).
AGE_EFFECTS = np.array(
    [
        [-0.10, -0.05, 0.10, -0.10],
        [0.15, -0.20, 0.00, -0.05],
        [0.10, 0.00, 0.00, -0.10],
        [0.15, 0.00, 0.00, 0.05],
    ]
)
#: Standard deviations of the random heterogeneity (log scale).
SD_SPATIAL, SD_DISTRICT, SD_VILLAGE, SD_VILLAGE_TYPE = 0.25, 0.12, 0.15, 0.12
#: Gamma shapes of the noise of each village-quarter (shared by the case types) and of each
#: village-quarter-type: the count's mean is the true expected count, its variance larger.
SHAPE_QUARTER, SHAPE_TYPE = 12.0, 15.0
#: Lognormal spread of the units' weights between districts.
SD_DISTRICT_UNIT = 0.2
#: Units whose weight depends on the village's nearness to a facility, and the facility.
UNIT_FACILITY = {"警政": "police", "醫院": "hospital", "社政": "welfare", "教育": "children"}


@dataclass
class Plan:
    """What a scenario plants: true risk multipliers, rises, reporting multipliers.

    ``risk`` and ``rise`` are (quarters, villages, case types); ``rise`` is the part of
    ``risk`` that is a real rise (1 elsewhere), whose incidents are tagged and reported with
    ``rise_units`` (None: the usual mix). ``report`` is (quarters, districts, units).
    """

    kind: str
    periods: list[Period]
    n_main: int
    risk: np.ndarray
    rise: np.ndarray
    report: np.ndarray
    rise_units: np.ndarray | None = None
    rise_notifications: tuple[float, ...] = NOTIFICATIONS_PER_INCIDENT
    campaign_new_share: float = 0.6
    incident_scale: float = 1.0
    repeat_share: float = 0.2
    pareto_alpha: float | None = None
    unit_village_strength: float = 0.0
    holiday: tuple[float, float, float, float] = (0.85, 1.0, 0.6, 1.0)
    clusters: list[dict] = field(default_factory=list)
    campaign: dict | None = None
    drawn: dict = field(default_factory=dict)


@dataclass
class World:
    """Villages, their fixed heterogeneity and unit mix, and the districts."""

    b: gpd.GeoDataFrame
    towns: list[str]
    town_of: np.ndarray  # district index of each village
    nb: dict
    h: np.ndarray  # (villages, types) log-rate heterogeneity
    base: np.ndarray  # (types,) rate per person at risk a quarter (volume included)
    unit_factor: np.ndarray  # (villages, units) the district's multipliers of the units' weights
    near: np.ndarray  # (villages, units) nearness to the unit's facility (+ noise), standardised
    pop: np.ndarray  # residents in the first quarter

    @property
    def codes(self) -> np.ndarray:
        return self.b["villcode"].to_numpy()


def people_at_risk(settings: Settings, period: Period, codes: np.ndarray) -> np.ndarray:
    """Residents at risk of each case type in the quarter (villages × types, see AT_RISK)."""
    pop = layers.load_population(settings, period)
    pop = (
        pop[pop["in_boundaries"]]
        .groupby("villcode")[["pop_total", "pop_20plus", "pop_18_19", "pop_65plus"]]
        .sum()
    )
    pop = pop.reindex(codes).fillna(0).to_numpy(float)
    adults = pop[:, 1] + pop[:, 2]
    children = np.clip(pop[:, 0] - adults, 0, None)
    return np.column_stack([adults, children, pop[:, 3], adults])


def _age_structure(settings: Settings, first: Period, codes: np.ndarray) -> np.ndarray:
    """Standardised share over 64, under 15, aged 15–64 and persons per household."""
    pop = layers.load_population(settings, first)
    pop = pop[pop["in_boundaries"]].groupby("villcode").sum(numeric_only=True).reindex(codes)
    total = pop["pop_total"].clip(lower=1)
    cols = [
        pop["pop_65plus"] / total,
        pop["pop_0_14"] / total,
        pop["pop_15_64"] / total,
        total / pop["households"].clip(lower=1),
    ]
    return np.column_stack([standardised(c.fillna(c.median())).to_numpy() for c in cols])


def _nearness(b: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> np.ndarray:
    """Standardised minus log distance from each village's representative point to the
    nearest of ``points`` (both in metres)."""
    rep = b.geometry.representative_point().values
    tree = shapely.STRtree(points.geometry.values)
    _, dist = tree.query_nearest(rep, return_distance=True, all_matches=False)
    return standardised(pd.Series(-np.log(dist + 200.0))).to_numpy()


def facility_nearness(settings: Settings, b: gpd.GeoDataFrame, kid: np.ndarray) -> dict:
    """Each village's nearness to hospitals, police stations and welfare centres (real
    layers) and its share of children (schools), standardised."""
    med = layers.load_medical(settings)
    wel = layers.load_welfare_facilities(settings)
    centres = wel[
        wel["sub_type"].isin(["社會福利服務中心", "婦女暨家庭服務中心"])
        | (wel["main_type"] == "保護性服務")
    ]
    return {
        "hospital": _nearness(b, med[med["type"] == "醫院"]),
        "police": _nearness(b, layers.load_police(settings)),
        "welfare": _nearness(b, centres),
        "children": kid,
    }


def _smooth_field(nb: dict, codes: np.ndarray, rng) -> np.ndarray:
    """A spatially smooth standard field: white noise averaged twice over queen neighbours."""
    index = {c: i for i, c in enumerate(codes)}
    x = rng.standard_normal(len(codes))
    for _ in range(2):
        x = np.array(
            [
                (x[i] + sum(x[index[n]] for n in nb[c])) / (1 + len(nb[c]))
                for i, c in enumerate(codes)
            ]
        )
    return (x - x.mean()) / max(x.std(), 1e-9)


def build_world(settings: Settings, periods: list[Period], volume: float, rng) -> World:
    """The villages of the city, their heterogeneity, base rates and units' weights."""
    b = layers.load_boundaries(settings).reset_index(drop=True)
    codes = b["villcode"].to_numpy()
    towns = sorted(b["townname"].unique())
    town_of = b["townname"].map({t: i for i, t in enumerate(towns)}).to_numpy()
    nb = neighbours(b)
    z = _age_structure(settings, periods[0], codes)
    h = z @ AGE_EFFECTS.T
    h = h + SD_SPATIAL * _smooth_field(nb, codes, rng)[:, None]
    h = h + rng.normal(0, SD_DISTRICT, len(towns))[town_of][:, None]
    h = h + rng.normal(0, SD_VILLAGE, len(codes))[:, None]
    h = h + rng.normal(0, SD_VILLAGE_TYPE, h.shape)
    first_year = [people_at_risk(settings, p, codes) for p in periods[:4]]
    at_risk = np.mean(first_year, axis=0)
    target = INCIDENTS_PER_QUARTER * TYPE_SHARES * volume
    base = target / (at_risk * np.exp(h)).sum(0)
    district_unit = np.exp(rng.normal(0, SD_DISTRICT_UNIT, (len(towns), len(UNITS))))
    near = np.zeros((len(codes), len(UNITS)))
    fac = facility_nearness(settings, b, z[:, 1])
    for u, name in UNIT_FACILITY.items():
        near[:, UNITS.index(u)] = fac[name] + rng.normal(0, 0.5, len(codes))
    pop = first_year[0][:, 0] + first_year[0][:, 1]
    return World(b, towns, town_of, nb, h, base, district_unit[town_of], near, pop)


def expected_incidents(world: World, plan: Plan, t: int, at_risk: np.ndarray) -> np.ndarray:
    """True expected incidents of every village and case type in quarter ``t`` of the plan."""
    q = plan.periods[t].quarter - 1
    years = t / 4
    city = SEASON[:, q] * np.exp(TREND_PER_YEAR * years)
    level = world.base * plan.incident_scale
    return at_risk * level * np.exp(world.h) * city[None, :] * plan.risk[t]


def unit_weights(world: World, plan: Plan, t: int) -> np.ndarray:
    """Usual weights of the units (villages × types × units) in quarter ``t``: by case type,
    district (and village), and the school holidays (教育)."""
    factor = world.unit_factor * np.exp(plan.unit_village_strength * world.near)
    w = UNIT_WEIGHTS[None, :, :] * factor[:, None, :]
    w[:, :, UNITS.index("教育")] *= plan.holiday[plan.periods[t].quarter - 1]
    return w


def type_label(c: int) -> str:
    """The canonical name of case type ``c``."""
    return CASE_TYPES[c]
