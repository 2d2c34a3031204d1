"""The NUTS reference the nested-Laplace engine is tested against (tests/stats/disease_mapping/test_spacetime.py).

A seeded panel of the space-time model's own shape, unlike a sum of planted clusters: a
15 × 15 lattice of villages over 12 quarters, expected counts 2–15 a quarter, a smooth
spatial field plus iid village effects, each village's random-walk path (sd 0.08 a step),
a seasonal city level and lognormal noise (sd 0.2). NUTS (4 chains × 2,000 kept draws after
2,000 of warm-up) fits the model; the per-village posterior summaries of the present log
relative risk (mean, 5 % and 95 % quantiles, P(RR now > 1)) are written to
``tests/data/spacetime_nuts_reference.npz`` with the diagnostics. Regenerate after changing
the model or its priors:

    .venv/bin/python benchmarks/validation/spacetime_reference.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from dv_analysis.stats.disease_mapping.icar import prepare_graph
from dv_analysis.stats.disease_mapping.spacetime import model as st
from dv_analysis.synth.worlds import spacetime_reference_panel

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "spacetime_nuts_reference.npz"


def summaries(log_rr: np.ndarray, now: int = st.NOW_QUARTERS) -> dict:
    """Per-village summaries of the present log relative risk from draws (draws × n × T),
    and the quantities that decide the outreach list: P(RR now > 1.25), P(RR now > 1.5) and
    P(rising) (the present against the same mean ``now`` quarters earlier)."""
    x = log_rr[:, :, -now:].mean(2)
    before = log_rr[:, :, -2 * now : -now].mean(2)
    return {
        "mean": x.mean(0),
        "q05": np.quantile(x, 0.05, 0),
        "q95": np.quantile(x, 0.95, 0),
        "p_exceed_1": (x > 0).mean(0),
        "p_exceed_1_25": (x > np.log(1.25)).mean(0),
        "p_exceed_1_5": (x > np.log(1.5)).mean(0),
        "p_rising": (x > before).mean(0),
    }


def main() -> None:
    from dv_analysis.stats.disease_mapping.spacetime.nuts import fit_nuts

    y, e, a = spacetime_reference_panel()
    panel = st.prepare_panel(y, e, prepare_graph(a))
    t0 = time.perf_counter()
    d = fit_nuts(panel, chains=4, warmup=2000, draws=2000, seed=1)
    seconds = time.perf_counter() - t0
    ref = summaries(st.log_rr_draws(d.b, d.delta, panel))
    hyper = {k: float(d.hyper[k].mean()) for k in ("sigma", "rho", "sigma_delta", "sigma_eps")}
    meta = {"diagnostics": d.diagnostics, "seconds": round(seconds, 1), "hyper": hyper}
    np.savez_compressed(OUT, **ref, meta=json.dumps(meta))
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
