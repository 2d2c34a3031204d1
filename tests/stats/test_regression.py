"""Count models on data with known coefficients, and recovery of the synthetic truth."""

import numpy as np
import pandas as pd
import pytest

from dv_analysis.stats import regression as M
from dv_analysis.synth import truth as synth_truth


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(1)
    n = 3000
    df = pd.DataFrame({c: rng.normal(size=n) for c in (*M.COVARIATES, "access_index")})
    df["exposure"] = rng.integers(2000, 20000, n).astype(float)
    eta = np.log(df["exposure"] / 1000) + 0.3 * df["low_income_per_1000"] - 0.2 * df["access_index"]
    mu = np.exp(eta)
    alpha = 0.3
    df["y"] = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu))
    return df


def test_nb_recovers_known_coefficients(simulated):
    cm = M.fit_count_models(simulated, "y", "exposure")
    irr = cm.irr.set_index("term")
    sd_li = simulated["low_income_per_1000"].std()
    sd_ac = simulated["access_index"].std()
    assert irr.loc["low_income_per_1000", "irr_per_sd"] == pytest.approx(
        np.exp(0.3 * sd_li), rel=0.05
    )
    assert irr.loc["access_index", "irr_per_sd"] == pytest.approx(np.exp(-0.2 * sd_ac), rel=0.05)
    for null in ("divorces_per_1000", "disabled_per_1000", "share_over_64", "log_density"):
        assert irr.loc[null, "irr_per_sd"] == pytest.approx(1.0, abs=0.05)
    comp = cm.comparison.set_index("model")
    assert comp.loc["nb2", "aic"] < comp.loc["poisson", "aic"]
    assert comp.loc["poisson", "dispersion"] > 1.5
    assert cm.warnings == []


def test_blind_spots_flag_low_and_remote(simulated):
    df = simulated.copy()
    df["villcode"] = np.arange(len(df))
    i = int(df["access_index"].idxmax())
    df.loc[i, "y"] = 0
    df.loc[i, "exposure"] = 20000.0
    flagged, _ = M.blind_spots(df, "y", "exposure", alpha=0.05)
    assert bool(flagged.set_index("villcode").loc[i, "blind_spot"])
    assert (
        flagged.loc[flagged["blind_spot"], "access_index"] >= df["access_index"].quantile(0.75)
    ).all()


def test_predict_next_quarter_scores_every_model():
    rng = np.random.default_rng(2)
    rows = []
    for q in range(12):
        for v in range(60):
            rows.append(
                {
                    "villcode": v,
                    "period": f"P{q:02d}",
                    "incidents": rng.poisson(3 + v % 5),
                    "pop_total": 5000,
                }
            )
    panel = pd.DataFrame(rows)
    static = pd.DataFrame({"villcode": range(60), "access_index": rng.normal(size=60)})
    table = M.lag_table(panel, static)
    scores, notes = M.predict_next_quarter(table, test_quarters=3)
    assert list(scores["model"]) == ["naive", "poisson_glm", "gbm"]
    test = table[table["period"].isin(scores.attrs["test_quarters"])]
    assert scores.loc[0, "mae"] == pytest.approx(np.mean(np.abs(test["incidents"] - test["lag1"])))
    # the village effect is learnable from lags: both models beat last quarter's count here
    assert (
        scores.loc[1, "mae"] < scores.loc[0, "mae"] and scores.loc[2, "mae"] < scores.loc[0, "mae"]
    )
    # the runner gives kernels one thread per library: the scores must not depend on it
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        one, _ = M.predict_next_quarter(table, test_quarters=3)
    with threadpool_limits(limits=2):
        two, _ = M.predict_next_quarter(table, test_quarters=3)
    pd.testing.assert_frame_equal(one, two)
    pd.testing.assert_frame_equal(one, scores)


def test_a_covariate_missing_for_some_villages_is_left_out_of_the_prediction():
    """All of Taiwan: layers cover some cities only. The prediction still scores every
    village, without that covariate, and says so (it used to stop: exog contains nans)."""
    rng = np.random.default_rng(3)
    panel = pd.DataFrame(
        [
            {
                "villcode": v,
                "period": f"P{q:02d}",
                "incidents": rng.poisson(3 + v % 5),
                "pop_total": 5000,
            }
            for q in range(12)
            for v in range(60)
        ]
    )
    access = rng.normal(size=60)
    access[30:] = np.nan  # one city's villages only
    static = pd.DataFrame(
        {"villcode": range(60), "access_index": access, "share_over_64": rng.uniform(0.1, 0.2, 60)}
    )
    table = M.lag_table(panel, static)
    scores, notes = M.predict_next_quarter(table, test_quarters=3)
    assert list(scores["model"]) == ["naive", "poisson_glm", "gbm"] and scores["mae"].notna().all()
    assert (
        notes[0] == "access_index: missing for 30 villages, left out of the next-quarter prediction"
    )
    complete, _ = M.predict_next_quarter(table.drop(columns="access_index"), test_quarters=3)
    pd.testing.assert_frame_equal(scores, complete)


def test_synthetic_accessibility_effect_and_blind_spots(year_of_data):
    """Recovery of the planted under-reporting (docs/validation.md)."""
    from dv_analysis.stages import access as accessibility
    from dv_analysis.stages import features

    s, _, _ = year_of_data
    f = features.village_features(s, "2020Q4", 4)
    acc = accessibility.village_accessibility(s, "2020Q4")
    df = f.merge(acc.drop(columns=["townname", "villname", "pop_total"]), on="villcode")
    df["log_density"] = np.log(df["density_per_km2"])
    df["exposure"] = df["pop_total"] * df["window_quarters"]
    cm = M.fit_count_models(df, "incidents_w", "exposure")
    est = cm.irr.set_index("term").loc["access_index"]
    truth = synth_truth.read_village_truth(s).drop_duplicates("villcode")
    m = df.merge(truth[["villcode", "report_prob", "under_reported"]], on="villcode")
    z = (m["access_index"] - m["access_index"].mean()) / m["access_index"].std()
    true_irr = float(np.exp(np.polyfit(z, np.log(m["report_prob"]), 1)[0]))
    print({"estimated": est["irr_per_sd"], "ci": (est["ci_low"], est["ci_high"]), "true": true_irr})
    assert est["irr_per_sd"] < 0.95 and est["ci_high"] < 1, (
        "the accessibility effect has the right sign"
    )
    assert abs(np.log(est["irr_per_sd"]) - np.log(true_irr)) < 0.1
    flagged, _ = M.blind_spots(df, "incidents_w", "exposure")
    hits = flagged.merge(m[["villcode", "under_reported"]], on="villcode")
    tp = int((hits["blind_spot"] & hits["under_reported"]).sum())
    n_flag = int(hits["blind_spot"].sum())
    print({"flagged": n_flag, "true_positive": tp, "planted": int(m["under_reported"].sum())})
    assert n_flag >= 5 and tp / n_flag >= 0.5


def test_gbm_next_counts_learns_from_the_history_and_is_seeded():
    """Villages with a persistently higher rate are predicted higher; the same seed gives the
    same numbers; too short a history gives None rather than a guess."""
    from dv_analysis.stats.regression import gbm_next_counts

    rng = np.random.default_rng(0)
    n, t = 300, 10
    rate = np.where(np.arange(n) < 30, 12.0, 3.0)  # the first 30 areas four times as high
    counts = rng.poisson(rate, size=(t, n)).astype(float)
    log_pop = np.full((t, n), np.log(5000.0))
    pred = gbm_next_counts(counts, log_pop, seed=1)
    assert pred.shape == (n,) and (pred > 0).all()
    assert pred[:30].mean() > 2.5 * pred[30:].mean()
    assert abs(pred[30:].mean() - 3.0) < 0.6 and abs(pred[:30].mean() - 12.0) < 2.5
    np.testing.assert_array_equal(pred, gbm_next_counts(counts, log_pop, seed=1))
    assert gbm_next_counts(counts[:2], log_pop[:2]) is None
    assert gbm_next_counts(counts[:3], log_pop[:3]).shape == (n,), "one lag from three quarters"
