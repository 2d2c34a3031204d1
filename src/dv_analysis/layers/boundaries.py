"""The MOI village boundaries (2021), in TWD97 TM2 metres (EPSG:3826), repaired, kept on
disk by content (:mod:`.memo`).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from dv_analysis.config import Settings
from dv_analysis.errors import MissingInputError, ParameterError
from dv_analysis.layers import memo, names
from dv_analysis.layers.join import CRS_LONLAT, CRS_METRIC, city_filter

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _read_boundaries(path: str) -> gpd.GeoDataFrame:
    p = Path(path)
    if not p.exists():
        raise MissingInputError(f"village boundaries not found: {p}")
    g = gpd.read_file(p, layer="villages")
    g = g.set_crs(CRS_LONLAT, allow_override=True).to_crs(CRS_METRIC)
    invalid = ~g.geometry.is_valid
    if invalid.any():
        log.info("repairing %d invalid village polygons with make_valid", int(invalid.sum()))
        fixed = shapely.make_valid(g.geometry[invalid].values)
        # keep only the polygonal parts of a repaired geometry
        fixed = [
            shapely.union_all(
                [p for p in shapely.get_parts(f) if p.geom_type in ("Polygon", "MultiPolygon")]
            )
            for f in fixed
        ]
        g.loc[invalid, "geometry"] = fixed
    out = gpd.GeoDataFrame(
        {
            "villcode": g["VILLCODE"].astype(str),
            "countycode": g["COUNTYCODE"].astype(str),
            "countyname": g["COUNTYNAME"].map(lambda s: names.nfkc(s).replace("台", "臺")),
            "towncode": g["TOWNCODE"].astype(str),
            "townname": g["TOWNNAME"].map(lambda s: names.nfkc(s).replace("台", "臺")),
            "villname": g["VILLNAME"].map(names.nfkc),
            "villeng": g["VILLENG"],
        },
        geometry=g.geometry.values,
        crs=CRS_METRIC,
    )
    return out.sort_values("villcode").reset_index(drop=True)


def load_boundaries(settings: Settings, city: str | None = None) -> gpd.GeoDataFrame:
    """Village polygons in EPSG:3826 for a city code (default the settings' city; 'all' for Taiwan).

    Columns: villcode, countycode, countyname, towncode, townname, villname, villeng,
    geometry; invalid polygons are repaired with ``make_valid``.
    """
    city = city_filter(settings.city if city is None else city)
    return _city_boundaries(str(settings.boundaries_file), city).copy()


@functools.lru_cache(maxsize=8)
def _city_boundaries(path: str, city: str | None) -> gpd.GeoDataFrame:
    """A city's (or all) village polygons, kept on disk by content (:mod:`.memo`)."""
    if not Path(path).exists():
        raise MissingInputError(f"village boundaries not found: {path}")
    return memo.kept("boundaries", [Path(path)], (city,), lambda: _boundaries_of(path, city))


def _boundaries_of(path: str, city: str | None) -> gpd.GeoDataFrame:
    g = _read_boundaries(path)
    if city is not None:
        g = g[g["countycode"] == city]
        if g.empty:
            raise ParameterError(f"no village in the boundaries has COUNTYCODE {city}")
    return g.reset_index(drop=True)


def district_label(boundaries: pd.DataFrame, city: str) -> pd.Series:
    """District names for tables: the district alone for one city; county + district for
    all of Taiwan, where names repeat (中正區 is in Taipei and in Keelung)."""
    if city_filter(city) is None:
        return boundaries["countyname"] + boundaries["townname"]
    return boundaries["townname"]
