"""Nested Laplace against a long NUTS run of the same space-time model on a synthetic Taipei.

For a kept realistic world (``validate_spacetime.py --keep DIR``), fits the risk window's
panel with NUTS (``--chains`` × ``--draws`` after as many warm-up iterations; slow: about
25 minutes for Taipei on 2 cores) and with the Laplace engine, and prints, for the present
log relative risk (and the window's and the last quarter's), the share of villages whose
posterior mean is within 0.03, 5 % and 95 % limits within 0.05 and P(RR > 1) within 0.03
(issue 27's targets: 95 %), and both engines' hyperparameters. The NUTS draws are kept in
``DIR/nuts_<chains>x<draws>.npz`` and read back on a second call.

    .venv/bin/python benchmarks/validation/compare_engines.py /tmp/rw/strong1 [--chains 4 --draws 1000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from dv_analysis.config import Settings
from dv_analysis.stages import risk
from dv_analysis.stats.disease_mapping._inla import laplace
from dv_analysis.stats.disease_mapping.icar import adjacency_matrix, prepare_graph
from dv_analysis.stats.disease_mapping.spacetime import model as st
from dv_analysis.stats.weights import contiguity

HYPER = ("sigma", "rho", "sigma_delta", "sigma_eps")


def panel_of(root: Path, period: str = "2020Q4") -> st.Panel:
    s = Settings.from_args(
        raw_dir=root / "raw",
        clean_dir=root / "clean",
        reports_dir=root / "reports",
        truth_dir=root / "truth",
    )
    wp = risk.window_panel(s.period(period), "incidents", 12)
    e = st.expected_by_type(wp.counts, wp.populations)
    nb, _ = contiguity(wp.villages, "queen", ids="villcode")
    return st.prepare_panel(wp.y, e, prepare_graph(adjacency_matrix(nb, wp.villages["villcode"])))


def nuts_draws(root: Path, panel: st.Panel, chains: int, draws: int) -> dict:
    from dv_analysis.stats.disease_mapping.spacetime.nuts import fit_nuts

    path = root / f"nuts_{chains}x{draws}.npz"
    if not path.exists():
        d = fit_nuts(panel, chains=chains, warmup=draws, draws=draws, seed=1)
        print("NUTS", round(d.seconds), "s", d.diagnostics, flush=True)
        np.savez_compressed(path, b=d.b, delta=d.delta, **{k: d.hyper[k] for k in HYPER})
    return dict(np.load(path))


def agreement(a: np.ndarray, b: np.ndarray) -> str:
    dm = np.abs(a.mean(0) - b.mean(0))
    lo = np.abs(np.quantile(a, 0.05, 0) - np.quantile(b, 0.05, 0))
    hi = np.abs(np.quantile(a, 0.95, 0) - np.quantile(b, 0.95, 0))
    dp = np.abs((a > 0).mean(0) - (b > 0).mean(0))
    return (
        f"mean ≤ 0.03: {(dm <= 0.03).mean():.3f} (max {dm.max():.3f}); q05 ≤ 0.05: "
        f"{(lo <= 0.05).mean():.3f}; q95 ≤ 0.05: {(hi <= 0.05).mean():.3f}; P(RR > 1) ≤ 0.03: "
        f"{(dp <= 0.03).mean():.3f} (max {dp.max():.3f})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    args = ap.parse_args()
    panel = panel_of(args.root)
    ref = nuts_draws(args.root, panel, args.chains, args.draws)
    t = time.perf_counter()
    fit = laplace.fit_laplace(panel)
    _, b, delta = laplace.draw(fit, panel, 4000, seed=1)
    print(f"Laplace {time.perf_counter() - t:.1f} s", fit.diagnostics)
    la = st.log_rr_draws(b, delta, panel)
    nu = st.log_rr_draws(ref["b"], ref["delta"], panel)
    for name, f in (
        ("now (last 4)", lambda x: x[:, :, -4:].mean(2)),
        ("window", lambda x: x.mean(2)),
        ("last quarter", lambda x: x[:, :, -1]),
    ):
        print(f"{name:13s} {agreement(f(la), f(nu))}")
    h = fit.hyperparameters()
    for k in HYPER:
        print(
            f"{k:12s} NUTS {ref[k].mean():.3f} ± {ref[k].std():.3f}   Laplace "
            f"{h[k]['mean']:.3f} ± {h[k]['sd']:.3f}"
        )


if __name__ == "__main__":
    main()
