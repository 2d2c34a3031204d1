"""Locating each notification's village: code, then names, then point in polygon."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from dv_analysis import layers
from dv_analysis.config import CITIES, Settings
from dv_analysis.layers import names
from dv_analysis.stages.clean.fields import map_unique, to_float


def coordinates_to_twd97(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates given as TWD97 TM2 metres or WGS84 lon/lat → EPSG:3826 metres.

    Returns x, y and the detected system per row ('twd97', 'lonlat' or '').
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    lonlat = (x > 118) & (x < 123) & (y > 21) & (y < 27)
    # EPSG:3826 extent of Taiwan with Penghu, Kinmen and Matsu
    twd = (x > -6.0e4) & (x < 3.6e5) & (y > 2.4e6) & (y < 2.95e6)
    ox, oy = np.where(twd, x, np.nan), np.where(twd, y, np.nan)
    if lonlat.any():
        pts = gpd.GeoSeries(gpd.points_from_xy(x[lonlat], y[lonlat]), crs=layers.CRS_LONLAT).to_crs(
            layers.CRS_METRIC
        )
        ox[lonlat], oy[lonlat] = pts.x.to_numpy(), pts.y.to_numpy()
    system = np.where(twd, "twd97", np.where(lonlat, "lonlat", ""))
    return ox, oy, system


def _by_names(df: pd.DataFrame, b: pd.DataFrame, ck: pd.Series, national: bool) -> pd.Series:
    """Village code from district and village names (with the city's name in a national run)."""
    index = names.VillageNames(b, by_city=national)
    return index.codes(ck if national else None, df["district_raw"], df["village_raw"])


def _by_points(settings: Settings, city: str, x, y, need: np.ndarray):
    """Point-in-polygon over all of Taiwan: rows and codes inside the area, and rows elsewhere."""
    pts = gpd.GeoDataFrame(
        {"row": np.flatnonzero(need)},
        geometry=gpd.points_from_xy(x[need], y[need]),
        crs=layers.CRS_METRIC,
    )
    allb = layers.load_boundaries(settings, "all")
    hit = gpd.sjoin(
        pts, allb[["villcode", "countycode", "geometry"]], how="left", predicate="within"
    )
    hit = hit[~hit.index.duplicated()]
    in_city = (hit["countycode"].notna() if city == "all" else hit["countycode"] == city).to_numpy()
    rows = hit["row"].to_numpy()
    elsewhere = hit["countycode"].notna().to_numpy() & ~in_city
    return rows[in_city], hit["villcode"].to_numpy()[in_city], rows[elsewhere]


def locate(df: pd.DataFrame, settings: Settings, city: str) -> pd.DataFrame:
    """Village of each row: valid VILLCODE, then district + village names, then point-in-polygon.

    Adds ``villcode``, ``locate_method`` (code/names/xy/''), ``retired_code``,
    ``out_of_area`` (the row names or points into another city), and ``x``, ``y`` in
    EPSG:3826.
    """
    b = layers.load_boundaries(settings, city)
    national = city == "all"  # every city is in the area; names are matched with their city
    city_key = "" if national else names.city_key(CITIES.get(city, b["countyname"].iloc[0]))
    known = set(b["villcode"])
    out = pd.DataFrame(index=df.index)
    code = map_unique(df["code_raw"], names.villcode)
    ck = map_unique(df["city_raw"], names.city_key)
    other_city = (ck != "") & (ck != city_key) & (not national)
    other_code = code.notna() & (code.str[:5] != city) & (not national)
    vill = pd.Series(np.where(code.isin(known), code, None), index=df.index, dtype=object)
    method = pd.Series(np.where(vill.notna(), "code", ""), index=df.index, dtype=object)
    name_hit = _by_names(df, b, ck, national)
    use = vill.isna() & name_hit.notna()
    vill[use] = name_hit[use]
    method[use] = "names"
    xr = map_unique(df["x_raw"], to_float).to_numpy(float)
    yr = map_unique(df["y_raw"], to_float).to_numpy(float)
    x, y, _ = coordinates_to_twd97(xr, yr)
    out["x"], out["y"] = x, y
    need = vill.isna().to_numpy() & np.isfinite(x)
    xy_other = np.zeros(len(df), bool)
    if need.any():
        rows, codes, elsewhere = _by_points(settings, city, x, y, need)
        vill.iloc[rows] = codes
        method.iloc[rows] = "xy"
        xy_other[elsewhere] = True
    out["villcode"] = vill
    out["locate_method"] = method
    # a well-formed code of the area that the boundary vintage no longer has (re-divided villages)
    out["retired_code"] = (code.notna() & ~code.isin(known) & ~other_code & vill.isna()).to_numpy()
    # out of area: the row says another city, or its only location is in another city
    out["out_of_area"] = (
        other_city
        | (other_code & vill.isna())
        | (pd.Series(xy_other, index=df.index) & vill.isna())
    ).to_numpy()
    return out
