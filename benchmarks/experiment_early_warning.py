"""Experiment (issue 12): which members of an alarmed neighbourhood to call ``emerging``.

The early warning (``stats.early_warning``) alarms on a village's neighbourhood; the
villages of an alarmed neighbourhood are then members when their own count since the
onset is at least ``member_ratio`` × their own expected count. This scores three rules on
the planted worlds of ``validate_priority.py`` (kept with ``--keep``): the late cluster's
villages found, false-alarm clusters (connected groups of emerging villages outside every
cluster that rose), and emerging villages in all. The rules:

- ``k`` (1.5): the village's own rise is at least the rise the chart is tuned to;
- ``lr`` ((k − 1) / ln k ≈ 1.233): the village's own counts since the onset favour "rate × k"
  over "rate as before" (its own CUSUM increment over those quarters is positive);
- ``any`` (1.0): at least as many as expected.

    .venv/bin/python benchmarks/experiment_early_warning.py --worlds /tmp/dv-risk-worlds
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
from scipy.sparse.csgraph import connected_components

from dv_analysis import public
from dv_analysis import validation as V
from dv_analysis.config import Period, window_periods
from dv_analysis.stages.priority import PriorityParams, alarm_alpha, panel_arrays
from dv_analysis.stats.early_warning import early_warning, neighbourhood_matrix
from dv_analysis.stats.weights import contiguity

PERIOD = "2020Q4"


def score(root: Path, ratios: dict[str, float], params: PriorityParams) -> list[dict]:
    s = V.planted_years(0, None, root)  # kept world: read, not generated
    villages = public.load_boundaries(s)
    ids = villages["villcode"].to_numpy()
    neighbours, _ = contiguity(villages, params.weights, ids="villcode")
    m = neighbourhood_matrix(neighbours, ids)
    panel = pd.read_parquet(s.period(PERIOD).village_panel)
    periods = [p for p in sorted(panel["period"].unique()) if p <= PERIOD]
    periods = periods[-(params.baseline + params.monitor) :]
    counts, pop = panel_arrays(panel, ids, periods)
    truth = V._truth(s, window_periods(Period.parse(PERIOD), 4))
    rows = []
    for name, ratio in ratios.items():
        ew = early_warning(counts, pop, m, baseline=len(periods) - params.monitor,
                           k=params.rise, alpha=alarm_alpha(params),
                           simulations=params.alarm_simulations,
                           seed=params.seed + Period.parse(PERIOD).ordinal(),
                           member_ratio=ratio)  # fmt: skip
        emerging = set(ids[ew["emerging"].to_numpy()])
        false = sorted(emerging - truth["rising"])
        clusters = int(connected_components(neighbourhood_matrix(neighbours, false))[0])
        rows.append({"world": root.name, "rule": name, "late_emerging": len(emerging & truth["late"]),
                     "late": len(truth["late"]), "emerging": len(emerging),
                     "false_villages": len(false),
                     "false_alarm_clusters": clusters if false else 0})  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=Path, required=True, help="the worlds kept by validate_*")
    args = ap.parse_args()
    params = PriorityParams()
    k = params.rise
    ratios = {"k": k, "lr": (k - 1) / math.log(k), "any": 1.0}
    rows = []
    for root in sorted(p for p in args.worlds.iterdir() if (p / "truth").exists()):
        rows += score(root, ratios, params)
    df = pd.DataFrame(rows)
    df["kind"] = df["world"].str.split("-").str[0]
    print(df.groupby(["kind", "rule"])[["late_emerging", "late", "false_villages",
                                        "false_alarm_clusters", "emerging"]].sum().to_string())  # fmt: skip


if __name__ == "__main__":
    main()
