"""Pure statistics: functions on arrays, frames and spatial weights that return frames.

No file I/O, no Traditional Chinese, no settings: everything here can be called on any
layer (the ``dv-analysis hotspots`` command does) and is checked against published
numbers in ``tests/stats/``. Inputs are never changed; weights objects are copied before
a transform is set.

The package is split by family, as ``tests/stats/`` is:

- :mod:`.weights` (spatial weights), :mod:`.rates` (person-quarters, EB rates),
  :mod:`.regression` (count models, blind spots, next-quarter prediction) and
  :mod:`.backtest` (rankings scored at rolling origins, nested, with a block bootstrap);
- :mod:`.detection`: autocorrelation, permutation, scan, emerging hotspots, areas, early
  warning;
- :mod:`.disease_mapping`: the pooled BYM2 and the space-time model, each with one fit path
  and engines by name;
- :mod:`.planning`: accessibility and the service plan's location models.

The entry points are importable from here (``from dv_analysis.stats import analyse_areas``),
as esda's are from ``esda``; they are loaded on first use, so that importing one module does
not import JAX or esda for the others.
"""

from importlib import import_module

#: Entry point → the module that defines it (relative to this package).
_ENTRY_POINTS = {
    "build_weights": "weights",
    "contiguity": "weights",
    "person_quarters": "rates",
    "eb_rate": "rates",
    "spatial_eb_rate": "rates",
    "rates_table": "rates",
    "fit_count_models": "regression",
    "predict_next_quarter": "regression",
    "blind_spots": "regression",
    "score_rankings": "backtest",
    "nested_selection": "backtest",
    "global_moran": "detection.autocorrelation",
    "local_statistics": "detection.autocorrelation",
    "gi_statistics": "detection.autocorrelation",
    "fdr_bh": "detection.autocorrelation",
    "kulldorff_scan": "detection.scan",
    "emerging_hotspots": "detection.emerging",
    "analyse_areas": "detection.areas",
    "early_warning": "detection.early_warning",
    "fit_bym2": "disease_mapping.bym2",
    "fit_bym2_laplace": "disease_mapping.bym2_laplace",
    "two_step_fca": "planning.accessibility",
    "composite_index": "planning.accessibility",
    "mclp": "planning.location",
    "robust_mclp": "planning.location",
    "p_median": "planning.location",
    "lscp": "planning.location",
    "staff_split": "planning.location",
    "balanced_regions": "planning.regions",
    "workers_needed": "planning.regions",
}
#: Subpackages and modules reachable as attributes (``stats.spacetime.fit``).
_MODULES = {
    "backtest": "backtest",
    "detection": "detection",
    "disease_mapping": "disease_mapping",
    "planning": "planning",
    "pooled": "disease_mapping.pooled",
    "rates": "rates",
    "regression": "regression",
    "spacetime": "disease_mapping.spacetime",
    "weights": "weights",
}

__all__ = sorted([*_ENTRY_POINTS, *_MODULES])


def __getattr__(name: str):
    if name in _ENTRY_POINTS:
        return getattr(import_module(f"{__name__}.{_ENTRY_POINTS[name]}"), name)
    if name in _MODULES:
        return import_module(f"{__name__}.{_MODULES[name]}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
