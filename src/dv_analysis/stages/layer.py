"""Hotspot statistics for any layer the user brings: the ``dv-analysis hotspots`` command.

Reads a polygon file or a point CSV, checks the columns asked for, and runs the same
statistics as the village analysis (:func:`dv_analysis.stats.areas.analyse_areas`).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..stats.areas import AreaResult, analyse_areas


def read_layer(path, x: str = "x", y: str = "y") -> gpd.GeoDataFrame:
    """A polygon file (GeoPackage, GeoJSON, shapefile) or a point CSV with ``x`` and ``y`` columns."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() in (".csv", ".txt"):
        df = pd.read_csv(path)
        missing = [c for c in (x, y) if c not in df.columns]
        if missing:
            raise ValueError(
                f"{path.name}: a point CSV needs columns {x!r} and {y!r}; missing {missing}"
            )
        return gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df[x], df[y]))
    return gpd.read_file(path)


def analyse_file(
    path,
    count: str,
    population: str | None = None,
    id_col: str | None = None,
    weights: str | None = None,
    permutations: int = 9999,
    seed: int = 42,
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, AreaResult]:
    """Hotspot statistics for any layer: one row per area with the columns of the village analysis.

    Points default to ``knn:6`` weights, polygons to ``queen``.
    """
    g = read_layer(path)
    for col in (count, population, id_col):
        if col and col not in g.columns:
            raise ValueError(
                f"{path}: no column {col!r}; columns are {', '.join(map(str, g.columns))}"
            )
    if id_col is None:
        id_col = "id" if "id" not in g.columns else "_row"
        g[id_col] = np.arange(1, len(g) + 1)
    points = g.geom_type.eq("Point").all()
    weights = weights or ("knn:6" if points else "queen")
    if points and weights in ("queen", "rook"):
        raise ValueError(
            f"{path}: {weights} contiguity needs polygons; use distance:D or knn:K for points"
        )
    g = g.reset_index(drop=True)
    res = analyse_areas(
        g, count, population, id_col, weights, permutations, seed, alpha, scan_simulations=199
    )
    return res.table.drop(columns=["scan_cluster"]), res
