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
models, blind spots, next-quarter prediction), :mod:`.bym2` (the ICAR graph and its
scaling, the pooled BYM2 sampled with NUTS), :mod:`.spacetime` (the space-time village
model: priors, structure, what is reported from draws), :mod:`.laplace` (its nested-Laplace
engine), :mod:`.spacetime_nuts` (its NUTS engine, the reference), :mod:`.early_warning`
(the Poisson CUSUM of neighbourhoods), :mod:`.backtest` (rankings scored at rolling origins).
"""
