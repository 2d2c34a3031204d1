"""The recorded ground truth of a synthetic world: its file names, written by
:func:`dv_analysis.synth.generate` and read back here (planted clusters, each village's true
relative risk per quarter, the villages a reporting bias touches)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from dv_analysis.config import Period, Settings

#: The truth files of a city (``<truth_dir>/<city>/``), named once: the generator writes
#: them, the readers below read them.
PARAMS_FILE = "params.json"
VILLAGE_TRUTH_FILE = "village_truth.parquet"
ROWS_FILE = "rows.parquet"


def has_truth(settings: Settings) -> bool:
    """Whether a synthetic world's truth is recorded under the settings' truth folder."""
    return (settings.truth_city_dir / PARAMS_FILE).exists()


def read_params(settings: Settings) -> dict:
    """The world's recorded model and clusters (``params.json``)."""
    return json.loads((settings.truth_city_dir / PARAMS_FILE).read_text())


def read_rows(settings: Settings, quarter) -> pd.DataFrame:
    """The true record behind each raw row of a quarter (``<quarter>/rows.parquet``)."""
    return pd.read_parquet(settings.truth_city_dir / str(quarter) / ROWS_FILE)


def read_village_truth(settings: Settings) -> pd.DataFrame:
    """Each village's true risk per quarter (``village_truth.parquet``)."""
    return pd.read_parquet(settings.truth_city_dir / VILLAGE_TRUTH_FILE)


def planted_clusters(settings: Settings) -> list[dict]:
    """The planted clusters (and isolated villages) of the synthetic truth, as recorded."""
    return read_params(settings)["clusters"]


def _mean_multiplier(cluster: dict, periods: list[Period]) -> float:
    return float(np.mean([cluster["multiplier"][str(p)] for p in periods]))


def planted_hot(
    settings: Settings, periods: list[Period], threshold: float = 1.5
) -> tuple[set[str], set[str]]:
    """Villages of planted clusters whose mean multiplier over ``periods`` is ≥ threshold (hot) or ≤ 1/threshold (cold)."""
    hot, cold = set(), set()
    for c in planted_clusters(settings):
        m = _mean_multiplier(c, periods)
        if m >= threshold:
            hot |= set(c["villcodes"])
        elif m <= 1 / threshold:
            cold |= set(c["villcodes"])
    return hot, cold


def planted_high_risk(
    clusters: list[dict], periods: list[Period], threshold: float = 1.25
) -> set[str]:
    """Villages whose planted multiplier, averaged over ``periods``, exceeds ``threshold``."""
    return {v for c in clusters if _mean_multiplier(c, periods) > threshold for v in c["villcodes"]}


def true_relative_risk(settings: Settings, periods: list[Period]) -> pd.Series:
    """Each village's true relative risk of a *reported* incident over ``periods``, by villcode.

    From the generator's truth: expected incidents × reporting probability, per
    person-quarter, relative to the city's. This is what the village-risk model estimates
    (under-reporting lowers it, covariates and clusters raise it).
    """
    vt = read_village_truth(settings)
    vt = vt[vt["period"].isin([str(p) for p in periods])]
    reported = (vt["expected_true"] * vt["report_prob"]).groupby(vt["villcode"]).sum()
    pop = vt.groupby("villcode")["pop_total"].sum()
    rate = reported / pop.where(pop > 0)
    return rate / (reported.sum() / pop.sum())


def truth_sets(settings: Settings, periods: list[Period]) -> dict[str, set]:
    """The planted truth as sets of villcodes: planted high-risk, truly higher risk of a
    reported incident, isolated, late, and every cluster that rose (late, new, intensifying)."""
    clusters = planted_clusters(settings)
    rr = true_relative_risk(settings, periods)

    def of(*types):
        return {v for c in clusters if c["type"] in types for v in c["villcodes"]}

    planted = planted_high_risk(clusters, periods)
    return {
        "planted": planted,
        "truly_high": set(rr[rr > 1].index),
        "clearly_high": set(rr[rr >= 1.5].index),
        "planted_faint": {v for v in planted if rr.get(v, 0) < 1.25},
        "isolated": of("isolated"),
        "late": of("late"),
        "rising": of("late", "new", "intensifying"),
    }


# --- the space-time model on realistic worlds (issue 27) ------------------------------------
def true_reported_rr(settings: Settings, periods: list[Period]) -> pd.DataFrame:
    """Each village's true relative risk of a *reported* incident in each of ``periods``
    (villages × quarters), against the city in that quarter: the generator's risk without
    the quarter's noise, times the village's reporting probability. The campaign's extra
    reports are not risk and are left out (its villages are scored apart)."""
    vt = read_village_truth(settings)
    vt = vt[vt["period"].isin([str(p) for p in periods])].copy()
    vt["reported"] = vt["relative_risk"] * vt["report_prob"] * vt["pop_total"]
    city = vt.groupby("period")[["reported", "pop_total"]].sum()
    vt["rr"] = (
        vt["relative_risk"]
        * vt["report_prob"]
        / vt["period"].map(city["reported"] / city["pop_total"])
    )
    return vt.pivot(index="villcode", columns="period", values="rr")


def biased_villages(settings: Settings) -> set[str]:
    """Villages whose reports are deliberately biased in the truth: under-reported ones and
    those of the reporting campaign."""
    params = read_params(settings)
    campaign = params.get("campaign") or {}
    return set(params["under_reported_villages"]) | set(campaign.get("villcodes", []))


def planted_villages(settings: Settings, *types: str) -> set[str]:
    """The villages of a world's planted clusters of the given types ("ended", "ramp", …)."""
    return {v for c in planted_clusters(settings) if c["type"] in types for v in c["villcodes"]}


def outreach_truth(settings: Settings, period: str, budget: int) -> pd.DataFrame:
    """Each village's true relative risk of an incident (reported or not) in ``period``, its
    true excess incidents (population × the city's true rate × (RR − 1), at least 0), and
    ``elevated``: among the ``2 × budget`` villages with the most true excess (the villages
    where outreach would meet the most incidents above what the city's rate gives)."""
    vt = read_village_truth(settings)
    now = vt[vt["period"] == str(period)].set_index("villcode")
    rate = now["expected_true"].sum() / now["pop_total"].sum()
    excess = ((now["relative_risk"] - 1) * now["pop_total"] * rate).clip(lower=0)
    top = excess.sort_values(ascending=False).head(2 * budget).index
    return pd.DataFrame(
        {
            "rr": now["relative_risk"],
            "excess": excess,
            "elevated": now.index.isin(top) & (excess > 0),
        }
    )


# --- test scenarios (synth.scenarios) ----------------------------------------------------------
#: What a scenario drew (kind, seed, clusters, districts, multipliers, quarters).
SCENARIO_FILE = "scenario.json"
#: Per village, quarter and case type: people at risk, true expected and realised incidents,
#: the city's true rate and the village's expected count at that rate (the components).
SCENARIO_TYPES_FILE = "scenario_village_types.parquet"
#: Per village: the kind's labels (real rise and its start, campaign, truly elevated …).
SCENARIO_LABELS_FILE = "scenario_labels.parquet"
#: Per district, unit and quarter: the true reporting multiplier (1 where nothing changed).
SCENARIO_REPORTING_FILE = "scenario_reporting.parquet"
#: Per village, quarter, unit and origin (base, rise, surfaced, added): notifications.
SCENARIO_NOTIFICATIONS_FILE = "scenario_notifications.parquet"
#: Per village and quarter after the end (held out): the realised incidents to score against.
SCENARIO_HELDOUT_FILE = "scenario_heldout.parquet"


def read_scenario(settings: Settings) -> dict:
    """What a test scenario drew (``scenario.json``)."""
    return json.loads((settings.truth_city_dir / SCENARIO_FILE).read_text())


def read_truth_table(settings: Settings, name: str) -> pd.DataFrame:
    """A truth table of the city by file name (one of the ``*_FILE`` constants)."""
    return pd.read_parquet(settings.truth_city_dir / name)
