"""The pooled BYM2 model and its one fit path: :func:`fit` with engines by name.

The model is :mod:`.bym2` (its NumPyro form, priors and the NUTS engine); the nested-Laplace
engine is :mod:`.bym2_laplace`. Both return a :class:`~.bym2.BYM2Fit`. ``dv-analysis
smooth`` fits through here, as the space-time model fits through
:func:`dv_analysis.stats.disease_mapping.spacetime.fit`.

Examples
--------
>>> sorted(ENGINES)
['laplace', 'nuts']
"""

from __future__ import annotations

import pandas as pd
import scipy.sparse as sp

from dv_analysis.stats.disease_mapping.bym2 import BYM2Fit, fit_bym2
from dv_analysis.stats.disease_mapping.bym2_laplace import fit_bym2_laplace

__all__ = ["ENGINES", "fit"]


def _laplace(y, e, adjacency, covariates, *, chains, warmup, draws, seed, ids) -> BYM2Fit:
    return fit_bym2_laplace(y, e, adjacency, covariates, draws=chains * draws, seed=seed, ids=ids)


def _nuts(y, e, adjacency, covariates, *, chains, warmup, draws, seed, ids) -> BYM2Fit:
    return fit_bym2(
        y, e, adjacency, covariates, chains=chains, warmup=warmup, draws=draws, seed=seed, ids=ids
    )


#: The engines by name (nested Laplace: seconds; NUTS: the reference).
ENGINES = {"laplace": _laplace, "nuts": _nuts}


def fit(
    y,
    expected,
    adjacency: sp.spmatrix,
    covariates: pd.DataFrame | None = None,
    *,
    engine: str = "laplace",
    chains: int = 4,
    warmup: int = 500,
    draws: int = 1000,
    seed: int = 42,
    ids=None,
) -> BYM2Fit:
    """Fit the pooled BYM2 with the named engine.

    Parameters
    ----------
    y, expected : array-like
        Counts and expected counts (positive) per area.
    adjacency : scipy.sparse matrix
        Binary symmetric adjacency; islands allowed.
    covariates : pandas.DataFrame, optional
        One column per covariate, used as given.
    engine : str
        ``laplace`` (default) or ``nuts``.
    chains, warmup, draws : int
        NUTS's chains and iterations per chain; the Laplace engine draws ``chains × draws``.
    seed : int
    ids : array-like, optional
        Area ids for the ``id`` column.

    Returns
    -------
    BYM2Fit
        The areas' relative risks, fixed effects, hyperparameters and diagnostics.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")
    return ENGINES[engine](
        y,
        expected,
        adjacency,
        covariates,
        chains=chains,
        warmup=warmup,
        draws=draws,
        seed=seed,
        ids=ids,
    )
