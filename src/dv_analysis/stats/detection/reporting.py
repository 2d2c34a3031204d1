"""Is a rise a reporting change? The checks the early warning (:mod:`.early_warning`) runs
on each alarmed window when the counts come split by the unit that reported them (police,
schools, hospitals, ...): a rise that vanishes once its district's reporting changes are
taken out (:func:`without_reporting_changes`) is a reporting change (a campaign, a new
form); a rise that stands but that one unit carries, in the window or in its district
(:func:`carried_by_one_unit`), is kept as a rise that comes mostly through that unit."""

from __future__ import annotations

import numpy as np
from scipy.stats import hypergeom

from dv_analysis.stats.detection.cusum import baseline_expected

__all__ = [
    "REST_Z",
    "UNIT_LEVEL",
    "UNIT_Z",
    "carried_by_one_unit",
    "district_unit_shares",
    "reporting_changes",
    "share_departure",
    "without_reporting_changes",
]


def reporting_changes(
    counts, population, units, districts, m, expected, onset, alarms, baseline, ratio, c
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which windows' rises are reporting changes, and which are carried by one unit.

    Two answers, kept apart because they call for different outreach (issue 39):

    * a **reporting change** (a campaign, a new form): with ``districts``, the window no
      longer alarms once its district's reporting changes are taken out
      (:func:`without_reporting_changes`: a unit's share of the *district's* counts rose
      while the others' did not). Its extra counts are the unit's, not the village's.
    * a rise **carried by one unit**: the window still alarms on those counts, but its
      extra counts sit mostly in one unit, in the window (:func:`carried_by_one_unit`) or
      in its district. A real rise that one unit sees (police see most of an
      intimate-partner rise) looks like this, and so does a campaign too small to show in
      its district's shares: it is kept as a rise, said to come mostly through that unit.

    Without ``districts`` nothing is called a reporting change: a window carried by one
    unit is such a rise.

    Parameters
    ----------
    counts, population : numpy.ndarray
        ``(T, n)`` per quarter and area, oldest first.
    units : numpy.ndarray
        ``(U, T, n)`` the counts split by reporting unit.
    districts : numpy.ndarray or None
        District of each area.
    m : scipy.sparse matrix
        ``(n, n)`` windows (areas and their neighbours).
    expected : numpy.ndarray
        ``(T − baseline, n)`` each window's expected counts in the monitored quarters.
    onset : numpy.ndarray
        Each window's onset (index of a monitored quarter; -1 if none).
    alarms : callable
        ``alarms(adjusted_counts) -> bool array``: which windows would alarm on other counts.
    baseline : int
        Baseline quarters.
    ratio : float
        Observed / expected above which a unit or an area counts as risen.
    c : float
        Overdispersion of the window sums.

    Returns
    -------
    reporting : numpy.ndarray
        ``(n,)`` bool: the window's rise is a reporting change.
    one_unit : numpy.ndarray
        ``(n,)`` bool: the window's rise stands, carried mostly by one unit.
    top_unit : numpy.ndarray
        ``(n,)`` int: the unit with the window's largest excess since its onset (-1 where
        there is no onset).
    """
    units_n = np.stack([np.asarray(np.asarray(u, float) @ m.T) for u in units])
    carried = carried_by_one_unit(units_n, expected, onset, baseline, ratio, c)
    reporting = np.zeros_like(carried)
    if districts is not None:
        districts = np.asarray(districts)
        carried |= _district_reporting(
            units, counts, population, units_n, expected, onset, baseline, ratio, districts, c
        )
    top = np.array(
        [
            _top_unit(units_n[:, :, i], expected[:, i], o, baseline) if o >= 0 else -1
            for i, o in enumerate(onset)
        ]
    )
    if districts is not None:
        adjusted = without_reporting_changes(counts, units, districts, baseline, ratio)
        reporting = ~alarms(adjusted) & (onset >= 0)
    return reporting, carried & ~reporting, top


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


def district_unit_shares(
    units: np.ndarray,
    districts: np.ndarray,
    baseline: int,
    ratio: float,
    level: float | None = None,
) -> dict[str, np.ndarray]:
    """Each unit's count in each district and quarter against what the other units predict.

    A reporting change is one unit's share of a district's counts rising in a monitored
    quarter while the others' do not: its count exceeds what the other units' counts
    predict at its baseline share (``others × q / (1 − q)``) by the factor ``ratio``, and
    the one-sided Fisher exact test of the 2 × 2 table (this quarter / the baseline ×
    this unit / the others) gives a p-value of at most ``level`` (default
    :data:`UNIT_LEVEL`). A rise of risk raises every unit's reports alike and leaves the
    shares as they were. The exact test holds its level where counts are small (a normal
    z of the share called 1.7 % of district-unit-quarters with nothing changed at a
    nominal 0.5 %: ``tests/stats/detection/test_early_warning.py``).

    Parameters
    ----------
    units : numpy.ndarray
        ``(U, T, n)`` counts per reporting unit, quarter (baseline first) and area.
    districts : numpy.ndarray
        ``(n,)`` district of each area.
    baseline : int
        Baseline quarters (the shares are theirs).
    ratio : float
        Smallest rise of the unit against the others' prediction.
    level : float, optional
        Largest p-value of a reporting change.

    Returns
    -------
    dict
        ``districts`` (the ``D`` sorted district names), ``code`` (``(n,)`` each area's
        district index), ``observed``, ``predicted``, ``p_value`` and ``changed``
        (``(U, T, D)``; ``changed`` is False in the baseline quarters) and ``share``
        (``(U, D)`` the baseline shares).

    Examples
    --------
    >>> import numpy as np
    >>> units = np.full((2, 6, 2), 20.0)  # two units, six quarters, two areas
    >>> units[0, 4:, 0] = 60.0  # unit 0 triples in area 0's district in the last two
    >>> out = district_unit_shares(units, np.array(["a", "b"]), baseline=4, ratio=1.23)
    >>> out["changed"][0, :, 0].tolist()
    [False, False, False, False, True, True]
    >>> bool(out["changed"][:, :, 1].any())
    False
    """
    level = UNIT_LEVEL if level is None else level
    units = np.asarray(units, float)
    names = np.unique(np.asarray(districts))
    code, d = _district_indicator(districts)
    by_d = units @ d  # (U, T, D)
    base_u = by_d[:, :baseline].sum(axis=1)  # (U, D)
    q = (base_u + 0.5) / (base_u + 0.5).sum(axis=0, keepdims=True)  # baseline shares
    total = by_d.sum(axis=0)  # (T, D)
    others = total[None] - by_d
    predicted = others * (q / (1 - q))[:, None, :]
    base_o = base_u.sum(axis=0)[None] - base_u  # the other units' baseline counts
    a, c = by_d, base_u[:, None, :]
    p_value = hypergeom.sf(a - 1, a + others + c + base_o[:, None, :], a + c, a + others)
    changed = (by_d > ratio * predicted) & (p_value <= level)
    changed[:, :baseline] = False
    return {
        "districts": names,
        "code": code,
        "observed": by_d,
        "predicted": predicted,
        "p_value": p_value,
        "changed": changed,
        "share": q,
    }


#: Largest one-sided p-value of a unit's share of a district-quarter from which it is a
#: reporting change (0.5 %, as :data:`UNIT_Z` for one window).
UNIT_LEVEL = 0.005


def without_reporting_changes(
    counts: np.ndarray,
    units: np.ndarray,
    districts: np.ndarray,
    baseline: int,
    ratio: float,
    level: float | None = None,
) -> np.ndarray:
    """The area counts with each district's reporting changes taken out.

    In each district-quarter where a unit's share rose (:func:`district_unit_shares`), each
    area's count of that unit is capped at what its own other units' counts predict at the
    district's baseline share. :func:`early_warning` calls a window's alarm a reporting
    change when it would not sound on these counts: a campaign one quarter old is then told
    apart even when the window's own rise began, by noise, a quarter or two before it.

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
    level : float, optional
        Largest p-value of a reporting change (:func:`district_unit_shares`).

    Returns
    -------
    numpy.ndarray
        ``(T, n)`` counts; equal to ``counts`` where no reporting change is found.
    """
    units = np.asarray(units, float)
    shares = district_unit_shares(units, districts, baseline, ratio, level)
    code, q = shares["code"], shares["share"]
    out = np.asarray(counts, float).copy()
    for u, t, k in zip(*np.nonzero(shares["changed"]), strict=True):
        area = code == k
        rest = np.maximum(out[t, area] - units[u, t, area], 0.0)
        out[t, area] = rest + units[u, t, area].clip(max=rest * q[u, k] / (1 - q[u, k]))
    return out


def share_departure(
    k, n, k_history, n_history, *, ratio: float, z: float | None = None, direction: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Whether a share of this quarter departs from the same share over its own history.

    The conditional binomial test of :func:`carried_by_one_unit` (whose exact, Fisher form
    :func:`district_unit_shares` uses for a district's quarter, where counts are small),
    applied to any share: given the ``m = k + K`` counts
    of this quarter (``k`` of ``n``) and of the history quarters pooled (``K`` of ``N``),
    this quarter's part is binomial with ``q = n / (n + N)`` when the share did not change;
    ``z = (k − m q) / √(φ m q (1 − q))``. It departs upwards (``direction`` 1) when ``k / n``
    exceeds ``ratio`` × the history's share ``K / N`` and ``z`` is at least the threshold
    (default :data:`UNIT_Z`, one-sided 0.5 %); downwards (``direction`` −1) when
    ``k / n < (K / N) / ratio`` and ``z`` is at most minus the threshold. ``φ`` is the
    history's own overdispersion: Pearson's χ² of the history quarters against ``K / N``
    over their degrees of freedom, never below 1 (a share that wanders from quarter to
    quarter needs a larger departure). Rows with fewer than two history quarters never depart.

    Parameters
    ----------
    k, n : array_like
        ``(m,)`` this quarter's count and its total, one per share tested.
    k_history, n_history : array_like
        ``(m, H)`` the same in earlier quarters; NaN where a quarter has no data.
    ratio : float
        Smallest relative change (of the shares, or its inverse downwards).
    z : float, optional
        Smallest binomial z (default :data:`UNIT_Z`).
    direction : int
        1 tests a rise, −1 a fall.

    Returns
    -------
    tuple of numpy.ndarray
        ``(m,)`` the z of each share (NaN without history) and whether it departs.

    Examples
    --------
    >>> z, out = share_departure([40], [100], [[5, 6, 4]], [[100, 100, 100]], ratio=1.23)
    >>> bool(out[0]), round(float(z[0]), 1)
    (True, 8.2)
    """
    z = UNIT_Z if z is None else z
    k, n = np.asarray(k, float), np.asarray(n, float)
    kh, nh = np.asarray(k_history, float), np.asarray(n_history, float)
    have = np.isfinite(kh) & np.isfinite(nh) & (nh > 0)
    kh, nh = np.where(have, kh, 0.0), np.where(have, nh, 0.0)
    quarters = have.sum(axis=1)
    big_k, big_n = kh.sum(axis=1), nh.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p0 = (big_k + 0.5) / (big_n + 1.0)
        var = np.maximum(nh * p0[:, None] * (1 - p0[:, None]), 1e-12)
        chi2 = np.where(have, (kh - nh * p0[:, None]) ** 2 / var, 0.0).sum(axis=1)
        phi = np.maximum(np.where(quarters > 1, chi2 / (quarters - 1), 1.0), 1.0)
        m, q = k + big_k, n / (n + big_n)
        score = (k - m * q) / np.sqrt(np.maximum(phi * m * q * (1 - q), 1e-12))
        share = k / n
    score = np.where((quarters >= 2) & (n > 0) & (m > 0), score, np.nan)
    if direction > 0:
        out = (share > ratio * p0) & (score >= z)
    else:
        out = (share < p0 / ratio) & (score <= -z)
    return score, out & np.isfinite(score)


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


def _district_reporting(
    units, counts, population, units_n, expected, onset, baseline, ratio, districts, c=0.0
) -> np.ndarray:
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
