"""Point and line layers: metro stations, exits and lines, bus stops, YouBike stations,
police stations, welfare facilities and medical institutions, in EPSG:3826.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import pandas as pd

from dv_analysis.config import Settings
from dv_analysis.errors import MissingInputError
from dv_analysis.layers.join import CRS_LONLAT, CRS_METRIC

log = logging.getLogger(__name__)


def _points(df: pd.DataFrame, lon: str = "lon", lat: str = "lat") -> gpd.GeoDataFrame:
    x = pd.to_numeric(df[lon], errors="coerce")
    y = pd.to_numeric(df[lat], errors="coerce")
    ok = x.between(118, 123) & y.between(21, 27)
    if (~ok).any():
        log.warning("%d rows without valid lon/lat dropped from a point layer", int((~ok).sum()))
    df = df[ok].reset_index(drop=True)
    g = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(x[ok], y[ok]), crs=CRS_LONLAT)
    return g.to_crs(CRS_METRIC)


def _read_points(settings: Settings, layer: str, **kw) -> gpd.GeoDataFrame:
    path = settings.public_file(layer)
    if not path.exists():
        raise MissingInputError(f"public layer not found: {path}")
    return _points(pd.read_csv(path, dtype=str, encoding="utf-8-sig", **kw))


def load_metro_stations(settings: Settings) -> gpd.GeoDataFrame:
    """Taipei Metro stations (TDX 2023): stationid, stationname1, geometry."""
    return _read_points(settings, "metro_stations")


def load_metro_exits(settings: Settings) -> gpd.GeoDataFrame:
    """Taipei Metro station exits (2021) with line code and name."""
    return _read_points(settings, "metro_exits")


def load_metro_lines(settings: Settings) -> gpd.GeoDataFrame:
    """Metro line shapes (TDX 2023), for drawing."""
    path = settings.public_file("metro_lines")
    return gpd.read_file(path).to_crs(CRS_METRIC)


def load_bus_stops(settings: Settings) -> gpd.GeoDataFrame:
    """Bus stops (TDX 2023, Greater Taipei): stationid, stationname, geometry."""
    return _read_points(settings, "bus_stops")


def load_youbike(settings: Settings) -> gpd.GeoDataFrame:
    """YouBike 2.0 stations (2024-12-07) with docks."""
    return _read_points(settings, "youbike")


def load_police(settings: Settings) -> gpd.GeoDataFrame:
    """Taipei police offices; ``is_precinct`` marks the 派出所."""
    g = _read_points(settings, "police")
    g["is_precinct"] = g["STATION_NAME"].str.endswith("派出所")
    return g


def load_welfare_facilities(settings: Settings) -> gpd.GeoDataFrame:
    """Taipei social-welfare facilities with main_type and sub_type."""
    return _read_points(settings, "welfare_facilities")


def load_medical(settings: Settings) -> gpd.GeoDataFrame:
    """Taipei hospitals and clinics (type 醫院/診所)."""
    return _read_points(settings, "medical")
