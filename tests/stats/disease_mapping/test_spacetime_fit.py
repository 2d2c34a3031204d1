"""The space-time model's one fit path (stats.disease_mapping.spacetime.fit): the engine
registry, the options, and what each engine returns, the NUTS engine
(stats.disease_mapping.spacetime.nuts) included. The model and the nested-Laplace engine
themselves are checked in test_spacetime.py."""

import dataclasses

import numpy as np
import pytest

from dv_analysis.stats.disease_mapping import spacetime
from dv_analysis.stats.disease_mapping.icar import prepare_graph
from dv_analysis.synth.worlds import spacetime_reference_panel

#: A 3 × 3 lattice over four quarters: villages and quarters differ, so a transposed
#: array shows.
N, T = 9, 4
SUMMARY = {"mean", "sd", "q05", "q95"}


@pytest.fixture(scope="module")
def panel():
    y, e, a = spacetime_reference_panel(k=3, quarters=T, seed=2026)
    return spacetime.prepare_panel(y, e, prepare_graph(a))


@pytest.fixture(scope="module")
def laplace_fit(panel):
    return spacetime.fit(panel, options=spacetime.EngineOptions(draws=400, seed=1))


@pytest.fixture(scope="module")
def nuts_fit(panel):
    """Two chains of 100 draws after 100 of warm-up: far too short to pass the diagnostics,
    long enough to check what the engine returns. Most of the time is JAX compiling the
    sampler (kept in the project's cache, as the village-risk stage keeps it)."""
    from dv_analysis.config import cache_dir
    from dv_analysis.stats.disease_mapping.mcmc import enable_compilation_cache

    enable_compilation_cache(cache_dir() / "jax")
    options = spacetime.EngineOptions(chains=2, warmup=100, nuts_draws=100, seed=1)
    return spacetime.fit(panel, engine="nuts", options=options)


def _check_hyperparameters(h: dict) -> None:
    assert set(h) == set(spacetime.HYPERPARAMETERS) == {"sigma", "rho", "sigma_delta", "sigma_eps"}
    for name, s in h.items():
        assert SUMMARY <= set(s), name
        assert s["q05"] < s["mean"] < s["q95"] and s["sd"] > 0, (name, s)
        assert s["q05"] >= 0, f"{name} is a standard deviation or a share"
    assert h["rho"]["q95"] <= 1


def test_an_unknown_engine_is_refused_with_the_known_ones(panel):
    with pytest.raises(ValueError, match=r"unknown engine 'x': one of laplace, nuts"):
        spacetime.get_engine("x")
    with pytest.raises(ValueError, match=r"unknown engine 'inla'.*laplace, nuts"):
        spacetime.fit(panel, engine="inla")
    assert spacetime.get_engine("laplace") is spacetime.ENGINES["laplace"]
    assert spacetime.get_engine("nuts") is spacetime.ENGINES["nuts"]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"strategy": "x"}, r"strategy 'x': one of importance, eb"),
        ({"chains": 0}, r"chains must be at least 1, not 0"),
        ({"draws": 0}, r"draws must be at least 1, not 0"),
        ({"warmup": -5}, r"warmup must be at least 1, not -5"),
        ({"nuts_draws": 0}, r"nuts_draws must be at least 1, not 0"),
    ],
)
def test_engine_options_are_checked_when_made(options, message):
    with pytest.raises(ValueError, match=message):
        spacetime.EngineOptions(**options)


def test_engine_options_defaults():
    o = spacetime.EngineOptions()
    assert (o.draws, o.seed, o.strategy, o.chains, o.warmup, o.nuts_draws) == (
        2000,
        42,
        "importance",
        4,
        500,
        500,
    )


def test_the_laplace_engine_through_fit(panel, laplace_fit):
    fit = laplace_fit
    assert isinstance(fit, spacetime.SpaceTimeFit) and fit.engine == "laplace"
    assert fit.b.shape == (400, N) and fit.delta.shape == (400, N, T)
    _check_hyperparameters(fit.hyperparameters)
    assert fit.diagnostics["ok"] and fit.diagnostics["strategy"] == "importance"
    assert fit.seconds > 0 and fit.detail is not None
    # each village's path sums to zero over the quarters (its level is b)
    np.testing.assert_allclose(fit.delta.sum(2), 0, atol=1e-6)
    np.testing.assert_array_equal(
        fit.log_rr(panel), spacetime.log_rr_draws(fit.b, fit.delta, panel)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.engine = "nuts"


def test_the_same_seed_gives_the_same_draws_and_eb_keeps_one_theta(panel, laplace_fit):
    again = spacetime.fit(panel, "laplace", options=spacetime.EngineOptions(draws=400, seed=1))
    np.testing.assert_array_equal(again.b, laplace_fit.b)
    np.testing.assert_array_equal(again.delta, laplace_fit.delta)
    eb = spacetime.fit(panel, options=spacetime.EngineOptions(draws=50, strategy="eb"))
    assert eb.diagnostics["strategy"] == "eb" and eb.b.shape == (50, N)


@pytest.mark.slow(
    seconds=20, why="NUTS compiles its sampler: about 15 s, 2 s once JAX's cache holds it"
)
def test_the_nuts_engine_through_fit(panel, nuts_fit, laplace_fit):
    fit = nuts_fit
    assert isinstance(fit, spacetime.SpaceTimeFit) and fit.engine == "nuts"
    assert fit.b.shape == (200, N) and fit.delta.shape == (200, N, T), "chains × draws pooled"
    assert np.isfinite(fit.b).all() and np.isfinite(fit.delta).all()
    _check_hyperparameters(fit.hyperparameters)
    d = fit.diagnostics
    assert d["engine"] == "nuts" and d["divergences"] >= 0
    assert {"rhat_max", "rhat_worst", "ess_bulk_min", "ess_bulk_worst", "ok"} <= set(d)
    assert d["rhat_max"] >= 1 and d["ess_bulk_min"] > 0
    assert d["ok"] == (d["rhat_max"] <= 1.01 and d["ess_bulk_min"] >= 400)
    assert fit.seconds > 0 and fit.detail is None
    # the RW1 paths are sampled in the sum-to-zero basis
    np.testing.assert_allclose(fit.delta.sum(2), 0, atol=1e-4)
    # the same model: the present log RR of the two engines agree village by village
    now = [f.log_rr(panel)[:, :, -2:].mean(2).mean(0) for f in (fit, laplace_fit)]
    assert np.corrcoef(*now)[0, 1] > 0.9, now
    assert np.max(np.abs(now[0] - now[1])) < 0.15, now
    for name in ("sigma", "sigma_eps"):
        nuts_mean, laplace_mean = (f.hyperparameters[name]["mean"] for f in (fit, laplace_fit))
        assert abs(nuts_mean - laplace_mean) < 0.1, (name, nuts_mean, laplace_mean)
