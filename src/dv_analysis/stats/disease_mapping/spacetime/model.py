"""A space-time disease-mapping model of a village panel (Knorr-Held 2000, type II).

For village *i* in quarter *t* with count ``y_it`` and expected count ``E_it``::

    y_it ~ Poisson(E_it · exp(γ_t + x_itᵀβ + b_i + δ_it + ε_it))
    γ_t ~ N(0, level_sd²)                     one level per quarter (season and trend)
    β   ~ N(0, beta_sd² I)                    fixed effects of standardised covariates (if any)
    b   ~ BYM2(σ, ρ)                          as in :mod:`dv_analysis.stats.disease_mapping.bym2`
    δ_i ~ RW1 over the quarters, Σ_t δ_it = 0  each village its own path (type II)
    ε_it ~ N(0, σ_ε²)                         overdispersion of a village-quarter

``b_i`` is the village's level over the whole window (the δ of a village sum to zero) and
``δ_i`` its path around that level: a cluster that ended, or one that ramps up, moves
``δ``, so the present risk is not the window's average. ``ε`` takes up the noise of single
quarters, so that one unusual quarter does not read as a change of path.

The relative risk of village *i* in quarter *t*, relative to the city in that quarter, is
``exp(b_i + δ_it)`` divided by its expected-count weighted mean over the city's villages in
that quarter (:func:`log_rr_draws`): the city's level ``γ_t`` and the noise ``ε`` are not
part of a village's risk. The *present* risk averages the log relative risk over the last ``now_quarters``
quarters (default four: ``docs/risk_model.md`` says why).

This module holds the model: its priors, its structure matrices, the log prior of the
hyperparameters, and the quantities reported from posterior draws. The engines that fit it
are :mod:`dv_analysis.stats.disease_mapping._inla.laplace` (nested Laplace, the default) and
:mod:`dv_analysis.stats.disease_mapping.spacetime.nuts` (NumPyro's NUTS, the reference).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betaln, expit

from dv_analysis.stats.disease_mapping._inla.gmrf import BandedPattern
from dv_analysis.stats.disease_mapping.icar import Graph, banded_structure, dense_basis

#: Quarters averaged into the present relative risk, and the distance of the earlier
#: present that ``p_rising`` compares against.
NOW_QUARTERS = 4
#: P(rising) at or above which the trend is "rising", at or below whose complement
#: "falling"; between the two, "level".
TREND_PROBABILITY = 0.9


@dataclass(frozen=True)
class SpaceTimePriors:
    """Priors of the space-time model.

    The spatial effect keeps the BYM2 priors of the pooled model (``σ ~ N⁺(0, 1)``,
    ``ρ ~ Beta(½, ½)``: Morris et al. 2019). The two new standard deviations get
    penalised-complexity priors (Simpson et al. 2017): exponential, with
    ``P(σ_δ > 0.5) = 0.01`` for a village's quarter-to-quarter step and ``P(σ_ε > 1) = 0.01``
    for a quarter's noise. Each quarter's level ``γ_t ~ N(0, 1)`` around the expected counts'
    city rate. The fixed effect of each standardised covariate ``β_k ~ N(0, 1)``, as in the
    pooled BYM2 model (:class:`dv_analysis.stats.disease_mapping.bym2.BYM2Priors`).
    """

    sigma_sd: float = 1.0
    rho_a: float = 0.5
    rho_b: float = 0.5
    delta_u: float = 0.5
    delta_alpha: float = 0.01
    eps_u: float = 1.0
    eps_alpha: float = 0.01
    level_sd: float = 1.0
    beta_sd: float = 1.0

    @property
    def delta_rate(self) -> float:
        return -np.log(self.delta_alpha) / self.delta_u

    @property
    def eps_rate(self) -> float:
        return -np.log(self.eps_alpha) / self.eps_u


#: Names of the hyperparameters, in the order of the internal vector θ
#: (log σ, logit ρ, log σ_δ, log σ_ε).
HYPERPARAMETERS = ("sigma", "rho", "sigma_delta", "sigma_eps")


def natural(theta: np.ndarray) -> dict:
    """The hyperparameters on their own scale from θ = (log σ, logit ρ, log σ_δ, log σ_ε).

    Parameters
    ----------
    theta : numpy.ndarray
        (log σ, logit ρ, log σ_δ, log σ_ε).

    Returns
    -------
    dict
        ``sigma``, ``rho``, ``sigma_delta`` and ``sigma_eps``.
    """
    return {
        "sigma": float(np.exp(theta[0])),
        "rho": float(expit(theta[1])),
        "sigma_delta": float(np.exp(theta[2])),
        "sigma_eps": float(np.exp(theta[3])),
    }


def bym2_log_prior(
    log_sigma: float, logit_rho: float, sigma_sd: float, rho_a: float, rho_b: float
) -> float:
    """Log prior density of (log σ, logit ρ) of a BYM2 effect: ``σ ~ N⁺(0, sigma_sd)``,
    ``ρ ~ Beta(rho_a, rho_b)``, Jacobians of the log and logit included.

    Parameters
    ----------
    log_sigma, logit_rho : float
        The BYM2's hyperparameters on the scale they are searched on.
    sigma_sd, rho_a, rho_b : float
        The priors' parameters.

    Returns
    -------
    float
    """
    sigma = np.exp(log_sigma)
    lp = -0.5 * (sigma / sigma_sd) ** 2 + log_sigma  # half-normal on σ, |dσ/ds| = σ
    rho = expit(logit_rho)
    lp += (rho_a * np.log(rho) + rho_b * np.log1p(-rho)) - betaln(rho_a, rho_b)
    return float(lp)  # Beta density × ρ(1−ρ)


def log_prior_theta(theta: np.ndarray, priors: SpaceTimePriors) -> float:
    """Log prior density of θ (Jacobians of the log and logit included).

    Parameters
    ----------
    theta : numpy.ndarray
        (log σ, logit ρ, log σ_δ, log σ_ε).
    priors : SpaceTimePriors

    Returns
    -------
    float
    """
    s, logit_rho, ld, le = theta
    lp = bym2_log_prior(s, logit_rho, priors.sigma_sd, priors.rho_a, priors.rho_b)
    for log_sd, rate in ((ld, priors.delta_rate), (le, priors.eps_rate)):
        lp += np.log(rate) - rate * np.exp(log_sd) + log_sd  # exponential on σ
    return float(lp)


def rw1_structure(quarters: int) -> np.ndarray:
    """Structure matrix ``R = DᵀD`` of a first-order random walk over ``quarters`` steps.

    Parameters
    ----------
    quarters : int
        The steps of the walk (T).

    Returns
    -------
    numpy.ndarray
        The ``T × T`` structure matrix (rank T − 1).
    """
    d = np.diff(np.eye(quarters), axis=0)
    return d.T @ d


def rw1_basis(quarters: int) -> np.ndarray:
    """Columns spanning the RW1's sum-to-zero paths, scaled so that a path is
    ``basis @ z`` with ``z ~ N(0, I)`` for a unit step standard deviation (``T × (T−1)``).

    Parameters
    ----------
    quarters : int
        The steps of the walk (T).

    Returns
    -------
    numpy.ndarray
        The ``T × (T−1)`` basis.
    """
    kappa, u = np.linalg.eigh(rw1_structure(quarters))
    return u[:, 1:] / np.sqrt(kappa[1:])  # (1, 0) for a single quarter: no path


def path_covariance(quarters: int, sigma_delta: float) -> np.ndarray:
    """Covariance of a village's path δ_i: ``σ_δ² R⁺`` (sum-to-zero RW1).

    Parameters
    ----------
    quarters : int
        The steps of the walk (T).
    sigma_delta : float
        The walk's step standard deviation.

    Returns
    -------
    numpy.ndarray
        The ``T × T`` covariance.
    """
    b = rw1_basis(quarters)
    return sigma_delta**2 * (b @ b.T)


@dataclass
class Panel:
    """A village panel prepared for fitting: counts, offsets, the graph's eigenbasis."""

    y: np.ndarray  # (n, T) counts
    log_e: np.ndarray  # (n, T) log expected counts (0 where masked)
    mask: np.ndarray  # (n, T) bool: village-quarters that count (E > 0)
    basis: np.ndarray  # (n, n) eigenbasis of the ICAR, block-diagonal over components
    inverse_eigen: np.ndarray  # (n,) 1/(s·μ) per column (0 for a component's constant)
    alone: np.ndarray  # (n,) bool: an island's own unit vector
    structure: BandedPattern | None = None  # the scaled ICAR precision, banded (+ RIDGE)
    constraints: np.ndarray | None = None  # (C, n) one row of ones per component of ≥ 2 areas
    covariates: np.ndarray | None = None  # (n, T, p) standardised covariates, None: none

    @property
    def shape(self) -> tuple[int, int]:
        return self.y.shape

    @property
    def n_covariates(self) -> int:
        """p: the covariates' count (0 without)."""
        return 0 if self.covariates is None else self.covariates.shape[2]

    def fixed_part(self, beta: np.ndarray) -> np.ndarray:
        """``x_itᵀβ`` of every draw of β, ``(draws, n, T)`` (β: ``(draws, p)``)."""
        return np.einsum("itk,dk->dit", self.covariates, np.asarray(beta, float))


def prepare_panel(y, expected, graph: Graph, covariates=None) -> Panel:
    """Check and arrange a panel for the engines.

    Parameters
    ----------
    y : array-like, shape (n, T)
        Counts per village and quarter.
    expected : array-like, shape (n, T)
        Expected counts; 0 (or missing) marks a village-quarter without population, which
        adds nothing to the likelihood.
    graph : Graph
        :func:`dv_analysis.stats.disease_mapping.icar.prepare_graph` of the villages' adjacency.
    covariates : array-like, shape (n, p) or (n, T, p), optional
        Covariates of each village (the same in every quarter) or of each village and
        quarter, used as given (standardise them first: the prior of their effects is
        ``N(0, beta_sd²)``). Default: none, the model without fixed effects.

    Returns
    -------
    Panel
    """
    y = np.asarray(y, dtype=float)
    e = np.nan_to_num(np.asarray(expected, dtype=float), nan=0.0)
    if y.shape != e.shape or y.ndim != 2:
        raise ValueError(
            f"counts {y.shape} and expected counts {e.shape} must be (villages, quarters)"
        )
    if graph.n != y.shape[0]:
        raise ValueError(f"{y.shape[0]} villages in the panel, {graph.n} in the graph")
    if (e < 0).any() or (y < 0).any() or not np.isfinite(y).all():
        raise ValueError("counts and expected counts must be finite and not negative")
    mask = e > 0
    if (y[~mask] > 0).any():
        raise ValueError("a village-quarter with counts has no expected count (no population)")
    basis, inv, alone = dense_basis(graph, graph.n)
    log_e = np.where(mask, np.log(np.where(mask, e, 1.0)), 0.0)
    x = None if covariates is None else _covariate_array(covariates, y.shape)
    return Panel(y, log_e, mask, basis, inv, alone, *banded_structure(graph), covariates=x)


def _covariate_array(covariates, shape: tuple[int, int]) -> np.ndarray | None:
    """Covariates as ``(n, T, p)`` (a village's own repeated over the quarters); None for p = 0."""
    x = np.asarray(covariates, dtype=float)
    if x.ndim == 2 and x.shape[0] == shape[0]:
        x = np.repeat(x[:, None, :], shape[1], axis=1)
    if x.ndim != 3 or x.shape[:2] != shape:
        raise ValueError(f"covariates {x.shape} must be (villages, p) or (villages, quarters, p)")
    if not np.isfinite(x).all():
        raise ValueError("covariates must be finite (a missing value has no effect to estimate)")
    return x if x.shape[2] else None


def spatial_variances(rho: float, panel: Panel) -> np.ndarray:
    """Variance per unit σ² of each eigen-coordinate of the BYM2 effect:
    ``(1−ρ) + ρ/(s·μ)``; 1 for islands.

    Parameters
    ----------
    rho : float
        BYM2's mixing parameter (the spatially structured share).
    panel : Panel
        The prepared panel (its graph's eigenvalues, scaling factors and islands).

    Returns
    -------
    numpy.ndarray
        One variance per eigen-coordinate (n).
    """
    return np.where(panel.alone, 1.0, (1.0 - rho) + rho * panel.inverse_eigen)


def log_rr_draws(b, delta, panel: Panel, level=None) -> np.ndarray:
    """log relative risk of every village and quarter against the city in that quarter, per
    draw (draws × n × T): ``b_i + δ_it − c_t``, with ``c_t`` the log of the expected-count
    weighted mean of ``exp(b + δ)`` over the villages in quarter *t*, so that the city's
    risk is 1 in every quarter, plus ``log level_t``.

    The city's own level (``γ_t``) and the quarter's noise (``ε``) drop out: the split
    between the two is where a Gaussian approximation at the mode and the exact posterior
    differ (a shift of 0.03 in every village's log RR on a realistic Taipei), and neither is
    a village's risk. ``level`` (T,), default 1, is the area's observed level against a
    larger reference (a county against Taiwan: its rate over Taiwan's in each quarter).

    Parameters
    ----------
    b : numpy.ndarray
        Draws of the village effects, ``(draws, n)``.
    delta : numpy.ndarray
        Draws of the village paths, ``(draws, n, T)``.
    panel : Panel
        The panel (its expected counts weight the city's mean).
    level : numpy.ndarray, optional
        The area's level against a larger reference in each quarter (T,), default 1.

    Returns
    -------
    numpy.ndarray
        log relative risk draws, ``(draws, n, T)``.
    """
    lr = b[:, :, None] + delta
    e = np.exp(panel.log_e) * panel.mask
    c = np.log(np.einsum("it,dit->dt", e, np.exp(lr)) / e.sum(0))
    out = lr - c[:, None, :]
    if level is not None:
        out = out + np.log(np.asarray(level, dtype=float))[None, None, :]
    return out


def predictive_next(
    b, delta, sigma_delta, sigma_eps, panel: Panel, expected_next, rng, level=None
) -> np.ndarray:
    """Draws of next quarter's counts of every village from the posterior predictive.

    Per draw, each village's path takes one more random-walk step from its last quarter
    (``δ_i,T+1 = δ_iT + N(0, σ_δ²)``), its relative risk is taken against the city's
    expected-count weighted mean as in :func:`log_rr_draws` (the city's level is the one
    ``expected_next`` carries: its rates over the last quarters, no season), the quarter's
    own noise ``ε ~ N(0, σ_ε²)`` is added (centred, ``− σ_ε²/2``, so that it does not move
    the city's total), and the count is Poisson. So the spread holds the uncertainty of the
    village's risk, the path's step, the quarter's noise and the count's own.

    Parameters
    ----------
    b, delta : numpy.ndarray
        Posterior draws, ``(draws, n)`` and ``(draws, n, T)``.
    sigma_delta, sigma_eps : numpy.ndarray
        ``(draws,)`` the hyperparameters of the same draws.
    panel : Panel
        The fitted panel.
    expected_next : numpy.ndarray
        ``(n,)`` next quarter's expected counts at the city's rates (:func:`expected_next`).
    rng : numpy.random.Generator
        Source of the step, noise and counts.
    level : numpy.ndarray, optional
        As :func:`log_rr_draws`; its last quarter scales the forecast.

    Returns
    -------
    tuple of numpy.ndarray
        ``(draws, n)`` each: the expected count of each draw (risk, step and the quarter's
        noise: what a plan can prepare for) and the count itself (Poisson around it: what
        the next quarter's interval must hold); 0 where ``expected_next`` is 0.
    """
    e = np.asarray(expected_next, float)
    step = rng.standard_normal(b.shape) * np.asarray(sigma_delta, float)[:, None]
    lr = b + delta[:, :, -1] + step
    c = np.log(np.exp(lr) @ e / max(e.sum(), 1e-12))
    s_eps = np.asarray(sigma_eps, float)[:, None]
    noise = rng.standard_normal(b.shape) * s_eps - s_eps**2 / 2
    scale = 1.0 if level is None else float(np.asarray(level, float)[-1])
    mu = e[None, :] * scale * np.exp(lr - c[:, None] + noise)
    return mu, rng.poisson(mu).astype(float)


def predictive_summary(counts: np.ndarray) -> dict:
    """Mean and 90 % predictive interval of count draws.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(draws, n)`` from :func:`predictive_next`.

    Returns
    -------
    dict
        ``next_mean``, ``next_low`` and ``next_high``: the 5 % and 95 % quantiles, each
        a count that occurs among the draws (``inverted_cdf``), so that the interval holds
        next quarter's count with probability at least 0.9 under the model.
    """
    return {
        "next_mean": counts.mean(0),
        "next_low": np.quantile(counts, 0.05, axis=0, method="inverted_cdf"),
        "next_high": np.quantile(counts, 0.95, axis=0, method="inverted_cdf"),
    }


def _interval(draws: np.ndarray, prefix: str) -> dict:
    return {
        f"{prefix}_mean": draws.mean(0),
        f"{prefix}_low": np.quantile(draws, 0.05, axis=0),
        f"{prefix}_high": np.quantile(draws, 0.95, axis=0),
    }


def trend_label(p_rising: np.ndarray, cut: float = TREND_PROBABILITY) -> np.ndarray:
    """rising / falling / level from P(rising): rising at ``p ≥ cut``, falling at
    ``p ≤ 1 − cut``; unknown where there is no earlier period to compare (one quarter).

    Parameters
    ----------
    p_rising : numpy.ndarray
        P(RR now > RR four quarters earlier) per village; NaN where there is no earlier period.
    cut : float
        The probability from which a village is rising (and under ``1 − cut`` falling).

    Returns
    -------
    numpy.ndarray
        ``"rising"``, ``"falling"``, ``"level"`` or ``"unknown"`` per village.
    """
    p = np.asarray(p_rising, dtype=float)
    label = np.where(p >= cut, "rising", np.where(1 - p >= cut, "falling", "level"))
    return np.where(np.isnan(p), "unknown", label)


def summarise_draws(
    log_rr: np.ndarray, expected_next: np.ndarray, now_quarters: int = NOW_QUARTERS
) -> pd.DataFrame:
    """The per-village table of a space-time fit, from draws of the log relative risk.

    Parameters
    ----------
    log_rr : numpy.ndarray, shape (draws, n, T)
        :func:`log_rr_draws`.
    expected_next : numpy.ndarray, shape (n,)
        Next quarter's expected incidents at the city's rate.
    now_quarters : int
        Quarters averaged (on the log scale) into the present relative risk.

    Returns
    -------
    pandas.DataFrame
        ``rr_*`` (the window's level, ``exp(mean_t log RR)``), ``rr_now_*`` (the present),
        ``p_exceed_1``, ``p_exceed_1_5``, ``p_now_exceed_1``, ``p_now_exceed_1_25``,
        ``p_now_exceed_1_5``, ``p_rising`` (present against ``now_quarters`` earlier),
        ``trend``, ``expected_next`` and ``excess_next_*`` (``E_next·(RR now − 1)``).
    """
    k = min(now_quarters, log_rr.shape[2] // 2) or 1
    window = np.exp(log_rr.mean(2))
    now = np.exp(log_rr[:, :, -k:].mean(2))
    before = np.exp(log_rr[:, :, -2 * k : -k].mean(2)) if log_rr.shape[2] >= 2 * k else None
    excess = expected_next[None, :] * (now - 1.0)
    out = {**_interval(window, "rr"), **_interval(now, "rr_now")}
    out |= {
        "p_exceed_1": (window > 1).mean(0),
        "p_exceed_1_5": (window > 1.5).mean(0),
        "p_now_exceed_1": (now > 1).mean(0),
        "p_now_exceed_1_25": (now > 1.25).mean(0),
        "p_now_exceed_1_5": (now > 1.5).mean(0),
    }
    p_rising = (now > before).mean(0) if before is not None else np.full(now.shape[1], np.nan)
    out |= {"p_rising": p_rising, "trend": trend_label(p_rising), "expected_next": expected_next}
    out |= _interval(excess, "excess_next")
    return pd.DataFrame(out)


def expected_by_type(counts: dict, populations: dict) -> np.ndarray:
    """Expected counts by indirect standardisation: each type's city rate over the panel
    times its own population at risk, summed over the types.

    Parameters
    ----------
    counts : dict of str to numpy.ndarray
        Each type's counts, (n, T).
    populations : dict of str to numpy.ndarray
        Each type's population at risk, (n, T), same keys.

    Returns
    -------
    numpy.ndarray
        ``Σ_k pop_k · (Σ y_k / Σ pop_k)``, (n, T).
    """
    out = None
    for k, y in counts.items():
        pop = np.asarray(populations[k], dtype=float)
        total = pop.sum()
        part = pop * (np.asarray(y, float).sum() / total) if total > 0 else np.zeros_like(pop)
        out = part if out is None else out + part
    return out


def expected_next(counts: dict, populations: dict, recent: int = NOW_QUARTERS) -> np.ndarray:
    """Next quarter's expected counts at the city's rates: each type's rate over the last
    ``recent`` quarters times its population at risk in the last quarter (no seasonal
    forecast; the rates are a year's average).

    Parameters
    ----------
    counts, populations : dict of str to numpy.ndarray
        As in :func:`expected_by_type`.
    recent : int
        Quarters of the city's rates.

    Returns
    -------
    numpy.ndarray
        (n,).
    """
    out = 0.0
    for k, y in counts.items():
        pop = np.asarray(populations[k], dtype=float)
        denom = pop[:, -recent:].sum()
        rate = np.asarray(y, float)[:, -recent:].sum() / denom if denom > 0 else 0.0
        out = out + pop[:, -1] * rate
    return np.asarray(out, dtype=float)
