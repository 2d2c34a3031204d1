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
    """Standardised covariates with a constant (for reading IRRs per SD).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per area with the columns ``terms``.
    terms : tuple of str
        Covariates.

    Returns
    -------
    tuple
        ``X`` (constant and standardised covariates), the means and the SDs used (an SD
        of 0 counts as 1).
    """
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
    """Fit Poisson and NB2 for ``outcome`` with ``log(exposure)`` offset; rows with missing
    values are dropped (counted in the warnings).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per area with ``outcome``, ``exposure`` and ``terms``.
    outcome : str
        Count column.
    exposure : str
        Person-time column (its log is the offset).
    terms : tuple of str
        Covariates, standardised before the fit (:func:`design`).
    w : libpysal.weights.W, optional
        Weights in the order of ``df``: Moran's I of the NB model's residuals.

    Returns
    -------
    CountModels
        Both fits, the IRR table per SD, the AIC comparison, the residual Moran's I and
        the fits' warnings.
    """
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
            "model": ["poisson", "nb2"],
            "aic": [pois.aic, nb.aic],
            "dispersion": [pearson.sum() / pois.df_resid, float(nb.params["alpha"])],
            "n": [len(y), len(y)],
        }
    )
    moran = None
    if w is not None and len(data) == len(df):
        from dv_analysis.stats.detection.autocorrelation import global_moran

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
    """Central predictive interval of NB2 counts with mean ``mu`` and dispersion ``alpha``.

    Parameters
    ----------
    mu : numpy.ndarray
        Expected counts.
    alpha : float
        NB2 dispersion (variance ``mu + alpha·mu²``).
    level : float, default 0.9
        Coverage of the interval.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper limits (counts).
    """
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

    Parameters
    ----------
    df : pandas.DataFrame
        One row per village: the outcome, the exposure, the covariates and ``access_index``.
    outcome : str
        Column of observed counts.
    exposure : str
        Column of the exposure (person-quarters), the model's offset.
    alpha : float
        Lower-tail probability under which a village has too few reports.
    access_quantile : float
        Quantile of the access index from which a village counts as hard to reach.
    terms : tuple of str
        Covariates of the model.

    Returns
    -------
    tuple
        ``(table, models)``: the modelled rows of ``df`` (complete, positive exposure) with
        ``expected``, ``expected_low90``, ``expected_high90``, ``ratio``, ``p_lower`` and
        ``blind_spot`` added, and the fitted :class:`CountModels`.
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
    """Per village and quarter: the count, its previous ``lags`` quarters and static covariates.

    Parameters
    ----------
    panel : pandas.DataFrame
        ``villcode``, ``period``, ``incidents``, ``pop_total`` per village and quarter.
    static : pandas.DataFrame
        ``villcode`` and covariates that do not change over the quarters.
    lags : int, default 4
        Previous quarters kept as ``lag1`` … ``lag{lags}``.

    Returns
    -------
    pandas.DataFrame
        The panel with the lags, ``log_pop`` and the static covariates; rows without every
        lag (the first ``lags`` quarters of each village) are dropped.
    """
    p = panel.sort_values(["villcode", "period"]).copy()
    for k in range(1, lags + 1):
        p[f"lag{k}"] = p.groupby("villcode")["incidents"].shift(k)
    p["log_pop"] = np.log(p["pop_total"].clip(lower=1))
    p = p.merge(static, on="villcode", how="left")
    return p.dropna(subset=[f"lag{k}" for k in range(1, lags + 1)])


def poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """Mean Poisson deviance of counts ``y`` against predictions ``mu`` (as scikit-learn's
    ``mean_poisson_deviance``; ``mu`` floored at 1e-9).

    Parameters
    ----------
    y : numpy.ndarray
        Observed counts.
    mu : numpy.ndarray
        Predicted means.

    Returns
    -------
    float
        ``2 · mean(y log(y/mu) − (y − mu))``, 0 for a perfect prediction.

    Examples
    --------
    >>> poisson_deviance(np.array([0.0, 2.0]), np.array([0.0, 2.0])) < 1e-8
    True
    """
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
    every score. A covariate missing for some villages (a layer that covers some cities
    only, as for all of Taiwan) is left out of both models, and a note says so: the
    prediction is of every village, and the GLM cannot take a missing value.

    Parameters
    ----------
    table : pandas.DataFrame
        The village panel: one row per village and quarter with counts, lags and covariates.
    test_quarters : int
        The last quarters held out for testing.
    seed : int
        Seed of the gradient boosting.

    Returns
    -------
    tuple
        ``(scores, notes)``: one row per model (naive, glm, gbm) with ``mae``, ``rmse`` and
        ``poisson_deviance`` (train and test quarters in ``attrs``), and notes on
        covariates left out and on fits that warned.
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
    partial = [f for f in feats if table[f].isna().any()]
    feats = [f for f in feats if f not in partial]
    left_out = [
        f"{f}: missing for {table.drop_duplicates('villcode')[f].isna().sum()} villages,"
        " left out of the next-quarter prediction"
        for f in partial
    ]
    y_tr, y_te = train["incidents"].to_numpy(float), test["incidents"].to_numpy(float)
    preds = {"naive": test["lag1"].to_numpy(float)}
    Xtr = sm.add_constant(_std(train[feats], train[feats]), has_constant="add")
    Xte = sm.add_constant(_std(test[feats], train[feats]), has_constant="add")
    glm, notes = _fit(lambda: sm.GLM(y_tr, Xtr, family=sm.families.Poisson()).fit())
    preds["poisson_glm"] = glm.predict(Xte)
    gb = HistGradientBoostingRegressor(
        loss="poisson", max_iter=300, learning_rate=0.05, random_state=seed
    )
    _, notes2 = _fit(lambda: gb.fit(train[feats].to_numpy(float), y_tr))
    preds["gbm"] = gb.predict(test[feats].to_numpy(float))
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
    return scores, left_out + notes + notes2


def gbm_next_counts(
    counts: np.ndarray, log_pop: np.ndarray, lags: int = 4, seed: int = 42
) -> np.ndarray | None:
    """Gradient-boosting prediction of every area's count in the quarter after the last.

    A ``HistGradientBoostingRegressor`` with Poisson loss (scikit-learn) is trained on every
    quarter that has ``lags`` earlier quarters: features are the area's counts in those
    quarters and its log population; the target is the quarter's count. The prediction for
    the next quarter uses the last ``lags`` quarters. With a short history the number of
    lags shrinks so that at least two quarters train the model.

    Parameters
    ----------
    counts : numpy.ndarray
        ``(T, n)`` counts of consecutive quarters (oldest first) and ``n`` areas.
    log_pop : numpy.ndarray
        ``(T, n)`` log population of the same quarters and areas.
    lags : int
        Earlier quarters used as features (at most).
    seed : int
        Seed of the model (no early stopping, so the fit is deterministic).

    Returns
    -------
    numpy.ndarray or None
        Predicted counts of the next quarter per area; None with fewer than three quarters.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    counts = np.asarray(counts, float)
    log_pop = np.asarray(log_pop, float)
    t_len = counts.shape[0]
    lags = min(lags, t_len - 2)
    if lags < 1:
        return None

    def features(t: int) -> np.ndarray:  # quarter t's features: quarters t-1 … t-lags
        return np.column_stack([*(counts[t - k] for k in range(1, lags + 1)), log_pop[t - 1]])

    x = np.vstack([features(t) for t in range(lags, t_len)])
    y = np.concatenate([counts[t] for t in range(lags, t_len)])
    model = HistGradientBoostingRegressor(
        loss="poisson", max_iter=200, learning_rate=0.05, early_stopping=False, random_state=seed
    )
    model.fit(x, y)
    return model.predict(features(t_len))


def _std(x: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    sd = ref.std().replace(0, 1)
    return (x.astype(float) - ref.mean()) / sd
