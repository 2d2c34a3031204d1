"""Where a list that knew the truth would put a ramping cluster (issue 24).

For each realistic world (``dv_analysis.validation.realistic_years``; the kept worlds of
``validate_outreach.py --keep DIR`` are reused), from the ground truth alone and no model:
the true relative risks of the ramp's villages, their ranks by true excess incidents among
all villages, and how many of them are truly elevated (``validation.outreach_truth``: the
2 × budget villages with the most true excess) in each quarter of the ramp.
docs/validation.md ("Where a perfect list would put the ramp") records the results.

    .venv/bin/python benchmarks/ramp_truth.py --worlds DIR [--seeds 1 2 3 4 5]
        [--kinds strong weak] [--periods 2020Q2 2020Q3 2020Q4] [--budget 20]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from dv_analysis import validation


def ramp_truth(settings, period: str, budget: int) -> dict:
    """The ramp's villages in ``period`` by the truth: sorted true RRs, sorted ranks by true
    excess, and how many are truly elevated."""
    truth = validation.outreach_truth(settings, period, budget)
    ramp = sorted(validation.planted_villages(settings, "ramp"))
    rank = truth["excess"].rank(ascending=False, method="min").loc[ramp]
    return {
        "period": period,
        "villages": len(ramp),
        "rr": " ".join(f"{x:.2f}" for x in sorted(truth.loc[ramp, "rr"])),
        "excess_ranks": " ".join(str(int(x)) for x in sorted(rank)),
        "elevated": int(truth.loc[ramp, "elevated"].sum()),
        "rr_at_least_1_5": int((truth.loc[ramp, "rr"] >= 1.5).sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=Path, required=True, help="folder of kept worlds")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--kinds", nargs="+", default=["strong", "weak"])
    ap.add_argument("--periods", nargs="+", default=["2020Q2", "2020Q3", "2020Q4"])
    ap.add_argument("--budget", type=int, default=20)
    args = ap.parse_args()
    rows = []
    for kind in args.kinds:
        for seed in args.seeds:
            s = validation.realistic_years(seed, kind, args.worlds / f"{kind}{seed}")
            for period in args.periods:
                rows.append({"kind": kind, "seed": seed, **ramp_truth(s, period, args.budget)})
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
