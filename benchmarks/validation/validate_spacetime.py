"""The space-time model's present risk on realistic worlds, over seeds and kinds (issue 27).

Each world is a realistic synthetic Taipei of three years (2018Q1–2020Q4, realistic volume;
``dv_analysis.synth.worlds.realistic_world``): village heterogeneity, overdispersion, seasons,
a trend, irregular clusters, one that ended six quarters before the end, one that ramps up
over the last three, isolated high-risk villages, under-reporting and a police reporting
campaign. The risk stage runs with its defaults; the pooled BYM2 of the window's summed
counts (the model before issue 27) is fitted to the same world for comparison (``--pooled``).
Results go to stdout as a table (docs/validation.md).

    .venv/bin/python benchmarks/validation/validate_spacetime.py --seeds 1 2 3 4 5 [--kinds strong weak none]
        [--keep DIR] [--pooled] [--engine laplace|nuts]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from scipy.stats import spearmanr

from dv_analysis import layers
from dv_analysis.config import Period, window_periods
from dv_analysis.stats.disease_mapping import pooled, spacetime
from dv_analysis.stats.disease_mapping.icar import adjacency_matrix
from dv_analysis.stats.weights import contiguity
from dv_analysis.synth import recovery, truth, worlds


def _window_sums(paths, window: int = 12) -> pd.DataFrame:
    """Village polygons with the window's summed incidents and person-quarters."""
    wanted = [str(q) for q in window_periods(paths.period, window)]
    panel = pd.read_parquet(
        paths.village_panel, columns=["villcode", "period", "incidents", "pop_total"]
    )
    sums = panel[panel["period"].isin(wanted)].groupby("villcode")[["incidents", "pop_total"]].sum()
    g = layers.load_boundaries(paths.settings)
    g["observed"] = g["villcode"].map(sums["incidents"]).fillna(0).astype(int)
    g["person_quarters"] = g["villcode"].map(sums["pop_total"]).fillna(0).astype(float)
    return g[g["person_quarters"] > 0].reset_index(drop=True)


def pooled_spearman(seed: int, kind: str, root: Path) -> float:
    """Spearman of the pooled BYM2's window RR (NUTS, the model before the space-time one)
    with the true present RR, on the same villages as :func:`recovery.present_recovery`."""
    s = worlds.realistic_years(seed, kind, root)
    g = _window_sums(s.period("2020Q4"))
    pq = g["person_quarters"].to_numpy()
    e = pq * g["observed"].sum() / pq.sum()
    neighbours, _ = contiguity(g, "queen", ids="villcode")
    fit = pooled.fit(
        g["observed"],
        e,
        adjacency_matrix(neighbours, g["villcode"]),
        engine="nuts",
        ids=g["villcode"],
    )
    areas = fit.areas.set_index("id")
    true_rr = truth.true_reported_rr(s, [Period.parse("2020Q4")])["2020Q4"]
    fair = ~areas.index.isin(truth.biased_villages(s))
    return float(spearmanr(areas.loc[fair, "rr_mean"], true_rr.reindex(areas.index[fair]))[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--kinds", nargs="+", default=["strong", "weak", "none"])
    ap.add_argument("--engine", default="laplace", choices=sorted(spacetime.ENGINES))
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
                row = recovery.run_present_world(seed, kind, root, args.engine)
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
