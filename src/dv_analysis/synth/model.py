"""The generative model: configuration, the village table from the real layers, planted clusters.

True incidence per village and quarter is
``log mu = log(pop) + b0 + b_li*z(low-income share) + b_div*z(divorce rate)
+ b_old*z(share over 64) + u_v + log(cluster multiplier)``, with planted spatial clusters
(persistent, new, intensifying, fading, cold); each true incident is reported with
probability ``expit(a0 - a1 * remoteness)``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dv_analysis import layers
from dv_analysis.config import Period, Settings, period_range

log = logging.getLogger(__name__)

#: Raw export header, in the schema's order.
RAW_COLUMNS: tuple[str, ...] = (
    "通報編號",
    "案號",
    "被害人代碼",
    "通報日期",
    "事件發生日期",
    "通報單位類別",
    "案件類型",
    "被害人性別",
    "被害人年齡",
    "被害人國籍",
    "相對人性別",
    "相對人年齡",
    "兩造關係",
    "暴力型態",
    "TIPVDA分數",
    "開案",
    "發生地縣市",
    "發生地行政區",
    "發生地村里",
    "村里代碼",
    "發生地X",
    "發生地Y",
)

CASE_TYPES = ("親密關係暴力", "兒少保護", "老人虐待", "其他家庭成員暴力")
CASE_TYPE_SHARES = np.array([0.484, 0.161, 0.068, 0.287])
UNITS = ("警政", "醫院", "社政", "教育", "司法", "113專線", "其他")
UNIT_SHARES = np.array([0.45, 0.17, 0.12, 0.10, 0.06, 0.07, 0.03])
UNIT_VARIANTS = {
    "警政": "警察局",
    "醫院": "醫療院所",
    "社政": "社會局",
    "教育": "學校",
    "司法": "法院",
    "113專線": "保護專線",
}
CASE_VARIANTS = {
    "親密關係暴力": "婚姻/離婚/同居關係暴力",
    "兒少保護": "兒少",
    "老人虐待": "老人",
    "其他家庭成員暴力": "其他",
}
RELATIONSHIPS = {
    "親密關係暴力": (("配偶", "前配偶", "同居伴侶", "男女朋友"), (0.55, 0.15, 0.15, 0.15)),
    "兒少保護": (("父母", "祖父母", "其他親屬"), (0.85, 0.05, 0.10)),
    "老人虐待": (("子女", "孫子女", "配偶", "其他親屬"), (0.65, 0.10, 0.15, 0.10)),
    "其他家庭成員暴力": (("兄弟姊妹", "子女", "父母", "其他親屬"), (0.35, 0.30, 0.15, 0.20)),
}
FORMS = ("身體", "精神", "經濟", "性")
NATIONALITY = (("本國籍", "外國籍", "大陸港澳籍", "不詳"), (0.90, 0.04, 0.04, 0.02))

#: File formats, in rotation over the files of consecutive quarters.
FILE_KINDS = ("utf-8", "xlsx", "cp950", "utf-8-sig")

#: Quarantine and duplicate reasons the cleaner uses; the generator records the expected one.
BUCKET_CLEAN = "clean"
BUCKET_DUPLICATE = "duplicate"
BUCKET_QUARANTINE = "quarantine"


@dataclass
class MessRates:
    """Rates at which each kind of mess of the schema is injected (per row unless said)."""

    code_present: float = 0.45
    code_dash: float = 0.30  # of present codes
    names_present: float = 0.90  # district + village filled
    district_no_suffix: float = 0.20
    village_no_suffix: float = 0.15
    city_tai_variant: float = 0.35
    city_short: float = 0.10  # 臺北 without 市
    coords_present: float = 0.50
    fullwidth_date: float = 0.05
    unit_variant: float = 0.30
    case_variant: float = 0.25
    sex_variant: float = 0.10
    age_suffix: float = 0.05
    age_blank: float = 0.03
    incident_date_blank: float = 0.10
    incident_after_notification: float = 0.005
    bad_notification_date: float = 0.003
    missing_notification_id: float = 0.002
    out_of_city: float = 0.015
    exact_duplicate: float = 0.01
    cross_file_duplicate: float = 0.015
    reexport_previous: float = 0.02  # of the previous period's notifications
    case_id_blank: float = 0.10
    extra_column_file_share: float = 0.5
    #: a reporting unit that stops locating villages for one quarter (off by default): in
    #: ``stop_locating_period`` the rows of ``stop_locating_unit`` carry no village code,
    #: no village name and no coordinates, so cleaning quarantines them as unlocatable
    stop_locating_unit: str = ""
    stop_locating_period: str = ""


@dataclass
class ModelParams:
    """Coefficients of the generative model (all recorded in the truth)."""

    notifications_per_1000_per_year: float = 5.0  # Taipei: ~13,000 a year for 2.6 million people
    b_low_income: float = 0.25
    b_divorce: float = 0.15
    b_old: float = -0.10
    sd_village: float = 0.15
    report_a0: float = 1.7  # logit of reporting probability at average remoteness
    report_a1: float = 0.9  # drop per SD of remoteness (only above average)
    notifications_per_incident: tuple[float, float, float] = (0.60, 0.28, 0.12)
    repeat_victim: float = 0.20
    cluster_multiplier: float = 2.5
    n_clusters: int = 6
    #: per-cluster strengths and types (in planting order), overriding the two above
    cluster_multipliers: tuple[float, ...] = ()
    cluster_types: tuple[str, ...] = ()
    #: single high-risk villages apart from every cluster (no neighbour planted)
    isolated_villages: int = 0
    isolated_multiplier: float = 2.6
    #: realism (all off by default, so the demo's world stays as documented); see
    #: ``validation.realistic_world`` for the worlds the methods are judged on
    overdispersion_sd: float = 0.0  # lognormal noise of each village-quarter's incidence
    season_amplitude: float = 0.0  # log-scale seasonal swing of the city, peaking in Q3
    trend_per_year: float = 0.0  # log change of the city's incidence per year
    #: villages per cluster (in planting order): clusters grown at random over the queen
    #: graph from their seed (irregular shapes); empty: a seed and all its neighbours
    cluster_sizes: tuple[int, ...] = ()
    #: a reporting campaign: one unit's notifications rise in one district for the last
    #: ``campaign_quarters`` quarters (ending ``campaign_end_offset`` quarters before the end)
    #: with no change in risk: extra reported incidents, ``campaign_extra`` × the district's
    #: usual ones (milder incidents the unit now notifies), each notified by that unit alone
    campaign_quarters: int = 0
    campaign_end_offset: int = 0
    campaign_extra: float = 0.5
    campaign_unit: str = "警政"
    #: districts (townname) where nothing happens: no incident, so no notification (the
    #: soak's world with a district without a single case, issue 40)
    empty_districts: tuple[str, ...] = ()


@dataclass
class SynthConfig:
    """What to generate: city, quarters, seed, volume scale, mess rates and model."""

    city: str = "63000"
    start: str = "2015Q1"
    end: str = "2020Q4"
    seed: int = 42
    scale: float = 1.0  # 1.0 = realistic volume; tests use a fraction
    files_per_period: int = 3
    mess: MessRates = field(default_factory=MessRates)
    model: ModelParams = field(default_factory=ModelParams)


# ---------------------------------------------------------------------------
# Village table: covariates, remoteness, neighbours
# ---------------------------------------------------------------------------
def standardised(x: pd.Series, clip: float = 3.0) -> pd.Series:
    """Standardised values, clipped to ±clip so heavy-tailed covariates cannot explode the rates."""
    x = x.astype(float)
    sd = x.std()
    z = (x - x.mean()) / sd if sd and np.isfinite(sd) and sd > 0 else x * 0.0
    return z.clip(-clip, clip)


def village_base(settings: Settings, start: Period) -> gpd.GeoDataFrame:
    """Villages of the city with covariates and remoteness from the real layers."""
    b = layers.load_boundaries(settings)
    pop = layers.load_population(settings, start)
    pop = pop[pop["in_boundaries"]].set_index("villcode")
    b = b.join(pop[["pop_total"]], on="villcode")
    b["pop_total"] = b["pop_total"].fillna(0)
    # low-income share (Taipei only; zero effect elsewhere)
    try:
        if not layers.covers(settings, "welfare_recipients"):
            raise FileNotFoundError("welfare recipients: Taipei only")
        w = layers.load_welfare_recipients(settings)
        w = w[w["in_boundaries"]].set_index("villcode")
        b["low_income_share"] = (
            b["villcode"].map(w["low_income"]).fillna(0) / b["pop_total"].clip(lower=1)
        ).values
    except (FileNotFoundError, ValueError):
        b["low_income_share"] = 0.0
    # divorces per 1,000 over the year before the start
    months = [p.months() for p in period_range(start.back(4), start.previous())]
    flat = [m for ms in months for m in ms]
    try:
        if not layers.covers(settings, "vital_events"):
            raise FileNotFoundError("vital events: three cities only")
        v = layers.load_vital_events(settings, flat)
        v = v[v["in_boundaries"]].set_index("villcode")
        b["divorce_rate"] = (
            b["villcode"].map(v["divorces"]).fillna(0) / b["pop_total"].clip(lower=1) * 1000
        ).values
    except FileNotFoundError:
        b["divorce_rate"] = 0.0
    # remoteness: nearest metro station and bus stops within 500 m of the representative point;
    # where the transit layers do not cover the area (all of Taiwan), low population density
    rep = b.geometry.representative_point()
    try:
        if settings.city == "all":
            raise FileNotFoundError("transit layers cover Greater Taipei only")
        metro = layers.load_metro_stations(settings)
        bus = layers.load_bus_stops(settings)
        tree_m = shapely.STRtree(metro.geometry.values)
        _, dist = tree_m.query_nearest(rep.values, return_distance=True, all_matches=False)
        b["dist_metro_m"] = dist
        tree_b = shapely.STRtree(bus.geometry.values)
        pairs = tree_b.query(rep.values, predicate="dwithin", distance=500)
        b["bus_stops_500m"] = np.bincount(pairs[0], minlength=len(b))
        b["remoteness"] = (
            standardised(np.log(b["dist_metro_m"] + 100))
            + standardised(-np.log1p(b["bus_stops_500m"]))
        ) / 2
    except FileNotFoundError:
        b["dist_metro_m"] = np.nan
        b["bus_stops_500m"] = np.nan
        density = b["pop_total"] / (b.geometry.area / 1e6).clip(lower=0.01)
        b["remoteness"] = -np.log1p(density)
    b["remoteness"] = standardised(b["remoteness"])
    return b


def neighbours(b: gpd.GeoDataFrame) -> dict[str, list[str]]:
    """Queen neighbours (shared boundary point) by villcode."""
    geoms = b.geometry.values
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    codes = b["villcode"].to_numpy()
    out: dict[str, list[str]] = {c: [] for c in codes}
    for i, j in zip(left, right, strict=True):
        if i != j:
            out[codes[i]].append(codes[j])
    return out


# ---------------------------------------------------------------------------
# Planted clusters
# ---------------------------------------------------------------------------
CLUSTER_TYPES = ("persistent", "new", "intensifying", "fading", "cold", "persistent")
#: Quarters before the end at which an ``ended`` cluster stops, and over which a ``ramp``
#: cluster rises to its full strength (the last quarters of the range).
ENDED_QUARTERS_BEFORE_END = 6
RAMP_QUARTERS = 3


def cluster_profile(ctype: str, m: float, n: int) -> np.ndarray:
    """A cluster's multiplier in each of ``n`` quarters, for its type and strength ``m``.

    persistent: m throughout; new: m from two thirds of the range on; late: m in the last
    two quarters; intensifying: 1 → m + ½; fading: m + ½ → 1; ended: m until
    ``ENDED_QUARTERS_BEFORE_END`` quarters before the end, then 1; ramp: 1, then rising
    linearly over the last ``RAMP_QUARTERS`` quarters to m; cold: 0.35.
    """
    t = np.arange(n) / max(n - 1, 1)
    q = np.arange(n)
    if ctype == "persistent":
        return np.full(n, m)
    if ctype == "new":
        return np.where(q >= int(np.ceil(n * 2 / 3)), m, 1.0)
    if ctype == "late":
        return np.where(q >= n - 2, m, 1.0)
    if ctype == "intensifying":
        return 1.0 + (m + 0.5 - 1.0) * t
    if ctype == "fading":
        return m + 0.5 - (m + 0.5 - 1.0) * t
    if ctype == "ended":
        return np.where(q < n - ENDED_QUARTERS_BEFORE_END, m, 1.0)
    if ctype == "ramp":
        step = np.clip(q - (n - RAMP_QUARTERS - 1), 0, RAMP_QUARTERS) / RAMP_QUARTERS
        return 1.0 + (m - 1.0) * step
    if ctype == "cold":
        return np.full(n, 0.35)
    raise ValueError(f"unknown cluster type {ctype!r}")


def grow_cluster(seed: str, size: int, nb: dict, blocked: set, rng) -> list[str]:
    """A connected cluster of ``size`` villages grown from ``seed`` over the graph ``nb``:
    each step adds a village drawn at random among those touching the cluster and not
    ``blocked`` (irregular shapes, not a seed's full ring). Stops early when none is left."""
    members = [seed]
    while len(members) < size:
        frontier = sorted({x for v in members for x in nb[v]} - set(members) - blocked)
        if not frontier:
            break
        members.append(frontier[int(rng.integers(len(frontier)))])
    return members


def plant_clusters(
    b: gpd.GeoDataFrame, periods: list[Period], model: ModelParams, rng: np.random.Generator
) -> list[dict]:
    """Choose seed villages apart from each other; each cluster is a seed and its neighbours.

    Returns a list of clusters with type, villcodes and a multiplier per period.
    """
    nb = neighbours(b)
    eligible = b[(b["pop_total"] > 2000) & (b["remoteness"] < 1.0)]["villcode"].tolist()
    used: set[str] = set()
    clusters = []
    n = len(periods)
    order = rng.permutation(len(eligible))
    for k in order:
        if len(clusters) >= model.n_clusters:
            break
        seed = eligible[k]
        k_ = len(clusters)
        if k_ < len(model.cluster_sizes):
            members = grow_cluster(seed, model.cluster_sizes[k_], nb, used, rng)
        else:
            members = [seed, *nb[seed]]
        ring = set(members) | {x for m in members for x in nb[m]}
        if ring & used:
            continue
        used |= ring
        types = model.cluster_types or CLUSTER_TYPES
        ctype = types[k_ % len(types)]
        m = (
            model.cluster_multipliers[k_]
            if k_ < len(model.cluster_multipliers)
            else model.cluster_multiplier
        )
        mult = cluster_profile(ctype, m, n)
        clusters.append(
            {
                "id": f"C{len(clusters) + 1}",
                "type": ctype,
                "seed_villcode": seed,
                "villcodes": sorted(members),
                "multiplier": {
                    str(p): round(float(x), 4) for p, x in zip(periods, mult, strict=True)
                },
            }
        )
    for k in order:
        if sum(c["type"] == "isolated" for c in clusters) >= model.isolated_villages:
            break
        seed = eligible[k]
        ring = {seed, *nb[seed]}
        if ring & used:
            continue
        used |= ring | {x for m in nb[seed] for x in nb[m]}
        clusters.append(
            {
                "id": f"I{sum(c['type'] == 'isolated' for c in clusters) + 1}",
                "type": "isolated",
                "seed_villcode": seed,
                "villcodes": [seed],
                "multiplier": {str(p): float(model.isolated_multiplier) for p in periods},
            }
        )
    return clusters
