"""The space-time model's present risk on realistic worlds, over seeds and kinds (issue 27).

Each world is a realistic synthetic Taipei of three years (2018Q1–2020Q4, realistic volume;
``dv_analysis.validation.realistic_world``): village heterogeneity, overdispersion, seasons,
a trend, irregular clusters, one that ended six quarters before the end, one that ramps up
over the last three, isolated high-risk villages, under-reporting and a police reporting
campaign. The risk stage runs with its defaults; the pooled BYM2 of the window's summed
counts (the model before issue 27) is fitted to the same world for comparison (``--pooled``).
Results go to stdout as a table (docs/validation.md).

    .venv/bin/python benchmarks/validate_spacetime.py --seeds 1 2 3 4 5 [--kinds strong weak none]
        [--keep DIR] [--pooled] [--engine laplace|nuts]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

from dv_analysis import validation
from dv_analysis.stages import risk


def pooled_spearman(seed: int, kind: str, root: Path) -> float:
    """Spearman of the pooled BYM2's window RR with the true present RR, on the same
    villages as :func:`dv_analysis.validation.present_recovery`."""
    s = validation.realistic_years(seed, kind, root)
    paths = s.period("2020Q4")
    g, _ = risk.window_table(paths, "incidents", 12)
    g = g[g["person_quarters"] > 0].reset_index(drop=True)
    e = risk.expected_counts(g["observed"].to_numpy(float), g["person_quarters"].to_numpy())
    areas = risk._fit(g, e, risk.RiskParams()).areas.set_index("id")
    truth = validation.true_reported_rr(s, [validation.Period.parse("2020Q4")])["2020Q4"]
    fair = ~areas.index.isin(validation.biased_villages(s))
    return float(spearmanr(areas.loc[fair, "rr_mean"], truth.reindex(areas.index[fair]))[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--kinds", nargs="+", default=["strong", "weak", "none"])
    ap.add_argument("--engine", default="laplace", choices=risk.ENGINES)
    ap.add_argument("--pooled", action="store_true", help="also fit the pooled BYM2 (NUTS)")
    ap.add_argument("--keep", type=Path, help="folder to keep (and reuse) the generated worlds in")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for kind in args.kinds:
            for seed in args.seeds:
                t = time.perf_counter()
                root = base / f"{kind}{seed}"
                row = validation.run_present_world(seed, kind, root, args.engine)
                if args.pooled:
                    row["spearman_pooled"] = pooled_spearman(seed, kind, root)
                rows.append({**row, "total_seconds": round(time.perf_counter() - t, 1)})
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    print(df.to_string(index=False, float_format="%.3f"))
    scored = df.select_dtypes("number").columns.drop("seed")
    print(df.groupby("kind")[scored].agg(["mean", "min", "max"]).T.to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
