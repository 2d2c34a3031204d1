"""Global and local spatial autocorrelation with seeded permutation inference and FDR control.

Observed statistics come from esda; the permutation tests of local Moran and Gi* from
the cached kernels of :mod:`.permutation` (p-values identical to esda's ``n_jobs=1``).
Multiple testing is Benjamini–Hochberg from statsmodels. The weights passed in are
never changed: every transform is set on a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import esda
import libpysal
import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from dv_analysis.stats.detection import permutation
from dv_analysis.stats.weights import transformed

#: Local Moran quadrant codes (esda ``q``) and their names.
LISA_QUADRANTS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
#: Every value of ``lisa_cluster``: a quadrant where significant, ``ns`` elsewhere.
LISA_CLUSTERS = ("HH", "HL", "LH", "LL", "ns")


def fdr_bh(p) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN stays NaN.

    Parameters
    ----------
    p : array-like
        p-values; non-finite values are left out of the correction and returned as NaN.

    Returns
    -------
    numpy.ndarray
        q-values (``statsmodels.stats.multitest.multipletests``, ``fdr_bh``).

    Examples
    --------
    >>> fdr_bh([0.01, 0.04, np.nan, 0.03]).round(3).tolist()
    [0.03, 0.04, nan, 0.04]
    """
    p = np.asarray(p, float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out


def gi_bins(z, p_adj) -> np.ndarray:
    """Hot/cold confidence bins −3…3: ±3 at p < 0.01, ±2 at p < 0.05, ±1 at p < 0.10.

    Parameters
    ----------
    z : array-like
        Gi* z-scores (their sign makes hot or cold).
    p_adj : array-like
        Adjusted p-values.

    Returns
    -------
    numpy.ndarray
        Integer bins.

    Examples
    --------
    >>> gi_bins([2.5, -3.1, 1.0], [0.04, 0.001, 0.5]).tolist()
    [2, -3, 0]
    """
    z = np.asarray(z, float)
    p = np.asarray(p_adj, float)
    level = np.select([p < 0.01, p < 0.05, p < 0.10], [3, 2, 1], 0)
    return (np.sign(z) * level).astype(int)


@dataclass
class GlobalMoran:
    """Global Moran's I with its normal approximation and permutation pseudo p-value."""

    I: float  # noqa: E741 - the statistic's name
    expected: float
    z_norm: float
    p_norm: float  # two-sided, normal approximation
    p_sim: float | None  # pseudo p from permutations (one-sided in the observed direction)
    permutations: int
    eb: bool = False


def _seeded_moran(make, permutations: int, seed: int, eb: bool) -> GlobalMoran:
    """Run an esda global Moran (which draws from NumPy's global RNG) under a seed, restoring the RNG."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        m = make()
    finally:
        np.random.set_state(state)
    p_sim = float(m.p_sim) if permutations else None
    return GlobalMoran(
        float(m.I), float(m.EI), float(m.z_norm), float(m.p_norm), p_sim, permutations, eb=eb
    )


def global_moran(y, w: libpysal.weights.W, permutations: int = 999, seed: int = 42) -> GlobalMoran:
    """Global Moran's I on row-standardised weights, with seeded permutation inference.

    Parameters
    ----------
    y : array-like
        Values per area.
    w : libpysal.weights.W
        Weights (not changed; a row-standardised copy is used).
    permutations : int
        Permutations for the pseudo p-value (0: none).
    seed : int
        Seed of the permutations.

    Returns
    -------
    GlobalMoran
    """
    wr = transformed(w, "r")
    return _seeded_moran(
        lambda: esda.Moran(np.asarray(y, float), wr, permutations=permutations),
        permutations,
        seed,
        False,
    )


def moran_rate(
    events, population, w: libpysal.weights.W, permutations: int = 999, seed: int = 42
) -> GlobalMoran:
    """Moran's I of a rate with Assunção–Reis empirical-Bayes standardisation (esda ``Moran_Rate``).

    Parameters
    ----------
    events, population : array-like
        Counts and populations at risk per area.
    w : libpysal.weights.W
        Weights (not changed).
    permutations, seed : int
        As in :func:`global_moran`.

    Returns
    -------
    GlobalMoran
        With ``eb`` set.
    """
    wr = transformed(w, "r")
    e, b = np.asarray(events, float), np.asarray(population, float)
    return _seeded_moran(
        lambda: esda.Moran_Rate(e, b, wr, permutations=permutations), permutations, seed, True
    )


def _gi_p(y: np.ndarray, w: libpysal.weights.W, permutations: int, seed: int):
    """Observed Gi* (binary weights, star) and its two-sided permutation pseudo p-values (the
    normal approximation's without permutations)."""
    gi = esda.G_Local(y, transformed(w, "b"), transform="B", star=True, permutations=0)
    gi_p = (
        permutation.conditional_p(
            permutation.G_LOCAL_STAR, y, gi.w, gi.Gs, permutations, seed, scaling=y.sum()
        ).astype(float)
        if permutations
        else 2 * stats.norm.sf(np.abs(gi.Zs))
    )
    return gi, np.minimum(1.0, gi_p)


def _lisa_p(y: np.ndarray, w: libpysal.weights.W, permutations: int, seed: int):
    """Observed local Moran and its two-sided permutation pseudo p-values."""
    lisa = esda.Moran_Local(y, transformed(w, "r"), transformation="r", permutations=0)
    lisa_p = (
        permutation.conditional_p(
            permutation.MORAN_LOCAL, lisa.z, lisa.w, lisa.Is, permutations, seed
        ).astype(float)
        if permutations
        else np.full(len(y), np.nan)
    )
    return lisa, np.minimum(1.0, lisa_p)


def gi_statistics(
    y,
    w: libpysal.weights.W,
    ids,
    permutations: int = 9999,
    seed: int = 42,
    fdr: bool = True,
    exclude: list | None = None,
) -> pd.DataFrame:
    """The Gi* columns of :func:`local_statistics` alone (the same numbers, without the
    local Moran's permutations: half the work, for the quarters of a panel).

    Parameters
    ----------
    y : array-like
        Values per area.
    w : libpysal.weights.W
        Weights in the order of ``y`` (not changed).
    ids : array-like
        Area identifiers, returned in column ``id``.
    permutations : int
        Conditional permutations per area (0: the normal approximation).
    seed : int
        Seed of the permutations.
    fdr : bool
        Adjust p-values with Benjamini–Hochberg.
    exclude : list, optional
        Ids of areas that get no result (NaN, bin 0).

    Returns
    -------
    pandas.DataFrame
        ``id, gi_z, gi_p, gi_q, gi_bin``.
    """
    y = np.asarray(y, float)
    gi, gi_p = _gi_p(y, w, permutations, seed)
    excluded = np.isin(np.asarray(ids), exclude or [])
    gi_p[excluded] = np.nan
    gi_q = fdr_bh(gi_p) if fdr else gi_p
    z = np.asarray(gi.Zs, float).copy()
    z[excluded] = np.nan
    # no finite z (constant rates: EB shrinks every area to the mean) means no hot spot
    bins = np.where(
        np.isfinite(gi_q) & np.isfinite(z),
        gi_bins(np.nan_to_num(z), np.nan_to_num(gi_q, nan=1.0)),
        0,
    )
    return pd.DataFrame(
        {"id": np.asarray(ids), "gi_z": z, "gi_p": gi_p, "gi_q": gi_q, "gi_bin": bins}
    )


def local_statistics(
    y,
    w: libpysal.weights.W,
    ids,
    permutations: int = 9999,
    seed: int = 42,
    alpha: float = 0.05,
    fdr: bool = True,
    exclude: list | None = None,
) -> pd.DataFrame:
    """Getis–Ord Gi* (binary weights, star) and local Moran with seeded permutations.

    Parameters
    ----------
    y : array-like
        Values per area (the suite passes EB rates).
    w : libpysal.weights.W
        Weights in the order of ``y`` (not changed).
    ids : array-like
        Area identifiers, returned in column ``id``.
    permutations : int
        Conditional permutations per area (0: Gi* by its normal approximation).
    seed : int
        Seed of the permutations: the same seed gives the same p-values.
    alpha : float
        Level of ``lisa_cluster`` after adjustment.
    fdr : bool
        Adjust p-values with Benjamini–Hochberg.
    exclude : list, optional
        Ids of areas that get no local result (NaN, ``ns``, bin 0).

    Returns
    -------
    pandas.DataFrame
        ``id, gi_z, gi_p, gi_q, gi_bin, lisa_I, lisa_q`` (quadrant), ``lisa_p, lisa_q_adj,
        lisa_cluster`` (quadrant where significant at ``alpha``, else ``ns``). p-values are
        two-sided permutation pseudo p-values.
    """
    y = np.asarray(y, float)
    out = gi_statistics(y, w, ids, permutations, seed, fdr, exclude)
    lisa, lisa_p = _lisa_p(y, w, permutations, seed)
    excluded = np.isin(np.asarray(ids), exclude or [])
    lisa_p[excluded] = np.nan
    lisa_qa = fdr_bh(lisa_p) if fdr else lisa_p
    quad = np.array([LISA_QUADRANTS[int(q)] for q in lisa.q])
    return out.assign(
        lisa_I=np.where(excluded, np.nan, lisa.Is),
        lisa_q=quad,
        lisa_p=lisa_p,
        lisa_q_adj=lisa_qa,
        lisa_cluster=np.where(lisa_qa < alpha, quad, "ns"),
    )


def quarter_seed(seed: int, ordinal: int) -> int:
    """The permutation seed of one quarter of a panel: fixed by the quarter, not its position.

    So a quarter's Gi* is the same whichever range it is part of, and can be reused.

    Parameters
    ----------
    seed : int
        The run's seed.
    ordinal : int
        The quarter's ordinal (``Period.ordinal()``: year × 4 + quarter − 1).

    Returns
    -------
    int
    """
    return (int(seed) + int(ordinal)) % 2**32
