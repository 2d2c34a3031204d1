"""The space-time model and its nested-Laplace engine (issue 27)."""

import json
from pathlib import Path

import numpy as np
import pytest

from dv_analysis.stats.disease_mapping._inla import laplace, latent
from dv_analysis.stats.disease_mapping.icar import prepare_graph
from dv_analysis.stats.disease_mapping.spacetime import model as st
from dv_analysis.synth.worlds import spacetime_reference_panel

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "spacetime_nuts_reference.npz"


def _panel(k=8, quarters=6, seed=0, path_sd=0.1, noise_sd=0.2, e_max=15):
    from dv_analysis.synth.worlds import lattice_adjacency

    rng = np.random.default_rng(seed)
    n = k * k
    b = 0.4 * rng.standard_normal(n)
    path = np.cumsum(path_sd * rng.standard_normal((n, quarters)), 1)
    e = rng.uniform(e_max / 4, e_max, (n, quarters))
    y = rng.poisson(e * np.exp(b[:, None] + path + noise_sd * rng.standard_normal((n, quarters))))
    return st.prepare_panel(y, e, prepare_graph(lattice_adjacency(k))), b, path


@pytest.mark.slow(seconds=12, why="a nested-Laplace fit of 225 villages × 12 quarters")
def test_laplace_matches_a_long_nuts_run_of_the_same_model():
    """The issue's accuracy target against NUTS (4 × 2,000 draws after 2,000 warm-up,
    ``benchmarks/validation/spacetime_reference.py``), village by village on the present log RR: for
    95 % of villages the mean within 0.03, the 5 % and 95 % limits within 0.05, and
    P(RR now > 1) within 0.03."""
    ref = np.load(REFERENCE)
    assert json.loads(str(ref["meta"]))["diagnostics"]["ok"], "the reference itself converged"
    y, e, a = spacetime_reference_panel()
    panel = st.prepare_panel(y, e, prepare_graph(a))
    fit = laplace.fit_laplace(panel, seed=3)
    assert fit.diagnostics["ok"], fit.diagnostics
    _, b, delta = laplace.draw(fit, panel, 4000, seed=3)
    x = st.log_rr_draws(b, delta, panel)[:, :, -st.NOW_QUARTERS :].mean(2)
    assert np.mean(np.abs(x.mean(0) - ref["mean"]) <= 0.03) >= 0.95
    assert np.mean(np.abs(np.quantile(x, 0.05, 0) - ref["q05"]) <= 0.05) >= 0.95
    assert np.mean(np.abs(np.quantile(x, 0.95, 0) - ref["q95"]) <= 0.05) >= 0.95
    assert np.mean(np.abs((x > 0).mean(0) - ref["p_exceed_1"]) <= 0.03) >= 0.95


@pytest.mark.slow(seconds=12, why="a nested-Laplace fit of 225 villages × 12 quarters")
def test_laplace_and_nuts_agree_on_the_quantities_that_decide_the_list():
    """Issue 39's agreement target on the same long NUTS run: P(RR now > 1.25), P(RR now >
    1.5) and P(rising) within 0.05 in every village where NUTS is not already sure (between
    0.05 and 0.95), at either treatment of θ; and the 20 villages most surely above 1.25 are
    nearly the same (at least 18 of 20). Measured: at most 0.035 apart, 19 of 20."""
    from dv_analysis.stats.disease_mapping import spacetime

    ref = np.load(REFERENCE)
    y, e, a = spacetime_reference_panel()
    panel = spacetime.prepare_panel(y, e, prepare_graph(a))
    k = st.NOW_QUARTERS
    for strategy in ("importance", "eb"):
        options = spacetime.EngineOptions(draws=4000, seed=1, strategy=strategy)
        lr = spacetime.fit(panel, "laplace", options=options).log_rr(panel)
        x, before = lr[:, :, -k:].mean(2), lr[:, :, -2 * k : -k].mean(2)
        ours = {
            "p_exceed_1_25": (x > np.log(1.25)).mean(0),
            "p_exceed_1_5": (x > np.log(1.5)).mean(0),
            "p_rising": (x > before).mean(0),
        }
        for name, p in ours.items():
            unsure = (ref[name] > 0.05) & (ref[name] < 0.95)
            assert unsure.sum() > 30, name  # enough villages where it matters
            assert np.abs(p - ref[name])[unsure].max() <= 0.05, (strategy, name)
        top = set(np.argsort(-ref["p_exceed_1_25"])[:20])
        assert len(top & set(np.argsort(-ours["p_exceed_1_25"])[:20])) >= 18, strategy


@pytest.mark.slow(seconds=10, why="a nested-Laplace fit of 144 villages × 12 quarters")
def test_the_fit_recovers_the_paths_and_the_noise_it_was_given():
    """Twelve quarters (the risk window) of 144 villages: the step and noise standard
    deviations it was given, and 90 % intervals that cover the true log RR 80–98 % of the time."""
    panel, b, path = _panel(k=12, quarters=12, seed=4, path_sd=0.12, noise_sd=0.2, e_max=30)
    fit = laplace.fit_laplace(panel)
    h = fit.hyperparameters()
    assert fit.diagnostics["ok"]
    assert 0.09 < h["sigma_delta"]["mean"] < 0.16
    assert 0.15 < h["sigma_eps"]["mean"] < 0.25
    _, bd, dd = laplace.draw(fit, panel, 1000, seed=1)
    lr = st.log_rr_draws(bd, dd, panel)
    truth = b[:, None] + path
    truth = truth - np.log(
        (np.exp(truth) * panel.mask * np.exp(panel.log_e)).sum(0) / np.exp(panel.log_e).sum(0)
    )
    lo, hi = np.quantile(lr, 0.05, 0), np.quantile(lr, 0.95, 0)
    assert 0.8 <= ((lo <= truth) & (truth <= hi)).mean() <= 0.98


def test_relative_risks_are_against_the_city_in_each_quarter():
    """The expected-count weighted mean of every draw's relative risk is 1 each quarter."""
    panel, _, _ = _panel(quarters=4)
    rng = np.random.default_rng(1)
    n = panel.shape[0]
    b, delta = rng.normal(0.3, 0.5, (20, n)), rng.normal(0, 0.3, (20, n, 4))
    rr = np.exp(st.log_rr_draws(b, delta, panel))
    e = np.exp(panel.log_e)
    assert np.allclose((rr * e).sum(1) / e.sum(0), 1.0)
    doubled = np.exp(st.log_rr_draws(b, delta, panel, level=np.full(4, 2.0)))
    assert np.allclose(doubled, 2 * rr)


def test_a_single_quarter_has_no_trend_and_still_fits():
    panel, _, _ = _panel(quarters=1)
    fit = laplace.fit_laplace(panel)
    _, b, delta = laplace.draw(fit, panel, 300, seed=1)
    table = st.summarise_draws(st.log_rr_draws(b, delta, panel), np.ones(64))
    assert (table["trend"] == "unknown").all() and table["p_rising"].isna().all()
    assert table["rr_now_mean"].between(0.2, 5).all()


def test_trend_cut_offs():
    labels = st.trend_label(np.array([0.95, 0.9, 0.5, 0.1, 0.02, np.nan]))
    assert labels.tolist() == ["rising", "rising", "level", "falling", "falling", "unknown"]


def test_a_newton_that_cannot_converge_fails_the_diagnostics(monkeypatch):
    panel, _, _ = _panel(quarters=4)
    monkeypatch.setattr(latent, "NEWTON_MAX_ITER", 1)
    fit = laplace.fit_laplace(panel)
    assert not fit.diagnostics["ok"] and fit.diagnostics["newton_gradient_max"] > 1e-3


def test_expected_counts_by_type_use_each_type_s_population():
    """Indirect standardisation: each type at the city's rate on its own population; the
    expected counts add up to the observed ones; next quarter uses the last year's rates."""
    pop_child = np.array([[100.0, 100.0], [10.0, 10.0]])
    pop_all = np.array([[200.0, 200.0], [200.0, 200.0]])
    counts = {
        "child": np.array([[4.0, 6.0], [1.0, 1.0]]),
        "other": np.array([[2.0, 2.0], [6.0, 6.0]]),
    }
    pops = {"child": pop_child, "other": pop_all}
    e = st.expected_by_type(counts, pops)
    assert np.isclose(e.sum(), 28.0)
    # child rate 12/220: the first village (100 children) expects 10× the second (10)
    child_part = pop_child * 12 / 220
    assert np.allclose(e, child_part + pop_all * 16 / 800)
    nxt = st.expected_next(counts, pops, recent=1)
    assert np.allclose(nxt, pop_child[:, -1] * 7 / 110 + pop_all[:, -1] * 8 / 400)


def test_summaries_of_draws_report_now_direction_and_excess():
    rng = np.random.default_rng(0)
    n, t = 3, 8
    lr = np.zeros((4000, n, t))
    lr[:, 0, :] = np.log(2.0)  # steady at 2
    lr[:, 1, 4:] = np.log(1.6)  # risen in the last year
    lr[:, 2, :4] = np.log(1.6)  # fallen
    lr += rng.normal(0, 0.05, lr.shape)
    table = st.summarise_draws(lr, np.array([10.0, 10.0, 10.0]))
    assert table["rr_now_mean"].round(1).tolist() == [2.0, 1.6, 1.0]
    assert table["trend"].tolist() == ["level", "rising", "falling"]
    assert table["excess_next_mean"].round(0).tolist() == [10.0, 6.0, 0.0]
    assert (table["excess_next_low"] < table["excess_next_mean"]).all()
    assert (table["p_now_exceed_1_5"].iloc[:2] > 0.98).all()


@pytest.mark.slow(seconds=6, why="two nested-Laplace fits of 144 villages × 8 quarters")
def test_the_eb_strategy_keeps_theta_at_its_mode_and_gives_nearly_the_same_present_risk():
    """``integrate=False`` (R-INLA's "eb"): one point of θ, the mode; the present log RR of
    every village within 0.05 of the full fit's, and a search started from a nearby θ
    converges to the same mode in fewer evaluations."""
    panel, _, _ = _panel(k=12, quarters=8, seed=5, path_sd=0.1, noise_sd=0.15, e_max=20)
    full = laplace.fit_laplace(panel, seed=1)
    eb = laplace.fit_laplace(panel, integrate=False)
    assert eb.diagnostics["ok"] and eb.diagnostics["strategy"] == "eb"
    assert len(eb.weights) == 1 and np.allclose(eb.theta[0], eb.theta_mode)
    now = []
    for fit in (full, eb):
        _, b, delta = laplace.draw(fit, panel, 2000, seed=2)
        now.append(st.log_rr_draws(b, delta, panel)[:, :, -4:].mean(2).mean(0))
    assert np.max(np.abs(now[0] - now[1])) < 0.05
    warm = laplace.fit_laplace(panel, integrate=False, theta_start=eb.theta_mode + 0.2)
    assert warm.diagnostics["theta_evaluations"] < eb.diagnostics["theta_evaluations"]
    assert np.allclose(warm.theta_mode, eb.theta_mode, atol=0.05)


def _dense_laplace(theta, panel, priors):
    """log p̃(θ | y) and the mode (γ, b, w), by plain Newton on the whole latent vector with
    the dense BYM2 precision: the engine's old form, written out independently of it."""
    n, t = panel.shape
    h = st.natural(theta)
    q_b = (panel.basis / (h["sigma"] ** 2 * st.spatial_variances(h["rho"], panel))) @ panel.basis.T
    c_w = st.path_covariance(t, h["sigma_delta"]) + h["sigma_eps"] ** 2 * np.eye(t)
    lp = 1.0 / priors.level_sd**2
    q = np.zeros((t + n + n * t,) * 2)
    q[:t, :t] = lp * np.eye(t)
    q[t : t + n, t : t + n] = q_b
    q[t + n :, t + n :] = np.kron(np.eye(n), np.linalg.inv(c_w))
    design = np.zeros((n * t, t + n + n * t))  # η (village-major) = design @ x
    rows = np.arange(n * t)
    design[rows, np.tile(np.arange(t), n)] = 1
    design[rows, t + np.repeat(np.arange(n), t)] = 1
    design[rows, t + n + rows] = 1
    y, off, m = panel.y.ravel(), panel.log_e.ravel(), panel.mask.ravel()
    x = np.zeros(q.shape[0])
    for _ in range(50):
        mu = np.where(m, np.exp(off + design @ x), 0)
        hess = q + design.T @ (mu[:, None] * design)
        x = x + np.linalg.solve(hess, design.T @ np.where(m, y - mu, 0) - q @ x)
    mu = np.where(m, np.exp(off + design @ x), 0)
    hess = q + design.T @ (mu[:, None] * design)
    eta = off + design @ x
    f = np.where(m, y * eta - mu, 0).sum() - 0.5 * x @ q @ x
    value = (
        st.log_prior_theta(theta, priors)
        + f
        + 0.5 * (np.linalg.slogdet(q)[1] - np.linalg.slogdet(hess)[1])
    )
    return value, x[:t], x[t : t + n], x[t + n :].reshape(n, t)


def test_the_banded_engine_gives_the_dense_laplace_approximation():
    """Two lattices and an island (so two sum-to-zero constraints): at four points of θ the
    banded engine's mode and log p̃(θ | y) (up to one constant) are those of a dense Newton on
    the whole latent vector with the dense BYM2 precision."""
    import scipy.sparse as sp

    from dv_analysis.synth.worlds import lattice_adjacency

    adjacency = sp.block_diag([lattice_adjacency(4), lattice_adjacency(3), sp.csr_matrix((1, 1))])
    rng = np.random.default_rng(5)
    n, t = adjacency.shape[0], 4
    e = rng.uniform(2, 12, (n, t))
    e[3, 1] = 0  # a village-quarter without population
    y = rng.poisson(e * np.exp(rng.normal(0, 0.4, n)[:, None] + rng.normal(0, 0.2, (n, t))))
    panel = st.prepare_panel(y, e, prepare_graph(adjacency))
    priors = st.SpaceTimePriors()
    thetas = [
        laplace.START_THETA,
        [-0.5, 1.0, -2.0, -1.5],
        [-1.5, -2.0, -3.5, -1.0],
        [0.5, 3, -4, -3],
    ]
    banded, dense = [], []
    for theta in map(np.asarray, thetas):
        value, mode, _ = laplace.log_posterior_theta(theta, panel, priors)
        d_value, d_gamma, d_b, d_w = _dense_laplace(theta, panel, priors)
        assert np.allclose(mode.b, d_b, atol=1e-6) and np.allclose(mode.w, d_w, atol=1e-6)
        assert np.allclose(mode.gamma, d_gamma, atol=1e-6)
        banded.append(value)
        dense.append(d_value)
    assert np.allclose(np.diff(banded), np.diff(dense), atol=1e-4)


def test_banded_factor_solves_and_draws_as_the_dense_matrix():
    import scipy.sparse as sp

    from dv_analysis.stats.disease_mapping._inla.gmrf import BandedPattern
    from dv_analysis.synth.worlds import lattice_adjacency

    a = lattice_adjacency(6)
    lap = sp.diags(np.asarray(a.sum(1)).ravel()) - a
    pattern = BandedPattern.from_matrix(lap)
    assert pattern.bandwidth < 12  # RCM keeps a 6 × 6 lattice in a narrow band
    d = np.linspace(0.1, 2.0, 36)
    factor = pattern.factor(d)
    dense = lap.toarray() + np.diag(d)
    rhs = np.random.default_rng(0).standard_normal((36, 3))
    assert np.allclose(factor.solve(rhs), np.linalg.solve(dense, rhs))
    assert np.isclose(factor.log_det(), np.linalg.slogdet(dense)[1])
    # Pᵀ L⁻ᵀ L⁻¹ P = (Q + D)⁻¹: draws through the half solves have the right covariance
    root = factor.half_solve_t(np.eye(36))
    assert np.allclose(root @ root.T, np.linalg.inv(dense))
    assert np.allclose(
        factor.half_solve(rhs),
        np.linalg.solve(
            np.linalg.cholesky(dense[np.ix_(pattern.order, pattern.order)]), rhs[pattern.order]
        ),
    )


def test_integration_points_follow_the_hessian_not_its_eigenvectors_signs():
    """The proposal's root is the Cholesky factor of the floored covariance: the same for a
    Hessian whatever signs its eigenvectors come with (rounding on another CPU flipped them
    and moved a one-quarter fit's σ from 0.54 to 0.46), continuous in the Hessian, and
    exact where no eigenvalue is floored."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 4))
    h = a @ a.T + np.diag([20.0, 1.0, 0.5, 0.01])  # one direction nearly flat
    vals, vecs = np.linalg.eigh(h)
    flipped = (vecs * [1, -1, -1, 1]) @ np.diag(vals) @ (vecs * [1, -1, -1, 1]).T
    root = laplace.gaussian_root(h, laplace.FLAT_CURVATURE)
    np.testing.assert_allclose(
        laplace.gaussian_root(flipped, laplace.FLAT_CURVATURE), root, atol=1e-10
    )
    floored = (vecs / np.maximum(vals, laplace.FLAT_CURVATURE)) @ vecs.T
    np.testing.assert_allclose(root @ root.T, floored, atol=1e-10)
    assert np.allclose(np.triu(root, 1), 0)
    steep = h + np.eye(4)  # nothing floored: the plain Cholesky factor of H⁻¹
    np.testing.assert_allclose(
        laplace.gaussian_root(steep, 1e-9), np.linalg.cholesky(np.linalg.inv(steep)), atol=1e-10
    )


def test_a_fit_does_not_jump_with_rounding_of_its_inputs():
    """Expected counts changed in the 13th digit give the same integrated hyperparameters
    (a one-quarter panel, whose flat σ_δ direction made the proposal fragile)."""
    from dv_analysis.synth.worlds import lattice_adjacency

    rng = np.random.default_rng(9)  # with eigenvectors' signs: σ 0.430, then 0.299, 0.299
    e = rng.uniform(3, 12, (64, 1))
    y = rng.poisson(e * np.exp(0.4 * rng.standard_normal((64, 1))))
    graph = prepare_graph(lattice_adjacency(8))
    first = laplace.fit_laplace(st.prepare_panel(y, e, graph)).hyperparameters()
    for rounding in (1e-13, -1e-13):
        again = laplace.fit_laplace(st.prepare_panel(y, e * (1 + rounding), graph))
        for name, h in again.hyperparameters().items():
            assert h["mean"] == pytest.approx(first[name]["mean"], abs=1e-5), (name, rounding)
