"""The Poisson CUSUM early warning: by hand, under no change, and with a planted rise."""

import numpy as np
import pytest
import scipy.sparse as sp

from dv_analysis.stats.early_warning import (
    baseline_expected,
    dispersion,
    early_warning,
    neighbourhood_matrix,
    poisson_cusum,
)


def test_cusum_by_hand():
    k = 2.0
    o = np.array([[3.0], [0.0], [6.0], [5.0]])
    e = np.full((4, 1), 2.0)
    step = o[:, 0] * np.log(k) - (k - 1) * 2.0  # 0.079, -2, 2.159, 1.466
    expected, s = [], 0.0
    for x in step:
        s = max(0.0, s + x)
        expected.append(s)
    assert poisson_cusum(o, e, k)[:, 0] == pytest.approx(expected)
    assert poisson_cusum(o, e, k)[1, 0] == 0.0


def test_neighbourhood_matrix_includes_the_area_itself():
    m = neighbourhood_matrix({"a": ["b"], "b": ["a", "c"], "c": ["b"]}, ["a", "b", "c"])
    assert m.toarray().tolist() == [[1, 1, 0], [1, 1, 1], [0, 1, 1]]


def test_a_citywide_rise_is_not_a_local_signal():
    pop = np.full((12, 3), 1000.0)
    counts = np.full((12, 3), 10.0)
    counts[8:] *= 2  # every area doubles: a season or a change of recording, not a cluster
    e = baseline_expected(counts, pop, 8)
    assert e == pytest.approx(counts[8:])


def _world(rng, rise_at=None, n=60, t=12):
    """A ring of ``n`` areas, 8 baseline + 4 monitored quarters; ``rise_at`` areas ×2.5 in the last two."""
    pop = np.full((t, n), 2000.0)
    mu = np.full((t, n), 6.0)
    if rise_at is not None:
        mu[t - 2 :, rise_at] *= 2.5
    nb = {i: [(i - 1) % n, (i + 1) % n] for i in range(n)}
    return rng.poisson(mu).astype(float), pop, neighbourhood_matrix(nb, range(n))


def test_no_change_gives_few_alarms():
    alarms = 0
    for seed in range(5):
        counts, pop, m = _world(np.random.default_rng(seed))
        alarms += early_warning(counts, pop, m, alpha=0.002, simulations=999, seed=seed)[
            "alarm"
        ].sum()
    assert alarms <= 2, "5 worlds × 60 windows at alpha 0.002 expect about 0.6 false alarms"


def test_a_planted_rise_is_found_with_its_onset():
    counts, pop, m = _world(np.random.default_rng(1), rise_at=[20, 21, 22])
    ew = early_warning(counts, pop, m, alpha=0.002, simulations=999, seed=1)
    assert ew.loc[[20, 21, 22], "emerging"].all()
    assert set(ew.index[ew["emerging"]]) <= {19, 20, 21, 22, 23}
    onset = ew.loc[[20, 21, 22], "onset"]
    assert onset.between(1, 2).all() and (onset == 2).any(), (
        "the rise began in the third monitored quarter (a CUSUM may date it one quarter early)"
    )
    assert ew.loc[21, "strength"] == pytest.approx(2.5, abs=0.6)
    assert ew.loc[21, "p_value"] <= 0.002


def test_dispersion_of_poisson_counts_is_about_one_and_of_mixed_counts_more():
    rng = np.random.default_rng(0)
    pop = np.full((8, 200), 1000.0)
    assert dispersion(rng.poisson(8.0, (8, 200)).astype(float), pop) == pytest.approx(1.0, abs=0.12)
    mixed = rng.poisson(rng.gamma(2.0, 4.0, (8, 200))).astype(float)
    assert dispersion(mixed, pop) > 2


def test_too_few_quarters_is_a_clear_error():
    with pytest.raises(ValueError, match="more than 8 quarters"):
        early_warning(np.ones((8, 3)), np.ones((8, 3)), sp.eye(3))


def test_members_are_the_areas_whose_own_counts_favour_the_rise():
    """Area 0's neighbourhood {0, 1, 2} alarms; area 1 (own rise about ×1.3 since the onset)
    is a member, its own likelihood ratio of "× 1.5" against "as before" being above 1,
    area 2 (about ×1.1) is not. Under the stricter rule "own rise ≥ k" area 1 is not either.
    Areas 1 and 2 have 20 quiet neighbours each, so their own windows do not alarm."""
    n = 43
    nb = {0: [1, 2], 1: [0, *range(3, 23)], 2: [0, *range(23, 43)]}
    nb |= {j: [1] for j in range(3, 23)} | {j: [2] for j in range(23, 43)}
    m = neighbourhood_matrix(nb, range(n))
    counts = np.full((12, n), 10.0)
    counts[10:, 0], counts[10:, 1], counts[10:, 2] = 30.0, 14.0, 12.0
    pop = np.full((12, n), 2000.0)
    ew = early_warning(counts, pop, m, alpha=0.002, simulations=999, seed=1)
    assert ew["alarm"].tolist() == [True] + [False] * (n - 1)
    assert ew.loc[[0, 1, 2], "emerging"].tolist() == [True, True, False]
    assert not ew.loc[3:, "emerging"].any()
    strict = early_warning(counts, pop, m, alpha=0.002, simulations=999, seed=1, member_ratio=1.5)
    assert strict.loc[[0, 1, 2], "emerging"].tolist() == [True, False, False]
