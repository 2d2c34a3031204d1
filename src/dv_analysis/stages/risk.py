"""Stage of ``03b_village_risk``: each village's relative risk with honest uncertainty (BYM2).

Reads the period's village panel and the boundaries; writes ``village_risk.parquet``
(one row per village: observed, expected, posterior relative risk with its 90 % credible
interval, P(RR > 1), P(RR > 1.5)) and ``risk_summary.json`` (fixed effects, σ, ρ,
diagnostics, sampler, seed, draws, seconds, the window's quarters). The counts are those of
the risk window (``risk_window`` quarters ending with the period, default three years);
expected counts are the village's person-quarters times the city's rate over that window.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import shapely

from .. import public
from ..config import RISK_WINDOW_QUARTERS, PeriodPaths, cache_dir, window_periods
from ..stats import bym2 as bym2_module
from ..stats.bym2 import (
    BYM2Fit,
    adjacency_matrix,
    enable_compilation_cache,
    fit_bym2,
    padded_size,
)
from ..stats.weights import contiguity
from ..workers import cores, process_pool
from .cache import code_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RiskParams:
    """Settings of the village-risk stage (the ``parameters`` cell of ``03b_village_risk``)."""

    count: str = "incidents"  # count of the village panel to model: incidents or notifications
    risk_window: int = RISK_WINDOW_QUARTERS  # quarters of counts modelled, ending with the period
    weights: str = "queen"  # adjacency of the spatial effect: queen or rook (02–04 read it too)
    chains: int = 4  # NUTS chains (vectorised: the numbers do not depend on the cores)
    warmup: int = 500  # warm-up iterations per chain
    draws: int = 1000  # kept draws per chain
    seed: int = 42  # seed of the sampler
    flag_probability: float = 0.9  # P(RR > 1) from which a village counts as higher risk
    extend: bool = True  # a fit that misses a diagnostic is refitted once with chains twice as long


def expected_counts(observed: np.ndarray, person_quarters: np.ndarray) -> np.ndarray:
    """Expected counts at the city's rate: person-quarters × Σ observed / Σ person-quarters."""
    return person_quarters * observed.sum() / person_quarters.sum()


#: Counts of ``village_panel.parquet`` the model can read.
PANEL_COUNTS = ("incidents", "notifications")


def window_table(paths: PeriodPaths, count: str, window: int) -> tuple[pd.DataFrame, list[str]]:
    """Village polygons with ``observed`` (``count`` summed over the ``window`` quarters ending
    with the period) and ``person_quarters`` (each quarter's population, summed), in boundary
    order, read from the period's village panel; and the window's quarters that have clean
    data (the others count for nobody: the sums cover the quarters that exist)."""
    if count not in PANEL_COUNTS:
        raise ValueError(
            f"count {count!r}: the risk model reads a count of the village panel "
            f"({', '.join(PANEL_COUNTS)}) summed over its own window (risk_window quarters)"
        )
    if window < 1:
        raise ValueError(f"risk_window {window}: at least one quarter")
    wanted = [str(q) for q in window_periods(paths.period, window)]
    panel = pd.read_parquet(paths.village_panel, columns=["villcode", "period", count, "pop_total"])
    panel = panel[panel["period"].isin(wanted)]
    sums = panel.groupby("villcode")[[count, "pop_total"]].sum()
    g = public.load_boundaries(paths.settings)
    g["observed"] = g["villcode"].map(sums[count]).fillna(0).astype(int)
    g["person_quarters"] = g["villcode"].map(sums["pop_total"]).fillna(0).astype(float)
    return g, sorted(panel["period"].unique())


@dataclass
class RiskOutputs:
    """The village table as written, the summary as written, and the fit itself."""

    table: pd.DataFrame
    summary: dict
    fit: BYM2Fit | None  # None for all of Taiwan (per county, in the summary) or a cached fit


def _fit(gf: pd.DataFrame, expected: np.ndarray, params: RiskParams) -> BYM2Fit:
    """BYM2 on one set of villages with their own contiguity.

    A fit that misses R-hat ≤ 1.01 or bulk ESS ≥ 400 is refitted once with twice the warm-up
    and draws (``params.extend``; Stan's advice for a borderline miss): the summary records
    both attempts' diagnostics, and a second miss stays a loud failure.
    """
    neighbours, _ = contiguity(gf, params.weights, ids="villcode")
    adjacency = adjacency_matrix(neighbours, gf["villcode"])

    def attempt(scale: int) -> BYM2Fit:
        return fit_bym2(
            gf["observed"], expected, adjacency, chains=params.chains,
            warmup=params.warmup * scale, draws=params.draws * scale, seed=params.seed,
            ids=gf["villcode"],
        )  # fmt: skip

    fit = attempt(1)
    if fit.ok or not params.extend:
        return fit
    first = fit.diagnostics
    log.warning(
        "BYM2 diagnostics missed (R-hat %.4f at %s, bulk ESS %.0f at %s): refitting with chains "
        "twice as long", first["rhat_max"], first["rhat_worst"], first["ess_bulk_min"],
        first["ess_bulk_worst"],
    )  # fmt: skip
    longer = attempt(2)
    longer.sampler["extended_after"] = {
        k: first[k] for k in ("rhat_max", "rhat_worst", "ess_bulk_min", "ess_bulk_worst")
    }
    longer.sampler["seconds"] = round(longer.sampler["seconds"] + fit.sampler["seconds"], 2)
    return longer


def fit_key(gf: pd.DataFrame, expected: np.ndarray, params: RiskParams) -> str:
    """Content address of a fit: villages, counts, expected counts, the adjacency of their
    polygons, sampler settings and the code that fits it (the model and the refit rule)."""
    h = hashlib.sha256(b"bym2-fit 1|" + code_digest(bym2_module, _fit))
    h.update(
        json.dumps(
            [params.weights, params.chains, params.warmup, params.draws, params.seed, params.extend]
        ).encode()
    )
    h.update("|".join(gf["villcode"].astype(str)).encode())
    h.update(np.ascontiguousarray(gf["observed"], float).tobytes())
    h.update(np.ascontiguousarray(expected, float).tobytes())
    h.update(b"".join(shapely.to_wkb(gf.geometry.to_numpy(), output_dimension=2)))
    return h.hexdigest()


def cached_fit(paths: PeriodPaths, gf: pd.DataFrame, expected: np.ndarray, params: RiskParams):
    """The fit's village table and summary, read back when a fit with the same content was
    made before (``data_clean/.cache/bym2/<key>.*``: internal, like every clean table),
    otherwise fitted and kept. Returns (areas, summary, fit or None when read back)."""
    key = fit_key(gf, expected, params)
    folder = paths.settings.fit_cache
    table, meta = folder / f"{key}.parquet", folder / f"{key}.json"
    if table.exists() and meta.exists():
        summary = json.loads(meta.read_text(encoding="utf-8"))
        summary["sampler"] = {**summary["sampler"], "cached": True}
        return pd.read_parquet(table), summary, None
    fit = _fit(gf, expected, params)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = table.with_name(f".{table.name}.{os.getpid()}")
    fit.areas.to_parquet(tmp, index=False)
    os.replace(tmp, table)
    meta.write_text(json.dumps(fit.summary(), ensure_ascii=False), encoding="utf-8")
    return fit.areas, fit.summary(), fit


def _worst(diagnostics: list[dict]) -> dict:
    """The worst R-hat and bulk ESS over several fits (all must pass)."""
    rh = max(diagnostics, key=lambda d: d["rhat_max"])
    es = min(diagnostics, key=lambda d: d["ess_bulk_min"])
    return {
        **rh, "ess_bulk_min": es["ess_bulk_min"], "ess_bulk_worst": es["ess_bulk_worst"],
        "divergences": sum(d["divergences"] for d in diagnostics),
        "ok": all(d["ok"] for d in diagnostics),
    }  # fmt: skip


def _county_job(paths: PeriodPaths, counties: list, params: RiskParams, cache: bool) -> dict:
    """Worker of :func:`_fit_by_county`: the fits of a few counties of one padded size, one
    after the other in this process (they share one traced sampler, ``bym2._sampler``), each
    read back or made and kept (``cache``), or made. ``counties`` holds (code, villages,
    expected) triples; returns code → (areas, summary)."""
    enable_compilation_cache(cache_dir() / "jax")
    out = {}
    for code, gf, expected in counties:
        if cache:
            areas, summary, _ = cached_fit(paths, gf, expected, params)
        else:
            fit = _fit(gf, expected, params)
            areas, summary = fit.areas, fit.summary()
        out[code] = (areas, summary)
    return out


def county_jobs(size: pd.Series, workers: int) -> list[list[str]]:
    """Counties in jobs for ``workers`` processes: each job holds counties of one padded graph
    size (:func:`dv_analysis.stats.bym2.padded_size`), so that a process traces NUTS once
    for them and reuses it, and no job holds more than a quarter of the villages per worker,
    so that the processes still finish together. Largest job first, except that a job does
    not start beside another of its size when a job of another size is left: on a fresh
    cache the second would compile the same sampler at the same time instead of loading it
    once the first has compiled it.

    Parameters
    ----------
    size : pandas.Series
        Villages per county code.
    workers : int
        Processes the jobs are shared among.

    Returns
    -------
    list of list of str
        County codes per job, in the order to hand them out.
    """
    padded = {code: padded_size(n) for code, n in size.items()}
    cap = max(size.sum() / (2 * max(workers, 1)), 1)
    jobs: list[list[str]] = []
    order = sorted(size.index, key=lambda c: (-padded[c], -size[c], c))
    for _, group in itertools.groupby(order, key=padded.get):
        job: list[str] = []
        for code in group:
            if job and size[job].sum() + size[code] > cap:
                jobs.append(job)
                job = []
            job.append(code)
        jobs.append(job)
    jobs.sort(key=lambda job: (-size[job].sum(), job))
    ordered: list[list[str]] = []
    while jobs:
        started = ordered[max(0, len(ordered) - workers + 1) :]  # those still running, at most
        running = {padded[job[0]] for job in started}
        pick = next((job for job in jobs if padded[job[0]] not in running), jobs[0])
        ordered.append(pick)
        jobs.remove(pick)
    return ordered


#: Sampler fields of one fit that the national summary does not copy from the first county.
_PER_FIT = (
    "parameterisation",
    "data_strength",
    "max_tree_depth",
    "extended_after",
    "cached",
    "components",
    "islands",
)


def _fit_by_county(
    paths: PeriodPaths,
    gf: pd.DataFrame,
    expected: np.ndarray,
    params: RiskParams,
    progress: bool,
    cache: bool = True,
):
    """All of Taiwan: one fit per county (the documented fallback), expected at Taiwan's rate.

    Each county's fit is cached by content like a city's (:func:`cached_fit`; ``cache=False``
    for a caller that keeps the whole result itself), and the counties are fitted in worker
    processes on every core (:func:`dv_analysis.workers.cores`), in jobs of counties of one
    graph size, the largest first (:func:`county_jobs`). Every county has the same seed, so
    the numbers do not depend on the order, the jobs or the number of workers.
    """
    from concurrent.futures import as_completed

    counties = gf["villcode"].str[:5]
    codes = sorted(counties.unique())
    size = counties.value_counts()
    results: dict[str, tuple[pd.DataFrame, dict]] = {}
    jobs = county_jobs(size, min(cores(), len(codes)))
    workers = min(cores(), len(jobs))
    with process_pool(workers) as pool:
        futures = []
        for job in jobs:
            triples = []
            for code in job:
                sel = (counties == code).to_numpy()
                triples.append((code, gf[sel].reset_index(drop=True), expected[sel]))
            futures.append(pool.submit(_county_job, paths, triples, params, cache))
        for job in as_completed(futures):
            for code, result in job.result().items():
                results[code] = result
                if progress:
                    sampler = result[1]["sampler"]
                    how = (
                        "read back"
                        if sampler.get("cached")
                        else f"{sampler['seconds']:.0f} s, {sampler.get('parameterisation')}"
                    )
                    print(
                        f"  BYM2 county {code} ({len(results)}/{len(codes)}): "
                        f"{size[code]} villages, {how}",
                        flush=True,
                    )
    per_county = {code: results[code][1] for code in codes}
    first = per_county[codes[0]]
    seconds = round(sum(s["sampler"]["seconds"] for s in per_county.values()), 2)
    sampler = {k: v for k, v in first["sampler"].items() if k not in _PER_FIT}
    forms = pd.Series([s["sampler"].get("parameterisation") for s in per_county.values()])
    summary = {
        "per_county": per_county,
        "diagnostics": _worst([s["diagnostics"] for s in per_county.values()]),
        "sampler": {
            **sampler,
            "warmup": params.warmup,
            "draws": params.draws,
            "seconds": seconds,
            "workers": workers,
            "parameterisations": {str(k): int(v) for k, v in forms.value_counts().items()},
            "extended": [c for c in codes if "extended_after" in per_county[c]["sampler"]],
        },
        "priors": first["priors"],
    }
    return pd.concat([results[c][0] for c in codes], ignore_index=True), summary


def run(
    paths: PeriodPaths, params: RiskParams = RiskParams(), progress: bool = True
) -> RiskOutputs:
    """Fit BYM2 to the period's window counts; write the village table and the summary.

    For all of Taiwan (``city='all'``) each county is fitted on its own, with expected
    counts at Taiwan's rate (docs/risk_model.md).
    """
    g, quarters = window_table(paths, params.count, params.risk_window)
    if progress and len(quarters) < params.risk_window:
        print(
            f"  risk window: {len(quarters)} of {params.risk_window} quarters have clean data"
            f" ({quarters[0]}–{quarters[-1]})",
            flush=True,
        )
    fit_rows = g["person_quarters"] > 0
    gf = g[fit_rows].reset_index(drop=True)
    expected = expected_counts(gf["observed"].to_numpy(float), gf["person_quarters"].to_numpy())
    enable_compilation_cache(cache_dir() / "jax")
    fit = None
    if paths.settings.city == "all":
        areas, fit_summary = _fit_by_county(paths, gf, expected, params, progress)
    else:
        if progress:
            print(f"  BYM2 on {len(gf)} villages; {params.chains} chains", flush=True)
        areas, fit_summary, fit = cached_fit(paths, gf, expected, params)
    table = g[["villcode"]].merge(
        areas.rename(columns={"id": "villcode"}), on="villcode", how="left"
    )
    table["observed"] = g["observed"].to_numpy()
    table["higher_risk"] = table["p_exceed_1"] >= params.flag_probability
    table.to_parquet(paths.village_risk, index=False)
    wanted = [str(q) for q in window_periods(paths.period, params.risk_window)]
    summary = {
        "period": str(paths.period),
        "count": params.count,
        "parameters": asdict(params),
        "window": {
            "length": params.risk_window,
            "quarters": quarters,
            "missing": [q for q in wanted if q not in quarters],
        },
        "villages": int(len(g)),
        "villages_fitted": int(fit_rows.sum()),
        "villages_without_population": g.loc[~fit_rows, "villcode"].tolist(),
        "weights": params.weights,
        **fit_summary,
    }
    paths.risk_summary.write_text(json.dumps(summary, ensure_ascii=False, indent=1), "utf-8")
    if not summary["diagnostics"]["ok"]:
        d = summary["diagnostics"]
        log.error(
            "BYM2 diagnostics missed: R-hat %.3f (%s), bulk ESS %.0f (%s)",
            d["rhat_max"], d["rhat_worst"], d["ess_bulk_min"], d["ess_bulk_worst"],
        )  # fmt: skip
    return RiskOutputs(table, summary, fit)
