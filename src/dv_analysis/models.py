"""Risk-factor models, blind spots and next-quarter prediction, at village level only.

* Poisson and negative-binomial (NB2) regressions of village counts on standardised
  covariates with ``log(population × quarters)`` as offset; incidence-rate ratios per
  standard deviation with 95% intervals; AIC and dispersion compared; Moran's I of
  the NB Pearson residuals.
* Blind spots: expected counts from the model *without* the accessibility terms;
  villages with far fewer reports than expected (NB lower-tail p < ``alpha``) and poor
  accessibility (index in the top quarter) are flagged, with the evidence.
* Next-quarter prediction with gradient boosting (Poisson loss), validated on later
  quarters against the naive last-quarter baseline and a Poisson GLM on the same
  lags, scores reported whichever model wins.

No score is ever computed for a person or a family. Warnings raised while fitting
are collected and returned (``warnings`` lists), never silenced.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

COVARIATES = (
    "low_income_per_1000",
    "disabled_per_1000",
    "divorces_per_1000",
    "share_over_64",
    "log_density",
)
ACCESS_TERMS = ("access_index",)
LABELS_ZH = {
    "low_income_per_1000": "低收入人口比例",
    "disabled_per_1000": "身障人口比例",
    "divorces_per_1000": "離婚率",
    "share_over_64": "65 歲以上比例",
    "log_density": "人口密度（對數）",
    "access_index": "交通與服務不便指數",
}


@dataclass
class CountModels:
    """Poisson and NB fits of one outcome, with the comparison and IRR table."""

    outcome: str
    poisson: object
    nb: object
    irr: pd.DataFrame
    comparison: pd.DataFrame
    residual_moran: float | None
    warnings: list[str] = field(default_factory=list)
    means: pd.Series | None = None
    sds: pd.Series | None = None


def design(df: pd.DataFrame, terms: tuple[str, ...]) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Standardised covariates with a constant; returns X, means and sds (for reading IRRs per SD)."""
    x = df[list(terms)].astype(float)
    means, sds = x.mean(), x.std().replace(0, 1)
    x = (x - means) / sds
    return sm.add_constant(x, has_constant="add"), means, sds


def _fit(fn) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fn()
    return res, [f"{w.category.__name__}: {w.message}" for w in caught]


def fit_count_models(
    df: pd.DataFrame,
    outcome: str,
    exposure: str,
    terms: tuple[str, ...] = COVARIATES + ACCESS_TERMS,
    w=None,
) -> CountModels:
    """Fit Poisson and NB2 for ``outcome`` with ``log(exposure)`` offset; rows with missing values are dropped (counted)."""
    data = df.dropna(subset=[outcome, exposure, *terms])
    data = data[data[exposure] > 0]
    X, means, sds = design(data, terms)
    y = data[outcome].astype(float).to_numpy()
    offset = np.log(data[exposure].astype(float).to_numpy())
    pois, w1 = _fit(lambda: sm.GLM(y, X, family=sm.families.Poisson(), offset=offset).fit())
    nb, w2 = _fit(
        lambda: sm.NegativeBinomial(y, X, offset=offset, loglike_method="nb2").fit(
            disp=0, maxiter=200
        )
    )
    params = nb.params.drop("alpha")
    ci = nb.conf_int().drop(index="alpha")
    irr = pd.DataFrame(
        {
            "term": params.index,
            "label": [LABELS_ZH.get(t, "常數" if t == "const" else t) for t in params.index],
            "irr_per_sd": np.exp(params.to_numpy()),
            "ci_low": np.exp(ci[0].to_numpy()),
            "ci_high": np.exp(ci[1].to_numpy()),
            "p_value": nb.pvalues.drop("alpha").to_numpy(),
            "sd": [np.nan if t == "const" else sds[t] for t in params.index],
        }
    )
    pearson = (y - pois.mu) ** 2 / pois.mu
    comparison = pd.DataFrame(
        {
            "model": ["Poisson", "負二項 (NB2)"],
            "aic": [pois.aic, nb.aic],
            "dispersion": [pearson.sum() / pois.df_resid, float(nb.params["alpha"])],
            "dispersion_meaning": ["Pearson χ²/df（>1 表示過度離散）", "NB alpha（0 即 Poisson）"],
            "n": [len(y), len(y)],
        }
    )
    moran = None
    if w is not None and len(data) == len(df):
        from .hotspots import global_moran

        mu = nb.predict(X, offset=offset)
        a = float(nb.params["alpha"])
        resid = (y - mu) / np.sqrt(mu + a * mu**2)
        moran = global_moran(resid, w, permutations=999, seed=0).I
    dropped = len(df) - len(data)
    notes = (
        w1 + w2 + ([f"{dropped} villages without data or population left out"] if dropped else [])
    )
    return CountModels(outcome, pois, nb, irr, comparison, moran, notes, means, sds)


def nb_interval(mu: np.ndarray, alpha: float, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Central predictive interval of NB2 counts with mean ``mu`` and dispersion ``alpha``."""
    size = 1 / max(alpha, 1e-9)
    p = size / (size + mu)
    lo = stats.nbinom.ppf((1 - level) / 2, size, p)
    hi = stats.nbinom.ppf(1 - (1 - level) / 2, size, p)
    return lo, hi


def blind_spots(
    df: pd.DataFrame,
    outcome: str,
    exposure: str,
    alpha: float = 0.2,
    access_quantile: float = 0.75,
    terms: tuple[str, ...] = COVARIATES,
) -> tuple[pd.DataFrame, CountModels]:
    """Observed vs expected from the NB model without accessibility; flag low-and-remote villages.

    ``blind_spot`` is True where P(Y ≤ observed | expected) < ``alpha`` and the access
    index is at or above its ``access_quantile``.
    """
    base = fit_count_models(df, outcome, exposure, terms)
    data = df.dropna(subset=[outcome, exposure, *terms])
    data = data[data[exposure] > 0].copy()
    X, _, _ = design(data, terms)
    offset = np.log(data[exposure].astype(float).to_numpy())
    mu = base.nb.predict(X, offset=offset)
    a = float(base.nb.params["alpha"])
    size = 1 / max(a, 1e-9)
    y = data[outcome].to_numpy()
    p_low = stats.nbinom.cdf(y, size, size / (size + mu))
    lo, hi = nb_interval(mu, a)
    data["expected"] = mu
    data["expected_low90"] = lo
    data["expected_high90"] = hi
    data["ratio"] = y / mu
    data["p_lower"] = p_low
    threshold = df["access_index"].quantile(access_quantile)
    data["blind_spot"] = (p_low < alpha) & (data["access_index"] >= threshold)
    return data, base


# ---------------------------------------------------------------------------
# Next-quarter prediction
# ---------------------------------------------------------------------------
def lag_table(panel: pd.DataFrame, static: pd.DataFrame, lags: int = 4) -> pd.DataFrame:
    """Per village and quarter: the count, its previous ``lags`` quarters and static covariates."""
    p = panel.sort_values(["villcode", "period"]).copy()
    for k in range(1, lags + 1):
        p[f"lag{k}"] = p.groupby("villcode")["incidents"].shift(k)
    p["log_pop"] = np.log(p["pop_total"].clip(lower=1))
    p = p.merge(static, on="villcode", how="left")
    return p.dropna(subset=[f"lag{k}" for k in range(1, lags + 1)])


def poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    mu = np.clip(mu, 1e-9, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(2 * np.mean(term - (y - mu)))


def predict_next_quarter(
    table: pd.DataFrame, test_quarters: int = 4, seed: int = 42
) -> tuple[pd.DataFrame, list[str]]:
    """Train on earlier quarters, test on the last ``test_quarters``; scores for three models.

    Models: naive (last quarter's count), Poisson GLM on lags + covariates, and
    HistGradientBoosting with Poisson loss on the same features. Lower is better for
    every score.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    periods = sorted(table["period"].unique())
    if len(periods) <= test_quarters:
        raise ValueError(
            f"need more than {test_quarters} quarters with lags to validate; have {len(periods)}"
        )
    test_p = periods[-test_quarters:]
    train = table[~table["period"].isin(test_p)]
    test = table[table["period"].isin(test_p)]
    feats = [c for c in table.columns if c.startswith("lag")] + [
        "log_pop",
        *[c for c in COVARIATES if c in table.columns],
        "access_index",
    ]
    feats = [f for f in feats if f in table.columns and table[f].notna().any()]
    y_tr, y_te = train["incidents"].to_numpy(float), test["incidents"].to_numpy(float)
    preds = {"naive（上一季）": test["lag1"].to_numpy(float)}
    Xtr = sm.add_constant(_std(train[feats], train[feats]), has_constant="add")
    Xte = sm.add_constant(_std(test[feats], train[feats]), has_constant="add")
    glm, notes = _fit(lambda: sm.GLM(y_tr, Xtr, family=sm.families.Poisson()).fit())
    preds["Poisson GLM"] = glm.predict(Xte)
    gb = HistGradientBoostingRegressor(
        loss="poisson", max_iter=300, learning_rate=0.05, random_state=seed
    )
    _, notes2 = _fit(lambda: gb.fit(train[feats].to_numpy(float), y_tr))
    preds["梯度提升 (Poisson)"] = gb.predict(test[feats].to_numpy(float))
    rows = []
    for name, mu in preds.items():
        rows.append(
            {
                "model": name,
                "mae": float(np.mean(np.abs(y_te - mu))),
                "rmse": float(np.sqrt(np.mean((y_te - mu) ** 2))),
                "poisson_deviance": poisson_deviance(y_te, np.asarray(mu, float)),
            }
        )
    scores = pd.DataFrame(rows)
    scores.attrs["train_quarters"] = [p for p in periods if p not in test_p]
    scores.attrs["test_quarters"] = test_p
    return scores, notes + notes2


def _std(x: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    sd = ref.std().replace(0, 1)
    return (x.astype(float) - ref.mean()) / sd


CASE_OUTCOMES = {
    "incidents_w": ("全部事件", "pop_total"),
    "incidents_ipv_w": ("親密關係暴力", "pop_15plus"),
    "incidents_child_w": ("兒少保護", "pop_0_14"),
    "incidents_elder_w": ("老人虐待", "pop_65plus"),
    "incidents_other_w": ("其他家庭成員暴力", "pop_total"),
}


@dataclass
class RiskResult:
    table: pd.DataFrame  # features + accessibility + blind-spot evidence, one row per village
    models: dict  # outcome -> CountModels
    irr: pd.DataFrame  # all outcomes
    comparison: pd.DataFrame
    scores: pd.DataFrame
    notes: list[str]
    layers: dict  # the facility layers the accessibility measures used, for the maps


def run_risk_models(
    paths,
    w=None,
    blind_alpha: float = 0.2,
    access_quantile: float = 0.75,
    test_quarters: int = 4,
    seed: int = 42,
) -> RiskResult:
    """Accessibility, NB models per case type, blind spots and next-quarter scores for a period; written to disk."""
    from . import accessibility

    feats = pd.read_parquet(paths.village_features)
    layers = accessibility.facilities(paths.settings)
    acc = accessibility.village_accessibility(paths.settings, paths.period, layers=layers)
    acc.to_parquet(paths.accessibility, index=False)
    df = feats.merge(acc.drop(columns=["townname", "villname", "pop_total"]), on="villcode")
    df["log_density"] = np.log(df["density_per_km2"].clip(lower=1))
    terms = tuple(t for t in COVARIATES if df[t].notna().any())
    access = tuple(t for t in ACCESS_TERMS if df[t].notna().any())
    models, irr, comp = {}, [], []
    notes = [
        f"{LABELS_ZH.get(t, t)}: no data for this city, left out of the models"
        for t in COVARIATES
        if t not in terms
    ]
    for outcome, (label, denom) in CASE_OUTCOMES.items():
        df[f"exposure_{outcome}"] = df[denom] * df["window_quarters"]
        cm = fit_count_models(
            df,
            outcome,
            f"exposure_{outcome}",
            terms + access,
            w=w if outcome == "incidents_w" else None,
        )
        models[outcome] = cm
        irr.append(cm.irr.assign(outcome=label))
        comp.append(cm.comparison.assign(outcome=label, residual_moran=cm.residual_moran))
        notes += [f"{label}: {n}" for n in cm.warnings]
    irr_t = pd.concat(irr, ignore_index=True)
    comp_t = pd.concat(comp, ignore_index=True)
    df["exposure"] = df["pop_total"] * df["window_quarters"]
    if access:
        bs, _ = blind_spots(df, "incidents_w", "exposure", blind_alpha, access_quantile, terms)
    else:
        notes.append("no accessibility layer covers this city: blind spots cannot be flagged")
        bs = df[["villcode"]].assign(
            expected=np.nan,
            expected_low90=np.nan,
            expected_high90=np.nan,
            ratio=np.nan,
            p_lower=np.nan,
            blind_spot=False,
        )
    df = df.merge(
        bs[
            [
                "villcode",
                "expected",
                "expected_low90",
                "expected_high90",
                "ratio",
                "p_lower",
                "blind_spot",
            ]
        ],
        on="villcode",
        how="left",
    )
    df["blind_spot"] = df["blind_spot"].fillna(False).astype(bool)
    panel = pd.read_parquet(paths.village_panel)
    static = df[["villcode", *[c for c in terms], "access_index"]]
    try:
        scores, n2 = predict_next_quarter(
            lag_table(panel, static), test_quarters=test_quarters, seed=seed
        )
        notes += n2
    except ValueError as e:
        scores = pd.DataFrame(columns=["model", "mae", "rmse", "poisson_deviance"])
        notes.append(f"prediction not validated: {e}")
    irr_t.to_parquet(paths.risk_factors, index=False)
    df[["villcode", "townname", "villname", "incidents_w", "expected", "expected_low90", "expected_high90", "ratio", "p_lower",
        "access_index", "blind_spot"]].to_parquet(paths.blind_spots, index=False)  # fmt: skip
    scores.to_parquet(paths.prediction_scores, index=False)
    return RiskResult(df, models, irr_t, comp_t, scores, notes, layers)


def irr_sentence(irr: pd.DataFrame, outcome: str = "全部事件") -> str:
    """Plain-language reading of the significant risk factors for staff."""
    t = irr[(irr["outcome"] == outcome) & (irr["term"] != "const") & (irr["p_value"] < 0.05)]
    if t.empty:
        return "在控制人口後，沒有任何背景因素與事件數有明顯關聯。"
    parts = []
    for r in t.itertuples():
        pct = (r.irr_per_sd - 1) * 100
        parts.append(
            f"{r.label}每高一個標準差，事件數約{'多' if pct > 0 else '少'} {abs(pct):.0f}%"
        )
    return "；".join(parts) + "（負二項迴歸，已控制人口）。"


def blind_spot_table(table: pd.DataFrame) -> pd.DataFrame:
    """Flagged villages with their evidence (Chinese headers)."""
    t = table[table["blind_spot"]].sort_values("p_lower")
    return pd.DataFrame(
        {
            "行政區": t["townname"],
            "里": t["villname"],
            "近期事件": t["incidents_w"].astype(int),
            "模型期望": t["expected"].round(1),
            "90% 區間": [
                f"{lo:.0f}–{hi:.0f}"
                for lo, hi in zip(t["expected_low90"], t["expected_high90"], strict=True)
            ],
            "觀察/期望": t["ratio"].round(2),
            "不便指數": t["access_index"].round(2),
            "最近捷運站（公尺）": t["dist_metro_station_m"].round(0),
            "500 公尺內有公車站的面積比例": t["bus_coverage_500m"].round(2),
            "最近家庭服務中心（公尺）": t["dist_family_service_m"].round(0),
        }
    )
