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
``h`` the ``1 − alpha`` quantile, under no change, of the largest ``max_t S_t`` over all
windows (by simulation, with the overdispersion of the window sums): ``alpha`` is the
chance that a quarterly run raises any false alarm in the city, so false alarms recur
about every ``1 / (4 alpha)`` years (SaTScan's recurrence interval).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dv_analysis.stats.detection.cusum import (
    baseline_expected,
    dispersion,
    neighbourhood_matrix,
    poisson_cusum,
)
from dv_analysis.stats.detection.reporting import reporting_changes

__all__ = [
    "TailModel",
    "baseline_expected",
    "dispersion",
    "early_warning",
    "neighbourhood_matrix",
    "poisson_cusum",
]


def _draw(rng: np.random.Generator, mean: np.ndarray, c: float, size: int) -> np.ndarray:
    """Poisson (``c`` = 0) or negative-binomial counts with variance mean + ``c`` mean²."""
    if c <= 1e-9:
        return rng.poisson(mean, size=(size, *mean.shape))
    return rng.poisson(rng.gamma(1.0 / c, c * np.maximum(mean, 1e-12), size=(size, *mean.shape)))


def _null_maxima(counts, population, m, baseline, k, c_sums, simulations, seed) -> np.ndarray:
    """``(simulations, n)`` ``max S`` of each window in replicates with no change.

    The areas' baseline *and* monitored counts are drawn again around their estimated rates
    and summed into the windows (so overlapping windows stay correlated as in the data),
    and each window's baseline is estimated again in each replicate (so the threshold
    carries the baseline's own error); in chunks to bound memory. The areas' overdispersion
    is the one whose window sums carry ``c_sums`` (measured on the sums, :func:`dispersion`):
    a sum of areas with independent noise has ``c = c_area Σ E_j² / (Σ E_j)²``, so
    ``c_area = c_sums Σ_i E_i² / Σ_i h_i E_i²`` with ``h_i`` that ratio of window ``i``."""
    rng = np.random.default_rng(seed)
    truth = _fitted(counts, population, baseline)
    e_area = truth[:baseline].mean(axis=0)
    e_win = np.asarray(m @ e_area)
    h = np.asarray(m @ e_area**2) / np.maximum(e_win**2, 1e-12)
    c = c_sums * (e_win**2).sum() / max((h * e_win**2).sum(), 1e-12)
    pop_n = np.asarray(population @ m.T)
    t, n_areas = truth.shape
    out = []
    for start in range(0, simulations, 200):
        size = min(200, simulations - start)
        draws = _draw(rng, truth, c, size).astype(float).reshape(size * t, n_areas)
        sums = np.asarray(m @ draws.T).T.reshape(size, t, -1)
        e = np.stack([baseline_expected(d, pop_n, baseline) for d in sums])
        out.append(poisson_cusum(sums[:, baseline:], e, k).max(axis=1))
    return np.concatenate(out)


def _fitted(obs_n: np.ndarray, pop_n: np.ndarray, baseline: int) -> np.ndarray:
    """Every quarter's expected count under "no change" (baseline relative rate throughout)."""
    return baseline_expected(
        np.vstack([obs_n[:baseline], obs_n]), np.vstack([pop_n[:baseline], pop_n]), baseline
    )


def early_warning(
    counts: np.ndarray,
    population: np.ndarray,
    neighbourhoods: sp.spmatrix,
    *,
    baseline: int = 8,
    k: float = 1.5,
    alpha: float = 0.05,
    simulations: int = 999,
    seed: int = 42,
    member_ratio: float | None = None,
    units: np.ndarray | None = None,
    districts: np.ndarray | None = None,
) -> pd.DataFrame:
    """Which areas rose above their own baseline in the monitored quarters.

    Each area's window (the area and its neighbours) is charted with a Poisson CUSUM. The
    alarm is calibrated city-wide, as a prospective scan is: in replicates with no change
    (drawn with the overdispersion of the window sums, :func:`dispersion`, the baseline
    estimated again in each), the largest ``max S`` over all windows is taken, and a window
    alarms when its ``max S`` reaches the ``1 − alpha`` quantile of that maximum. So
    ``alpha`` is the probability that a run with no change anywhere raises any alarm; run
    every quarter, ``1 / (4 alpha)`` years pass between false alarms on average (SaTScan's
    recurrence interval). ``p_value`` is likewise city-wide. An area is ``emerging`` when
    its own window alarms and is still open in the last quarter, or when it lies in such a
    window and its own counts since the window's onset favour the rise:
    ``O ln k − (k − 1) E > 0``, its own CUSUM increment over those quarters, i.e.
    ``O / E > (k − 1) / ln k`` (≈ 1.23 for k = 1.5). These are the members of the cluster,
    as a scan reports the areas of its window: areas whose own data support the rise.

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
        Probability that a run with no change raises an alarm in any window.
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
        :func:`reporting_changes`: a rise that one unit carries (in the window, or in its
        district when that unit is also the window's largest excess) is kept as a rise
        carried by one unit.
    districts : numpy.ndarray, optional
        District of each area. With ``units``, a window's rise is a reporting change when
        it no longer alarms once its district's reporting changes are taken out (a
        campaign spreads over a whole district; one window's small counts may hide it).

    Returns
    -------
    pandas.DataFrame
        One row per area in input order: ``emerging``, ``alarm`` (its own window
        alarmed), ``onset`` (index of the monitored quarter where the signal began, -1
        if none), ``strength`` (observed / expected of the alarmed window since onset),
        ``cusum`` (last ``S`` of its window), ``cusum_max``, ``threshold`` (city-wide),
        ``p_value`` (Monte-Carlo, city-wide, of its window's ``max S``), ``dispersion``
        (of the window sums), ``rise_kind`` (``risk``; ``one_unit`` when no alarmed window
        that made the area emerging is a rise of every unit and one is carried by one unit;
        ``reporting`` when all of them are reporting changes; "" when not emerging),
        ``rise_unit`` (index of the unit of a ``one_unit`` or ``reporting`` rise, -1 when
        none) and ``own_observed``, ``own_expected`` (the area's own counts since its
        onset, against its baseline).
    """
    counts = np.asarray(counts, float)
    population = np.asarray(population, float)
    if counts.shape[0] <= baseline:
        raise ValueError(
            f"early warning needs more than {baseline} quarters (baseline + monitored);"
            f" have {counts.shape[0]}"
        )
    if simulations // 2 * alpha < 1:
        raise ValueError(
            f"early warning: {simulations} simulations cannot set a level of {alpha}"
            f" (half of them set it: at least {int(np.ceil(2 / alpha))} are needed)"
        )
    m = neighbourhoods.tocsr()
    out, expected, onset, alarms = _windows(
        counts, population, m, baseline, k, alpha, simulations, seed
    )
    ratio = (k - 1.0) / np.log(k) if member_ratio is None else member_ratio
    # each alarmed window's kind: 2 a rise of risk, 1 one carried by one unit, 0 reporting
    kind = np.full(len(out), 2)
    top = np.full(len(out), -1)
    if units is not None:
        c = float(out["dispersion"].iloc[0])
        reporting, one_unit, top = reporting_changes(
            counts, population, units, districts, m, expected, onset, alarms, baseline, ratio, c
        )
        kind = np.where(reporting, 0, np.where(one_unit, 1, 2))
    own_e = baseline_expected(counts, population, baseline)
    return _members(out, m, counts[baseline:], own_e, onset, (kind, top), ratio)


def _windows(counts, population, m, baseline, k, alpha, simulations, seed):
    """Each window's chart, threshold and alarm calibrated city-wide (the frame
    :func:`early_warning` starts from), its expected counts and the onset of its open
    excursion."""
    obs_n, pop_n = np.asarray(counts @ m.T), np.asarray(population @ m.T)
    expected = baseline_expected(obs_n, pop_n, baseline)
    observed = obs_n[baseline:]
    path = poisson_cusum(observed, expected, k)
    top = path.max(axis=0)
    c = dispersion(obs_n[:baseline], pop_n[:baseline])
    null = _null_maxima(counts, population, m, baseline, k, c, simulations, seed)
    # the tails from one half of the replicates, the city-wide level from the other (a tail
    # fitted to the replicates it is then read on would make their p-values too large)
    half = len(null) // 2
    tails = TailModel(null[:half])
    city_min = tails.p_values(null[half:]).min(axis=1)  # each replicate's smallest p-value
    level = float(np.quantile(city_min, alpha, method="lower"))
    own_p = tails.p_values(top[None, :])[0]
    p_value = (1 + (city_min[:, None] <= own_p[None, :]).sum(axis=0)) / (len(city_min) + 1)
    onset = _onsets(path)
    alarm = (own_p <= level) & (path[-1] > 0) & (top > 0)
    strength = np.array(
        [
            observed[o:, i].sum() / max(expected[o:, i].sum(), 1e-12) if o >= 0 else np.nan
            for i, o in enumerate(onset)
        ]
    )
    out = pd.DataFrame(
        {
            "emerging": alarm.copy(),
            "alarm": alarm,
            "onset": np.where(alarm, onset, -1),
            "strength": np.where(alarm, strength, np.nan),
            "cusum": path[-1],
            "cusum_max": top,
            "threshold": tails.quantile(level),
            "p_value": p_value,
            "dispersion": c,
        }
    )

    def alarms(adjusted: np.ndarray) -> np.ndarray:
        """Which windows would alarm on ``adjusted`` area counts (``(T, n)``) instead."""
        again = poisson_cusum(np.asarray(adjusted @ m.T)[baseline:], expected, k)
        top = again.max(axis=0)
        return (tails.p_values(top[None, :])[0] <= level) & (again[-1] > 0) & (top > 0)

    return out, expected, onset, alarms


class TailModel:
    """Each window's null distribution of ``max S``: the replicates, with an exponential
    tail above their ``1 − TAIL`` quantile (the CUSUM maximum's tail is exponential:
    Siegmund 1985), so that p-values far below ``1 / replicates`` can be compared across
    windows.

    A city-wide threshold on ``max S`` itself would be set by the windows of the heaviest
    tails (large, overdispersed ones) and hold small windows to a level they rarely reach;
    a threshold on each window's own p-value (the smallest over windows, calibrated on the
    replicates: Westfall & Young's min-p) treats every window alike.

    Parameters
    ----------
    null : numpy.ndarray
        ``(R, n)`` replicates of each window's ``max S`` under no change.
    """

    TAIL = 0.1

    def __init__(self, null: np.ndarray):
        self.sorted = np.sort(np.asarray(null, float), axis=0)
        self.reps = self.sorted.shape[0]
        self.u = np.quantile(self.sorted, 1 - self.TAIL, axis=0)
        over = self.sorted - self.u
        n_over = np.maximum((over > 0).sum(axis=0), 1)
        self.rate = n_over / np.maximum(np.where(over > 0, over, 0).sum(axis=0), 1e-9)

    def p_values(self, x: np.ndarray) -> np.ndarray:
        """``P(max S ≥ x)`` of each window (columns of ``x``, ``(m, n)``)."""
        x = np.asarray(x, float)
        emp = np.empty_like(x)
        for i in range(x.shape[1]):
            below = np.searchsorted(self.sorted[:, i], x[:, i], side="left")
            emp[:, i] = (self.reps - below) / self.reps
        tail = self.TAIL * np.exp(-self.rate * (x - self.u))
        return np.where(x > self.u, tail, emp)

    def quantile(self, p: float) -> np.ndarray:
        """The ``max S`` of each window whose p-value is ``p`` (its threshold at level p)."""
        if p >= self.TAIL:
            return np.quantile(self.sorted, 1 - p, axis=0)
        return self.u + np.log(self.TAIL / p) / self.rate


def _members(out, m, own_o, own_e, onset, kinds, ratio) -> pd.DataFrame:
    """Add the members of every alarmed window (areas whose own counts since its onset
    favour the rise; the earliest onset, the strongest window and smallest p-value they
    lie in), each area's rise kind (the strongest of its windows': risk, then one unit,
    then reporting), the unit of a rise carried by one unit, and its own counts since its
    onset."""
    kind, top = kinds
    alarm = out["alarm"].to_numpy()
    strength, p_value = out["strength"].to_numpy(), out["p_value"].to_numpy()
    best = np.where(alarm, kind, -1)
    unit = np.where(alarm & (kind < 2), top, -1)
    for i in np.flatnonzero(alarm):
        o = onset[i]
        for j in m.indices[m.indptr[i] : m.indptr[i + 1]]:
            if own_o[o:, j].sum() > ratio * own_e[o:, j].sum():
                if kind[i] > best[j]:
                    best[j], unit[j] = kind[i], top[i] if kind[i] < 2 else -1
                out.loc[j, "emerging"] = True
                if out.loc[j, "onset"] < 0 or o < out.loc[j, "onset"]:
                    out.loc[j, "onset"] = o
                out.loc[j, "strength"] = np.nanmax([out.loc[j, "strength"], strength[i]])
                out.loc[j, "p_value"] = min(out.loc[j, "p_value"], p_value[i])
    names = np.array(["reporting", "one_unit", "risk"])
    out["rise_kind"] = np.where(out["emerging"], names[np.clip(best, 0, 2)], "")
    out["rise_unit"] = np.where(out["emerging"] & (best < 2), unit, -1)
    own = out["onset"].to_numpy()
    out["own_observed"] = [own_o[o:, j].sum() if o >= 0 else np.nan for j, o in enumerate(own)]
    out["own_expected"] = [own_e[o:, j].sum() if o >= 0 else np.nan for j, o in enumerate(own)]
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
