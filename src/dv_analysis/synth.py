"""Synthetic case exports with recorded ground truth.

Real case data never exists outside the centre, so development, tests and the demo
run on synthetic exports written in exactly the raw format of
``shared/docs/raw_case_schema.md``, mess included. The generative model is built
from the real public layers:

* true incidence per village and quarter:
  ``log mu = log(pop) + b0 + b_li*z(low-income share) + b_div*z(divorce rate)
  + b_old*z(share over 64) + u_v + log(cluster multiplier)``,
  with planted spatial clusters (persistent, new, intensifying, fading, cold);
* reporting: each true incident is reported with probability
  ``expit(a0 - a1 * remoteness)``, where remoteness comes from the distance to the
  nearest metro station and the number of bus stops near the village's
  representative point (real layers), so remote hill villages are under-reported;
* each reported incident yields one to three notifications from different
  reporting units; victims recur across quarters.

Everything planted is written to the truth folder (``Settings.truth_dir``), which
the pipeline never reads: ``params.json``, ``village_truth.parquet`` (per village
and quarter) and ``<period>/rows.parquet`` (for every raw row, the true village
and the bucket cleaning should put it in).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.special import expit

from . import public
from .config import Period, Settings, period_range

log = logging.getLogger(__name__)

#: Raw export header, in the schema's order.
RAW_COLUMNS: tuple[str, ...] = (
    "通報編號", "案號", "被害人代碼", "通報日期", "事件發生日期", "通報單位類別", "案件類型",
    "被害人性別", "被害人年齡", "被害人國籍", "相對人性別", "相對人年齡", "兩造關係", "暴力型態",
    "TIPVDA分數", "開案", "發生地縣市", "發生地行政區", "發生地村里", "村里代碼", "發生地X", "發生地Y",
)  # fmt: skip

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
def _z(x: pd.Series, clip: float = 3.0) -> pd.Series:
    """Standardised values, clipped to ±clip so heavy-tailed covariates cannot explode the rates."""
    x = x.astype(float)
    sd = x.std()
    z = (x - x.mean()) / sd if sd and np.isfinite(sd) and sd > 0 else x * 0.0
    return z.clip(-clip, clip)


def village_base(settings: Settings, start: Period) -> gpd.GeoDataFrame:
    """Villages of the city with covariates and remoteness from the real layers."""
    b = public.load_boundaries(settings)
    pop = public.load_population(settings, start)
    pop = pop[pop["in_boundaries"]].set_index("villcode")
    b = b.join(pop[["pop_total"]], on="villcode")
    b["pop_total"] = b["pop_total"].fillna(0)
    # low-income share (Taipei only; zero effect elsewhere)
    try:
        if not public.covers(settings, "welfare_recipients"):
            raise FileNotFoundError("welfare recipients: Taipei only")
        w = public.load_welfare_recipients(settings)
        w = w[w["in_boundaries"]].set_index("villcode")
        b["low_income_share"] = (
            b["villcode"].map(w["low_income"]).fillna(0) / b["pop_total"].clip(lower=1)
        ).values
    except (FileNotFoundError, ValueError):
        b["low_income_share"] = 0.0
    # divorces per 1,000 over the year before the start
    months = [
        p.months()
        for p in period_range(start.previous().previous().previous().previous(), start.previous())
    ]
    flat = [m for ms in months for m in ms]
    try:
        if not public.covers(settings, "vital_events"):
            raise FileNotFoundError("vital events: three cities only")
        v = public.load_vital_events(settings, flat)
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
        metro = public.load_metro_stations(settings)
        bus = public.load_bus_stops(settings)
        tree_m = shapely.STRtree(metro.geometry.values)
        _, dist = tree_m.query_nearest(rep.values, return_distance=True, all_matches=False)
        b["dist_metro_m"] = dist
        tree_b = shapely.STRtree(bus.geometry.values)
        pairs = tree_b.query(rep.values, predicate="dwithin", distance=500)
        b["bus_stops_500m"] = np.bincount(pairs[0], minlength=len(b))
        b["remoteness"] = (
            _z(np.log(b["dist_metro_m"] + 100)) + _z(-np.log1p(b["bus_stops_500m"]))
        ) / 2
    except FileNotFoundError:
        b["dist_metro_m"] = np.nan
        b["bus_stops_500m"] = np.nan
        density = b["pop_total"] / (b.geometry.area / 1e6).clip(lower=0.01)
        b["remoteness"] = -np.log1p(density)
    b["remoteness"] = _z(b["remoteness"])
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
        members = [seed, *nb[seed]]
        ring = set(members) | {x for m in members for x in nb[m]}
        if ring & used:
            continue
        used |= ring
        ctype = CLUSTER_TYPES[len(clusters) % len(CLUSTER_TYPES)]
        m = model.cluster_multiplier
        t = np.arange(n) / max(n - 1, 1)
        if ctype == "persistent":
            mult = np.full(n, m)
        elif ctype == "new":
            onset = int(np.ceil(n * 2 / 3))
            mult = np.where(np.arange(n) >= onset, m, 1.0)
        elif ctype == "intensifying":
            mult = 1.0 + (m + 0.5 - 1.0) * t
        elif ctype == "fading":
            mult = m + 0.5 - (m + 0.5 - 1.0) * t
        else:  # cold
            mult = np.full(n, 0.35)
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
    return clusters


# ---------------------------------------------------------------------------
# Dates and text formats
# ---------------------------------------------------------------------------
_FW = str.maketrans("0123456789/.-", "０１２３４５６７８９／．－")


def format_date(d: date, style: int) -> str:
    """A date in one of the raw formats (0: 105/03/07, 1: 105.3.7, 2: 1050307, 3: 2016-03-07, 4: 2016/3/7)."""
    roc = d.year - 1911
    if style == 0:
        return f"{roc}/{d.month:02d}/{d.day:02d}"
    if style == 1:
        return f"{roc}.{d.month}.{d.day}"
    if style == 2:
        return f"{roc}{d.month:02d}{d.day:02d}"
    if style == 3:
        return d.isoformat()
    return f"{d.year}/{d.month}/{d.day}"


def excel_serial(d: date) -> int:
    """Excel's serial day number of a date (1900 system)."""
    return (d - date(1899, 12, 30)).days


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16].upper()


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------
def _sample_points(geom, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points strictly inside a polygon (5 m from its edge where it is wide enough)."""
    inner = geom.buffer(-5)
    if inner.is_empty or inner.area < geom.area * 0.2:
        inner = geom
    minx, miny, maxx, maxy = inner.bounds
    out = np.empty((0, 2))
    shapely.prepare(inner)
    while len(out) < n:
        k = max(16, int((n - len(out)) * 3 * (maxx - minx) * (maxy - miny) / max(inner.area, 1)))
        k = min(k, 200_000)
        xy = np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        out = np.vstack([out, xy[shapely.contains_xy(inner, xy[:, 0], xy[:, 1])]])
    return out[:n]


class VictimPool:
    """Victims so far, by village and case type, for repeat victimisation across quarters."""

    def __init__(self) -> None:
        self.key = np.empty(0, np.int64)  # village index * 4 + case type
        self.id = np.empty(0, object)
        self.last = np.empty(0, np.int64)  # date ordinal of the last incident
        self.sex = np.empty(0, object)
        self.age0 = np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self.id)

    def pick(self, keys: np.ndarray, u: np.ndarray) -> np.ndarray:
        """For each key, a uniformly chosen earlier victim with that key (index), or -1."""
        order = np.argsort(self.key, kind="stable")
        sk = self.key[order]
        lo, hi = np.searchsorted(sk, keys, "left"), np.searchsorted(sk, keys, "right")
        n = hi - lo
        pos = lo + np.minimum((u * n).astype(np.int64), np.maximum(n - 1, 0))
        return np.where(n > 0, order[np.minimum(pos, max(len(order) - 1, 0))], -1)

    def add(self, key, ids, last, sex, age0) -> None:
        self.key = np.concatenate([self.key, key])
        self.id = np.concatenate([self.id, ids])
        self.last = np.concatenate([self.last, last])
        self.sex = np.concatenate([self.sex, sex])
        self.age0 = np.concatenate([self.age0, age0])


def _choice_rows(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One category per row from per-row cumulative probabilities (rows of ``cum``)."""
    r = rng.random(len(cum))
    return np.minimum((r[:, None] > cum).sum(1), cum.shape[1] - 1)


def _notifications(
    cfg: SynthConfig,
    period: Period,
    first: Period,
    codes: np.ndarray,
    inc_v: np.ndarray,
    inc_type: np.ndarray,
    inc_day: np.ndarray,
    n_notif: np.ndarray,
    victims: VictimPool,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Canonical notifications of a quarter's incidents (vectorised over incidents).

    Victims recur: with probability ``repeat_victim`` an incident's victim is an earlier
    victim of the same village and case type, if one exists whose last incident was more
    than 30 days before; otherwise a new victim with sex and age drawn by case type.
    Each incident is notified by 1–3 different units (weighted draw without replacement).
    """
    model, mess = cfg.model, cfg.mess
    n_inc = len(inc_v)
    start = period.start.toordinal()
    inc_ord = start + inc_day.astype(np.int64)
    key = inc_v.astype(np.int64) * 4 + inc_type
    want = rng.random(n_inc) < model.repeat_victim
    cand = victims.pick(key, rng.random(n_inc)) if len(victims) else np.full(n_inc, -1)
    reuse = want & (cand >= 0)
    reuse[reuse] = (inc_ord[reuse] - victims.last[cand[reuse]]) > 30
    # at most one recurrence of a victim per quarter (two within 30 days would be one incident)
    again = np.zeros(n_inc, bool)
    again[np.flatnonzero(reuse)] = pd.Series(cand[reuse]).duplicated().to_numpy()
    reuse &= ~again
    new = ~reuse
    # new victims: sex and age by case type
    u_sex = rng.random(n_inc)
    female_p = np.array([0.85, 0.5, 0.6, 0.6])[inc_type]
    sex = np.where(u_sex < female_p, "女", "男").astype(object)
    age = np.select(
        [inc_type == 0, inc_type == 1, inc_type == 2],
        [
            np.clip(rng.normal(38, 11, n_inc), 16, 85).astype(np.int64),
            rng.integers(0, 18, n_inc),
            rng.integers(65, 96, n_inc),
        ],
        rng.integers(15, 81, n_inc),
    )
    first_new = len(victims)
    new_ids = np.array(
        [_key(cfg.seed, "victim", first_new + k + 1) for k in range(int(new.sum()))], dtype=object
    )
    victim = np.empty(n_inc, dtype=object)
    victim[new] = new_ids
    victim[reuse] = victims.id[cand[reuse]]
    sex[reuse] = victims.sex[cand[reuse]]
    age0 = age.copy()
    age0[reuse] = victims.age0[cand[reuse]]
    victims.last[cand[reuse]] = np.maximum(victims.last[cand[reuse]], inc_ord[reuse])
    victims.add(key[new], new_ids, inc_ord[new], sex[new], age0[new])
    years = np.array([date.fromordinal(int(o)).year for o in inc_ord], dtype=np.int64)
    age = age0 + (years - first.start.year)
    ctype = np.array(CASE_TYPES, dtype=object)[inc_type]
    incident_id = np.array(
        [_key(cfg.seed, "incident", str(period), i) for i in range(n_inc)], dtype=object
    )
    blank_case = rng.random(n_inc) < mess.case_id_blank
    case_id = np.array(
        ["" if b else "C" + _key(cfg.seed, "case", v, t)[:10] for b, v, t in zip(blank_case, victim, ctype, strict=True)],
        dtype=object,
    )  # fmt: skip
    # relationship, respondent, TIPVDA
    rel = np.empty(n_inc, dtype=object)
    for t, name in enumerate(CASE_TYPES):
        sel = inc_type == t
        vals, p = RELATIONSHIPS[name]
        rel[sel] = np.array(vals, dtype=object)[rng.choice(len(vals), size=int(sel.sum()), p=p)]
    ipv = inc_type == 0
    r_sex = np.where(rng.random(n_inc) < 0.65, "男", "女").astype(object)
    r_sex[ipv] = np.where(
        sex[ipv] == "女", "男", np.where(rng.random(int(ipv.sum())) < 0.8, "女", "男")
    )
    gap = np.select([inc_type == 1, inc_type == 2], [25.0, -30.0], rng.normal(0, 15, n_inc))
    r_age = np.clip(age + gap, 18, 95).astype(np.int64)
    r_age[ipv] = np.clip(age[ipv] + rng.normal(2, 6, int(ipv.sum())), 16, 95).astype(np.int64)
    tipvda = np.full(n_inc, "", dtype=object)
    tipvda[ipv] = np.clip(rng.normal(6, 3.2, int(ipv.sum())), 0, 15).astype(np.int64).astype(str)
    # forms of violence (at least one), nationality, opened
    probs = np.array([0.7 if f == "身體" else 0.45 if f == "精神" else 0.1 for f in FORMS])
    has = rng.random((n_inc, len(FORMS))) < probs
    combos = {}
    bits = has @ (1 << np.arange(len(FORMS)))
    for b_ in np.unique(bits):
        combos[int(b_)] = tuple(f for k, f in enumerate(FORMS) if b_ >> k & 1) or ("精神",)
    forms = np.empty(n_inc, dtype=object)
    for i, b_ in enumerate(bits):
        forms[i] = combos[int(b_)]
    nat = np.array(NATIONALITY[0], dtype=object)[
        rng.choice(len(NATIONALITY[0]), size=n_inc, p=NATIONALITY[1])
    ]
    u1, u2 = rng.random(n_inc), rng.random(n_inc)
    opened = np.where(u1 < 0.68, "是", np.where(u2 < 0.9, "否", "")).astype(object)
    # notifications: 1–3 different units per incident (Gumbel top-k = weighted, no replacement)
    g = np.log(UNIT_SHARES)[None, :] - np.log(-np.log(rng.random((n_inc, len(UNITS)))))
    unit_order = np.argsort(-g, axis=1, kind="stable")
    inc_of = np.repeat(np.arange(n_inc), n_notif)
    k_of = np.arange(len(inc_of)) - np.repeat(np.cumsum(n_notif) - n_notif, n_notif)
    unit = np.array(UNITS, dtype=object)[unit_order[inc_of, k_of]]
    delay = np.where(k_of > 0, rng.integers(0, 8, len(inc_of)), rng.integers(0, 4, len(inc_of)))
    n_ord = np.minimum(inc_ord[inc_of] + delay, period.end.toordinal())
    n_dates = np.array([date.fromordinal(int(o)) for o in n_ord], dtype=object)
    inc_dates = np.array([date.fromordinal(int(o)) for o in inc_ord], dtype=object)
    roc = np.array([d.year - 1911 for d in n_dates])
    nid = [
        f"DV{r:03d}{x:07d}" for r, x in zip(roc, rng.integers(0, 10**7, len(inc_of)), strict=True)
    ]
    return pd.DataFrame(
        {
            "notification_id": nid,
            "case_id": case_id[inc_of],
            "victim_key": victim[inc_of],
            "notified": n_dates,
            "incident": inc_dates[inc_of],
            "unit": unit,
            "case_type": ctype[inc_of],
            "victim_sex": sex[inc_of],
            "victim_age": age[inc_of],
            "victim_nat": nat[inc_of],
            "resp_sex": r_sex[inc_of],
            "resp_age": r_age[inc_of],
            "relationship": rel[inc_of],
            "forms": forms[inc_of],
            "tipvda": tipvda[inc_of],
            "opened": opened[inc_of],
            "villcode": codes[inc_v[inc_of]],
            "incident_id": incident_id[inc_of],
        }
    )


def generate(settings: Settings, cfg: SynthConfig, progress: bool = True) -> dict:
    """Generate exports for every quarter of ``cfg`` and write them with their truth.

    Returns a summary: files written and rows per period.
    """
    settings.check_public_dir()
    periods = period_range(cfg.start, cfg.end)
    rng = np.random.default_rng(cfg.seed)
    model, mess = cfg.model, cfg.mess
    b = village_base(settings, periods[0])
    codes = b["villcode"].to_numpy()
    nv = len(b)
    clusters = plant_clusters(b, periods, model, rng)
    u = rng.normal(0, model.sd_village, nv)
    p_report = expit(
        model.report_a0 - model.report_a1 * np.clip(b["remoteness"].to_numpy(), 0, None)
    )
    z_li, z_div = _z(b["low_income_share"]).to_numpy(), _z(b["divorce_rate"]).to_numpy()
    mean_notif = float(np.dot([1, 2, 3], model.notifications_per_incident))
    # out-of-city villages to borrow names from (a neighbouring city)
    other_city = "65000" if settings.city != "65000" else "63000"
    other = public.load_boundaries(settings, other_city)[
        ["villcode", "countyname", "townname", "villname"]
    ]
    if settings.city == "all":  # every city is in the area: nothing to plant as out of area
        mess = cfg.mess = MessRates(**{**asdict(cfg.mess), "out_of_city": 0.0})

    victims = VictimPool()
    prev_rows: pd.DataFrame | None = None
    village_truth = []
    summary: dict = {"periods": {}, "city": settings.city, "seed": cfg.seed}

    for _pi, period in enumerate(periods):
        pop = public.load_population(settings, period)
        pop = pop[pop["in_boundaries"]].set_index("villcode")
        popv = b["villcode"].map(pop["pop_total"]).fillna(0).to_numpy(float)
        old_share = b["villcode"].map(pop["pop_65plus"]).fillna(0).to_numpy(float) / np.maximum(
            popv, 1
        )
        child_share = b["villcode"].map(pop["pop_0_14"]).fillna(0).to_numpy(float) / np.maximum(
            popv, 1
        )
        z_old = _z(pd.Series(old_share)).to_numpy()
        mult = np.ones(nv)
        member_of = np.array([""] * nv, dtype=object)
        for c in clusters:
            sel = np.isin(codes, c["villcodes"])
            mult[sel] *= c["multiplier"][str(period)]
            member_of[sel] = c["id"]
        lin = model.b_low_income * z_li + model.b_divorce * z_div + model.b_old * z_old + u
        # calibrate the intercept so expected notifications match the per-capita target
        target_incidents = (
            model.notifications_per_1000_per_year / 4 / 1000 * popv.sum() * cfg.scale / mean_notif
        )
        base = popv * np.exp(lin) * mult * p_report
        b0 = np.log(target_incidents / base.sum())
        mu = popv * np.exp(b0 + lin) * mult
        true_n = rng.poisson(mu)
        reported_n = rng.binomial(true_n, p_report)
        village_truth.append(
            pd.DataFrame(
                {
                    "period": str(period),
                    "villcode": codes,
                    "pop_total": popv,
                    "expected_true": mu,
                    "true_incidents": true_n,
                    "report_prob": p_report,
                    "reported_incidents": reported_n,
                    "cluster": member_of,
                    "cluster_multiplier": mult,
                    "relative_risk": np.exp(b0 + lin) * mult / (mu.sum() / popv.sum()),
                }
            )
        )

        # --- incidents ------------------------------------------------------
        inc_v = np.repeat(np.arange(nv), reported_n)
        n_inc = len(inc_v)
        type_p = np.tile(CASE_TYPE_SHARES, (nv, 1))
        type_p[:, 1] *= child_share / max(child_share.mean(), 1e-9)
        type_p[:, 2] *= old_share / max(old_share.mean(), 1e-9)
        type_p /= type_p.sum(1, keepdims=True)
        cum = type_p.cumsum(1)
        r = rng.random(n_inc)
        inc_type = (r[:, None] > cum[inc_v]).sum(1)
        span = (period.end - period.start).days + 1
        inc_day = rng.integers(0, span, n_inc)
        order = np.lexsort((inc_day, inc_v))
        inc_v, inc_type, inc_day = inc_v[order], inc_type[order], inc_day[order]
        n_notif = rng.choice([1, 2, 3], size=n_inc, p=model.notifications_per_incident)
        canon = _notifications(
            cfg, period, periods[0], codes, inc_v, inc_type, inc_day, n_notif, victims, rng
        )
        # ids must be unique: re-draw the rare collisions deterministically
        dup = canon["notification_id"].duplicated()
        while dup.any():
            canon.loc[dup, "notification_id"] = [
                f"DV{d.year - 1911:03d}{int(rng.integers(0, 10**7)):07d}"
                for d in canon.loc[dup, "notified"]
            ]
            dup = canon["notification_id"].duplicated()
        canon = canon.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)
        written, truth_rows = _write_period(settings, cfg, period, canon, b, other, prev_rows, rng)
        prev_rows = canon
        summary["periods"][str(period)] = {
            "files": written,
            "notifications": int(len(canon)),
            "incidents": int(n_inc),
            "raw_rows": int(len(truth_rows)),
        }
        truth_dir = settings.truth_city_dir / str(period)
        truth_dir.mkdir(parents=True, exist_ok=True)
        truth_rows.to_parquet(truth_dir / "rows.parquet", index=False)
        if progress:
            print(
                f"  {period}: {len(canon):,} notifications, {n_inc:,} incidents, {len(truth_rows):,} raw rows in {len(written)} files",
                flush=True,
            )

    vt = pd.concat(village_truth, ignore_index=True)
    vt = vt.merge(
        b[
            [
                "villcode",
                "townname",
                "villname",
                "low_income_share",
                "divorce_rate",
                "dist_metro_m",
                "bus_stops_500m",
                "remoteness",
            ]
        ],
        on="villcode",
    )
    vt["under_reported"] = vt["report_prob"] < 0.6
    settings.truth_city_dir.mkdir(parents=True, exist_ok=True)
    vt.to_parquet(settings.truth_city_dir / "village_truth.parquet", index=False)
    params = {
        "city": settings.city,
        "start": str(periods[0]),
        "end": str(periods[-1]),
        "seed": cfg.seed,
        "scale": cfg.scale,
        "model": asdict(model),
        "mess": asdict(mess),
        "clusters": clusters,
        "under_reported_villages": sorted(
            vt.loc[vt["under_reported"], "villcode"].unique().tolist()
        ),
    }
    (settings.truth_city_dir / "params.json").write_text(
        json.dumps(params, ensure_ascii=False, indent=1)
    )
    return summary


def format_dates(dates, style: np.ndarray) -> np.ndarray:
    """:func:`format_date` for arrays of dates and styles (vectorised)."""
    d = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(dates), dtype=object)))
    y, m, dd = d.year.to_numpy(), d.month.to_numpy(), d.day.to_numpy()
    ys, ms, ds = pd.Series(y).astype(str), pd.Series(m).astype(str), pd.Series(dd).astype(str)
    rs = pd.Series(y - 1911).astype(str)
    m2, d2 = ms.str.zfill(2), ds.str.zfill(2)
    options = [
        rs + "/" + m2 + "/" + d2,
        rs + "." + ms + "." + ds,
        rs + m2 + d2,
        ys + "-" + m2 + "-" + d2,
        ys + "/" + ms + "/" + ds,
    ]
    style = np.asarray(style)
    return np.select([style == k for k in range(5)], [o.to_numpy(object) for o in options], "")


def _write_period(
    settings: Settings,
    cfg: SynthConfig,
    period: Period,
    canon: pd.DataFrame,
    b: gpd.GeoDataFrame,
    other: pd.DataFrame,
    prev: pd.DataFrame | None,
    rng: np.random.Generator,
) -> tuple[list[str], pd.DataFrame]:
    """Turn canonical rows into messy raw files; return file names and per-row truth.

    Vectorised over rows: every kind of mess is one random draw per row, recorded in the
    truth with the bucket and reason cleaning should give the row.
    """
    mess = cfg.mess
    n = len(canon)
    geo = b.set_index("villcode")
    # per-row location choices
    has_code = rng.random(n) < mess.code_present
    has_names = rng.random(n) < mess.names_present
    has_xy = rng.random(n) < mess.coords_present
    out_city = rng.random(n) < mess.out_of_city
    xy = np.full((n, 2), np.nan)
    for v, idx in canon.groupby("villcode").groups.items():
        idx = np.asarray(idx)
        xy[idx] = _sample_points(geo.geometry[v], len(idx), rng)
    bucket = np.full(n, BUCKET_CLEAN, dtype=object)
    reason = np.full(n, "", dtype=object)
    injected = [[] for _ in range(n)]

    def inject(mask: np.ndarray, label: str | None, r: str | None = None) -> None:
        for i in np.flatnonzero(mask):
            if label:
                injected[i].append(label)
        if r:
            m = mask & (bucket == BUCKET_CLEAN)
            bucket[m], reason[m] = BUCKET_QUARANTINE, r

    nid = canon["notification_id"].to_numpy(object).copy()
    missing = rng.random(n) < mess.missing_notification_id
    nid[missing] = ""
    inject(missing, "missing_id", "missing_notification_id")
    notified = canon["notified"].to_numpy(object)
    ndate = format_dates(notified, rng.integers(0, 5, n))
    fw = rng.random(n) < mess.fullwidth_date
    ndate[fw] = [t.translate(_FW) for t in ndate[fw]]
    inject(fw, "fullwidth_date")
    bad = rng.random(n) < mess.bad_notification_date
    ndate[bad] = [f"{d.year - 1911}/13/{d.day:02d}" for d in notified[bad]]
    inject(bad, "bad_date", "bad_notification_date")
    idate = format_dates(canon["incident"].to_numpy(object), rng.integers(0, 5, n))
    blank = rng.random(n) < mess.incident_date_blank
    after = ~blank & (rng.random(n) < mess.incident_after_notification)
    idate[blank] = ""
    shift = rng.integers(3, 20, n)
    idate[after] = [(d + timedelta(days=int(k))).isoformat() for d, k in zip(notified[after], shift[after], strict=True)]  # fmt: skip
    inject(after, "incident_after_notification")
    unit = canon["unit"].to_numpy(object).copy()
    uv = rng.random(n) < mess.unit_variant
    unit[uv] = [UNIT_VARIANTS.get(u, u) for u in unit[uv]]
    ctype = canon["case_type"].to_numpy(object).copy()
    cv = rng.random(n) < mess.case_variant
    ctype[cv] = [CASE_VARIANTS[c] for c in ctype[cv]]
    vsex, rsex = (
        canon["victim_sex"].to_numpy(object).copy(),
        canon["resp_sex"].to_numpy(object).copy(),
    )
    sv = rng.random(n) < mess.sex_variant
    k = rng.integers(0, 2, n)
    alt = {("男", 0): "M", ("男", 1): "1", ("女", 0): "F", ("女", 1): "2"}
    vsex[sv] = [alt[(x, int(j))] for x, j in zip(vsex[sv], k[sv], strict=True)]
    rsex[sv] = [alt[(x, int(j))] for x, j in zip(rsex[sv], k[sv], strict=True)]
    vage = canon["victim_age"].astype(str).to_numpy(object)
    suffix = rng.random(n) < mess.age_suffix
    ablank = ~suffix & (rng.random(n) < mess.age_blank)
    vage[suffix] = vage[suffix] + "歲"
    vage[ablank] = ""
    sep = np.where(rng.random(n) < 0.3, "、", ";")
    forms = [s_.join(f) for s_, f in zip(sep, canon["forms"], strict=True)]
    codes = canon["villcode"].to_numpy(object)
    city = geo["countyname"].reindex(codes).to_numpy(object)
    district = geo["townname"].reindex(codes).to_numpy(object)
    village = geo["villname"].reindex(codes).to_numpy(object)
    code = codes.copy()
    true_v = codes.copy()
    x, y = xy[:, 0].copy(), xy[:, 1].copy()
    if out_city.any():
        pick = other.iloc[rng.integers(0, len(other), int(out_city.sum()))]
        city[out_city] = pick["countyname"].to_numpy(object)
        district[out_city] = pick["townname"].to_numpy(object)
        village[out_city] = pick["villname"].to_numpy(object)
        code[out_city] = pick["villcode"].to_numpy(object)
        true_v[out_city] = ""
        x[out_city] = y[out_city] = np.nan
        inject(out_city, "out_of_city", "out_of_area")
        has_names = has_names | out_city
    tai = rng.random(n) < mess.city_tai_variant
    city[tai] = [c.replace("臺", "台") for c in city[tai]]
    short = rng.random(n) < mess.city_short
    city[short] = [c.rstrip("市") for c in city[short]]
    dns = rng.random(n) < mess.district_no_suffix
    district[dns] = [d[:-1] for d in district[dns]]
    vns = rng.random(n) < mess.village_no_suffix
    village[vns] = [v[:-1] for v in village[vns]]
    dash = rng.random(n) < mess.code_dash
    code_txt = np.where(has_code, code, "").astype(object)
    sel = has_code & dash
    code_txt[sel] = [f"{c[:8]}-{c[8:]}" for c in code[sel]]
    drop_district = rng.random(n) < 0.5
    village[~has_names] = ""
    district[~has_names & drop_district] = ""
    locatable = (has_code | has_names | has_xy) & ~out_city
    inject(~out_city & ~locatable, "unlocatable", "unlocatable")
    located_by = np.select([has_code, has_names, has_xy], ["code", "names", "xy"], "")
    rows = pd.DataFrame(
        {
            "通報編號": nid, "案號": canon["case_id"].to_numpy(object),
            "被害人代碼": canon["victim_key"].to_numpy(object), "通報日期": ndate,
            "事件發生日期": idate, "通報單位類別": unit, "案件類型": ctype, "被害人性別": vsex,
            "被害人年齡": vage, "被害人國籍": canon["victim_nat"].to_numpy(object),
            "相對人性別": rsex, "相對人年齡": canon["resp_age"].astype(str).to_numpy(object),
            "兩造關係": canon["relationship"].to_numpy(object), "暴力型態": forms,
            "TIPVDA分數": canon["tipvda"].to_numpy(object), "開案": canon["opened"].to_numpy(object),
            "發生地縣市": city, "發生地行政區": district, "發生地村里": village, "村里代碼": code_txt,
            "_x": np.where(has_xy, x, np.nan), "_y": np.where(has_xy, y, np.nan),
            "_notified": notified,
            "notification_id": canon["notification_id"].to_numpy(object), "true_villcode": true_v,
            "incident_id": canon["incident_id"].to_numpy(object),
            "victim_key": canon["victim_key"].to_numpy(object),
            "case_type": canon["case_type"].to_numpy(object), "expected_bucket": bucket,
            "expected_reason": reason, "injected": [";".join(t) for t in injected],
            "located_by": located_by,
        }
    )  # fmt: skip
    # re-exported rows of the previous period (an unchanged copy of an earlier notification)
    if prev is not None and len(prev):
        kk = rng.binomial(len(prev), mess.reexport_previous)
        p = prev.iloc[np.sort(rng.choice(len(prev), size=kk, replace=False))]
        pv = p["villcode"].to_numpy(object)
        rows = pd.concat([rows, pd.DataFrame({
            "通報編號": p["notification_id"].to_numpy(object), "案號": p["case_id"].to_numpy(object),
            "被害人代碼": p["victim_key"].to_numpy(object),
            "通報日期": format_dates(p["notified"].to_numpy(object), np.full(kk, 3)),
            "事件發生日期": format_dates(p["incident"].to_numpy(object), np.full(kk, 3)),
            "通報單位類別": p["unit"].to_numpy(object), "案件類型": p["case_type"].to_numpy(object),
            "被害人性別": p["victim_sex"].to_numpy(object),
            "被害人年齡": p["victim_age"].astype(str).to_numpy(object),
            "被害人國籍": p["victim_nat"].to_numpy(object), "相對人性別": p["resp_sex"].to_numpy(object),
            "相對人年齡": p["resp_age"].astype(str).to_numpy(object),
            "兩造關係": p["relationship"].to_numpy(object),
            "暴力型態": [";".join(f) for f in p["forms"]], "TIPVDA分數": p["tipvda"].to_numpy(object),
            "開案": p["opened"].to_numpy(object),
            "發生地縣市": geo["countyname"].reindex(pv).to_numpy(object),
            "發生地行政區": geo["townname"].reindex(pv).to_numpy(object),
            "發生地村里": geo["villname"].reindex(pv).to_numpy(object), "村里代碼": pv,
            "_x": np.nan, "_y": np.nan, "_notified": p["notified"].to_numpy(object),
            "notification_id": p["notification_id"].to_numpy(object), "true_villcode": pv,
            "incident_id": p["incident_id"].to_numpy(object),
            "victim_key": p["victim_key"].to_numpy(object), "case_type": p["case_type"].to_numpy(object),
            "expected_bucket": BUCKET_DUPLICATE, "expected_reason": "previous_period",
            "injected": "reexport_previous", "located_by": "code",
        })], ignore_index=True)  # fmt: skip
    # split into files, then add exact and cross-file duplicates
    nfiles = max(1, cfg.files_per_period)
    rows["_file"] = rng.integers(0, nfiles, len(rows))
    clean = (rows["expected_bucket"] == BUCKET_CLEAN).to_numpy()
    exact = clean & (rng.random(len(rows)) < mess.exact_duplicate)
    cross = clean & ~exact & (nfiles > 1) & (rng.random(len(rows)) < mess.cross_file_duplicate)
    offset = rng.integers(0, max(nfiles - 1, 1), len(rows))
    copies = []
    for mask, kind in ((exact, "exact"), (cross, "cross_file")):
        c = rows[mask].copy()
        if kind == "cross_file":
            c["_file"] = (c["_file"] + 1 + offset[mask]) % nfiles
        c["expected_bucket"], c["expected_reason"] = BUCKET_DUPLICATE, kind
        c["injected"] = f"duplicate_{kind}"
        copies.append(c)
    rows = pd.concat([rows, *copies], ignore_index=True)
    # shuffle each file (duplicates come after their original only by chance)
    written, truth = [], []
    out_dir = settings.raw_dir / str(period)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*"):
        if old.is_file():
            old.unlink()
    for f in range(nfiles):
        part = rows[rows["_file"] == f]
        if part.empty:
            continue
        part = part.iloc[rng.permutation(len(part))]
        # an original must precede its exact duplicate in the same file: copies after
        part = part.iloc[np.argsort((part["expected_reason"] == "exact").to_numpy(), kind="stable")]
        part = part.reset_index(drop=True)
        # file formats rotate over files and quarters, so every format appears in any two quarters
        turn = period.ordinal() * nfiles + f
        kind = FILE_KINDS[turn % len(FILE_KINDS)]
        xlsx, enc = kind == "xlsx", kind
        lonlat = turn % 3 == 0
        extra_col = rng.random() < mess.extra_column_file_share
        df = part[[c for c in RAW_COLUMNS if c not in ("發生地X", "發生地Y")]].copy()
        x = part["_x"].to_numpy(float)
        y = part["_y"].to_numpy(float)
        ok = np.isfinite(x)
        if lonlat:
            pts = gpd.GeoSeries(
                gpd.points_from_xy(np.nan_to_num(x), np.nan_to_num(y)), crs=public.CRS_METRIC
            ).to_crs(public.CRS_LONLAT)
            xs = np.where(ok, pd.Series(pts.x.to_numpy()).map("{:.6f}".format), "")
            ys = np.where(ok, pd.Series(pts.y.to_numpy()).map("{:.6f}".format), "")
        else:
            xs = np.where(ok, pd.Series(x).map("{:.1f}".format), "")
            ys = np.where(ok, pd.Series(y).map("{:.1f}".format), "")
        df["發生地X"], df["發生地Y"] = xs, ys
        cols = list(RAW_COLUMNS)
        if extra_col:
            df["備註"] = ""
            cols.append("備註")
        cols = [cols[i] for i in rng.permutation(len(cols))]
        df = df[cols]
        stem = f"dv_notifications_{period}_part{f + 1}"
        if xlsx:
            name = stem + ".xlsx"
            # dates as Excel serial numbers in some rows, like real exports
            serial = rng.random(len(df)) < 0.5
            serial &= ~part["injected"].str.contains("bad_date|fullwidth_date").to_numpy()
            vals = df["通報日期"].astype(object).to_numpy().copy()
            vals[serial] = [excel_serial(d) for d in part["_notified"].to_numpy(object)[serial]]
            df["通報日期"] = vals
            df.to_excel(out_dir / name, index=False, engine="openpyxl")
            enc_used = "xlsx"
        else:
            name = stem + ".csv"
            text = df.to_csv(index=False, lineterminator="\r\n" if enc == "cp950" else "\n")
            if enc == "cp950":
                text = text.replace("糖廍", "糖蔀")
                data = text.encode("cp950", errors="replace")
            else:
                data = text.encode(enc)
            (out_dir / name).write_bytes(data)
            enc_used = enc
        written.append(name)
        t = part[["notification_id", "true_villcode", "incident_id", "victim_key", "case_type",
                  "expected_bucket", "expected_reason", "injected", "located_by"]].copy()  # fmt: skip
        t.insert(0, "coords", "lonlat" if lonlat else "twd97")
        t.insert(0, "encoding", enc_used)
        t.insert(0, "row", np.arange(1, len(t) + 1))
        t.insert(0, "file", name)
        truth.append(t)
    truth_df = pd.concat(truth, ignore_index=True) if truth else pd.DataFrame()
    return written, _relabel_cross_file(truth_df)


def _relabel_cross_file(truth: pd.DataFrame) -> pd.DataFrame:
    """Cleaning keeps the first copy of a cross-file duplicate (files in name order); label so."""
    if truth.empty:
        return truth
    sel = truth["expected_reason"].isin(["", "cross_file"]) & truth["notification_id"].ne("")
    grp = truth[sel].sort_values(["file", "row"])
    multi = grp[grp["notification_id"].duplicated(keep=False)]
    first = multi.groupby("notification_id").head(1)
    orig = multi[multi["expected_reason"] == ""].groupby("notification_id").head(1)
    pairs = pd.DataFrame(
        {"keep": pd.Series(first.index, index=first["notification_id"].to_numpy())}
    ).join(
        pd.Series(orig.index, index=orig["notification_id"].to_numpy(), name="orig"), how="inner"
    )
    pairs = pairs[pairs["keep"] != pairs["orig"]]
    if len(pairs):
        cols = ["expected_bucket", "expected_reason", "injected"]
        k, o = pairs["keep"].to_numpy(), pairs["orig"].to_numpy()
        at_k, at_o = truth.loc[k, cols].to_numpy(), truth.loc[o, cols].to_numpy()
        truth.loc[k, cols], truth.loc[o, cols] = at_o, at_k
    return truth


def _parse_simple(text: object) -> date | None:
    """Parse the generator's own date strings back (for the Excel serial variant)."""
    s = str(text)
    try:
        if "-" in s:
            return date.fromisoformat(s)
        if "/" in s or "." in s:
            a, m, d = (int(p) for p in s.replace(".", "/").split("/"))
            return date(a + 1911 if a < 1000 else a, m, d)
        if len(s) == 7:
            return date(int(s[:3]) + 1911, int(s[3:5]), int(s[5:]))
    except ValueError:
        return None
    return None
