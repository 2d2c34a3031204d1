"""Stage of ``03_hotspots``: Gi*, local Moran, the Gi* panel, emerging hotspots and the scan.

Reads ``village_features.parquet`` and ``village_panel.parquet`` of the period and the
village boundaries; writes ``hotspots.parquet``, ``gi_panel.parquet``,
``emerging_hotspots.parquet``, ``scan_clusters.parquet`` and ``hotspot_summary.json``.
Each quarter's Gi* is cached beside its clean tables (``gi_quarter.parquet`` with its
content key), so a range computes every quarter once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial

import geopandas as gpd
import pandas as pd

from dv_analysis import layers
from dv_analysis.config import Period, PeriodPaths
from dv_analysis.errors import MissingInputError
from dv_analysis.stages import params as check
from dv_analysis.stages.cache import key as content_key
from dv_analysis.stages.cache import keyed_table
from dv_analysis.stages.features import village_areas
from dv_analysis.stats import rates as rates_module
from dv_analysis.stats.detection import autocorrelation as local_module
from dv_analysis.stats.detection import permutation as permutation_module
from dv_analysis.stats.detection.areas import AreaResult, analyse_areas
from dv_analysis.stats.detection.autocorrelation import gi_statistics, quarter_seed
from dv_analysis.stats.detection.emerging import emerging_hotspots
from dv_analysis.stats.detection.scan import scan_table
from dv_analysis.stats.rates import eb_rate
from dv_analysis.stats.weights import build_weights


@dataclass(frozen=True)
class HotspotParams:
    """Settings of the hotspot stage (the ``parameters`` cell of ``03_hotspots``)."""

    count: str = "incidents_w"  # column of village_features to analyse
    weights: str = "queen"  # queen, rook, distance:D (metres) or knn:K
    permutations: int = 9999  # permutations of the local tests of the period
    panel_permutations: int = 9999  # permutations of each quarter of the Gi* panel
    seed: int = 42  # seed of every permutation and simulation
    alpha: float = 0.05  # significance after false-discovery-rate control
    scan_max_pop: float = 0.1  # largest scan window as a share of the population
    scan_simulations: int = 999  # Monte-Carlo replicates of the scan

    def __post_init__(self):
        check.weights(self.weights)
        check.at_least("permutations", self.permutations, 1)
        check.at_least("panel_permutations", self.panel_permutations, 1)
        check.between("alpha", self.alpha, 0, 1)
        check.between("scan_max_pop", self.scan_max_pop, 0, 1)
        check.at_least("scan_simulations", self.scan_simulations, 1)


@dataclass
class HotspotOutputs:
    """What the stage computed: the area result, the Gi* panel, the emerging table, the areas."""

    result: AreaResult
    gi_panel: pd.DataFrame
    emerging: pd.DataFrame
    scan: pd.DataFrame  # the scan clusters, one row each (``scan_clusters.parquet``)
    villages: gpd.GeoDataFrame


def _panel_key(order, g: pd.DataFrame, count: str, population: str, spec: str, perms, seed) -> str:
    """Content address of one quarter's Gi*: its counts, populations, weights, test settings
    and the code that computes it (:func:`.cache.key`)."""
    return content_key(
        "gi-quarter",
        (local_module, permutation_module, rates_module, _quarter_gi),
        [spec, int(perms), seed],
        "|".join(map(str, order)),
        g[count].fillna(0).to_numpy(float),
        g[population].fillna(0).to_numpy(float),
    )


def _quarter_gi(g: pd.DataFrame, w, order, period: str, count, population, perms, seed):
    """Gi* of one quarter's EB rate: id, period, gi_z, gi_p, gi_q, gi_bin."""
    rate = eb_rate(g[count].fillna(0).to_numpy(float), g[population].fillna(0).to_numpy(float))
    res = gi_statistics(rate, w, order, permutations=perms, seed=seed)
    res["period"] = period
    return res[["id", "period", "gi_z", "gi_p", "gi_q", "gi_bin"]]


def panel_gi(
    areas: gpd.GeoDataFrame,
    panel: pd.DataFrame,
    id_col: str,
    count: str = "incidents",
    population: str = "pop_total",
    weights: str = "queen",
    permutations: int = 999,
    seed: int = 42,
    progress: bool = False,
    cache=None,
) -> pd.DataFrame:
    """Gi* of the EB rate for every period of a panel (id, period, gi_z, gi_p, gi_q, gi_bin).

    Each quarter is tested with its own seed (:func:`dv_analysis.stats.detection.autocorrelation.quarter_seed`).
    With ``cache``, a function from a period to a parquet path, a quarter whose counts,
    populations, weights and settings are unchanged is read back instead of recomputed (the
    key is kept beside it in ``<path>.key``), so over a range each quarter is computed once.
    """
    w, _ = build_weights(areas, weights, ids=id_col)
    order = areas[id_col].to_numpy()
    out, reused = [], 0
    periods = sorted(panel["period"].unique())
    for i, p in enumerate(periods, 1):
        g = panel[panel["period"] == p].set_index(id_col).reindex(order)
        qseed = quarter_seed(seed, Period.parse(p).ordinal())
        key = _panel_key(order, g, count, population, weights, permutations, qseed)
        res, was_kept = keyed_table(
            cache(p) if cache else None,
            key,
            partial(_quarter_gi, g, w, order, p, count, population, permutations, qseed),
        )
        reused += was_kept
        if progress and not was_kept:
            print(f"  Gi* {p} ({i}/{len(periods)})", flush=True)
        out.append(res)
    if progress and reused:
        print(f"  Gi* of {reused} earlier quarter(s) reused (inputs unchanged)", flush=True)
    return pd.concat(out, ignore_index=True).rename(columns={"id": id_col})


def _summary(paths: PeriodPaths, params: HotspotParams, res: AreaResult, periods) -> dict:
    return {
        "period": str(paths.period),
        "count": params.count,
        "weights": str(res.weights),
        "islands": res.weights.islands,
        "moran_rate": vars(res.moran_rate),
        "moran_eb": vars(res.moran_eb),
        "permutations": params.permutations,
        "panel_permutations": params.panel_permutations,
        "seed": params.seed,
        "n_hot": int((res.table["gi_bin"] > 0).sum()),
        "n_cold": int((res.table["gi_bin"] < 0).sum()),
        "panel_periods": periods,
    }


def run(paths: PeriodPaths, params: HotspotParams = HotspotParams(), progress: bool = True):
    """Hotspots of the period from the village features and the panel; written to ``data_clean/<period>/``.

    Returns
    -------
    HotspotOutputs
        The area result, the Gi* panel, the emerging-hotspot table, the scan clusters and
        the village polygons in table order (with the count and ``person_quarters``).
    """
    p = params
    g = village_areas(paths, p.count)
    res = analyse_areas(
        g,
        p.count,
        "person_quarters",
        "villcode",
        p.weights,
        p.permutations,
        p.seed,
        p.alpha,
        p.scan_max_pop,
        p.scan_simulations,
    )
    panel = pd.read_parquet(paths.village_panel)
    gp = panel_gi(
        g,
        panel,
        "villcode",
        weights=p.weights,
        permutations=p.panel_permutations,
        seed=p.seed,
        progress=progress,
        cache=lambda q: paths.settings.period(q).gi_quarter,
    )
    emerging = emerging_hotspots(gp, id_col="villcode", period_col="period")
    res.table.to_parquet(paths.hotspots, index=False)
    gp.to_parquet(paths.gi_panel, index=False)
    emerging.to_parquet(paths.emerging_hotspots, index=False)
    scan = scan_table(res.scan, g["villcode"].to_numpy(), p.alpha)
    scan.to_parquet(paths.scan_clusters, index=False)
    summary = _summary(paths, p, res, sorted(panel["period"].unique().tolist()))
    paths.hotspot_summary.write_text(
        json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    return HotspotOutputs(res, gp, emerging, scan, g)


def load_table(paths: PeriodPaths) -> pd.DataFrame:
    """The period's hotspot table (written by :func:`run`), in boundary order."""
    order = layers.load_boundaries(paths.settings)[["villcode"]]
    if not paths.hotspots.exists():
        raise MissingInputError(f"{paths.hotspots} not found: run 03_hotspots first")
    return order.merge(pd.read_parquet(paths.hotspots), on="villcode", how="left")
