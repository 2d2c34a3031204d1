"""Bivariate Moran's I and bivariate LISA (stats.detection.bivariate): against an independent
computation, esda's published example, esda's own local p-values, and planted worlds."""

import esda
import libpysal
import numpy as np
import pytest

from dv_analysis.stats.detection.bivariate import (
    bivariate_lisa,
    bivariate_moran,
    colocation,
    spectral_surrogates,
)


def _sids2():
    f = libpysal.io.open(libpysal.examples.get_path("sids2.dbf"))
    w = libpysal.io.open(libpysal.examples.get_path("sids2.gal")).read()
    return np.array(f.by_col["SIDR79"]), np.array(f.by_col["SIDR74"]), w


def test_bivariate_moran_equals_an_independent_computation_and_esda():
    """I = zx' W zy / (n − 1), z with the sample SD, W row-standardised: by hand with a
    dense matrix, to 1e-9; and esda's Moran_BV on the same inputs."""
    x, y, w = _sids2()
    m = bivariate_moran(x, y, w, permutations=99, seed=1)
    W = w.full()[0]
    W = W / W.sum(1, keepdims=True)
    zx = (x - x.mean()) / x.std(ddof=1)
    zy = (y - y.mean()) / y.std(ddof=1)
    assert m.I == pytest.approx(zx @ W @ zy / (len(x) - 1), abs=1e-9)
    assert m.I == pytest.approx(esda.Moran_BV(x, y, w, permutations=0).I, abs=1e-12)


def test_bivariate_moran_p_value_matches_esdas_published_example():
    """esda's documentation of Moran_BV (esda 2.x, ``esda.Moran_BV`` docstring, Examples;
    https://pysal.org/esda/generated/esda.Moran_BV.html): SIDS rates of 1979 against the
    lag of 1974 in North Carolina's 100 counties (sids2.gal), ``numpy.random.seed(10)``,
    999 permutations: I = 0.156 and p_z_sim = 0.001 (three decimals)."""
    x, y, w = _sids2()
    m = bivariate_moran(x, y, w, permutations=999, seed=10)
    assert round(m.I, 3) == 0.156
    assert round(m.p_z_sim, 3) == 0.001
    assert m.p_sim <= 0.01  # none of 999 permutations of the 1974 rates comes close


def test_seed_restores_numpys_global_generator():
    x, y, w = _sids2()
    np.random.seed(5)
    before = np.random.random()
    np.random.seed(5)
    bivariate_moran(x, y, w, permutations=99, seed=1)
    assert np.random.random() == before


@pytest.mark.slow(seconds=35, why="esda's Moran_Local_BV compiles its numba kernel")
def test_bivariate_lisa_p_values_are_esdas():
    """The cached kernel (stats.detection.permutation) gives esda's Moran_Local_BV p-values
    for the same seed, element for element; its statistics and quadrants too."""
    x, y, w = _sids2()
    ours = bivariate_lisa(x, y, w, np.arange(len(x)), permutations=199, seed=12345)
    lm = esda.Moran_Local_BV(
        x, y, w, permutations=199, seed=12345, alternative="two-sided", keep_simulations=False
    )
    np.testing.assert_array_equal(ours["p"].to_numpy(), np.minimum(1, lm.p_sim.astype(float)))
    np.testing.assert_allclose(ours["bv_I"], lm.Is, atol=1e-12)
    assert ours["quadrant"].tolist()[:10] == [
        "LL",
        "HL",
        "LL",
        "HL",
        "LH",
        "HH",
        "HL",
        "HL",
        "LH",
        "HL",
    ]


def _world(rng, n=20, shared=True, strength=1.5):
    """A planted n × n lattice: domestic-violence risk with a 5 × 5 cluster; a layer that
    shares the cluster (``shared``) or is unrelated noise with a cluster of its own far away."""
    w = libpysal.weights.lat2W(n, n, rook=False)
    r, c = np.divmod(np.arange(n * n), n)
    dv_cluster = (r < 5) & (c < 5)
    x = rng.normal(size=n * n) + strength * dv_cluster
    other = (r >= n - 5) & (c >= n - 5)
    y = rng.normal(size=n * n) + strength * (dv_cluster if shared else other)
    return x, y, w, dv_cluster


def _claims(x, y, w, seed, permutations=9999):
    g = bivariate_moran(x, y, w, permutations=1999, seed=seed)  # enough for a 5 % gate
    local = bivariate_lisa(x, y, w, np.arange(len(x)), permutations, seed, 0.05, g.p_spatial)
    return g, local


def test_planted_shared_cluster_is_found():
    rng = np.random.default_rng(3)
    x, y, w, cluster = _world(rng)
    g, local = _claims(x, y, w, seed=1)
    assert g.I > 0 and g.p_spatial <= 0.05
    hh = local["cluster"].eq("HH").to_numpy()
    assert hh[cluster].sum() >= 5  # the shared cluster is found …
    assert hh[~cluster].sum() <= 1  # … and HH claims stay where it is


@pytest.mark.slow(seconds=110, why="40 worlds: 1,999 spectral surrogates, 9,999 permutations")
def test_unrelated_layer_claims_nothing_beyond_the_false_discovery_rate():
    """40 worlds where the layer is unrelated to the planted risk but has a cluster of its
    own: with every null true, controlling the FDR at 5 % means a claim in at most about
    5 % of worlds (binomial(40, 0.05): seven or more with probability < 0.01). The global
    gate (p_spatial, a null that keeps the layer's clustering) is what achieves it: the
    conditional-permutation LISA alone claims co-location in most of these worlds."""
    rng = np.random.default_rng(11)
    gated, ungated = 0, 0
    for k in range(40):
        x, y, w, _ = _world(rng, shared=False)
        g, local = _claims(x, y, w, seed=k)
        gated += bool(local["cluster"].ne("ns").any())
        if k < 10:
            free = bivariate_lisa(x, y, w, np.arange(len(x)), 9999, k, 0.05)  # no gate
            ungated += bool(free["cluster"].eq("HH").any())
    assert gated <= 6
    assert ungated >= 5  # why the gate is there: half or more of the worlds without it


def test_spatial_null_keeps_the_layers_autocorrelation():
    """Surrogates keep the Moran's I of y on the symmetrised weights (the Moran spectrum)."""
    x, y, w = _sids2()
    s = spectral_surrogates(y, w, 20, seed=2)
    sym = libpysal.weights.W(w.neighbors, id_order=w.id_order)  # binary, symmetric
    i_obs = esda.Moran(y, sym, transformation="B", permutations=0).I
    for col in s.T:
        assert esda.Moran(col, sym, transformation="B", permutations=0).I == pytest.approx(i_obs)


def test_colocation_counts_hot_spots_by_class():
    hot = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], bool)
    tier = np.array([2, 2, 1, 1, 0, 0, 0, 0, 0, np.nan])
    t = colocation(hot, tier).set_index("class")
    assert t.loc[2.0, "hot"] == 2 and t.loc[2.0, "areas"] == 2
    assert t.loc[0.0, "hot"] == 0 and t["areas"].sum() == 9  # the missing class is left out
    assert t.loc[2.0, "expected_hot"] == pytest.approx(2 * 3 / 9)
