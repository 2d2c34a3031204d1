"""Which ranking of the space-time model's outputs should the outreach list use (issue 24)?

On realistic worlds (``dv_analysis.validation.realistic_world``, kept by
``validate_spacetime.py --keep DIR``), every candidate list of ``--budget`` villages is
scored against the truth of the report quarter: precision against villages whose true
present relative risk (of an incident, reported or not) is at least 1.5; the share of the
true excess incidents that the best possible list of that size would hold; faded villages
(a cluster that ended) and campaign villages (a reporting change, no risk) on the list.
The naive lists a clerk would make are scored beside them: last quarter's counts, the last
four quarters' rate, the last twelve quarters' rate.

    .venv/bin/python benchmarks/experiment_ranking.py --keep DIR [--budget 20]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from dv_analysis.config import Settings, window_periods


def _truth(s: Settings, period: str) -> pd.DataFrame:
    vt = pd.read_parquet(s.truth_city_dir / "village_truth.parquet")
    now = vt[vt["period"] == period].set_index("villcode")
    rate = now["expected_true"].sum() / now["pop_total"].sum()
    excess = (now["relative_risk"] - 1) * now["pop_total"] * rate
    return pd.DataFrame({"rr": now["relative_risk"], "excess": excess.clip(lower=0)})


def naive_scores(s: Settings, period: str) -> dict[str, pd.Series]:
    """Scores of the naive lists from the village panel (higher = on the list first)."""
    panel = pd.read_parquet(s.period(period).village_panel)
    out = {}
    for name, k in (("last_quarter_counts", 1), ("rate_4q", 4), ("rate_12q", 12)):
        q = [str(p) for p in window_periods(period, k)]
        w = panel[panel["period"].isin(q)].groupby("villcode")[["incidents", "pop_total"]].sum()
        out[name] = w["incidents"] if k == 1 else w["incidents"] / w["pop_total"].clip(lower=1)
    return out


def model_scores(risk: pd.DataFrame) -> dict[str, pd.Series]:
    """Candidate rankings of the space-time model's table."""
    r = risk.set_index("villcode")
    p125 = r["p_now_exceed_1_25"]
    return {
        "p_now_1_5": r["p_now_exceed_1_5"] + 1e-6 * r["rr_now_mean"],
        "p_now_1_25": p125 + 1e-6 * r["rr_now_mean"],
        "rr_now_mean": r["rr_now_mean"],
        "rr_now_low": r["rr_now_low"],
        "excess_mean": r["excess_next_mean"],
        "excess_low": r["excess_next_low"],
        "excess_mean_if_p125_0.8": r["excess_next_mean"] + np.where(p125 >= 0.8, 1e6, 0),
        "excess_low_if_p125_0.8": r["excess_next_low"] + np.where(p125 >= 0.8, 1e6, 0),
        "p125_x_excess": p125 * r["excess_next_mean"].clip(lower=0),
    }


def score(list_: pd.Index, truth: pd.DataFrame, faded: set, campaign: set, budget: int) -> dict:
    best = truth["excess"].sort_values(ascending=False).head(budget).sum()
    t = truth.reindex(list_)
    return {
        "precision": float((t["rr"] >= 1.5).mean()),
        "excess_captured": float(t["excess"].sum() / best) if best > 0 else float("nan"),
        "faded": int(list_.isin(faded).sum()),
        "campaign": int(list_.isin(campaign).sum()),
    }


def world(root: Path, budget: int, period: str = "2020Q4") -> list[dict]:
    s = Settings.from_args(raw_dir=root / "raw", clean_dir=root / "clean",
                           reports_dir=root / "reports", truth_dir=root / "truth")  # fmt: skip
    params = json.loads((s.truth_city_dir / "params.json").read_text())
    faded = {v for c in params["clusters"] if c["type"] == "ended" for v in c["villcodes"]}
    campaign = set((params.get("campaign") or {}).get("villcodes", []))
    truth = _truth(s, period)
    risk = pd.read_parquet(s.period(period).village_risk)
    rows = []
    for kind, scores in (("naive", naive_scores(s, period)), ("model", model_scores(risk))):
        for name, sc in scores.items():
            top = sc.sort_values(ascending=False).head(budget).index
            rows.append({"world": root.name, "kind": kind, "list": name,
                         **score(top, truth, faded, campaign, budget)})  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, required=True, help="folder of kept realistic worlds")
    ap.add_argument("--budget", type=int, default=20)
    args = ap.parse_args()
    rows = []
    for root in sorted(p for p in args.keep.iterdir() if (p / "truth").exists()):
        if (root / "clean" / "2020Q4" / "village_risk.parquet").exists():
            rows += world(root, args.budget)
    df = pd.DataFrame(rows)
    df["world_kind"] = df["world"].str.rstrip("0123456789")
    cols = ["precision", "excess_captured", "faded", "campaign"]
    print(df.groupby(["world_kind", "kind", "list"])[cols].mean().to_string(float_format="%.3f"))
    print(df.groupby(["kind", "list"])[cols].agg(["mean", "min"]).to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
