"""Prospective early warning: a Poisson CUSUM per village neighbourhood against its own baseline.

Why this method: the emerging-hotspot categories need many quarters and Mann–Kendall
reacts slowly, so a cluster that switched on two quarters ago is missed. A prospective
space–time scan (SaTScan) would find it too, but needs a Monte-Carlo search over
cylinders at every run; the Poisson CUSUM (Lucas 1985; Rogerson & Yamada 2004 for its
use on areas) is the classic sequential test for a rate increase, reacts within one or
two periods to a sustained shift, and has one threshold per area that can be set by
simulation to a chosen false-alarm rate. Monitoring each village *with its neighbours*
(a window of the village and the villages touching it) pools the small counts the way a
circular scan window does.

For every village ``i`` and monitored quarter ``t``, with ``O`` the neighbourhood's
count and ``E`` its expected count from its own baseline,

``S_t = max(0, S_{t-1} + O_t log k − (k − 1) E_t)``,   ``S_0 = 0``,

the log-likelihood ratio of "rate × k" against "rate as before". ``E_t`` is the
neighbourhood's population in ``t`` × the city's rate in ``t`` × the neighbourhood's
relative rate over the baseline quarters (so a city-wide rise or season is not a signal,
and a village that was always high is not new). An alarm is ``max_t S_t ≥ h``, with
``h`` the ``1 − alpha`` quantile of ``max_t S_t`` under Poisson(``E``), by simulation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
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
    """Pearson dispersion of the quarterly counts about each area's mean relative rate.

    Parameters
    ----------
    counts, population : numpy.ndarray
        ``(T, n)`` baseline counts and populations.

    Returns
    -------
    float
        Σ (O − E)² / E over quarters and areas divided by its degrees of freedom, at least
        1 (Poisson); E is each area's mean relative rate × the city rate of the quarter.
    """
    counts = np.asarray(counts, float)
    e = baseline_expected(np.vstack([counts, counts]), np.vstack([population, population]),
                          len(counts), prior_strength=0.0)  # fmt: skip
    ok = e > 0
    t, n = counts.shape
    chi2 = (((counts - e) ** 2)[ok] / e[ok]).sum()
    return float(max(1.0, chi2 / max(ok.sum() - n - t, 1)))


def _draw(rng: np.random.Generator, mean: np.ndarray, phi: float, size: int) -> np.ndarray:
    """Poisson (``phi`` = 1) or negative-binomial counts with variance ``phi`` × mean."""
    if phi <= 1.0 + 1e-9:
        return rng.poisson(mean, size=(size, *mean.shape))
    shape = mean / (phi - 1.0)
    return rng.poisson(rng.gamma(np.maximum(shape, 1e-12), phi - 1.0, size=(size, *mean.shape)))


def _null_maxima(obs_n, pop_n, baseline, k, phi, simulations, seed) -> np.ndarray:
    """``max S`` of each window in replicates with no change: baseline *and* monitored
    counts drawn again around the estimated rates, the baseline re-estimated each time
    (so the threshold carries the baseline's own error), in chunks to bound memory."""
    rng = np.random.default_rng(seed)
    truth = _fitted(obs_n, pop_n, baseline)
    out = []
    for start in range(0, simulations, 200):
        size = min(200, simulations - start)
        draws = _draw(rng, truth, phi, size).astype(float)
        e = np.stack([baseline_expected(d, pop_n, baseline) for d in draws])
        out.append(poisson_cusum(draws[:, baseline:], e, k).max(axis=1))
    return np.concatenate(out)


def _fitted(obs_n: np.ndarray, pop_n: np.ndarray, baseline: int) -> np.ndarray:
    """Every quarter's expected count under "no change" (baseline relative rate throughout)."""
    return baseline_expected(np.vstack([obs_n[:baseline], obs_n]),
                             np.vstack([pop_n[:baseline], pop_n]), baseline)  # fmt: skip


def early_warning(
    counts: np.ndarray,
    population: np.ndarray,
    neighbourhoods: sp.spmatrix,
    *,
    baseline: int = 8,
    k: float = 1.5,
    alpha: float = 0.002,
    simulations: int = 999,
    seed: int = 42,
    member_ratio: float | None = None,
) -> pd.DataFrame:
    """Which areas rose above their own baseline in the monitored quarters.

    Each area's window (the area and its neighbours) is charted with a Poisson CUSUM; a
    window alarms when ``max S`` reaches the ``1 − alpha`` quantile of replicates with no
    change, drawn with the baseline's overdispersion (:func:`dispersion`) and with the
    baseline estimated again in each replicate. An area is ``emerging`` when its own
    window alarms and is still open in the last quarter, or when it lies in such a window
    and its own counts since the window's onset favour the rise: ``O ln k − (k − 1) E > 0``,
    its own CUSUM increment over those quarters, i.e. ``O / E > (k − 1) / ln k`` (≈ 1.23
    for k = 1.5). These are the members of the cluster, as a scan reports the areas of its
    window: areas whose own data support the rise the window alarmed on.

    Parameters
    ----------
    counts, population : numpy.ndarray
        ``(T, n)`` per quarter, oldest first: ``baseline`` baseline quarters, then the
        monitored ones (the last is the current quarter).
    neighbourhoods : scipy.sparse matrix
        ``(n, n)`` from :func:`neighbourhood_matrix`.
    baseline : int
        Baseline quarters.
    k : float
        Rate ratio the CUSUM is tuned to (1.5: a rise by half).
    alpha : float
        False-alarm probability per window over the monitored quarters.
    simulations : int
        Replicates under "no change" for the threshold and the p-value.
    seed : int
        Seed of the replicates.
    member_ratio : float, optional
        Own observed / expected since the onset above which an area of an alarmed window
        is a member; default ``(k − 1) / ln k``, where its own log-likelihood ratio of
        "rate × k" against "rate as before" turns positive.

    Returns
    -------
    pandas.DataFrame
        One row per area in input order: ``emerging``, ``alarm`` (its own window
        alarmed), ``onset`` (index of the monitored quarter where the signal began, -1
        if none), ``strength`` (observed / expected of the alarmed window since onset),
        ``cusum`` (last ``S`` of its window), ``cusum_max``, ``threshold``, ``p_value``
        (Monte-Carlo, of its window's ``max S``) and ``dispersion``.
    """
    counts = np.asarray(counts, float)
    population = np.asarray(population, float)
    if counts.shape[0] <= baseline:
        raise ValueError(
            f"early warning needs more than {baseline} quarters (baseline + monitored);"
            f" have {counts.shape[0]}"
        )
    m = neighbourhoods.tocsr()
    obs_n = np.asarray(counts @ m.T)
    pop_n = np.asarray(population @ m.T)
    expected = baseline_expected(obs_n, pop_n, baseline)
    observed = obs_n[baseline:]
    path = poisson_cusum(observed, expected, k)
    top = path.max(axis=0)
    phi = dispersion(counts[:baseline], population[:baseline])
    null_max = _null_maxima(obs_n, pop_n, baseline, k, phi, simulations, seed)
    threshold = np.quantile(null_max, 1 - alpha, axis=0, method="higher")
    p_value = (1 + (null_max >= top[None, :]).sum(axis=0)) / (simulations + 1)
    onset = _onsets(path)
    alarm = (top >= threshold) & (path[-1] > 0) & (top > 0)
    strength = np.array(
        [
            observed[o:, i].sum() / max(expected[o:, i].sum(), 1e-12) if o >= 0 else np.nan
            for i, o in enumerate(onset)
        ]
    )
    own_e = baseline_expected(counts, population, baseline)
    own_o = counts[baseline:]
    out = pd.DataFrame(
        {
            "emerging": alarm.copy(),
            "alarm": alarm,
            "onset": np.where(alarm, onset, -1),
            "strength": np.where(alarm, strength, np.nan),
            "cusum": path[-1],
            "cusum_max": top,
            "threshold": threshold,
            "p_value": p_value,
            "dispersion": phi,
        }
    )
    ratio = (k - 1.0) / np.log(k) if member_ratio is None else member_ratio
    for i in np.flatnonzero(alarm):
        o = onset[i]
        for j in m.indices[m.indptr[i] : m.indptr[i + 1]]:
            if own_o[o:, j].sum() > ratio * own_e[o:, j].sum():
                out.loc[j, "emerging"] = True
                if out.loc[j, "onset"] < 0 or o < out.loc[j, "onset"]:
                    out.loc[j, "onset"] = o
                out.loc[j, "strength"] = np.nanmax([out.loc[j, "strength"], strength[i]])
                out.loc[j, "p_value"] = min(out.loc[j, "p_value"], p_value[i])
    return out


def _onsets(path: np.ndarray) -> np.ndarray:
    """Index of the first quarter of the excursion still open at the end (-1 when S_T = 0)."""
    m, n = path.shape
    out = np.full(n, -1)
    for i in range(n):
        if path[-1, i] <= 0:
            continue
        t = m - 1
        while t > 0 and path[t - 1, i] > 0:
            t -= 1
        out[i] = t
    return out
