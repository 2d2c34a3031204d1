"""Stage of ``04b_priority``: one outreach list per quarter, ranked, explained and backtested.

Reads the period's village risk (the space-time model of 03b), panel, accessibility, blind
spots and hot spots; writes ``early_warning.parquet`` (the Poisson CUSUM of every
village's neighbourhood), ``backtest.parquet`` (every ranking's scores at every rolling
origin), ``village_priority.parquet`` (rank, tier, reasons and the numbers behind them) and
``priority_summary.json``.

The list's order (docs/priority.md) is one of the space-time model's rankings: by default
next quarter's excess incidents at their 5 % limit (``excess_low``), chosen on realistic
synthetic worlds against the naive lists a clerk would make (docs/validation.md); the
backtest then chooses among the model's rankings on its earlier origins by the excess
incidents captured and scores every ranking, the naive ones included, on the later ones.

Tiers:

* **2 優先關注**: the first ``budget`` villages of the list whose present risk is at least
  half again the city's with probability ≥ ``tier2_probability`` (P(RR now > 1.5)), unless
  their risk is falling (trend 下降: they get that reason and go to tier 1);
* **1 留意**: at most ``watch_size`` villages: first those rising in an alarmed
  neighbourhood with their own counts (early warning), including a rise that comes mostly
  through one reporting unit (上升，主要經由警政通報: police see most of an intimate-partner
  rise), then in the list's order those with P(RR now > 1) ≥ ``watch_probability`` or
  falling from tier 2. A rise that vanishes once its district's reporting changes are taken
  out (a campaign, a new form) is labelled 通報來源變化 and puts the village in no tier by
  itself;
* **0 一般**: the rest. Villages that may be under-reported keep their tier and carry the
  reason 可能低報: they need a visit to find cases, which the numbers cannot show.

Each tier states how many of its villages are expected not to be elevated: Σ(1 − p).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from dv_analysis import layers, workers
from dv_analysis.config import RISK_WINDOW_QUARTERS, PeriodPaths
from dv_analysis.pages import labels as L
from dv_analysis.stages import params as check
from dv_analysis.stages import risk as risk_stage
from dv_analysis.stages.rises import (  # noqa: F401 (the early warning's, read from here too)
    alarm_alpha,
    emerging_at,
    panel_arrays,
    reporting_table,
    unit_arrays,
)
from dv_analysis.stats.backtest import nested_selection, score_rankings
from dv_analysis.stats.detection.early_warning import neighbourhood_matrix
from dv_analysis.stats.rates import eb_rate, poisson_ratio_interval
from dv_analysis.stats.weights import contiguity

#: Naive lists a clerk would make (from the panel up to the origin): counts and rates over
#: the last 1, 4 and 12 quarters, and the empirical-Bayes rate over 12.
NAIVE_RANKINGS: tuple[str, ...] = (
    "count_1q",
    "count_4q",
    "count_12q",
    "rate_1q",
    "rate_4q",
    "rate_12q",
    "eb_rate_12q",
    "excess_4q",
    "excess_12q",
    "eb_excess_12q",
)
#: Rankings of the space-time model's outputs; the default is one of these.
MODEL_RANKINGS: tuple[str, ...] = ("excess_low", "excess_mean", "p_now_1_25", "rr_now")
RANKINGS = NAIVE_RANKINGS + MODEL_RANKINGS
#: The ranking when the backtest cannot choose (too short a panel): the one that captured
#: the most true excess on the realistic worlds (docs/validation.md).
DEFAULT_RANKING = "excess_low"
#: Metrics of the backtest; the default is chosen by the first.
METRICS = ("excess_capture", "hit_rate", "pai", "pei")


@dataclass(frozen=True)
class PriorityParams:
    """Settings of the priority stage (the ``parameters`` cell of ``04b_priority``)."""

    budget: int = 20  # villages outreach can visit in a quarter (tier 2 holds at most this many)
    tier2_probability: float = 0.7  # P(RR now > 1.5) a tier-2 village must reach
    watch_probability: float = 0.8  # P(RR now > 1) from which a village may be watched (tier 1)
    watch_size: int = 40  # villages of tier 1 at most (about twice the budget)
    risk_window: int = RISK_WINDOW_QUARTERS  # quarters of counts the risk model reads (as 03b)
    baseline: int = 8  # quarters of each village's own baseline for the early warning
    monitor: int = 4  # latest quarters the early warning watches
    rise: float = 1.5  # rise the early warning is tuned to (× the village's baseline)
    false_alarm_years: float = (
        5.0  # years of quarterly runs per false alarm in the city (on average)
    )
    alarm_simulations: int = 1999  # replicates under "no change" for the alarm threshold
    backtest_quarters: int = 8  # rolling origins of the backtest (latest quarters)
    backtest_draws: int = 1000  # posterior draws of the space-time fits at the origins
    weights: str = "queen"  # adjacency (as 02–04)
    seed: int = 42  # seed of the simulations, fits and bootstrap

    def __post_init__(self):
        check.at_least("budget", self.budget, 1)
        check.between("watch_probability", self.watch_probability, 0, 1)
        check.at_least("watch_size", self.watch_size, 0)
        check.at_least("risk_window", self.risk_window, 2)
        check.at_least("baseline", self.baseline, 1)
        check.at_least("monitor", self.monitor, 1)
        check.above("rise", self.rise, 1)
        check.above("false_alarm_years", self.false_alarm_years, 0)
        check.at_least("alarm_simulations", self.alarm_simulations, 1)
        check.at_least("backtest_quarters", self.backtest_quarters, 0)
        check.at_least("backtest_draws", self.backtest_draws, 1)
        check.weights(self.weights)


@dataclass
class PriorityOutputs:
    table: pd.DataFrame  # village_priority
    early: pd.DataFrame  # early_warning
    backtest: pd.DataFrame
    comparison: pd.DataFrame  # nested_selection() at k = budget
    summary: dict
    reporting: pd.DataFrame  # reporting_changes: district × unit × monitored quarter


# --- rankings ----------------------------------------------------------------------------
def naive_scores(panel: pd.DataFrame, ids, upto: str) -> dict[str, np.ndarray]:
    """The naive lists of :data:`NAIVE_RANKINGS` with the panel's quarters up to ``upto``."""
    periods = [p for p in sorted(panel["period"].unique()) if p <= upto][-12:]
    counts, pop = panel_arrays(panel, ids, periods)
    out = {}
    for k in (1, 4, 12):
        c, n = counts[-k:].sum(0), pop[-k:].sum(0)
        out[f"count_{k}q"] = c
        out[f"rate_{k}q"] = np.where(n > 0, c / np.maximum(n, 1), np.nan)
    out["eb_rate_12q"] = eb_rate(counts.sum(0), pop.sum(0))
    # a clerk's excess: observed − expected at the city's rate over the same quarters (O − E)
    for k in (4, 12):
        c, n = counts[-k:].sum(0), pop[-k:].sum(0)
        out[f"excess_{k}q"] = c - n * c.sum() / max(n.sum(), 1)
    c, n = counts.sum(0), pop.sum(0)
    out["eb_excess_12q"] = n * (np.nan_to_num(out["eb_rate_12q"]) - c.sum() / max(n.sum(), 1))
    return {k: out[k] for k in NAIVE_RANKINGS}


def model_scores(risk: pd.DataFrame) -> dict[str, np.ndarray]:
    """The rankings of :data:`MODEL_RANKINGS` from a space-time village table (NaN for
    villages the model did not fit: last in every list)."""
    rr = risk["rr_now_mean"].to_numpy(float)
    return {
        "excess_low": risk["excess_next_low"].to_numpy(float),
        "excess_mean": risk["excess_next_mean"].to_numpy(float),
        "p_now_1_25": risk["p_now_exceed_1_25"].to_numpy(float) + 1e-6 * np.nan_to_num(rr),
        "rr_now": rr,
    }


def _origin_params(params: PriorityParams) -> risk_stage.RiskParams:
    return risk_stage.RiskParams(
        risk_window=params.risk_window,
        weights=params.weights,
        strategy="eb",
        posterior_draws=params.backtest_draws,
        seed=params.seed,
    )


def origin_risk(paths: PeriodPaths, panel, villages, origin: str, params: PriorityParams):
    """The space-time model with data up to ``origin`` only (θ at its mode, R-INLA's "eb":
    a ranking to score, not numbers staff read), kept by content in the fit cache so that
    the next quarter's run reads all but one origin back. None with fewer than 2 quarters."""
    wp = risk_stage.panel_window(panel, villages, origin, "incidents", params.risk_window)
    if len(wp.quarters) < 2:
        return None
    return risk_stage.fit_window(paths, wp, _origin_params(params))[0]


def _fit_origins(paths: PeriodPaths, panel, villages, origins, params: PriorityParams) -> None:
    for origin in origins:
        origin_risk(paths, panel, villages, origin, params)


def prefit_origins(paths: PeriodPaths, panel, villages, origins, params: PriorityParams):
    """Fit the origins whose fits are not kept yet, so that the backtest then reads every
    one back. One city: when three or more are missing (a first run: the next quarter
    misses one), half of them in a forked child on the other core
    (:func:`dv_analysis.workers.beside`). All of Taiwan: every missing origin's counties in
    one pool on every core (:func:`_prefit_counties`). Returns how many origins were
    fitted and whether the work was shared among cores."""
    if paths.settings.city == "all":
        return _prefit_counties(paths, panel, villages, origins, params)
    rp = _origin_params(params)

    def missing(origin: str) -> bool:
        wp = risk_stage.panel_window(panel, villages, origin, "incidents", params.risk_window)
        return len(wp.quarters) >= 2 and not risk_stage.window_kept(paths, wp, rp)

    todo = [o for o in origins if missing(o)]
    if len(todo) < 3:
        return len(todo), False
    with workers.beside(_fit_origins, paths, panel, villages, todo[1::2], params) as forked:
        _fit_origins(paths, panel, villages, todo[0::2] if forked else todo, params)
    return len(todo), forked


def _prefit_counties(paths: PeriodPaths, panel, villages, origins, params: PriorityParams):
    """All of Taiwan: the county fits of every origin not kept yet, in one pool (one origin
    after the other left a core idle at the end of each and started a pool for each)."""
    rp = _origin_params(params)
    jobs, fitted = [], set()
    for origin in origins:
        wp = risk_stage.panel_window(panel, villages, origin, "incidents", params.risk_window)
        if len(wp.quarters) < 2:
            continue
        args, _ = risk_stage.window_args(wp, rp)
        for job in risk_stage.county_jobs(*args, prefix=f"{origin}/"):
            if not risk_stage.job_kept(paths, job, rp):
                jobs.append(job)
                fitted.add(origin)
    if jobs:
        risk_stage.run_county_jobs(paths, jobs, rp, keep=False)
    return len(fitted), bool(jobs)


def backtest(
    paths: PeriodPaths, panel, villages, params: PriorityParams, progress=True
) -> tuple[pd.DataFrame, dict]:
    """Rolling origin: for each of the latest quarters ``t`` (the period included), rank the
    villages with data up to ``t − 1`` only and score against ``t``'s incidents
    (:func:`dv_analysis.stats.backtest.score_rankings`: hit rate, PAI by population, PEI,
    excess capture against the expected counts known at the origin). Returns the scores and
    the forecast's coverage at the same origins (:func:`_coverage`)."""
    ids = villages["villcode"].to_numpy()
    periods = sorted(p for p in panel["period"].unique() if p <= str(paths.period))
    targets = periods[4:][-params.backtest_quarters :] if params.backtest_quarters > 0 else []
    origins = [periods[periods.index(t) - 1] for t in targets]
    fitted, forked = prefit_origins(paths, panel, villages, origins, params)
    if forked and progress:
        print(f"  backtest: {fitted} new origin fits made on two cores", flush=True)
    rows, held = [], {}
    for i, (t, origin) in enumerate(zip(targets, origins, strict=True), 1):
        if progress:
            print(
                f"  backtest {i}/{len(targets)}: rank with data to {origin}, score {t}", flush=True
            )
        scores = naive_scores(panel, ids, origin)
        last, pop = (a[0] for a in panel_arrays(panel, ids, [origin]))
        expected = pop * last.sum() / max(pop.sum(), 1)  # the city's rate, no model
        risk = origin_risk(paths, panel, villages, origin, params)
        outcome = panel_arrays(panel, ids, [t])[0][0]
        if risk is not None:
            scores |= model_scores(risk)
            expected = risk["expected_next"].fillna(0).to_numpy(float)
            held[t] = _held(risk, outcome)
        ks = sorted({10, 20, 50, params.budget})
        rows.append(
            score_rankings(scores, outcome, pop, expected, ks).assign(origin=origin, target=t)
        )
    columns = ["origin", "target", "ranking", "k", *METRICS]
    table = pd.concat(rows, ignore_index=True)[columns] if rows else pd.DataFrame(columns=columns)
    return table, _coverage(held)


def _held(risk: pd.DataFrame, outcome: np.ndarray) -> tuple[int, int]:
    """Villages whose next quarter fell inside the origin fit's 90 % predictive interval, and
    villages fitted."""
    fitted = risk["next_low"].notna().to_numpy()
    inside = (outcome >= risk["next_low"]) & (outcome <= risk["next_high"])
    return int(inside[fitted].sum()), int(fitted.sum())


def _coverage(held: dict) -> dict:
    """How often the 90 % predictive interval of each origin's fit held the next quarter's
    incidents: per target quarter and over all, on the villages the model fitted."""
    per = {t: round(k / max(n, 1), 4) for t, (k, n) in held.items()}
    k, n = (sum(v[i] for v in held.values()) for i in (0, 1))
    return {"level": 0.9, "per_target": per, "overall": round(k / n, 4) if n else None}


def choose_default(bt: pd.DataFrame, params: PriorityParams):
    """The list's ranking, chosen among the model's on the backtest's earlier origins and
    scored on its later ones (:func:`~dv_analysis.stats.backtest.nested_selection`);
    :data:`DEFAULT_RANKING` and no comparison when there is nothing to backtest."""
    have = set(bt["ranking"]) if len(bt) else set()
    if not have & set(MODEL_RANKINGS):
        return DEFAULT_RANKING, pd.DataFrame()
    return nested_selection(bt, params.budget, MODEL_RANKINGS, METRICS[0], seed=params.seed)


# --- the list ------------------------------------------------------------------------------
def own_rise(early: pd.DataFrame) -> pd.DataFrame:
    """Each village's own observed/expected since its onset (against its own baseline), with
    a 90 % interval: what a village in an alarmed neighbourhood shows, instead of the
    window's strength."""
    o, e = early["own_observed"].to_numpy(float), early["own_expected"].to_numpy(float)
    ok = np.isfinite(o) & (e > 0)
    ratio, lo, hi = poisson_ratio_interval(np.where(ok, o, 0), np.where(ok, e, 1))
    return pd.DataFrame(
        {
            "own_oe": np.where(ok, ratio, np.nan),
            "own_oe_low": np.where(ok, lo, np.nan),
            "own_oe_high": np.where(ok, hi, np.nan),
        }
    )


def assign_tiers(t: pd.DataFrame, params: PriorityParams) -> np.ndarray:
    """Tiers of the module docstring, in the list's order (``rank``)."""
    order = t.sort_values("rank").index
    p15 = t["p_now_exceed_1_5"].fillna(0) >= params.tier2_probability
    falling = (t["trend"] == L.TREND_LABELS["falling"]) & p15
    rise = t["emerging"] & t["rise_kind"].isin(["risk", "one_unit"])
    watch = (t["p_now_exceed_1"].fillna(0) >= params.watch_probability) | falling
    tier = pd.Series(0, index=t.index)
    tier[[i for i in order if p15[i] and not falling[i]][: params.budget]] = 2
    # a rise of its own first (the early warning's point), then the others in the list's order
    first = [i for i in order if rise[i] and tier[i] == 0]
    rest = [i for i in order if watch[i] and not rise[i] and tier[i] == 0]
    tier[(first + rest)[: params.watch_size]] = 1
    return tier.to_numpy()


def _reasons(row, params: PriorityParams) -> str:
    """The plain-language reasons of one village (zh-TW, from the vocabulary): what sets it
    apart, in words, each once: its present risk clearly or likely above the city's (the
    numbers are in the next columns), its direction, an alarmed neighbourhood with the
    village's own rise or a reporting change, hard to reach, possibly under-reported."""
    out = []
    if row["p_now_exceed_1_25"] >= params.watch_probability:
        out.append(L.REASONS["risk_clear"])
    elif row.get("p_now_exceed_1", 0) >= params.watch_probability:
        out.append(L.REASONS["risk_likely"])
    if row["trend"] == L.TREND_LABELS["rising"]:
        out.append(L.REASONS["rising"].format(p=L.percent(row["p_rising"])))
    elif row["trend"] == L.TREND_LABELS["falling"] and row["tier"] == 1:
        out.append(L.REASONS["falling"].format(p=L.percent(row["p_rising"])))
    if row["emerging"] and row["rise_kind"] == "reporting":
        out.append(L.REASONS["reporting"].format(onset=row["onset"], unit=row["rise_unit"]))
    elif row["emerging"] and np.isfinite(row["own_oe"]):
        key = "one_unit" if row["rise_kind"] == "one_unit" else "emerging"
        out.append(
            L.REASONS[key].format(
                onset=row["onset"],
                unit=row["rise_unit"],
                oe=row["own_oe"],
                lo=row["own_oe_low"],
                hi=row["own_oe_high"],
            )
        )
    if row["hard_to_reach"]:
        out.append(L.REASONS["hard_to_reach"])
    if row["under_reporting"]:
        out.append(L.REASONS["under_reporting"])
    return "；".join(out)


def _optional(path, columns: list[str], ids) -> pd.DataFrame:
    """Columns of an optional table of the period, by villcode (missing: NaN/False)."""
    if not path.exists():
        return pd.DataFrame({"villcode": ids}).assign(**{c: np.nan for c in columns})
    t = pd.read_parquet(path)
    return pd.DataFrame({"villcode": ids}).merge(
        t[["villcode", *columns]], on="villcode", how="left"
    )


#: Columns of the space-time village table the list carries.
RISK_COLUMNS = [
    "observed",
    "expected",
    "rr_now_mean",
    "rr_now_low",
    "rr_now_high",
    "p_now_exceed_1",
    "p_now_exceed_1_25",
    "p_now_exceed_1_5",
    "p_rising",
    "trend",
    "expected_next",
    "excess_next_mean",
    "excess_next_low",
    "excess_next_high",
    "next_mean",
    "next_low",
    "next_high",
]


def _context(paths: PeriodPaths, t: pd.DataFrame, ids) -> pd.DataFrame:
    """Reach of services, possible under-reporting and hot spots (optional tables)."""
    acc = _optional(paths.accessibility, ["access_index", "hard_to_reach"], ids)
    blind = _optional(paths.blind_spots, ["blind_spot"], ids)
    hot = _optional(paths.hotspots, ["gi_bin"], ids)
    t["access_index"] = acc["access_index"].to_numpy()
    t["hard_to_reach"] = acc["hard_to_reach"].fillna(0).astype(bool).to_numpy()
    t["under_reporting"] = blind["blind_spot"].fillna(0).astype(bool).to_numpy()
    t["hotspot"] = (hot["gi_bin"].fillna(0) > 0).to_numpy()
    return t


def priority_table(paths, villages, risk, early, default: str, params) -> pd.DataFrame:
    """One row per village: rank by the default ranking, tier, reasons and their numbers."""
    ids = villages["villcode"].to_numpy()
    t = pd.DataFrame(
        {
            "villcode": ids,
            "townname": villages["townname"].to_numpy(),
            "villname": villages["villname"].to_numpy(),
        }
    )
    t = t.merge(risk[["villcode", *RISK_COLUMNS]], on="villcode", how="left")
    ew = early[["villcode", "emerging", "rise_kind", "rise_unit", "onset"]].reset_index(drop=True)
    t = t.merge(
        pd.concat([ew, own_rise(early).reset_index(drop=True)], axis=1), on="villcode", how="left"
    )
    t["emerging"] = t["emerging"].fillna(0).astype(bool)
    t = _context(paths, t, ids)
    t["score"] = model_scores(t)[default]
    order = np.argsort(-np.where(np.isfinite(t["score"]), t["score"], -np.inf), kind="stable")
    t["rank"] = 0
    t.loc[t.index[order], "rank"] = np.arange(1, len(t) + 1)
    t["tier"] = assign_tiers(t, params)
    t["tier_label"] = t["tier"].map(L.TIER_LABELS)
    higher = t["p_now_exceed_1_5"].fillna(0) >= params.tier2_probability
    t["quadrant"] = [
        L.QUADRANTS[(bool(h), bool(r))] for h, r in zip(higher, t["hard_to_reach"], strict=True)
    ]
    t["reasons"] = [_reasons(r, params) for _, r in t.iterrows()]
    return t.sort_values("rank").reset_index(drop=True)


def run(
    paths: PeriodPaths, params: PriorityParams = PriorityParams(), progress: bool = True
) -> PriorityOutputs:
    """The early warning, the backtest and the outreach list of the period; written to disk."""
    villages = layers.load_boundaries(paths.settings)
    ids = villages["villcode"].to_numpy()
    panel = pd.read_parquet(paths.village_panel)
    neighbours, _ = contiguity(villages, params.weights, ids="villcode")
    m = neighbourhood_matrix(neighbours, ids)
    bt, coverage = backtest(paths, panel, villages, params, progress)
    default, comparison = choose_default(bt, params)
    units = pd.read_parquet(paths.village_units) if paths.village_units.exists() else None
    districts = villages["towncode"].to_numpy()  # names repeat across counties (中正區)
    early = emerging_at(panel, ids, m, str(paths.period), params, units, districts)
    shares = reporting_table(panel, units, villages, str(paths.period), params, paths.settings.city)
    risk = pd.DataFrame({"villcode": ids}).merge(
        pd.read_parquet(paths.village_risk), on="villcode", how="left"
    )
    table = priority_table(paths, villages, risk, early, default, params)
    early.to_parquet(paths.early_warning, index=False)
    shares.to_parquet(paths.reporting_changes, index=False)
    bt.to_parquet(paths.backtest, index=False)
    table.to_parquet(paths.village_priority, index=False)
    summary = _summary(paths, params, table, early, comparison, default)
    risk_summary = json.loads(paths.risk_summary.read_text(encoding="utf-8"))
    summary["risk_model_diagnostics"] = risk_summary["diagnostics"]  # its miss warns on 04b too
    summary["forecast_coverage"] = coverage
    changed = shares[shares["changed"]]
    summary["district_reporting_changes"] = [
        {
            "district": r.district,
            "unit": r.unit,
            "period": r.period,
            "ratio": round(r.observed / r.predicted, 2) if r.predicted > 0 else None,
        }
        for r in changed.itertuples()
    ]
    paths.priority_summary.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")
    return PriorityOutputs(table, early, bt, comparison, summary, shares)


def _summary(paths, params, table, early, comparison, default) -> dict:
    rows = {}
    for r in comparison.to_dict("records"):
        rows[r.pop("ranking")] = {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
    p_miss = {2: 1 - table["p_now_exceed_1_5"], 1: 1 - table["p_now_exceed_1"]}
    return {
        "period": str(paths.period),
        "parameters": asdict(params),
        "default_ranking": default,
        "chosen_by": "backtest" if len(comparison) else "validation",
        "rankings": rows,
        "tiers": {int(k): int(v) for k, v in table["tier"].value_counts().items()},
        # how many villages of each tier are expected not to be elevated: Σ(1 − p)
        "expected_not_elevated": {
            k: round(float(p_miss[k][table["tier"] == k].fillna(1).sum()), 1) for k in (2, 1)
        },
        "falling_held_back": int(
            (
                (table["tier"] == 1)
                & (table["trend"] == L.TREND_LABELS["falling"])
                & (table["p_now_exceed_1_5"] >= params.tier2_probability)
            ).sum()
        ),
        # rises of risk, those through one unit included (reporting changes are not rises)
        "emerging": int((early["emerging"] & early["rise_kind"].isin(["risk", "one_unit"])).sum()),
        "reporting_changes": int((early["emerging"] & (early["rise_kind"] == "reporting")).sum()),
        "one_unit_rises": int((early["emerging"] & (early["rise_kind"] == "one_unit")).sum()),
        "early_warning_available": bool(early["available"].all()),
        "false_alarm_chance_per_run": alarm_alpha(params),  # city-wide, under no change
        "under_reporting": int(table["under_reporting"].sum()),
    }
