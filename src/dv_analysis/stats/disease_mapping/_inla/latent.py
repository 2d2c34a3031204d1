"""The latent Gaussian field of the space-time model at one θ, on sparse banded matrices.

The nested-Laplace engine (:mod:`dv_analysis.stats.disease_mapping._inla.laplace`) needs, at each hyperparameter
point θ = (log σ, logit ρ, log σ_δ, log σ_ε), the mode of p(x | θ, y), the log-determinant
of the Hessian there, and exact draws from the Gaussian approximation. This module does
those three things.

**Parametrisation** (as R-INLA's ``bym2``). The BYM2 effect is written through two latent
vectors with priors that do not depend on θ:

    b_i = a_i v_i + c_i u_i,   a = σ √(1 − ρ),  c = σ √ρ   (a = σ, c = 0 on an island)
    v ~ N(0, I),               u ~ N(0, Q⁻),  Q = s (D − A),  Σ_{i ∈ component} u_i = 0

so the prior precision of (γ, v, u, w) is sparse, whereas that of ``b`` is dense. The
Laplace approximation is the same in either parametrisation (the map from (v, u) to b is
linear and p(v, u | b) Gaussian), and ``tests/stats`` checks the two against each other.

**Elimination.** The Hessian of −log p(x | θ, y) has, for each village, a ``T × T`` block
``P_i = C_w⁻¹ + diag(μ_i)`` for ``w_i``, a scalar for ``v_i``, the banded ``Q + diag`` for
``u``, and ``T`` dense rows for the quarters' levels γ. Eliminating ``w`` and ``v`` (block
diagonal) leaves ``[[G, Bᵀ], [B, U]]`` in (γ, u) with ``U`` banded: one banded Cholesky
(:mod:`dv_analysis.stats.disease_mapping._inla.gmrf`) and a ``T × T`` one per Newton step, ``O(n w² + n T³)``
instead of the dense ``O((n + T)³)``. The sum-to-zero constraints on ``u`` are applied by
conditioning (Rue & Held 2005, section 2.3.3: "conditioning by kriging"), and enter
log |H| through ``log |A H⁻¹ Aᵀ|``.

**Fixed effects.** Covariates ``x_it`` (``Panel.covariates``) add ``x_itᵀβ`` to the linear
predictor, ``β ~ N(0, beta_sd² I)``. β joins the quarters' levels in the dense border:
the border vector is ``z = (γ, β)`` (``T + p``), village *i*'s design in it is
``Z_i = [I_T, X_i]``, so after ``w_i`` is eliminated its coupling with ``b_i`` is
``Z_iᵀ(μ_i − μ_i ∘ P_i⁻¹μ_i)`` and the border block is
``Σ_i Z_iᵀ M_i Z_i + prior``, ``M_i = diag(μ_i) − diag(μ_i) P_i⁻¹ diag(μ_i)``. The cost grows by
``O(n T² p)``; without covariates (p = 0) every array is the one it was before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dv_analysis.stats.disease_mapping._inla.gmrf import BorderedFactor
from dv_analysis.stats.disease_mapping.spacetime.model import (
    Panel,
    SpaceTimePriors,
    natural,
    path_covariance,
)

__all__ = [
    "LatentPrior",
    "Mode",
    "bym2_weights",
    "halved_step",
    "free_gradient",
    "latent_prior",
    "find_mode",
    "draw_latent",
]

#: Newton stops when the largest gradient entry is below this (on the log-posterior scale).
NEWTON_TOL = 1e-6
NEWTON_MAX_ITER = 60


@dataclass
class LatentPrior:
    """The latent Gaussian prior at one θ."""

    a: np.ndarray  # (n,) weight of v_i in b_i
    c: np.ndarray  # (n,) weight of u_i in b_i
    cw_inv: np.ndarray  # (T, T) precision of each w_i
    c_delta: np.ndarray  # (T, T) covariance of δ_i
    level_prec: float
    log_det: float  # log|Q(θ)| of the prior, up to a constant that does not depend on θ
    beta_prec: float = 1.0  # prior precision of each fixed effect


def bym2_weights(sigma: float, rho: float, alone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The weights of v and u in ``b = a v + c u``: ``a = σ √(1 − ρ)``, ``c = σ √ρ``; on an
    island ``a = σ``, ``c = 0`` (no neighbours: no spatial part).

    Parameters
    ----------
    sigma, rho : float
        The BYM2's standard deviation and spatial share.
    alone : numpy.ndarray
        Bool per area: an island.

    Returns
    -------
    tuple of numpy.ndarray
        ``a`` and ``c``, one per area.
    """
    a = np.where(alone, sigma, sigma * np.sqrt(1.0 - rho))
    return a, np.where(alone, 0.0, sigma * np.sqrt(rho))


def halved_step(objective, x: tuple, step: tuple, f: float) -> tuple[tuple, float]:
    """Newton's step from ``x``, halved until the objective does not fall (at most 30
    times): the new point and its objective.

    Parameters
    ----------
    objective : callable
        Point (a tuple of arrays) → the value to maximise.
    x, step : tuple of numpy.ndarray
        The point and the full step.
    f : float
        ``objective(x)``.

    Returns
    -------
    tuple
        ``(point, value)``.
    """
    for scale in 0.5 ** np.arange(30):
        cand = tuple(xi + scale * d for xi, d in zip(x, step, strict=True))
        f_new = objective(cand)
        if f_new >= f - 1e-10:
            break
    return cand, f_new


def free_gradient(g_u: np.ndarray, constraints: np.ndarray) -> np.ndarray:
    """u's gradient without its components' means: the sum-to-zero constraints hold those
    fixed, so they need not vanish at the mode.

    Parameters
    ----------
    g_u : numpy.ndarray
        The gradient in u.
    constraints : numpy.ndarray
        ``(C, n)``, a row of ones per component (C may be 0).

    Returns
    -------
    numpy.ndarray
    """
    if not len(constraints):
        return g_u
    return g_u - constraints.T @ (constraints @ g_u / constraints.sum(1))


def latent_prior(theta: np.ndarray, panel: Panel, priors: SpaceTimePriors) -> LatentPrior:
    """The latent field's Gaussian prior at θ (module docstring).

    Parameters
    ----------
    theta : numpy.ndarray
        (log σ, logit ρ, log σ_δ, log σ_ε).
    panel : Panel
        The prepared panel (:func:`~dv_analysis.stats.disease_mapping.spacetime.model.prepare_panel`).
    priors : SpaceTimePriors
        The priors (the level's standard deviation is used here).

    Returns
    -------
    LatentPrior
        The weights of v and u in b, the paths' precision and covariance, the level's
        precision, and log|Q(θ)| (v and u have priors free of θ: only γ and w count).
    """
    h = natural(theta)
    n, t = panel.shape
    a, c = bym2_weights(h["sigma"], h["rho"], panel.alone)
    c_delta = path_covariance(t, h["sigma_delta"])
    c_w = c_delta + h["sigma_eps"] ** 2 * np.eye(t)
    level_prec = 1.0 / priors.level_sd**2
    log_det = t * np.log(level_prec) - n * np.linalg.slogdet(c_w)[1]
    prior = LatentPrior(a, c, np.linalg.inv(c_w), c_delta, level_prec, float(log_det))
    prior.beta_prec = 1.0 / priors.beta_sd**2  # β's prior is free of θ: not in log_det
    return prior


@dataclass
class _System:
    """The Hessian at μ with w and v eliminated: what a Newton step, log|H| and draws need."""

    p_inv: np.ndarray  # (n, T, T) inverses of the w blocks
    border: np.ndarray  # (n, T + p) coupling of b_i and z = (γ, β) after w
    k: np.ndarray  # (n,) curvature of b_i after w
    denom: np.ndarray  # (n,) curvature of v_i: 1 + a² k
    reduced: BorderedFactor  # [[G, Bᵀ], [B, U]] in (γ, u), U = Q + diag(c² k / denom)


def _system(panel: Panel, prior: LatentPrior, mu: np.ndarray) -> _System:
    t = panel.shape[1]
    p_inv = np.linalg.inv(prior.cw_inv[None, :, :] + mu[:, :, None] * np.eye(t)[None])
    pm = np.einsum("its,is->it", p_inv, mu)  # P_i⁻¹ μ_i
    border = mu - mu * pm
    k = mu.sum(1) - (mu * pm).sum(1)
    a, c = prior.a, prior.c
    denom = 1.0 + a**2 * k
    g = np.diag(mu.sum(0) + prior.level_prec) - np.einsum("it,its,is->ts", mu, p_inv, mu)
    if panel.covariates is not None:
        border, g = _with_fixed(panel.covariates, mu, p_inv, border, g, prior.beta_prec)
    g -= (border * (a**2 / denom)[:, None]).T @ border
    reduced = BorderedFactor.factor(
        panel.structure,
        c**2 * k / denom,
        c[:, None] * border / denom[:, None],
        g,
        panel.constraints,
    )
    return _System(p_inv, border, k, denom, reduced)


def _with_fixed(x, mu, p_inv, border, g, beta_prec):
    """The border's coupling and block grown from γ to z = (γ, β) (module docstring)."""
    mx = mu[:, :, None] * x  # diag(μ_i) X_i
    m_x = mx - mu[:, :, None] * np.einsum("its,isk->itk", p_inv, mx)  # M_i X_i
    g_gb = m_x.sum(0)
    g_bb = np.einsum("itk,itl->kl", x, m_x) + beta_prec * np.eye(x.shape[2])
    g = np.block([[g, g_gb], [g_gb.T, g_bb]])
    return np.hstack([border, np.einsum("it,itk->ik", border, x)]), g


def _fixed(panel: Panel, z: np.ndarray) -> np.ndarray:
    """``γ_t + x_itᵀβ`` as ``(n, T)`` (``γ_t`` broadcast, ``(1, T)``, without covariates)."""
    t = panel.shape[1]
    if panel.covariates is None:
        return z[None, :t]
    return z[None, :t] + panel.covariates @ z[t:]


def _border_sums(panel: Panel, r: np.ndarray) -> np.ndarray:
    """``Σ_i Z_iᵀ r_i``: a residual ``(n, T)`` summed onto z = (γ, β)."""
    out = r.sum(0)
    if panel.covariates is None:
        return out
    return np.concatenate([out, np.einsum("it,itk->k", r, panel.covariates)])


def _log_det_h(s: _System) -> float:
    """log|H| at the mode under the constraints, up to a constant free of θ."""
    out = -np.linalg.slogdet(s.p_inv)[1].sum() + np.log(s.denom).sum()
    return float(out + s.reduced.log_det())


@dataclass
class Mode:
    """The mode of p(x | θ, y) and the eliminated Hessian there."""

    gamma: np.ndarray  # z = (γ, β): the quarters' levels, then the fixed effects (T + p)
    v: np.ndarray
    u: np.ndarray
    w: np.ndarray
    b: np.ndarray  # a v + c u
    objective: float  # log p(y | x*) + log p(x* | θ) without constants
    log_det_h: float
    system: _System
    mu: np.ndarray  # (n, T) fitted means at the mode
    gradient_norm: float
    iterations: int

    @property
    def start(self) -> tuple:
        """(γ, v, u, w): where Newton's method starts at a neighbouring θ."""
        return self.gamma, self.v, self.u, self.w


def _objective(panel: Panel, prior: LatentPrior, x: tuple) -> float:
    z, v, u, w = x
    t = panel.shape[1]
    b = prior.a * v + prior.c * u
    eta = panel.log_e + _fixed(panel, z) + b[:, None] + w
    with np.errstate(over="ignore"):  # a line-search trial far off: −inf, and the step halves
        like = np.where(panel.mask, panel.y * eta - np.exp(eta), 0.0).sum()
    gamma = z[:t]
    quad = prior.level_prec * gamma @ gamma + v @ v + u @ panel.structure.matrix @ u
    quad += np.einsum("it,ts,is->", w, prior.cw_inv, w)
    if panel.covariates is not None:
        quad += prior.beta_prec * z[t:] @ z[t:]
    return float(like - 0.5 * quad)


def _means(panel: Panel, prior: LatentPrior, x: tuple) -> np.ndarray:
    z, v, u, w = x
    b = prior.a * v + prior.c * u
    return np.where(panel.mask, np.exp(panel.log_e + _fixed(panel, z) + b[:, None] + w), 0.0)


def _gradient(panel: Panel, prior: LatentPrior, x: tuple, mu: np.ndarray) -> tuple:
    z, v, u, w = x
    r = np.where(panel.mask, panel.y - mu, 0.0)
    rb = r.sum(1)
    prec = prior.level_prec
    if panel.covariates is not None:  # γ's precision, then β's
        prec = np.r_[np.full(panel.shape[1], prec), np.full(panel.n_covariates, prior.beta_prec)]
    return (
        _border_sums(panel, r) - prec * z,
        prior.a * rb - v,
        prior.c * rb - panel.structure.matrix @ u,
        r - w @ prior.cw_inv,
    )


def _newton_step(panel: Panel, prior: LatentPrior, s: _System, mu: np.ndarray, grads):
    """The constrained Newton direction, by elimination of w and v (module docstring)."""
    g_gamma, g_v, g_u, g_w = grads
    a, c = prior.a, prior.c
    pg = np.einsum("its,is->it", s.p_inv, g_w)  # P_i⁻¹ g_wi
    q = (mu * pg).sum(1)
    r_gamma, r_v, r_u = g_gamma - _border_sums(panel, mu * pg), g_v - a * q, g_u - c * q
    scale = r_v / s.denom
    d_gamma, d_u = s.reduced.solve(r_gamma - s.border.T @ (a * scale), r_u - a * c * s.k * scale)
    d_v = (r_v - a * c * s.k * d_u - a * (s.border @ d_gamma)) / s.denom
    d_b = a * d_v + c * d_u
    d_w = pg - np.einsum("its,is->it", s.p_inv, mu * (_fixed(panel, d_gamma) + d_b[:, None]))
    return d_gamma, d_v, d_u, d_w


def find_mode(panel: Panel, prior: LatentPrior, start: tuple | None = None) -> Mode:
    """Newton's method for the mode of p(x | θ, y), with step halving.

    Parameters
    ----------
    panel : Panel
        The prepared panel.
    prior : LatentPrior
        The latent prior at θ (:func:`latent_prior`).
    start : tuple of numpy.ndarray, optional
        (γ, v, u, w) to start from, e.g. the mode at a neighbouring θ (``Mode.start``);
        default zeros. ``u`` must keep its constraints (sum zero in every component).

    Returns
    -------
    Mode
        The mode, the objective there, log|H| and the eliminated Hessian, the largest
        gradient component and the iterations used.
    """
    n, t = panel.shape
    m = t + panel.n_covariates
    x = start if start is not None else (np.zeros(m), np.zeros(n), np.zeros(n), np.zeros((n, t)))
    f = _objective(panel, prior, x)
    for it in range(1, NEWTON_MAX_ITER + 1):  # noqa: B007 (the count is returned)
        mu = _means(panel, prior, x)
        grads = _gradient(panel, prior, x, mu)
        s = _system(panel, prior, mu)
        norm = _projected_norm(panel, grads)
        if norm < NEWTON_TOL:
            break
        step = _newton_step(panel, prior, s, mu, grads)
        x, f = halved_step(lambda z: _objective(panel, prior, z), x, step, f)
    b = prior.a * x[1] + prior.c * x[2]
    return Mode(*x, b, f, _log_det_h(s), s, mu, norm, it)


def _projected_norm(panel: Panel, grads: tuple) -> float:
    """The largest gradient entry, u's without its components' means (:func:`free_gradient`)."""
    g_u = free_gradient(grads[2], panel.constraints)
    return max(float(np.abs(g).max()) for g in (grads[0], grads[1], g_u, grads[3]))


def draw_latent(panel: Panel, mode: Mode, prior: LatentPrior, count: int, rng):
    """``count`` exact draws of (γ, b, δ) from the Gaussian approximation at one point of θ.

    Parameters
    ----------
    panel : Panel
        The prepared panel.
    mode : Mode
        The mode at θ (:func:`find_mode`).
    prior : LatentPrior
        The prior at θ.
    count : int
        Draws.
    rng : numpy.random.Generator

    Returns
    -------
    tuple of numpy.ndarray
        z = (γ, β) ``(count, T + p)``, b ``(count, n)`` and δ ``(count, n, T)``.
    """
    n, t = panel.shape
    s = mode.system
    d_gamma, d_u = s.reduced.draw(count, rng)  # (γ, u) ~ N(0, K⁻¹) under the constraints
    a, c = prior.a[:, None], prior.c[:, None]
    mean_v = -(a * c * s.k[:, None] * d_u + a * (s.border @ d_gamma)) / s.denom[:, None]
    d_v = mean_v + rng.standard_normal((n, count)) / np.sqrt(s.denom)[:, None]
    d_b = (a * d_v + c * d_u).T  # (count, n)
    d_gamma = d_gamma.T  # (count, t)
    mu = mode.mu
    d_fixed = d_gamma[:, None, :t]
    if panel.covariates is not None:
        d_fixed = d_fixed + np.einsum("itk,dk->dit", panel.covariates, d_gamma[:, t:])
    shift = np.einsum("its,dis->dit", s.p_inv, mu[None] * d_fixed + mu[None] * d_b[:, :, None])
    chol_p = np.linalg.cholesky(s.p_inv)  # (n, t, t)
    noise = np.einsum("its,dis->dit", chol_p, rng.standard_normal((count, n, t)))
    w = mode.w[None] - shift + noise
    return mode.gamma[None] + d_gamma, mode.b[None] + d_b, _split_delta(prior, w, rng)


def _split_delta(prior: LatentPrior, w: np.ndarray, rng) -> np.ndarray:
    """δ_i given w_i = δ_i + ε_i: mean C_δ C_w⁻¹ w_i, covariance C_δ − C_δ C_w⁻¹ C_δ."""
    k = prior.c_delta @ prior.cw_inv
    cov = prior.c_delta - k @ prior.c_delta
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    root = vecs * np.sqrt(np.clip(vals, 0, None))
    return w @ k.T + rng.standard_normal(w.shape) @ root.T
