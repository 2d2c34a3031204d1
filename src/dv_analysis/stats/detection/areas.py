"""Every hotspot statistic for one table of areas: rates, global Moran, Gi*, LISA, the scan."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from dv_analysis.stats.detection.autocorrelation import (
    GlobalMoran,
    global_moran,
    local_statistics,
    moran_rate,
)
from dv_analysis.stats.detection.scan import ScanCluster, kulldorff_scan
from dv_analysis.stats.rates import rates_table
from dv_analysis.stats.weights import WeightsReport, build_weights, representative_xy


@dataclass
class AreaResult:
    """Local results per area plus the global statistics, the weights report and the scan."""

    table: pd.DataFrame
    moran_rate: GlobalMoran
    moran_eb: GlobalMoran
    weights: WeightsReport
    scan: list[ScanCluster]


def _with_rates(y, n, w, ids, permutations, seed, alpha, per):
    """Local statistics of the EB rate; areas without population get no local result."""
    rates = rates_table(y, n, w, per)
    loc = local_statistics(
        rates["rate_eb"].to_numpy(),
        w,
        ids,
        permutations=permutations,
        seed=seed,
        alpha=alpha,
        exclude=list(ids[n <= 0]),
    )
    return loc, rates


def analyse_areas(
    areas: gpd.GeoDataFrame,
    count: str,
    population: str | None,
    id_col: str,
    weights: str = "queen",
    permutations: int = 9999,
    seed: int = 42,
    alpha: float = 0.05,
    scan_max_pop: float = 0.1,
    scan_simulations: int = 999,
    per: float = 1000.0,
) -> AreaResult:
    """Rates, global Moran (raw-rate and EB-standardised), Gi*, LISA and the Kulldorff scan.

    Local statistics run on global-EB smoothed rates, so small populations do not make
    false hotspots; areas without population get no local result. Without a population
    column the statistics describe the counts themselves.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        One row per area with the count, the population and the id.
    count, population, id_col : str
        Column names (``population`` may be None).
    weights : str
        Weights specification (:func:`.weights.build_weights`).
    permutations : int
        Permutations of the local tests (the global ones use at most 9,999).
    seed : int
        Seed of every permutation and simulation.
    alpha : float
        Significance after FDR control.
    scan_max_pop : float
        Largest scan window as a share of the population.
    scan_simulations : int
        Monte-Carlo replicates of the scan.
    per : float
        Rate multiplier.

    Returns
    -------
    AreaResult
        ``table`` has the id, the count, the population, the local statistics, the rates
        and ``scan_cluster`` (rank of the significant scan cluster holding the area, or 0).
    """
    missing = [c for c in (count, population, id_col) if c and c not in areas.columns]
    if missing:
        raise ValueError(
            f"no column {missing[0]!r}; columns are {', '.join(map(str, areas.columns))}"
        )
    y = areas[count].to_numpy(float)
    ids = areas[id_col].to_numpy()
    w, wrep = build_weights(areas, weights, ids=id_col)
    perms = min(permutations, 9999)
    if population is None:
        n = np.ones(len(y))
        loc = local_statistics(y, w, ids, permutations=permutations, seed=seed, alpha=alpha)
        table = loc.rename(columns={"id": id_col})
        table.insert(1, count, y)
        m_rate = m_eb = global_moran(y, w, permutations=perms, seed=seed)
    else:
        n = areas[population].to_numpy(float)
        loc, rates = _with_rates(y, n, w, ids, permutations, seed, alpha, per)
        table = pd.concat([loc.rename(columns={"id": id_col}), rates], axis=1)
        table.insert(1, count, y)
        table.insert(2, population, n)
        m_rate = global_moran(
            np.nan_to_num(rates["rate_raw"].to_numpy()), w, permutations=perms, seed=seed
        )
        m_eb = moran_rate(y, np.where(n > 0, n, 1.0), w, permutations=perms, seed=seed)
    scan = kulldorff_scan(
        representative_xy(areas), y, np.maximum(n, 0), scan_max_pop, scan_simulations, seed
    )
    table["scan_cluster"] = 0
    for k, c in enumerate(scan, 1):
        if c.p_value < alpha:
            table.loc[c.members, "scan_cluster"] = k
    return AreaResult(table, m_rate, m_eb, wrep, scan)
