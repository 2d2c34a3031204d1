"""Rates of small areas: person-quarters at risk, raw, empirical-Bayes and spatial-EB rates.

The global EB rate is our own (Marshall 1991, method of moments) because
``esda.smoothing.Empirical_Bayes`` does not truncate a negative prior variance at zero
(under-dispersed counts then get weights below 0 or above 1 and smoothed rates outside
the data's range) and divides by zero for areas without population;
``tests/stats/test_rates.py`` shows both. Where the prior variance is positive and every
area has people, the two agree (tested).
"""

from __future__ import annotations

import esda
import libpysal
import numpy as np
import pandas as pd

from dv_analysis.stats.weights import transformed


def person_quarters(population, quarters) -> np.ndarray:
    """Person-quarters at risk: residents × the quarters the counts cover.

    The one denominator of every window rate, Gi*, scan and model offset: a count over a
    four-quarter window is compared with four quarters of the population.

    Parameters
    ----------
    population : array-like
        Residents per area (missing counts as 0).
    quarters : array-like or int
        Quarters of data behind each area's count.

    Returns
    -------
    numpy.ndarray
        Float array of person-quarters.

    Examples
    --------
    >>> person_quarters([1000, 0, None], 4).tolist()
    [4000.0, 0.0, 0.0]
    """
    pop = pd.to_numeric(pd.Series(np.asarray(population, dtype=object)), errors="coerce")
    return pop.fillna(0).to_numpy(float) * np.asarray(quarters, float)


def eb_moments(events, population) -> tuple[float, float]:
    """Marshall's method-of-moments prior for global empirical Bayes.

    Parameters
    ----------
    events, population : array-like
        Counts and populations at risk per area.

    Returns
    -------
    b : float
        Prior mean, ``Σy / Σn``.
    a : float
        Prior variance, ``Σ n_i (r_i − b)² / Σn − b / mean(n)`` (not truncated here).
    """
    y = np.asarray(events, float)
    n = np.asarray(population, float)
    b = y.sum() / n.sum()
    r = np.divide(y, n, out=np.zeros_like(y), where=n > 0)
    a = (n * (r - b) ** 2).sum() / n.sum() - b / n.mean()
    return float(b), float(a)


def eb_rate(events, population) -> np.ndarray:
    """Global empirical-Bayes smoothed rates: small populations shrink towards the mean.

    Parameters
    ----------
    events, population : array-like
        Counts and populations at risk per area; areas without population get the mean.

    Returns
    -------
    numpy.ndarray
        Smoothed rates (events per unit of population).

    Examples
    --------
    A small area with no events moves most of the way to the mean, large areas little:

    >>> eb_rate([0, 20, 60], [50, 1000, 1000]).round(4).tolist()
    [0.0264, 0.0218, 0.058]

    When the rates vary no more than Poisson noise alone would (prior variance ≤ 0),
    every area gets the mean:

    >>> eb_rate([0, 10], [10, 1000]).round(4).tolist()
    [0.0099, 0.0099]
    """
    y = np.asarray(events, float)
    n = np.asarray(population, float)
    b, a = eb_moments(y, n)
    a = max(a, 0.0)
    r = np.divide(y, n, out=np.full_like(y, b), where=n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(n > 0, a / (a + b / n), 0.0)
    return shrink * r + (1 - shrink) * b


def spatial_eb_rate(events, population, w: libpysal.weights.W) -> np.ndarray:
    """Spatial empirical-Bayes rates: each area shrinks towards its neighbourhood's rate (esda).

    Parameters
    ----------
    events, population : array-like
        Counts and populations at risk per area.
    w : libpysal.weights.W
        Spatial weights in the order of the arrays.

    Returns
    -------
    numpy.ndarray
        Smoothed rates; NaN where the population is not positive.
    """
    y = np.asarray(events, float).reshape(-1, 1)
    n = np.asarray(population, float).reshape(-1, 1)
    n = np.where(n > 0, n, np.nan)
    # a neighbourhood without any event has zero mean and variance: esda divides 0 by 0 there,
    # and the smoothed rate of such an area is the neighbourhood's rate, zero
    with np.errstate(invalid="ignore", divide="ignore"):
        # esda sets transforms on the weights it is given: it gets a copy
        sebr = esda.smoothing.Spatial_Empirical_Bayes(
            y, np.nan_to_num(n, nan=1.0), transformed(w, "o")
        )
    out = np.nan_to_num(np.asarray(sebr.r, float).ravel(), nan=0.0)
    return np.where(np.isfinite(n.ravel()), out, np.nan)


def rates_table(events, population, w: libpysal.weights.W, per: float = 1000.0) -> pd.DataFrame:
    """Raw, global-EB and spatial-EB rates per ``per`` units of population.

    Parameters
    ----------
    events, population : array-like
        Counts and populations (or person-quarters) at risk per area.
    w : libpysal.weights.W
        Spatial weights for the spatial EB rate.
    per : float
        Rate multiplier (1,000: per thousand).

    Returns
    -------
    pandas.DataFrame
        Columns ``rate_raw``, ``rate_eb``, ``rate_seb``, one row per area.
    """
    y = np.asarray(events, float)
    n = np.asarray(population, float)
    raw = np.divide(y, n, out=np.full_like(y, np.nan), where=n > 0)
    return pd.DataFrame(
        {
            "rate_raw": raw * per,
            "rate_eb": eb_rate(y, n) * per,
            "rate_seb": spatial_eb_rate(y, n, w) * per,
        }
    )


def poisson_ratio_interval(observed, expected, level: float = 0.9):
    """Exact (Garwood) interval of an observed/expected ratio with Poisson counts.

    Parameters
    ----------
    observed : array-like
        Observed counts.
    expected : array-like
        Expected counts (positive).
    level : float
        Coverage of the two-sided interval.

    Returns
    -------
    tuple of numpy.ndarray
        Ratio, lower and upper limit (lower 0 when nothing was observed).

    Examples
    --------
    >>> r, lo, hi = poisson_ratio_interval([10], [5.0])
    >>> round(float(r[0]), 2), round(float(lo[0]), 2), round(float(hi[0]), 2)
    (2.0, 1.09, 3.39)
    """
    from scipy.stats import chi2

    o = np.asarray(observed, float)
    e = np.asarray(expected, float)
    a = (1 - level) / 2
    lo = np.where(o > 0, chi2.ppf(a, 2 * o) / 2, 0.0)
    hi = chi2.ppf(1 - a, 2 * (o + 1)) / 2
    return o / e, lo / e, hi / e
