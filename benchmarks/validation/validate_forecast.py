"""Next quarter's forecast on blind worlds (issue 39): does the 90 % predictive interval of
``village_risk`` hold the next quarter's cleaned incidents nine times in ten, and how do
its point forecasts compare with a clerk's?

Each world is a scenario written blind to the model (``dv_analysis.synth.scenarios``,
``docs/scenarios.md``), 2017Q1–2020Q4 plus the held-out 2021Q1, cleaned like real exports.
The risk stage runs with its defaults for 2020Q4; its forecast is scored against the
cleaned incidents of 2021Q1 in each village it fitted. Beside it:

* ``risk_only``: the interval of the village's expected count from the risk alone,
  ``E_next · RR now`` (what ``excess_next``'s range was read as before: no step, no
  quarter's noise, no Poisson);
* ``clerk``: the mean of the village's last four quarters, with a Poisson 90 % interval
  around it (``scipy.stats.poisson``).

    .venv/bin/python benchmarks/validation/validate_forecast.py --seeds 6 7 8 9 10 \\
        [--kinds campaign_over_rise shock no_change ...] [--keep DIR]

Prints one row per world and the means per kind (``docs/validation.md``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import poisson

from dv_analysis.config import Settings
from dv_analysis.stages import clean, features, risk
from dv_analysis.synth import scenarios


def world(kind: str, seed: int, root: Path) -> Settings:
    """The scenario generated and cleaned under ``root`` (reused when it is there)."""
    s = Settings.from_args(raw_dir=root / "raw", clean_dir=root / "clean",
                           reports_dir=root / "reports", truth_dir=root / "truth")  # fmt: skip
    if not s.period("2021Q1").incidents.exists():
        scenarios.generate_scenario(s, kind, seed, "2017Q1", "2020Q4", extra_quarters=1)
        clean.clean_range(s, "2017Q1", "2021Q1", progress=False)
    return s


def score(kind: str, seed: int, root: Path) -> dict:
    s = world(kind, seed, root)
    paths = s.period("2020Q4")
    features.build(paths)
    t = risk.run(paths, progress=False).table.set_index("villcode")
    inc = pd.read_parquet(s.period("2021Q1").incidents, columns=["villcode"])
    actual = inc.groupby("villcode").size().reindex(t.index).fillna(0).to_numpy(float)
    fitted = t["next_low"].notna().to_numpy()
    panel = pd.read_parquet(paths.village_panel, columns=["villcode", "period", "incidents"])
    last4 = panel[panel["period"].isin(["2020Q1", "2020Q2", "2020Q3", "2020Q4"])]
    clerk = last4.groupby("villcode")["incidents"].mean().reindex(t.index).fillna(0).to_numpy()
    e_next = t["expected_next"].to_numpy(float)
    lo_r, hi_r = e_next + t["excess_next_low"].to_numpy(), e_next + t["excess_next_high"].to_numpy()

    def held(lo, hi) -> float:
        return float(((actual >= lo) & (actual <= hi))[fitted].mean())

    def mae(forecast) -> float:
        return float(np.abs(actual - forecast)[fitted].mean())

    return {
        "kind": kind,
        "seed": seed,
        "villages": int(fitted.sum()),
        "coverage_model": held(t["next_low"].to_numpy(), t["next_high"].to_numpy()),
        "coverage_risk_only": held(lo_r, hi_r),
        "coverage_clerk": held(poisson.ppf(0.05, clerk), poisson.ppf(0.95, clerk)),
        "width_model": float((t["next_high"] - t["next_low"]).to_numpy()[fitted].mean()),
        "width_clerk": float((poisson.ppf(0.95, clerk) - poisson.ppf(0.05, clerk))[fitted].mean()),
        "mae_model": mae(t["next_mean"].to_numpy()),
        "mae_clerk": mae(clerk),
        "mae_city_rate": mae(e_next),
    }


def arguments(doc: str) -> argparse.Namespace:
    """The blind worlds' command line: held-out seeds, kinds, and where to keep them."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[6, 7, 8, 9, 10])
    ap.add_argument("--kinds", nargs="+", default=sorted(scenarios.KINDS))
    ap.add_argument("--keep", type=Path, help="folder to keep (and reuse) the worlds in")
    return ap.parse_args()


def run_worlds(score, args: argparse.Namespace) -> pd.DataFrame:
    """``score(kind, seed, root)`` of every world, a row printed as each ends."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = args.keep or Path(tmp)
        for kind in args.kinds:
            for seed in args.seeds:
                t0 = time.perf_counter()
                rows.append(score(kind, seed, base / f"{kind}{seed}"))
                rows[-1]["seconds"] = round(time.perf_counter() - t0, 1)
                print({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()},
                      flush=True)  # fmt: skip
    return pd.DataFrame(rows)


def main() -> None:
    df = run_worlds(score, arguments(__doc__))
    print(df.to_string(index=False, float_format="%.3f"))
    cols = [c for c in df.columns if c.startswith(("coverage", "mae", "width"))]
    print(df.groupby("kind")[cols].mean().to_string(float_format="%.3f"))
    print(df[cols].agg(["mean", "min", "max"]).to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
