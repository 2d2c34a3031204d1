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

import json
from dataclasses import asdict

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.special import expit

from dv_analysis import layers
from dv_analysis.config import Period, Settings, period_range
from dv_analysis.synth.incidents import VictimPool, notifications
from dv_analysis.synth.mess import duplicates, messy_rows
from dv_analysis.synth.model import (
    CASE_TYPE_SHARES,
    RAW_COLUMNS,
    MessRates,
    ModelParams,
    SynthConfig,
    neighbours,
    plant_clusters,
    standardised,
    village_base,
)
from dv_analysis.synth.truth import PARAMS_FILE, ROWS_FILE, VILLAGE_TRUTH_FILE
from dv_analysis.synth.writers import excel_serial, format_date, format_dates, write_files

__all__ = [
    "RAW_COLUMNS",
    "MessRates",
    "ModelParams",
    "SynthConfig",
    "excel_serial",
    "format_date",
    "format_dates",
    "generate",
    "neighbours",
    "plant_clusters",
    "village_base",
]


class _World:
    """What stays fixed over the quarters: villages, clusters, village effects, reporting."""

    def __init__(self, settings: Settings, cfg: SynthConfig, periods: list[Period], rng) -> None:
        model = cfg.model
        self.b = village_base(settings, periods[0])
        self.codes = self.b["villcode"].to_numpy()
        self.clusters = plant_clusters(self.b, periods, model, rng)
        self.u = rng.normal(0, model.sd_village, len(self.b))
        self.campaign = _plant_campaign(self.b, self.clusters, periods, model, rng)
        self.p_report = expit(
            model.report_a0 - model.report_a1 * np.clip(self.b["remoteness"].to_numpy(), 0, None)
        )
        self.z_li = standardised(self.b["low_income_share"]).to_numpy()
        self.z_div = standardised(self.b["divorce_rate"]).to_numpy()
        self.mean_notif = float(np.dot([1, 2, 3], model.notifications_per_incident))
        # out-of-city villages to borrow names from (a neighbouring city)
        other_city = "65000" if settings.city != "65000" else "63000"
        self.other = layers.load_boundaries(settings, other_city)[
            ["villcode", "countyname", "townname", "villname"]
        ]


def _plant_campaign(b, clusters, periods, model: ModelParams, rng) -> dict | None:
    """The reporting campaign of ``model`` (None without one): a district drawn among those
    where no planted cluster rises (so that a rise there is the campaign's alone), its
    villages, its quarters and its unit."""
    if model.campaign_quarters <= 0:
        return None
    rising = {
        v
        for c in clusters
        if c["type"] in ("new", "late", "intensifying", "ramp")
        for v in c["villcodes"]
    }
    towns = sorted(set(b["townname"]) - set(b.loc[b["villcode"].isin(rising), "townname"]))
    town = towns[int(rng.integers(len(towns)))]
    last = len(periods) - 1 - model.campaign_end_offset
    quarters = periods[max(0, last - model.campaign_quarters + 1) : last + 1]
    return {
        "townname": town,
        "villcodes": sorted(b.loc[b["townname"] == town, "villcode"]),
        "periods": [str(q) for q in quarters],
        "unit": model.campaign_unit,
        "extra": model.campaign_extra,
    }


def _city_level(model: ModelParams, period: Period, first: Period) -> float:
    """The city's incidence multiplier in ``period``: season (peak in Q3) and trend."""
    years = (period.ordinal() - first.ordinal()) / 4
    season = model.season_amplitude * np.cos(2 * np.pi * (period.quarter - 3) / 4)
    return float(np.exp(season + model.trend_per_year * years))


def _shares(b: gpd.GeoDataFrame, pop: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residents, share over 64 and share under 15 of every village in the quarter."""
    popv = b["villcode"].map(pop["pop_total"]).fillna(0).to_numpy(float)
    old = b["villcode"].map(pop["pop_65plus"]).fillna(0).to_numpy(float) / np.maximum(popv, 1)
    child = b["villcode"].map(pop["pop_0_14"]).fillna(0).to_numpy(float) / np.maximum(popv, 1)
    return popv, old, child


def _true_counts(settings, cfg: SynthConfig, world: _World, period: Period, first: Period, rng):
    """True and reported incidents per village in a quarter, the campaign's extra reported
    incidents (zeros outside it) and the village truth rows."""
    model, nv, codes = cfg.model, len(world.b), world.codes
    pop = layers.load_population(settings, period)
    pop = pop[pop["in_boundaries"]].set_index("villcode")
    popv, old_share, child_share = _shares(world.b, pop)
    z_old = standardised(pd.Series(old_share)).to_numpy()
    mult = np.ones(nv)
    member_of = np.array([""] * nv, dtype=object)
    for c in world.clusters:
        sel = np.isin(codes, c["villcodes"])
        mult[sel] *= c["multiplier"][str(period)]
        member_of[sel] = c["id"]
    mult[world.b["townname"].isin(model.empty_districts).to_numpy()] = 0.0
    lin = model.b_low_income * world.z_li + model.b_divorce * world.z_div + model.b_old * z_old
    lin = lin + world.u
    # calibrate the intercept so expected notifications match the per-capita target
    target = model.notifications_per_1000_per_year / 4 / 1000 * popv.sum() * cfg.scale
    target *= _city_level(model, period, first) / world.mean_notif
    b0 = np.log(target / (popv * np.exp(lin) * mult * world.p_report).sum())
    smooth = popv * np.exp(b0 + lin) * mult  # the village's risk without the quarter's noise
    noise = np.ones(nv)
    if model.overdispersion_sd > 0:
        sd = model.overdispersion_sd
        noise = np.exp(rng.normal(-sd * sd / 2, sd, nv))
    mu = smooth * noise
    true_n = rng.poisson(mu)
    reported_n = rng.binomial(true_n, world.p_report)
    extra = np.zeros(nv, np.int64)
    in_campaign = np.zeros(nv, bool)
    if world.campaign and str(period) in world.campaign["periods"]:
        # incidents the usual reporting does not reach (milder ones the unit now notifies):
        # the reported count rises by about ``extra``, the risk does not change
        in_campaign = np.isin(codes, world.campaign["villcodes"])
        extra = rng.poisson(np.where(in_campaign, world.campaign["extra"], 0) * mu * world.p_report)
    truth = pd.DataFrame(
        {
            "period": str(period),
            "villcode": codes,
            "pop_total": popv,
            "expected_true": mu,
            "true_incidents": true_n,
            "report_prob": world.p_report,
            "reported_incidents": reported_n + extra,
            "cluster": member_of,
            "cluster_multiplier": mult,
            "overdispersion": noise,
            "campaign": in_campaign,
            "campaign_incidents": extra,
            "relative_risk": np.exp(b0 + lin) * mult / (smooth.sum() / popv.sum()),
        }
    )
    return reported_n, extra, old_share, child_share, truth


def _incidents(
    cfg,
    world: _World,
    period: Period,
    first: Period,
    reported_n,
    extra,
    old_share,
    child_share,
    victims: VictimPool,
    rng,
) -> pd.DataFrame:
    """The quarter's canonical notifications: case types by age structure, days, units; shuffled.
    The campaign's ``extra`` incidents per village are notified by the campaign's unit alone."""
    nv = len(world.b)
    inc_v = np.repeat(np.arange(nv), reported_n)
    forced = np.zeros(len(inc_v), bool)
    if extra.any():
        inc_v = np.concatenate([inc_v, np.repeat(np.arange(nv), extra)])
        forced = np.concatenate([forced, np.ones(int(extra.sum()), bool)])
    n_inc = len(inc_v)
    type_p = np.tile(CASE_TYPE_SHARES, (nv, 1))
    type_p[:, 1] *= child_share / max(child_share.mean(), 1e-9)
    type_p[:, 2] *= old_share / max(old_share.mean(), 1e-9)
    type_p /= type_p.sum(1, keepdims=True)
    cum = type_p.cumsum(1)
    inc_type = (rng.random(n_inc)[:, None] > cum[inc_v]).sum(1)
    span = (period.end - period.start).days + 1
    inc_day = rng.integers(0, span, n_inc)
    order = np.lexsort((inc_day, inc_v))
    inc_v, inc_type, inc_day = inc_v[order], inc_type[order], inc_day[order]
    n_notif = rng.choice([1, 2, 3], size=n_inc, p=cfg.model.notifications_per_incident)
    forced_unit = None
    if forced.any():
        forced = forced[order]
        n_notif[forced] = 1
        forced_unit = np.where(forced, world.campaign["unit"], "").astype(object)
    canon = notifications(
        cfg,
        period,
        first,
        world.codes,
        inc_v,
        inc_type,
        inc_day,
        n_notif,
        victims,
        rng,
        forced_unit,
    )
    # ids must be unique: re-draw the rare collisions deterministically
    dup = canon["notification_id"].duplicated()
    while dup.any():
        canon.loc[dup, "notification_id"] = [
            f"DV{d.year - 1911:03d}{int(rng.integers(0, 10**7)):07d}"
            for d in canon.loc[dup, "notified"]
        ]
        dup = canon["notification_id"].duplicated()
    return canon.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)


def _write_truth(settings: Settings, cfg: SynthConfig, world: _World, periods, village_truth):
    """``village_truth.parquet`` and ``params.json`` of the generated world."""
    vt = pd.concat(village_truth, ignore_index=True)
    cols = [
        "villcode",
        "townname",
        "villname",
        "low_income_share",
        "divorce_rate",
        "dist_metro_m",
        "bus_stops_500m",
        "remoteness",
    ]
    vt = vt.merge(world.b[cols], on="villcode")
    vt["under_reported"] = vt["report_prob"] < 0.6
    settings.truth_city_dir.mkdir(parents=True, exist_ok=True)
    vt.to_parquet(settings.truth_city_dir / VILLAGE_TRUTH_FILE, index=False)
    params = {
        "city": settings.city,
        "start": str(periods[0]),
        "end": str(periods[-1]),
        "seed": cfg.seed,
        "scale": cfg.scale,
        "model": asdict(cfg.model),
        "mess": asdict(cfg.mess),
        "clusters": world.clusters,
        "campaign": world.campaign,
        "under_reported_villages": sorted(
            vt.loc[vt["under_reported"], "villcode"].unique().tolist()
        ),
    }
    (settings.truth_city_dir / PARAMS_FILE).write_text(
        json.dumps(params, ensure_ascii=False, indent=1)
    )


def generate(settings: Settings, cfg: SynthConfig, progress: bool = True) -> dict:
    """Generate exports for every quarter of ``cfg`` and write them with their truth.

    Returns a summary: files written and rows per period.
    """
    settings.check_public_dir()
    periods = period_range(cfg.start, cfg.end)
    rng = np.random.default_rng(cfg.seed)
    world = _World(settings, cfg, periods, rng)
    if settings.city == "all":  # every city is in the area: nothing to plant as out of area
        cfg.mess = MessRates(**{**asdict(cfg.mess), "out_of_city": 0.0})
    geo = world.b.set_index("villcode")
    victims, prev, village_truth = VictimPool(), None, []
    summary: dict = {"periods": {}, "city": settings.city, "seed": cfg.seed}
    for period in periods:
        reported_n, extra, old_s, child_s, truth = _true_counts(
            settings, cfg, world, period, periods[0], rng
        )
        village_truth.append(truth)
        canon = _incidents(
            cfg, world, period, periods[0], reported_n, extra, old_s, child_s, victims, rng
        )
        rows = messy_rows(canon, geo, world.other, prev, cfg.mess, rng, str(period))
        nfiles = max(1, cfg.files_per_period)
        rows = duplicates(rows, nfiles, cfg.mess, rng)
        written, truth_rows = write_files(
            rows, settings.raw_dir / str(period), period, nfiles, cfg.mess, rng
        )
        prev = canon
        n_inc = int(reported_n.sum() + extra.sum())
        summary["periods"][str(period)] = {
            "files": written,
            "notifications": int(len(canon)),
            "incidents": n_inc,
            "raw_rows": int(len(truth_rows)),
        }
        truth_dir = settings.truth_city_dir / str(period)
        truth_dir.mkdir(parents=True, exist_ok=True)
        truth_rows.to_parquet(truth_dir / ROWS_FILE, index=False)
        if progress:
            print(
                f"  {period}: {len(canon):,} notifications, {n_inc:,} incidents, {len(truth_rows):,} raw rows in {len(written)} files",
                flush=True,
            )
    _write_truth(settings, cfg, world, periods, village_truth)
    return summary
