"""Nested Laplace approximation of the space-time model (:mod:`dv_analysis.stats.disease_mapping.spacetime.model`).

The INLA recipe (Rue, Martino & Chopin 2009) for this model, in numpy:

1. For hyperparameters θ = (log σ, logit ρ, log σ_δ, log σ_ε) the latent field
   x = (γ, β, v, u, w), with ``b = σ(√(1−ρ) v + √ρ u)`` the BYM2 effect, β the fixed effects
   of the covariates (none by default) and ``w_i = δ_i + ε_i`` each village's deviation from
   its level, is Gaussian a priori: ``γ ~ N(0, level_sd² I)``, ``β ~ N(0, beta_sd² I)``,
   ``v ~ N(0, I)``, ``u`` the scaled ICAR (sparse precision, sum to zero by component),
   ``w_i ~ N(0, C_w)`` with ``C_w = σ_δ² R⁺ + σ_ε² I`` (``T × T``). Newton's method finds
   the mode of p(x | θ, y) (Poisson likelihood: concave, so it converges; steps are halved
   when the objective does not rise).
2. The Hessian is sparse: eliminating the ``T × T`` blocks of the ``w_i`` and the scalars of
   the ``v_i`` leaves the banded ICAR precision plus a diagonal, bordered by ``T`` dense rows
   for γ, so a Newton step costs one banded Cholesky and a few small dense ones
   (:mod:`dv_analysis.stats.disease_mapping._inla.latent`, :mod:`dv_analysis.stats.disease_mapping._inla.gmrf`). Until 2026-12-03 the
   engine worked in ``b`` with the dense BYM2 precision (``O(n³)`` a step: 57 s for New
   Taipei's 1,009 villages against the banded engine's few seconds).
3. ``log p̃(θ | y) = log p(θ) + log p(y, x*| θ) − ½ log|H(x*)| + ½ log|Q(θ)|`` (Laplace).
   Its mode is found by a quasi-Newton search, its Hessian there by finite differences.
4. The integral over θ is done by importance sampling (Berild et al. 2022, "Importance
   sampling with the integrated nested Laplace approximation"): ``INTEGRATION_POINTS``
   scrambled Sobol points of a multivariate-t proposal around the mode, ``PROPOSAL_SCALE``
   times wider than the Laplace curvature, weighted by ``p̃(θ_k | y) / q(θ_k)``. Fewer points than
   INLA's 3⁴ grid, and the weights correct a proposal that is off instead of trusting it.
5. Posterior draws: θ_k by its weight, then x from the Gaussian approximation at θ_k
   (exact draws of ``N(x*, H⁻¹)`` through the same eliminated structure), then ``δ_i`` given
   ``w_i`` (the noise ε split off in closed form). Every reported quantity comes from the
   draws, as with NUTS.

Diagnostics: Newton must converge at every point (the largest gradient norm is kept), the θ
search must converge, and the importance weights' effective sample size must be at least
``MIN_WEIGHT_ESS`` of the points (a low one means mass where the proposal is thin: the
mode or its curvature is wrong). ``tests/stats`` compares the engine with long NUTS runs
of the same model.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from dv_analysis.stats.disease_mapping._inla.latent import draw_latent, find_mode, latent_prior
from dv_analysis.stats.disease_mapping.spacetime.model import (
    HYPERPARAMETERS,
    Panel,
    SpaceTimePriors,
    log_prior_theta,
    natural,
)

#: The box θ is searched and integrated in: σ and the step and noise standard deviations
#: between e⁻⁷ ≈ 0.001 and e² ≈ 7.4 (e^1.5 ≈ 4.5 for the last two), logit ρ within ±9.
THETA_BOUNDS = ((-7.0, 2.0), (-9.0, 9.0), (-7.0, 1.5), (-7.0, 1.5))
#: Points of θ for the importance sampling, the proposal's width against the Laplace
#: curvature, and the smallest share of effective points the weights may leave.
INTEGRATION_POINTS = 32
PROPOSAL_SCALE = 1.5
PROPOSAL_DF = 4
MIN_WEIGHT_ESS = 0.15
#: Curvature below which a direction of θ counts as flat in the proposal (a standard
#: deviation of 1/√0.05 ≈ 4.5: wider than the box along σ_δ or σ_ε).
FLAT_CURVATURE = 0.05


def log_posterior_theta(theta, panel: Panel, priors: SpaceTimePriors, start=None):
    """Laplace approximation of log p(θ | y) up to a constant, and the mode it used.

    Parameters
    ----------
    theta : numpy.ndarray
        (log σ, logit ρ, log σ_δ, log σ_ε).
    panel : Panel
        The prepared panel.
    priors : SpaceTimePriors
        The priors.
    start : tuple of numpy.ndarray, optional
        Where Newton's method starts (:func:`find_mode`).

    Returns
    -------
    tuple
        ``(value, mode, prior)``: log p̃(θ | y) up to a constant, the :class:`~dv_analysis.stats.disease_mapping._inla.latent.Mode`
        and the :class:`~dv_analysis.stats.disease_mapping._inla.latent.LatentPrior` at θ.
    """
    prior = latent_prior(theta, panel, priors)
    mode = find_mode(panel, prior, start)
    value = log_prior_theta(theta, priors) + mode.objective + 0.5 * (prior.log_det - mode.log_det_h)
    return float(value), mode, prior


#: Where the θ search starts without a better guess: σ 0.4, ρ ½, σ_δ 0.05, σ_ε 0.15.
START_THETA = np.array([np.log(0.4), 0.0, np.log(0.05), np.log(0.15)])


def theta_mode(
    panel: Panel, priors: SpaceTimePriors, start: np.ndarray | None = None
) -> tuple[np.ndarray, dict]:
    """The mode of log p̃(θ | y) (L-BFGS on numerical gradients, warm-started Newton), from
    ``start`` (default :data:`START_THETA`).

    Parameters
    ----------
    panel : Panel
        The prepared panel.
    priors : SpaceTimePriors
        The priors.
    start : numpy.ndarray, optional
        θ to start from (clipped to ``THETA_BOUNDS``).

    Returns
    -------
    tuple
        ``(theta, search)``: the mode, and a dict with ``converged``, ``message``,
        ``evaluations`` and ``start`` (the latent mode at the last θ, to warm-start later fits).
    """
    cache: dict = {"start": None, "evaluations": 0}

    def negative(theta):
        value, mode, _ = log_posterior_theta(theta, panel, priors, cache["start"])
        cache["start"] = mode.start
        cache["evaluations"] += 1
        return -value

    x0 = START_THETA if start is None else np.clip(start, *np.array(THETA_BOUNDS).T)
    res = minimize(
        negative,
        x0,
        method="L-BFGS-B",
        bounds=THETA_BOUNDS,
        options={"eps": 1e-3, "gtol": 1e-2, "maxiter": 100},
    )
    return res.x, {
        "converged": bool(res.success),
        "message": str(res.message),
        "evaluations": cache["evaluations"],
        "start": cache["start"],
    }


def theta_hessian(f, theta: np.ndarray, step: float = 0.05) -> np.ndarray:
    """Finite-difference Hessian of a scalar function ``f`` at its minimum θ, from
    ``1 + 2d + d(d−1)/2`` evaluations: central differences on the diagonal, and
    ``(f(θ+eᵢ+eⱼ) − f(θ+eᵢ) − f(θ+eⱼ) + f(θ))/h²`` off it.

    Parameters
    ----------
    f : callable
        θ → scalar (the negative log posterior).
    theta : numpy.ndarray
        Where the Hessian is taken (the minimum of ``f``).
    step : float
        The finite-difference step.

    Returns
    -------
    numpy.ndarray
        The symmetric ``d × d`` Hessian.
    """
    d = len(theta)
    e = np.eye(d) * step
    f0 = f(theta)
    up = np.array([f(theta + e[i]) for i in range(d)])
    down = np.array([f(theta - e[i]) for i in range(d)])
    h = np.diag((up - 2 * f0 + down) / step**2)
    for i, j in itertools.combinations(range(d), 2):
        h[i, j] = h[j, i] = (f(theta + e[i] + e[j]) - up[i] - up[j] + f0) / step**2
    return h


@dataclass
class LaplaceFit:
    """A nested-Laplace fit: points of θ with weights, their modes, and diagnostics."""

    theta: np.ndarray  # (K, 4) integration points
    weights: np.ndarray  # (K,)
    modes: list  # latent.Mode per point
    priors_at: list  # latent.LatentPrior per point
    theta_mode: np.ndarray
    theta_sd: np.ndarray  # marginal standard deviations of θ at the mode (Gaussian)
    diagnostics: dict = field(default_factory=dict)
    seconds: float = 0.0

    def hyperparameters(self) -> dict:
        """Posterior mean, sd and 90 % interval of σ, ρ, σ_δ, σ_ε from the weighted points."""
        vals = np.array([list(natural(t).values()) for t in self.theta])
        out = {}
        for k, name in enumerate(HYPERPARAMETERS):
            mean = float(self.weights @ vals[:, k])
            sd = float(np.sqrt(max(self.weights @ (vals[:, k] - mean) ** 2, 0.0)))
            out[name] = {"mean": mean, "sd": sd, "mode": natural(self.theta_mode)[name]}
        return out


def hyperparameter_summary(fit: LaplaceFit) -> dict:
    """σ, ρ, σ_δ, σ_ε of a fit: weighted mean and sd, and a 90 % interval from the Gaussian
    approximation of θ at its mode (on the log or logit scale).

    Parameters
    ----------
    fit : LaplaceFit

    Returns
    -------
    dict
        Per hyperparameter: ``mean``, ``sd``, ``mode``, ``q05``, ``q95``.
    """
    from scipy.special import expit

    out = fit.hyperparameters()
    for k, name in enumerate(out):
        lo, hi = fit.theta_mode[k] + np.array([-1.645, 1.645]) * fit.theta_sd[k]
        f = expit if name == "rho" else np.exp
        out[name] |= {"q05": float(f(lo)), "q95": float(f(hi))}
    return out


def gaussian_root(hessian: np.ndarray, floor: float) -> np.ndarray:
    """The lower Cholesky factor ``L`` of the covariance ``H⁻¹``, with the Hessian's
    eigenvalues floored at ``floor`` first (a flat direction counts as curvature ``floor``).

    Points ``centre + L z`` of standard ``z`` follow the Gaussian approximation. Unlike the
    eigenvectors (each defined only up to its sign, which a rounding difference between
    machines can flip), the floored covariance and its Cholesky factor change continuously
    with the Hessian: the same fit gives the same points on every machine.

    Parameters
    ----------
    hessian : numpy.ndarray
        Symmetric ``d × d`` Hessian of the negative log density at its mode.
    floor : float
        Smallest curvature kept.

    Returns
    -------
    numpy.ndarray
        Lower-triangular ``d × d`` ``L`` with ``L Lᵀ`` the floored ``H⁻¹``.
    """
    vals, vecs = np.linalg.eigh((hessian + hessian.T) / 2)
    cov = (vecs / np.maximum(vals, floor)) @ vecs.T
    return np.linalg.cholesky((cov + cov.T) / 2)


def _proposal(centre: np.ndarray, hessian: np.ndarray, seed: int, times: int = 1):
    """Points of θ from the proposal, a multivariate t with ``PROPOSAL_DF`` degrees of freedom
    around the mode, ``PROPOSAL_SCALE`` times wider than the Laplace curvature (heavy tails:
    the posterior of a standard deviation near zero is skewed toward it), drawn as
    scrambled Sobol points so that they spread evenly; and the proposal's log density at
    each (up to a constant)."""
    from scipy.stats import chi2, norm, qmc

    d = len(centre)
    # a flat direction (σ_δ of a single quarter, which no data inform): a proposal as wide
    # as the box, the same whatever rounding noise the finite differences leave there
    root = gaussian_root(hessian, FLAT_CURVATURE) * PROPOSAL_SCALE  # scale matrix root rootᵀ
    u = np.clip(
        qmc.Sobol(d + 1, scramble=True, seed=seed).random(INTEGRATION_POINTS * times),
        1e-9,
        1 - 1e-9,
    )
    z = norm.ppf(u[:, :d]) / np.sqrt(chi2.ppf(u[:, d], PROPOSAL_DF) / PROPOSAL_DF)[:, None]
    log_q = -(PROPOSAL_DF + d) / 2 * np.log1p((z**2).sum(1) / PROPOSAL_DF)
    lo, hi = np.array(THETA_BOUNDS).T
    return np.clip(centre[None, :] + z @ root.T, lo, hi), log_q


def _weigh(panel, priors, points, log_q, start):
    """Importance weights of ``points`` (proposal log density ``log_q``), their modes and
    priors."""
    logp, modes, priors_at = [], [], []
    for theta in points:
        value, mode, prior = log_posterior_theta(theta, panel, priors, start)
        logp.append(value)
        modes.append(mode)
        priors_at.append(prior)
    log_w = np.array(logp) - log_q
    weights = np.exp(log_w - log_w.max())
    return weights / weights.sum(), modes, priors_at


def _integrate(panel, priors, mode_theta, hess, start, seed):
    """Importance weights of the proposal's points, with their modes and priors.

    When the weights' effective sample size falls short of ``MIN_WEIGHT_ESS`` (the Laplace
    curvature at the mode misjudged a skewed posterior), the proposal is adapted once, as in
    adaptive importance sampling: centred on the weighted mean of the first points, shaped
    by their weighted covariance, with twice the points; the second set alone is kept.
    """
    points, log_q = _proposal(mode_theta, hess, seed)
    weights, modes, priors_at = _weigh(panel, priors, points, log_q, start)
    if 1.0 / (weights**2).sum() >= MIN_WEIGHT_ESS * len(points):
        return points, weights, modes, priors_at
    centre = weights @ points
    dev = points - centre
    cov = (dev * weights[:, None]).T @ dev + 1e-4 * np.eye(len(centre))
    points, log_q = _proposal(centre, np.linalg.inv(cov), seed + 1, 2)
    weights, modes, priors_at = _weigh(panel, priors, points, log_q, start)
    return points, weights, modes, priors_at


def fit_laplace(
    panel: Panel,
    priors: SpaceTimePriors | None = None,
    seed: int = 42,
    integrate: bool = True,
    theta_start: np.ndarray | None = None,
) -> LaplaceFit:
    """Fit the space-time model by nested Laplace (module docstring).

    Parameters
    ----------
    panel : Panel
        :func:`dv_analysis.stats.disease_mapping.spacetime.model.prepare_panel`.
    priors : SpaceTimePriors, optional
        Default: ``SpaceTimePriors()``.
    seed : int
        Seed of the integration points over θ.
    integrate : bool
        True: integrate over θ (importance sampling). False: keep θ at its posterior mode
        (R-INLA's ``int.strategy = "eb"``): one Gaussian approximation, about a third of the
        work; the latent field's uncertainty is kept, the hyperparameters' is not. For
        rankings at backtest origins, not for the numbers staff read.
    theta_start : numpy.ndarray, optional
        Where the θ search starts (e.g. a neighbouring quarter's mode); default
        :data:`START_THETA`.

    Returns
    -------
    LaplaceFit
    """
    from threadpoolctl import threadpool_limits

    priors = priors or SpaceTimePriors()
    t0 = time.perf_counter()
    # one BLAS thread: the matrices are small, and several fits run side by side (counties,
    # test workers), where threads of each fit fighting for the cores made them 10× slower
    with threadpool_limits(limits=1):
        mode_theta, search = theta_mode(panel, priors, theta_start)
        start = search.pop("start")
        if integrate:
            hess, points, weights, modes, priors_at = _integrated(
                panel, priors, mode_theta, start, seed
            )
        else:
            _, mode, prior = log_posterior_theta(mode_theta, panel, priors, start)
            hess, points, weights = None, mode_theta[None, :], np.ones(1)
            modes, priors_at = [mode], [prior]
    diagnostics = _diagnostics(search, modes, weights, integrate)
    sd = (
        np.sqrt(np.clip(np.diag(np.linalg.pinv(hess)), 0, None))
        if hess is not None
        else np.full(len(mode_theta), np.nan)
    )
    return LaplaceFit(
        points, weights, modes, priors_at, mode_theta, sd, diagnostics, time.perf_counter() - t0
    )


def _integrated(panel, priors, mode_theta, start, seed):
    """The Hessian of −log p̃(θ | y) at its mode and the importance-sampling points."""

    def f(theta):
        return -log_posterior_theta(theta, panel, priors, start)[0]

    hess = theta_hessian(f, mode_theta)
    return (hess, *_integrate(panel, priors, mode_theta, hess, start, seed))


def _diagnostics(search: dict, modes: list, weights: np.ndarray, integrate: bool) -> dict:
    """What the fit's reader checks: the θ search, Newton at every point, the weights."""
    ess = float(1.0 / (weights**2).sum())
    d = {
        "engine": "laplace",
        "strategy": "importance" if integrate else "eb",
        "theta_search_converged": search["converged"],
        "theta_evaluations": search["evaluations"],
        "newton_gradient_max": max(m.gradient_norm for m in modes),
        "newton_iterations_max": max(m.iterations for m in modes),
        "integration_points": len(weights),
        "weight_ess": round(ess, 2),
        "weight_ess_limit": MIN_WEIGHT_ESS * len(weights) if integrate else 1.0,
    }
    d["ok"] = bool(
        search["converged"] and d["newton_gradient_max"] < 1e-3 and ess >= d["weight_ess_limit"]
    )
    return d


def draw(fit: LaplaceFit, panel: Panel, draws: int = 2000, seed: int = 42, with_theta=False):
    """Posterior draws of (γ, β, b, δ) from the fit: points of θ by weight, then the latent
    field from each point's Gaussian approximation. Returns arrays shaped
    (draws, T + p), (draws, n), (draws, n, T).

    Parameters
    ----------
    fit : LaplaceFit
        The fit (:func:`fit_laplace`).
    panel : Panel
        The panel it was fitted to.
    draws : int
        How many draws.
    seed : int
        Seed of the draws.
    with_theta : bool
        Also return θ of each draw, ``(draws, 4)`` (the point it was drawn at).

    Returns
    -------
    tuple of numpy.ndarray
        z ``(draws, T + p)`` (the quarters' levels γ, then the fixed effects β of the
        panel's p covariates), b ``(draws, n)`` and δ ``(draws, n, T)`` (and θ).
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    counts = rng.multinomial(draws, fit.weights)
    with threadpool_limits(limits=1):  # as fit_laplace
        parts = [
            draw_latent(panel, fit.modes[k], fit.priors_at[k], int(c), rng)
            for k, c in enumerate(counts)
            if c > 0
        ]
    out = tuple(np.concatenate([p[j] for p in parts]) for j in range(3))
    if not with_theta:
        return out
    theta = np.repeat(fit.theta[counts > 0], counts[counts > 0], axis=0)
    return (*out, theta)
