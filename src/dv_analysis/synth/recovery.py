"""Recovery of the synthetic ground truth by the pipeline's statistics: scorers of hotspots,
village risk, the outreach list and the early warning against the recorded truth, and the
runs that fit a world and score it (``benchmarks/validation/``, ``tests/synth/test_recovery.py``;
the numbers are in ``docs/validation.md``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dv_analysis import layers
from dv_analysis.config import (
    RISK_WINDOW_QUARTERS,
    WINDOW_QUARTERS,
    Period,
    Settings,
    window_periods,
)
from dv_analysis.stages import features
from dv_analysis.stats.detection.areas import analyse_areas
from dv_analysis.synth.truth import (
    biased_villages,
    outreach_truth,
    planted_hot,
    planted_villages,
    read_params,
    true_reported_rr,
    truth_sets,
)
from dv_analysis.synth.worlds import REALISTIC_KINDS, planted_years, realistic_years


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
    villages = layers.load_boundaries(settings)
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
    from dv_analysis.synth import neighbours

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
    truth = truth_sets(settings, window_periods(p, window))
    year = truth_sets(settings, window_periods(p, WINDOW_QUARTERS))
    return {
        "period": str(p),
        **scores(flagged, truth),
        "flagged": len(flagged),
        "precision_planted": len(flagged & truth["planted"]) / (len(flagged) or float("nan")),
        "late_found": len(flagged & truth["late"]),
        "late": len(truth["late"]),
        "recall_last_year": scores(flagged, year)["recall"],
    }


def scores(flagged: set, truth: dict[str, set]) -> dict:
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


def run_risk_world(seed: int, strength: float, root, flags: tuple = ()) -> dict:
    """Fit the risk stage with its defaults to a planted Taipei of three years
    (:func:`planted_years`, kept under ``root``) and score it (:func:`risk_recovery`) at
    the stage's flag and, from the same fit, at each of ``flags`` (keys ``precision@0.8``
    and so on)."""
    from dv_analysis.stages import risk

    s = planted_years(seed, strength, root)
    features.build(s.period("2020Q4"))
    out = risk.run(s.period("2020Q4"), progress=False)
    row = {**risk_recovery(s, "2020Q4"), "diagnostics_ok": out.summary["diagnostics"]["ok"]}
    for flag in flags:  # other flag levels from the same fit
        r = risk_recovery(s, "2020Q4", flag=flag)
        for k in (
            "precision",
            "recall",
            "recall_rr1.5",
            "isolated_found",
            "late_found",
            "flagged",
            "recall_last_year",
        ):
            row[f"{k}@{flag:g}"] = r[k]
    return row


def priority_recovery(settings: Settings, period: str, window: int = WINDOW_QUARTERS) -> dict:
    """How well the outreach list matches the synthetic truth (reads ``village_priority``).

    ``precision``: share of villages in tier ≥ 1 whose true relative risk of a reported
    incident exceeds 1; ``recall``: share of planted high-risk villages in tier ≥ 1;
    isolated and late-cluster villages counted on their own (``late_emerging``: late
    villages flagged by the early warning); ``false_alarm_clusters``: connected groups of
    ``emerging`` villages outside every planted cluster that rose.
    """
    from scipy.sparse.csgraph import connected_components

    from dv_analysis.stats.detection.early_warning import neighbourhood_matrix
    from dv_analysis.stats.weights import contiguity

    p = Period.parse(period)
    periods = window_periods(p, window)
    t = pd.read_parquet(settings.period(p).village_priority)
    flagged = set(t.loc[t["tier"] >= 1, "villcode"])
    emerging = set(t.loc[t["emerging"], "villcode"])
    truth = truth_sets(settings, periods)
    villages = layers.load_boundaries(settings)
    neighbours, _ = contiguity(villages, "queen", ids="villcode")
    false = sorted(emerging - truth["rising"])
    m = neighbourhood_matrix(neighbours, false)
    return {
        "period": str(p),
        **scores(flagged, truth),
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
    from dv_analysis.stages import priority, risk

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
        "period": str(p),
        "villages_scored": int(fair.sum()),
        "spearman_now": float(spearmanr(r["rr_now_mean"], last[fair])[0]),
        "spearman_now_year": float(spearmanr(r["rr_now_mean"], year[fair])[0]),
        "spearman_window": float(spearmanr(r["rr_mean"], last[fair])[0]),
        "coverage_now": float(inside.mean()),
        "coverage_now_year": float(
            ((r["rr_now_low"] <= year[fair]) & (year[fair] <= r["rr_now_high"])).mean()
        ),
        "faded": len(faded),
        "faded_p15_over_half": int(
            (risk.loc[risk.index.isin(faded), "p_now_exceed_1_5"] >= 0.5).sum()
        ),
        "faded_in_top": int(ranked.index.isin(faded).sum()),
        "top_truly_high": int((last.reindex(ranked.index) >= 1.5).sum()),
    }


def run_present_world(seed: int, kind: str, root, engine: str = "laplace") -> dict:
    """Fit the risk stage (``engine``) to a realistic Taipei (:func:`realistic_years`) and
    score its present risk (:func:`present_recovery`)."""
    from dv_analysis.stages import risk

    s = realistic_years(seed, kind, root)
    paths = s.period("2020Q4")
    features.build(paths)
    out = risk.run(paths, risk.RiskParams(engine=engine), progress=False)
    return {
        "seed": seed,
        "kind": kind,
        **present_recovery(s, "2020Q4"),
        "diagnostics_ok": out.summary["diagnostics"]["ok"],
        "seconds": out.summary["engine"]["seconds"],
    }


# --- the outreach list on realistic worlds (issue 24) -------------------------------------
#: Naive lists a clerk would make, scored beside the outreach list: (name, quarters, what is
#: ranked: the count, the rate, or the excess O − E at the city's rate over those quarters).
NAIVE_LISTS = (
    ("count_1q", 1, "count"),
    ("count_4q", 4, "count"),
    ("count_12q", 12, "count"),
    ("rate_4q", 4, "rate"),
    ("rate_12q", 12, "rate"),
    ("excess_1q", 1, "excess"),
    ("excess_4q", 4, "excess"),
    ("excess_12q", 12, "excess"),
)


def naive_lists(settings: Settings, period: str, budget: int) -> dict[str, pd.Index]:
    """The first ``budget`` villages of each naive list (:data:`NAIVE_LISTS`)."""
    panel = pd.read_parquet(settings.period(period).village_panel)
    out = {}
    for name, k, kind in NAIVE_LISTS:
        q = [str(p) for p in window_periods(period, k)]
        w = panel[panel["period"].isin(q)].groupby("villcode")[["incidents", "pop_total"]].sum()
        if kind == "rate":
            score = w["incidents"] / w["pop_total"].clip(lower=1)
        elif kind == "excess":  # O − E at the city's rate over the same quarters
            rate = w["incidents"].sum() / max(w["pop_total"].sum(), 1)
            score = w["incidents"] - w["pop_total"] * rate
        else:
            score = w["incidents"]
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
    params = read_params(settings)
    campaign = set((params.get("campaign") or {}).get("villcodes", []))
    best = truth["excess"].sort_values(ascending=False).head(budget).sum()
    two, watched = t.index[t["tier"] == 2], t.index[t["tier"] >= 1]
    faded, ramp = planted_villages(settings, "ended"), planted_villages(settings, "ramp")
    hot_ramp = [v for v in sorted(ramp) if v in truth.index and truth.at[v, "elevated"]]

    def scores(ids) -> dict:
        x = truth.reindex(ids)
        return {
            "precision": float(x["elevated"].mean()),
            "precision_rr15": float((x["rr"] >= 1.5).mean()),
            "excess_captured": float(x["excess"].sum() / best) if best > 0 else float("nan"),
        }

    risk_rise = t["emerging"] & t["rise_kind"].isin(["risk", "one_unit"])
    naive = {name: scores(ids) for name, ids in naive_lists(settings, period, budget).items()}
    best_naive = max(naive, key=lambda n: naive[n]["precision"])
    return {
        "period": str(period),
        **{f"tier2_{k}": v for k, v in scores(two).items()},
        "tier2": len(two),
        "tier1": int((t["tier"] == 1).sum()),
        "best_naive": best_naive,
        **{f"naive_{k}": v for k, v in naive[best_naive].items()},
        **{f"{name}_{k}": x for name, v in naive.items() for k, x in v.items()},
        "naive_excess_captured_max": max(v["excess_captured"] for v in naive.values()),
        "faded_in_tier2": int(two.isin(faded).sum()),
        "faded_not_elevated_in_tier2": int((two.isin(faded) & ~truth.loc[two, "elevated"]).sum()),
        "ramp_in_tier1": float(np.mean([v in set(watched) for v in ramp]))
        if ramp
        else float("nan"),
        "ramp_elevated": len(hot_ramp),
        "ramp_elevated_in_tier1": float(np.mean([v in set(watched) for v in hot_ramp]))
        if hot_ramp
        else float("nan"),
        "campaign_rises": int(t.index[risk_rise].isin(campaign).sum()),
        "campaign_reporting": int(t.index[t["emerging"] & ~risk_rise].isin(campaign).sum()),
        "campaign_in_tier2": int(two.isin(campaign).sum()),
        "watch_precision": float(truth.reindex(watched)["elevated"].mean()),
        "watch_recall": float(
            truth["elevated"][watched.intersection(truth.index)].sum()
            / max(truth["elevated"].sum(), 1)
        ),
        "expected_not_elevated_2": float((1 - t.loc[two, "p_now_exceed_1_5"]).sum()),
    }


def run_outreach_world(seed: int, kind: str, root, period: str = "2020Q4", budget: int = 20):
    """The risk and priority stages with their defaults on a realistic Taipei
    (:func:`realistic_years`), scored by :func:`outreach_recovery`."""
    from dv_analysis.stages import priority, risk

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
    from dv_analysis.stages import priority
    from dv_analysis.stats.weights import contiguity

    params = priority.PriorityParams()
    paths = settings.period(period)
    villages = layers.load_boundaries(settings)
    ids = villages["villcode"].to_numpy()
    panel = pd.read_parquet(paths.village_panel)
    neighbours, _ = contiguity(villages, params.weights, ids="villcode")
    m = priority.neighbourhood_matrix(neighbours, ids)
    units = pd.read_parquet(paths.village_units)
    risk_runs = reporting_runs = 0
    for q in window_periods(period, quarters):
        ew = priority.emerging_at(
            panel, ids, m, str(q), params, units, villages["towncode"].to_numpy()
        )
        risk_runs += bool((ew["emerging"] & ew["rise_kind"].isin(["risk", "one_unit"])).any())
        reporting_runs += bool((ew["emerging"] & (ew["rise_kind"] == "reporting")).any())
    return {
        "false_alarm_runs": risk_runs,
        "reporting_runs": reporting_runs,
        "runs": quarters,
        "false_alarms_per_year": 4.0 * risk_runs / quarters,
    }
