"""The centre's quarterly indicators (KPIs) with their intervals, from incident and
notification tables: re-notification, repeat victims, days from incident to notification,
channel mix, share opened as a case, victims by sex and age band (``docs/kpi.md``).

Intervals are computed by the libraries: shares by Wilson's score interval
(``statsmodels.stats.proportion.proportion_confint``), means by Student's t
(``statsmodels.stats.weightstats.DescrStatsW.tconfint_mean``) and medians by a percentile
bootstrap (``scipy.stats.bootstrap``, seeded). Every interval is 90 % unless asked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "KPI_COLUMNS",
    "mean_interval",
    "median_interval",
    "proportion_interval",
    "renotified",
    "share_rows",
    "shares_table",
    "summary_rows",
]

#: Columns of a KPI table: one row per level, area, period and indicator.
KPI_COLUMNS = ("level", "area", "period", "kpi", "value", "low", "high", "n")


def proportion_interval(count, nobs, alpha: float = 0.1):
    """Shares with Wilson's score interval (statsmodels' ``proportion_confint``).

    Parameters
    ----------
    count, nobs : array_like
        Successes and trials; a share of no trials is NaN.
    alpha : float
        1 − the interval's coverage.

    Returns
    -------
    tuple of numpy.ndarray
        The share, its low and high limits.

    Examples
    --------
    >>> v, lo, hi = proportion_interval([30], [100], alpha=0.05)
    >>> round(float(v[0]), 2), round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.3, 0.2189, 0.3958)
    """
    from statsmodels.stats.proportion import proportion_confint

    count, nobs = np.asarray(count, float), np.asarray(nobs, float)
    ok = nobs > 0
    value = np.full(count.shape, np.nan)
    low, high = value.copy(), value.copy()
    if ok.any():
        value[ok] = count[ok] / nobs[ok]
        low[ok], high[ok] = proportion_confint(count[ok], nobs[ok], alpha=alpha, method="wilson")
    return value, low, high


def mean_interval(x, alpha: float = 0.1) -> tuple[float, float, float]:
    """Mean with Student's t interval (statsmodels' ``DescrStatsW.tconfint_mean``).

    Parameters
    ----------
    x : array_like
        Values; NaN are left out.
    alpha : float
        1 − the interval's coverage.

    Returns
    -------
    tuple of float
        Mean, low, high (NaN with fewer than two values).

    Examples
    --------
    >>> [round(v, 3) for v in mean_interval([1.0, 2.0, 3.0, 4.0], alpha=0.05)]
    [2.5, 0.446, 4.554]
    """
    from statsmodels.stats.weightstats import DescrStatsW

    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return (float(x.mean()) if len(x) else np.nan), np.nan, np.nan
    low, high = DescrStatsW(x).tconfint_mean(alpha=alpha)
    return float(x.mean()), float(low), float(high)


def median_interval(
    x, alpha: float = 0.1, resamples: int = 999, seed: int = 0
) -> tuple[float, float, float]:
    """Median with a percentile bootstrap interval (``scipy.stats.bootstrap``).

    Parameters
    ----------
    x : array_like
        Values; NaN are left out.
    alpha : float
        1 − the interval's coverage.
    resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the resamples (same values and seed, same interval).

    Returns
    -------
    tuple of float
        Median, low, high (NaN limits with fewer than two distinct values' worth of data).

    Examples
    --------
    >>> m, lo, hi = median_interval(np.arange(101.0))
    >>> m, lo < 50 < hi
    (50.0, True)
    """
    from scipy.stats import bootstrap

    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return (float(np.median(x)) if len(x) else np.nan), np.nan, np.nan
    if np.all(x == x[0]):
        return float(x[0]), float(x[0]), float(x[0])
    res = bootstrap(
        (x,),
        np.median,
        confidence_level=1 - alpha,
        n_resamples=resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    ci = res.confidence_interval
    return float(np.median(x)), float(ci.low), float(ci.high)


def renotified(
    current: pd.DataFrame, earlier: pd.DataFrame, within_days: int, gap_days: int
) -> pd.Series:
    """Whether each victim of the quarter was notified again within ``within_days`` of an
    earlier notification.

    An incident of the quarter is a re-notification when the same victim key has an earlier
    notification (of another incident, of any case type) more than ``gap_days`` and at most
    ``within_days`` days before the incident's first notification. Notifications within
    ``gap_days`` are the same event reported again (the incidents' own window), not a new one.
    The earlier notification is the last of an earlier incident that ended more than
    ``gap_days`` before, or else its first.

    Parameters
    ----------
    current : pandas.DataFrame
        The quarter's incidents: ``incident_id``, ``victim_key`` ("" when unknown),
        ``first_notified``.
    earlier : pandas.DataFrame
        Every incident that may precede them (the quarter's own included): ``incident_id``,
        ``victim_key``, ``first_notified``, ``last_notified``.
    within_days, gap_days : int
        The window and the gap, in days.

    Returns
    -------
    pandas.Series
        Boolean per victim key of ``current`` (victims without a key are left out).

    Examples
    --------
    >>> d = pd.to_datetime
    >>> cur = pd.DataFrame({"incident_id": ["b"], "victim_key": ["v"],
    ...                     "first_notified": d(["2020-05-01"])})
    >>> old = pd.DataFrame({"incident_id": ["a", "b"], "victim_key": ["v", "v"],
    ...                     "first_notified": d(["2020-03-01", "2020-05-01"]),
    ...                     "last_notified": d(["2020-03-02", "2020-05-01"])})
    >>> renotified(cur, old, 90, 14).to_dict()
    {'v': True}
    """
    cur = current.loc[current["victim_key"] != "", ["incident_id", "victim_key", "first_notified"]]
    old = earlier.loc[
        earlier["victim_key"] != "",
        ["incident_id", "victim_key", "first_notified", "last_notified"],
    ]
    pairs = cur.merge(old, on="victim_key", suffixes=("", "_e"))
    pairs = pairs[
        (pairs["incident_id"] != pairs["incident_id_e"])
        & (pairs["first_notified_e"] < pairs["first_notified"])
    ]
    cutoff = pairs["first_notified"] - pd.Timedelta(days=gap_days)
    prior = pairs["last_notified"].where(pairs["last_notified"] < cutoff, pairs["first_notified_e"])
    gap = (pairs["first_notified"] - prior).dt.days
    hit = pairs.loc[(gap > gap_days) & (gap <= within_days), "victim_key"]
    victims = pd.Index(cur["victim_key"].unique())
    return pd.Series(victims.isin(hit.unique()), index=victims, name="renotified")


def share_rows(
    flags: pd.Series, areas: pd.Series, kpi: str, period: str, alpha: float = 0.1
) -> pd.DataFrame:
    """A share per area and for the city, with Wilson intervals, as KPI rows.

    Parameters
    ----------
    flags : pandas.Series
        Boolean per unit counted (victim, incident, notification); NaN are left out.
    areas : pandas.Series
        The district of each, aligned with ``flags``.
    kpi, period : str
        Names written in the rows.
    alpha : float
        1 − the interval's coverage.

    Returns
    -------
    pandas.DataFrame
        :data:`KPI_COLUMNS`, the city first, then the districts in order.

    Examples
    --------
    >>> f = pd.Series([True, False, True, True])
    >>> a = pd.Series(["A", "A", "B", "B"])
    >>> share_rows(f, a, "x", "2020Q4")[["area", "value", "n"]].values.tolist()
    [['city', 0.75, 4], ['A', 0.5, 2], ['B', 1.0, 2]]
    """
    long = pd.DataFrame(
        {"kpi": kpi, "area": np.asarray(areas, dtype=object), "flag": np.asarray(flags)}
    )
    return shares_table(long, period, alpha)


def shares_table(long: pd.DataFrame, period: str, alpha: float = 0.1) -> pd.DataFrame:
    """Several shares at once (one row per unit counted: ``kpi``, ``area``, ``flag``), per
    area and for the city, with Wilson intervals, as KPI rows (see :func:`share_rows`).

    Parameters
    ----------
    long : pandas.DataFrame
        ``kpi``, ``area`` and ``flag`` (boolean; NaN are left out).
    period : str
        Written in the rows.
    alpha : float
        1 − the interval's coverage.

    Returns
    -------
    pandas.DataFrame
        :data:`KPI_COLUMNS`; per KPI in order of appearance, the city first, then the
        districts in order.

    Examples
    --------
    >>> long = pd.DataFrame({"kpi": ["a", "a", "b"], "area": ["X", "Y", "X"],
    ...                      "flag": [True, False, None]})
    >>> shares_table(long, "2020Q4")[["kpi", "area", "n"]].values.tolist()
    [['a', 'city', 2], ['a', 'X', 1], ['a', 'Y', 1], ['b', 'city', 0]]
    """
    flag = long["flag"]
    ok = flag.notna().to_numpy()
    f = np.where(ok, flag.fillna(False).to_numpy(bool), False).astype(np.int64)
    frame = pd.DataFrame(
        {"kpi": long["kpi"].to_numpy(), "area": long["area"].astype(str).to_numpy(),
         "k": f, "n": ok.astype(np.int64)}
    )  # fmt: skip
    order = pd.unique(frame["kpi"])
    city = frame.groupby("kpi", sort=False)[["k", "n"]].sum().reindex(order)
    city = city.assign(area="city", level="city", rank=0)
    by = frame[ok].groupby(["kpi", "area"], sort=True)[["k", "n"]].sum().reset_index("area")
    by = by.assign(level="district", rank=1)
    out = pd.concat([city.reset_index(), by.reset_index()], ignore_index=True)
    out["kpi_order"] = out["kpi"].map({k: i for i, k in enumerate(order)})
    out = out.sort_values(["kpi_order", "rank", "area"], kind="stable", ignore_index=True)
    value, low, high = proportion_interval(out["k"], out["n"], alpha)
    out = out.assign(period=period, value=value, low=low, high=high)
    return out[list(KPI_COLUMNS)].astype({"n": np.int64})


def summary_rows(
    values: pd.Series, areas: pd.Series, kpi: str, period: str, how: str, alpha: float = 0.1,
    seed: int = 0,
) -> pd.DataFrame:  # fmt: skip
    """A mean (t interval) or median (bootstrap interval) per area and for the city.

    Parameters
    ----------
    values : pandas.Series
        One number per unit counted; NaN are left out.
    areas : pandas.Series
        The district of each, aligned with ``values``.
    kpi, period : str
        Names written in the rows.
    how : {"mean", "median"}
        The summary and its interval (:func:`mean_interval`, :func:`median_interval`).
    alpha : float
        1 − the interval's coverage.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        :data:`KPI_COLUMNS`, the city first.

    Examples
    --------
    >>> v = pd.Series([1.0, 3.0, 5.0, 7.0])
    >>> summary_rows(v, pd.Series(list("AABB")), "d", "2020Q4", "mean")["value"].tolist()
    [4.0, 2.0, 6.0]
    """
    if how not in ("mean", "median"):
        raise ValueError(f"how must be 'mean' or 'median', not {how!r}")
    ok = values.notna()
    v, a = values[ok].to_numpy(float), areas[ok].astype(str).to_numpy()
    groups = [("city", "city", v)] + [
        ("district", name, v[a == name]) for name in sorted(set(a.tolist()))
    ]
    rows = []
    for level, name, x in groups:
        est = mean_interval(x, alpha) if how == "mean" else median_interval(x, alpha, seed=seed)
        rows.append((level, name, period, kpi, *est, len(x)))
    out = pd.DataFrame(rows, columns=list(KPI_COLUMNS))
    return out.astype({"n": np.int64})
