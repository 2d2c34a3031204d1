"""BYM2 against the published fit of the Scottish lip cancer data; graphs with islands and components."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from dv_analysis.stats.disease_mapping.bym2 import (
    BYM2Priors,
    choose_parameterisation,
    data_strength,
    fit_bym2,
)
from dv_analysis.stats.disease_mapping.icar import adjacency_matrix, prepare_graph, scaling_factor

SCOTLAND = Path(__file__).parents[2] / "data" / "scotland_lip_cancer.json"


@pytest.fixture(scope="module")
def scotland():
    d = json.loads(SCOTLAND.read_text())
    neighbours = {int(k): v for k, v in d["neighbours"].items()}
    ids = sorted(neighbours)
    return d, adjacency_matrix(neighbours, ids)


def test_scaling_factor_of_the_scotland_graph(scotland):
    """Published with the Stan case study (computed there with R-INLA's inla.qinv): 0.4853175."""
    _, a = scotland
    g = prepare_graph(a)
    assert len(g.components) == 1
    assert g.scale[0] == pytest.approx(0.4853175, abs=2e-6)


def test_scaling_factor_of_a_path_matches_the_dense_computation():
    n = 7
    a = sp.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], shape=(n, n))
    q = np.diag(np.asarray(a.sum(1)).ravel()) - a.toarray()
    sigma = np.linalg.pinv(q)  # the generalised inverse is the sum-to-zero constrained covariance
    assert prepare_graph(a).scale[0] == pytest.approx(
        np.exp(np.mean(np.log(np.diag(sigma)))), rel=1e-6
    )


def _laplacian(a):
    return sp.diags(np.asarray(a.sum(1)).ravel()) - sp.csr_matrix(a)


def test_sparse_scaling_factor_matches_the_published_value_and_the_dense_pseudo_inverse(scotland):
    """The sparse computation (grounded LU, no dense matrix) against R-INLA's 0.4853175 and
    against the dense pseudo-inverse on a random planar-like graph of 300 areas, solved in
    blocks smaller than the graph so that the block loop is exercised."""
    _, a = scotland
    assert scaling_factor(_laplacian(a), block=7) == pytest.approx(0.4853175, abs=2e-6)
    rng = np.random.default_rng(0)
    pts = rng.uniform(size=(300, 2))
    from scipy.spatial import Delaunay

    tri = Delaunay(pts).simplices
    rows = np.concatenate([tri[:, [0, 1, 2]].ravel(), tri[:, [1, 2, 0]].ravel()])
    cols = np.concatenate([tri[:, [1, 2, 0]].ravel(), tri[:, [0, 1, 2]].ravel()])
    g = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(300, 300))
    g = (g > 0).astype(float)
    dense = np.exp(np.mean(np.log(np.diag(np.linalg.pinv(_laplacian(g).toarray())))))
    assert scaling_factor(_laplacian(g), block=64) == pytest.approx(dense, rel=1e-9)


def test_sparse_scaling_factor_refuses_a_disconnected_graph():
    a = adjacency_matrix({0: [1], 1: [0], 2: [3], 3: [2]}, range(4))
    with pytest.raises(ValueError, match="not connected"):
        scaling_factor(_laplacian(a))


def test_components_and_islands_are_kept_apart():
    """Two components and an island: two sum-to-zero constraints, each its own scaling."""
    nb = {0: [1], 1: [0, 2], 2: [1], 3: [4], 4: [3], 5: []}
    g = prepare_graph(adjacency_matrix(nb, range(6)))
    assert len(g.components) == 2 and g.islands.tolist() == [False] * 5 + [True]
    assert g.scale[0] == g.scale[2] != g.scale[3] and g.scale[5] == 1.0
    assert len(set(g.component[:3])) == 1 and g.component[0] != g.component[3]


def test_bad_input_is_named():
    a = adjacency_matrix({0: [1], 1: [0]}, [0, 1])
    with pytest.raises(ValueError, match="positive; not at positions \\[1\\]"):
        fit_bym2([1, 2], [1.0, 0.0], a)
    with pytest.raises(ValueError, match="neighbour 'z' of area 'a'"):
        adjacency_matrix({"a": ["z"]}, ["a", "b"])


def test_data_strength_by_hand():
    y = np.array([0, 10, 100])
    e = np.array([2.0, 10.0, 50.0])
    log_ratio = np.log([0.5 / 2.0, 10.5 / 10.0, 100.5 / 50.0])
    noise = 1 / np.array([0.5, 10.5, 100.5])
    variance = ((log_ratio - log_ratio.mean()) ** 2).mean() - noise.mean()
    assert data_strength(y, e) == pytest.approx(10.0 * variance)
    # a path 0 - 1 - 2: across its two borders
    a = adjacency_matrix({0: [1], 1: [0, 2], 2: [1]}, [0, 1, 2])
    borders = [
        (log_ratio[0] - log_ratio[1]) ** 2 / 2 - (noise[0] + noise[1]) / 2,
        (log_ratio[1] - log_ratio[2]) ** 2 / 2 - (noise[1] + noise[2]) / 2,
    ]
    assert data_strength(y, e, a) == pytest.approx(10.0 * np.mean(borders))
    # all the spread is Poisson noise: no strength
    assert data_strength([3, 4, 5], [4.0, 4.0, 4.0]) == 0.0


def test_parameterisation_is_chosen_by_the_data():
    assert choose_parameterisation(3.2) == "noncentred"  # a realistic Taipei quarter
    assert choose_parameterisation(30.0) == "centred"  # a county with 150 a village
    assert choose_parameterisation(30.0, "noncentred") == "noncentred"
    with pytest.raises(ValueError, match="one of"):
        choose_parameterisation(1.0, "central")


def _scotland_fit(engine, d, a):
    """The published model's fit with ``engine``: covariate 0.1 × AFF, the Stan case study's
    priors (β ~ N(0, 5), σ ~ N⁺(0, 5)), seed 1."""
    return engine(
        d["y"],
        d["E"],
        a,
        pd.DataFrame({"aff": 0.1 * np.asarray(d["x"])}),
        priors=BYM2Priors(intercept_sd=5.0, beta_sd=5.0, sigma_sd=5.0),
        seed=1,
    )


def _assert_stan_figures(fit, d, again) -> None:
    """Stan's σ 0.514, ρ 0.878 and μ₅ 13.8 (Morris et al. 2019), and the same areas from a
    second fit ``again`` with the same seed."""
    hp = fit.hyperparameters
    assert hp["sigma"]["mean"] == pytest.approx(0.514, abs=0.03)
    assert hp["rho"]["mean"] == pytest.approx(0.878, abs=0.04)
    # mu[5] = E_5 · RR_5, published 13.8
    assert d["E"][4] * fit.areas["rr_mean"].iloc[4] == pytest.approx(13.8, abs=0.4)
    pd.testing.assert_frame_equal(fit.areas, again.areas)


@pytest.mark.slow(seconds=9, why="a full BYM2 fit of the published data")
def test_scotland_lip_cancer_reproduces_the_published_fit(scotland):
    """Morris et al. (2019), Stan case study 'Spatial models in Stan', BYM2 with the same priors.

    Published posterior means (Stan, 4 × 1000 draws): β0 −0.217, β1 0.365, σ 0.514, ρ 0.878;
    R-INLA: β0 −0.2216, β1 0.3707. Covariate: 0.1 × AFF.
    """
    d, a = scotland
    fit = _scotland_fit(fit_bym2, d, a)
    # a median of 8 cases a district: the data are weak beside the prior, so "auto" samples
    # non-centred (forced centred, this fit diverges 406 times and ρ's bulk ESS is 236)
    assert fit.sampler["parameterisation"] == "noncentred"
    assert fit.ok, fit.diagnostics
    fe = fit.fixed_effects
    assert fe["intercept"]["mean"] == pytest.approx(-0.217, abs=0.02)
    assert fe["aff"]["mean"] == pytest.approx(0.365, abs=0.02)
    _assert_stan_figures(fit, d, _scotland_fit(fit_bym2, d, a))


def test_scotland_lip_cancer_with_the_fast_engine_reproduces_r_inla(scotland):
    """The nested-Laplace engine of the pooled BYM2 on the same data and priors: R-INLA's
    β0 −0.2216 (sd 0.1265) and β1 0.3707 (sd 0.1320) (Moraga 2019, ch. 6), Stan's σ 0.514,
    ρ 0.878 and μ₅ 13.8 (Morris et al. 2019), in two seconds. Without the importance
    correction of the Gaussian approximation β0 is −0.190 (the mode of a skewed posterior),
    which this test rejects."""
    from dv_analysis.stats.disease_mapping.bym2_laplace import fit_bym2_laplace

    d, a = scotland
    fit = _scotland_fit(fit_bym2_laplace, d, a)
    assert fit.ok, fit.diagnostics
    fe = fit.fixed_effects
    assert fe["intercept"]["mean"] == pytest.approx(-0.2216, abs=0.01)
    assert fe["aff"]["mean"] == pytest.approx(0.3707, abs=0.01)
    assert fe["intercept"]["sd"] == pytest.approx(0.1265, abs=0.01)
    assert fe["aff"]["sd"] == pytest.approx(0.1320, abs=0.01)
    _assert_stan_figures(fit, d, _scotland_fit(fit_bym2_laplace, d, a))


def test_the_fast_engine_handles_islands_and_components():
    """Two lattices and an island, no covariates: every area gets a finite relative risk and
    an area with many more cases than expected a high one."""
    import scipy.sparse as sp

    from dv_analysis.stats.disease_mapping.bym2_laplace import fit_bym2_laplace
    from dv_analysis.synth.worlds import lattice_adjacency

    a = sp.block_diag([lattice_adjacency(4), lattice_adjacency(3), sp.csr_matrix((1, 1))]).tocsr()
    rng = np.random.default_rng(3)
    e = rng.uniform(3, 10, a.shape[0])
    y = rng.poisson(e)
    y[5] = int(4 * e[5]) + 5
    fit = fit_bym2_laplace(y, e, a, seed=2)
    assert fit.ok, fit.diagnostics
    rr = fit.areas["rr_mean"]
    assert np.isfinite(rr).all() and rr.idxmax() == 5 and fit.areas["p_exceed_1"].iloc[5] > 0.95


def _grid(side: int = 8):
    ids = [(i, j) for i in range(side) for j in range(side)]
    neighbours = {
        (i, j): [
            (a, b) for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)) if (a, b) in ids
        ]
        for i, j in ids
    }
    return ids, adjacency_matrix(neighbours, ids)


def _strong_counts(ids, rough: float, seed: int = 3):
    """About 200 a cell: a smooth field plus independent noise of sd ``rough``."""
    rng = np.random.default_rng(seed)
    smooth = np.array([0.4 * np.sin(i / 2.0) + 0.3 * np.cos(j / 3.0) for i, j in ids])
    e = rng.uniform(100.0, 300.0, len(ids))
    y = rng.poisson(e * np.exp(smooth + rng.normal(0.0, rough, len(ids))))
    return y, e * y.sum() / e.sum()


def test_a_smooth_field_stays_non_centred_however_large_the_counts():
    """ρ near 1: neighbours differ little, the prior decides across borders. Sampled centred,
    this grid diverged 200–380 times per fit (seeds 2 and 5, any warm-up tree depth)."""
    ids, a = _grid()
    y, e = _strong_counts(ids, rough=0.1)
    assert np.median(y) > 200
    assert choose_parameterisation(data_strength(y, e, a)) == "noncentred"


@pytest.mark.slow(seconds=12, why="two full BYM2 fits")
def test_both_forms_give_the_same_posterior_on_strong_data():
    """Counts of about 200 a cell and a rough field (ρ well below 1) on an 8 × 8 grid:
    "auto" samples centred, and the non-centred form of the same model gives the same
    relative risks within Monte-Carlo error."""
    ids, a = _grid()
    y, e = _strong_counts(ids, rough=0.35)
    assert data_strength(y, e, a) >= 8.0
    auto = fit_bym2(y, e, a, seed=2)
    # non-centred, the same 4 × 1,000 draws leave ρ's bulk ESS at 370 (centred: 2,707);
    # twice the draws bring it over 400 for the comparison
    other = fit_bym2(y, e, a, seed=2, parameterisation="noncentred", draws=2000)
    assert auto.sampler["parameterisation"] == "centred"
    assert auto.ok and other.ok, (auto.diagnostics, other.diagnostics)
    np.testing.assert_allclose(auto.areas["rr_mean"], other.areas["rr_mean"], atol=0.01)
    np.testing.assert_allclose(auto.areas["p_exceed_1"], other.areas["p_exceed_1"], atol=0.03)
    for name in ("sigma", "rho"):
        a_, o_ = auto.hyperparameters[name], other.hyperparameters[name]
        assert abs(a_["mean"] - o_["mean"]) < 0.3 * max(a_["sd"], o_["sd"]) + 0.01, name


def test_a_reused_sampler_gives_the_same_draws_as_a_new_one():
    """One MCMC object per process and settings (``bym2._sampler``): a fit after another of
    the same shape reuses it, and its numbers are those of a fit on a new object."""
    from dv_analysis.stats.disease_mapping import bym2

    ids, a = _grid()
    rng = np.random.default_rng(8)
    e = rng.uniform(2.0, 6.0, len(ids))
    y, other = rng.poisson(e), rng.poisson(1.5 * e)
    short = {"chains": 2, "warmup": 100, "draws": 100, "seed": 4}
    bym2._SAMPLERS.clear()
    first = fit_bym2(y, e, a, **short)
    fit_bym2(other, e, a, **short)  # other counts, same shapes: the same sampler
    assert len(bym2._SAMPLERS) == 1
    again = fit_bym2(y, e, a, **short)
    pd.testing.assert_frame_equal(first.areas, again.areas)
    assert first.hyperparameters == again.hyperparameters
    _, bigger = _grid(9)  # 81 areas, padded to 128: other shapes, a sampler of their own
    fit_bym2(np.resize(y, 81), np.resize(e, 81), bigger, **short)
    assert len(bym2._SAMPLERS) == 2
    assert fit_bym2(y, e, a, **short).areas.equals(first.areas)
