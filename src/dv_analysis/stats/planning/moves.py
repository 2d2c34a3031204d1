"""The local search of :mod:`.regions`: boundary villages moved between neighbouring
areas by simulated annealing, never splitting or emptying an area; and the graph helpers
it shares with :mod:`.regions` (connected pieces of a set of villages)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["components", "improve", "stays_connected"]

#: Weight of compactness (load × squared distance, relative to its value after Hess's
#: assignment) against balance in the local search.
COMPACTNESS = 0.05


def components(nb: list, members: np.ndarray) -> np.ndarray:
    """Connected pieces of the graph ``nb`` restricted to ``members``.

    Parameters
    ----------
    nb : list of list of int
        Neighbours of each village by position.
    members : numpy.ndarray
        Positions of the villages to look at.

    Returns
    -------
    numpy.ndarray
        A piece number for each member, 0 for the piece of the first.

    Examples
    --------
    >>> components([[1], [0], [3], [2]], np.array([0, 1, 2, 3])).tolist()
    [0, 0, 1, 1]
    """
    inside = {int(m): -1 for m in members}
    label = 0
    for start in inside:
        if inside[start] >= 0:
            continue
        inside[start] = label
        queue = deque([start])
        while queue:
            v = queue.popleft()
            for u in nb[v]:
                if inside.get(u) == -1:
                    inside[u] = label
                    queue.append(u)
        label += 1
    return np.array([inside[int(m)] for m in members], int)


def stays_connected(labels: np.ndarray, nb: list, v: int) -> bool:
    """Whether village ``v``'s area stays one piece, and not empty, without it.

    Parameters
    ----------
    labels : numpy.ndarray
        ``(n,)`` area of each village.
    nb : list of list of int
        Neighbours of each village by position.
    v : int
        The village that would leave.

    Returns
    -------
    bool

    Examples
    --------
    >>> stays_connected(np.array([0, 0, 0]), [[1], [0, 2], [1]], 1)
    False
    >>> stays_connected(np.array([0, 0, 0]), [[1], [0, 2], [1]], 2)
    True
    """
    a = labels[v]
    rest = [u for u in np.flatnonzero(labels == a) if u != v]
    if not rest:
        return False
    return bool(components(nb, np.array(rest)).max() == 0)


def _pen(x: float, half: float) -> float:
    """:func:`_penalty` of one deviation (``half``: half the band)."""
    out = abs(x) - half
    return x * x + (50.0 * out * out if out > 0 else 0.0)


def _over(trip: float, cap: float) -> float:
    """Penalty of one area's mean trip over the cap."""
    out = trip / cap - 1
    return TRAVEL_WEIGHT * out * out if out > 0 else 0.0


def _penalty(x: np.ndarray, band: float) -> np.ndarray:
    """Imbalance of relative deviations ``x``: squared, and 50 times as much beyond half the
    band (an area there leaves the band in many draws)."""
    return x**2 + 50.0 * np.clip(np.abs(x) - band / 2, 0.0, None) ** 2


def improve(labels, nb, xy, w, k, band, rng, sweeps, travel=None) -> tuple[np.ndarray, float]:
    """Boundary villages moved between neighbouring areas to balance their loads: simulated
    annealing (a worse move is taken with probability ``exp(-Δ / T)``, ``T`` falling over
    the sweeps), the best partition seen kept, then improving moves only until none is
    left. A move never splits or empties the area it leaves.

    Parameters
    ----------
    labels : numpy.ndarray
        ``(n,)`` starting area of each village (every area one piece).
    nb : list of list of int
        Neighbours of each village by position.
    xy : numpy.ndarray
        ``(n, 2)`` points of the villages (compactness).
    w : numpy.ndarray
        ``(n,)`` load of each village.
    k : int
        Areas.
    band : float
        Relative half-width of the band: the imbalance is squared, and weighs 50 times as
        much beyond half the band.
    rng : numpy.random.Generator
        The order of the villages and the annealing's chances.
    sweeps : int
        Passes of the annealing.
    travel : tuple, optional
        ``(minutes, cap)``: ``(n, m)`` minutes from each village to each centre, and the
        cap on an area's load-weighted mean trip to its best centre (penalised above it).

    Returns
    -------
    labels : numpy.ndarray
        The best partition seen.
    score : float
        Its imbalance, compactness and travel penalty.
    """
    state = _State.start(labels, xy, w, k, band, travel)
    best, best_score = state.labels.copy(), state.score(xy, w)
    temps = ANNEAL_START * (band / 2) ** 2 * np.geomspace(1.0, 1e-3, sweeps)
    for t in [*temps, *[0.0] * sweeps]:
        changed = False
        for v in rng.permutation(len(w)):
            changed |= state.try_move(v, nb, xy, w, t, rng)
        score = state.score(xy, w)
        if score < best_score - 1e-12:
            best, best_score = state.labels.copy(), score
        if t == 0.0 and not changed:
            break
    return best, best_score


#: Starting temperature of the annealing, in units of the penalty of an area half the band
#: from the mean: a village is about a fifth of an area's caseload in Taipei, so single
#: moves are coarse and the search must be free to climb out of a local optimum.
ANNEAL_START = 100.0
#: Weight of an area's mean trip over the cap, per squared relative excess.
TRAVEL_WEIGHT = 1e4


@dataclass
class _State:
    """The local search's partition and the running sums it scores moves with: each area's
    load, load-weighted sum of points and (with ``minutes``) of minutes to every centre."""

    labels: np.ndarray
    loads: np.ndarray
    sums: np.ndarray
    mean: float
    band: float
    scale: float
    minutes: np.ndarray | None
    trips: np.ndarray | None
    cap: float

    @classmethod
    def start(cls, labels, xy, w, k, band, travel) -> _State:
        labels = labels.copy()
        loads = np.bincount(labels, weights=w, minlength=k)
        sums = np.zeros((k, 2))
        np.add.at(sums, labels, w[:, None] * xy)
        spread = (w * ((xy - sums[labels] / loads[labels, None]) ** 2).sum(1)).sum()
        minutes, trips, cap = None, None, np.inf
        if travel is not None:
            minutes, cap = w[:, None] * np.asarray(travel[0], float), float(travel[1])
            trips = np.zeros((k, minutes.shape[1]))
            np.add.at(trips, labels, minutes)
        scale = COMPACTNESS * k / max(float(spread), 1e-9)
        return cls(labels, loads, sums, w.sum() / k, band, scale, minutes, trips, cap)

    def _travel(self, trips, loads) -> np.ndarray:
        """Penalty of areas whose mean trip to their best centre is over the cap."""
        if trips is None:
            return np.zeros(len(loads))
        over = np.clip(trips.min(axis=-1) / loads / self.cap - 1, 0.0, None)
        return TRAVEL_WEIGHT * over**2

    def score(self, xy, w) -> float:
        cen = self.sums / self.loads[:, None]
        spread = (w * ((xy - cen[self.labels]) ** 2).sum(1)).sum()
        imbalance = _penalty(self.loads / self.mean - 1, self.band).sum()
        return float(imbalance + self.scale * spread + self._travel(self.trips, self.loads).sum())

    def _delta(self, v, a, b, xy, w) -> float:
        """Change of the score when village ``v`` moves from area ``a`` to ``b`` (scalar
        arithmetic: this runs some 20,000 times a partition)."""
        la, lb, wv, m, h = (
            float(self.loads[a]),
            float(self.loads[b]),
            float(w[v]),
            self.mean,
            self.band / 2,
        )
        d = (
            _pen((la - wv) / m - 1, h)
            + _pen((lb + wv) / m - 1, h)
            - _pen(la / m - 1, h)
            - _pen(lb / m - 1, h)
        )
        x, y = xy[v]
        sa, sb = self.sums[a], self.sums[b]
        da = (x - sa[0] / la) ** 2 + (y - sa[1] / la) ** 2
        db = (x - sb[0] / lb) ** 2 + (y - sb[1] / lb) ** 2
        d += self.scale * wv * (db - da)
        if self.trips is not None:
            mv, cap = self.minutes[v], self.cap
            d += _over(float((self.trips[b] + mv).min()) / (lb + wv), cap)
            d -= _over(float(self.trips[b].min()) / lb, cap)
            if la - wv > 0:
                d += _over(float((self.trips[a] - mv).min()) / (la - wv), cap)
            d -= _over(float(self.trips[a].min()) / la, cap)
        return d

    def try_move(self, v, nb, xy, w, temp, rng) -> bool:
        """Move village ``v`` to the neighbouring area that scores best, if that lowers the
        score (or by the annealing's chance); never splitting or emptying its area."""
        lab = self.labels
        a = lab[v]
        targets = {lab[u] for u in nb[v]} - {a}
        if not targets or not stays_connected(lab, nb, v):
            return False
        delta, best = min((self._delta(v, a, b, xy, w), b) for b in targets)
        if not (delta < -1e-12 or (temp > 0 and rng.random() < np.exp(-delta / temp))):
            return False
        lab[v] = best
        self.loads[a] -= w[v]
        self.loads[best] += w[v]
        self.sums[a] -= w[v] * xy[v]
        self.sums[best] += w[v] * xy[v]
        if self.trips is not None:
            self.trips[a] -= self.minutes[v]
            self.trips[best] += self.minutes[v]
        return True
