"""The outreach list against planted truth: tiers, isolated villages, the late cluster, false alarms.

Each world is a synthetic Taipei of three years (2018Q1–2020Q4, realistic volume): three
persistent clusters, a cluster switched on two quarters before the end and four isolated
high-risk villages, all of one strength (strong ×2.6, weak ×1.8), and a cold cluster; the
"no change" world has persistent clusters only. The features, risk and priority stages
run with their defaults for 2020Q4 (the backtest is skipped: it does not change the tiers).

    .venv/bin/python benchmarks/validation/validate_priority.py --seeds 1 2 3 4 5 [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from dv_analysis.synth.recovery import run_priority_world

WORLDS = {"strong ×2.6": 2.6, "weak ×1.8": 1.8, "no change": None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--keep", type=Path, help="folder to keep (and reuse) the generated worlds in")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for name, strength in WORLDS.items():
            for seed in args.seeds:
                t = time.perf_counter()
                world = f"x{strength:g}" if strength else "nochange"  # as validate_risk.py
                row = run_priority_world(seed, strength, base / f"{world}-seed{seed}")
                rows.append(
                    {
                        "world": name,
                        "seed": seed,
                        **row,
                        "seconds": round(time.perf_counter() - t, 1),
                    }
                )
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False, float_format="%.3f"))
    num = df.select_dtypes("number").columns
    print(df.groupby("world")[num].mean().to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
