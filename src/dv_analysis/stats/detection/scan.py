"""Kulldorff's circular spatial scan statistic (Poisson model) with Monte-Carlo p-values.

Written here because no maintained Python library computes it (SaTScan is a closed
binary); ``tests/stats/detection/test_scan.py`` reproduces SaTScan's published New York results.
The Monte-Carlo maxima come from a compiled kernel cached on disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit
from scipy.spatial import cKDTree


@dataclass
class ScanCluster:
    """One circular window: centre and member positions, observed and expected cases, LLR, p."""

    center: int
    members: list[int]
    observed: float
    expected: float
    llr: float
    p_value: float
    radius: float
    population: float

    @property
    def relative_risk(self) -> float:
        return self.observed / self.expected


def _poisson_llr(c: np.ndarray, e: np.ndarray, total: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        llr = c * np.log(c / e) + (total - c) * np.log((total - c) / (total - e))
    llr = np.where((c > e) & (c > 0), llr, 0.0)
    return np.nan_to_num(llr, nan=0.0, posinf=0.0)


def _nearest(tree, coords, pop, cap, k0: int):
    """Nearest areas of some centres by distance (ties by position), ``k`` doubled until
    every window reached the population cap; and each window's size."""
    n = tree.n
    k = min(n, k0)
    while True:
        dist, order = tree.query(coords, k=k)
        dist, order = dist.reshape(len(coords), -1), order.reshape(len(coords), -1)
        rank = np.lexsort((order, dist), axis=1)  # as a stable sort by distance would
        dist, order = np.take_along_axis(dist, rank, 1), np.take_along_axis(order, rank, 1)
        kmax = (np.cumsum(pop[order], axis=1) <= cap).sum(axis=1)
        if k == n or (kmax < k).all():
            return dist, order, kmax
        k = min(n, 2 * k)


def _windows(coords: np.ndarray, pop: np.ndarray, max_pop_frac: float, chunk: int = 512):
    """For each centre, its nearest areas in order of distance and how many fit under the
    population cap.

    Neighbour lists come from a KD-tree, centres ``chunk`` at a time, so no ``n × n``
    distance matrix is built: a national scan (7,701 villages, cap 10 %) keeps at most
    1,396 neighbours per centre. Returns distances and neighbours (``n × K``, columns past
    a window's size are padding and never read) and the window sizes.
    """
    n = len(coords)
    cap = max_pop_frac * pop.sum()
    tree = cKDTree(coords)
    parts, k0 = [], 64
    for start in range(0, n, chunk):
        d, o, km = _nearest(tree, coords[start : start + chunk], pop, cap, k0)
        width = max(int(km.max()), 1)  # windows never grow past the cap
        parts.append((d[:, :width], o[:, :width].astype(np.int64), km))
        k0 = max(k0, width + 1)
    width = max(p[0].shape[1] for p in parts)
    dist = np.zeros((n, width))
    order = np.zeros((n, width), dtype=np.int64)
    row = 0
    for d, o, _ in parts:
        dist[row : row + len(d), : d.shape[1]] = d
        order[row : row + len(o), : o.shape[1]] = o
        row += len(d)
    kmax = np.concatenate([p[2] for p in parts])
    return dist, order, kmax


@njit(cache=True)
def _max_llr_value(
    cases: np.ndarray, expected: np.ndarray, order: np.ndarray, kmax: np.ndarray
) -> float:
    """The largest log-likelihood ratio over all windows, without n-by-k temporaries.

    Sums in the same order as ``np.cumsum`` and treats the same cases as zero (c <= e, no
    case, or a non-finite value) as the array computation with :func:`_poisson_llr` that
    scores the observed windows, so it returns the same number; compiled once and
    cached, it makes the Monte-Carlo replicates of a national scan fast.

    A window is only scored (two logarithms) when it could beat the best so far: with
    ``C`` cases in all and ``c > e``, ``LLR ≤ (c − e)²/2 · (1/e + 1/(C − c))``, from
    ``(1 + t)·log(1 + t) − t ≤ t²/2`` and ``(1 − s)·log(1 − s) + s ≤ s²/(2(1 − s))``
    for ``t, s ≥ 0``. Under the null most windows are far below the best, so most
    logarithms are skipped (999 replicates of a national scan: 44 → 16 s); a tolerance
    above rounding keeps every window that could matter, so the maximum is unchanged.
    """
    total = cases.sum()
    tol = 1e-9 + 1e-12 * total  # far above the rounding of the bound and of the LLR
    best = 0.0
    for i in range(order.shape[0]):
        c = 0.0
        e = 0.0
        for k in range(kmax[i]):
            j = order[i, k]
            c += cases[j]
            e += expected[j]
            if c > e and c > 0:
                excess = c - e
                if c < total and excess * excess * 0.5 * (1.0 / e + 1.0 / (total - c)) + tol < best:
                    continue  # cannot beat the best: its LLR is below the bound
                v = c * np.log(c / e) + (total - c) * np.log((total - c) / (total - e))
                if np.isfinite(v) and v > best:
                    best = v
    return best


def _simulated_maxima(
    pop: np.ndarray, expected: np.ndarray, total: float, order, kmax, n_sim: int, seed: int
) -> np.ndarray:
    """Largest LLR of each Monte-Carlo replicate: the cases redistributed multinomially by population."""
    rng = np.random.default_rng(seed)
    sims = np.empty(n_sim)
    n_int = int(round(total))
    probs = pop / pop.sum()
    for s in range(n_sim):
        sim_cases = rng.multinomial(n_int, probs).astype(float)
        sims[s] = _max_llr_value(
            sim_cases,
            expected * n_int / total if total else expected,
            order,
            np.minimum(kmax, order.shape[1]),
        )
    return sims


def _non_overlapping(llr, order, cc, ce, d, pop, sims, n_secondary: int) -> list[ScanCluster]:
    """Candidate windows, best first, keeping those that share no area with a better one."""
    flat = np.argsort(-llr, axis=None, kind="mergesort")
    used = np.zeros(len(pop), bool)
    clusters: list[ScanCluster] = []
    for f in flat:
        i, k = np.unravel_index(f, llr.shape)
        value = llr[i, k]
        if value <= 0 or len(clusters) > n_secondary:
            break
        members = order[i, : k + 1]
        if used[members].any():
            continue
        used[members] = True
        clusters.append(
            ScanCluster(
                center=int(i),
                members=[int(m) for m in members],
                observed=float(cc[i, k]),
                expected=float(ce[i, k]),
                llr=float(value),
                p_value=float((1 + (sims >= value).sum()) / (len(sims) + 1)),
                radius=float(d[i, k]),
                population=float(pop[members].sum()),
            )
        )
    return clusters


def kulldorff_scan(
    coords: np.ndarray,
    cases: np.ndarray,
    population: np.ndarray,
    max_pop_frac: float = 0.5,
    n_sim: int = 999,
    seed: int = 42,
    n_secondary: int = 5,
) -> list[ScanCluster]:
    """Most likely and secondary (non-overlapping) circular clusters, Poisson model.

    Windows are circles centred on each area's point, growing by nearest neighbours up
    to ``max_pop_frac`` of the total population. The p-value is Monte-Carlo: the rank of
    the observed maximum log-likelihood ratio among ``n_sim`` replicates with the total
    number of cases redistributed multinomially by population.

    Parameters
    ----------
    coords : numpy.ndarray
        ``(n, 2)`` coordinates of the areas.
    cases, population : numpy.ndarray
        Counts and populations (or person-quarters) at risk.
    max_pop_frac : float
        Largest window as a share of the total population.
    n_sim : int
        Monte-Carlo replicates.
    seed : int
        Seed of the replicates.
    n_secondary : int
        Secondary clusters kept after the most likely one.

    Returns
    -------
    list of ScanCluster
        The most likely cluster first, then secondary clusters by LLR.
    """
    coords = np.asarray(coords, float)
    cases = np.asarray(cases, float)
    pop = np.asarray(population, float)
    total = cases.sum()
    expected = total * pop / pop.sum()
    d, order, kmax = _windows(coords, pop, max_pop_frac)
    cc = np.cumsum(cases[order], axis=1)
    ce = np.cumsum(expected[order], axis=1)
    llr = np.zeros_like(cc)
    for a in range(0, len(cc), 512):  # in blocks of rows: no n × K temporaries
        block = _poisson_llr(cc[a : a + 512], ce[a : a + 512], total)
        inside = np.arange(order.shape[1])[None, :] < kmax[a : a + 512, None]
        llr[a : a + 512] = np.where(inside, block, 0.0)
    sims = _simulated_maxima(pop, expected, total, order, kmax, n_sim, seed)
    return _non_overlapping(llr, order, cc, ce, d, pop, sims, n_secondary)


def scan_table(clusters: list[ScanCluster], ids, alpha: float = 0.05) -> pd.DataFrame:
    """Scan clusters as a table: rank, kind, areas, observed, expected, relative risk, LLR, p.

    Parameters
    ----------
    clusters : list of ScanCluster
        From :func:`kulldorff_scan`, most likely first.
    ids : array-like
        Area identifiers by position (the centre is named by its id).
    alpha : float
        Level of the ``significant`` column.

    Returns
    -------
    pandas.DataFrame
        One row per cluster; ``kind`` is ``most likely`` or ``secondary``.
    """
    rows = []
    for k, c in enumerate(clusters, 1):
        rows.append(
            {
                "cluster": k,
                "kind": "most likely" if k == 1 else "secondary",
                "n_areas": len(c.members),
                "centre": ids[c.center],
                "observed": c.observed,
                "expected": round(c.expected, 2),
                "relative_risk": round(c.relative_risk, 2),
                "llr": round(c.llr, 3),
                "p_value": c.p_value,
                "significant": c.p_value < alpha,
                "radius_m": round(c.radius),
            }
        )
    return pd.DataFrame(rows)
