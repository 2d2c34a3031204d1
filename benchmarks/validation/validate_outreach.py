"""The outreach list on realistic worlds, beside the naive lists a clerk would make (issue 24).

Each world is a realistic synthetic Taipei of three years (``dv_analysis.validation
.realistic_world``; the worlds of ``validate_spacetime.py``, reused with ``--keep``). The
risk and priority stages run with their defaults for ``--period``; the list is scored by
``dv_analysis.recovery.outreach_recovery``: tier-2 precision against the truly elevated
villages (the 2 × budget with the most true excess incidents) and against true RR ≥ 1.5,
true excess captured, faded and ramping clusters, the reporting campaign, tier ≥ 1
precision and recall. Results go to stdout as a table (docs/validation.md).

    .venv/bin/python benchmarks/validation/validate_outreach.py --seeds 1 2 3 4 5 [--kinds strong weak none]
        [--keep DIR] [--period 2020Q4] [--budget 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd

from dv_analysis.synth import recovery, worlds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--kinds", nargs="+", default=["strong", "weak", "none"])
    ap.add_argument("--period", default="2020Q4", help="report quarter (the worlds end 2020Q4)")
    ap.add_argument("--budget", type=int, default=20)
    ap.add_argument("--keep", type=Path, help="folder to keep (and reuse) the generated worlds in")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for kind in args.kinds:
            for seed in args.seeds:
                t = time.perf_counter()
                root = base / f"{kind}{seed}"
                worlds.realistic_years(seed, kind, root)  # the whole three years
                row = recovery.run_outreach_world(seed, kind, root, args.period, args.budget)
                rows.append({**row, "total_seconds": round(time.perf_counter() - t, 1)})
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False, float_format="%.3f"))
    scored = df.select_dtypes("number").columns.drop("seed")
    print(df.groupby("kind")[scored].agg(["mean", "min", "max"]).T.to_string(float_format="%.3f"))
    print(df[scored].mean().to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
