"""Experiment (issue 24): how early can a ramping cluster be seen at all?

On the kept realistic worlds of ``validate_outreach.py --keep DIR`` (strong and weak), at
the ramp's second quarter (2020Q3), prints for each world:

- the ranks among all villages of the ramp's six villages by their own recent rise (the
  Poisson tail of the ramp's two quarters against the eight before, scaled by the city's
  change);
- the cluster's own observed / expected, p-value and Kulldorff LLR, as if its shape were
  known;
- a prospective space-time scan over circular windows (the k nearest villages, k = 1–10,
  last one or two quarters against the eight before), calibrated on negative-binomial
  replicates of the ten quarters at α = 0.05 a run: its threshold, its largest LLR, and
  how many ramp villages its significant windows hold;
- the ranks of the ramp's villages by a spatially pooled rise: P(rise > 1) from a BYM2
  (the Laplace engine) of the ramp's two quarters against the eight before, with a prior
  that favours spatial structure (ρ ~ Beta(8, ½)), the core of a Knorr-Held type IV
  interaction; and how many villages reach P ≥ 0.9 (on no-change worlds: noise).

docs/validation.md ("How early a ramping cluster can be seen") records the results.

    .venv/bin/python benchmarks/experiment_ramp.py --worlds DIR [--kinds strong weak none]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree
from scipy.stats import poisson

from dv_analysis import public, validation
from dv_analysis.config import window_periods
from dv_analysis.stats.bym2 import BYM2Priors
from dv_analysis.stats.bym2_laplace import fit_bym2_laplace
from dv_analysis.stats.early_warning import baseline_expected, dispersion
from dv_analysis.stats.icar import adjacency_matrix
from dv_analysis.stats.weights import contiguity

PERIOD, QUARTERS, BASELINE, NEAREST = "2020Q3", 10, 8, 10


def grids(s, ids) -> tuple[np.ndarray, np.ndarray]:
    """``(T, n)`` incidents and populations of the last QUARTERS quarters up to PERIOD."""
    panel = pd.read_parquet(s.period(PERIOD).village_panel)
    q = [str(p) for p in window_periods(PERIOD, QUARTERS)]
    panel = panel[panel["period"].isin(q)]

    def grid(col):
        wide = panel.pivot_table(index="period", columns="villcode", values=col, aggfunc="sum")
        return wide.reindex(index=q, columns=ids).fillna(0).to_numpy(float)

    return grid("incidents"), grid("pop_total")


def llr(o, e) -> np.ndarray:
    """Kulldorff's Poisson log-likelihood ratio of a rise (0 where O ≤ E)."""
    o, e = np.asarray(o, float), np.maximum(np.asarray(e, float), 1e-12)
    safe = np.where(o > 0, o, 1.0)
    return np.where(o > e, o * np.log(safe / e) - (o - e), 0.0)


def circles(xy: np.ndarray) -> sp.csr_matrix:
    """Windows × villages: the k nearest villages of every village, k = 1 … NEAREST."""
    _, nn = cKDTree(xy).query(xy, NEAREST)
    rows = [w for w in range(len(xy) * NEAREST) for _ in range(w % NEAREST + 1)]
    cols = [c for i in range(len(xy)) for k in range(1, NEAREST + 1) for c in nn[i, :k]]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(xy) * NEAREST, len(xy)))


def scan_llr(counts, pop, m) -> np.ndarray:
    """Each window's LLR, the larger of its last quarter's and last two quarters'."""
    e = baseline_expected(counts, pop, BASELINE)
    return np.maximum(*[llr(m @ counts[-k:].sum(0), m @ e[-k:].sum(0)) for k in (1, 2)])


def null_threshold(counts, pop, m, seed: int, replicates: int = 199) -> float:
    """The 95 % quantile of the largest window LLR in replicates with no change."""
    c = dispersion(counts[:BASELINE], pop[:BASELINE])
    base = baseline_expected(np.vstack([counts[:BASELINE]] * 2), np.vstack([pop[:BASELINE]] * 2),
                             BASELINE, prior_strength=0.0)[:1]  # fmt: skip
    city = counts.sum(1) / pop.sum(1) / (counts[:BASELINE].sum() / pop[:BASELINE].sum())
    mu = np.maximum(base * city[:, None], 1e-12)
    rng = np.random.default_rng(seed)
    tops = []
    for _ in range(replicates):
        mean = rng.gamma(1 / c, c * mu) if c > 1e-9 else mu
        tops.append(scan_llr(rng.poisson(mean).astype(float), pop, m).max())
    return float(np.quantile(tops, 0.95))


def pooled_rise(counts, v, ids) -> pd.DataFrame:
    """P(rise > 1) of every village from a BYM2 of its last two quarters against the eight
    before (× the city's change), with a prior that favours the spatial part."""
    nb, _ = contiguity(v, "queen", ids="villcode")
    change = counts[BASELINE:].sum() / counts[:BASELINE].sum()
    fit = fit_bym2_laplace(counts[BASELINE:].sum(0), (counts[:BASELINE].sum(0) + 0.5) * change,
                           adjacency_matrix(nb, ids), priors=BYM2Priors(rho_a=8.0), seed=1)  # fmt: skip
    return fit.areas


def world(root: Path, kind: str, seed: int) -> dict:
    s = validation.realistic_years(seed, kind, root / f"{kind}{seed}")
    v = public.load_boundaries(s)
    ids = v["villcode"].to_numpy()
    counts, pop = grids(s, ids)
    ramp = np.isin(ids, list(validation.planted_villages(s, "ramp")))
    change = counts[BASELINE:].sum() / counts[:BASELINE].sum()
    e = (counts[:BASELINE].sum(0) + 0.5) * change
    ranks = pd.Series(poisson.sf(counts[BASELINE:].sum(0) - 1, e)).rank().to_numpy()
    o, ec = counts[BASELINE:, ramp].sum(), counts[:BASELINE, ramp].sum() * change
    m = circles(np.c_[v.geometry.centroid.x, v.geometry.centroid.y])
    observed = scan_llr(counts, pop, m)
    threshold = null_threshold(counts, pop, m, seed)
    hit = np.asarray(m[observed >= threshold].sum(0)).ravel() > 0
    p = pooled_rise(counts, v, ids)["p_exceed_1"]
    pooled = p.rank(ascending=False, method="first").to_numpy()
    return {"kind": kind, "seed": seed, "ramp_ranks": sorted(ranks[ramp].astype(int).tolist()),
            "cluster_oe": round(o / ec, 2) if ec > 0 else None, "cluster_p": float(poisson.sf(o - 1, ec)),
            "cluster_llr": round(float(llr(o, ec)), 1), "scan_threshold": round(threshold, 1),
            "scan_max": round(float(observed.max()), 1), "scan_flagged": int(hit.sum()),
            "scan_ramp_flagged": int((hit & ramp).sum()),
            "pooled_ramp_ranks": sorted(pooled[ramp].astype(int).tolist()),
            "pooled_p90": int((p >= 0.9).sum())}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=Path, required=True, help="kept worlds (--keep DIR)")
    ap.add_argument("--kinds", nargs="+", default=["strong", "weak", "none"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    args = ap.parse_args()
    for kind in args.kinds:
        for seed in args.seeds:
            print(world(args.worlds, kind, seed), flush=True)


if __name__ == "__main__":
    main()
