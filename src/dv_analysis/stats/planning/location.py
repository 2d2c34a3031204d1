"""Where services should stand, and how staff are shared: location models over posterior
draws of demand (issue 26; ``docs/service_plan.md``).

The models are PySAL's ``spopt`` (p-median, LSCP, solved in-process by HiGHS through PuLP)
and the MCLP of spopt's formulation solved in-process by HiGHS (``scipy.optimize.milp``);
nothing here writes a solver, and nothing writes a file. What is added around them:

* a travel-time model in minutes from straight-line distances (:func:`travel_minutes`):
  the public layers hold no road network;
* the MCLP with existing sites fixed, reduced to the villages those sites do not reach and
  the candidates that reach any of them (:func:`mclp`): the same optimum, a smaller problem;
* the MCLP solved on every posterior draw of demand (:func:`robust_mclp`), so that a plan
  reports how often each candidate is chosen and how much coverage it gains, not one
  answer;
* the largest-remainder split of a staff total over districts (:func:`largest_remainder`,
  :func:`staff_split`), with intervals from the draws.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.spatial.distance import cdist

#: Road distance over straight-line distance in a city street grid (a common planning
#: figure: 1.2–1.4; docs/service_plan.md).
DETOUR = 1.3
#: Average speed of a trip by public transport once under way (bus and metro with their
#: stops and changes), km/h: how a family reaches a centre.
SPEED_KMH = 15.0
#: Minutes of every trip before it moves: walking to the stop and waiting.
START_MINUTES = 10.0
#: Travel time multiplier for villages flagged hard to reach (hills, few roads).
HILL_FACTOR = 1.5


@dataclass(frozen=True)
class Cover:
    """One MCLP solution: ``chosen`` (``(m,)`` bool, existing and new), ``new_sites``
    (indices of the added sites, sorted), ``covered`` (``(n,)`` bool), ``gain`` (demand
    newly reached)."""

    chosen: np.ndarray
    new_sites: np.ndarray
    covered: np.ndarray
    gain: float


@dataclass(frozen=True)
class RobustCover:
    """The MCLP over posterior draws: ``chosen_share`` (``(m,)`` share of draws whose
    solution holds each site; 1 for existing sites), ``gain`` (``(D,)``), ``solutions``
    (Counter of the new sites' index tuples), ``most_frequent`` (the tuple solved most
    often; ties to the larger mean gain) and ``per_draw`` (each draw's :class:`Cover`)."""

    chosen_share: np.ndarray
    gain: np.ndarray
    solutions: Counter
    per_draw: list
    most_frequent: tuple


@dataclass(frozen=True)
class Median:
    """A p-median solution: ``chosen`` (``(m,)`` bool), ``assigned`` (``(n,)`` index of each
    village's site), ``mean_minutes`` (demand-weighted mean travel time)."""

    chosen: np.ndarray
    assigned: np.ndarray
    mean_minutes: float


@dataclass(frozen=True)
class SetCover:
    """An LSCP solution: ``chosen`` (``(m,)`` bool), ``sites`` (how many in all),
    ``unreachable`` (indices of villages to reach that no site can)."""

    chosen: np.ndarray
    sites: int
    unreachable: np.ndarray


@dataclass(frozen=True)
class StaffSplit:
    """A staff split: ``proposed`` (``(k,)``, sums to the total), ``low`` and ``high``
    (each group's interval over the draws)."""

    proposed: np.ndarray
    low: np.ndarray
    high: np.ndarray


def travel_minutes(
    origins: np.ndarray,
    sites: np.ndarray,
    hard_to_reach: np.ndarray | None = None,
    *,
    detour: float = DETOUR,
    speed_kmh: float = SPEED_KMH,
    start_minutes: float = START_MINUTES,
    hill_factor: float = HILL_FACTOR,
) -> np.ndarray:
    """Travel minutes from each origin (village) to each site.

    ``start_minutes + 60 · detour · d / speed`` with ``d`` the straight-line distance in
    km, times ``hill_factor`` for origins that are hard to reach.

    Parameters
    ----------
    origins, sites : numpy.ndarray
        ``(n, 2)`` and ``(m, 2)`` projected coordinates in metres.
    hard_to_reach : numpy.ndarray, optional
        ``(n,)`` bool: origins whose trips take ``hill_factor`` times as long.
    detour, speed_kmh, start_minutes, hill_factor : float
        The model's constants (module defaults documented above).

    Returns
    -------
    numpy.ndarray
        ``(n, m)`` minutes.

    Examples
    --------
    >>> travel_minutes(np.array([[0.0, 0.0]]), np.array([[0.0, 10_000.0]])).round(1)
    array([[62.]])
    """
    km = cdist(np.asarray(origins, float), np.asarray(sites, float)) / 1000.0
    out = start_minutes + 60.0 * detour * km / speed_kmh
    if hard_to_reach is not None:
        out = np.where(np.asarray(hard_to_reach, bool)[:, None], out * hill_factor, out)
    return out


def _solver():
    """PuLP's in-process HiGHS (highspy) for spopt's p-median and LSCP: no solver binary, no
    file in a temporary folder another run could touch (issue 40)."""
    import pulp

    _quiet_highs_banner()
    return pulp.HiGHS(msg=False, gapRel=0.0)  # the optimum, not HiGHS's default 0.01 % gap


@cache
def _quiet_highs_banner() -> None:
    """highspy prints its banner to the process's standard output (file descriptor 1, which
    a notebook's kernel shows on the page) when the first ``Highs`` is made, whatever the
    options; the first one is made here with that descriptor sent to the null device."""
    import highspy

    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no standard output to protect
        highspy.Highs()
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def mclp(
    weights: np.ndarray,
    minutes: np.ndarray,
    threshold: float,
    new: int,
    existing: np.ndarray | None = None,
) -> Cover:
    """Maximal covering location: ``new`` sites added to the ``existing`` ones so that the
    most demand lies within ``threshold`` minutes of a site (spopt's ``MCLP``).

    Parameters
    ----------
    weights : numpy.ndarray
        ``(n,)`` demand per village (negative values count as 0).
    minutes : numpy.ndarray
        ``(n, m)`` travel minutes from :func:`travel_minutes`.
    threshold : float
        Minutes within which a village counts as reached.
    new : int
        Sites to add.
    existing : numpy.ndarray, optional
        ``(m,)`` bool: sites that stand already (kept, not counted in ``new``).

    Returns
    -------
    Cover
        ``chosen`` (``(m,)`` bool, existing and new), ``new_sites`` (indices of the added
        sites, sorted), ``covered`` (``(n,)`` bool), ``gain`` (demand newly reached).
    """
    out = robust_mclp(np.asarray(weights, float)[None, :], minutes, threshold, new, existing)
    return out.per_draw[0]


def robust_mclp(
    draws: np.ndarray,
    minutes: np.ndarray,
    threshold: float,
    new: int,
    existing: np.ndarray | None = None,
) -> RobustCover:
    """:func:`mclp` on every posterior draw of demand (one model, re-solved per draw).

    Parameters
    ----------
    draws : numpy.ndarray
        ``(D, n)`` draws of each village's demand (negative values count as 0).
    minutes, threshold, new, existing
        As :func:`mclp`.

    Returns
    -------
    RobustCover
        ``chosen_share`` (``(m,)``: share of draws whose solution holds the site; 1 for
        existing sites), ``gain`` (``(D,)`` demand newly reached in each draw),
        ``solutions`` (Counter of the new sites' index tuples), ``most_frequent`` (the
        tuple solved most often; ties go to the larger mean gain) and ``per_draw`` (each
        draw's :func:`mclp` result).
    """
    w = np.clip(np.asarray(draws, float), 0.0, None)
    reach = np.asarray(minutes) <= threshold
    existing = np.zeros(reach.shape[1], bool) if existing is None else np.asarray(existing, bool)
    problem = _Coverage(reach, existing, (w > 0).any(axis=0), new)
    per_draw = [problem.solve(d) for d in w]
    gains = np.array([p.gain for p in per_draw])
    sets = [tuple(int(j) for j in p.new_sites) for p in per_draw]
    solutions = Counter(sets)
    best = max(solutions.values())
    tied = [s for s, c in solutions.items() if c == best]
    mean_gain = {s: gains[[k for k, x in enumerate(sets) if x == s]].mean() for s in tied}
    return RobustCover(
        chosen_share=np.mean([p.chosen for p in per_draw], axis=0),
        gain=gains,
        solutions=solutions,
        per_draw=per_draw,
        most_frequent=max(tied, key=lambda s: (mean_gain[s], [-j for j in s])),
    )


class _Coverage:
    """The MCLP of one city, reduced once and solved for any demand.

    Villages the existing sites reach, and villages with no demand in any draw, cannot
    change the optimum; nor can a candidate whose villages another candidate reaches too
    (a dominated column: swapping it for the other never loses coverage). They are left
    out once; each draw then leaves out its own villages without demand and the candidates
    that cannot be in an optimal set (:func:`_best_sites`), and the rest is solved
    in-process by HiGHS (``scipy.optimize.milp``): no solver binary and no file, so runs at
    once never share a temporary folder. spopt's own ``MCLP`` model re-used across
    objectives through PuLP failed after a draw with no demand on the kept villages (PuLP
    adds a fixed ``__dummy`` column to an empty objective and keeps it; the next MPS file
    bounds a column no row uses and CBC rejects the model: issue 40); the optima are the
    same (``tests/stats/planning/test_location_properties.py``, ``benchmarks/timing/solvers.py``).
    """

    def __init__(self, reach: np.ndarray, existing: np.ndarray, demand: np.ndarray, new: int):
        self.reach, self.existing, self.new = reach, existing, max(int(new), 0)
        self.before = reach[:, existing].any(axis=1)
        self.rows = np.flatnonzero(~self.before & demand)
        cols = np.flatnonzero(~existing & reach[self.rows].any(axis=0)) if len(self.rows) else []
        self.cols = _undominated(reach[np.ix_(self.rows, cols)], np.asarray(cols, int))
        self.sub = reach[np.ix_(self.rows, self.cols)]
        # where a draw needs fewer sites than ``new``, the rest are those reaching most villages
        self.fill = np.argsort(-self.sub.sum(axis=0), kind="stable")

    def solve(self, w: np.ndarray) -> Cover:
        """The solution for demand ``w`` (``(n,)``, clipped at 0)."""
        picked = self.cols[self._picked(w[self.rows])]
        chosen = self.existing.copy()
        chosen[picked] = True
        covered = self.reach[:, chosen].any(axis=1)
        return Cover(
            chosen=chosen,
            new_sites=np.sort(np.asarray(picked, int)),
            covered=covered,
            gain=float(w[covered & ~self.before].sum()),
        )

    def _picked(self, w: np.ndarray) -> np.ndarray:
        """Positions among ``self.cols`` of ``new`` sites (fewer if there are fewer) optimal for
        demand ``w`` of the rows, padded as ``self.fill`` orders them."""
        best = _best_sites(self.sub, w, self.new)
        pad = [j for j in self.fill if j not in set(best)][: max(self.new - len(best), 0)]
        return np.r_[best, pad].astype(int)


def _best_sites(reach: np.ndarray, w: np.ndarray, new: int) -> np.ndarray:
    """Columns of an optimal MCLP for demand ``w`` (``(r,)``) over ``reach`` (``(r, k)``).

    Exact reductions first: rows without demand leave; columns reaching none of the rest
    leave, and so do dominated ones; a column whose coverage plus the ``new − 1`` largest
    coverages of the others falls below the greedy solution's cannot be in an optimal set.
    What remains is Church & ReVelle's MCLP (as spopt's) for HiGHS. Fewer than ``new``
    columns come back when fewer add coverage.
    """
    pos = np.flatnonzero(w > 0)
    if new < 1 or not len(pos):
        return np.zeros(0, int)
    sub, wp = reach[pos], np.asarray(w, float)[pos]
    cand = np.flatnonzero(sub.any(axis=0))
    cand = _undominated(sub[:, cand], cand)
    if len(cand) <= new:
        return cand
    cover = wp @ sub[:, cand]
    top = np.sort(cover)[::-1]
    rank = np.argsort(np.argsort(-cover, kind="stable"), kind="stable")
    bound = np.where(rank < new - 1, top[:new].sum(), cover + top[: new - 1].sum())
    lower = _greedy_cover(sub[:, cand], wp, new)
    cand = cand[bound >= lower - 1e-9 * max(lower, 1.0)]
    if len(cand) <= new:
        return cand
    rows = sub[:, cand].any(axis=1)
    return cand[_solve_mclp(sub[np.ix_(rows, cand)], wp[rows], new)]


def _greedy_cover(reach: np.ndarray, w: np.ndarray, new: int) -> float:
    """Demand covered by ``new`` columns picked one at a time by their added coverage."""
    covered, total = np.zeros(reach.shape[0], bool), 0.0
    for _ in range(new):
        gain = w[~covered] @ reach[~covered]
        j = int(np.argmax(gain))
        total += float(gain[j])
        covered |= reach[:, j]
    return total


def _solve_mclp(reach: np.ndarray, w: np.ndarray, new: int) -> np.ndarray:
    """Columns of the MCLP's optimum by HiGHS (``scipy.optimize.milp``): ``x_j`` binary (site
    j opened), ``y_i`` in [0, 1] (row i covered), ``y_i ≤ Σ_j reach_ij x_j``, ``Σ_j x_j =
    new``, maximising ``Σ_i w_i y_i`` (Church & ReVelle 1974, as spopt's ``MCLP``)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array, hstack, identity

    r, k = reach.shape
    cover = hstack([-csr_array(reach.astype(float)), identity(r, format="csr")], format="csr")
    count = csr_array(np.r_[np.ones(k), np.zeros(r)][None, :])
    res = milp(
        np.r_[np.zeros(k), -w],
        integrality=np.r_[np.ones(k), np.zeros(r)],
        constraints=[LinearConstraint(cover, -np.inf, 0.0), LinearConstraint(count, new, new)],
        bounds=Bounds(0.0, 1.0),
        options={"mip_rel_gap": 0.0},
    )
    if not res.success:
        raise RuntimeError(f"MCLP not solved ({res.status}): {res.message}")
    return np.flatnonzero(res.x[:k] > 0.5)


def _undominated(reach: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The columns of ``reach`` (``(r, c)`` bool) that no other column covers entirely
    (of equal columns, the first), and that reach any row."""
    if reach.shape[1] < 2:
        return cols
    r = reach.astype(np.float32)
    overlap = r.T @ r  # rows both columns reach
    size = np.diag(overlap)
    inside = overlap >= size[None, :] - 0.5  # column j's rows all in column i's
    order = np.arange(len(size))
    larger = (size[:, None] > size[None, :]) | (
        (size[:, None] == size[None, :]) & (order[:, None] < order[None, :])
    )
    return cols[~(inside & larger).any(axis=0) & (size > 0)]


def p_median(
    weights: np.ndarray, minutes: np.ndarray, p: int, existing: np.ndarray | None = None
) -> Median:
    """p-median (spopt's ``PMedian``): ``p`` sites in all, existing ones kept, that make the
    demand-weighted travel time smallest.

    Parameters
    ----------
    weights : numpy.ndarray
        ``(n,)`` demand per village (negative values count as 0).
    minutes : numpy.ndarray
        ``(n, m)`` travel minutes from :func:`travel_minutes`.
    p : int
        Sites in all, the existing ones included.
    existing : numpy.ndarray, optional
        ``(m,)`` bool: sites that stand already (always chosen).

    Returns
    -------
    Median
        ``chosen`` (``(m,)`` bool), ``assigned`` (``(n,)`` index of each village's site),
        ``mean_minutes`` (demand-weighted mean travel time).
    """
    w = np.clip(np.asarray(weights, float), 0.0, None)
    cost = np.asarray(minutes, float)
    fixed = np.zeros(cost.shape[1], bool) if existing is None else np.asarray(existing, bool)
    if max(int(p), int(fixed.sum())) < 1 or cost.shape[1] == 0:
        raise ValueError("p-median needs at least one site to assign the villages to")
    chosen = fixed.copy()
    free = np.flatnonzero(~fixed)
    chosen[free[_p_median_new(w, cost, fixed, int(p) - int(fixed.sum()))]] = True
    assigned = np.flatnonzero(chosen)[np.argmin(cost[:, chosen], axis=1)]
    mean = float((w * cost[np.arange(len(w)), assigned]).sum() / max(w.sum(), 1e-12))
    return Median(chosen=chosen, assigned=assigned, mean_minutes=mean)


def _p_median_new(w: np.ndarray, cost: np.ndarray, fixed: np.ndarray, new: int) -> np.ndarray:
    """Positions among the free sites of the ``new`` ones spopt's ``PMedian`` opens.

    With sites fixed open, a village never goes to a free site farther than its nearest
    fixed one: the fixed sites become one column (that nearest time), and villages no free
    site brings nearer (or without demand) leave, as their cost cannot change. The optimum
    is the full model's (``tests/stats/planning/test_location.py`` compares them with enumeration).
    """
    from spopt.locate import PMedian

    free = ~fixed
    new = min(max(new, 0), int(free.sum()))
    if fixed.any():
        near = cost[:, fixed].min(axis=1)
        rows = (w > 0) & (cost[:, free] < near[:, None]).any(axis=1)
        sub = np.c_[near[rows], cost[np.ix_(rows, free)]]
        pre = np.r_[1, np.zeros(int(free.sum()), int)]
    else:
        rows = w > 0
        sub, pre = cost[rows][:, free], None
    if new == 0 or not rows.any():  # nothing to gain: the first free sites, as ties go
        return np.arange(new)
    model = PMedian.from_cost_matrix(
        sub, w[rows], p_facilities=new + int(fixed.any()), predefined_facilities_arr=pre
    )
    model = model.solve(_solver())
    opened = np.array([v.varValue > 0.5 for v in model.fac_vars])
    return np.flatnonzero(opened[1:] if fixed.any() else opened)


def lscp(
    minutes: np.ndarray,
    threshold: float,
    must_reach: np.ndarray,
    existing: np.ndarray | None = None,
) -> SetCover:
    """Location set covering (spopt's ``LSCP``): the fewest sites, existing ones kept, that
    bring every ``must_reach`` village within ``threshold`` minutes.

    Parameters
    ----------
    minutes : numpy.ndarray
        ``(n, m)`` travel minutes from :func:`travel_minutes`.
    threshold : float
        Minutes within which a village counts as reached.
    must_reach : numpy.ndarray
        ``(n,)`` bool: the villages to bring within reach (tier 2).
    existing : numpy.ndarray, optional
        ``(m,)`` bool: sites that stand already (kept, counted in ``sites``).

    Returns
    -------
    SetCover
        ``chosen`` (``(m,)`` bool), ``sites`` (how many in all), ``unreachable`` (indices
        of ``must_reach`` villages no site can reach; left out of the model).
    """
    from spopt.locate import LSCP

    reach = np.asarray(minutes) <= threshold
    rows = np.flatnonzero(np.asarray(must_reach, bool))
    unreachable = rows[~reach[rows].any(axis=1)]
    rows = rows[reach[rows].any(axis=1)]
    chosen = (
        np.zeros(reach.shape[1], bool) if existing is None else np.asarray(existing, bool).copy()
    )
    if len(rows):
        pre = None if existing is None else np.asarray(existing, int)
        cost = np.where(reach[rows], 0.0, 2.0)
        model = LSCP.from_cost_matrix(cost, service_radius=1.0, predefined_facilities_arr=pre)
        model = model.solve(_solver())
        chosen |= np.array([v.varValue > 0.5 for v in model.fac_vars])
    return SetCover(chosen=chosen, sites=int(chosen.sum()), unreachable=unreachable)


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` whole units shared in proportion to ``weights`` (Hamilton's method).

    Each share's whole part first, then one more each to the largest remainders (ties to
    the earlier). Negative weights count as 0; all zero shares equally.

    Parameters
    ----------
    total : int
        Units to share (social workers).
    weights : numpy.ndarray
        ``(k,)`` weight of each recipient (district).

    Returns
    -------
    numpy.ndarray
        ``(k,)`` whole shares, never negative, summing to ``total``.

    Examples
    --------
    >>> largest_remainder(10, np.array([5.0, 3.0, 2.0]))
    array([5, 3, 2])
    >>> largest_remainder(10, np.array([1.0, 1.0, 1.0]))
    array([4, 3, 3])
    """
    w = np.clip(np.asarray(weights, float), 0.0, None)
    if w.sum() <= 0:
        w = np.ones_like(w)
    quota = total * w / w.sum()
    out = np.floor(quota).astype(int)
    left = int(total - out.sum())
    order = np.argsort(-(quota - out), kind="stable")
    out[order[:left]] += 1
    return out


def staff_split(total: int, draws: np.ndarray, level: float = 0.9) -> StaffSplit:
    """A staff ``total`` over groups (districts) in proportion to demand, with intervals.

    Parameters
    ----------
    total : int
        Staff to share.
    draws : numpy.ndarray
        ``(D, k)`` draws of each group's demand (expected or excess incidents).
    level : float
        Width of the interval.

    Returns
    -------
    StaffSplit
        ``proposed`` (``(k,)``, the split of the mean demand; sums to ``total``), ``low``
        and ``high`` (the interval of each group's split over the draws).
    """
    draws = np.asarray(draws, float)
    per_draw = np.array([largest_remainder(total, d) for d in draws])
    a = (1 - level) / 2
    return StaffSplit(
        proposed=largest_remainder(total, draws.mean(axis=0)),
        low=np.quantile(per_draw, a, axis=0, method="lower").astype(int),
        high=np.quantile(per_draw, 1 - a, axis=0, method="higher").astype(int),
    )
