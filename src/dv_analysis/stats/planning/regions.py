"""Responsibility areas: villages partitioned into contiguous areas of balanced caseload,
one per social worker (one responsible worker per village; issue 42, ``docs/caseload.md``).

The partition is the districting model of Hess et al. (1965) followed by a contiguity
repair and a local search, all on the village adjacency:

1. seeds: scikit-learn's k-means on the villages' points weighted by expected caseload;
2. Hess's assignment: each village to a seed, minimising caseload × squared distance,
   each area's caseload within ``band`` of the mean (the linear relaxation, solved in-process
   by HiGHS through ``scipy.optimize.linprog``; a village split between areas goes to its
   largest share); the seeds move to their areas' weighted centres and it is solved again;
3. contiguity: a piece of an area cut off from its seed's part joins the neighbouring area
   with the least caseload;
4. local search: a boundary village moves to a neighbouring area when that lowers the
   imbalance (squared, and heavily outside the inner half of the band) plus a small
   compactness term, never splitting or emptying the area it leaves.

spopt's regionalisers (``WardSpatial``, ``Skater``, ``AZP``, ``MaxPHeuristic``) were measured
against it on Taipei (``benchmarks/timing/caseload_regions.py``): none of them balances a
sum, so their areas miss the band (numbers in ``docs/caseload.md``).

Nothing here reads a file or knows a village's name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linear_sum_assignment, linprog
from scipy.spatial import cKDTree

from dv_analysis.stats.planning.moves import components, improve, stays_connected

__all__ = [
    "Partition",
    "area_centres",
    "balanced_regions",
    "band_shares",
    "connected_neighbours",
    "is_contiguous",
    "uncertain_villages",
    "workers_needed",
]

#: Seeds each village may be assigned to in Hess's model (its nearest): keeps the linear
#: programme small (456 × 12 instead of 456 × 97) without changing its optimum in practice.
NEAREST_SEEDS = 12


@dataclass(frozen=True)
class Partition:
    """Villages in areas: ``labels`` (``(n,)`` area of each village, ``0 … k-1``), ``loads``
    (``(k,)`` expected caseload of each area), ``mean`` (the mean area load)."""

    labels: np.ndarray
    loads: np.ndarray
    mean: float


def connected_neighbours(
    neighbors: dict | list, xy: np.ndarray
) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Neighbour lists whose graph is connected: each part cut off from the largest one
    (an island, a pair of islands, an enclave the boundaries do not touch) is linked to the
    rest by its closest pair of points.

    Parameters
    ----------
    neighbors : dict or list
        Neighbours of each area by position (libpysal's ``W.neighbors`` or lists).
    xy : numpy.ndarray
        ``(n, 2)`` points of the areas (projected).

    Returns
    -------
    neighbours : list of list of int
        Symmetric neighbour lists, connected.
    links : list of tuple
        The links added, ``(i, j)`` by position.

    Examples
    --------
    >>> nb, links = connected_neighbours({0: [1], 1: [0], 2: []}, np.array([[0, 0], [1, 0], [3, 0]]))
    >>> nb, links
    ([[1], [0, 2], [1]], [(2, 1)])
    """
    n = len(xy)
    nb = [sorted({int(j) for j in neighbors[i] if int(j) != i}) for i in range(n)]
    for i in range(n):
        for j in nb[i]:
            if i not in nb[j]:
                nb[j].append(i)
    links: list[tuple[int, int]] = []
    xy = np.asarray(xy, float)
    while True:
        comp = components(nb, np.arange(n))
        if comp.max() == 0:
            return [sorted(v) for v in nb], links
        main = np.argmax(np.bincount(comp))
        rest = np.flatnonzero(comp == main)
        tree = cKDTree(xy[rest])
        part = np.flatnonzero(comp == (1 if main == 0 else 0))
        dist, idx = tree.query(xy[part])
        k = int(np.argmin(dist))
        i, j = int(part[k]), int(rest[idx[k]])
        nb[i].append(j)
        nb[j].append(i)
        links.append((i, j))


def is_contiguous(labels: np.ndarray, neighbors: list) -> bool:
    """True when every area of ``labels`` is one connected piece of the graph ``neighbors``.

    Parameters
    ----------
    labels : numpy.ndarray
        ``(n,)`` area of each village.
    neighbors : list of list of int
        Neighbours of each village by position.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_contiguous(np.array([0, 0, 1]), [[1], [0, 2], [1]])
    True
    >>> is_contiguous(np.array([0, 1, 0]), [[1], [0, 2], [1]])
    False
    """
    labels = np.asarray(labels)
    return all(
        components(neighbors, np.flatnonzero(labels == a)).max() == 0 for a in np.unique(labels)
    )


def balanced_regions(
    neighbors: list,
    xy: np.ndarray,
    load: np.ndarray,
    k: int,
    *,
    band: float = 0.2,
    seed: int = 0,
    sweeps: int = 100,
    travel: tuple[np.ndarray, float] | None = None,
    restarts: int = 1,
) -> Partition:
    """``k`` contiguous areas of the villages with balanced caseload (module docstring).

    Parameters
    ----------
    neighbors : list of list of int
        A connected adjacency (:func:`connected_neighbours`).
    xy : numpy.ndarray
        ``(n, 2)`` projected points of the villages (metres).
    load : numpy.ndarray
        ``(n,)`` expected caseload of each village (the mean over the draws).
    k : int
        Areas (workers), ``1 ≤ k ≤ n``.
    band : float
        Relative half-width of the caseload band around the mean (0.2: ±20 %).
    seed : int
        Seed of the k-means seeds and of the local search's order.
    sweeps : int
        Passes of the annealing (then improving passes until none moves a village).
    travel : tuple, optional
        ``(minutes, cap)``: ``(n, m)`` travel minutes from each village to each service
        centre, and the most minutes an area's caseload-weighted mean trip to its nearest
        centre should take (penalised above it).
    restarts : int
        Searches from different seeds (``seed``, ``seed + 1``, …); the best is kept.

    Returns
    -------
    Partition

    Examples
    --------
    >>> nb = [[1], [0, 2], [1, 3], [2]]
    >>> p = balanced_regions(nb, np.array([[0, 0], [1, 0], [2, 0], [3, 0.0]]), np.ones(4), 2)
    >>> sorted(p.loads.tolist()), p.mean
    ([2.0, 2.0], 2.0)
    """
    xy, load = np.asarray(xy, float), np.clip(np.asarray(load, float), 0.0, None)
    n = len(load)
    if not 1 <= k <= n:
        raise ValueError(f"areas must be between 1 and the {n} villages; got {k}")
    if k == 1:
        return Partition(np.zeros(n, int), np.array([load.sum()]), float(load.sum()))
    w = load + 1e-6 * max(load.mean(), 1e-9)  # a village without caseload still belongs
    best, best_score = None, np.inf
    for r in range(restarts):
        centres = _kmeans_seeds(xy, w, k, seed + r)
        for _ in range(3):
            labels = _hess(xy, w, centres, band)
            centres = np.array(  # an area left empty keeps its centre
                [
                    np.average(xy[labels == a], axis=0, weights=w[labels == a])
                    if (labels == a).any()
                    else centres[a]
                    for a in range(k)
                ]
            )
        labels = _repair(labels, neighbors, w, k)
        rng = np.random.default_rng(seed + r)
        labels, score = improve(labels, neighbors, xy, w, k, band, rng, sweeps, travel)
        if score < best_score:
            best, best_score = labels, score
    loads = np.bincount(best, weights=load, minlength=k)
    return Partition(best, loads, float(load.sum() / k))


def _kmeans_seeds(xy: np.ndarray, w: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``(k, 2)`` starting centres: k-means of the points weighted by caseload."""
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(xy, sample_weight=w)
    return km.cluster_centers_


def _hess(xy: np.ndarray, w: np.ndarray, centres: np.ndarray, band: float) -> np.ndarray:
    """Hess's assignment (linear relaxation) of each village to one of its nearest centres,
    each area's load within ``band`` of the mean; labels by the largest share."""
    n, k = len(w), len(centres)
    near = min(NEAREST_SEEDS, k)
    dist, cols = cKDTree(centres).query(xy, k=near)
    dist, cols = dist.reshape(n, near), cols.reshape(n, near)
    rows = np.repeat(np.arange(n), near)
    cols = cols.ravel()
    cost = (w[:, None] * dist**2).ravel() / max(dist.max(), 1.0) ** 2
    nvar = len(cols)
    one = sparse.csr_matrix((np.ones(nvar), (rows, np.arange(nvar))), shape=(n, nvar))
    cap = sparse.csr_matrix((w[rows], (cols, np.arange(nvar))), shape=(k, nvar))
    mean = w.sum() / k
    res = linprog(
        cost,
        A_ub=sparse.vstack([cap, -cap]).tocsr(),
        b_ub=np.r_[np.full(k, (1 + band) * mean), np.full(k, -(1 - band) * mean)],
        A_eq=one,
        b_eq=np.ones(n),
        bounds=(0, 1),
        method="highs",
    )
    if res.status != 0:  # the band cannot be met (a village above it): relax it
        return _hess(xy, w, centres, band * 2) if band < 4 else np.argmin(dist, axis=1)
    share = res.x.reshape(n, near)
    labels = cols.reshape(n, near)[np.arange(n), np.argmax(share, axis=1)]
    empty = np.setdiff1d(np.arange(k), labels)
    for a in empty:  # an area holding only parts of villages: its nearest village
        labels[int(np.argmin(((xy - centres[a]) ** 2).sum(axis=1)))] = a
    return labels


def _repair(labels: np.ndarray, nb: list, w: np.ndarray, k: int) -> np.ndarray:
    """Each area kept to its heaviest connected piece; the other pieces join the lightest
    neighbouring area, until every area is connected. An area left empty takes a village
    at the edge of the heaviest area."""
    labels = labels.copy()
    for _ in range(10 * len(labels)):
        moved = False
        for a in range(k):
            members = np.flatnonzero(labels == a)
            if len(members) == 0:
                continue
            comp = components(nb, members)
            if comp.max() == 0:
                continue
            keep = np.argmax(np.bincount(comp, weights=w[members]))
            loads = np.bincount(labels, weights=w, minlength=k)
            for v in members[comp != keep]:
                others = [labels[u] for u in nb[v] if labels[u] != a]
                if others:
                    labels[v] = min(others, key=lambda b: loads[b])
                    moved = True
        if not moved:
            break
    return _fill_empty(labels, nb, w, k)


def _fill_empty(labels: np.ndarray, nb: list, w: np.ndarray, k: int) -> np.ndarray:
    """Give every empty area one village from the edge of the heaviest area that can spare
    one without being cut in two."""
    for a in np.setdiff1d(np.arange(k), labels):
        loads = np.bincount(labels, weights=w, minlength=k)
        for donor in np.argsort(-loads):
            members = np.flatnonzero(labels == donor)
            spare = [v for v in members if len(members) > 1 and stays_connected(labels, nb, v)]
            if spare:
                labels[spare[0]] = a
                break
    return labels


def area_centres(
    labels: np.ndarray, load: np.ndarray, minutes: np.ndarray, capacity: np.ndarray | None = None
) -> np.ndarray:
    """The service centre of each area: the one with the shortest caseload-weighted mean
    travel from the area's villages; with ``capacity`` (workers of each centre, summing to
    the number of areas) each centre gets exactly that many areas, the total travel least
    (``scipy.optimize.linear_sum_assignment``).

    Parameters
    ----------
    labels : numpy.ndarray
        ``(n,)`` area of each village (``0 … k-1``).
    load : numpy.ndarray
        ``(n,)`` expected caseload of each village.
    minutes : numpy.ndarray
        ``(n, m)`` travel minutes from each village to each centre.
    capacity : numpy.ndarray, optional
        ``(m,)`` areas each centre takes.

    Returns
    -------
    numpy.ndarray
        ``(k,)`` centre of each area (column of ``minutes``).

    Examples
    --------
    >>> area_centres(np.array([0, 0, 1]), np.ones(3), np.array([[1, 9], [2, 9], [9, 1.0]]))
    array([0, 1])
    """
    labels = np.asarray(labels)
    k = int(labels.max()) + 1
    w = np.clip(np.asarray(load, float), 0.0, None) + 1e-9
    onehot = np.zeros((k, len(labels)))
    onehot[labels, np.arange(len(labels))] = w
    cost = (onehot @ minutes) / onehot.sum(axis=1, keepdims=True)  # (k, m) mean minutes
    if capacity is None:
        return np.argmin(cost, axis=1)
    capacity = np.asarray(capacity, int)
    if capacity.sum() != k:
        raise ValueError(f"the centres' capacity ({capacity.sum()}) must equal the areas ({k})")
    slots = np.repeat(np.arange(len(capacity)), capacity)
    rows, cols = linear_sum_assignment(cost[:, slots])
    out = np.empty(k, int)
    out[rows] = slots[cols]
    return out


def band_shares(labels: np.ndarray, draws: np.ndarray, band: float) -> tuple[np.ndarray, float]:
    """The share of draws in which each area's caseload lies inside the band, and the band's
    centre.

    The band is fixed in cases: ``(1 ± band)`` times the mean over the draws of the city's
    caseload per area (a worker's caseload is a number of cases, not a share of the draw's).

    Parameters
    ----------
    labels : numpy.ndarray
        ``(n,)`` area of each village.
    draws : numpy.ndarray
        ``(D, n)`` draws of each village's expected caseload.
    band : float
        Relative half-width of the band.

    Returns
    -------
    shares : numpy.ndarray
        ``(k,)`` share of the draws inside the band.
    mean : float
        The band's centre (cases per area).

    Examples
    --------
    >>> shares, mean = band_shares(np.array([0, 1]), np.array([[1.0, 1.0], [1.0, 2.0]]), 0.2)
    >>> shares.tolist(), mean
    ([1.0, 0.5], 1.25)
    """
    labels = np.asarray(labels)
    k = int(labels.max()) + 1
    onehot = np.zeros((len(labels), k))
    onehot[np.arange(len(labels)), labels] = 1.0
    per_area = np.asarray(draws, float) @ onehot  # (D, k)
    mean = float(per_area.sum(axis=1).mean() / k)
    inside = np.abs(per_area - mean) <= band * mean + 1e-12
    return inside.mean(axis=0), mean


def uncertain_villages(
    labels: np.ndarray, neighbors: list, draws: np.ndarray, band: float, share: float = 0.8
) -> np.ndarray:
    """Villages whose area the caseload does not decide: on an area's edge, and moving to a
    neighbouring area would keep both areas inside the band in at least ``share`` of the
    draws (as :func:`band_shares`: the band fixed in cases) and the area it leaves in one
    piece.

    Parameters
    ----------
    labels : numpy.ndarray
        ``(n,)`` area of each village.
    neighbors : list of list of int
        The adjacency the areas were made on.
    draws : numpy.ndarray
        ``(D, n)`` draws of each village's expected caseload.
    band : float
        Relative half-width of the band.
    share : float
        Share of the draws both areas must stay inside the band in.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` the other area each village could equally belong to, −1 where none (the
        lightest when there are several).

    Examples
    --------
    >>> draws = np.ones((1, 4))
    >>> uncertain_villages(np.array([0, 0, 1, 1]), [[1], [0, 2], [1, 3], [2]], draws, 0.6)
    array([-1,  1,  0, -1])
    """
    labels = np.asarray(labels)
    draws = np.clip(np.asarray(draws, float), 0.0, None)
    k = int(labels.max()) + 1
    onehot = np.zeros((len(labels), k))
    onehot[np.arange(len(labels)), labels] = 1.0
    per_area = draws @ onehot
    mean = per_area.sum(axis=1).mean() / k
    lo, hi = (1 - band) * mean - 1e-12, (1 + band) * mean + 1e-12
    loads = per_area.mean(axis=0)
    out = np.full(len(labels), -1)
    for v in range(len(labels)):
        a = labels[v]
        others = sorted({labels[u] for u in neighbors[v]} - {a}, key=lambda b: loads[b])
        if not others or not stays_connected(labels, neighbors, v):
            continue
        left = per_area[:, a] - draws[:, v]
        for b in others:
            joined = per_area[:, b] + draws[:, v]
            both = (left >= lo) & (left <= hi) & (joined >= lo) & (joined <= hi)
            if both.mean() >= share:
                out[v] = b
                break
    return out


def workers_needed(
    neighbors: list,
    xy: np.ndarray,
    load: np.ndarray,
    ceiling: float,
    *,
    band: float = 0.2,
    seed: int = 0,
    sweeps: int = 30,
    share: float = 0.9,
) -> tuple[int, Partition]:
    """The fewest areas (workers) whose balanced partition keeps at least ``share`` of the
    areas at or below ``ceiling`` expected cases: the dual of :func:`balanced_regions`.

    Starts at ``ceil(total / ceiling)`` (no fewer can do) and adds areas in proportion to the
    share of areas over the ceiling until enough are under it.

    Parameters
    ----------
    neighbors, xy, load, band, seed, sweeps
        As :func:`balanced_regions` (one search each, without travel: a count, not a map).
    ceiling : float
        Most expected cases an area (a worker) should hold.
    share : float
        Share of the areas that must be at or below the ceiling (0.9, as the band's test).

    Returns
    -------
    workers : int
        Areas needed (at most the number of villages).
    partition : Partition
        The partition found.

    Examples
    --------
    >>> nb = [[1], [0, 2], [1, 3], [2]]
    >>> n, p = workers_needed(nb, np.array([[0, 0], [1, 0], [2, 0], [3, 0.0]]), np.ones(4), 2.0)
    >>> n, float(p.loads.max())
    (2, 2.0)
    """
    load = np.clip(np.asarray(load, float), 0.0, None)
    if ceiling <= 0:
        raise ValueError(f"the ceiling must be positive; got {ceiling}")
    n = len(load)
    k = int(min(n, max(1, np.ceil(load.sum() / ceiling - 1e-9))))
    while True:
        part = balanced_regions(
            neighbors, xy, load, k, band=band, seed=seed, sweeps=sweeps, restarts=1
        )
        under = float((part.loads <= ceiling + 1e-9).mean())
        if under >= share or k == n:
            return k, part
        k = int(min(n, k + max(1, int(np.ceil(k * (share - under) / 2)))))
