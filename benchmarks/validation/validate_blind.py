"""The outreach list on blind worlds (issue 39): scored against the truth of the same
quantity the product reports, beside the naive lists a clerk would make.

Each world is a scenario written blind to the model (``dv_analysis.synth.scenarios``,
``docs/scenarios.md``), 2017Q1–2020Q4 (plus the held-out 2021Q1, unused here), cleaned
like real exports; the core runs with its defaults for 2020Q4 (features, village risk,
the outreach list with its backtest). Scored at 2020Q4, the third quarter of every planted
rise:

* ``precision_tier2``: share of tier 2 truly elevated now (true RR now ≥ 1.5, the
  four-quarter, case-type-standardised relative risk the model reports), beside the same
  number of villages from each naive list (counts, rates, O − E over 1, 4 and 12
  quarters) and the best of them;
* ``rise_as_reporting``: villages truly ≥ 1.5 now because of a real rise whose early
  warning calls the rise a reporting change;
* ``rise_one_unit``: of those, villages whose rise is said to come mostly through one unit
  (kept as a rise: tier 1's route);
* ``rise_in_tier1``: share of the real-rise villages in tier ≥ 1;
  ``rise_elevated_in_tier1``: share of those truly ≥ 1.5 now (the issue's target);
* ``campaign_not_elevated_tier2``: campaign villages not truly elevated in tier 2;
* ``reporting_changes``: villages of the early warning whose rise is called a reporting
  change (in ``no_change`` worlds every one is false).

    .venv/bin/python benchmarks/validation/validate_blind.py --seeds 6 7 8 9 10 \\
        [--kinds campaign_over_rise unit_carried_rise no_change] --keep /work/worlds

Worlds kept by ``validate_forecast.py --keep`` are reused (generated, cleaned and with the
risk stage run).
"""

from __future__ import annotations

from pathlib import Path

from validate_forecast import arguments, run_worlds, world  # the same blind worlds

from dv_analysis.stages import features, priority, risk
from dv_analysis.synth import truth
from dv_analysis.synth.recovery import naive_lists


def score(kind: str, seed: int, root: Path) -> dict:
    s = world(kind, seed, root)
    paths = s.period("2020Q4")
    if not paths.village_risk.exists():
        features.build(paths)
        risk.run(paths, progress=False)
    out = priority.run(paths, progress=False)
    labels = truth.read_truth_table(s, truth.SCENARIO_LABELS_FILE).set_index("villcode")
    elevated = labels["true_rr_now_end"] >= 1.5
    t = out.table.set_index("villcode")
    tier2 = t.index[t["tier"] == 2]
    early = out.early.set_index("villcode")
    reporting = early.index[early["emerging"] & (early["rise_kind"] == "reporting")]
    one_unit = early.index[early["emerging"] & (early["rise_kind"] == "one_unit")]
    rise = labels.index[labels["real_rise"]]
    rise_elev = rise[elevated.reindex(rise).to_numpy()]
    tops = naive_lists(s, "2020Q4", len(tier2))
    naive = {n: float(elevated.reindex(v).mean()) for n, v in tops.items()}
    best = max(naive, key=naive.get)
    return {
        "kind": kind,
        "seed": seed,
        "tier2": len(tier2),
        "precision_tier2": float(elevated.reindex(tier2).mean()) if len(tier2) else float("nan"),
        "best_naive": best,
        "precision_best_naive": naive[best],
        **{f"naive_{n}": v for n, v in naive.items()},
        "rise_villages": len(rise),
        "rise_elevated": len(rise_elev),
        "rise_as_reporting": int(rise_elev.isin(reporting).sum()),
        "rise_in_tier1": float((t["tier"].reindex(rise) >= 1).mean())
        if len(rise)
        else float("nan"),
        "rise_elevated_in_tier1": float((t["tier"].reindex(rise_elev) >= 1).mean())
        if len(rise_elev)
        else float("nan"),
        "rise_one_unit": int(rise_elev.isin(one_unit).sum()),
        "campaign_not_elevated_tier2": int(
            (labels["campaign"] & ~elevated).reindex(tier2).fillna(False).sum()
        ),
        "reporting_changes": len(reporting),
    }


def main() -> None:
    df = run_worlds(score, arguments(__doc__))
    keep = ["kind", "seed", "tier2", "precision_tier2", "best_naive", "precision_best_naive",
            "rise_elevated", "rise_as_reporting", "rise_one_unit", "rise_in_tier1",
            "rise_elevated_in_tier1", "campaign_not_elevated_tier2",
            "reporting_changes"]  # fmt: skip
    print(df[keep].to_string(index=False, float_format="%.3f"))
    num = [c for c in keep[2:] if c != "best_naive"]
    print(df.groupby("kind")[num].mean().to_string(float_format="%.3f"))


if __name__ == "__main__":
    main()
