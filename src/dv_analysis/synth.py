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

    victim_pool: dict[tuple[str, str], list[str]] = {}
    victim_last: dict[str, date] = {}
    victim_attrs: dict[str, tuple[str, int]] = {}
    prev_rows: pd.DataFrame | None = None
    village_truth = []
    summary: dict = {"periods": {}, "city": settings.city, "seed": cfg.seed}
    counter = 0

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

        rows = []
        for i in range(n_inc):
            v = codes[inc_v[i]]
            ctype = CASE_TYPES[inc_type[i]]
            inc_date = period.start + timedelta(days=int(inc_day[i]))
            pool = victim_pool.setdefault((v, ctype), [])
            victim = None
            if pool and rng.random() < model.repeat_victim:
                cand = pool[int(rng.integers(len(pool)))]
                if (inc_date - victim_last[cand]).days > 30:
                    victim = cand
            if victim is None:
                counter += 1
                victim = _key(cfg.seed, "victim", counter)
                pool.append(victim)
                if ctype == "親密關係暴力":
                    sex, age = (
                        ("女" if rng.random() < 0.85 else "男"),
                        int(np.clip(rng.normal(38, 11), 16, 85)),
                    )
                elif ctype == "兒少保護":
                    sex, age = ("女" if rng.random() < 0.5 else "男"), int(rng.integers(0, 18))
                elif ctype == "老人虐待":
                    sex, age = ("女" if rng.random() < 0.6 else "男"), int(rng.integers(65, 96))
                else:
                    sex, age = ("女" if rng.random() < 0.6 else "男"), int(rng.integers(15, 81))
                victim_attrs[victim] = (sex, age)
            victim_last[victim] = inc_date
            sex, age0 = victim_attrs[victim]
            age = age0 + (inc_date.year - periods[0].start.year)
            incident_id = _key(cfg.seed, "incident", str(period), i)
            case_id = (
                ""
                if rng.random() < mess.case_id_blank
                else "C" + _key(cfg.seed, "case", victim, ctype)[:10]
            )
            rel_vals, rel_p = RELATIONSHIPS[ctype]
            rel = rel_vals[int(rng.choice(len(rel_vals), p=rel_p))]
            if ctype == "親密關係暴力":
                r_sex = "男" if sex == "女" else ("女" if rng.random() < 0.8 else "男")
                r_age = int(np.clip(age + rng.normal(2, 6), 16, 95))
                tipvda = str(int(np.clip(rng.normal(6, 3.2), 0, 15)))
            else:
                r_sex = "男" if rng.random() < 0.65 else "女"
                r_age = int(
                    np.clip(
                        age
                        + (
                            25
                            if ctype == "兒少保護"
                            else -30
                            if ctype == "老人虐待"
                            else rng.normal(0, 15)
                        ),
                        18,
                        95,
                    )
                )
                tipvda = ""
            forms = [
                f
                for f in FORMS
                if rng.random() < (0.7 if f == "身體" else 0.45 if f == "精神" else 0.1)
            ] or ["精神"]
            nat = NATIONALITY[0][int(rng.choice(4, p=NATIONALITY[1]))]
            opened = "是" if rng.random() < 0.68 else ("否" if rng.random() < 0.9 else "")
            units = rng.choice(len(UNITS), size=n_notif[i], replace=False, p=UNIT_SHARES)
            for k, unit in enumerate(units):
                delay = int(rng.integers(0, 8)) if k else int(rng.integers(0, 4))
                n_date = min(inc_date + timedelta(days=delay), period.end)
                rows.append(
                    {
                        "notification_id": f"DV{n_date.year - 1911:03d}{int(rng.integers(0, 10**7)):07d}",
                        "case_id": case_id,
                        "victim_key": victim,
                        "notified": n_date,
                        "incident": inc_date,
                        "unit": UNITS[int(unit)],
                        "case_type": ctype,
                        "victim_sex": sex,
                        "victim_age": age,
                        "victim_nat": nat,
                        "resp_sex": r_sex,
                        "resp_age": r_age,
                        "relationship": rel,
                        "forms": forms,
                        "tipvda": tipvda,
                        "opened": opened,
                        "villcode": v,
                        "incident_id": incident_id,
                    }
                )
        canon = pd.DataFrame(rows)
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
    """Turn canonical rows into messy raw files; return file names and per-row truth."""
    mess = cfg.mess
    n = len(canon)
    geo = b.set_index("villcode")
    recs = []
    # per-row location choices
    has_code = rng.random(n) < mess.code_present
    has_names = rng.random(n) < mess.names_present
    has_xy = rng.random(n) < mess.coords_present
    out_city = rng.random(n) < mess.out_of_city
    xy = np.full((n, 2), np.nan)
    for v, idx in canon.groupby("villcode").groups.items():
        idx = np.asarray(idx)
        pts = _sample_points(geo.geometry[v], len(idx), rng)
        xy[idx] = pts
    for i, row in enumerate(canon.itertuples(index=False)):
        injected = []
        bucket, reason = BUCKET_CLEAN, ""
        nid = row.notification_id
        if rng.random() < mess.missing_notification_id:
            nid, bucket, reason = "", BUCKET_QUARANTINE, "missing_notification_id"
            injected.append("missing_id")
        style = int(rng.integers(0, 5))
        ndate = format_date(row.notified, style)
        if rng.random() < mess.fullwidth_date:
            ndate = ndate.translate(_FW)
            injected.append("fullwidth_date")
        if rng.random() < mess.bad_notification_date:
            ndate = f"{row.notified.year - 1911}/13/{row.notified.day:02d}"
            injected.append("bad_date")
            if bucket == BUCKET_CLEAN:
                bucket, reason = BUCKET_QUARANTINE, "bad_notification_date"
        inc = row.incident
        idate = format_date(inc, int(rng.integers(0, 5)))
        if rng.random() < mess.incident_date_blank:
            idate = ""
        elif rng.random() < mess.incident_after_notification:
            idate = format_date(row.notified + timedelta(days=int(rng.integers(3, 20))), 3)
            injected.append("incident_after_notification")
        unit = (
            UNIT_VARIANTS.get(row.unit, row.unit) if rng.random() < mess.unit_variant else row.unit
        )
        ctype = CASE_VARIANTS[row.case_type] if rng.random() < mess.case_variant else row.case_type
        vsex, rsex = row.victim_sex, row.resp_sex
        if rng.random() < mess.sex_variant:
            alt = {"男": ("M", "1"), "女": ("F", "2")}
            k = int(rng.integers(0, 2))
            vsex, rsex = alt[vsex][k], alt[rsex][k]
        vage = str(row.victim_age)
        if rng.random() < mess.age_suffix:
            vage += "歲"
        elif rng.random() < mess.age_blank:
            vage = ""
        sep = "、" if rng.random() < 0.3 else ";"
        city = "臺北市"
        g = geo.loc[row.villcode]
        district, village, code = g["townname"], g["villname"], row.villcode
        x, y = xy[i]
        true_v = row.villcode
        if out_city[i]:
            o = other.iloc[int(rng.integers(len(other)))]
            city, district, village, code = (
                o["countyname"],
                o["townname"],
                o["villname"],
                o["villcode"],
            )
            true_v = ""
            x = y = np.nan
            injected.append("out_of_city")
            if bucket == BUCKET_CLEAN:
                bucket, reason = BUCKET_QUARANTINE, "out_of_area"
            has_names[i] = True
        else:
            city = g["countyname"]
        if rng.random() < mess.city_tai_variant:
            city = city.replace("臺", "台")
        if rng.random() < mess.city_short:
            city = city.rstrip("市")
        if rng.random() < mess.district_no_suffix:
            district = district[:-1]
        if rng.random() < mess.village_no_suffix:
            village = village[:-1]
        code_txt = ""
        if has_code[i]:
            code_txt = f"{code[:8]}-{code[8:]}" if rng.random() < mess.code_dash else code
        if not has_names[i]:
            village = ""
            if rng.random() < 0.5:
                district = ""
        locatable = bool(has_code[i] or has_names[i] or has_xy[i]) and not out_city[i]
        if not out_city[i] and not locatable:
            injected.append("unlocatable")
            if bucket == BUCKET_CLEAN:
                bucket, reason = BUCKET_QUARANTINE, "unlocatable"
        recs.append(
            {
                "通報編號": nid,
                "案號": row.case_id,
                "被害人代碼": row.victim_key,
                "通報日期": ndate,
                "事件發生日期": idate,
                "通報單位類別": unit,
                "案件類型": ctype,
                "被害人性別": vsex,
                "被害人年齡": vage,
                "被害人國籍": row.victim_nat,
                "相對人性別": rsex,
                "相對人年齡": str(row.resp_age),
                "兩造關係": row.relationship,
                "暴力型態": sep.join(row.forms),
                "TIPVDA分數": row.tipvda,
                "開案": row.opened,
                "發生地縣市": city,
                "發生地行政區": district,
                "發生地村里": village,
                "村里代碼": code_txt,
                "_x": x if has_xy[i] else np.nan,
                "_y": y if has_xy[i] else np.nan,
                "_truth": {
                    "notification_id": row.notification_id,
                    "true_villcode": true_v,
                    "incident_id": row.incident_id,
                    "victim_key": row.victim_key,
                    "case_type": row.case_type,
                    "expected_bucket": bucket,
                    "expected_reason": reason,
                    "injected": ";".join(injected),
                    "located_by": "code"
                    if has_code[i]
                    else "names"
                    if has_names[i]
                    else "xy"
                    if has_xy[i]
                    else "",
                },
            }
        )
    # re-exported rows of the previous period (an unchanged copy of an earlier notification)
    if prev is not None and len(prev):
        k = rng.binomial(len(prev), mess.reexport_previous)
        for j in rng.choice(len(prev), size=k, replace=False):
            p = prev.iloc[int(j)]
            g = geo.loc[p.villcode]
            recs.append(
                {
                    "通報編號": p.notification_id, "案號": p.case_id, "被害人代碼": p.victim_key,
                    "通報日期": format_date(p.notified, 3), "事件發生日期": format_date(p.incident, 3),
                    "通報單位類別": p.unit, "案件類型": p.case_type, "被害人性別": p.victim_sex,
                    "被害人年齡": str(p.victim_age), "被害人國籍": p.victim_nat, "相對人性別": p.resp_sex,
                    "相對人年齡": str(p.resp_age), "兩造關係": p.relationship, "暴力型態": ";".join(p.forms),
                    "TIPVDA分數": p.tipvda, "開案": p.opened, "發生地縣市": g["countyname"],
                    "發生地行政區": g["townname"], "發生地村里": g["villname"], "村里代碼": p.villcode,
                    "_x": np.nan, "_y": np.nan,
                    "_truth": {
                        "notification_id": p.notification_id, "true_villcode": p.villcode,
                        "incident_id": p.incident_id, "victim_key": p.victim_key, "case_type": p.case_type,
                        "expected_bucket": BUCKET_DUPLICATE, "expected_reason": "previous_period",
                        "injected": "reexport_previous", "located_by": "code",
                    },
                }
            )  # fmt: skip
    # split into files, then add exact and cross-file duplicates
    nfiles = max(1, cfg.files_per_period)
    file_of = rng.integers(0, nfiles, len(recs))
    files: list[list[dict]] = [[] for _ in range(nfiles)]
    for r_, f in zip(recs, file_of, strict=True):
        files[f].append(r_)
    for f in range(nfiles):
        extra = []
        for r_ in files[f]:
            t = r_["_truth"]
            if t["expected_bucket"] != BUCKET_CLEAN:
                continue
            if rng.random() < mess.exact_duplicate:
                extra.append((f, r_, "exact"))
            elif nfiles > 1 and rng.random() < mess.cross_file_duplicate:
                g2 = (f + 1 + int(rng.integers(0, nfiles - 1))) % nfiles
                extra.append((g2, r_, "cross_file"))
        for g2, r_, kind in extra:
            copy = dict(r_)
            copy["_truth"] = dict(
                r_["_truth"],
                expected_bucket=BUCKET_DUPLICATE,
                expected_reason=kind,
                injected=f"duplicate_{kind}",
            )
            files[g2].append(copy)
    # shuffle each file (duplicates come after their original only by chance)
    written, truth = [], []
    out_dir = settings.raw_dir / str(period)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*"):
        if old.is_file():
            old.unlink()
    for f, recs_f in enumerate(files):
        if not recs_f:
            continue
        perm = rng.permutation(len(recs_f))
        # an original must precede its duplicate in the same file for "exact" to be well defined;
        # stable re-order: originals first by position, copies after
        recs_f = [recs_f[i] for i in perm]
        recs_f.sort(key=lambda r_: r_["_truth"]["expected_reason"] == "exact")
        # file formats rotate over files and quarters, so every format appears in any two quarters
        turn = period.ordinal() * nfiles + f
        kind = FILE_KINDS[turn % len(FILE_KINDS)]
        xlsx, enc = kind == "xlsx", kind
        lonlat = turn % 3 == 0
        extra_col = rng.random() < mess.extra_column_file_share
        df = pd.DataFrame([{k: v for k, v in r_.items() if not k.startswith("_")} for r_ in recs_f])
        x = np.array([r_["_x"] for r_ in recs_f], dtype=float)
        y = np.array([r_["_y"] for r_ in recs_f], dtype=float)
        if lonlat:
            lon, lat = (
                gpd.GeoSeries(
                    gpd.points_from_xy(np.nan_to_num(x), np.nan_to_num(y)), crs=public.CRS_METRIC
                )
                .to_crs(public.CRS_LONLAT)
                .pipe(lambda s: (s.x.to_numpy(), s.y.to_numpy()))
            )
            xs = [f"{a:.6f}" if np.isfinite(xx) else "" for a, xx in zip(lon, x, strict=True)]
            ys = [f"{a:.6f}" if np.isfinite(xx) else "" for a, xx in zip(lat, x, strict=True)]
        else:
            xs = [f"{a:.1f}" if np.isfinite(a) else "" for a in x]
            ys = [f"{a:.1f}" if np.isfinite(a) else "" for a in y]
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
            for col in ("通報日期",):
                serial = rng.random(len(df)) < 0.5
                vals = df[col].astype(object).copy()
                for i_ in np.flatnonzero(serial):
                    t = recs_f[i_]["_truth"]
                    if "bad_date" in t["injected"] or "fullwidth_date" in t["injected"]:
                        continue
                    d = _parse_simple(vals.iloc[i_])
                    if d is not None:
                        vals.iloc[i_] = excel_serial(d)
                df[col] = vals
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
        for i_, r_ in enumerate(recs_f):
            truth.append(
                {
                    "file": name,
                    "row": i_ + 1,
                    "encoding": enc_used,
                    "coords": "lonlat" if lonlat else "twd97",
                    **r_["_truth"],
                }
            )
    truth_df = pd.DataFrame(truth)
    return written, _relabel_cross_file(truth_df)


def _relabel_cross_file(truth: pd.DataFrame) -> pd.DataFrame:
    """Cleaning keeps the first copy of a cross-file duplicate (files in name order); label so."""
    if truth.empty:
        return truth
    sel = truth["expected_reason"].isin(["", "cross_file"]) & truth["notification_id"].ne("")
    grp = truth[sel].sort_values(["file", "row"])
    first = ~grp.duplicated("notification_id", keep="first")
    multi = grp["notification_id"].duplicated(keep=False)
    cols = ["expected_bucket", "expected_reason", "injected"]
    for _nid, g in grp[multi].groupby("notification_id"):
        orig = g[g["expected_reason"] == ""]
        if orig.empty:
            continue
        keep_idx = g.index[first[g.index].to_numpy()][0]
        if keep_idx != orig.index[0]:
            truth.loc[[keep_idx, orig.index[0]], cols] = truth.loc[
                [orig.index[0], keep_idx], cols
            ].to_numpy()
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
