"""Spatial weights: islands attached, never left alone; inputs never changed."""

import geopandas as gpd
import numpy as np
from libpysal import examples

from dv_analysis.stats.weights import build_weights, transformed


def test_islands_attached_not_clusters():
    from shapely.geometry import box

    polys = [box(i, 0, i + 1, 1) for i in range(5)] + [box(10, 10, 11, 11)]
    g = gpd.GeoDataFrame({"id": list("abcdef")}, geometry=polys)
    w, rep = build_weights(g, "queen", ids="id")
    assert rep.islands == ["f"] and rep.attached == {"f": "e"}
    assert w.neighbors[5] == [4] and 5 in w.neighbors[4]


def test_statistics_never_change_the_callers_weights():
    """Moran, Moran_Rate, local statistics and the spatial EB rate work on copies of the weights."""
    from dv_analysis.stats.detection.autocorrelation import (
        global_moran,
        local_statistics,
        moran_rate,
    )
    from dv_analysis.stats.rates import spatial_eb_rate

    df = gpd.read_file(examples.get_path("columbus.shp"))
    w, _ = build_weights(df, "queen")
    before = (w.transform, {k: list(v) for k, v in w.weights.items()}, set(w.transformations))
    y = df["CRIME"].to_numpy()
    global_moran(y, w, permutations=0)
    moran_rate(y, np.full(len(y), 100.0), w, permutations=0)
    local_statistics(y, w, ids=np.arange(len(y)), permutations=9)
    spatial_eb_rate(y, np.full(len(y), 100.0), w)
    after = (w.transform, {k: list(v) for k, v in w.weights.items()}, set(w.transformations))
    assert after == before
    r = transformed(w, "r")
    assert r.transform == "R" and w.transform == before[0]
