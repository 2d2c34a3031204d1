"""What the NUTS engines share: JAX's compilation cache, posterior summaries, and the
diagnostics every reported quantity must pass (split rank-normalised R-hat and bulk ESS,
computed by ArviZ).
"""

from __future__ import annotations

import numpy as np

#: Diagnostics every reported quantity must pass.
RHAT_MAX = 1.01
ESS_BULK_MIN = 400


def enable_compilation_cache(folder) -> None:
    """Keep JAX's compiled sampler on disk, so a later process with the same graph size reuses it.

    Compiling NUTS for a city costs about 7 s per process; loading it back about 1 s. The
    cache holds machine code only (no data).

    Parameters
    ----------
    folder : str or pathlib.Path
        Where JAX keeps its compiled code (created if missing).

    Returns
    -------
    None
    """
    import jax

    folder = str(folder)
    if jax.config.jax_compilation_cache_dir != folder:
        jax.config.update("jax_compilation_cache_dir", folder)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def describe(draws: np.ndarray) -> dict:
    """Mean, sd and 90 % interval of draws.

    Parameters
    ----------
    draws : array_like
        Posterior draws of one quantity (any shape; flattened).

    Returns
    -------
    dict
        ``mean``, ``sd`` (ddof 1), ``q05`` and ``q95``.

    Examples
    --------
    >>> describe([1.0, 2.0, 3.0])["mean"]
    2.0
    """
    flat = np.asarray(draws).ravel()
    return {
        "mean": float(flat.mean()),
        "sd": float(flat.std(ddof=1)),
        "q05": float(np.quantile(flat, 0.05)),
        "q95": float(np.quantile(flat, 0.95)),
    }


def _worst(labels: list[str], values: np.ndarray, largest: bool) -> tuple[str, float]:
    """The worst value and its label; a value that is not finite counts as worst (the last)."""
    bad = np.flatnonzero(~np.isfinite(values))
    k = bad[-1] if len(bad) else int(np.argmax(values) if largest else np.argmin(values))
    return labels[k], float(values[k])


def convergence(samples: dict) -> dict:
    """Split rank-normalised R-hat and bulk ESS of every reported quantity (ArviZ).

    Parameters
    ----------
    samples : dict
        Names to draws shaped ``(chains, draws, ...)``; ArviZ computes all of them at once
        on one dataset.

    Returns
    -------
    dict
        The worst R-hat and bulk ESS with the quantity they belong to, the limits, and
        ``ok`` when both are within them.
    """
    import arviz as az

    draws = {name: np.asarray(d) for name, d in samples.items()}
    data = az.convert_to_dataset(draws)
    rhat, ess = az.rhat(data, method="rank"), az.ess(data, method="bulk")
    labels: list[str] = []
    for name, d in draws.items():
        size = int(np.prod(d.shape[2:], dtype=int))
        labels += [name] if d.ndim == 2 else [f"{name}[{k}]" for k in range(size)]
    flat = [np.asarray(rhat[name], float).ravel() for name in draws]
    worst_rhat = _worst(labels, np.concatenate(flat), largest=True)
    flat = [np.asarray(ess[name], float).ravel() for name in draws]
    worst_ess = _worst(labels, np.concatenate(flat), largest=False)
    ok = worst_rhat[1] <= RHAT_MAX and worst_ess[1] >= ESS_BULK_MIN
    return {
        "rhat_max": worst_rhat[1],
        "rhat_worst": worst_rhat[0],
        "ess_bulk_min": worst_ess[1],
        "ess_bulk_worst": worst_ess[0],
        "rhat_limit": RHAT_MAX,
        "ess_bulk_limit": ESS_BULK_MIN,
        "ok": bool(ok),
    }
