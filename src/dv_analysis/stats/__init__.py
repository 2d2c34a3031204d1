"""Pure statistics: functions on arrays, frames and spatial weights that return frames.

No file I/O, no Traditional Chinese, no settings: everything here can be called on any
layer (the ``dv-analysis hotspots`` command does) and is checked against published
numbers in ``tests/stats/``. Inputs are never changed; weights objects are copied
before a transform is set.

Modules: :mod:`.weights` (spatial weights), :mod:`.rates` (person-quarters, EB rates),
:mod:`.local` (global and local autocorrelation, FDR), :mod:`.permutation` (the cached
conditional-permutation kernels), :mod:`.emerging` (trends and emerging hotspots),
:mod:`.scan` (Kulldorff's scan), :mod:`.areas` (all of these for one table of areas),
:mod:`.accessibility` (distances, 2SFCA, the composite index), :mod:`.models` (count
models, blind spots, next-quarter prediction), :mod:`.bym2` (the pooled BYM2 sampled with
NUTS), :mod:`.bym2_laplace` (the same by nested Laplace), :mod:`.icar` (the ICAR graph and its scaling), :mod:`.mcmc` (the sampler cache,
summaries, R-hat and ESS), :mod:`.spacetime` (the space-time village
model: priors, structure, what is reported from draws), :mod:`.laplace` (its nested-Laplace
engine), :mod:`.latent` (its latent field at one θ), :mod:`.gmrf` (banded Cholesky), :mod:`.spacetime_nuts` (its NUTS engine, the reference), :mod:`.early_warning`
(rises of neighbourhoods, calibrated to a false-alarm rate per year, and the reporting
test), :mod:`.backtest` (rankings scored at rolling origins, nested, with a block
bootstrap), :mod:`.location` (MCLP, p-median and LSCP over posterior draws; staff split).
"""

#: The package's modules (``from dv_analysis.stats import *`` imports them).
__all__ = [
    "accessibility",
    "areas",
    "backtest",
    "bym2",
    "bym2_laplace",
    "early_warning",
    "emerging",
    "gmrf",
    "icar",
    "laplace",
    "latent",
    "local",
    "location",
    "mcmc",
    "models",
    "permutation",
    "rates",
    "scan",
    "spacetime",
    "spacetime_nuts",
    "weights",
]
