"""Responsibility areas (issue 42): contiguous, balanced partitions on lattices with known
answers, checked against brute force and against spopt's regionalisers."""

from itertools import product

import geopandas as gpd
import libpysal
import numpy as np
import pytest
import shapely

from dv_analysis.stats.planning import regions as R


def _lattice(rows: int, cols: int):
    """A rook lattice of unit squares: neighbours, points, polygons."""
    w = libpysal.weights.lat2W(rows, cols, rook=True)
    nb = [list(w.neighbors[i]) for i in range(rows * cols)]
    xy = np.array([(i % cols, i // cols) for i in range(rows * cols)], float)
    polys = [shapely.box(x, y, x + 1, y + 1) for x, y in xy]
    return nb, xy, gpd.GeoDataFrame(geometry=polys)


def test_islands_and_a_pair_of_islands_are_linked_to_the_rest():
    """Two villages touching only each other, and one alone, far from a connected block:
    each part is linked by its closest pair, and the graph becomes connected."""
    nb = {0: [1], 1: [0, 2], 2: [1], 3: [4], 4: [3], 5: []}
    xy = np.array([[0, 0], [1, 0], [2, 0], [10, 0], [11, 0], [0, 8.0]])
    out, links = R.connected_neighbours(nb, xy)
    assert sorted(links) == [(3, 2), (5, 0)]
    assert R.is_contiguous(np.zeros(6, int), out)
    assert all(j in out[i] for i, j in links) and all(i in out[j] for i, j in links)


def test_every_village_is_in_exactly_one_contiguous_area_within_the_band():
    """A 12 × 12 lattice of equal loads in 12 areas: 12 villages each is the only way to be
    inside a band of ±5 %; every area is one piece."""
    nb, xy, _ = _lattice(12, 12)
    part = R.balanced_regions(nb, xy, np.ones(144), 12, band=0.05, seed=1)
    assert part.labels.shape == (144,) and set(part.labels) == set(range(12))
    assert R.is_contiguous(part.labels, nb)
    assert np.allclose(part.loads, 12.0) and part.mean == 12.0


def test_heavy_villages_are_balanced_by_their_neighbours():
    """Loads from 0.2 to 5 (lognormal) on a 10 × 10 lattice in 8 areas: every area within
    ±20 % of the mean; WardSpatial (spopt) on the same points, the compact partition that
    ignores loads, leaves several areas outside it."""
    from spopt.region import WardSpatial

    nb, xy, gdf = _lattice(10, 10)
    load = np.random.default_rng(4).lognormal(0.0, 0.6, 100)
    part = R.balanced_regions(nb, xy, load, 8, band=0.2, seed=0)
    dev = part.loads / part.mean - 1
    assert R.is_contiguous(part.labels, nb) and np.abs(dev).max() <= 0.2, dev
    gdf["x"], gdf["y"] = xy[:, 0], xy[:, 1]
    w = libpysal.weights.W(dict(enumerate(nb)), silence_warnings=True)
    ward = WardSpatial(gdf, w, ["x", "y"], n_clusters=8)
    ward.solve()
    loads = np.bincount(ward.labels_, weights=load)
    assert (np.abs(loads / loads.mean() - 1) > 0.2).sum() >= 2


def test_band_shares_count_the_draws_inside_a_band_fixed_in_cases():
    draws = np.array([[1.0, 1.0, 2.0], [1.0, 1.0, 1.0], [2.0, 0.0, 1.0]])
    shares, mean = R.band_shares(np.array([0, 0, 1]), draws, 0.25)
    # area loads by draw: (2, 2), (2, 1), (2, 1); mean per area 10 / 6
    assert mean == pytest.approx(10 / 6)
    lo, hi = 0.75 * mean, 1.25 * mean
    expected = [
        np.mean([lo <= x <= hi for x in (2, 2, 2)]),
        np.mean([lo <= x <= hi for x in (2, 1, 1)]),
    ]
    assert shares.tolist() == pytest.approx(expected)


def test_centres_with_capacity_give_the_least_total_travel_by_enumeration():
    """Four areas, three centres taking 2, 1 and 1 areas: the assignment is the best of all
    that respect the capacities."""
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(4), 3)
    load = rng.uniform(0.5, 2.0, 12)
    minutes = rng.uniform(5, 60, (12, 3))
    got = R.area_centres(labels, load, minutes, np.array([2, 1, 1]))
    per_area = np.array(
        [np.average(minutes[labels == a], axis=0, weights=load[labels == a]) for a in range(4)]
    )
    best = min(
        (
            c
            for c in product(range(3), repeat=4)
            if np.bincount(c, minlength=3).tolist() == [2, 1, 1]
        ),
        key=lambda c: per_area[np.arange(4), list(c)].sum(),
    )
    assert per_area[np.arange(4), got].sum() == pytest.approx(
        per_area[np.arange(4), list(best)].sum()
    )
    assert np.bincount(got, minlength=3).tolist() == [2, 1, 1]
    with pytest.raises(ValueError, match="capacity"):
        R.area_centres(labels, load, minutes, np.array([1, 1, 1]))


def test_uncertain_villages_are_edges_whose_move_keeps_both_areas_in_band():
    """A path of four villages in two areas: with a wide band the two middle villages could
    go either way; with a narrow one neither can; an end village never (the other area is
    not its neighbour)."""
    nb = [[1], [0, 2], [1, 3], [2]]
    labels = np.array([0, 0, 1, 1])
    draws = np.ones((5, 4))
    assert R.uncertain_villages(labels, nb, draws, 0.6).tolist() == [-1, 1, 0, -1]
    assert R.uncertain_villages(labels, nb, draws, 0.2).tolist() == [-1, -1, -1, -1]


def test_workers_needed_at_a_ceiling():
    """144 villages of load 1: at a ceiling of 12 cases, 12 workers; at 6, 24; a lower
    ceiling never needs fewer, and never fewer than the total over the ceiling."""
    nb, xy, _ = _lattice(12, 12)
    load = np.ones(144)
    n12, p12 = R.workers_needed(nb, xy, load, 12.0, band=0.05)
    n6, p6 = R.workers_needed(nb, xy, load, 6.0, band=0.05)
    assert (n12, n6) == (12, 24)
    assert (p6.loads <= 6 + 1e-9).mean() >= 0.9 and R.is_contiguous(p6.labels, nb)
    rng = np.random.default_rng(1)
    load = rng.lognormal(0.0, 0.5, 144)
    a, _ = R.workers_needed(nb, xy, load, 15.0)
    b, _ = R.workers_needed(nb, xy, load, 10.0)
    assert np.ceil(load.sum() / 15) <= a < b and b >= np.ceil(load.sum() / 10)


def test_same_seed_same_areas():
    nb, xy, _ = _lattice(8, 8)
    load = np.random.default_rng(0).gamma(2.0, 1.0, 64)
    a = R.balanced_regions(nb, xy, load, 6, seed=3)
    b = R.balanced_regions(nb, xy, load, 6, seed=3)
    assert (a.labels == b.labels).all()
