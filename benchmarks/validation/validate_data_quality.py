"""The data-quality flag (``stages.clean.quality``) on synthetic Taipei: its false-flag rate
on worlds where no unit changes, and whether a unit that stops locating villages for one
quarter is flagged (numbers in ``docs/cleaning.md``).

For every seed, a realistic-volume world 2017Q1–2020Q4 is generated twice (no change; the
unit of ``--unit`` stops locating villages in 2020Q2), cleaned quarter by quarter, and the
flags of every unit-quarter with at least two quarters of history are counted.

    .venv/bin/python benchmarks/validation/validate_data_quality.py --seeds 1 2 3 4 5 [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd

from dv_analysis.config import Period, Settings, period_range
from dv_analysis.stages.clean import clean_period, write_outputs
from dv_analysis.synth import SynthConfig, generate
from dv_analysis.synth.model import MessRates

START, END, CHANGED = "2017Q1", "2020Q4", "2020Q2"


def world(root: Path, seed: int, scale: float, unit: str) -> pd.DataFrame:
    """The last quarter's data-quality table of one generated and cleaned world."""
    s = Settings.from_args(
        raw_dir=root / "raw", clean_dir=root / "clean", reports_dir=root / "reports",
        truth_dir=root / "truth", city="63000",
    )  # fmt: skip
    mess = MessRates(stop_locating_unit=unit, stop_locating_period=CHANGED if unit else "")
    generate(s, SynthConfig(start=START, end=END, seed=seed, scale=scale, mess=mess), False)
    for q in period_range(Period.parse(START), Period.parse(END)):
        write_outputs(s.period(q), clean_period(s.period(q), progress=False))
    return pd.read_parquet(s.period(END).data_quality)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--unit", default="醫院")
    args = ap.parse_args()
    judged = [str(q) for q in period_range(Period.parse(START), Period.parse(END))][2:]
    normal_flags = normal_cells = normal_quarters = quarters_flagged = found = 0
    for seed in args.seeds:
        for unit in ("", args.unit):
            with tempfile.TemporaryDirectory() as tmp:
                dq = world(Path(tmp), seed, args.scale, unit)
            dq = dq[dq["period"].isin(judged)]
            planted = (dq["unit"] == unit) & (dq["period"] == CHANGED)
            if unit:
                found += bool(dq.loc[planted, "flagged"].all())
                continue
            normal_cells += len(dq)
            normal_flags += int(dq["flagged"].sum())
            normal_quarters += dq["period"].nunique()
            quarters_flagged += dq.loc[dq["flagged"], "period"].nunique()
            print(seed, dq.loc[dq["flagged"], ["unit", "period", "reason"]].to_dict("records"))
    print(
        json.dumps(
            {
                "worlds": len(args.seeds),
                "scale": args.scale,
                "unit_quarters_judged": normal_cells,
                "unit_quarters_flagged": normal_flags,
                "quarters_judged": normal_quarters,
                "quarters_with_a_flag": quarters_flagged,
                "share_of_quarters_with_a_flag": quarters_flagged / max(normal_quarters, 1),
                "stopped_unit_flagged": f"{found} of {len(args.seeds)}",
            },
            ensure_ascii=False,
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
