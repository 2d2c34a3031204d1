"""Scores of a ranking of areas against what happened next, and a nested choice among them.

The hit rate of the top ``k`` areas is the share of the next period's events that fell in
them; the Predictive Accuracy Index (Chainey, Tompson & Uhlig 2008) divides it by the
share of the study area (here: of the people) they cover, so a ranking that picks large
areas gains nothing; the Predictive Efficiency Index (Hunt 2016) divides it by the best
hit rate any ``k`` areas had; the excess capture is the same for the events above what the
city's rate gives. :func:`nested_selection` chooses a default on earlier origins and
scores it on later ones, with moving-block bootstrap intervals of paired differences.
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
        Size of each area: land area, or its population (PAI by population).
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


def pei(scores, outcome, k: int) -> float:
    """Predictive Efficiency Index (Hunt 2016): the hit rate of the top ``k`` against the
    best hit rate any ``k`` areas could have had.

    Parameters
    ----------
    scores, outcome : array-like
        As :func:`hit_rate`.
    k : int
        Areas chosen.

    Returns
    -------
    float
        Between 0 and 1 (NaN when nothing happened).
    """
    y = np.asarray(outcome, float)
    best = np.sort(y)[::-1][:k].sum()
    return float(y[top_k(scores, k)].sum() / best) if best > 0 else float("nan")


def excess_capture(scores, outcome, expected, k: int) -> float:
    """Share of the observed excess (outcome − expected) that the top ``k`` hold, against
    the largest excess any ``k`` areas held: what outreach to those ``k`` could reach above
    what the city's rate gives.

    Parameters
    ----------
    scores, outcome : array-like
        As :func:`hit_rate`.
    expected : array-like
        Expected events per area at the city's rate, known at the origin.
    k : int
        Areas chosen.

    Returns
    -------
    float
        At most 1; negative when the chosen areas had fewer events than expected (NaN when
        no ``k`` areas had any excess).
    """
    x = np.asarray(outcome, float) - np.asarray(expected, float)
    best = np.sort(x)[::-1][:k].sum()
    return float(x[top_k(scores, k)].sum() / best) if best > 0 else float("nan")


def score_rankings(rankings: dict, outcome, population, expected, ks=(10, 20, 50)) -> pd.DataFrame:
    """Hit rate, PAI (by population), PEI and excess capture of rankings at several ``k``.

    Parameters
    ----------
    rankings : dict
        Name → scores per area.
    outcome : array-like
        Events per area in the period scored.
    population : array-like
        Population of each area: the PAI divides the hit rate by the share of the people
        the top ``k`` hold (a ranking that picks big areas gains nothing).
    expected : array-like
        Expected events per area at the city's rate (:func:`excess_capture`).
    ks : sequence of int
        Sizes of the top lists.

    Returns
    -------
    pandas.DataFrame
        Columns ``ranking``, ``k``, ``hit_rate``, ``pai``, ``pei``, ``excess_capture``.
    """
    rows = [
        {
            "ranking": name,
            "k": k,
            "hit_rate": hit_rate(s, outcome, k),
            "pai": pai(s, outcome, population, k),
            "pei": pei(s, outcome, k),
            "excess_capture": excess_capture(s, outcome, expected, k),
        }
        for name, s in rankings.items()
        for k in ks
    ]
    return pd.DataFrame(rows)


def block_bootstrap_mean(values, block: int = 2, reps: int = 2000, seed: int = 0, level=0.9):
    """Mean of a series of per-origin values with a moving-block bootstrap interval (blocks
    of ``block`` consecutive origins keep their correlation).

    Parameters
    ----------
    values : array-like
        One value per origin, in time order (NaN dropped).
    block : int
        Origins per block.
    reps : int
        Bootstrap replicates.
    seed : int
        Seed of the resampling.
    level : float
        Coverage of the interval.

    Returns
    -------
    tuple of float
        Mean, lower and upper limit (the limits are NaN with fewer than 2 values).
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return (float(v.mean()) if len(v) else float("nan"), float("nan"), float("nan"))
    b = int(min(max(block, 1), len(v)))
    starts = np.arange(len(v) - b + 1)
    rng = np.random.default_rng(seed)
    need = int(np.ceil(len(v) / b))
    picks = rng.choice(starts, size=(reps, need))
    idx = (picks[:, :, None] + np.arange(b)[None, None, :]).reshape(reps, -1)[:, : len(v)]
    means = v[idx].mean(1)
    a = (1 - level) / 2
    return float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def nested_selection(backtest: pd.DataFrame, k: int, candidates, metric: str, seed: int = 0):
    """Choose a default ranking on the earlier origins and score every ranking on the later
    ones, so that the default's score is not the one it was chosen on.

    Parameters
    ----------
    backtest : pandas.DataFrame
        Rows ``origin``, ``ranking``, ``k`` and the metrics of :func:`score_rankings`.
    k : int
        The list size compared.
    candidates : sequence of str
        Rankings the default may be (others are only compared).
    metric : str
        The metric the default is chosen by (a column of ``backtest``).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    tuple
        The chosen ranking and a frame with one row per ranking, best first on the later
        origins: the mean of each metric there, ``difference`` (the default's metric minus
        this ranking's, mean over the later origins) with its block-bootstrap 90 % interval
        ``difference_low``, ``difference_high``, ``wins`` (later origins where the default
        did better), ``origins`` (later origins) and ``selection_origins``. With fewer than
        two origins both halves are all of them (``nested`` False).
    """
    b = backtest[backtest["k"] == k]
    origins = sorted(b["origin"].unique())
    half = len(origins) // 2
    nested = half >= 1 and len(origins) - half >= 1 and len(origins) >= 2
    early, late = (origins[:half], origins[half:]) if nested else (origins, origins)
    sel = b[b["origin"].isin(early) & b["ranking"].isin(candidates)]
    default = sel.groupby("ranking")[metric].mean().sort_values(ascending=False).index[0]
    later = b[b["origin"].isin(late)]
    wide = later.pivot(index="origin", columns="ranking", values=metric).sort_index()
    metrics = [c for c in ("excess_capture", "hit_rate", "pai", "pei") if c in later]
    out = later.groupby("ranking")[metrics].mean()
    diffs = {r: block_bootstrap_mean(wide[default] - wide[r], seed=seed) for r in wide.columns}
    out["difference"] = [diffs[r][0] for r in out.index]
    out["difference_low"] = [diffs[r][1] for r in out.index]
    out["difference_high"] = [diffs[r][2] for r in out.index]
    out["wins"] = [int((wide[default] > wide[r]).sum()) for r in out.index]
    out["origins"] = len(late)
    out["selection_origins"] = len(early)
    out["nested"] = nested
    out = out.sort_values(metric, ascending=False).rename_axis("ranking").reset_index()
    return default, out
