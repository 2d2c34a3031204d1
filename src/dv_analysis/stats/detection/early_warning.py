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
    e = baseline_expected(np.vstack([counts, counts]), np.vstack([population, population]),
                          len(counts), prior_strength=0.0)  # fmt: skip
    ok = e > 0
    t, n = counts.shape
    # residuals about fitted means (n + t parameters) are smaller than about the true ones
    scale = ok.sum() / max(ok.sum() - n - t, 1)
    excess = scale * ((counts - e) ** 2)[ok].sum() - e[ok].sum()
    return float(max(0.0, excess / max((e[ok] ** 2).sum(), 1e-12)))


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
    return baseline_expected(np.vstack([obs_n[:baseline], obs_n]),
                             np.vstack([pop_n[:baseline], pop_n]), baseline)  # fmt: skip


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
        ``cusum`` (last ``S`` of its window), ``cusum_max``, ``threshold`` (city-wide),
        ``p_value`` (Monte-Carlo, city-wide, of its window's ``max S``), ``dispersion``
        (of the window sums), ``rise_kind`` (``risk``, ``reporting`` when every alarmed
        window that made the area emerging was carried by one reporting unit, "" when not
        emerging) and ``own_observed``, ``own_expected`` (the area's own counts since its
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
    out, expected, onset, alarms = _windows(counts, population, m, baseline, k, alpha,
                                            simulations, seed)  # fmt: skip
    ratio = (k - 1.0) / np.log(k) if member_ratio is None else member_ratio
    reporting = np.zeros(len(out), bool)
    if units is not None:
        units_n = np.stack([np.asarray(np.asarray(u, float) @ m.T) for u in units])
        c = float(out["dispersion"].iloc[0])
        reporting = carried_by_one_unit(units_n, expected, onset, baseline, ratio, c)
        if districts is not None:
            districts = np.asarray(districts)
            reporting |= _district_reporting(units, counts, population, units_n, expected,
                                             onset, baseline, ratio, districts, c)  # fmt: skip
            adjusted = without_reporting_changes(counts, units, districts, baseline, ratio)
            reporting |= ~alarms(adjusted)
        reporting &= out["alarm"].to_numpy()
    own_e = baseline_expected(counts, population, baseline)
    return _members(out, m, counts[baseline:], own_e, onset, reporting, ratio)


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
    strength = np.array([observed[o:, i].sum() / max(expected[o:, i].sum(), 1e-12)
                         if o >= 0 else np.nan for i, o in enumerate(onset)])  # fmt: skip
    out = pd.DataFrame({
        "emerging": alarm.copy(), "alarm": alarm, "onset": np.where(alarm, onset, -1),
        "strength": np.where(alarm, strength, np.nan), "cusum": path[-1], "cusum_max": top,
        "threshold": tails.quantile(level), "p_value": p_value, "dispersion": c,
    })  # fmt: skip

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


def _members(out, m, own_o, own_e, onset, reporting, ratio) -> pd.DataFrame:
    """Add the members of every alarmed window (areas whose own counts since its onset
    favour the rise; the earliest onset, the strongest window and smallest p-value they
    lie in), each area's rise kind and its own counts since its onset."""
    alarm = out["alarm"].to_numpy()
    strength, p_value = out["strength"].to_numpy(), out["p_value"].to_numpy()
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
    units: np.ndarray,
    expected: np.ndarray,
    onset: np.ndarray,
    baseline: int,
    ratio: float,
    c: float = 0.0,
) -> np.ndarray:
    """Whether each window's rise since its onset is carried by one reporting unit.

    The window's expected count since the onset is shared among the units as in its
    baseline, and the unit with the largest excess (observed − its share) is set aside. The
    rise is that unit's (a campaign, a new form, a data-entry change) when three things
    hold: the unit itself rose clearly (observed > ``ratio`` × its share and a Poisson z of
    at least 2); it rose more than the other units, beyond what picking the largest of
    several allows (the conditional binomial test of its share of the counts, z ≥
    :data:`UNIT_Z`); and the other units did not rise (their z, with the overdispersion
    ``c``, below :data:`REST_Z`). A rise of risk raises every unit's reports: the others'
    rise is then significant, or the set-aside unit's is not out of line with theirs.

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
        Observed / expected the set-aside unit must exceed.
    c : float
        Overdispersion of the counts (``Var O = E + c E²``, :func:`dispersion`).

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
        rest_o, rest_e = obs.sum() - obs[top], max(exp.sum() - exp[top], 1e-12)
        rose = obs[top] > ratio * exp[top] and obs[top] - exp[top] >= 2 * np.sqrt(exp[top])
        q = exp[top] / (exp[top] + rest_e)  # its share of the counts if every unit rose alike
        n_all = obs[top] + rest_o
        apart = (obs[top] - n_all * q) / np.sqrt(max(n_all * q * (1 - q), 1e-12)) >= UNIT_Z
        rest_rose = (rest_o - rest_e) / np.sqrt(rest_e + c * rest_e**2) >= REST_Z
        out[i] = rose and apart and not rest_rose
    return out


#: z of the set-aside unit's share of the counts from which it rose apart from the others
#: (one-sided 0.5 %: the largest of several units' excesses is picked, so more than 1.645).
UNIT_Z = 2.58
#: z of the other units' counts against their expected from which they rose too (one-sided 5 %).
REST_Z = 1.645


def without_reporting_changes(
    counts: np.ndarray,
    units: np.ndarray,
    districts: np.ndarray,
    baseline: int,
    ratio: float,
    z: float | None = None,
) -> np.ndarray:
    """The area counts with each district's reporting changes taken out.

    A reporting change is one unit's share of a district's counts rising in a monitored
    quarter while the others' do not: its count exceeds what the other units' counts
    predict at its baseline share (``others × q / (1 − q)``) by the factor ``ratio`` and by
    a conditional binomial z of at least ``z`` (default :data:`UNIT_Z`). A rise of risk
    raises every unit's reports alike and leaves the shares as they were. In such a
    district-quarter each area's count of that unit is replaced by what its other units'
    counts predict. :func:`early_warning` calls a window's alarm a reporting change when it
    would not sound on these counts: a campaign one quarter old is then told apart even
    when the window's own rise began, by noise, a quarter or two before it.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(T, n)`` counts per quarter (baseline first) and area.
    units : numpy.ndarray
        ``(U, T, n)`` the same counts split by reporting unit.
    districts : numpy.ndarray
        ``(n,)`` district of each area.
    baseline : int
        Baseline quarters (the shares are theirs).
    ratio : float
        Smallest rise of the unit against the others' prediction.
    z : float, optional
        Smallest conditional binomial z of the unit's share.

    Returns
    -------
    numpy.ndarray
        ``(T, n)`` counts; equal to ``counts`` where no reporting change is found.
    """
    z = UNIT_Z if z is None else z
    units = np.asarray(units, float)
    code, d = _district_indicator(districts)
    by_d = units @ d  # (U, T, D)
    base = by_d[:, :baseline].sum(axis=1) + 0.5
    q = base / base.sum(axis=0, keepdims=True)  # (U, D) baseline shares
    total = by_d.sum(axis=0)  # (T, D)
    others = total[None] - by_d
    predicted = others * (q / (1 - q))[:, None, :]
    sd = np.sqrt(np.maximum(total[None] * q[:, None, :] * (1 - q[:, None, :]), 1e-12))
    changed = (by_d > ratio * predicted) & ((by_d - total[None] * q[:, None, :]) / sd >= z)
    changed[:, :baseline] = False
    out = np.asarray(counts, float).copy()
    for u, t, k in zip(*np.nonzero(changed), strict=True):
        area = code == k
        rest = np.maximum(out[t, area] - units[u, t, area], 0.0)
        out[t, area] = rest + units[u, t, area].clip(max=rest * q[u, k] / (1 - q[u, k]))
    return out


def _district_indicator(districts) -> tuple[np.ndarray, np.ndarray]:
    """Each area's district index and the ``(n, D)`` 0/1 matrix that sums areas by district."""
    names, code = np.unique(np.asarray(districts), return_inverse=True)
    d = np.zeros((len(code), len(names)))
    d[np.arange(len(code)), code] = 1.0
    return code, d


def _top_unit(units: np.ndarray, expected: np.ndarray, o: int, baseline: int) -> int:
    """The unit with the largest excess of one window (``(U, T)``, ``expected`` (T − b,))."""
    base = units[:, :baseline].sum(axis=1)
    share = (base + 0.5) / (base + 0.5).sum()
    return int(np.argmax(units[:, baseline + o :].sum(axis=1) - share * expected[o:].sum()))


def _district_reporting(units, counts, population, units_n, expected, onset, baseline, ratio,
                        districts, c=0.0) -> np.ndarray:  # fmt: skip
    """Windows whose district's rise since the window's onset is one unit's, the unit that
    also carries the window's largest excess (see :func:`early_warning`)."""
    code, d = _district_indicator(districts)
    units_d = np.asarray(units, float) @ d
    expected_d = baseline_expected(counts @ d, population @ d, baseline)
    out = np.zeros(len(onset), bool)
    for i in np.flatnonzero(onset >= 0):
        k, o = code[i], onset[i]
        one = np.full(d.shape[1], -1)
        one[k] = o
        if not carried_by_one_unit(units_d, expected_d, one, baseline, ratio, c)[k]:
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
