"""Stage of ``04_accessibility``: accessibility, risk models per case type, blind spots, prediction.

Reads the period's village features and panel and the facility layers; writes
``accessibility.parquet``, ``risk_factors.parquet``, ``blind_spots.parquet`` and
``prediction_scores.parquet``. Layers that do not cover the city are left out with a
note, never measured against another city's facilities.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from dv_analysis.config import PeriodPaths, Settings
from dv_analysis.layers import (
    load_boundaries,
    load_bus_stops,
    load_medical,
    load_metro_exits,
    load_metro_stations,
    load_police,
    load_population,
    load_welfare_facilities,
    load_youbike,
)
from dv_analysis.pages.labels import OUTCOME_LABELS, PREDICTION_MODEL_LABELS, TERM_LABELS
from dv_analysis.stages import params as check
from dv_analysis.stages.features import CASE_TYPE_DENOMINATOR
from dv_analysis.stats.planning import accessibility as acc_stats
from dv_analysis.stats.rates import person_quarters
from dv_analysis.stats.regression import (
    ACCESS_TERMS,
    COVARIATES,
    blind_spots,
    fit_count_models,
    lag_table,
    predict_next_quarter,
)
from dv_analysis.stats.weights import build_weights

log = logging.getLogger(__name__)

#: Outcome columns of the risk models and the population at risk of each (all incidents
#: per resident; each case type per its own population, as its rate in the features).
CASE_OUTCOMES: dict[str, str] = {
    "incidents_w": "pop_total",
    **{f"incidents_{code}_w": denom for code, denom in CASE_TYPE_DENOMINATOR.items()},
}
BLIND_SPOT_COLUMNS = (
    "villcode",
    "townname",
    "villname",
    "incidents_w",
    "expected",
    "expected_low90",
    "expected_high90",
    "ratio",
    "p_lower",
    "access_index",
    "blind_spot",
)


@dataclass(frozen=True)
class AccessParams:
    """Settings of the accessibility stage (the ``parameters`` cell of ``04_accessibility``)."""

    weights: str = "queen"  # spatial weights of the residual Moran's I (as 02 and 03)
    blind_alpha: float = 0.2  # NB lower-tail p under which a village has too few reports
    access_quantile: float = 0.75  # index quantile from which a village is hard to reach
    test_quarters: int = 4  # later quarters held out to validate next-quarter prediction
    seed: int = 42  # seed of the gradient-boosting model

    def __post_init__(self):
        check.weights(self.weights)
        check.between("blind_alpha", self.blind_alpha, 0, 1)
        check.between("access_quantile", self.access_quantile, 0, 1)
        check.at_least("test_quarters", self.test_quarters, 1)


@dataclass
class AccessResult:
    """Everything the accessibility page shows."""

    table: pd.DataFrame  # features + accessibility + blind-spot evidence, one row per village
    models: dict  # outcome -> CountModels
    irr: pd.DataFrame  # all outcomes
    comparison: pd.DataFrame
    scores: pd.DataFrame
    notes: list[str]
    layers: dict  # the facility layers the accessibility measures used, for the maps


#: Cities each point layer covers completely (from the public layers' README): a layer that does not
#: cover the city is left out (missing values and a note), never measured against another city's facilities.
LAYER_CITIES: dict[str, frozenset[str]] = {
    "metro_station": frozenset({"63000", "65000"}),  # Taipei Metro, incl. its New Taipei stations
    "metro_exit": frozenset({"63000", "65000"}),
    # the TDX file "covers Greater Taipei", but ~4,240 of its 4,788 stops are in Taipei
    "bus_stop": frozenset({"63000"}),
    "youbike": frozenset({"63000"}),
    "police": frozenset({"63000"}),
    "welfare": frozenset({"63000"}),
    "medical": frozenset({"63000"}),
}


def facilities(settings: Settings) -> dict[str, gpd.GeoDataFrame]:
    """The facility layers used, by name; a missing layer is an empty frame (and a log line)."""
    out = {}
    loaders = {
        "metro_station": load_metro_stations,
        "metro_exit": load_metro_exits,
        "bus_stop": load_bus_stops,
        "youbike": load_youbike,
        "police": load_police,
        "welfare": load_welfare_facilities,
        "medical": load_medical,
    }
    for name, loader in loaders.items():
        if settings.city not in LAYER_CITIES.get(name, frozenset()):
            out[name] = None  # does not cover this city
            continue
        try:
            out[name] = loader(settings)
        except FileNotFoundError as e:
            log.warning("accessibility: %s", e)
            out[name] = None
    police, w, m = out["police"], out["welfare"], out["medical"]
    out["police_precinct"] = None if police is None else police[police["is_precinct"]]
    out["family_service"] = (
        None if w is None else w[w["sub_type"].isin(["社會福利服務中心", "婦女暨家庭服務中心"])]
    )
    out["social_welfare_centre"] = None if w is None else w[w["sub_type"] == "社會福利服務中心"]
    out["women_family_centre"] = None if w is None else w[w["sub_type"] == "婦女暨家庭服務中心"]
    out["hospital"] = None if m is None else m[m["type"] == "醫院"]
    return out


def uncovered_layers(city: str) -> list[str]:
    """The point layers that do not cover ``city`` (their measures are left empty)."""
    return [k for k, cities in LAYER_CITIES.items() if city not in cities]


def village_accessibility(
    settings: Settings,
    period,
    layers: dict | None = None,
    grid_m: float = 150.0,
    d0: float = 3000.0,
) -> pd.DataFrame:
    """Accessibility of every village of the city for a period's population (see :mod:`..stats.accessibility`)."""
    villages = load_boundaries(settings)
    pop = load_population(settings, period)
    pop = (
        pop[pop["in_boundaries"]]
        .set_index("villcode")["pop_total"]
        .reindex(villages["villcode"])
        .fillna(0)
        .to_numpy()
    )
    fac = facilities(settings) if layers is None else layers
    return acc_stats.village_accessibility(villages, pop, fac, grid_m, d0)


def _model_table(paths: PeriodPaths, layers: dict) -> pd.DataFrame:
    """Village features joined to accessibility (written to ``accessibility.parquet``)."""
    feats = pd.read_parquet(paths.village_features)
    acc = village_accessibility(paths.settings, paths.period, layers=layers)
    acc.to_parquet(paths.accessibility, index=False)
    df = feats.merge(acc.drop(columns=["townname", "villname", "pop_total"]), on="villcode")
    df["log_density"] = np.log(df["density_per_km2"].clip(lower=1))
    return df


def _fit_outcomes(df: pd.DataFrame, terms: tuple, access: tuple, w):
    """NB and Poisson fits of every case type, with IRRs (labelled) and model comparisons."""
    models, irr, comp, notes = {}, [], [], []
    for outcome, denom in CASE_OUTCOMES.items():
        label = OUTCOME_LABELS[outcome]
        df[f"exposure_{outcome}"] = person_quarters(df[denom], df["window_quarters"])
        cm = fit_count_models(
            df,
            outcome,
            f"exposure_{outcome}",
            terms + access,
            w=w if outcome == "incidents_w" else None,
        )
        models[outcome] = cm
        table = cm.irr.copy()
        table.insert(1, "label", [TERM_LABELS.get(t, t) for t in table["term"]])
        irr.append(table.assign(outcome=label))
        comp.append(cm.comparison.assign(outcome=label, residual_moran=cm.residual_moran))
        notes += [f"{label}: {n}" for n in cm.warnings]
    return models, pd.concat(irr, ignore_index=True), pd.concat(comp, ignore_index=True), notes


def _blind_spots(df: pd.DataFrame, terms: tuple, access: tuple, params: AccessParams):
    """Blind-spot evidence per village (empty where no accessibility layer covers the city)."""
    cols = [c for c in BLIND_SPOT_COLUMNS if c not in df.columns or c == "villcode"]
    if access:
        bs, _ = blind_spots(
            df,
            "incidents_w",
            "person_quarters_w",
            params.blind_alpha,
            params.access_quantile,
            terms,
        )
        return bs[cols], []
    empty = df[["villcode"]].assign(**{c: np.nan for c in cols[1:-1]}, blind_spot=False)
    return empty[cols], ["no accessibility layer covers this city: blind spots cannot be flagged"]


def _prediction(paths: PeriodPaths, df: pd.DataFrame, terms: tuple, params: AccessParams):
    """Next-quarter scores of the three models on the held-out quarters (labelled), and notes."""
    panel = pd.read_parquet(paths.village_panel)
    static = df[["villcode", *terms, "access_index"]]
    try:
        scores, notes = predict_next_quarter(
            lag_table(panel, static), test_quarters=params.test_quarters, seed=params.seed
        )
    except ValueError as e:
        scores = pd.DataFrame(columns=["model", "mae", "rmse", "poisson_deviance"])
        return scores, [f"prediction not validated: {e}"]
    scores["model"] = scores["model"].map(PREDICTION_MODEL_LABELS)
    return scores, notes


def run(paths: PeriodPaths, params: AccessParams = AccessParams()) -> AccessResult:
    """Accessibility, NB models per case type, blind spots and next-quarter scores; written to disk."""
    layers = facilities(paths.settings)
    df = _model_table(paths, layers)
    terms = tuple(t for t in COVARIATES if df[t].notna().any())
    access = tuple(t for t in ACCESS_TERMS if df[t].notna().any())
    notes = [
        f"{TERM_LABELS.get(t, t)}: no data for this city, left out of the models"
        for t in COVARIATES
        if t not in terms
    ]
    villages = load_boundaries(paths.settings)
    w, _ = build_weights(villages, params.weights, ids="villcode")
    models, irr, comp, fit_notes = _fit_outcomes(df, terms, access, w)
    bs, bs_notes = _blind_spots(df, terms, access, params)
    df = df.merge(bs, on="villcode", how="left")
    df["blind_spot"] = df["blind_spot"].fillna(False).astype(bool)
    scores, pred_notes = _prediction(paths, df, terms, params)
    irr.to_parquet(paths.risk_factors, index=False)
    df[list(BLIND_SPOT_COLUMNS)].to_parquet(paths.blind_spots, index=False)
    scores.to_parquet(paths.prediction_scores, index=False)
    notes += fit_notes + bs_notes + pred_notes
    return AccessResult(df, models, irr, comp, scores, notes, layers)
