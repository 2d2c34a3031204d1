"""Stage of ``04b_priority``: one outreach list per quarter, ranked, explained and backtested.

Reads the period's village risk (BYM2), panel, accessibility, blind spots and hot spots;
writes ``early_warning.parquet`` (the Poisson CUSUM of every village's neighbourhood),
``backtest.parquet`` (hit rate and PAI of every ranking at every rolling origin),
``village_priority.parquet`` (rank, tier, reasons and the numbers behind them) and
``priority_summary.json``.

Tiers (docs/priority.md):

* **2 優先關注**: higher risk (P(RR > 1) ≥ ``flag_probability``) or a new rise (early
  warning), and among the first ``budget`` such villages in the list's order;
* **1 留意**: the other villages with higher risk or a new rise, and those with
  P(RR > 1) ≥ ``watch_probability`` (a wider net: docs/priority.md has the trade-off);
* **0 一般**: the rest. Villages that may be under-reported keep their tier and carry the
  reason 可能低報: they need a visit to find cases, which the numbers cannot show.

The list's order is the ranking that won the backtest (mean hit rate of the top
``budget`` villages over the rolling origins), higher-risk and rising villages first.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .. import public
from ..config import (
    RISK_WINDOW_QUARTERS,
    WINDOW_QUARTERS,
    Period,
    PeriodPaths,
    cache_dir,
    window_periods,
)
from ..pages import labels as L
from ..stats import bym2 as bym2_module
from ..stats import early_warning as early_warning_module
from ..stats.backtest import compare, score_rankings
from ..stats.bym2 import enable_compilation_cache
from ..stats.early_warning import early_warning, neighbourhood_matrix
from ..stats.local import local_statistics
from ..stats.models import gbm_next_counts
from ..stats.rates import eb_rate
from ..stats.weights import build_weights, contiguity
from .cache import code_digest, keyed_table
from .risk import RiskParams, _fit, _fit_by_county

#: Rankings compared by the backtest (scores computed from data up to the origin only).
RANKINGS: tuple[str, ...] = (
    "last_quarter",  # last quarter's incidents
    "eb_rate_4q",  # empirical-Bayes rate over the last four quarters
    "gi_z",  # Gi* z of that rate
    "bym2_rr",  # BYM2 posterior mean relative risk
    "bym2_p",  # BYM2 P(RR > 1)
    "bym2_count",  # BYM2 posterior mean incidents per quarter (rr × expected)
    "priority",  # flagged villages first (higher risk or rising), then bym2_count × rise
    "gbm",  # gradient-boosting prediction of next quarter's incidents (lags, population)
)
BASELINE_RANKING = "last_quarter"


@dataclass(frozen=True)
class PriorityParams:
    """Settings of the priority stage (the ``parameters`` cell of ``04b_priority``)."""

    budget: int = 20  # villages outreach can visit in a quarter (tier 2 holds at most this many)
    flag_probability: float = 0.9  # P(RR > 1) from which a village counts as higher risk
    watch_probability: float = 0.8  # P(RR > 1) from which a village is watched (tier 1)
    window: int = WINDOW_QUARTERS  # quarters of the rolling window of rates and Gi* (as 02 and 03)
    risk_window: int = RISK_WINDOW_QUARTERS  # quarters of counts the risk model reads (as 03b)
    baseline: int = 8  # quarters of each village's own baseline for the early warning
    monitor: int = 4  # latest quarters the early warning watches
    rise: float = 1.5  # rise the early warning is tuned to (× the village's baseline)
    alarm_alpha: float = 0.002  # false-alarm probability per neighbourhood and run
    alarm_simulations: int = 1999  # replicates under "no change" for the alarm threshold
    backtest_quarters: int = 8  # rolling origins of the backtest (latest quarters)
    backtest_chains: int = 2  # NUTS chains of the backtest's BYM2 fits (rankings only)
    backtest_draws: int = 300  # warm-up and kept draws per chain of those fits
    weights: str = "queen"  # adjacency (as 02–04)
    seed: int = 42  # seed of the simulations and samplers


@dataclass
class PriorityOutputs:
    table: pd.DataFrame  # village_priority
    early: pd.DataFrame  # early_warning
    backtest: pd.DataFrame
    comparison: pd.DataFrame  # compare() at k = budget
    summary: dict


# --- inputs ------------------------------------------------------------------------------
def panel_arrays(panel: pd.DataFrame, ids, periods) -> tuple[np.ndarray, np.ndarray]:
    """``(T, n)`` incidents and populations of ``periods`` (rows) and ``ids`` (columns)."""
    c = panel.pivot(index="period", columns="villcode", values="incidents")
    p = panel.pivot(index="period", columns="villcode", values="pop_total")
    return (
        c.reindex(index=periods, columns=ids).fillna(0).to_numpy(float),
        p.reindex(index=periods, columns=ids).fillna(0).to_numpy(float),
    )


def emerging_at(panel, ids, neighbourhoods, upto: str, params: PriorityParams) -> pd.DataFrame:
    """The early warning with data up to quarter ``upto``: villcode, emerging, onset (quarter),
    strength, p_value, alarm. Shorter panels shrink the baseline (at least 4 quarters);
    with fewer, nobody is flagged and ``available`` is False."""
    periods = [p for p in sorted(panel["period"].unique()) if p <= upto]
    periods = periods[-(params.baseline + params.monitor) :]
    baseline = len(periods) - params.monitor
    out = pd.DataFrame({"villcode": ids})
    if baseline < 4:
        return out.assign(emerging=False, alarm=False, onset=None, strength=np.nan,
                          p_value=np.nan, available=False)  # fmt: skip
    counts, pop = panel_arrays(panel, ids, periods)
    seed = params.seed + Period.parse(upto).ordinal()
    ew = early_warning(counts, pop, neighbourhoods, baseline=baseline, k=params.rise,
                       alpha=params.alarm_alpha, simulations=params.alarm_simulations, seed=seed)  # fmt: skip
    monitored = periods[baseline:]
    ew["onset"] = [monitored[o] if o >= 0 else None for o in ew["onset"]]
    return pd.concat([out, ew], axis=1).assign(available=True)


def emerging_cached(paths: PeriodPaths, panel, ids, neighbourhoods, params: PriorityParams):
    """:func:`emerging_at` for the quarter of ``paths``, read back from that quarter's clean
    folder (:func:`.cache.keyed_table`) while its inputs are unchanged:
    the panel up to the quarter, the neighbourhoods and the early-warning settings."""
    upto = str(paths.period)
    rows = panel[panel["period"] <= upto]
    h = hashlib.sha256(
        f"early-warning 1|{upto}|{params.baseline}|{params.monitor}|{params.rise}|"
        f"{params.alarm_alpha}|{params.alarm_simulations}|{params.seed}|".encode()
    )
    h.update(code_digest(early_warning_module, emerging_at, panel_arrays))
    h.update("|".join(map(str, ids)).encode())
    h.update(
        pd.util.hash_pandas_object(
            rows[["villcode", "period", "incidents", "pop_total"]], index=False
        )
        .to_numpy()
        .tobytes()
    )
    h.update(
        np.ascontiguousarray(neighbourhoods.indices).tobytes()
        + np.ascontiguousarray(neighbourhoods.indptr).tobytes()
    )
    return keyed_table(
        paths.early_warning_backtest, h.hexdigest(),
        lambda: emerging_at(panel, ids, neighbourhoods, upto, params),
    )[0]  # fmt: skip


def _window(panel, ids, upto: str, window: int):
    """Counts and person-quarters summed over the ``window`` quarters ending with ``upto``
    (those in the panel, as 02 and 03b read them), ``upto``'s counts, and how many quarters."""
    wanted = {str(q) for q in window_periods(upto, window)}
    periods = [p for p in sorted(panel["period"].unique()) if p in wanted]
    counts, pop = panel_arrays(panel, ids, periods)
    return counts.sum(axis=0), pop.sum(axis=0), counts[-1], len(periods)


# --- BYM2 at a backtest origin, read back while its inputs are unchanged --------------------
def _fit_key(observed, expected, ids, params: PriorityParams) -> str:
    h = hashlib.sha256(
        f"bym2-backtest 1|{params.weights}|{params.backtest_chains}|{params.backtest_draws}|"
        f"{params.seed}|".encode()
    )
    h.update(code_digest(bym2_module, _fit, _fit_window))
    h.update("|".join(map(str, ids)).encode())
    h.update(np.ascontiguousarray(observed, float).tobytes())
    h.update(np.ascontiguousarray(expected, float).tobytes())
    return h.hexdigest()


def risk_at(paths: PeriodPaths, villages, observed, person_quarters, params: PriorityParams):
    """BYM2 rr_mean and p_exceed_1 of a window (shorter chains: rankings only), cached in the
    origin quarter's clean folder by content (:func:`.cache.keyed_table`)."""
    ids = villages["villcode"].to_numpy()
    fit = person_quarters > 0
    expected = np.where(fit, person_quarters * observed.sum() / person_quarters.sum(), 0)
    return keyed_table(
        paths.risk_backtest, _fit_key(observed, expected, ids, params),
        lambda: _fit_window(paths, villages, observed, expected, fit, params),
    )[0]  # fmt: skip


def _fit_window(paths, villages, observed, expected, fit, params: PriorityParams):
    """BYM2 of one window with the backtest's shorter chains (county by county for Taiwan)."""
    ids = villages["villcode"].to_numpy()
    enable_compilation_cache(cache_dir() / "jax")
    rp = RiskParams(weights=params.weights, chains=params.backtest_chains,
                    warmup=params.backtest_draws, draws=params.backtest_draws, seed=params.seed,
                    extend=False)  # a ranking to score, not numbers staff read  # fmt: skip
    gf = villages[fit].assign(observed=observed[fit]).reset_index(drop=True)
    if paths.settings.city == "all":  # county by county, as the risk stage
        # the window is kept whole by keyed_table: no county-by-county copy in the fit cache
        areas, _ = _fit_by_county(paths, gf, expected[fit], rp, progress=False, cache=False)
    else:
        areas = _fit(gf, expected[fit], rp).areas
    return pd.DataFrame({"villcode": ids}).merge(
        areas.rename(columns={"id": "villcode"})[["villcode", "expected", "rr_mean", "p_exceed_1"]],
        on="villcode", how="left",
    )  # fmt: skip


# --- rankings ----------------------------------------------------------------------------
def gbm_at(panel, ids, upto: str, params: PriorityParams) -> np.ndarray | None:
    """Gradient-boosting prediction of each village's incidents in the quarter after ``upto``,
    trained on the panel's quarters up to ``upto`` only (None with too short a history)."""
    periods = [p for p in sorted(panel["period"].unique()) if p <= upto]
    counts, pop = panel_arrays(panel, ids, periods)
    return gbm_next_counts(counts, np.log(np.clip(pop, 1, None)), seed=params.seed)


def rankings(
    last_q, window_counts, window_pq, risk, risk_quarters, early, w, params, gbm=None
) -> dict[str, np.ndarray]:
    """The scores of every ranking in :data:`RANKINGS` (higher = visit first); ``gbm`` is
    left out when its prediction is None (too short a history). ``risk`` is the BYM2 fit of
    a window of ``risk_quarters`` quarters (its expected counts are for the whole window)."""
    rate = eb_rate(window_counts, window_pq)
    gi = local_statistics(rate, w, np.arange(len(rate)), permutations=0)["gi_z"].to_numpy()
    per_quarter = risk["expected"].fillna(0).to_numpy() / risk_quarters
    count = risk["rr_mean"].fillna(0).to_numpy() * per_quarter
    rise = np.where(early["emerging"], early["strength"].fillna(1).clip(lower=1), 1.0)
    flagged = (risk["p_exceed_1"].fillna(0).to_numpy() >= params.flag_probability) | early[
        "emerging"
    ].to_numpy(bool)
    boosted = count * rise
    out = {
        "last_quarter": last_q,
        "eb_rate_4q": rate,
        "gi_z": gi,
        "bym2_rr": risk["rr_mean"].to_numpy(),
        "bym2_p": risk["p_exceed_1"].to_numpy(),
        "bym2_count": count,
        "priority": boosted + np.where(flagged, boosted.max() + 1, 0),
    }
    if gbm is not None:
        out["gbm"] = np.asarray(gbm, float)
    return out


def backtest(paths: PeriodPaths, panel, villages, neighbourhoods, w, params, progress=True):
    """Rolling origin: for each of the latest quarters ``t`` (the period included), rank the
    villages with data up to ``t − 1`` only and score against ``t``'s incidents."""
    ids = villages["villcode"].to_numpy()
    area = villages.geometry.area.to_numpy()
    periods = sorted(p for p in panel["period"].unique() if p <= str(paths.period))
    first = max(params.window, 4)
    targets = periods[first:][-params.backtest_quarters :] if params.backtest_quarters > 0 else []
    rows = []
    for i, t in enumerate(targets, 1):
        origin = periods[periods.index(t) - 1]
        if progress:
            print(
                f"  backtest {i}/{len(targets)}: rank with data to {origin}, score {t}", flush=True
            )
        wc, wpq, last_q, _ = _window(panel, ids, origin, params.window)
        rc, rpq, _, nr = _window(panel, ids, origin, params.risk_window)
        risk = risk_at(paths.settings.period(origin), villages, rc, rpq, params)
        early = emerging_cached(paths.settings.period(origin), panel, ids, neighbourhoods, params)
        scores = rankings(
            last_q, wc, wpq, risk, nr, early, w, params, gbm_at(panel, ids, origin, params)
        )
        outcome, _ = panel_arrays(panel, ids, [t])
        ks = sorted({10, 20, 50, params.budget})
        rows.append(score_rankings(scores, outcome[0], area, ks).assign(origin=origin, target=t))
    if not rows:
        return pd.DataFrame(columns=["origin", "target", "ranking", "k", "hit_rate", "pai"])
    return pd.concat(rows, ignore_index=True)[
        ["origin", "target", "ranking", "k", "hit_rate", "pai"]
    ]


# --- the list ------------------------------------------------------------------------------
def _reasons(row, params: PriorityParams) -> str:
    """The plain-language reasons of one village (zh-TW, from the vocabulary)."""
    out = []
    p = row["p_exceed_1"]
    if np.isfinite(p) and p >= params.flag_probability:
        out.append(L.REASONS["higher_risk"].format(p=p * 100, rr=row["rr_mean"]))
    elif np.isfinite(p) and p >= params.watch_probability:
        out.append(L.REASONS["watch"].format(p=p * 100, rr=row["rr_mean"]))
    if row["emerging"]:
        out.append(L.REASONS["emerging"].format(onset=row["onset"], strength=row["strength"]))
    if row["hotspot"]:
        out.append(L.REASONS["hotspot"])
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


def priority_table(paths, villages, risk, early, scores, default: str, params) -> pd.DataFrame:
    """One row per village: rank by the default ranking, tier, reasons and their numbers."""
    ids = villages["villcode"].to_numpy()
    t = pd.DataFrame({"villcode": ids, "townname": villages["townname"].to_numpy(),
                      "villname": villages["villname"].to_numpy()})  # fmt: skip
    t = t.merge(risk[["villcode", "observed", "expected", "rr_mean", "rr_low", "rr_high", "p_exceed_1"]],
                on="villcode", how="left")  # fmt: skip
    t = t.merge(early[["villcode", "emerging", "onset", "strength"]], on="villcode", how="left")
    acc = _optional(paths.accessibility, ["access_index", "hard_to_reach"], ids)
    blind = _optional(paths.blind_spots, ["blind_spot"], ids)
    hot = _optional(paths.hotspots, ["gi_bin"], ids)
    t["access_index"] = acc["access_index"].to_numpy()
    t["hard_to_reach"] = acc["hard_to_reach"].fillna(0).astype(bool).to_numpy()
    t["under_reporting"] = blind["blind_spot"].fillna(0).astype(bool).to_numpy()
    t["hotspot"] = (hot["gi_bin"].fillna(0) > 0).to_numpy()
    t["emerging"] = t["emerging"].fillna(0).astype(bool)
    higher = t["p_exceed_1"].fillna(0) >= params.flag_probability
    flagged = higher | t["emerging"]
    watched = flagged | (t["p_exceed_1"].fillna(0) >= params.watch_probability)
    t["score"] = scores[default]
    order = np.argsort(-np.where(np.isfinite(t["score"]), t["score"], -np.inf), kind="stable")
    t["rank"] = 0
    t.loc[t.index[order], "rank"] = np.arange(1, len(t) + 1)
    first = t[flagged].sort_values("rank").index[: params.budget]
    t["tier"] = np.where(watched, 1, 0)
    t.loc[first, "tier"] = 2
    t["tier_label"] = t["tier"].map(L.TIER_LABELS)
    t["quadrant"] = [
        L.QUADRANTS[(bool(h), bool(r))] for h, r in zip(higher, t["hard_to_reach"], strict=True)
    ]
    t["reasons"] = [_reasons(r, params) for _, r in t.iterrows()]
    return t.sort_values("rank").reset_index(drop=True)


def run(
    paths: PeriodPaths, params: PriorityParams = PriorityParams(), progress: bool = True
) -> PriorityOutputs:
    """The early warning, the backtest and the outreach list of the period; written to disk."""
    villages = public.load_boundaries(paths.settings)
    ids = villages["villcode"].to_numpy()
    panel = pd.read_parquet(paths.village_panel)
    neighbours, _ = contiguity(villages, params.weights, ids="villcode")
    m = neighbourhood_matrix(neighbours, ids)
    w, _ = build_weights(villages, params.weights, ids="villcode")
    bt = backtest(paths, panel, villages, m, w, params, progress)
    comparison = compare(bt, params.budget, BASELINE_RANKING) if len(bt) else pd.DataFrame()
    default = comparison["ranking"].iloc[0] if len(comparison) else "priority"
    early = emerging_at(panel, ids, m, str(paths.period), params)
    risk = pd.DataFrame({"villcode": ids}).merge(
        pd.read_parquet(paths.village_risk), on="villcode", how="left"
    )
    wc, wpq, last_q, _ = _window(panel, ids, str(paths.period), params.window)
    risk_summary = json.loads(paths.risk_summary.read_text(encoding="utf-8"))
    nr = len(risk_summary["window"]["quarters"])  # the quarters 03b's fit summed
    scores = rankings(
        last_q, wc, wpq, risk, nr, early, w, params, gbm_at(panel, ids, str(paths.period), params)
    )
    table = priority_table(paths, villages, risk, early, scores, default, params)
    early.to_parquet(paths.early_warning, index=False)
    bt.to_parquet(paths.backtest, index=False)
    table.to_parquet(paths.village_priority, index=False)
    summary = _summary(paths, params, table, early, comparison, default)
    summary["risk_model_diagnostics"] = risk_summary["diagnostics"]  # its miss warns on 04b too
    paths.priority_summary.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")
    return PriorityOutputs(table, early, bt, comparison, summary)


def _summary(paths, params, table, early, comparison, default) -> dict:
    row = comparison.set_index("ranking") if len(comparison) else None

    def stats(name):
        if row is None or name not in row.index:
            return None
        whole = ("wins", "origins")
        return {k: int(v) if k in whole else float(v) for k, v in row.loc[name].items()}

    return {
        "period": str(paths.period),
        "parameters": asdict(params),
        "default_ranking": default,
        "baseline_ranking": BASELINE_RANKING,
        "default": stats(default),
        "baseline": stats(BASELINE_RANKING),
        "rankings": {n: stats(n) for n in RANKINGS},
        "tiers": {int(k): int(v) for k, v in table["tier"].value_counts().items()},
        "emerging": int(early["emerging"].sum()),
        "early_warning_available": bool(early["available"].all()),
        "under_reporting": int(table["under_reporting"].sum()),
    }
