"""NUTS (NumPyro) for the space-time model of :mod:`dv_analysis.stats.disease_mapping.spacetime.model`: the reference.

The same model and priors as the nested-Laplace engine (:mod:`dv_analysis.stats.disease_mapping._inla.laplace`),
sampled non-centred: the BYM2 effect through the ICAR eigenbasis (as in
:mod:`dv_analysis.stats.disease_mapping.bym2`), each village's sum-to-zero RW1 path through the RW1's
eigenbasis (``δ_i = σ_δ · basis @ z_i``, ``z_i ~ N(0, I)``), the noise as ``σ_ε · e_it``,
the covariates' fixed effects (when the panel has any) as ``β ~ N(0, beta_sd² I)``.
It is slower (about 11,000 parameters for Taipei over three years) and is kept for
validation and for users who want it (``engine="nuts"``).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from dv_analysis.stats.disease_mapping.mcmc import convergence
from dv_analysis.stats.disease_mapping.spacetime.model import Panel, SpaceTimePriors, rw1_basis


@dataclass(frozen=True)
class NutsDraws:
    """NUTS's draws of the space-time model, chains pooled."""

    gamma: np.ndarray  # (draws, T)
    b: np.ndarray  # (draws, n)
    delta: np.ndarray  # (draws, n, T)
    hyper: dict  # σ, ρ, σ_δ, σ_ε: (draws,) each
    diagnostics: dict
    seconds: float
    beta: np.ndarray | None = None  # (draws, p) fixed effects; None without covariates


def _model(y, log_e, mask, basis, inverse_eigen, alone, path_basis, priors, x=None):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    sigma_sd, rho_a, rho_b, delta_rate, eps_rate, level_sd, beta_sd = priors
    n, t = y.shape
    gamma = numpyro.sample("gamma", dist.Normal(0.0, level_sd).expand([t]))
    sigma = numpyro.sample("sigma", dist.HalfNormal(sigma_sd))
    rho = numpyro.sample("rho", dist.Beta(rho_a, rho_b))
    sd = jnp.where(alone, 1.0, jnp.sqrt((1.0 - rho) + rho * inverse_eigen))
    wb = numpyro.sample("wb", dist.Normal(0.0, 1.0).expand([n]))
    b = numpyro.deterministic("b", sigma * (basis @ (sd * wb)))
    sigma_delta = numpyro.sample("sigma_delta", dist.Exponential(delta_rate))
    z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([n, t - 1]))
    delta = numpyro.deterministic("delta", sigma_delta * (z @ path_basis.T))
    sigma_eps = numpyro.sample("sigma_eps", dist.Exponential(eps_rate))
    e = numpyro.sample("e", dist.Normal(0.0, 1.0).expand([n, t]))
    eta = log_e + gamma[None, :] + b[:, None] + delta + sigma_eps * e
    if x is not None:
        beta = numpyro.sample("beta", dist.Normal(0.0, beta_sd).expand([x.shape[2]]))
        eta = eta + jnp.einsum("itk,k->it", x, beta)
    numpyro.sample("y", dist.Poisson(jnp.exp(eta)).mask(mask), obs=y)


def fit_nuts(
    panel: Panel,
    priors: SpaceTimePriors | None = None,
    *,
    chains: int = 4,
    warmup: int = 1000,
    draws: int = 1000,
    seed: int = 42,
    target_accept: float = 0.9,
) -> NutsDraws:
    """Sample the space-time model with NUTS.

    Parameters
    ----------
    panel : Panel
        :func:`dv_analysis.stats.disease_mapping.spacetime.model.prepare_panel`.
    priors : SpaceTimePriors, optional
        Default: ``SpaceTimePriors()``.
    chains, warmup, draws : int
        NUTS chains (vectorised on one core) and iterations per chain.
    seed : int
    target_accept : float

    Returns
    -------
    NutsDraws
        ``gamma`` (draws, T), ``b`` (draws, n), ``delta`` (draws, n, T), the
        hyperparameters' draws (``hyper``), ``diagnostics`` (R-hat, bulk ESS, divergences),
        ``seconds`` and ``beta`` (draws, p) with the panel's covariates.
    """
    import jax
    from numpyro.infer import MCMC, NUTS

    priors = priors or SpaceTimePriors()
    p = asdict(priors)
    prior_values = (
        p["sigma_sd"],
        p["rho_a"],
        p["rho_b"],
        priors.delta_rate,
        priors.eps_rate,
        p["level_sd"],
        p["beta_sd"],
    )
    t0 = time.perf_counter()
    mcmc = MCMC(
        NUTS(_model, target_accept_prob=target_accept),
        num_warmup=warmup,
        num_samples=draws,
        num_chains=chains,
        chain_method="vectorized",
        progress_bar=False,
    )
    mcmc.run(
        jax.random.PRNGKey(seed),
        panel.y,
        panel.log_e,
        panel.mask,
        panel.basis,
        panel.inverse_eigen,
        panel.alone,
        rw1_basis(panel.shape[1]),
        prior_values,
        panel.covariates,
        extra_fields=("diverging",),
    )
    s = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    names = ("gamma", "sigma", "rho", "sigma_delta", "sigma_eps", "b", "beta")
    reported = {k: s[k] for k in names if k in s}
    diagnostics = convergence(reported)
    diagnostics["divergences"] = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    flat = {k: v.reshape(-1, *v.shape[2:]) for k, v in s.items()}
    return NutsDraws(
        gamma=flat["gamma"],
        b=flat["b"],
        delta=flat["delta"],
        hyper={k: flat[k] for k in ("sigma", "rho", "sigma_delta", "sigma_eps")},
        diagnostics=diagnostics,
        seconds=time.perf_counter() - t0,
        beta=flat.get("beta"),
    )
