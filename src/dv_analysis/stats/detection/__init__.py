"""Where counts cluster and where they rise: autocorrelation (global and local Moran, Gi*,
FDR), the conditional-permutation kernels, Kulldorff's scan, emerging hotspots, all of
these for one table of areas, and the early warning of rises (calibrated to a false-alarm
rate per year, with the reporting test)."""

__all__ = [
    "areas",
    "autocorrelation",
    "bivariate",
    "cusum",
    "early_warning",
    "emerging",
    "permutation",
    "reporting",
    "scan",
]
