"""Experiment (issue 11): would a longer window find the weak worlds' planted villages?

Planted Taipei worlds of three years (2018Q1–2020Q4, realistic volume; the model of
``validate_risk.py``: three persistent clusters, a cluster switched on two quarters before
the end, four isolated villages, all ×1.8 or ×2.6, and a cold cluster). For each window
length the risk stage's model (``stages.risk._fit``, its defaults) is fitted to the
window's counts and the villages at P(RR > 1) ≥ the flag are scored twice:

- ``own``: against the truth over the same window (planted = window-mean multiplier > 1.25;
  precision against the true relative risk of a reported incident over the window), as in
  ``validate_risk.py``;
- ``year``: against the truth of the last four quarters, what staff act on now.

Worlds are kept under ``--worlds`` (one folder each) and reused.

    .venv/bin/python benchmarks/experiment_risk_window.py --seeds 1 2 3 4 5 --windows 4 8 12
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from dv_analysis import public
from dv_analysis import validation as V
from dv_analysis.config import Period, Settings, window_periods
from dv_analysis.stages import clean, features, risk
from dv_analysis.synth import SynthConfig, generate

PERIOD = "2020Q4"


def world_settings(root: Path, seed: int, strength: float) -> Settings:
    """Settings of one kept world; generated and cleaned on first use."""
    root = root / f"x{strength:g}-seed{seed}"
    s = Settings.from_args(raw_dir=root / "raw", clean_dir=root / "clean",
                           reports_dir=root / "reports", truth_dir=root / "truth")  # fmt: skip
    if not (s.truth_city_dir / "params.json").exists():
        cfg = SynthConfig(start="2018Q1", end=PERIOD, seed=seed, model=V.risk_world(strength))
        generate(s, cfg, progress=False)
        clean.clean_range(s, "2018Q1", PERIOD, progress=False)
    return s


def flagged_at(s: Settings, window: int, flags: list[float]) -> tuple[dict, dict]:
    """Villages flagged at each level by the stage's model on ``window`` quarters' counts."""
    p = Period.parse(PERIOD)
    feats = features.village_features(s, p, window)
    g = public.load_boundaries(s).merge(
        feats[["villcode", "incidents_w", "person_quarters_w"]], on="villcode", how="left"
    )
    g["observed"] = g["incidents_w"].fillna(0).astype(int)
    g["person_quarters"] = g["person_quarters_w"].fillna(0).astype(float)
    gf = g[g["person_quarters"] > 0].reset_index(drop=True)
    expected = risk.expected_counts(gf["observed"].to_numpy(float), gf["person_quarters"])
    fit = risk._fit(gf, expected, risk.RiskParams())
    a = fit.areas
    out = {f: set(gf.loc[a["p_exceed_1"].to_numpy() >= f, "villcode"]) for f in flags}
    return out, {"ok": fit.ok, "rhat": fit.diagnostics["rhat_max"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--windows", type=int, nargs="+", default=[4, 8, 12])
    ap.add_argument("--flags", type=float, nargs="+", default=[0.8, 0.9])
    ap.add_argument("--strengths", type=float, nargs="+", default=[2.6, 1.8])
    ap.add_argument("--worlds", type=Path, default=Path("/tmp/dv-risk-worlds"))
    ap.add_argument("--out", type=Path, default=None, help="CSV of the per-seed rows")
    args = ap.parse_args()
    rows = []
    p = Period.parse(PERIOD)
    for strength in args.strengths:
        for seed in args.seeds:
            t = time.perf_counter()
            s = world_settings(args.worlds, seed, strength)
            year = V._truth(s, window_periods(p, 4))
            for window in args.windows:
                own = V._truth(s, window_periods(p, window))
                flagged, diag = flagged_at(s, window, args.flags)
                for flag, found in flagged.items():
                    row = {"strength": strength, "seed": seed, "window": window, "flag": flag,
                           "flagged": len(found), "fit_ok": diag["ok"]}  # fmt: skip
                    for name, truth in (("own", own), ("year", year)):
                        sc = V._scores(found, truth)
                        row |= {f"{name} {k}": sc[k] for k in
                                ("planted", "precision", "recall", "isolated_found",
                                 "planted_faint")}  # fmt: skip
                        row[f"{name} late"] = f"{len(found & truth['late'])}/{len(truth['late'])}"
                    rows.append(row)
                    print(row, flush=True)
            print(f"# world x{strength:g} seed {seed}: {time.perf_counter() - t:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    if args.out:
        df.to_csv(args.out, index=False)
    scored = [c for c in df.columns if c.endswith(("precision", "recall"))]
    by = ["strength", "window", "flag"]
    print(df.groupby(by)[scored].agg(["mean", "min"]).to_string(float_format="%.3f"))
    iso = [c for c in df.columns if c.endswith("isolated_found")]
    print(df.groupby(by)[iso].sum().to_string())


if __name__ == "__main__":
    main()
