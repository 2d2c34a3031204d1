"""Stage of ``03b_village_risk``: each village's present risk, its direction, with honest
uncertainty (the space-time model of :mod:`dv_analysis.stats.disease_mapping.spacetime.model`).

Reads the period's village panel and the boundaries; writes ``village_risk.parquet`` (one
row per village: the window's relative risk ``rr_*`` with P(RR > 1) and P(RR > 1.5) as
before; the present relative risk ``rr_now_*`` with its 90 % interval, P(RR now > 1),
P(RR now > 1.25), P(RR now > 1.5); ``p_rising`` and ``trend``; next quarter's expected
incidents and excess ``excess_next_*``) and ``risk_summary.json`` (model form, engine,
hyperparameters, diagnostics, the window's quarters). The counts are those of the risk
window (``risk_window`` quarters ending with the period, default three years), kept per
quarter; expected counts come by indirect standardisation, each case type at the city's
rate over the window on its own population at risk (``features.RISK_POPULATION``).

"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import shapely

from dv_analysis import layers
from dv_analysis.config import RISK_WINDOW_QUARTERS, PeriodPaths, cache_dir, window_periods
from dv_analysis.errors import ParameterError
from dv_analysis.pages import labels as L
from dv_analysis.stages.cache import key as content_key
from dv_analysis.stats import weights as weights_module
from dv_analysis.stats.disease_mapping import spacetime
from dv_analysis.stats.disease_mapping.icar import adjacency_matrix, prepare_graph
from dv_analysis.stats.disease_mapping.mcmc import enable_compilation_cache
from dv_analysis.stats.disease_mapping.spacetime.model import NOW_QUARTERS
from dv_analysis.stats.weights import contiguity
from dv_analysis.workers import cores, process_pool

log = logging.getLogger(__name__)


#: Counts of ``village_panel.parquet`` the model can read.
PANEL_COUNTS = ("incidents", "notifications")


def _check_count(count: str) -> None:
    if count not in PANEL_COUNTS:
        raise ParameterError(
            f"count {count!r}: the risk model reads a count of the village panel "
            f"({', '.join(PANEL_COUNTS)}) over its own window (risk_window quarters)"
        )


@dataclass(frozen=True)
class RiskParams:
    """Settings of the village-risk stage (the ``parameters`` cell of ``03b_village_risk``)."""

    count: str = "incidents"  # count of the village panel to model: incidents or notifications
    risk_window: int = RISK_WINDOW_QUARTERS  # quarters of counts modelled, ending with the period
    weights: str = "queen"  # adjacency of the spatial effect: queen or rook (02–04 read it too)
    engine: str = (
        "laplace"  # laplace: nested Laplace (seconds); nuts: NUTS, the reference (minutes)
    )
    strategy: str = (
        "importance"  # laplace only: importance (integrate over θ) or eb (θ at its mode)
    )
    now_quarters: int = NOW_QUARTERS  # quarters averaged into the present risk (p_rising's lag)
    posterior_draws: int = 2000  # posterior draws the village table is computed from
    chains: int = 4  # NUTS chains (vectorised: the numbers do not depend on the cores)
    warmup: int = 500  # NUTS warm-up iterations per chain
    draws: int = 1000  # NUTS kept draws per chain
    seed: int = 42  # seed of the sampler
    flag_probability: float = 0.9  # P(RR now > 1) from which a village counts as higher risk

    def __post_init__(self):
        _check_count(self.count)
        try:
            spacetime.get_engine(self.engine)
            engine_options(self)  # strategy, draws, chains and warm-up
        except ValueError as e:
            raise ParameterError(str(e)) from None
        if self.risk_window < 2:
            raise ParameterError(
                f"risk_window {self.risk_window}: the space-time model needs at least 2 quarters"
            )
        if self.now_quarters < 1:
            raise ParameterError(f"now_quarters {self.now_quarters}: at least one quarter")
        if not 0 < self.flag_probability < 1:
            raise ParameterError(f"flag_probability {self.flag_probability}: between 0 and 1")


@dataclass
class RiskOutputs:
    """The village table and the summary, as written."""

    table: pd.DataFrame
    summary: dict


def is_kept(folder, stem: str) -> bool:
    """Whether :func:`kept_fit` would read ``stem`` back from ``folder``."""
    return (folder / f"{stem}.parquet").exists() and (folder / f"{stem}.json").exists()


def kept_fit(folder, stem: str, section: str, make):
    """A fit's village table and summary kept by content in ``folder`` (``<stem>.parquet``
    and ``<stem>.json``): read back when both are there (the summary's ``section`` then says
    ``cached``), otherwise ``make()`` → (table, summary) written there, the table atomically.
    Returns (table, summary, read back or not)."""
    table, meta = folder / f"{stem}.parquet", folder / f"{stem}.json"
    if is_kept(folder, stem):
        summary = json.loads(meta.read_text(encoding="utf-8"))
        summary[section] = {**summary[section], "cached": True}
        return pd.read_parquet(table), summary, True
    out, summary = make()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = table.with_name(f".{table.name}.{os.getpid()}")
    out.to_parquet(tmp, index=False)
    os.replace(tmp, table)
    meta.write_text(json.dumps(summary, ensure_ascii=False), encoding="utf-8")
    return out, summary, False


@dataclass
class WindowPanel:
    """The risk window's village panel as arrays, in boundary order."""

    villages: pd.DataFrame  # boundaries (villcode, townname, villname, geometry)
    quarters: list[str]  # the window's quarters with clean data
    counts: dict  # case type → (n, T) counts (one entry "all" without types)
    populations: dict  # case type → (n, T) population at risk

    @property
    def y(self) -> np.ndarray:
        return sum(self.counts.values())


def _types(panel: pd.DataFrame, count: str) -> dict[str, tuple[str, str]]:
    """Count and population columns per case type: the four types of incidents with their
    populations at risk, or one 'all' with the whole population."""
    from dv_analysis.stages.features import RISK_POPULATION

    cols = {k: (f"incidents_{k}", pop) for k, pop in RISK_POPULATION.items()}
    if count == "incidents" and all(c in panel and p in panel for c, p in cols.values()):
        return cols
    return {"all": (count, "pop_total")}


def window_panel(paths: PeriodPaths, count: str, window: int) -> WindowPanel:
    """The ``window`` quarters ending with the period, per village and quarter, from the
    period's village panel (quarters without clean data are left out)."""
    panel = pd.read_parquet(paths.village_panel)
    return panel_window(
        panel, layers.load_boundaries(paths.settings), str(paths.period), count, window
    )


def panel_window(panel: pd.DataFrame, villages, end: str, count: str, window: int) -> WindowPanel:
    """:func:`window_panel` of a panel already read, for the ``window`` quarters ending with
    quarter ``end`` (the backtest's origins read earlier windows of the same panel)."""
    _check_count(count)
    if window < 2:
        raise ParameterError(
            f"risk_window {window}: the space-time model needs at least 2 quarters"
        )
    wanted = [str(q) for q in window_periods(end, window)]
    panel = panel[panel["period"].isin(wanted)]
    quarters = sorted(panel["period"].unique())

    def grid(col: str) -> np.ndarray:
        wide = panel.pivot(index="villcode", columns="period", values=col)
        return wide.reindex(index=villages["villcode"], columns=quarters).fillna(0).to_numpy(float)

    types = _types(panel, count)
    return WindowPanel(
        villages,
        quarters,
        {k: grid(c) for k, (c, _) in types.items()},
        {k: grid(pop) for k, (_, pop) in types.items()},
    )


def spacetime_key(villages, y, e, params: RiskParams, level=None) -> str:
    """Content address of a space-time fit: villages and their polygons, counts, expected
    counts, settings and the code that fits it."""
    fields = (
        "weights",
        "engine",
        "strategy",
        "now_quarters",
        "posterior_draws",
        "chains",
        "warmup",
        "draws",
        "seed",
    )
    return content_key(
        "spacetime-fit",
        (*spacetime.code_modules(), weights_module, _fit_spacetime, _kept_rows, _kept_draws),
        [getattr(params, f) for f in fields],
        "|".join(villages["villcode"].astype(str)),
        np.asarray(y, float),
        np.asarray(e, float),
        b"" if level is None else np.asarray(level, float),
        b"".join(shapely.to_wkb(villages.geometry.to_numpy(), output_dimension=2)),
    )


def _fit_spacetime(
    villages, y, e, e_next, params: RiskParams, level=None
) -> tuple[pd.DataFrame, dict]:
    """The space-time model on one set of villages: the village table and the fit summary.
    ``level`` (per quarter) scales the relative risks to a larger reference (a county's
    rate against Taiwan's)."""
    neighbours, _ = contiguity(villages, params.weights, ids="villcode")
    graph = prepare_graph(adjacency_matrix(neighbours, villages["villcode"]))
    panel = spacetime.prepare_panel(y, e, graph)
    if params.engine == "nuts":
        enable_compilation_cache(cache_dir() / "jax")
    fit = spacetime.fit(panel, params.engine, options=engine_options(params))
    log_rr = fit.log_rr(panel, level)
    table = spacetime.summarise_draws(log_rr, e_next, params.now_quarters)
    pick = _kept_rows(len(log_rr))
    table["rr_now_draws"] = list(_kept_draws(log_rr, params.now_quarters, pick).T)
    mu, forecast = fit.predict_next(panel, e_next, params.seed, level)
    for name, values in spacetime.predictive_summary(forecast).items():
        table[name] = values
    table["next_draws"] = list(mu[pick].astype(np.float32).T)
    k = min(params.now_quarters, y.shape[1])
    table.insert(0, "villcode", villages["villcode"].to_numpy())
    table.insert(1, "observed", y.sum(1))
    table.insert(2, "expected", e.sum(1))
    table.insert(3, "observed_now", y[:, -k:].sum(1))
    table.insert(4, "expected_now", e[:, -k:].sum(1))
    summary = {
        "hyperparameters": fit.hyperparameters,
        "diagnostics": fit.diagnostics,
        "engine": {
            "name": fit.engine,
            "seconds": round(fit.seconds, 2),
            "posterior_draws": int(len(fit.b)),
            "villages": int(len(y)),
            "components": len(graph.components),
            "islands": int(graph.islands.sum()),
        },
    }
    return table, summary


#: Posterior draws of each village's present RR kept for the service plan (thinned evenly).
KEPT_DRAWS = 200


def engine_options(params: RiskParams) -> spacetime.EngineOptions:
    """The engine settings of the stage's parameters (NUTS's ``draws`` are per chain)."""
    return spacetime.EngineOptions(
        draws=params.posterior_draws,
        seed=params.seed,
        strategy=params.strategy,
        chains=params.chains,
        warmup=params.warmup,
        nuts_draws=params.draws,
    )


def _kept_rows(draws: int) -> np.ndarray:
    """The ``KEPT_DRAWS`` draws kept, thinned evenly."""
    return np.linspace(0, draws - 1, min(KEPT_DRAWS, draws)).round().astype(int)


def _kept_draws(log_rr: np.ndarray, now_quarters: int, pick: np.ndarray) -> np.ndarray:
    """``(KEPT_DRAWS, n)`` float32 draws of the present RR, as :func:`summarise_draws`
    reads "now" (the mean log RR of the last quarters)."""
    k = min(now_quarters, log_rr.shape[2] // 2) or 1
    return np.exp(log_rr[pick][:, :, -k:].mean(2)).astype(np.float32)


def draws_table(table: pd.DataFrame) -> pd.DataFrame:
    """The kept draws of the fit table as a long table: villcode, draw, rr_now (the present
    RR) and next_expected (a posterior predictive draw of next quarter's expected count:
    risk, the path's step and the quarter's noise, not the count's own Poisson noise);
    villages without a fit, with no population, have none."""
    keep = table[[isinstance(d, np.ndarray | list) for d in table["rr_now_draws"]]]
    keep = keep.dropna(subset=["villcode"])
    sizes = [len(d) for d in keep["rr_now_draws"]]

    def long(column: str) -> np.ndarray:
        parts = [np.asarray(d, float) for d in keep[column]]
        return np.concatenate(parts or [[]]).astype("float32")

    return pd.DataFrame(
        {
            "villcode": np.repeat(keep["villcode"].to_numpy(), sizes),
            "draw": np.concatenate([np.arange(k) for k in sizes] or [[]]).astype("int16"),
            "rr_now": long("rr_now_draws"),
            "next_expected": long("next_draws"),
        }
    )


def _spacetime_stem(villages, y, e, params: RiskParams, level=None) -> str:
    return f"st-{spacetime_key(villages, y, e, params, level)}"


def cached_spacetime(paths: PeriodPaths, villages, y, e, e_next, params: RiskParams, level=None):
    """A space-time fit read back when one with the same content was made before
    (``data_clean/.cache/bym2/st-<key>.*``, internal), otherwise made and kept."""
    out, summary, _ = kept_fit(
        paths.settings.fit_cache,
        _spacetime_stem(villages, y, e, params, level),
        "engine",
        lambda: _fit_spacetime(villages, y, e, e_next, params, level),
    )
    return out, summary


def _county_spacetime(paths, jobs, params: RiskParams, keep: bool = True) -> dict:
    """Worker: the space-time fits of a few jobs (key, villages, y, e, e_next, level);
    ``keep=False`` only makes and keeps them (a prefit) and returns their keys."""
    out = {}
    for job in jobs:
        result = cached_spacetime(paths, *job[1:5], params, job[5])
        out[job[0]] = result if keep else None
    return out


def county_jobs(villages, y, e, e_next, prefix: str = "") -> list[tuple]:
    """All of Taiwan's fit split by county: ``(key, villages, y, e, e_next, level)`` per
    county, the largest first, with expected counts at Taiwan's rates and each county's
    relative risks against Taiwan through its observed level over the window (``level``;
    ½ keeps an empty county finite). ``key`` is ``prefix`` + the county code."""
    counties = villages["villcode"].str[:5].to_numpy()
    size = pd.Series(counties).value_counts()
    taiwan = y.sum() / e.sum()
    jobs = []
    for code in size.index:
        sel = counties == code
        level = np.full(y.shape[1], (y[sel].sum() + 0.5) / e[sel].sum() / taiwan)
        jobs.append(
            (
                prefix + code,
                villages[sel].reset_index(drop=True),
                y[sel],
                e[sel],
                e_next[sel],
                level,
            )
        )
    return jobs


def job_kept(paths: PeriodPaths, job: tuple, params: RiskParams) -> bool:
    """Whether a county job's fit is kept in the fit cache."""
    stem = _spacetime_stem(job[1], job[2], job[3], params, job[5])
    return is_kept(paths.settings.fit_cache, stem)


def run_county_jobs(paths, jobs, params: RiskParams, keep: bool = True, progress=None) -> dict:
    """The fits of county jobs (:func:`county_jobs`), shared among processes on every core
    (largest first, dealt in turn); read back in this process when every one is kept, as
    on a rerun or at a backtest origin fitted before. ``progress(key, result, done)`` is
    called as each arrives (with ``keep``)."""
    from concurrent.futures import as_completed

    if all(job_kept(paths, job, params) for job in jobs):
        results = _county_spacetime(paths, jobs, params, keep)
        if progress and keep:
            for i, (key, result) in enumerate(results.items(), 1):
                progress(key, result, i)
        return results
    dealt: list[list] = [[] for _ in range(min(cores(), len(jobs)))]
    for k, job in enumerate(sorted(jobs, key=lambda j: -len(j[1]))):
        dealt[k % len(dealt)].append(job)
    results: dict = {}
    with process_pool(len(dealt)) as pool:
        futures = [pool.submit(_county_spacetime, paths, d, params, keep) for d in dealt]
        for future in as_completed(futures):
            for key, result in future.result().items():
                results[key] = result
                if progress and keep:
                    progress(key, result, len(results))
    return results


def _spacetime_by_county(paths, villages, y, e, e_next, params, progress):
    """All of Taiwan: one space-time fit per county (:func:`county_jobs`)."""
    jobs = county_jobs(villages, y, e, e_next)
    sizes = {job[0]: len(job[1]) for job in jobs}

    def report(code, result, done):
        print(
            f"  space-time county {code} ({done}/{len(jobs)}): {sizes[code]} villages, "
            f"{result[1]['engine']['seconds']:.0f} s",
            flush=True,
        )

    results = run_county_jobs(paths, jobs, params, progress=report if progress else None)
    codes = sorted(results)
    per_county = {c: results[c][1] for c in codes}
    summary = {
        "per_county": per_county,
        "diagnostics": {
            "ok": all(s["diagnostics"]["ok"] for s in per_county.values()),
            "failed": [c for c in codes if not per_county[c]["diagnostics"]["ok"]],
            "engine": params.engine,
        },
        "engine": {
            "name": params.engine,
            "seconds": round(sum(s["engine"]["seconds"] for s in per_county.values()), 2),
        },
    }
    return pd.concat([results[c][0] for c in codes], ignore_index=True), summary


def diagnostics_message(d: dict) -> str:
    """What missed in a fit's diagnostics, in one English line (console and manifest)."""
    if d.get("ok", True):
        return ""
    if "failed" in d:
        return f"counties {', '.join(d['failed'])} failed their diagnostics"
    if d.get("engine") == "laplace":
        return (
            f"nested Laplace: θ search converged {d['theta_search_converged']}, Newton gradient "
            f"{d['newton_gradient_max']:.1e}, importance-weight ESS {d['weight_ess']:.1f} "
            f"(limit {d['weight_ess_limit']:.1f})"
        )
    return (
        f"R-hat {d['rhat_max']:.3f} ({d['rhat_worst']}), bulk ESS {d['ess_bulk_min']:.0f} "
        f"({d['ess_bulk_worst']}), {d.get('divergences', 0)} divergences"
    )


def _model_form(params: RiskParams) -> dict:
    return {
        "family": "Poisson",
        "linear_predictor": "log E_it + γ_t + b_i + δ_it + ε_it",
        "level": "γ_t ~ N(0, 1), one per quarter",
        "spatial": "b ~ BYM2 (per-component scaled ICAR + iid), σ ~ N⁺(0, 1), ρ ~ Beta(½, ½)",
        "interaction": "δ_i ~ RW1 over quarters, Σ_t δ_it = 0 (Knorr-Held type II), "
        "PC prior P(σ_δ > 0.5) = 0.01",
        "overdispersion": "ε_it ~ N(0, σ_ε²), PC prior P(σ_ε > 1) = 0.01",
        "expected": "indirect standardisation by case type over the window",
        "now": f"exp(mean of log RR over the last {params.now_quarters} quarters)",
    }


def window_args(wp: WindowPanel, params: RiskParams) -> tuple[tuple, np.ndarray]:
    """(villages, y, e, e_next) of the villages with population, and their mask."""
    e = spacetime.expected_by_type(wp.counts, wp.populations)
    e_next = spacetime.expected_next(wp.counts, wp.populations, params.now_quarters)
    rows = e.sum(1) > 0
    return (wp.villages[rows].reset_index(drop=True), wp.y[rows], e[rows], e_next[rows]), rows


def window_kept(paths: PeriodPaths, wp: WindowPanel, params: RiskParams) -> bool:
    """Whether :func:`fit_window` would read this window's fit back from the fit cache (one
    city; all of Taiwan is fitted county by county and answers False)."""
    if paths.settings.city == "all":
        return False
    villages, y, e, _ = window_args(wp, params)[0]
    return is_kept(paths.settings.fit_cache, _spacetime_stem(villages, y, e, params))


def fit_window(paths: PeriodPaths, wp: WindowPanel, params: RiskParams, progress: bool = False):
    """The space-time model of one window (kept by content in the fit cache; county by county
    for all of Taiwan). Returns the fitted columns for every village of ``wp`` (empty for
    villages without population), the fit summary and the mask of fitted villages."""
    g = wp.villages
    args, fit_rows = window_args(wp, params)
    if paths.settings.city == "all":
        areas, fit_summary = _spacetime_by_county(paths, *args, params, progress)
    else:
        if progress:
            print(
                f"  space-time model ({params.engine}) on {fit_rows.sum()} villages × "
                f"{len(wp.quarters)} quarters",
                flush=True,
            )
        areas, fit_summary = cached_spacetime(paths, *args, params)
    return g[["villcode"]].merge(areas, on="villcode", how="left"), fit_summary, fit_rows


def run(
    paths: PeriodPaths, params: RiskParams = RiskParams(), progress: bool = True
) -> RiskOutputs:
    """Fit the space-time model to the period's window; write the village table and summary.

    For all of Taiwan (``city='all'``) each county is fitted on its own, with expected
    counts at Taiwan's rates (docs/risk_model.md).
    """
    wp = window_panel(paths, params.count, params.risk_window)
    if progress and len(wp.quarters) < params.risk_window:
        print(
            f"  risk window: {len(wp.quarters)} of {params.risk_window} quarters have clean "
            f"data ({wp.quarters[0]}–{wp.quarters[-1]})",
            flush=True,
        )
    g, y = wp.villages, wp.y
    table, fit_summary, fit_rows = fit_window(paths, wp, params, progress)
    draws_table(table).to_parquet(paths.village_risk_draws, index=False)
    table = table.drop(columns=["rr_now_draws", "next_draws"])
    table["observed"] = y.sum(1).astype(int)
    table["higher_risk"] = table["p_now_exceed_1"] >= params.flag_probability  # the present
    table["trend"] = table["trend"].map(L.TREND_LABELS)  # 上升 / 持平 / 下降 / 資料不足
    table.to_parquet(paths.village_risk, index=False)
    summary = _summary(paths, params, wp, g, fit_rows, fit_summary)
    summary["diagnostics"]["message"] = diagnostics_message(summary["diagnostics"])
    paths.risk_summary.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")
    if not summary["diagnostics"]["ok"]:
        log.error("space-time model diagnostics missed: %s", summary["diagnostics"]["message"])
    return RiskOutputs(table, summary)


def _summary(paths, params: RiskParams, wp: WindowPanel, g, fit_rows, fit_summary) -> dict:
    wanted = [str(q) for q in window_periods(paths.period, params.risk_window)]
    return {
        "period": str(paths.period),
        "count": params.count,
        "parameters": asdict(params),
        "model": _model_form(params),
        "expected_by": sorted(wp.counts),
        "window": {
            "length": params.risk_window,
            "quarters": wp.quarters,
            "missing": [q for q in wanted if q not in wp.quarters],
        },
        "villages": int(len(g)),
        "villages_fitted": int(fit_rows.sum()),
        "villages_without_population": g.loc[~fit_rows, "villcode"].tolist(),
        "weights": params.weights,
        **fit_summary,
    }
