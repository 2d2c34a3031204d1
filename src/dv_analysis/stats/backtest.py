"""Scores of a ranking of areas against what happened next: hit rate and the PAI.

The hit rate of the top ``k`` areas is the share of the next period's events that fell in
them; the Predictive Accuracy Index (Chainey, Tompson & Uhlig 2008) divides it by the
share of the study area they cover, so a ranking that picks large areas gains nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def top_k(scores, k: int) -> np.ndarray:
    """Indices of the ``k`` highest scores (ties broken by position, NaN last).

    Parameters
    ----------
    scores : array-like
        One score per area; higher means "visit first".
    k : int
        How many.

    Returns
    -------
    numpy.ndarray
        Positions of the chosen areas, best first.
    """
    s = np.asarray(scores, float)
    s = np.where(np.isfinite(s), s, -np.inf)
    return np.argsort(-s, kind="stable")[:k]


def hit_rate(scores, outcome, k: int) -> float:
    """Share of the outcome's total that falls in the top ``k`` areas by score.

    Parameters
    ----------
    scores : array-like
        Ranking scores per area.
    outcome : array-like
        Events per area in the period scored.
    k : int
        Areas chosen.

    Returns
    -------
    float
        Between 0 and 1 (NaN when the outcome total is 0).
    """
    y = np.asarray(outcome, float)
    total = y.sum()
    return float(y[top_k(scores, k)].sum() / total) if total > 0 else float("nan")


def pai(scores, outcome, area, k: int) -> float:
    """Predictive Accuracy Index of the top ``k``: hit rate / share of the area covered.

    Parameters
    ----------
    scores, outcome : array-like
        As :func:`hit_rate`.
    area : array-like
        Area (any unit) of each area.
    k : int
        Areas chosen.

    Returns
    -------
    float
        1 is no better than chance per unit of area; higher is better.
    """
    a = np.asarray(area, float)
    share = a[top_k(scores, k)].sum() / a.sum()
    return hit_rate(scores, outcome, k) / share if share > 0 else float("nan")


def score_rankings(rankings: dict, outcome, area, ks=(10, 20, 50)) -> pd.DataFrame:
    """Hit rate and PAI of several rankings at several ``k``.

    Parameters
    ----------
    rankings : dict
        Name → scores per area.
    outcome, area : array-like
        As :func:`pai`.
    ks : sequence of int
        Sizes of the top lists.

    Returns
    -------
    pandas.DataFrame
        Columns ``ranking``, ``k``, ``hit_rate``, ``pai``.
    """
    rows = [
        {
            "ranking": name,
            "k": k,
            "hit_rate": hit_rate(s, outcome, k),
            "pai": pai(s, outcome, area, k),
        }
        for name, s in rankings.items()
        for k in ks
    ]
    return pd.DataFrame(rows)


def compare(backtest: pd.DataFrame, k: int, baseline: str) -> pd.DataFrame:
    """Mean hit rate per ranking at ``k`` over the origins, with its spread and the margin
    over ``baseline`` (mean and standard deviation of the per-origin differences).

    Parameters
    ----------
    backtest : pandas.DataFrame
        Rows ``origin``, ``ranking``, ``k``, ``hit_rate`` (and ``pai``).
    k : int
        The list size compared.
    baseline : str
        The ranking the others are compared with.

    Returns
    -------
    pandas.DataFrame
        One row per ranking, best first: ``hit_rate``, ``hit_rate_sd``, ``pai``,
        ``margin``, ``margin_sd``, ``wins`` (origins where it beat the baseline), ``origins``.
    """
    b = backtest[backtest["k"] == k]
    wide = b.pivot(index="origin", columns="ranking", values="hit_rate")
    diff = wide.sub(wide[baseline], axis=0)
    out = pd.DataFrame(
        {
            "hit_rate": wide.mean(),
            "hit_rate_sd": wide.std(ddof=1),
            "pai": b.groupby("ranking")["pai"].mean(),
            "margin": diff.mean(),
            "margin_sd": diff.std(ddof=1),
            "wins": (diff > 0).sum(),
            "origins": wide.notna().sum(),
        }
    )
    return out.sort_values("hit_rate", ascending=False).rename_axis("ranking").reset_index()
