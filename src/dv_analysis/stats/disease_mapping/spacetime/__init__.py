"""The space-time village model and its one fit path: :func:`fit`.

The model itself (priors, panel, structure, what is reported from draws) is in
:mod:`.model`; the engines that fit it are registered in :data:`ENGINES` by name, as
papermill registers its engines: ``laplace`` (nested Laplace,
:mod:`dv_analysis.stats.disease_mapping._inla`, the default: seconds) and ``nuts``
(NumPyro's NUTS, :mod:`.nuts`, the reference: minutes). Every caller (the village-risk
stage, the backtest, ``dv-analysis smooth --time``) fits through :func:`fit` and reads a
:class:`SpaceTimeFit`; a new engine is one function here and one entry in
:data:`ENGINES`.

Examples
--------
>>> from dv_analysis.stats.disease_mapping import spacetime
>>> sorted(spacetime.ENGINES)
['laplace', 'nuts']
>>> spacetime.get_engine("inla")
Traceback (most recent call last):
...
ValueError: unknown engine 'inla': one of laplace, nuts
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dv_analysis.stats.disease_mapping.spacetime.model import (
    HYPERPARAMETERS,
    NOW_QUARTERS,
    TREND_PROBABILITY,
    Panel,
    SpaceTimePriors,
    expected_by_type,
    expected_next,
    log_rr_draws,
    predictive_next,
    predictive_summary,
    prepare_panel,
    summarise_draws,
    trend_label,
)

__all__ = [
    "ENGINES",
    "HYPERPARAMETERS",
    "NOW_QUARTERS",
    "TREND_PROBABILITY",
    "EngineOptions",
    "Panel",
    "SpaceTimeFit",
    "SpaceTimePriors",
    "expected_by_type",
    "expected_next",
    "code_modules",
    "fit",
    "get_engine",
    "log_rr_draws",
    "predictive_next",
    "predictive_summary",
    "prepare_panel",
    "summarise_draws",
    "trend_label",
]


@dataclass(frozen=True)
class EngineOptions:
    """How an engine fits: posterior draws, seed, and each engine's own settings.

    ``strategy`` is the Laplace engine's treatment of θ (``importance``: integrated over;
    ``eb``: kept at its mode); ``chains``, ``warmup`` and ``nuts_draws`` are NUTS's
    (``nuts_draws`` per chain; the Laplace engine draws ``draws`` in all).
    """

    draws: int = 2000
    seed: int = 42
    strategy: str = "importance"
    chains: int = 4
    warmup: int = 500
    nuts_draws: int = 500

    def __post_init__(self):
        if self.strategy not in ("importance", "eb"):
            raise ValueError(f"strategy {self.strategy!r}: one of importance, eb")
        for name in ("draws", "chains", "warmup", "nuts_draws"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")


@dataclass(frozen=True)
class SpaceTimeFit:
    """What every engine returns: joint posterior draws and a summary of the fit.

    Attributes
    ----------
    engine : str
        The engine's name in :data:`ENGINES`.
    b : ndarray
        ``(draws, n)`` the villages' levels over the window.
    delta : ndarray
        ``(draws, n, T)`` each village's path around its level.
    hyperparameters : dict
        ``σ, ρ, σ_δ, σ_ε``: mean, sd and a 90 % interval (``q05``, ``q95``) each.
    diagnostics : dict
        The engine's own checks (``ok`` and what it rests on).
    seconds : float
        Time the fit took.
    sigma_delta, sigma_eps : ndarray
        ``(draws,)`` the path's step and the quarter's noise of each draw (for forecasts).
    detail : object
        The engine's own result (the Laplace fit's θ points; nothing for NUTS).
    beta : ndarray or None
        ``(draws, p)`` the fixed effects of the panel's covariates (on the scale they were
        given: standardised), None without covariates. A village's relative risk
        (:meth:`log_rr`) includes ``x_itᵀβ``.
    """

    engine: str
    b: np.ndarray
    delta: np.ndarray
    hyperparameters: dict
    diagnostics: dict
    seconds: float
    sigma_delta: np.ndarray
    sigma_eps: np.ndarray
    detail: object = field(default=None, repr=False, compare=False)
    beta: np.ndarray | None = field(default=None, repr=False, compare=False)

    def _paths(self, panel: Panel) -> np.ndarray:
        """δ, plus ``x_itᵀβ`` when the panel has covariates (the village's whole departure
        from its level ``b``)."""
        return self.delta if self.beta is None else self.delta + panel.fixed_part(self.beta)

    def log_rr(self, panel: Panel, level=None) -> np.ndarray:
        """``(draws, n, T)`` log relative risks (:func:`.model.log_rr_draws`), the
        covariates' part included."""
        return log_rr_draws(self.b, self._paths(panel), panel, level)

    def fixed_effects(self, names=None) -> dict:
        """Mean, sd and 90 % interval of each covariate's β (as given: standardised)."""
        from dv_analysis.stats.disease_mapping.mcmc import describe

        if self.beta is None:
            return {}
        names = names or [f"x{k}" for k in range(self.beta.shape[1])]
        return {name: describe(self.beta[:, k]) for k, name in enumerate(names)}

    def predict_next(self, panel: Panel, expected_next, seed: int, level=None) -> tuple:
        """``(draws, n)`` draws of next quarter's expected counts and counts
        (:func:`.model.predictive_next`)."""
        rng = np.random.default_rng([seed, 20261207])
        return predictive_next(self.b, self._paths(panel), self.sigma_delta, self.sigma_eps,
                               panel, expected_next, rng, level)  # fmt: skip


def _laplace(panel: Panel, priors: SpaceTimePriors, options: EngineOptions) -> SpaceTimeFit:
    from dv_analysis.stats.disease_mapping._inla import laplace

    result = laplace.fit_laplace(
        panel, priors, seed=options.seed, integrate=options.strategy == "importance"
    )
    z, b, delta, theta = laplace.draw(result, panel, options.draws, options.seed, True)
    return SpaceTimeFit(
        "laplace",
        b,
        delta,
        laplace.hyperparameter_summary(result),
        result.diagnostics,
        result.seconds,
        sigma_delta=np.exp(theta[:, 2]),
        sigma_eps=np.exp(theta[:, 3]),
        detail=result,
        beta=z[:, panel.shape[1] :] if panel.covariates is not None else None,
    )


def _nuts(panel: Panel, priors: SpaceTimePriors, options: EngineOptions) -> SpaceTimeFit:
    from dv_analysis.stats.disease_mapping.mcmc import describe
    from dv_analysis.stats.disease_mapping.spacetime.nuts import fit_nuts

    d = fit_nuts(
        panel,
        priors,
        chains=options.chains,
        warmup=options.warmup,
        draws=options.nuts_draws,
        seed=options.seed,
    )
    hyper = {k: describe(d.hyper[k]) for k in HYPERPARAMETERS}
    diagnostics = {**d.diagnostics, "engine": "nuts"}
    return SpaceTimeFit("nuts", d.b, d.delta, hyper, diagnostics, d.seconds,
                        sigma_delta=d.hyper["sigma_delta"], sigma_eps=d.hyper["sigma_eps"],
                        beta=d.beta)  # fmt: skip


#: The engines by name: each takes ``(panel, priors, options)`` and returns a SpaceTimeFit.
ENGINES: dict[str, Callable[[Panel, SpaceTimePriors, EngineOptions], SpaceTimeFit]] = {
    "laplace": _laplace,
    "nuts": _nuts,
}


def code_modules() -> tuple:
    """The modules whose code a fit's result depends on (for keys of kept fits).

    Returns
    -------
    tuple of module
        The graph, the model, this fit path and every engine's modules.
    """
    from dv_analysis.stats.disease_mapping import icar, mcmc
    from dv_analysis.stats.disease_mapping._inla import gmrf, laplace, latent
    from dv_analysis.stats.disease_mapping.spacetime import model, nuts

    return (icar, model, gmrf, latent, laplace, nuts, mcmc, sys.modules[__name__])


def get_engine(name: str):
    """The engine registered under ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`ENGINES`.

    Returns
    -------
    callable
        ``(panel, priors, options) -> SpaceTimeFit``.
    """
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown engine {name!r}: one of {', '.join(ENGINES)}") from None


def fit(
    panel: Panel,
    engine: str = "laplace",
    priors: SpaceTimePriors | None = None,
    options: EngineOptions | None = None,
) -> SpaceTimeFit:
    """Fit the space-time model to a panel with the named engine.

    Parameters
    ----------
    panel : Panel
        :func:`prepare_panel` of the counts, expected counts and graph.
    engine : str
        A key of :data:`ENGINES` (default ``laplace``).
    priors : SpaceTimePriors, optional
        Default ``SpaceTimePriors()``.
    options : EngineOptions, optional
        Draws, seed and the engine's settings; default ``EngineOptions()``.

    Returns
    -------
    SpaceTimeFit
        Joint draws of ``b`` and ``delta``, the hyperparameters and diagnostics.
    """
    run = get_engine(engine)
    return run(panel, priors or SpaceTimePriors(), options or EngineOptions())
