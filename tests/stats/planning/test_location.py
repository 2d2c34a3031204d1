"""Location models over posterior draws (issue 26): spopt's answers checked by enumeration,
a planted toy city, and the staff split."""

from itertools import combinations

import numpy as np
import pytest

from dv_analysis.stats.planning import location as L


def _brute_mclp(w, reach, existing, new):
    """The best coverage gain over every set of ``new`` candidates (enumeration)."""
    before = reach[:, existing].any(axis=1)
    best = 0.0
    for s in combinations(np.flatnonzero(~existing), new):
        covered = reach[:, list(s)].any(axis=1) & ~before
        best = max(best, float(w[covered].sum()))
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mclp_reaches_the_optimum_found_by_enumeration(seed):
    """spopt's MCLP, on the reduced problem (villages the existing sites miss, undominated
    candidates), gains exactly what the best of all pairs of candidates gains."""
    rng = np.random.default_rng(seed)
    villages, sites = rng.uniform(0, 12_000, (60, 2)), rng.uniform(0, 12_000, (25, 2))
    minutes = L.travel_minutes(villages, sites)
    w = rng.gamma(1.0, 1.0, 60)
    existing = np.zeros(25, bool)
    existing[:3] = True
    out = L.mclp(w, minutes, 15.0, 2, existing)
    assert out.gain == pytest.approx(_brute_mclp(w, minutes <= 15.0, existing, 2))
    assert out.chosen[:3].all() and out.chosen.sum() == 5 and len(out.new_sites) == 2
    assert set(out.new_sites).isdisjoint({0, 1, 2})


def _toy_city():
    """Two demand clusters 8 km apart (20 villages each, demand 5) and a sparse background
    (demand 0.2); candidates at each cluster's centre, two between them, two far off; one
    existing site far off."""
    rng = np.random.default_rng(4)
    a = rng.normal([2_000, 2_000], 300, (20, 2))
    b = rng.normal([10_000, 2_000], 300, (20, 2))
    background = rng.uniform(0, 12_000, (30, 2))
    villages = np.vstack([a, b, background])
    demand = np.r_[np.full(40, 5.0), np.full(30, 0.2)]
    sites = np.array(
        [
            [2_000, 2_000],
            [10_000, 2_000],
            [6_000, 2_000],
            [6_000, 4_000],
            [0, 12_000],
            [12_000, 12_000],
            [6_000, 11_000],
        ]
    )
    existing = np.array([False] * 6 + [True])
    return villages, demand, sites, existing


def test_mclp_picks_the_sites_in_the_planted_clusters():
    villages, demand, sites, existing = _toy_city()
    minutes = L.travel_minutes(villages, sites)
    out = L.mclp(demand, minutes, 20.0, 2, existing)
    assert out.new_sites.tolist() == [0, 1]
    assert out.covered[:40].all()


def test_robust_mclp_reports_how_often_each_site_is_chosen():
    """Over draws where either cluster may be the larger, the two cluster sites are chosen
    in every draw with two new sites, and the site between them never."""
    villages, demand, sites, existing = _toy_city()
    minutes = L.travel_minutes(villages, sites)
    rng = np.random.default_rng(0)
    draws = demand[None, :] * rng.gamma(4.0, 0.25, (50, len(demand)))
    out = L.robust_mclp(draws, minutes, 20.0, 2, existing)
    assert out.chosen_share[[0, 1]].tolist() == [1.0, 1.0]
    assert out.chosen_share[6] == 1.0 and out.chosen_share[[2, 3]].max() == 0.0
    assert out.most_frequent == (0, 1) and sum(out.solutions.values()) == 50
    assert (out.gain > 0).all() and len(out.gain) == 50
    one = L.robust_mclp(draws, minutes, 20.0, 1, existing)
    assert set(np.flatnonzero(one.chosen_share[:6] > 0)) <= {0, 1}


def test_existing_sites_count_for_nothing_new():
    """Demand the existing sites already reach is no gain: with an existing site in cluster
    A, the one new site goes to cluster B."""
    villages, demand, sites, _ = _toy_city()
    existing = np.array([True] + [False] * 6)
    minutes = L.travel_minutes(villages, sites)
    out = L.mclp(demand, minutes, 20.0, 1, existing)
    assert out.new_sites.tolist() == [1]
    before = minutes[:, 0] <= 20.0
    assert out.gain == pytest.approx(demand[out.covered & ~before].sum())
    assert out.gain >= demand[20:40].sum()


def test_p_median_on_a_line_picks_the_weighted_median():
    villages = np.array([[0.0, 0], [1_000, 0], [2_000, 0], [3_000, 0], [4_000, 0]])
    weights = np.array([1.0, 1.0, 1.0, 10.0, 1.0])
    out = L.p_median(weights, L.travel_minutes(villages, villages), 1)
    assert np.flatnonzero(out.chosen).tolist() == [3]
    assert (out.assigned == 3).all()


def _brute_p_median(w, cost, existing, new):
    """The smallest weighted trip over every set of ``new`` free sites (enumeration)."""
    best = np.inf
    for s in combinations(np.flatnonzero(~existing), new):
        open_ = existing.copy()
        open_[list(s)] = True
        best = min(best, float(w @ cost[:, open_].min(axis=1)))
    return best


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_p_median_with_fixed_sites_matches_enumeration_and_spopts_full_model(seed):
    """The reduced model (fixed sites as one column, villages they serve best left out)
    reaches the full model's optimum."""
    from spopt.locate import PMedian

    rng = np.random.default_rng(seed)
    villages, sites = rng.uniform(0, 20_000, (60, 2)), rng.uniform(0, 20_000, (14, 2))
    w = rng.gamma(0.5, 2.0, 60) * (rng.uniform(size=60) > 0.2)
    cost = L.travel_minutes(villages, sites)
    existing = np.zeros(14, bool)
    existing[:4] = True
    out = L.p_median(w, cost, 6, existing)
    assert out.chosen[:4].all() and out.chosen.sum() == 6
    trip = float(w @ cost[:, out.chosen].min(axis=1))
    assert trip == pytest.approx(_brute_p_median(w, cost, existing, 2), rel=1e-9)
    full = PMedian.from_cost_matrix(
        cost, w, p_facilities=6, predefined_facilities_arr=existing.astype(int)
    )
    full = full.solve(L._solver())
    chosen = np.array([v.varValue > 0.5 for v in full.fac_vars])
    assert trip == pytest.approx(float(w @ cost[:, chosen].min(axis=1)), rel=1e-9)


def test_lscp_counts_the_sites_every_listed_village_needs():
    villages, demand, sites, existing = _toy_city()
    minutes = L.travel_minutes(villages, sites)
    must = np.r_[np.ones(40, bool), np.zeros(30, bool)]
    out = L.lscp(minutes, 20.0, must, existing)
    assert out.sites == 3 and out.chosen[[0, 1, 6]].all() and len(out.unreachable) == 0
    far = L.lscp(minutes, 8.0, must, existing)  # 8 minutes: less than the trip's start alone
    assert len(far.unreachable) == 40 and far.sites == 1


def test_travel_minutes_slow_down_hard_to_reach_villages():
    o = np.array([[0.0, 0.0], [0.0, 0.0]])
    t = L.travel_minutes(o, np.array([[5_000.0, 0.0]]), np.array([False, True]))
    assert t[0, 0] == pytest.approx(10 + 60 * 1.3 * 5 / 15)
    assert t[1, 0] == pytest.approx(1.5 * t[0, 0])


@pytest.mark.parametrize("seed", range(5))
def test_largest_remainder_sums_to_the_total_and_is_never_negative(seed):
    rng = np.random.default_rng(seed)
    w = rng.gamma(0.5, 1.0, 12) * (rng.random(12) > 0.2) - 0.1 * (rng.random(12) > 0.9)
    out = L.largest_remainder(97, w)
    assert out.sum() == 97 and (out >= 0).all()
    assert (np.abs(out - 97 * np.clip(w, 0, None) / np.clip(w, 0, None).sum()) < 1).all()


def test_staff_split_has_intervals_around_the_proposal():
    rng = np.random.default_rng(1)
    draws = rng.gamma(20.0, 1.0, (200, 12)) * np.linspace(1, 3, 12)
    out = L.staff_split(97, draws)
    assert out.proposed.sum() == 97
    assert (out.low <= out.proposed).all() and (out.proposed <= out.high).all()
    assert (out.high - out.low).max() >= 2  # the draws disagree
    assert out.proposed[-1] > out.proposed[0]


def _spopt_tutorial_instance():
    """spopt's documented MCLP example (notebooks/mclp.ipynb, pysal/spopt, spopt 0.6–0.8):
    100 clients and 10 candidate sites simulated near a 10 × 10 street lattice (seeds 5
    and 6), weights ``randint(1, 12)`` after ``numpy.random.seed(0)``, network distances
    from spaghetti. The tutorial prints the first cost rows, checked here first."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import geopandas
        import spaghetti
        from spopt.locate import simulated_geo_points

        lattice = spaghetti.regular_lattice((0, 0, 10, 10), 9, exterior=True)
        ntw = spaghetti.Network(in_data=lattice)
        streets = spaghetti.element_as_gdf(ntw, arcs=True)
        buffered = geopandas.GeoDataFrame(
            geometry=geopandas.GeoSeries(streets["geometry"].buffer(0.5).union_all()),
            crs=streets.crs,
        )
        clients = simulated_geo_points(buffered, needed=100, seed=5)
        facilities = simulated_geo_points(buffered, needed=10, seed=6)
        ntw.snapobservations(clients, "clients", attribute=True)
        ntw.snapobservations(facilities, "facilities", attribute=True)
        network = ntw.allneighbordistances(
            sourcepattern=ntw.pointpatterns["clients"],
            destpattern=ntw.pointpatterns["facilities"],
        )
        snapped = [
            spaghetti.element_as_gdf(ntw, pp_name=name, snapped=True).geometry.get_coordinates()
            for name in ("clients", "facilities")
        ]
    straight = np.hypot(*(snapped[0].to_numpy()[:, None, :] - snapped[1].to_numpy()[None]).T).T
    np.random.seed(0)  # the tutorial's own draw of the weights
    weights = np.random.randint(1, 12, 100)
    return network, straight, weights


@pytest.mark.slow(seconds=5, why="spaghetti builds the tutorial's street network")
def test_spopts_documented_mclp_example_gives_its_documented_answers():
    """The tutorial's three answers, 4 sites within 4 units: 72.0 % of clients covered
    with network distances, 87.0 % with straight-line distances between the points snapped
    to the streets, and 70.0 % with straight lines when sites 0, 1 and 3 stand already
    and one more is added. Our :func:`~dv_analysis.stats.planning.location.mclp` (reduced problem,
    model re-solved per objective) must find the same optima on the same instance."""
    network, straight, weights = _spopt_tutorial_instance()
    assert weights.sum() == 579  # printed in the tutorial
    np.testing.assert_allclose(
        network[0, :5], [13.39951703, 15.61157572, 4.39383189, 8.40604635, 3.73034161], atol=1e-6
    )
    np.testing.assert_allclose(
        network[-2, :5], [3.17082521, 5.3828839, 8.46641298, 1.82264547, 6.49835021], atol=1e-6
    )
    for cost, share in ((network, 72.0), (straight, 87.0)):
        out = L.mclp(weights, cost, 4.0, 4)
        assert out.chosen.sum() == 4
        assert 100 * out.covered.mean() == pytest.approx(share)
    existing = np.isin(np.arange(10), [0, 1, 3])
    fixed = L.mclp(weights, straight, 4.0, 1, existing)
    assert fixed.chosen[[0, 1, 3]].all() and fixed.chosen.sum() == 4
    assert 100 * fixed.covered.mean() == pytest.approx(70.0)
