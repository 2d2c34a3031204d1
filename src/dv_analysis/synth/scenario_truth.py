"""The recorded truth of a test scenario (``docs/scenarios.md``): per village, quarter and
case type the true expected and realised incidents, per village and quarter the true
relative risk over the last four quarters (the product's estimand), the kind's labels,
the true reporting multipliers and the held-out quarters' incidents."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from dv_analysis.config import Settings
from dv_analysis.synth.model import BUCKET_CLEAN, CASE_TYPES, UNITS
from dv_analysis.synth.scenario_world import AT_RISK, Plan, World
from dv_analysis.synth.truth import (
    PARAMS_FILE,
    SCENARIO_FILE,
    SCENARIO_HELDOUT_FILE,
    SCENARIO_LABELS_FILE,
    SCENARIO_NOTIFICATIONS_FILE,
    SCENARIO_REPORTING_FILE,
    SCENARIO_TYPES_FILE,
    VILLAGE_TRUTH_FILE,
)

#: Quarters of the product's window of "now" (the true relative risk at t sums t−3..t).
NOW_QUARTERS = 4
#: Origins of a notification in SCENARIO_NOTIFICATIONS_FILE.
NOTE_ORIGINS = ("base", "rise", "surfaced", "added")
#: Counts kept per village, quarter and case type (the ``record`` of each quarter).
TYPE_COUNTS = (
    "true_incidents",
    "rise_incidents",
    "surfaced_incidents",
    "lost_incidents",
    "exported_incidents",
    "clean_expected_incidents",
)


def clean_expected(rows: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """Incidents per village and case type with at least one row cleaning should keep."""
    r = rows[(rows["expected_bucket"] == BUCKET_CLEAN) & (rows["true_villcode"] != "")]
    n = r.drop_duplicates("incident_id").groupby(["true_villcode", "case_type"]).size()
    out = n.unstack().reindex(index=codes, columns=list(CASE_TYPES)).fillna(0)
    return out.to_numpy(np.int64)


def type_table(world: World, plan: Plan, records: list[dict]) -> pd.DataFrame:
    """Per village, quarter and case type: people at risk, true expected incidents, the
    realised counts, the city's true rate of the type and the expected count at that rate."""
    nv, nt = len(world.b), len(CASE_TYPES)
    parts = []
    for t, rec in enumerate(records):
        df = pd.DataFrame(
            {
                "period": str(plan.periods[t]),
                "villcode": np.repeat(world.codes, nt),
                "case_type": np.tile(np.array(CASE_TYPES, dtype=object), nv),
                "at_risk": np.tile(np.array(AT_RISK, dtype=object), nv),
                "pop_at_risk": rec["at_risk"].ravel(),
                "true_expected": rec["mu"].ravel(),
                **{k: rec[k].ravel() for k in TYPE_COUNTS},
            }
        )
        df["heldout"] = t >= plan.n_main
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    city = df.groupby(["period", "case_type"])[["true_expected", "pop_at_risk"]].transform("sum")
    df["city_rate"] = city["true_expected"] / city["pop_at_risk"]
    df["ref_expected"] = df["city_rate"] * df["pop_at_risk"]
    return df


def village_table(types: pd.DataFrame, world: World, plan: Plan) -> pd.DataFrame:
    """Per village and quarter: sums over the case types and the true relative risk now
    (true expected ÷ expected at the city's rates, both summed over the last four quarters)."""
    cols = ["true_expected", "ref_expected", *TYPE_COUNTS]
    vq = types.groupby(["villcode", "period"], sort=True)[cols].sum().reset_index()
    # residents: those at risk of intimate-partner (18+) and child protection (under 18)
    residents = types[types["case_type"].isin(CASE_TYPES[:2])]
    pop = residents.groupby(["villcode", "period"], sort=True)["pop_at_risk"].sum()
    vq["pop_total"] = pop.to_numpy()
    g = vq.groupby("villcode")
    for c in ("true_expected", "ref_expected"):
        vq[f"{c}_4q"] = g[c].transform(lambda s: s.rolling(NOW_QUARTERS, min_periods=1).sum())
    vq["window_quarters"] = g.cumcount().clip(upper=NOW_QUARTERS - 1) + 1
    vq["true_rr_quarter"] = vq["true_expected"] / vq["ref_expected"]
    vq["true_rr_now"] = vq["true_expected_4q"] / vq["ref_expected_4q"]
    vq["heldout"] = vq["period"].isin([str(p) for p in plan.periods[plan.n_main :]])
    names = world.b.set_index("villcode")[["townname", "villname"]]
    vq = vq.join(names, on="villcode")
    # the columns the readers of synth.truth know (every incident is reported: p = 1)
    vq["expected_true"] = vq["true_expected"]
    vq["report_prob"] = 1.0
    vq["reported_incidents"] = vq["exported_incidents"]
    city = vq.groupby("period")[["true_expected", "ref_expected"]].transform("sum")
    vq["relative_risk"] = vq["true_rr_quarter"] * city["ref_expected"] / city["true_expected"]
    return vq


def labels_table(vq: pd.DataFrame, world: World, plan: Plan) -> pd.DataFrame:
    """Per village: real rise (ramp or unit-carried) and its start, clusters, campaign, and
    whether its true relative risk now is at least 1.5 at the end."""
    lab = world.b[["villcode", "townname", "villname"]].copy().reset_index(drop=True)
    rose = plan.rise.max(axis=2) > 1 + 1e-9  # (quarters, villages)
    lab["real_rise"] = rose.any(axis=0)
    first = np.where(rose.any(0), rose.argmax(0), -1)
    lab["rise_start"] = [str(plan.periods[k]) if k >= 0 else "" for k in first]
    lab["rise_multiplier"] = plan.rise[plan.n_main - 1].max(axis=1)
    lab["risk_multiplier_end"] = plan.risk[plan.n_main - 1].max(axis=1)
    member = {v: c["id"] for c in plan.clusters for v in c["villcodes"]}
    ctype = {v: c["type"] for c in plan.clusters for v in c["villcodes"]}
    lab["cluster"] = lab["villcode"].map(member).fillna("")
    lab["cluster_type"] = lab["villcode"].map(ctype).fillna("")
    camp = set((plan.campaign or {}).get("villcodes", []))
    lab["campaign"] = lab["villcode"].isin(camp)
    end = str(plan.periods[plan.n_main - 1])
    rr_end = vq[vq["period"] == end].set_index("villcode")["true_rr_now"]
    lab["true_rr_now_end"] = lab["villcode"].map(rr_end)
    lab["campaign_elevated_truly"] = lab["campaign"] & (lab["true_rr_now_end"] >= 1.5)
    return lab


def reporting_table(world: World, plan: Plan) -> pd.DataFrame:
    """Per district, unit and quarter: the true reporting multiplier."""
    t, d, u = np.meshgrid(
        np.arange(len(plan.periods)),
        np.arange(len(world.towns)),
        np.arange(len(UNITS)),
        indexing="ij",
    )
    return pd.DataFrame(
        {
            "townname": np.array(world.towns, dtype=object)[d.ravel()],
            "unit": np.array(UNITS, dtype=object)[u.ravel()],
            "period": [str(plan.periods[k]) for k in t.ravel()],
            "multiplier": plan.report.ravel(),
        }
    )


def notes_table(world: World, plan: Plan, records: list[dict]) -> pd.DataFrame:
    """Per village, quarter, unit and origin: notifications (nonzero rows only)."""
    parts = []
    for t, rec in enumerate(records):
        n = rec["notes"]  # (villages, units, origins)
        v, u, o = np.nonzero(n)
        parts.append(
            pd.DataFrame(
                {
                    "period": str(plan.periods[t]),
                    "villcode": world.codes[v],
                    "unit": np.array(UNITS, dtype=object)[u],
                    "origin": np.array(NOTE_ORIGINS, dtype=object)[o],
                    "notifications": n[v, u, o],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def write_truth(settings: Settings, world: World, plan: Plan, records, meta: dict) -> dict:
    """Every truth file of the scenario under ``settings.truth_city_dir``; returns the
    scenario's summary (``scenario.json``)."""
    out = settings.truth_city_dir
    out.mkdir(parents=True, exist_ok=True)
    types = type_table(world, plan, records)
    vq = village_table(types, world, plan)
    labels = labels_table(vq, world, plan)
    types.to_parquet(out / SCENARIO_TYPES_FILE, index=False)
    vq.to_parquet(out / VILLAGE_TRUTH_FILE, index=False)
    labels.to_parquet(out / SCENARIO_LABELS_FILE, index=False)
    reporting_table(world, plan).to_parquet(out / SCENARIO_REPORTING_FILE, index=False)
    notes_table(world, plan, records).to_parquet(out / SCENARIO_NOTIFICATIONS_FILE, index=False)
    held = vq[vq["heldout"]][
        [
            "villcode",
            "period",
            "true_expected",
            "true_incidents",
            "exported_incidents",
            "clean_expected_incidents",
        ]
    ]
    held.to_parquet(out / SCENARIO_HELDOUT_FILE, index=False)
    scenario = {
        **meta,
        "kind": plan.kind,
        "periods": [str(p) for p in plan.periods[: plan.n_main]],
        "heldout_periods": [str(p) for p in plan.periods[plan.n_main :]],
        "drawn": plan.drawn,
        "clusters": plan.clusters,
        "campaign": plan.campaign,
        "real_rise_villages": sorted(labels.loc[labels["real_rise"], "villcode"]),
    }
    (out / SCENARIO_FILE).write_text(json.dumps(scenario, ensure_ascii=False, indent=1))
    params = {
        "city": settings.city,
        "start": scenario["periods"][0],
        "end": scenario["periods"][-1],
        "seed": meta["seed"],
        "scale": meta["volume"],
        "scenario": plan.kind,
        "clusters": plan.clusters,
        "campaign": plan.campaign,
        "under_reported_villages": [],
    }
    (out / PARAMS_FILE).write_text(json.dumps(params, ensure_ascii=False, indent=1))
    return scenario
