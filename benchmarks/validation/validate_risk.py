"""Recovery of planted high-risk villages by the BYM2 village-risk model, over seeds and worlds.

Each world is a synthetic Taipei of three years (2018Q1–2020Q4, realistic volume) with
clusters of one strength, four isolated high-risk villages of the same strength, a cluster
switched on two quarters before the end and a cold cluster. The risk stage runs with its
defaults (three-year window); flagged = P(RR > 1) ≥ 0.9. Results go to stdout as a table
(docs/validation.md).

    .venv/bin/python benchmarks/validation/validate_risk.py --seeds 1 2 3 4 5 [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from dv_analysis.synth.recovery import run_risk_world

WORLDS = {"strong ×2.6": 2.6, "weak ×1.8": 1.8}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument(
        "--flags",
        type=float,
        nargs="*",
        default=[0.8, 0.85, 0.9],
        help="P(RR > 1) levels scored from the same fits",
    )
    ap.add_argument("--keep", type=Path, help="folder to keep (and reuse) the generated worlds in")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for name, strength in WORLDS.items():
            for seed in args.seeds:
                t = time.perf_counter()
                root = base / f"x{strength:g}-seed{seed}"
                row = run_risk_world(seed, strength, root, tuple(args.flags))
                seconds = round(time.perf_counter() - t, 1)
                rows.append({"world": name, "seed": seed, **row, "seconds": seconds})
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False, float_format="%.3f"))
    scored = [
        c
        for c in df.columns
        if c.split("@")[0]
        in ("precision", "recall", "recall_rr1.5", "isolated_found", "recall_last_year")
    ]
    print(df.groupby("world")[scored].agg(["mean", "min"]).T.to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
