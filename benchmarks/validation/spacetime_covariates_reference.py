"""The NUTS reference for the space-time model's fixed effects (tests/stats/disease_mapping/test_spacetime_covariates.py).

A seeded world with known coefficients: a 6 × 6 lattice of villages over 6 quarters,
expected counts 3–15 a quarter, a village-level covariate (β = 0.3) and a village × quarter
covariate (β = −0.2), both standard normal, iid village effects (sd 0.3), each village's
random-walk path (sd 0.05 a step) and lognormal noise (sd 0.1). NUTS (4 chains × 1,000 kept
draws after 1,000 of warm-up) fits the model; the panel, the true β and NUTS's posterior
mean and sd of β are written to ``tests/data/spacetime_covariates_nuts.npz`` with the
diagnostics. Regenerate after changing the model or its priors:

    .venv/bin/python benchmarks/validation/spacetime_covariates_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dv_analysis.stats.disease_mapping import spacetime as st
from dv_analysis.stats.disease_mapping.icar import prepare_graph
from dv_analysis.synth.worlds import lattice_adjacency

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "spacetime_covariates_nuts.npz"
SIDE, QUARTERS, BETA = 6, 6, np.array([0.3, -0.2])


def world(seed: int = 1) -> dict:
    """The seeded panel: counts, expected counts, covariates ``(n, T, 2)`` and the truth."""
    rng = np.random.default_rng(seed)
    n, t = SIDE * SIDE, QUARTERS
    village = np.repeat(rng.standard_normal(n)[:, None], t, axis=1)
    x = np.stack([village, rng.standard_normal((n, t))], axis=-1)
    e = rng.uniform(3, 15, (n, t))
    path = np.cumsum(0.05 * rng.standard_normal((n, t)), axis=1)
    eta = 0.3 * rng.standard_normal(n)[:, None] + x @ BETA + path
    y = rng.poisson(e * np.exp(eta + 0.1 * rng.standard_normal((n, t))))
    return {"y": y, "e": e, "x": x, "side": SIDE, "beta_true": BETA}


def main() -> None:
    w = world()
    panel = st.prepare_panel(w["y"], w["e"], prepare_graph(lattice_adjacency(w["side"])), w["x"])
    options = st.EngineOptions(chains=4, warmup=1000, nuts_draws=1000, seed=1)
    fit = st.fit(panel, "nuts", options=options)
    diagnostics = {k: v for k, v in fit.diagnostics.items() if not isinstance(v, np.ndarray)}
    np.savez_compressed(
        OUT,
        **w,
        nuts_mean=fit.beta.mean(0),
        nuts_sd=fit.beta.std(0, ddof=1),
        diagnostics=json.dumps(diagnostics, default=float),
    )
    print(f"NUTS {fit.seconds:.0f} s: β mean {fit.beta.mean(0)}, sd {fit.beta.std(0, ddof=1)}")
    print(diagnostics)


if __name__ == "__main__":
    main()
