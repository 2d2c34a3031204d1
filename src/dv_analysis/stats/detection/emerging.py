"""Trends and emerging hot and cold spots over a panel of Gi* results.

The categories follow ESRI's Emerging Hot Spot Analysis (rules in ``docs/hotspots.md``);
the trend is the Mann–Kendall test of ``pymannkendall`` on each area's Gi* z-scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymannkendall

#: The kinds of pattern, in the order pages list them.
EMERGING_KINDS = (
    "new",
    "consecutive",
    "intensifying",
    "persistent",
    "diminishing",
    "sporadic",
    "oscillating",
    "historical",
)
#: Every value of ``category``: hot patterns, cold patterns, then ``no pattern``.
EMERGING_CATEGORIES: tuple[str, ...] = (
    *(f"{k} hot spot" for k in EMERGING_KINDS),
    *(f"{k} cold spot" for k in EMERGING_KINDS),
    "no pattern",
)


def mann_kendall(x) -> tuple[float, float, float]:
    """Mann–Kendall trend test with the tie-corrected variance (``pymannkendall.original_test``).

    Parameters
    ----------
    x : array-like
        A series in time order; non-finite values are skipped.

    Returns
    -------
    s : float
        Kendall's S.
    z : float
        Normal score (continuity-corrected).
    p : float
        Two-sided p-value. Fewer than three values, or a constant series, give
        ``(S, 0, 1)``: no trend can be shown.

    Examples
    --------
    >>> s, z, p = mann_kendall([1, 2, 3, 4, 5, 6])
    >>> s, round(z, 3), round(p, 4)
    (15.0, 2.63, 0.0085)
    """
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if len(x) < 3:
        return 0.0, 0.0, 1.0
    res = pymannkendall.original_test(x)
    if not res.var_s > 0:
        return float(res.s), 0.0, 1.0
    return float(res.s), float(res.z), float(res.p)


def _trailing_run(sig: np.ndarray) -> int:
    """How many of the last periods in a row are significant."""
    run = 0
    for v in sig[::-1]:
        if not v:
            break
        run += 1
    return run


def _pattern(sig: np.ndarray, other: np.ndarray, up: bool, down: bool) -> str:
    """The kind of pattern of one sign, from where it was significant (rules in docs/hotspots.md)."""
    n = len(sig)
    last, share, run = sig[-1], sig.mean(), _trailing_run(sig)
    if last and sig.sum() == 1:
        return "new"
    if last and run == sig.sum() and run < n * 0.9:
        return "consecutive"
    if share >= 0.9 and last:
        return "intensifying" if up else "diminishing" if down else "persistent"
    if other.any() and last:
        return "oscillating"
    if last:
        return "sporadic"
    if share >= 0.9 * (n - 1) / n:
        return "historical"
    return "sporadic" if sig[-max(2, n // 4) :].any() else "historical"


def classify_emerging(bins, trend_z: float, trend_p: float, alpha: float = 0.10) -> str:
    """Category of one area from its Gi* bins over time and the trend of its z-scores.

    Parameters
    ----------
    bins : array-like
        Gi* bins (−3…3), oldest first.
    trend_z, trend_p : float
        Mann–Kendall z and p of the area's Gi* z-scores.
    alpha : float
        Level at which the trend counts as intensifying or diminishing.

    Returns
    -------
    str
        One of :data:`EMERGING_CATEGORIES`, e.g. ``new hot spot``.

    Examples
    --------
    >>> classify_emerging([0, 0, 0, 2], 1.5, 0.2)
    'new hot spot'
    """
    b = np.asarray(bins, int)
    for sign, word in ((1, "hot"), (-1, "cold")):
        sig = (np.sign(b) == sign) & (b != 0)
        other = (np.sign(b) == -sign) & (b != 0)
        if not sig.any() or sig.sum() < (other.sum() if other.any() else 0):
            continue
        up = trend_p < alpha and np.sign(trend_z) == sign  # getting hotter (colder)
        down = trend_p < alpha and np.sign(trend_z) == -sign
        return f"{_pattern(sig, other, up, down)} {word} spot"
    return "no pattern"


def mann_kendall_rows(x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`mann_kendall` of every row of a matrix at once (the same numbers as
    ``pymannkendall.original_test`` row by row, which took 16 s for Taiwan's 7,701 villages).

    Parameters
    ----------
    x : array-like, shape (areas, periods)
        Series in time order; non-finite values are skipped.

    Returns
    -------
    tuple of numpy.ndarray
        S, z and the two-sided p-value of each row (``(S, 0, 1)`` where no trend can be
        shown, as :func:`mann_kendall`).
    """
    from scipy.stats import norm

    x = np.asarray(x, float)
    ok = np.isfinite(x)
    n = ok.sum(1)
    k, j = np.triu_indices(x.shape[1], 1)  # every pair of periods k < j
    both = ok[:, k] & ok[:, j]
    diff = np.where(both, x[:, j] - x[:, k], 0.0)
    s = (np.sign(diff)).sum(1)
    var = n * (n - 1) * (2 * n + 5) / 18.0
    for i in np.flatnonzero((diff == 0).any(1) & both.any(1)):  # rows with ties: few
        _, t = np.unique(x[i, ok[i]], return_counts=True)
        var[i] -= (t * (t - 1) * (2 * t + 5)).sum() / 18.0
    valid = (n >= 3) & (var > 0)
    safe = np.where(valid, var, 1.0)
    z = np.where(valid, (s - np.sign(s)) / np.sqrt(safe), 0.0)
    p = np.where(valid, 2 * (1 - norm.cdf(np.abs(z))), 1.0)
    return np.where(n >= 3, s, 0.0).astype(float), z, p


def emerging_hotspots(
    panel: pd.DataFrame, id_col: str = "id", period_col: str = "period"
) -> pd.DataFrame:
    """Classify every area from a panel of Gi* results.

    Parameters
    ----------
    panel : pandas.DataFrame
        One row per area and period with ``gi_z`` and ``gi_bin``.
    id_col, period_col : str
        Columns naming the area and the period (periods sort in time order).

    Returns
    -------
    pandas.DataFrame
        ``id_col, n_periods, n_hot, n_cold, trend_s, trend_z, trend_p, category``.
    """
    z_grid = panel.pivot(index=id_col, columns=period_col, values="gi_z").sort_index(axis=1)
    bins = panel.pivot(index=id_col, columns=period_col, values="gi_bin").sort_index(axis=1)
    present = bins.notna().to_numpy()  # a row for the area and period (gi_bin is never NaN)
    s, z, p = mann_kendall_rows(z_grid.to_numpy(float))
    b = bins.to_numpy(float)
    cats = [classify_emerging(b[i][present[i]].astype(int), z[i], p[i]) for i in range(len(b))]
    b = np.where(present, b, 0)
    return pd.DataFrame(
        {
            id_col: z_grid.index.to_numpy(),
            "n_periods": present.sum(1),
            "n_hot": (b > 0).sum(1),
            "n_cold": (b < 0).sum(1),
            "trend_s": s,
            "trend_z": z,
            "trend_p": p,
            "category": cats,
        }
    )
