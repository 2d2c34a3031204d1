"""Conditional permutation inference for local Moran and Gi*, compiled once and cached on disk.

esda's conditional randomisation (``esda.crand``) passes the statistic to its numba
kernel as a function argument. numba cannot cache such a kernel on disk, so every new
process (every notebook run) paid about 20 s of compilation before the first local
statistic. This module calls the *same* esda kernels (``vec_permutations``,
``_prepare_univariate`` through ``_moran_local_crand`` / ``_g_local_star_crand``, and
``_permutation_significance``) from two fixed numba functions that name the statistic
directly, so numba can cache them (``cache=True``: machine code in ``__pycache__`` or
``$NUMBA_CACHE_DIR``). Given the same seed it draws the same permutations as esda and
returns the same pseudo p-values; ``tests/stats/detection/test_permutation.py`` checks that they are
identical to esda's, element for element.

Only the serial path (esda ``n_jobs=1``) is reproduced; that is the one the suite uses,
because its results do not depend on the number of cores.
"""

from __future__ import annotations

import warnings

import numpy as np

#: esda's private functions called here, as (module, name). They are not esda's public
#: interface, so ``pyproject.toml`` pins the esda versions they were checked with, and
#: ``tests/stats/detection/test_permutation.py`` fails naming any of them a new esda moves.
ESDA_PRIVATE: tuple[tuple[str, str], ...] = (
    ("esda.crand", "vec_permutations"),
    ("esda.getisord", "_g_local_star_crand"),
    ("esda.moran", "_moran_local_crand"),
    ("esda.moran", "_moran_local_bv_crand"),
    ("esda.significance", "_permutation_significance"),
)

from esda.crand import vec_permutations  # noqa: E402 - after the list that documents them
from esda.getisord import _g_local_star_crand  # noqa: E402
from esda.moran import _moran_local_bv_crand, _moran_local_crand  # noqa: E402
from esda.significance import _permutation_significance  # noqa: E402
from numba import njit  # noqa: E402

#: Statistics this module can test: the ``kind`` argument of the kernel (the bivariate
#: local Moran takes ``z`` as two columns, ``[zx, zy]``, and has a kernel of its own).
MORAN_LOCAL, G_LOCAL_STAR, MORAN_LOCAL_BV = 0, 1, 2

ALTERNATIVES = ("two-sided", "greater", "lesser", "directed", "folded")


@njit(cache=True)
def _permutations(max_card: int, n: int, k: int, seed: int) -> np.ndarray:
    """esda's permutation draw (numba's own RNG, seeded inside the compiled code)."""
    return vec_permutations(max_card, n, k, seed)


@njit(fastmath=True, cache=True)
def _chunk(
    kind: int,
    z: np.ndarray,
    observed: np.ndarray,
    cardinalities: np.ndarray,
    self_weights: np.ndarray,
    other_weights: np.ndarray,
    permuted_ids: np.ndarray,
    scaling: float,
    island_weight: float,
    alternative: str,
) -> np.ndarray:
    """esda's ``compute_chunk`` for the whole sample with a fixed statistic (no simulations kept)."""
    n = z.shape[0]
    p_sims = np.zeros((n,), dtype=np.float32)
    wloc = 0
    for i in range(n):
        cardinality = cardinalities[i]
        if cardinality == 0:  # an island: one "fake" neighbour with island_weight
            weights_i = np.zeros(2, dtype=other_weights.dtype)
            weights_i[1] = island_weight
        else:
            weights_i = np.zeros(cardinality + 1, dtype=other_weights.dtype)
            weights_i[0] = self_weights[i]
            weights_i[1:] = other_weights[wloc : (wloc + cardinality)]
        wloc += cardinality
        if kind == MORAN_LOCAL:
            rstats = _moran_local_crand(i, z, permuted_ids, weights_i, scaling)
        else:
            rstats = _g_local_star_crand(i, z, permuted_ids, weights_i, scaling)
        p_sims[i] = _permutation_significance(observed[i], rstats, alternative=alternative).item()
    return p_sims


@njit(fastmath=True, cache=True)
def _chunk_bv(
    z: np.ndarray,
    observed: np.ndarray,
    cardinalities: np.ndarray,
    self_weights: np.ndarray,
    other_weights: np.ndarray,
    permuted_ids: np.ndarray,
    scaling: float,
    island_weight: float,
    alternative: str,
) -> np.ndarray:
    """:func:`_chunk` for the bivariate local Moran (``z`` of two columns)."""
    n = z.shape[0]
    p_sims = np.zeros((n,), dtype=np.float32)
    wloc = 0
    for i in range(n):
        cardinality = cardinalities[i]
        if cardinality == 0:
            weights_i = np.zeros(2, dtype=other_weights.dtype)
            weights_i[1] = island_weight
        else:
            weights_i = np.zeros(cardinality + 1, dtype=other_weights.dtype)
            weights_i[0] = self_weights[i]
            weights_i[1:] = other_weights[wloc : (wloc + cardinality)]
        wloc += cardinality
        rstats = _moran_local_bv_crand(i, z, permuted_ids, weights_i, scaling)
        p_sims[i] = _permutation_significance(observed[i], rstats, alternative=alternative).item()
    return p_sims


def conditional_p(
    kind: int,
    z: np.ndarray,
    w,
    observed: np.ndarray,
    permutations: int,
    seed: int,
    scaling: float | None = None,
    alternative: str = "two-sided",
    island_weight: float = 0.0,
) -> np.ndarray:
    """Pseudo p-values by conditional permutation, as ``esda.crand.crand(..., n_jobs=1)``.

    ``kind`` is :data:`MORAN_LOCAL` (``z`` standardised, weights as Moran_Local uses them),
    :data:`MORAN_LOCAL_BV` (``z`` the two standardised columns ``[zx, zy]``, as
    Moran_Local_BV) or :data:`G_LOCAL_STAR` (``z`` the raw values, binary weights with the self-weight on
    the diagonal, ``scaling`` the sum of the values). ``w`` is a libpysal ``W``; its sparse
    matrix is copied, never changed.

    Parameters
    ----------
    kind : int
        :data:`MORAN_LOCAL` or :data:`G_LOCAL_STAR`.
    z : numpy.ndarray
        The values (standardised for Moran's I, raw for G*).
    w : libpysal.weights.W
        The weights (not changed).
    observed : numpy.ndarray
        The observed statistic of every area.
    permutations : int
        Number of conditional permutations.
    seed : int
        Seed of the permutations (esda's: the same p-values).
    scaling : float, optional
        G*'s denominator (the sum of the values); unused for Moran's I.
    alternative : str
        One of :data:`ALTERNATIVES`, as esda counts them.
    island_weight : float
        Weight of an island's self-neighbour, as esda gives it.

    Returns
    -------
    numpy.ndarray
        One pseudo p-value per area.
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative={alternative!r} is not one of {', '.join(ALTERNATIVES)}")
    z = np.asarray(z, dtype=float)
    n = len(z)
    if scaling is None:  # as esda: Moran-like, on the first column of a bivariate z
        scaling = (n - 1) / (z[:, 0] ** 2).sum() if z.ndim == 2 else (n - 1) / (z * z).sum()
    adj = w.sparse.tocsr(copy=True)
    self_weights = adj.diagonal()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # changing the diagonal's sparsity is cheap here
        adj.setdiag(0)
        adj.eliminate_zeros()
    other_weights = adj.data.astype(z.dtype)
    cardinalities = np.asarray((adj != 0).sum(1)).ravel()
    max_card = int(cardinalities.max()) if n else 0
    permuted_ids = _permutations(max_card, n, int(permutations), int(seed))
    if kind == MORAN_LOCAL_BV:
        return _chunk_bv(
            np.ascontiguousarray(z),
            np.asarray(observed, dtype=float),
            cardinalities,
            self_weights,
            other_weights,
            permuted_ids,
            float(scaling),
            float(island_weight),
            alternative,
        )
    return _chunk(
        int(kind),
        z,
        np.asarray(observed, dtype=float),
        cardinalities,
        self_weights,
        other_weights,
        permuted_ids,
        float(scaling),
        float(island_weight),
        alternative,
    )
