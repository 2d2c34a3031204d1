"""Fixed effects of covariates in the space-time model (issue 39, item 5)."""

import json
from pathlib import Path

import numpy as np
import pytest

from dv_analysis.stats.disease_mapping import spacetime
from dv_analysis.stats.disease_mapping._inla import laplace
from dv_analysis.stats.disease_mapping.icar import prepare_graph
from dv_analysis.stats.disease_mapping.spacetime import model as st
from dv_analysis.synth.worlds import lattice_adjacency

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "spacetime_covariates_nuts.npz"


def _dense_laplace(theta, panel, priors):
    """log p̃(θ | y) and the mode (γ, β, b, w) by plain Newton on the whole latent vector with
    the dense BYM2 precision and the covariates as columns of the design: written out
    independently of the engine's elimination."""
    n, t = panel.shape
    p = panel.n_covariates
    h = st.natural(theta)
    q_b = (panel.basis / (h["sigma"] ** 2 * st.spatial_variances(h["rho"], panel))) @ panel.basis.T
    c_w = st.path_covariance(t, h["sigma_delta"]) + h["sigma_eps"] ** 2 * np.eye(t)
    m = t + p + n + n * t
    q = np.zeros((m, m))
    q[:t, :t] = np.eye(t) / priors.level_sd**2
    q[t : t + p, t : t + p] = np.eye(p) / priors.beta_sd**2
    q[t + p : t + p + n, t + p : t + p + n] = q_b
    q[t + p + n :, t + p + n :] = np.kron(np.eye(n), np.linalg.inv(c_w))
    design = np.zeros((n * t, m))  # η (village-major) = design @ x
    rows = np.arange(n * t)
    design[rows, np.tile(np.arange(t), n)] = 1
    design[:, t : t + p] = panel.covariates.reshape(n * t, p)
    design[rows, t + p + np.repeat(np.arange(n), t)] = 1
    design[rows, t + p + n + rows] = 1
    y, off, mask = panel.y.ravel(), panel.log_e.ravel(), panel.mask.ravel()
    x = np.zeros(m)
    for _ in range(50):
        mu = np.where(mask, np.exp(off + design @ x), 0)
        hess = q + design.T @ (mu[:, None] * design)
        x = x + np.linalg.solve(hess, design.T @ np.where(mask, y - mu, 0) - q @ x)
    mu = np.where(mask, np.exp(off + design @ x), 0)
    hess = q + design.T @ (mu[:, None] * design)
    f = np.where(mask, y * (off + design @ x) - mu, 0).sum() - 0.5 * x @ q @ x
    value = st.log_prior_theta(theta, priors) + f
    value += 0.5 * (np.linalg.slogdet(q)[1] - np.linalg.slogdet(hess)[1])
    return value, x[: t + p], x[t + p : t + p + n], x[t + p + n :].reshape(n, t)


def _world(k=4, t=4, seed=5, beta=(0.4, -0.3)):
    rng = np.random.default_rng(seed)
    n = k * k
    x = np.stack(
        [np.repeat(rng.standard_normal(n)[:, None], t, 1), rng.standard_normal((n, t))], -1
    )
    e = rng.uniform(2, 12, (n, t))
    e[3, 1] = 0  # a village-quarter without population
    eta = rng.normal(0, 0.3, n)[:, None] + x @ np.asarray(beta) + rng.normal(0, 0.2, (n, t))
    y = np.where(e > 0, rng.poisson(e * np.exp(eta)), 0)
    return y, e, x, lattice_adjacency(k)


def test_the_banded_engine_gives_the_dense_laplace_approximation_with_covariates():
    """With a village covariate and a village × quarter one, at four points of θ the banded
    engine's mode (γ, β, b, w) and log p̃(θ | y) (up to one constant) are a dense Newton's on
    the whole latent vector, the covariates as columns of the design."""
    y, e, x, adjacency = _world()
    panel = st.prepare_panel(y, e, prepare_graph(adjacency), x)
    priors = st.SpaceTimePriors()
    banded, dense = [], []
    for theta in map(
        np.asarray, ([-0.9, 0.0, -3.0, -1.9], [-0.5, 1.0, -2.0, -1.5], [0.5, 3, -4, -3])
    ):
        value, mode, _ = laplace.log_posterior_theta(theta, panel, priors)
        d_value, d_z, d_b, d_w = _dense_laplace(theta, panel, priors)
        assert np.allclose(mode.gamma, d_z, atol=1e-6), (mode.gamma, d_z)
        assert np.allclose(mode.b, d_b, atol=1e-6) and np.allclose(mode.w, d_w, atol=1e-6)
        banded.append(value)
        dense.append(d_value)
    assert np.allclose(np.diff(banded), np.diff(dense), atol=1e-4)


def test_draws_of_beta_have_the_gaussian_approximation_s_covariance():
    """At one θ the draws of (γ, β) have the mode's mean and the dense Hessian's inverse as
    covariance (the fixed effects' block of it)."""
    y, e, x, adjacency = _world()
    panel = st.prepare_panel(y, e, prepare_graph(adjacency), x)
    priors, theta = st.SpaceTimePriors(), np.array([-0.9, 0.0, -3.0, -1.9])
    _, mode, prior = laplace.log_posterior_theta(theta, panel, priors)
    from dv_analysis.stats.disease_mapping._inla.latent import draw_latent

    z, _, _ = draw_latent(panel, mode, prior, 20000, np.random.default_rng(0))
    beta = z[:, panel.shape[1] :]
    assert np.allclose(beta.mean(0), mode.gamma[panel.shape[1] :], atol=0.01)
    # the same sd a second, independent set of draws gives, and a non-zero spread
    sd = beta.std(0)
    z2, _, _ = draw_latent(panel, mode, prior, 20000, np.random.default_rng(1))
    assert np.allclose(sd, z2[:, panel.shape[1] :].std(0), rtol=0.03) and (sd > 0.01).all()


def test_laplace_agrees_with_nuts_and_recovers_the_known_coefficients():
    """On the seeded world of benchmarks/validation/spacetime_covariates_reference.py (β = 0.3
    for a village covariate, −0.2 for a village × quarter one): the nested-Laplace posterior
    mean of each β is within NUTS's posterior sd of NUTS's mean, its sd within 20 % of NUTS's,
    and its 90 % interval holds the true β."""
    ref = np.load(REFERENCE)
    assert json.loads(str(ref["diagnostics"]))["rhat_max"] < 1.01
    graph = prepare_graph(lattice_adjacency(int(ref["side"])))
    panel = spacetime.prepare_panel(ref["y"], ref["e"], graph, ref["x"])
    fit = spacetime.fit(panel, options=spacetime.EngineOptions(draws=4000, seed=1))
    assert fit.diagnostics["ok"], fit.diagnostics
    mean, sd = fit.beta.mean(0), fit.beta.std(0)
    assert (np.abs(mean - ref["nuts_mean"]) < ref["nuts_sd"]).all(), (mean, ref["nuts_mean"])
    assert np.allclose(sd, ref["nuts_sd"], rtol=0.2), (sd, ref["nuts_sd"])
    lo, hi = np.quantile(fit.beta, [0.05, 0.95], axis=0)
    assert ((lo < ref["beta_true"]) & (ref["beta_true"] < hi)).all(), (lo, hi)
    effects = fit.fixed_effects(["village", "quarter"])
    assert effects["village"]["q05"] == pytest.approx(lo[0])


def test_a_village_s_relative_risk_keeps_its_covariate_s_part():
    """The relative risk is the village's whole risk, the covariate's part included: with a
    covariate that makes the pattern, the villages' log relative risks are about those of
    the model without it (mean difference under 0.05) and no further from the truth."""
    rng = np.random.default_rng(2)
    k, t = 6, 6
    n = k * k
    x = rng.standard_normal(n)
    e = rng.uniform(20, 40, (n, t))
    y = rng.poisson(e * np.exp(0.5 * x)[:, None])
    graph = prepare_graph(lattice_adjacency(k))
    options = spacetime.EngineOptions(draws=1000, seed=1, strategy="eb")
    with_x = spacetime.prepare_panel(y, e, graph, x[:, None])
    plain = spacetime.prepare_panel(y, e, graph)
    a = spacetime.fit(with_x, options=options).log_rr(with_x).mean(0)
    b = spacetime.fit(plain, options=options).log_rr(plain).mean(0)
    truth = 0.5 * x[:, None] - np.log((e * np.exp(0.5 * x)[:, None]).sum(0) / e.sum(0))
    assert np.abs(a - b).mean() < 0.05, np.abs(a - b).mean()
    rmse = [np.sqrt(((est - truth) ** 2).mean()) for est in (a, b)]
    assert rmse[0] < 1.1 * rmse[1], rmse


def test_covariates_are_checked_and_none_leaves_the_panel_as_it_was():
    y, e, x, adjacency = _world()
    graph = prepare_graph(adjacency)
    assert st.prepare_panel(y, e, graph).covariates is None
    assert st.prepare_panel(y, e, graph, np.zeros((len(y), 0))).covariates is None
    village = st.prepare_panel(y, e, graph, x[:, 0, :1])
    assert village.covariates.shape == (*y.shape, 1)
    assert (village.covariates[:, :, 0] == x[:, :1, 0]).all()
    with pytest.raises(ValueError, match="must be \\(villages, p\\)"):
        st.prepare_panel(y, e, graph, x[:-1])
    bad = x.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        st.prepare_panel(y, e, graph, bad)


def test_the_kept_fits_key_covers_every_module_the_covariates_pass_through():
    """The risk stage keys its kept fits on ``spacetime.code_modules()``: every module that
    arranges, fits or reports the fixed effects is among them, so a change to any of them
    refits."""
    import inspect

    from dv_analysis.stats.disease_mapping._inla import latent
    from dv_analysis.stats.disease_mapping.spacetime import nuts

    kept = {m.__name__ for m in spacetime.code_modules()}
    used = (
        st.prepare_panel,  # arranges the covariates
        latent.find_mode,  # the Laplace engine's latent field with β
        laplace.draw,  # draws of (γ, β)
        nuts.fit_nuts,  # NUTS's β
        spacetime.SpaceTimeFit,  # relative risks with x_itᵀβ, the summary of β
    )
    assert {inspect.getmodule(f).__name__ for f in used} <= kept
