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
    units: np.ndarray | None = None,
    districts: np.ndarray | None = None,
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
    units : numpy.ndarray, optional
        ``(U, T, n)`` the same counts split by the unit that reported them (police, schools,
        hospitals...). With them, each alarmed window's rise is checked with
        :func:`carried_by_one_unit`: a rise that one unit carries is a reporting change.
    districts : numpy.ndarray, optional
        District of each area. With ``units``, a window's rise is also a reporting change
        when its district's rise since the same onset is carried by one unit and that unit
        is the window's largest excess (a campaign spreads over a whole district; one
        window's small counts may hide it).

    Returns
    -------
    pandas.DataFrame
        One row per area in input order: ``emerging``, ``alarm`` (its own window
        alarmed), ``onset`` (index of the monitored quarter where the signal began, -1
        if none), ``strength`` (observed / expected of the alarmed window since onset),
        ``cusum`` (last ``S`` of its window), ``cusum_max``, ``threshold``, ``p_value``
        (Monte-Carlo, of its window's ``max S``), ``dispersion``, ``rise_kind``
        (``risk``, ``reporting`` when every alarmed window that made the area emerging
        was carried by one reporting unit, "" when not emerging) and ``own_observed``,
        ``own_expected`` (the area's own counts since its onset, against its baseline).
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
    reporting = np.zeros(len(alarm), bool)
    if units is not None:
        units_n = np.stack([np.asarray(np.asarray(u, float) @ m.T) for u in units])
        reporting = carried_by_one_unit(units_n, expected, onset, baseline, ratio)
        if districts is not None:
            reporting |= _district_reporting(units, counts, population, units_n, expected,
                                             onset, baseline, ratio, np.asarray(districts))  # fmt: skip
        reporting &= alarm
    risk_rise = alarm & ~reporting
    for i in np.flatnonzero(alarm):
        o = onset[i]
        for j in m.indices[m.indptr[i] : m.indptr[i + 1]]:
            if own_o[o:, j].sum() > ratio * own_e[o:, j].sum():
                risk_rise[j] |= not reporting[i]
                out.loc[j, "emerging"] = True
                if out.loc[j, "onset"] < 0 or o < out.loc[j, "onset"]:
                    out.loc[j, "onset"] = o
                out.loc[j, "strength"] = np.nanmax([out.loc[j, "strength"], strength[i]])
                out.loc[j, "p_value"] = min(out.loc[j, "p_value"], p_value[i])
    out["rise_kind"] = np.where(out["emerging"], np.where(risk_rise, "risk", "reporting"), "")
    own = out["onset"].to_numpy()
    out["own_observed"] = [own_o[o:, j].sum() if o >= 0 else np.nan for j, o in enumerate(own)]
    out["own_expected"] = [own_e[o:, j].sum() if o >= 0 else np.nan for j, o in enumerate(own)]
    return out


def carried_by_one_unit(
    units: np.ndarray, expected: np.ndarray, onset: np.ndarray, baseline: int, ratio: float
) -> np.ndarray:
    """Whether each window's rise since its onset is carried by one reporting unit.

    The window's expected count since the onset is shared among the units as in its
    baseline; the unit with the largest excess (observed − its share) is set aside, and the
    rise is that unit's when the other units' counts no longer favour a rise: their
    observed ≤ ``ratio`` × their expected (the member rule of :func:`early_warning`). A rise
    of risk raises every unit's reports and survives; a campaign, a new form or a
    data-entry change in one unit does not.

    Parameters
    ----------
    units : numpy.ndarray
        ``(U, T, n)`` counts per reporting unit, quarter (baseline first) and window.
    expected : numpy.ndarray
        ``(T − baseline, n)`` expected counts of the monitored quarters (all units).
    onset : numpy.ndarray
        Monitored quarter of each window's onset (-1: no rise).
    baseline : int
        Baseline quarters.
    ratio : float
        Observed / expected at which the other units still favour a rise.

    Returns
    -------
    numpy.ndarray
        Boolean per window (False where there is no onset).
    """
    out = np.zeros(units.shape[2], bool)
    base = units[:, :baseline].sum(axis=1)  # (U, n)
    share = (base + 0.5) / (base + 0.5).sum(axis=0, keepdims=True)
    for i in np.flatnonzero(onset >= 0):
        o = onset[i]
        obs = units[:, baseline + o :, i].sum(axis=1)
        exp = share[:, i] * expected[o:, i].sum()
        top = int(np.argmax(obs - exp))
        rest_o, rest_e = obs.sum() - obs[top], exp.sum() - exp[top]
        rise_top, rise_rest = obs[top] / exp[top] - 1, rest_o / max(rest_e, 1e-12) - 1
        # the unit itself rose, clearly (its own ratio and a Poisson z of 2)
        rose = obs[top] > ratio * exp[top] and obs[top] - exp[top] >= 2 * np.sqrt(exp[top])
        out[i] = rose and (rest_o <= ratio * rest_e or rise_rest <= rise_top / SHARED_RISE)
    return out


#: A rise is one unit's when the other units rose by less than 1 / SHARED_RISE of its rise.
SHARED_RISE = 3.0


def _top_unit(units: np.ndarray, expected: np.ndarray, o: int, baseline: int) -> int:
    """The unit with the largest excess of one window (``(U, T)``, ``expected`` (T − b,))."""
    base = units[:, :baseline].sum(axis=1)
    share = (base + 0.5) / (base + 0.5).sum()
    return int(np.argmax(units[:, baseline + o :].sum(axis=1) - share * expected[o:].sum()))


def _district_reporting(units, counts, population, units_n, expected, onset, baseline, ratio,
                        districts) -> np.ndarray:  # fmt: skip
    """Windows whose district's rise since the window's onset is one unit's, the unit that
    also carries the window's largest excess (see :func:`early_warning`)."""
    names, code = np.unique(districts, return_inverse=True)
    d = np.zeros((len(names), len(districts)))
    d[code, np.arange(len(districts))] = 1.0
    units_d = np.einsum("utn,dn->utd", units, d)
    expected_d = baseline_expected(counts @ d.T, population @ d.T, baseline)
    out = np.zeros(len(onset), bool)
    for i in np.flatnonzero(onset >= 0):
        k, o = code[i], onset[i]
        one = np.full(len(names), -1)
        one[k] = o
        if not carried_by_one_unit(units_d, expected_d, one, baseline, ratio)[k]:
            continue
        same = _top_unit(units_d[:, :, k], expected_d[:, k], o, baseline)
        out[i] = same == _top_unit(units_n[:, :, i], expected[:, i], o, baseline)
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
