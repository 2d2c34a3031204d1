"""Recovery of the synthetic ground truth by the pipeline's statistics.

Used by ``benchmarks/validate_recovery.py`` (numbers in ``docs/validation.md``) and by
a test that holds a measured floor.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from . import public
from .config import RISK_WINDOW_QUARTERS, WINDOW_QUARTERS, Period, Settings, window_periods
from .stages import features
from .stats.areas import analyse_areas


def planted_clusters(settings: Settings) -> list[dict]:
    """The planted clusters (and isolated villages) of the synthetic truth, as recorded."""
    return json.loads((settings.truth_city_dir / "params.json").read_text())["clusters"]


def _mean_multiplier(cluster: dict, periods: list[Period]) -> float:
    return float(np.mean([cluster["multiplier"][str(p)] for p in periods]))


def planted_hot(
    settings: Settings, periods: list[Period], threshold: float = 1.5
) -> tuple[set[str], set[str]]:
    """Villages of planted clusters whose mean multiplier over ``periods`` is ≥ threshold (hot) or ≤ 1/threshold (cold)."""
    hot, cold = set(), set()
    for c in planted_clusters(settings):
        m = _mean_multiplier(c, periods)
        if m >= threshold:
            hot |= set(c["villcodes"])
        elif m <= 1 / threshold:
            cold |= set(c["villcodes"])
    return hot, cold


def gi_recovery(
    settings: Settings,
    period: str,
    window: int = WINDOW_QUARTERS,
    permutations: int = 9999,
    seed: int = 42,
) -> dict:
    """Precision and recall of Gi* hot villages (gi_bin > 0, after FDR) against the planted hot clusters.

    ``precision_adjacent`` also counts as right a hot village that touches a planted
    cluster (Gi* includes each village's neighbours, so the halo is expected).
    """
    p = Period.parse(period)
    feats = features.village_features(settings, p, window)
    villages = public.load_boundaries(settings)
    g = villages.merge(feats[["villcode", "incidents_w", "person_quarters_w"]], on="villcode")
    res = analyse_areas(
        g,
        "incidents_w",
        "person_quarters_w",
        "villcode",
        permutations=permutations,
        seed=seed,
        scan_simulations=99,
    )
    hot, cold = planted_hot(settings, window_periods(p, window))
    found = set(g.loc[res.table["gi_bin"] > 0, "villcode"])
    found_cold = set(g.loc[res.table["gi_bin"] < 0, "villcode"])
    from .synth import neighbours

    nb = neighbours(villages)
    halo = hot | {n for v in hot for n in nb[v]}
    tp = len(found & hot)
    return {
        "period": str(p),
        "planted_hot": len(hot),
        "found_hot": len(found),
        "true_positive": tp,
        "precision": tp / len(found) if found else float("nan"),
        "precision_adjacent": len(found & halo) / len(found) if found else float("nan"),
        "recall": tp / len(hot) if hot else float("nan"),
        "planted_cold": len(cold),
        "found_cold": len(found_cold),
        "recall_cold": len(found_cold & cold) / len(cold) if cold else float("nan"),
        "moran_eb": res.moran_eb.I,
    }


def summarise(rows: list[dict]) -> pd.DataFrame:
    """Per-seed rows plus mean and minimum."""
    df = pd.DataFrame(rows)
    num = df.select_dtypes("number")
    return pd.concat([df, num.mean().to_frame("mean").T, num.min().to_frame("min").T])


def planted_high_risk(
    clusters: list[dict], periods: list[Period], threshold: float = 1.25
) -> set[str]:
    """Villages whose planted multiplier, averaged over ``periods``, exceeds ``threshold``."""
    return {v for c in clusters if _mean_multiplier(c, periods) > threshold for v in c["villcodes"]}


def true_relative_risk(settings: Settings, periods: list[Period]) -> pd.Series:
    """Each village's true relative risk of a *reported* incident over ``periods``, by villcode.

    From the generator's truth: expected incidents × reporting probability, per
    person-quarter, relative to the city's. This is what the village-risk model estimates
    (under-reporting lowers it, covariates and clusters raise it).
    """
    vt = pd.read_parquet(settings.truth_city_dir / "village_truth.parquet")
    vt = vt[vt["period"].isin([str(p) for p in periods])]
    reported = (vt["expected_true"] * vt["report_prob"]).groupby(vt["villcode"]).sum()
    pop = vt.groupby("villcode")["pop_total"].sum()
    rate = reported / pop.where(pop > 0)
    return rate / (reported.sum() / pop.sum())


def risk_recovery(
    settings: Settings, period: str, flag: float = 0.9, window: int = RISK_WINDOW_QUARTERS
) -> dict:
    """How well BYM2's flagged villages (P(RR > 1) ≥ ``flag``) match the synthetic truth over
    the model's ``window``.

    ``precision``: share of flagged villages whose true relative risk of a reported
    incident over the window exceeds 1 (:func:`true_relative_risk`; covariates make
    villages riskier too, not only the planted clusters); ``precision_planted``: share that
    are planted; ``recall``: share of planted high-risk villages (window-mean multiplier
    > 1.25) flagged, with the isolated and the late-starting ones counted on their own;
    ``recall_last_year``: the same against the last four quarters' planted villages (what
    holds now: a cluster that started late counts there in full). Reads ``village_risk``.
    """
    p = Period.parse(period)
    risk = pd.read_parquet(settings.period(p).village_risk)
    flagged = set(risk.loc[risk["p_exceed_1"] >= flag, "villcode"])
    truth = _truth(settings, window_periods(p, window))
    year = _truth(settings, window_periods(p, WINDOW_QUARTERS))
    return {
        "period": str(p),
        **_scores(flagged, truth),
        "flagged": len(flagged),
        "precision_planted": len(flagged & truth["planted"]) / (len(flagged) or float("nan")),
        "late_found": len(flagged & truth["late"]),
        "late": len(truth["late"]),
        "recall_last_year": _scores(flagged, year)["recall"],
    }


def _truth(settings: Settings, periods: list[Period]) -> dict[str, set]:
    """The planted truth as sets of villcodes: planted high-risk, truly higher risk of a
    reported incident, isolated, late, and every cluster that rose (late, new, intensifying)."""
    clusters = planted_clusters(settings)
    rr = true_relative_risk(settings, periods)

    def of(*types):
        return {v for c in clusters if c["type"] in types for v in c["villcodes"]}

    planted = planted_high_risk(clusters, periods)
    return {
        "planted": planted,
        "truly_high": set(rr[rr > 1].index),
        "clearly_high": set(rr[rr >= 1.5].index),
        "planted_faint": {v for v in planted if rr.get(v, 0) < 1.25},
        "isolated": of("isolated"),
        "late": of("late"),
        "rising": of("late", "new", "intensifying"),
    }


def _scores(flagged: set, truth: dict[str, set]) -> dict:
    """Precision (against the true relative risk), recall of planted villages, isolated found."""
    n = len(flagged) or float("nan")
    planted = truth["planted"]
    return {
        "planted": len(planted),
        "precision": len(flagged & truth["truly_high"]) / n,
        "recall": len(flagged & planted) / len(planted) if planted else float("nan"),
        "isolated_found": len(flagged & truth["isolated"]),
        "isolated": len(truth["isolated"]),
        # for judging recall: villages whose true risk of a *reported* incident is at least
        # 1.5× the city's, found; and planted villages the data barely show (true RR < 1.25)
        "recall_rr1.5": len(flagged & truth["clearly_high"])
        / (len(truth["clearly_high"]) or float("nan")),
        "planted_faint": len(truth["planted_faint"]),
    }


def risk_world(strength: float):
    """Model of a planted world: 3 persistent clusters, 1 late one (last two quarters) and 4
    isolated villages of one ``strength``, and a cold cluster."""
    from .synth import ModelParams

    return ModelParams(
        cluster_types=("persistent", "persistent", "persistent", "late", "cold"),
        cluster_multipliers=(strength,) * 5,
        n_clusters=5,
        isolated_villages=4,
        isolated_multiplier=strength,
    )


#: Kinds of realistic world and their cluster strength (None: nothing rises or fades).
REALISTIC_KINDS = {"strong": 2.5, "weak": 1.8, "none": None}


def realistic_world(kind: str):
    """Model of a realistic world (``REALISTIC_KINDS``), unlike the shapes the methods look for.

    Every kind has lognormal village heterogeneity (sd 0.3), overdispersion of each
    village-quarter (lognormal sd 0.2), seasons (±8 %, peak in Q3), a city trend (+4 % a
    year), the remoteness-driven under-reporting of every world, and a police reporting
    campaign in one district over the last two quarters (+50 % reported incidents, no change
    in risk). "strong" and "weak" plant irregular clusters grown over the graph (4, 9, 12
    villages, persistent), one that ended six quarters before the end (6 villages), one that
    ramps up over the last three quarters (6 villages), a cold one, and 4 isolated
    high-risk villages, all of the kind's strength. "none" keeps two persistent clusters
    (×2) and the cold one: nothing changes but the reporting.
    """
    from .synth import ModelParams

    if kind not in REALISTIC_KINDS:
        raise ValueError(f"world kind {kind!r}: one of {', '.join(REALISTIC_KINDS)}")
    common = dict(sd_village=0.3, overdispersion_sd=0.2, season_amplitude=0.08,
                  trend_per_year=0.04, campaign_quarters=2, campaign_extra=0.5)  # fmt: skip
    m = REALISTIC_KINDS[kind]
    if m is None:
        return ModelParams(cluster_types=("persistent", "persistent", "cold"),
                           cluster_sizes=(6, 9, 6), cluster_multipliers=(2.0, 2.0, 0.35),
                           n_clusters=3, **common)  # fmt: skip
    return ModelParams(
        cluster_types=("persistent", "persistent", "ended", "ramp", "persistent", "cold"),
        cluster_sizes=(4, 9, 6, 6, 12, 6), cluster_multipliers=(m,) * 6, n_clusters=6,
        isolated_villages=4, isolated_multiplier=m, **common,
    )  # fmt: skip


def realistic_years(seed: int, kind: str, root, end: str = "2020Q4") -> Settings:
    """Settings of a realistic Taipei (:func:`realistic_world`) of three years ending with
    ``end`` (realistic volume) under ``root``: generated and cleaned unless it is there."""
    from pathlib import Path

    from .stages import clean
    from .synth import SynthConfig, generate

    root = Path(root)
    s = Settings.from_args(raw_dir=root / "raw", clean_dir=root / "clean",
                           reports_dir=root / "reports", truth_dir=root / "truth")  # fmt: skip
    start = str(Period.parse(end).back(RISK_WINDOW_QUARTERS - 1))
    if not (s.truth_city_dir / "params.json").exists():
        cfg = SynthConfig(start=start, end=end, seed=seed, model=realistic_world(kind))
        generate(s, cfg, progress=False)
        clean.clean_range(s, start, end, progress=False)
    return s


def planted_years(seed: int, strength: float | None, root) -> Settings:
    """Settings of a planted Taipei of three years (2018Q1–2020Q4, realistic volume) under
    ``root``: generated and cleaned unless it is there. ``strength`` None is the world with
    no change (:func:`no_change_world`), otherwise :func:`risk_world`."""
    from pathlib import Path

    from .stages import clean
    from .synth import SynthConfig, generate

    root = Path(root)
    s = Settings.from_args(raw_dir=root / "raw", clean_dir=root / "clean",
                           reports_dir=root / "reports", truth_dir=root / "truth")  # fmt: skip
    model = no_change_world() if strength is None else risk_world(strength)
    if not (s.truth_city_dir / "params.json").exists():
        generate(
            s, SynthConfig(start="2018Q1", end="2020Q4", seed=seed, model=model), progress=False
        )
        clean.clean_range(s, "2018Q1", "2020Q4", progress=False)
    return s


def run_risk_world(seed: int, strength: float, root, flags: tuple = ()) -> dict:
    """Fit the risk stage with its defaults to a planted Taipei of three years
    (:func:`planted_years`, kept under ``root``) and score it (:func:`risk_recovery`) at
    the stage's flag and, from the same fit, at each of ``flags`` (keys ``precision@0.8``
    and so on)."""
    from .stages import risk

    s = planted_years(seed, strength, root)
    features.build(s.period("2020Q4"))
    out = risk.run(s.period("2020Q4"), progress=False)
    row = {**risk_recovery(s, "2020Q4"), "diagnostics_ok": out.summary["diagnostics"]["ok"]}
    for flag in flags:  # other flag levels from the same fit
        r = risk_recovery(s, "2020Q4", flag=flag)
        for k in ("precision", "recall", "recall_rr1.5", "isolated_found", "late_found", "flagged",
                  "recall_last_year"):  # fmt: skip
            row[f"{k}@{flag:g}"] = r[k]
    return row


def no_change_world():
    """Model of a world where nothing switches on: three persistent clusters and a cold one."""
    from .synth import ModelParams

    return ModelParams(
        cluster_types=("persistent", "persistent", "persistent", "cold"),
        cluster_multipliers=(2.0,) * 4,
        n_clusters=4,
        isolated_villages=0,
    )


def priority_recovery(settings: Settings, period: str, window: int = WINDOW_QUARTERS) -> dict:
    """How well the outreach list matches the synthetic truth (reads ``village_priority``).

    ``precision``: share of villages in tier ≥ 1 whose true relative risk of a reported
    incident exceeds 1; ``recall``: share of planted high-risk villages in tier ≥ 1;
    isolated and late-cluster villages counted on their own (``late_emerging``: late
    villages flagged by the early warning); ``false_alarm_clusters``: connected groups of
    ``emerging`` villages outside every planted cluster that rose.
    """
    from scipy.sparse.csgraph import connected_components

    from .stats.early_warning import neighbourhood_matrix
    from .stats.weights import contiguity

    p = Period.parse(period)
    periods = window_periods(p, window)
    t = pd.read_parquet(settings.period(p).village_priority)
    flagged = set(t.loc[t["tier"] >= 1, "villcode"])
    emerging = set(t.loc[t["emerging"], "villcode"])
    truth = _truth(settings, periods)
    villages = public.load_boundaries(settings)
    neighbours, _ = contiguity(villages, "queen", ids="villcode")
    false = sorted(emerging - truth["rising"])
    m = neighbourhood_matrix(neighbours, false)
    return {
        "period": str(p),
        **_scores(flagged, truth),
        "tier_1_or_2": len(flagged),
        "late_emerging": len(emerging & truth["late"]),
        "late": len(truth["late"]),
        "emerging": len(emerging),
        "false_alarm_clusters": int(connected_components(m)[0]) if false else 0,
    }


def run_priority_world(seed: int, strength: float | None, root, backtest_quarters: int = 0) -> dict:
    """Run the features, risk and priority stages for 2020Q4 with their defaults on a planted
    Taipei of three years (:func:`planted_years`, kept under ``root``) and score the list
    (:func:`priority_recovery`) and the risk stage's flag (``risk_*``, :func:`risk_recovery`).
    ``strength`` None is the world with no change."""
    from .stages import priority, risk

    s = planted_years(seed, strength, root)
    paths = s.period("2020Q4")
    features.build(paths)
    risk.run(paths, progress=False)
    priority.run(
        paths, priority.PriorityParams(backtest_quarters=backtest_quarters), progress=False
    )
    r = risk_recovery(s, "2020Q4")
    risk_scores = ("precision", "recall", "isolated_found", "recall_last_year")
    return {**priority_recovery(s, "2020Q4"), **{f"risk_{k}": r[k] for k in risk_scores}}


# --- the space-time model on realistic worlds (issue 27) ------------------------------------
def true_reported_rr(settings: Settings, periods: list[Period]) -> pd.DataFrame:
    """Each village's true relative risk of a *reported* incident in each of ``periods``
    (villages × quarters), against the city in that quarter: the generator's risk without
    the quarter's noise, times the village's reporting probability. The campaign's extra
    reports are not risk and are left out (its villages are scored apart)."""
    vt = pd.read_parquet(settings.truth_city_dir / "village_truth.parquet")
    vt = vt[vt["period"].isin([str(p) for p in periods])].copy()
    vt["reported"] = vt["relative_risk"] * vt["report_prob"] * vt["pop_total"]
    city = vt.groupby("period")[["reported", "pop_total"]].sum()
    vt["rr"] = (
        vt["relative_risk"]
        * vt["report_prob"]
        / vt["period"].map(city["reported"] / city["pop_total"])
    )
    return vt.pivot(index="villcode", columns="period", values="rr")


def biased_villages(settings: Settings) -> set[str]:
    """Villages whose reports are deliberately biased in the truth: under-reported ones and
    those of the reporting campaign."""
    params = json.loads((settings.truth_city_dir / "params.json").read_text())
    campaign = params.get("campaign") or {}
    return set(params["under_reported_villages"]) | set(campaign.get("villcodes", []))


def planted_villages(settings: Settings, *types: str) -> set[str]:
    """The villages of a world's planted clusters of the given types ("ended", "ramp", …)."""
    return {v for c in planted_clusters(settings) if c["type"] in types for v in c["villcodes"]}


def present_recovery(settings: Settings, period: str, top: int = 20) -> dict:
    """How well the present risk of ``village_risk`` matches the truth of a realistic world.

    Scored on villages whose reports are not deliberately biased: Spearman of ``rr_now_mean``
    (and of the window's ``rr_mean``) with the true present relative risk of a reported
    incident (the last quarter's, and the last year's geometric mean), and the coverage of
    the 90 % interval of the present risk. Faded villages (a cluster that ended) with
    P(RR now > 1.5) ≥ 0.5, and faded villages among the ``top`` by P(RR now > 1.5).
    """
    from scipy.stats import spearmanr

    p = Period.parse(period)
    risk = pd.read_parquet(settings.period(p).village_risk).set_index("villcode")
    truth = true_reported_rr(settings, window_periods(p, WINDOW_QUARTERS)).reindex(risk.index)
    last, year = truth[str(p)], np.exp(np.log(truth).mean(axis=1))
    fair = ~risk.index.isin(biased_villages(settings)) & risk["rr_now_mean"].notna()
    r, faded = risk[fair], planted_villages(settings, "ended")
    inside = (r["rr_now_low"] <= last[fair]) & (last[fair] <= r["rr_now_high"])
    ranked = risk.sort_values(["p_now_exceed_1_5", "rr_now_mean"], ascending=False).head(top)
    return {
        "period": str(p), "villages_scored": int(fair.sum()),
        "spearman_now": float(spearmanr(r["rr_now_mean"], last[fair])[0]),
        "spearman_now_year": float(spearmanr(r["rr_now_mean"], year[fair])[0]),
        "spearman_window": float(spearmanr(r["rr_mean"], last[fair])[0]),
        "coverage_now": float(inside.mean()),
        "coverage_now_year": float(((r["rr_now_low"] <= year[fair]) & (year[fair] <= r["rr_now_high"])).mean()),
        "faded": len(faded),
        "faded_p15_over_half": int((risk.loc[risk.index.isin(faded), "p_now_exceed_1_5"] >= 0.5).sum()),
        "faded_in_top": int(ranked.index.isin(faded).sum()),
        "top_truly_high": int((last.reindex(ranked.index) >= 1.5).sum()),
    }  # fmt: skip


def run_present_world(seed: int, kind: str, root, engine: str = "laplace") -> dict:
    """Fit the risk stage (``engine``) to a realistic Taipei (:func:`realistic_years`) and
    score its present risk (:func:`present_recovery`)."""
    from .stages import risk

    s = realistic_years(seed, kind, root)
    paths = s.period("2020Q4")
    features.build(paths)
    out = risk.run(paths, risk.RiskParams(engine=engine), progress=False)
    return {"seed": seed, "kind": kind, **present_recovery(s, "2020Q4"),
            "diagnostics_ok": out.summary["diagnostics"]["ok"],
            "seconds": out.summary["engine"]["seconds"]}  # fmt: skip


# --- the outreach list on realistic worlds (issue 24) -------------------------------------
#: Naive lists a clerk would make, scored beside the outreach list: (name, quarters, rate).
NAIVE_LISTS = (("count_1q", 1, False), ("count_4q", 4, False), ("count_12q", 12, False),
               ("rate_4q", 4, True), ("rate_12q", 12, True))  # fmt: skip


def outreach_truth(settings: Settings, period: str, budget: int) -> pd.DataFrame:
    """Each village's true relative risk of an incident (reported or not) in ``period``, its
    true excess incidents (population × the city's true rate × (RR − 1), at least 0), and
    ``elevated``: among the ``2 × budget`` villages with the most true excess (the villages
    where outreach would meet the most incidents above what the city's rate gives)."""
    vt = pd.read_parquet(settings.truth_city_dir / "village_truth.parquet")
    now = vt[vt["period"] == str(period)].set_index("villcode")
    rate = now["expected_true"].sum() / now["pop_total"].sum()
    excess = ((now["relative_risk"] - 1) * now["pop_total"] * rate).clip(lower=0)
    top = excess.sort_values(ascending=False).head(2 * budget).index
    return pd.DataFrame({"rr": now["relative_risk"], "excess": excess,
                         "elevated": now.index.isin(top) & (excess > 0)})  # fmt: skip


def naive_lists(settings: Settings, period: str, budget: int) -> dict[str, pd.Index]:
    """The first ``budget`` villages of each naive list (:data:`NAIVE_LISTS`)."""
    panel = pd.read_parquet(settings.period(period).village_panel)
    out = {}
    for name, k, rate in NAIVE_LISTS:
        q = [str(p) for p in window_periods(period, k)]
        w = panel[panel["period"].isin(q)].groupby("villcode")[["incidents", "pop_total"]].sum()
        score = w["incidents"] / w["pop_total"].clip(lower=1) if rate else w["incidents"]
        out[name] = score.sort_values(ascending=False, kind="stable").head(budget).index
    return out


def outreach_recovery(settings: Settings, period: str, budget: int = 20) -> dict:
    """How the outreach list of ``period`` (``village_priority``) matches a realistic world's
    truth (:func:`outreach_truth`), beside the best naive list (:func:`naive_lists`).

    Tier-2 precision against ``elevated`` and against true RR ≥ 1.5; the share of the best
    possible true excess tier 2 holds; faded villages (a cluster that ended) in tier 2, all
    and those not truly elevated now (a village of an ended cluster can still be elevated
    for its own reasons: heterogeneity, covariates);
    ramping-cluster villages in tier ≥ 1, all and those truly elevated now (a ramp lifts
    villages of every baseline, so some stay below the city's risk); campaign villages (a reporting change, no risk)
    flagged as a risk rise, flagged as a reporting change, and in tier 2; tier ≥ 1 precision and recall against ``elevated``.
    """
    t = pd.read_parquet(settings.period(period).village_priority).set_index("villcode")
    truth = outreach_truth(settings, period, budget).reindex(t.index)
    params = json.loads((settings.truth_city_dir / "params.json").read_text())
    campaign = set((params.get("campaign") or {}).get("villcodes", []))
    best = truth["excess"].sort_values(ascending=False).head(budget).sum()
    two, watched = t.index[t["tier"] == 2], t.index[t["tier"] >= 1]
    faded, ramp = planted_villages(settings, "ended"), planted_villages(settings, "ramp")
    hot_ramp = [v for v in sorted(ramp) if v in truth.index and truth.at[v, "elevated"]]

    def scores(ids) -> dict:
        x = truth.reindex(ids)
        return {"precision": float(x["elevated"].mean()), "precision_rr15": float((x["rr"] >= 1.5).mean()),
                "excess_captured": float(x["excess"].sum() / best) if best > 0 else float("nan")}  # fmt: skip

    risk_rise = t["emerging"] & (t["rise_kind"] == "risk")
    naive = {name: scores(ids) for name, ids in naive_lists(settings, period, budget).items()}
    best_naive = max(naive, key=lambda n: naive[n]["precision"])
    return {
        "period": str(period), **{f"tier2_{k}": v for k, v in scores(two).items()},
        "tier2": len(two), "tier1": int((t["tier"] == 1).sum()),
        "best_naive": best_naive, **{f"naive_{k}": v for k, v in naive[best_naive].items()},
        **{f"{name}_{k}": x for name, v in naive.items() for k, x in v.items()},
        "naive_excess_captured_max": max(v["excess_captured"] for v in naive.values()),
        "faded_in_tier2": int(two.isin(faded).sum()),
        "faded_not_elevated_in_tier2": int((two.isin(faded) & ~truth.loc[two, "elevated"]).sum()),
        "ramp_in_tier1": float(np.mean([v in set(watched) for v in ramp])) if ramp else float("nan"),
        "ramp_elevated": len(hot_ramp), "ramp_elevated_in_tier1": float(np.mean([v in set(watched) for v in hot_ramp])) if hot_ramp else float("nan"),
        "campaign_rises": int(t.index[risk_rise].isin(campaign).sum()),
        "campaign_reporting": int(t.index[t["emerging"] & ~risk_rise].isin(campaign).sum()),
        "campaign_in_tier2": int(two.isin(campaign).sum()),
        "watch_precision": float(truth.reindex(watched)["elevated"].mean()),
        "watch_recall": float(truth["elevated"][watched.intersection(truth.index)].sum() / max(truth["elevated"].sum(), 1)),
        "expected_not_elevated_2": float((1 - t.loc[two, "p_now_exceed_1_25"]).sum()),
    }  # fmt: skip


def run_outreach_world(seed: int, kind: str, root, period: str = "2020Q4", budget: int = 20):
    """The risk and priority stages with their defaults on a realistic Taipei
    (:func:`realistic_years`), scored by :func:`outreach_recovery`."""
    from .stages import priority, risk

    s = realistic_years(seed, kind, root, end=period)
    paths = s.period(period)
    features.build(paths)
    risk.run(paths, progress=False)
    priority.run(paths, priority.PriorityParams(budget=budget), progress=False)
    out = {"seed": seed, "kind": kind, **outreach_recovery(s, period, budget)}
    if REALISTIC_KINDS[kind] is None:  # nothing but the reporting changes: every risk rise is false
        out |= false_alarm_runs(s, period)
    return out


def false_alarm_runs(settings: Settings, period: str, quarters: int = 4) -> dict:
    """The early warning of the priority stage run (with its defaults) at each of the last
    ``quarters`` quarters up to ``period`` of a world where no risk changes: runs raising
    a risk-kind rise (a false alarm), and those raising the campaign's reporting change."""
    from .stages import priority
    from .stats.weights import contiguity

    params = priority.PriorityParams()
    paths = settings.period(period)
    villages = public.load_boundaries(settings)
    ids = villages["villcode"].to_numpy()
    panel = pd.read_parquet(paths.village_panel)
    neighbours, _ = contiguity(villages, params.weights, ids="villcode")
    m = priority.neighbourhood_matrix(neighbours, ids)
    units = pd.read_parquet(paths.village_units)
    risk_runs = reporting_runs = 0
    for q in window_periods(period, quarters):
        ew = priority.emerging_at(
            panel, ids, m, str(q), params, units, villages["townname"].to_numpy()
        )
        risk_runs += bool((ew["emerging"] & (ew["rise_kind"] == "risk")).any())
        reporting_runs += bool((ew["emerging"] & (ew["rise_kind"] == "reporting")).any())
    return {"false_alarm_runs": risk_runs, "reporting_runs": reporting_runs, "runs": quarters,
            "false_alarms_per_year": 4.0 * risk_runs / quarters}  # fmt: skip


def lattice_adjacency(k: int):
    """Rook adjacency of a ``k × k`` lattice (a graph for tests and reference panels)."""
    import scipy.sparse as sp

    idx = np.arange(k * k).reshape(k, k)
    rows = np.concatenate([idx[:, :-1].ravel(), idx[:-1].ravel()])
    cols = np.concatenate([idx[:, 1:].ravel(), idx[1:].ravel()])
    a = sp.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(k * k, k * k))
    return ((a + a.T) > 0).astype(float).tocsr()


def spacetime_reference_panel(k: int = 15, quarters: int = 12, seed: int = 2026):
    """The seeded panel the nested-Laplace engine is checked against NUTS on
    (``benchmarks/spacetime_reference.py``): a ``k × k`` lattice over ``quarters`` quarters,
    expected counts 2–15 a quarter, a smooth spatial field plus iid village effects, each
    village's random walk (sd 0.08 a step), a seasonal city level and lognormal noise (sd
    0.2). Returns (counts, expected, adjacency)."""
    rng = np.random.default_rng(seed)
    n = k * k
    a = lattice_adjacency(k)
    smooth = np.linalg.solve(np.diag(np.asarray(a.sum(1)).ravel() + 0.3) - a.toarray(),
                             rng.standard_normal(n))  # fmt: skip
    b = 0.35 * smooth / smooth.std() + 0.2 * rng.standard_normal(n)
    path = np.cumsum(0.08 * rng.standard_normal((n, quarters)), axis=1)
    season = 0.08 * np.cos(2 * np.pi * (np.arange(quarters) - 2) / 4)
    e = rng.uniform(2, 15, (n, 1)) * np.ones((1, quarters))
    eta = season[None] + (b - b.mean())[:, None] + path - path.mean(1, keepdims=True)
    y = rng.poisson(e * np.exp(eta + 0.2 * rng.standard_normal((n, quarters))))
    return y, e, a
