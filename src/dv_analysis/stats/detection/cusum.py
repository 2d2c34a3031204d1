"""The parts of the early warning's chart (:mod:`.early_warning`): each area's neighbourhood
(its window), its baseline expected counts, the Poisson CUSUM and the overdispersion of the
window sums."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def neighbourhood_matrix(neighbours: dict, ids) -> sp.csr_matrix:
    """Sparse 0/1 matrix ``M`` with ``M[i, j] = 1`` when ``j`` is ``i`` or touches it.

    Parameters
    ----------
    neighbours : dict
        Area id → ids of its neighbours (as :func:`dv_analysis.stats.weights.contiguity`).
    ids : sequence
        The areas in the order of the count arrays.

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(n, n)``; ``counts @ M.T`` sums each area's neighbourhood.
    """
    ids = list(ids)
    pos = {v: i for i, v in enumerate(ids)}
    rows, cols = [], []
    for i, v in enumerate(ids):
        for j in {v, *neighbours.get(v, ())}:
            if j in pos:
                rows.append(i)
                cols.append(pos[j])
    n = len(ids)
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


def baseline_expected(
    counts: np.ndarray, population: np.ndarray, baseline: int, prior_strength: float = 1.0
) -> np.ndarray:
    """Expected counts of the monitored quarters from each area's baseline.

    Parameters
    ----------
    counts, population : numpy.ndarray
        ``(T, n)`` counts and populations per quarter (rows oldest first); the first
        ``baseline`` rows are the baseline, the rest are monitored.
    baseline : int
        Quarters of the baseline.
    prior_strength : float
        Expected baseline events added at the city rate (shrinks the relative rate of an
        area with few baseline events towards 1).

    Returns
    -------
    numpy.ndarray
        ``(T - baseline, n)`` expected counts: population × city rate of the quarter ×
        the area's baseline relative rate.
    """
    counts = np.asarray(counts, float)
    population = np.asarray(population, float)
    city_rate = counts.sum(axis=1) / np.maximum(population.sum(axis=1), 1e-12)
    e_base = (population[:baseline] * city_rate[:baseline, None]).sum(axis=0)
    o_base = counts[:baseline].sum(axis=0)
    relative = (o_base + prior_strength) / np.maximum(e_base + prior_strength, 1e-12)
    return population[baseline:] * city_rate[baseline:, None] * relative


def poisson_cusum(observed: np.ndarray, expected: np.ndarray, k: float) -> np.ndarray:
    """The Poisson CUSUM path of each area.

    Parameters
    ----------
    observed, expected : numpy.ndarray
        ``(m, n)`` or ``(..., m, n)`` counts and expected counts of ``m`` monitored quarters.
    k : float
        The rate ratio the chart is tuned to detect (> 1).

    Returns
    -------
    numpy.ndarray
        ``S`` of the same shape: ``S_t = max(0, S_{t-1} + O_t log k - (k - 1) E_t)``.
    """
    observed = np.asarray(observed, float)
    steps = observed * np.log(k) - (k - 1.0) * np.asarray(expected, float)
    s = np.zeros(steps.shape[:-2] + steps.shape[-1:])
    out = np.empty_like(steps)
    for t in range(steps.shape[-2]):
        s = np.maximum(0.0, s + steps[..., t, :])
        out[..., t, :] = s
    return out


def dispersion(counts: np.ndarray, population: np.ndarray) -> float:
    """Overdispersion of quarterly counts about each area's mean relative rate.

    The negative-binomial (NB2) coefficient ``c`` of ``Var O = E + c E²`` by the method of
    moments: Σ [(O − E)² − E] / Σ E² over quarters and areas, at least 0 (Poisson). ``c`` is
    the squared coefficient of variation of the quarter's rate, so it carries from small
    areas to large ones, as a Pearson ratio (which grows with E) does not. Called on the
    neighbourhood sums that are tested (:func:`early_warning`), it also carries noise shared
    by neighbours.

    Parameters
    ----------
    counts, population : numpy.ndarray
        ``(T, n)`` baseline counts and populations.

    Returns
    -------
    float
        ``c ≥ 0``; E is each area's mean relative rate × the city rate of the quarter.
    """
    counts = np.asarray(counts, float)
    e = baseline_expected(
        np.vstack([counts, counts]),
        np.vstack([population, population]),
        len(counts),
        prior_strength=0.0,
    )
    ok = e > 0
    t, n = counts.shape
    # residuals about fitted means (n + t parameters) are smaller than about the true ones
    scale = ok.sum() / max(ok.sum() - n - t, 1)
    excess = scale * ((counts - e) ** 2)[ok].sum() - e[ok].sum()
    return float(max(0.0, excess / max((e[ok] ** 2).sum(), 1e-12)))
