"""Two layers on the same areas: bivariate Moran's I, bivariate LISA and the co-location of
one layer's hot spots with another's classes.

The statistics are esda's (``Moran_BV``, ``Moran_Local_BV``), run under a seed; the local
permutations run in esda's own kernel through :mod:`.permutation` (cached on disk: the same
p-values as ``Moran_Local_BV(..., seed=seed)``, without 60 s of compiling per process); local
p-values are adjusted with Benjamini–Hochberg (:func:`.autocorrelation.fdr_bh`). The
bivariate Moran's I of ``x`` and ``y`` is the correlation of ``x`` with the spatial lag of
``y``: a measure of co-location, not of cause (a common driver, such as density, gives it
as well).
"""

from __future__ import annotations

from dataclasses import dataclass

import esda
import libpysal
import numpy as np
import pandas as pd
from scipy import stats

from dv_analysis.stats.detection import permutation
from dv_analysis.stats.detection.autocorrelation import LISA_QUADRANTS, fdr_bh
from dv_analysis.stats.weights import transformed

__all__ = [
    "BivariateMoran",
    "bivariate_lisa",
    "bivariate_moran",
    "colocation",
    "spectral_surrogates",
]

#: Above this many areas the spectral null is not computed (an eigendecomposition of n × n).
MAX_SPECTRAL_AREAS = 3000


@dataclass(frozen=True)
class BivariateMoran:
    """Global bivariate Moran's I with its permutation inference."""

    I: float  # noqa: E741 - the statistic's name
    p_sim: float  # pseudo p-value, one-sided in the observed direction (esda)
    z_sim: float
    p_z_sim: float  # one-sided normal p-value of z_sim (esda)
    permutations: int
    #: One-sided p-value against surrogates of ``y`` that keep its own spatial pattern
    #: (:func:`spectral_surrogates`); NaN when not computed. Free permutations of ``y``
    #: (``p_sim``) break ``y``'s clustering, so two clustered but unrelated layers look
    #: co-located more often than the level says; this null does not.
    p_spatial: float = float("nan")


def spectral_surrogates(y, w: libpysal.weights.W, n: int, seed: int = 0) -> np.ndarray:
    """Surrogates of ``y`` with its spatial autocorrelation: Moran spectral randomisation
    (Wagner and Dray 2015, the "singleton" method).

    ``y`` is written on the eigenvectors of the doubly centred, symmetrised weights, and
    each coefficient's sign is drawn at random: every surrogate has ``y``'s mean, variance
    and Moran spectrum (so its Moran's I on the symmetrised weights), with its clusters in
    other places.

    Parameters
    ----------
    y : array-like
        Values per area, in the order of ``w``.
    w : libpysal.weights.W
        Weights (not changed).
    n : int
        Number of surrogates.
    seed : int
        Seed of the signs.

    Returns
    -------
    numpy.ndarray
        Areas × ``n``.

    Examples
    --------
    >>> w = libpysal.weights.lat2W(4, 4)
    >>> y = np.arange(16.0)
    >>> s = spectral_surrogates(y, w, 3, seed=1)
    >>> s.shape, np.allclose(s.mean(0), y.mean()), np.allclose(s.std(0), y.std())
    ((16, 3), True, True)
    """
    from scipy.linalg import null_space

    y = np.asarray(y, float)
    m = len(y)
    a = w.sparse.toarray()
    q = null_space(np.ones((1, m)))  # an orthonormal basis of the centred vectors
    _, u = np.linalg.eigh(q.T @ ((a + a.T) / 2) @ q)
    vectors = q @ u  # eigenvectors of the doubly centred weights, all orthogonal to 1
    coef = vectors.T @ (y - y.mean())
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=(vectors.shape[1], n))
    return y.mean() + vectors @ (coef[:, None] * signs)


def _p_spatial(x: np.ndarray, y: np.ndarray, w, observed: float, n: int, seed: int) -> float:
    """One-sided p of the bivariate I against :func:`spectral_surrogates` of ``y``."""
    if len(y) > MAX_SPECTRAL_AREAS or n < 1:
        return float("nan")
    wr = transformed(w, "r").sparse
    zx = (x - x.mean()) / x.std(ddof=1)
    ys = spectral_surrogates(y, w, n, seed)
    zs = (ys - ys.mean(0)) / ys.std(0, ddof=1)
    sims = zx @ (wr @ zs) / (len(x) - 1)
    extreme = (sims >= observed).sum() if observed >= 0 else (sims <= observed).sum()
    return float((extreme + 1) / (n + 1))


def bivariate_moran(
    x, y, w: libpysal.weights.W, permutations: int = 999, seed: int = 42
) -> BivariateMoran:
    """Bivariate Moran's I of ``x`` with the spatial lag of ``y`` (esda ``Moran_BV``).

    Parameters
    ----------
    x, y : array-like
        Values per area, in the order of ``w``.
    w : libpysal.weights.W
        Weights (not changed; a row-standardised copy is used).
    permutations : int
        Random permutations of ``y`` for the pseudo p-value (at least 1).
    seed : int
        Seed of NumPy's global generator, which esda draws from (restored afterwards).

    Returns
    -------
    BivariateMoran

    Examples
    --------
    >>> w = libpysal.weights.lat2W(5, 5)
    >>> x = np.arange(25.0)
    >>> m = bivariate_moran(x, x, w, permutations=99, seed=1)
    >>> round(m.I, 3), m.p_sim
    (0.84, 0.01)
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        m = esda.Moran_BV(
            np.asarray(x, float),
            np.asarray(y, float),
            transformed(w, "r"),
            permutations=permutations,
        )
    finally:
        np.random.set_state(state)
    x, y = np.asarray(x, float), np.asarray(y, float)
    p_spatial = _p_spatial(x, y, w, float(m.I), permutations, seed)
    return BivariateMoran(
        float(m.I), float(m.p_sim), float(m.z_sim), float(m.p_z_sim), permutations, p_spatial
    )


def bivariate_lisa(
    x,
    y,
    w: libpysal.weights.W,
    ids,
    permutations: int = 999,
    seed: int = 42,
    alpha: float = 0.05,
    global_p: float = 0.0,
) -> pd.DataFrame:
    """Bivariate local Moran (esda ``Moran_Local_BV``) with conditional permutations and
    Benjamini–Hochberg control of the false-discovery rate, claimed only after the global
    test.

    Conditional permutations shuffle the neighbours' ``y``: where ``y`` clusters by itself,
    its high lag looks significant whatever ``x`` is, and an unrelated clustered layer
    gives "co-location" claims in most worlds (``tests/stats/detection/test_bivariate.py``).
    So local clusters are claimed only when the global co-location test (``global_p``,
    :attr:`BivariateMoran.p_spatial`) rejects at ``alpha``: with no association anywhere
    the chance of any claim is then at most ``alpha``, and where the global test rejects,
    the local claims keep Benjamini–Hochberg's FDR.

    Parameters
    ----------
    x, y : array-like
        Values per area (``x`` at the area, ``y`` in its neighbours), in the order of ``w``.
    w : libpysal.weights.W
        Weights (not changed; row-standardised copy).
    ids : array-like
        Area identifiers, returned in column ``id``.
    permutations : int
        Conditional permutations per area.
    seed : int
        Seed of the permutations.
    alpha : float
        False-discovery rate of ``cluster`` (and level of the global gate).
    global_p : float
        p-value of the global test; above ``alpha`` nothing is claimed (``cluster`` all ``ns``).

    Returns
    -------
    pandas.DataFrame
        ``id, bv_I, quadrant`` (HH: high ``x`` among high ``y``; LH, LL, HL), ``p``
        (two-sided pseudo p-value), ``q`` (BH-adjusted), ``cluster`` (quadrant where
        ``q < alpha``, else ``ns``).
    """
    lm = esda.Moran_Local_BV(
        np.asarray(x, float), np.asarray(y, float), transformed(w, "r"), permutations=0
    )
    z = np.column_stack((lm.zx, lm.zy))
    p = permutation.conditional_p(
        permutation.MORAN_LOCAL_BV, z, lm.w, lm.Is, permutations, seed
    ).astype(float)
    p = np.minimum(1.0, p)
    q = fdr_bh(p)
    quad = np.array([LISA_QUADRANTS[int(k)] for k in lm.q])
    return pd.DataFrame(
        {
            "id": np.asarray(ids),
            "bv_I": np.asarray(lm.Is, float),
            "quadrant": quad,
            "p": p,
            "q": q,
            "cluster": np.where((q < alpha) & (global_p <= alpha), quad, "ns"),
        }
    )


def colocation(hot, classes) -> pd.DataFrame:
    """How one layer's hot spots fall across another's classes (e.g. outreach tiers).

    Parameters
    ----------
    hot : array-like of bool
        Whether each area is a hot spot of the first layer.
    classes : array-like
        The class of each area in the second (missing: left out).

    Returns
    -------
    pandas.DataFrame
        One row per class: ``areas``, ``hot`` (hot spots in it), ``share_hot``,
        ``expected_hot`` (if hot spots fell at random), ``ratio`` (hot / expected) and
        ``p_value`` (Fisher's exact test of the class against the rest, two-sided).

    Examples
    --------
    >>> colocation([True, True, False, False], [1, 1, 0, 0])["ratio"].tolist()
    [0.0, 2.0]
    """
    df = pd.DataFrame({"hot": np.asarray(hot, bool), "cls": pd.Series(classes).to_numpy()})
    df = df[df["cls"].notna()]
    total_hot, total = int(df["hot"].sum()), len(df)
    rows = []
    for cls, part in df.groupby("cls"):
        a, n = int(part["hot"].sum()), len(part)
        table = [[a, n - a], [total_hot - a, total - n - (total_hot - a)]]
        expected = n * total_hot / total if total else np.nan
        rows.append(
            {
                "class": cls,
                "areas": n,
                "hot": a,
                "share_hot": a / n,
                "expected_hot": expected,
                "ratio": a / expected if expected else np.nan,
                "p_value": float(stats.fisher_exact(table)[1]),
            }
        )
    return pd.DataFrame(rows)
