"""The location models are valid for every demand draw (issue 40): the draw sequence that
crashed the plan, the degenerate instances, and random small instances (hypothesis) whose
optima must equal enumeration's."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dv_analysis.stats.planning import location as L


def _best_mclp_gain(w, reach, existing, new):
    """The largest demand newly covered by any ``new`` (or fewer) candidates."""
    w = np.clip(w, 0, None)
    before = reach[:, existing].any(axis=1)
    free = np.flatnonzero(~existing)
    best = 0.0
    for s in combinations(free, min(new, len(free))):
        covered = reach[:, list(s)].any(axis=1) & ~before
        best = max(best, float(w[covered].sum()))
    return best


def _best_p_median(w, cost, existing, p):
    """The smallest demand-weighted travel over every choice of ``p`` sites, existing kept."""
    w = np.clip(w, 0, None)
    free = np.flatnonzero(~existing)
    new = min(max(p - int(existing.sum()), 0), len(free))
    best = np.inf
    for s in combinations(free, new):
        open_ = existing.copy()
        open_[list(s)] = True
        best = min(best, float((w * cost[:, open_].min(axis=1)).sum()))
    return best


def _fewest_lscp(reach, must, existing):
    """The fewest sites in all, existing kept, reaching every reachable listed village."""
    rows = np.flatnonzero(must & reach.any(axis=1))
    free = np.flatnonzero(~existing)
    for k in range(len(free) + 1):
        for s in combinations(free, k):
            open_ = existing.copy()
            open_[list(s)] = True
            if reach[np.ix_(rows, np.flatnonzero(open_))].any(axis=1).all():
                return int(open_.sum())
    raise AssertionError("every reachable village is reached when all sites are open")


def test_a_draw_without_demand_does_not_break_the_next_draw():
    """The plan's crash: a draw with no demand on any village the existing sites miss, then
    a draw with demand (PuLP left a fixed ``__dummy`` column in the re-used model and CBC
    rejected the next MPS file). Every draw must be solved to its optimum."""
    rng = np.random.default_rng(11)
    villages, sites = rng.uniform(0, 10_000, (40, 2)), rng.uniform(0, 10_000, (12, 2))
    minutes = L.travel_minutes(villages, sites)
    existing = np.zeros(12, bool)
    existing[0] = True
    reach = minutes <= 20.0
    missed = ~reach[:, existing].any(axis=1)
    draws = rng.gamma(1.0, 1.0, (6, 40))
    draws[2, missed] = 0.0  # only villages already reached have demand
    draws[3] = -1.0  # below the city's risk everywhere
    out = L.robust_mclp(draws, minutes, 20.0, 2, existing)
    for d, got in zip(draws, out.gain, strict=True):
        assert got == pytest.approx(_best_mclp_gain(d, reach, existing, 2))
    assert out.gain[2] == 0.0 and out.gain[3] == 0.0


def _line(n_villages=5, n_sites=3):
    villages = np.c_[np.arange(n_villages) * 1_000.0, np.zeros(n_villages)]
    sites = np.c_[np.arange(n_sites) * 2_000.0, np.zeros(n_sites)]
    return villages, sites, L.travel_minutes(villages, sites)


@pytest.mark.parametrize("demand", [0.0, -2.0])
def test_no_demand_anywhere_gains_nothing_and_still_answers(demand):
    _, _, minutes = _line()
    w = np.full(5, demand)
    out = L.mclp(w, minutes, 20.0, 2)
    assert out.gain == 0.0 and len(out.new_sites) <= 2
    pm = L.p_median(w, minutes, 2)
    assert pm.chosen.sum() == 2 and pm.mean_minutes == 0.0
    assert L.robust_mclp(np.full((3, 5), demand), minutes, 20.0, 1).gain.tolist() == [0, 0, 0]


def test_every_village_already_reached():
    _, _, minutes = _line()
    existing = np.array([True, False, False])
    out = L.mclp(np.ones(5), minutes, 1_000.0, 2, existing)
    assert out.gain == 0.0 and out.covered.all() and out.chosen[0]
    cover = L.lscp(minutes, 1_000.0, np.ones(5, bool), existing)
    assert cover.sites == 1 and len(cover.unreachable) == 0


def test_no_candidate_reaches_anyone():
    _, _, minutes = _line()
    out = L.mclp(np.ones(5), minutes, 1.0, 2)  # 1 minute: no trip is that short
    assert out.gain == 0.0 and len(out.new_sites) == 0 and not out.covered.any()
    cover = L.lscp(minutes, 1.0, np.ones(5, bool))
    assert cover.sites == 0 and cover.unreachable.tolist() == [0, 1, 2, 3, 4]


def test_one_candidate():
    villages, sites, minutes = _line(5, 1)
    out = L.mclp(np.ones(5), minutes, 20.0, 2)
    assert out.new_sites.tolist() == [0]
    assert out.gain == float((minutes[:, 0] <= 20.0).sum())
    assert L.p_median(np.ones(5), minutes, 1).chosen.tolist() == [True]
    assert L.lscp(minutes, 20.0, minutes[:, 0] <= 20.0).sites == 1


def test_duplicate_sites_are_one_site():
    villages = np.c_[np.arange(6) * 1_000.0, np.zeros(6)]
    sites = np.array([[0.0, 0.0], [0.0, 0.0], [5_000.0, 0.0], [5_000.0, 0.0]])
    minutes = L.travel_minutes(villages, sites)
    w = np.ones(6)
    out = L.mclp(w, minutes, 16.0, 2)
    assert out.gain == pytest.approx(_best_mclp_gain(w, minutes <= 16.0, np.zeros(4, bool), 2))
    assert len(out.new_sites) == 2 and not {0, 1} <= set(out.new_sites)
    assert L.lscp(minutes, 16.0, np.ones(6, bool)).sites == 2


def test_p_median_without_any_site_is_an_error():
    _, _, minutes = _line()
    with pytest.raises(ValueError, match="at least one site"):
        L.p_median(np.ones(5), minutes, 0)


@st.composite
def instances(draw):
    """A small city: up to 9 villages and 6 sites on a 6 km square, some sites standing,
    demand with zeros and negatives, any threshold, and possibly repeated sites."""
    n = draw(st.integers(1, 9))
    m = draw(st.integers(1, 6))
    coord = st.integers(0, 6).map(lambda k: k * 1_000.0)
    villages = np.array(draw(st.lists(st.tuples(coord, coord), min_size=n, max_size=n)))
    sites = np.array(draw(st.lists(st.tuples(coord, coord), min_size=m, max_size=m)))
    w = np.array(
        draw(st.lists(st.sampled_from([-1.0, 0.0, 0.0, 0.5, 1.0, 3.0]), min_size=n, max_size=n))
    )
    existing = np.array(draw(st.lists(st.booleans(), min_size=m, max_size=m)))
    threshold = draw(st.sampled_from([5.0, 15.0, 25.0, 40.0]))
    return L.travel_minutes(villages, sites), w, existing, threshold


_PROPERTY = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@_PROPERTY
@given(instances(), st.integers(0, 3))
def test_mclp_equals_enumeration_on_random_instances(instance, new):
    minutes, w, existing, threshold = instance
    out = L.mclp(w, minutes, threshold, new, existing)
    reach = minutes <= threshold
    assert out.gain == pytest.approx(_best_mclp_gain(w, reach, existing, new))
    assert out.chosen[existing].all() and len(out.new_sites) <= new
    assert not existing[out.new_sites].any()
    assert (out.covered == reach[:, out.chosen].any(axis=1)).all()


@_PROPERTY
@given(instances(), st.integers(1, 4))
def test_p_median_equals_enumeration_on_random_instances(instance, p):
    minutes, w, existing, _ = instance
    p = max(p, int(existing.sum()))
    out = L.p_median(w, minutes, p, existing)
    total = float((np.clip(w, 0, None) * minutes[np.arange(len(w)), out.assigned]).sum())
    assert total == pytest.approx(_best_p_median(w, minutes, existing, p), rel=1e-9, abs=1e-9)
    assert out.chosen[existing].all()
    assert out.chosen.sum() == min(p, len(existing))


@_PROPERTY
@given(instances(), st.data())
def test_lscp_equals_enumeration_on_random_instances(instance, data):
    minutes, w, existing, threshold = instance
    must = np.array(data.draw(st.lists(st.booleans(), min_size=len(w), max_size=len(w))))
    reach = minutes <= threshold
    out = L.lscp(minutes, threshold, must, existing)
    assert out.sites == _fewest_lscp(reach, must, existing)
    reachable = must & reach.any(axis=1)
    assert reach[np.ix_(np.flatnonzero(reachable), np.flatnonzero(out.chosen))].any(axis=1).all()
    assert sorted(out.unreachable) == np.flatnonzero(must & ~reach.any(axis=1)).tolist()


@pytest.mark.parametrize("seed", range(12))
def test_pruned_draws_keep_the_optimum_of_enumeration(seed):
    """Larger instances than hypothesis draws (24–30 villages, 9–12 candidates): after the
    per-draw reductions (no demand, dominated, below the greedy bound) the answer still
    equals enumeration's optimum."""
    rng = np.random.default_rng(seed)
    n, m, new = int(rng.integers(24, 31)), int(rng.integers(9, 13)), int(rng.integers(1, 4))
    reach = rng.random((n, m)) < 0.22
    w = np.where(rng.random(n) < 0.35, 0.0, rng.gamma(0.8, 2.0, n))
    picked = L._best_sites(reach, w, new)
    gain = float(w[reach[:, picked].any(axis=1)].sum())
    assert gain == pytest.approx(_best_mclp_gain(w, reach, np.zeros(m, bool), new), rel=1e-12)
    assert len(picked) <= new


def test_the_greedy_bound_prunes_on_a_city_sized_draw():
    """On 400 villages and 120 candidates most candidates leave before HiGHS is called."""
    rng = np.random.default_rng(40)
    villages, sites = rng.uniform(0, 20_000, (400, 2)), rng.uniform(0, 20_000, (120, 2))
    reach = L.travel_minutes(villages, sites) <= 25.0
    w = rng.gamma(0.5, 2.0, 400)
    seen = {}
    real = L._solve_mclp

    def spy(r, weights, new):
        seen["columns"] = r.shape[1]
        return real(r, weights, new)

    L._solve_mclp = spy
    try:
        picked = L._best_sites(reach, w, 2)
    finally:
        L._solve_mclp = real
    assert seen.get("columns", 0) < 60, seen
    best = max(float(w[reach[:, [a, b]].any(axis=1)].sum()) for a, b in combinations(range(120), 2))
    assert float(w[reach[:, picked].any(axis=1)].sum()) == pytest.approx(best)
