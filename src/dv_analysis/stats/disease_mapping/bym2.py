"""BYM2: the Poisson small-area model with a scaled ICAR spatial effect (Riebler et al. 2016).

For area *i* with count ``y_i`` and expected count ``E_i``::

    y_i ~ Poisson(E_i · RR_i)
    log RR_i = β0 + x_i·β + σ · (√(1−ρ) · θ_i + √(ρ / s_c) · φ_i)
    θ_i ~ N(0, 1);  φ ~ ICAR on the adjacency graph

``σ`` is the standard deviation of the total area effect, ``ρ`` the share of it that is
spatially structured, ``s_c`` the scaling factor of connected component *c* (the
geometric mean of the ICAR marginal variances under the component's sum-to-zero
constraint), so that ``σ`` means the same on any graph. A disconnected graph is not
linked up: each connected component of two or more areas has its own sum-to-zero
constraint and scaling factor, and an area without neighbours (an island) gets the
unstructured effect only, ``log RR_i = β0 + x_i·β + σ·θ_i`` (Freni-Sterrantino, Ventrucci
& Rue 2018).

The model is written in NumPyro and sampled with NUTS; no sampler is written here. It is
sampled in the form that integrates θ and φ into the area effect: within a component, in
the eigenbasis of the ICAR precision (eigenvalues μ), the effect's coordinates are
independent normals with variance σ²((1−ρ) + ρ/(s·μ)), the constant direction σ²(1−ρ).
This is the same model (same prior, same posterior), without the ridge between θ and φ
that made ρ mix badly: on a synthetic Taipei quarter the bulk ESS of ρ went from 48 to
about 1,700 for the same 4 × 1,000 draws, in a third of the time. The
posterior of every area's relative risk comes with its 90 % credible interval and the
probabilities that it exceeds 1 and 1.5, and every reported quantity is checked: split
rank-normalised R-hat ≤ 1.01 and bulk ESS ≥ 400 (ArviZ). ``tests/stats/disease_mapping/test_bym2.py``
reproduces the published BYM2 fit of the Scottish lip cancer data (Morris et al. 2019).

Two parameterisations of the same model are sampled, chosen by the data
(:func:`data_strength`): *non-centred* (the standardised coordinates above, times σ) where
a village's count says little beside the prior, as in a city's realistic quarter, and
*centred* (the log relative risk of each area sampled directly, its BYM2 prior written
through the same eigenbasis) where counts are large, as in a heavily loaded county: there
the non-centred form couples σ and ρ to every coordinate and ρ mixes slowly
(Papaspiliopoulos, Roberts & Sköld 2007; Betancourt & Girolami 2015).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from dv_analysis.stats.disease_mapping.icar import dense_basis, padded_size, prepare_graph
from dv_analysis.stats.disease_mapping.mcmc import convergence, describe

#: :func:`data_strength` at or above which the centred form is sampled ("auto").
__all__ = [
    "BYM2Fit",
    "BYM2Priors",
    "PARAMETERISATIONS",
    "choose_parameterisation",
    "data_strength",
    "fit_bym2",
]

CENTRED_STRENGTH = 8.0
PARAMETERISATIONS = ("auto", "noncentred", "centred")
#: NUTS's largest tree depth for the kept draws (NumPyro's default).
SAMPLING_TREE_DEPTH = 10
#: ... and during the non-centred form's warm-up (127 leapfrog steps; see :func:`fit_bym2`).
NONCENTRED_WARMUP_TREE_DEPTH = 7


@dataclass(frozen=True)
class BYM2Priors:
    """Priors of the BYM2 model.

    The defaults are those of the Stan case study (Morris et al. 2019, ``bym2.stan``) for
    standardised covariates: ``β0 ~ N(0, 5)``, ``β ~ N(0, 1)``, ``σ ~ N⁺(0, 1)``,
    ``ρ ~ Beta(0.5, 0.5)``.
    """

    intercept_sd: float = 5.0
    beta_sd: float = 1.0
    sigma_sd: float = 1.0
    rho_a: float = 0.5
    rho_b: float = 0.5


def _fixed_effects_and_hyperparameters(x, priors):
    """The sample sites both forms share, in this order: ``β0``, ``β`` (with covariates),
    ``σ``, ``ρ``. Returns ``β0``, ``x·β`` (None without covariates), ``σ`` and ``ρ``."""
    import numpyro
    import numpyro.distributions as dist

    intercept_sd, beta_sd, sigma_sd, rho_a, rho_b = priors
    beta0 = numpyro.sample("beta0", dist.Normal(0.0, intercept_sd))
    x_beta = None
    if x is not None:
        beta = numpyro.sample("beta", dist.Normal(0.0, beta_sd).expand([x.shape[1]]))
        x_beta = x @ beta
    sigma = numpyro.sample("sigma", dist.HalfNormal(sigma_sd))
    rho = numpyro.sample("rho", dist.Beta(rho_a, rho_b))
    return beta0, x_beta, sigma, rho


def _coordinate_sd(rho, inverse_eigen, alone):
    """Standard deviation of each eigen-coordinate of the area effect, per unit σ:
    √((1−ρ) + ρ/(s·μ)) (``inverse_eigen`` = 1/(s·μ), 0 for a component's constant); 1 for
    islands and padding."""
    import jax.numpy as jnp

    return jnp.where(alone, 1.0, jnp.sqrt((1.0 - rho) + rho * inverse_eigen))


def _model(y, log_offset, x, active, basis, inverse_eigen, alone, priors):
    """The NumPyro model (see the module docstring).

    Every argument is an array: with ``jit_model_args`` the graph is an input of the
    compiled sampler, not a constant compiled into it. ``basis`` holds every component's
    eigenvectors as one block-diagonal matrix (islands and padding: unit vectors, marked in
    ``alone``); padded areas (``active`` False) add nothing to the likelihood. ``priors``
    holds the five numbers of :class:`BYM2Priors` in field order.
    """
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    beta0, x_beta, sigma, rho = _fixed_effects_and_hyperparameters(x, priors)
    eta = log_offset + beta0
    if x_beta is not None:
        eta = eta + x_beta
    # The area effect b = σ(√(1−ρ)θ + √(ρ/s)φ) integrated over θ and φ: within a component,
    # in the eigenbasis of its ICAR precision, the coordinates are independent with
    # variance σ²((1−ρ) + ρ/(s·μ)) (the constant direction: σ²(1−ρ), since φ sums to zero);
    # an island's effect has variance σ². Sampled non-centred, this is the same BYM2 model
    # without the ridge between θ and φ that slows NUTS down.
    w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([log_offset.shape[0]]))
    b = basis @ (_coordinate_sd(rho, inverse_eigen, alone) * w)
    numpyro.sample("y", dist.Poisson(jnp.exp(eta + sigma * b)).mask(active), obs=y)


def _model_centred(y, log_offset, x, active, basis, inverse_eigen, alone, priors):
    """The same BYM2 model sampled centred: ``u``, each area's log relative risk, directly.

    Its prior is the BYM2 prior of :func:`_model` around ``β0 + x·β``, evaluated in the
    same eigenbasis (orthonormal, so no Jacobian): the coordinates of ``u − β0 − x·β`` are
    independent normals with standard deviation σ·√((1−ρ) + ρ/(s·μ)) (islands and padding:
    σ). Where counts are large the likelihood pins ``u`` down and this form has no funnel.
    """
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    centre, x_beta, sigma, rho = _fixed_effects_and_hyperparameters(x, priors)
    if x_beta is not None:
        centre = centre + x_beta
    u = numpyro.sample(
        "u", dist.ImproperUniform(dist.constraints.real_vector, (), (log_offset.shape[0],))
    )
    sd = sigma * _coordinate_sd(rho, inverse_eigen, alone)
    # (u − centre) @ basis, not basis.T @ (u − centre): with the basis an input of the
    # compiled sampler, the transpose would be copied at every step (6× slower).
    numpyro.factor("effect", dist.Normal(0.0, sd).log_prob((u - centre) @ basis).sum())
    numpyro.sample("y", dist.Poisson(jnp.exp(log_offset + u)).mask(active), obs=y)


def _raw_log_ratio(y, expected) -> np.ndarray:
    """Each area's raw log relative risk, ``log((y + ½)/E)`` (finite for a zero count)."""
    return np.log((np.asarray(y, dtype=float) + 0.5) / np.asarray(expected, dtype=float))


def data_strength(y, expected, adjacency: sp.spmatrix | None = None) -> float:
    """How much the counts say about each area beside the prior: the median count × τ̂².

    A count ``y`` carries information ≈ ``y`` about its area's log relative risk. The prior
    is tightest across borders: with a smooth spatial field (ρ near 1) neighbours may differ
    little, and there the prior, not the count, decides. ``τ̂²`` estimates that local
    variance from the raw log ratios ``l = log((y + ½)/E)``: half the mean squared
    difference ``(l_i − l_j)²`` over neighbouring pairs, less its Poisson part
    ``(1/(y_i + ½) + 1/(y_j + ½))/2`` (0 if negative). Without neighbours it is the plain
    variance of ``l`` less ``mean(1/(y + ½))``. A large product means the data dominate
    even across borders, and the centred form samples better.

    Parameters
    ----------
    y : array-like
        Observed counts.
    expected : array-like
        Expected counts (positive).
    adjacency : scipy.sparse matrix, optional
        Binary symmetric adjacency of the areas.

    Returns
    -------
    float
        ``median(y) × τ̂²``.
    """
    y = np.asarray(y, dtype=float)
    log_ratio = _raw_log_ratio(y, expected)
    noise = 1.0 / (y + 0.5)
    rows, cols = (
        sp.triu(sp.csr_matrix(adjacency), 1).nonzero() if adjacency is not None else ([], [])
    )
    if len(rows):
        half_square = (log_ratio[rows] - log_ratio[cols]) ** 2 / 2.0
        variance = float(np.mean(half_square - (noise[rows] + noise[cols]) / 2.0))
    else:
        variance = float(log_ratio.var() - noise.mean())
    return float(np.median(y) * max(variance, 0.0))


def choose_parameterisation(strength: float, requested: str = "auto") -> str:
    """The form to sample: ``requested``, or for "auto" centred when the data are strong.

    Parameters
    ----------
    strength : float
        :func:`data_strength` of the counts.
    requested : {"auto", "noncentred", "centred"}

    Returns
    -------
    str
        "centred" or "noncentred".
    """
    if requested not in PARAMETERISATIONS:
        raise ValueError(f"parameterisation must be one of {PARAMETERISATIONS}, not {requested!r}")
    if requested != "auto":
        return requested
    return "centred" if strength >= CENTRED_STRENGTH else "noncentred"


def _centred_start(y, e, size: int, chains: int, seed: int, covariates: int) -> dict:
    """Starting points of the centred sampler, one per chain (unconstrained values).

    ``u`` starts near each area's raw log ratio ``log((y + ½)/E)`` with a little noise per
    chain, so the chains start apart (for R-hat) but not far from where the data put them;
    ``σ`` in (0.2, 1), ``ρ`` anywhere, ``β0`` near 0 (the offset is at the overall rate).
    """
    rng = np.random.default_rng(seed)
    u = np.zeros(size)
    u[: len(y)] = _raw_log_ratio(y, e)
    start = {} if not covariates else {"beta": rng.normal(0.0, 0.1, (chains, covariates))}
    return start | {
        "beta0": rng.normal(0.0, 0.1, chains),
        "sigma": np.log(rng.uniform(0.2, 1.0, chains)),
        "rho": rng.normal(0.0, 1.0, chains),
        "u": u[None, :] + rng.normal(0.0, 0.1, (chains, size)),
    }


def _log_rr(s: dict, x, basis, inverse_eigen, alone, n: int) -> np.ndarray:
    """log relative risk of the first ``n`` areas for every draw, from the sampled parameters.

    Computed once after sampling, the same expression as in :func:`_model`.
    """
    if "u" in s:  # the centred form samples it
        return np.asarray(s["u"], dtype=float)[..., :n]
    shape = s["beta0"].shape  # (chains, draws)
    rho = s["rho"].reshape(-1, 1).astype(float)
    w = s["w"].reshape(-1, basis.shape[0]).astype(float)
    sd = np.where(alone[None, :], 1.0, np.sqrt((1.0 - rho) + rho * inverse_eigen[None, :]))
    b = ((sd * w) @ basis.T)[:, :n]
    out = s["beta0"].reshape(-1, 1) + s["sigma"].reshape(-1, 1) * b
    if x is not None:
        out = out + s["beta"].reshape(-1, x.shape[1]).astype(float) @ x[:n].T
    return out.reshape(*shape, n)


@dataclass
class BYM2Fit:
    """A BYM2 fit: per-area relative risks, fixed effects, hyperparameters, diagnostics."""

    areas: pd.DataFrame  # observed, expected, rr_mean, rr_low, rr_high, p_exceed_1, p_exceed_1_5
    fixed_effects: dict  # name -> {mean, sd, q05, q95}
    hyperparameters: dict  # sigma, rho -> {mean, sd, q05, q95}
    diagnostics: dict  # rhat_max, ess_bulk_min, ok, worst
    sampler: dict  # library, chains, warmup, draws, seed, seconds
    priors: dict
    fixed_draws: dict = field(default_factory=dict)  # name -> flat draws (not in the summary)
    #: the fixed effects of standardised covariates, when a caller reports them on the
    #: covariates' own scale in ``fixed_effects`` (``stages.layer.smooth_file``)
    fixed_effects_standardised: dict | None = None

    @property
    def ok(self) -> bool:
        return bool(self.diagnostics["ok"])

    def summary(self) -> dict:
        """Everything but the per-area table, as plain JSON-able values."""
        out = {"fixed_effects": self.fixed_effects}
        if self.fixed_effects_standardised is not None:
            out["fixed_effects_standardised"] = self.fixed_effects_standardised
        return out | {
            "hyperparameters": self.hyperparameters,
            "diagnostics": self.diagnostics,
            "sampler": self.sampler,
            "priors": self.priors,
        }


#: Samplers kept by this process (:func:`_sampler`), newest last; at most ``_SAMPLERS_KEPT``.
_SAMPLERS: dict[tuple, object] = {}
_SAMPLERS_KEPT = 8


def _sampler(
    centred: bool,
    warmup_tree_depth: int,
    target_accept: float,
    chains: int,
    warmup: int,
    draws: int,
    size: int,
    covariates: int,
):
    """NumPyro's MCMC for these settings and array shapes, made once per process and reused.

    With ``jit_model_args`` NumPyro keeps its traced sampler on the MCMC object, so a later
    fit with arrays of the same shapes (another quarter of the city, another county of the
    same padded size, a backtest's next window) skips tracing NUTS again: 2.0 → 0.8 s for a
    64-village fit of 2 × 200 iterations. The draws are the same to the bit as with a new
    object (``tests/stats/disease_mapping/test_bym2.py``): only the seed and the data enter the run. Arrays
    of other shapes (``size`` areas, ``covariates`` columns) need an object of their own:
    NumPyro's kept functions fail on them (a vmap over a scalar).
    """
    from numpyro.infer import MCMC, NUTS

    key = (centred, warmup_tree_depth, target_accept, chains, warmup, draws, size, covariates)
    mcmc = _SAMPLERS.pop(key, None)
    if mcmc is None:
        mcmc = MCMC(
            NUTS(
                _model_centred if centred else _model,
                target_accept_prob=target_accept,
                max_tree_depth=(warmup_tree_depth, SAMPLING_TREE_DEPTH),
            ),
            num_warmup=warmup,
            num_samples=draws,
            num_chains=chains,
            chain_method="vectorized",
            progress_bar=False,
            jit_model_args=True,
        )
    _SAMPLERS[key] = mcmc  # newest last
    while len(_SAMPLERS) > _SAMPLERS_KEPT:
        _SAMPLERS.pop(next(iter(_SAMPLERS)))
    return mcmc


def fit_bym2(
    y,
    expected,
    adjacency: sp.spmatrix,
    covariates: pd.DataFrame | None = None,
    *,
    priors: BYM2Priors = BYM2Priors(),
    chains: int = 4,
    warmup: int = 500,
    draws: int = 1000,
    seed: int = 42,
    ids=None,
    target_accept: float = 0.9,
    parameterisation: str = "auto",
    warmup_tree_depth: int | None = None,
) -> BYM2Fit:
    """Fit BYM2 to counts with expected counts; the posterior relative risk of every area.

    Parameters
    ----------
    y : array-like
        Observed counts per area.
    expected : array-like
        Expected counts (the offset); all must be positive.
    adjacency : scipy.sparse matrix
        Binary symmetric adjacency (:func:`adjacency_matrix`); islands allowed.
    covariates : pandas.DataFrame, optional
        Covariates per area, used as given (standardise them for ``β ~ N(0, 1)``).
    priors : BYM2Priors
        The priors.
    chains, warmup, draws : int
        NUTS chains (vectorised on one core, so the numbers do not depend on the machine's
        cores or devices) and iterations per chain.
    seed : int
        Seed of the sampler: the same seed gives the same numbers.
    ids : array-like, optional
        Area ids for the ``id`` column.
    target_accept : float
        NUTS target acceptance probability.
    parameterisation : {"auto", "noncentred", "centred"}
        How the area effects are sampled (the posterior is the same): "auto" samples
        centred when :func:`data_strength` is at least ``CENTRED_STRENGTH``.
    warmup_tree_depth : int, optional
        NUTS's largest tree depth during warm-up; the kept draws use NumPyro's default of
        10. Default: 7 (127 leapfrog steps) for the non-centred form, whose early warm-up
        otherwise spends most of its time in trees of 1,023 steps (capping it halved a
        Taipei fit, 21.5 → 11.5 s, with the same diagnostics); 10 for the centred form,
        where the cap made adaptation worse on some counties (New Taipei 35 → 56 s).

    Returns
    -------
    BYM2Fit
        ``areas`` has ``id, observed, expected, rr_mean, rr_low, rr_high`` (90 % credible
        interval), ``p_exceed_1``, ``p_exceed_1_5``; ``diagnostics['ok']`` is False when any
        reported quantity misses R-hat ≤ 1.01 or bulk ESS ≥ 400.
    """
    import jax

    y, e, x, names = model_inputs(y, expected, adjacency, covariates)
    strength = data_strength(y, e, adjacency)
    parameterisation = choose_parameterisation(strength, parameterisation)
    centred = parameterisation == "centred"
    if warmup_tree_depth is None:
        warmup_tree_depth = SAMPLING_TREE_DEPTH if centred else NONCENTRED_WARMUP_TREE_DEPTH
    graph = prepare_graph(adjacency)
    t0 = time.perf_counter()
    size = padded_size(graph.n)
    mcmc = _sampler(
        centred, warmup_tree_depth, target_accept, chains, warmup, draws, size, len(names)
    )
    basis, inverse_eigen, alone = dense_basis(graph, size)
    pad = size - graph.n
    xp = None if x is None else np.vstack([x, np.zeros((pad, x.shape[1]))])
    mcmc.run(
        jax.random.PRNGKey(seed),
        np.concatenate([y, np.zeros(pad, np.int64)]),
        np.concatenate([np.log(e), np.zeros(pad)]),
        xp,
        np.arange(size) < graph.n,
        basis,
        inverse_eigen,
        alone,
        tuple(float(v) for v in asdict(priors).values()),
        extra_fields=("diverging", "num_steps"),
        init_params=_centred_start(y, e, size, chains, seed, len(names)) if centred else None,
    )
    s = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    s["log_rr"] = _log_rr(s, xp, basis, inverse_eigen, alone, graph.n)
    sampler = {
        "library": "numpyro",
        "kernel": "NUTS",
        "chains": chains,
        "warmup": warmup,
        "draws": draws,
        "seed": seed,
        "max_tree_depth": [warmup_tree_depth, SAMPLING_TREE_DEPTH],
        "parameterisation": parameterisation,
        "data_strength": round(strength, 3),
        "seconds": round(time.perf_counter() - t0, 2),
        "components": len(graph.components),
        "islands": int(graph.islands.sum()),
    }
    areas = area_table(s["log_rr"], graph.n, y, e, ids)
    return _result(s, mcmc.get_extra_fields(), names, areas, sampler, priors)


def model_inputs(y, expected, adjacency, covariates):
    """Counts, expected counts, covariates (array or None) and their names, checked."""
    y = np.asarray(y, dtype=np.int64)
    e = np.asarray(expected, dtype=float)
    if len(y) != len(e) or adjacency.shape[0] != len(y):
        raise ValueError(
            f"{len(y)} counts, {len(e)} expected counts and a {adjacency.shape[0]}-area graph"
        )
    if (e <= 0).any() or not np.isfinite(e).all():
        bad = np.flatnonzero(~(e > 0))[:5].tolist()
        raise ValueError(f"expected counts must be positive; not at positions {bad}")
    if covariates is None or not covariates.shape[1]:
        return y, e, None, []
    if covariates.isna().any().any():
        raise ValueError(
            "covariates have missing values: "
            + ", ".join(covariates.columns[covariates.isna().any()])
        )
    return y, e, covariates.to_numpy(float), [str(c) for c in covariates.columns]


def area_table(log_rr: np.ndarray, n: int, y, e, ids) -> pd.DataFrame:
    """Each area's posterior relative risk: mean, 90 % interval, P(> 1), P(> 1.5)."""
    rr = np.exp(log_rr.reshape(-1, n))
    return pd.DataFrame(
        {
            "id": np.arange(n) if ids is None else np.asarray(ids),
            "observed": y,
            "expected": e,
            "rr_mean": rr.mean(0),
            "rr_low": np.quantile(rr, 0.05, axis=0),
            "rr_high": np.quantile(rr, 0.95, axis=0),
            "p_exceed_1": (rr > 1.0).mean(0),
            "p_exceed_1_5": (rr > 1.5).mean(0),
        }
    )


def _result(s: dict, extra: dict, names, areas, sampler: dict, priors) -> BYM2Fit:
    """The fit: areas, fixed effects, hyperparameters and the diagnostics of every reported
    quantity (and the divergences and leapfrog steps of the kept draws)."""
    fixed = {"intercept": describe(s["beta0"])}
    for k, name in enumerate(names):
        fixed[name] = describe(s["beta"][..., k])
    reported = {"beta0": s["beta0"], "sigma": s["sigma"], "rho": s["rho"], "log_rr": s["log_rr"]}
    if names:
        reported["beta"] = s["beta"]
    return BYM2Fit(
        areas=areas,
        fixed_effects=fixed,
        hyperparameters={"sigma": describe(s["sigma"]), "rho": describe(s["rho"])},
        diagnostics={
            **convergence(reported),
            "divergences": int(np.asarray(extra["diverging"]).sum()),
            "mean_leapfrog_steps": float(np.asarray(extra["num_steps"]).mean()),
        },
        sampler=sampler,
        priors=asdict(priors),
        fixed_draws={"intercept": s["beta0"].ravel()}
        | {name: s["beta"][..., k].ravel() for k, name in enumerate(names)},
    )
