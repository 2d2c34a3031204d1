"""Accessibility of every village from the real transit and facility layers.

Distances are in metres (EPSG:3826). Each village is represented by a regular grid
of points inside its polygon (spacing ``grid_m``, at least its representative
point), so a large hill village is measured over its whole area, not at a centroid
that may sit in a valley. The public layers have no population grid, so the points
are weighted by area, not by population: this is said wherever the numbers are shown.

The composite index is the mean of standardised components, higher = harder to
reach; the components stay in the table.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

log = logging.getLogger(__name__)

#: Components of the composite index and their direction (+1: larger is harder to reach).
INDEX_COMPONENTS: dict[str, int] = {
    "dist_metro_station_m": +1,
    "bus_coverage_500m": -1,
    "dist_police_precinct_m": +1,
    "dist_family_service_m": +1,
    "sfca_family_service": -1,
    "sfca_police": -1,
}
LOG_COMPONENTS = ("dist_metro_station_m", "dist_police_precinct_m", "dist_family_service_m")


def village_points(
    villages: gpd.GeoDataFrame, grid_m: float = 150.0, max_points: int = 400
) -> pd.DataFrame:
    """Grid points inside each village (its representative point when none fall inside).

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Village polygons in a metric CRS.
    grid_m : float, default 150
        Spacing of the grid in metres.
    max_points : int, default 400
        Large villages are thinned to at most this many points.

    Returns
    -------
    pandas.DataFrame
        One row per point: village position ``v``, ``x``, ``y``.
    """
    rows = []
    for i, geom in enumerate(villages.geometry.values):
        minx, miny, maxx, maxy = geom.bounds
        xs = np.arange(minx + grid_m / 2, maxx, grid_m)
        ys = np.arange(miny + grid_m / 2, maxy, grid_m)
        gx, gy = np.meshgrid(xs, ys)
        gx, gy = gx.ravel(), gy.ravel()
        inside = shapely.contains_xy(geom, gx, gy)
        gx, gy = gx[inside], gy[inside]
        if len(gx) > max_points:
            step = int(np.ceil(len(gx) / max_points))
            gx, gy = gx[::step], gy[::step]
        if len(gx) == 0:
            p = geom.representative_point()
            gx, gy = np.array([p.x]), np.array([p.y])
        rows.append(pd.DataFrame({"v": i, "x": gx, "y": gy}))
    return pd.concat(rows, ignore_index=True)


def _xy(g: gpd.GeoDataFrame | None) -> np.ndarray | None:
    """Coordinates of a layer, or None when the layer does not cover the city."""
    if g is None:
        return None
    return np.column_stack([g.geometry.x.to_numpy(), g.geometry.y.to_numpy()])


def _nearest(points: np.ndarray, targets: np.ndarray | None) -> np.ndarray:
    if targets is None or len(targets) == 0:
        return np.full(len(points), np.nan)
    d, _ = cKDTree(targets).query(points, k=1)
    return d


def _within(points: np.ndarray, targets: np.ndarray | None, radius: float) -> np.ndarray:
    if targets is None:
        return np.full(len(points), np.nan)
    if len(targets) == 0:
        return np.zeros(len(points))
    return np.array(
        [len(x) for x in cKDTree(targets).query_ball_point(points, r=radius)], dtype=float
    )


def two_step_fca(
    demand_xy: np.ndarray,
    demand: np.ndarray,
    supply_xy: np.ndarray,
    supply: np.ndarray,
    d0: float = 3000.0,
) -> np.ndarray:
    """Two-step floating catchment area with Gaussian distance decay (Dai 2010).

    Step 1: each facility's supply over the decay-weighted population within ``d0``.
    Step 2: each demand point sums the ratios of facilities within ``d0``, decay-weighted.

    Parameters
    ----------
    demand_xy : numpy.ndarray
        ``(n, 2)`` demand points (metres).
    demand : numpy.ndarray
        ``(n,)`` population at each demand point.
    supply_xy : numpy.ndarray
        ``(m, 2)`` facilities (metres).
    supply : numpy.ndarray
        ``(m,)`` capacity of each facility (1 each when unknown).
    d0 : float, default 3000
        Catchment radius in metres; the Gaussian decay reaches 0 there.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` accessibility per demand point (facilities per resident; multiply for
        readability); zeros without facilities.
    """
    if len(supply_xy) == 0:
        return np.zeros(len(demand_xy))
    d = np.sqrt(((demand_xy[:, None, :] - supply_xy[None, :, :]) ** 2).sum(-1))
    g = np.where(d <= d0, (np.exp(-0.5 * (d / d0) ** 2) - np.exp(-0.5)) / (1 - np.exp(-0.5)), 0.0)
    weighted_pop = (g * demand[:, None]).sum(0)
    ratio = np.divide(
        supply, weighted_pop, out=np.zeros_like(supply, dtype=float), where=weighted_pop > 0
    )
    return (g * ratio[None, :]).sum(1)


def village_accessibility(
    villages: gpd.GeoDataFrame,
    population: np.ndarray,
    layers: dict[str, gpd.GeoDataFrame | None],
    grid_m: float = 150.0,
    d0: float = 3000.0,
) -> pd.DataFrame:
    """One row per village: distances, counts within reach, 2SFCA scores and the composite index.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Village polygons (metres) with ``villcode``, ``townname``, ``villname``.
    population : numpy.ndarray
        Residents per village, in the order of ``villages``.
    layers : dict
        Facility layers by name (``metro_station``, ``metro_exit``, ``bus_stop``,
        ``youbike``, ``police_precinct``, ``family_service``, ``social_welfare_centre``,
        ``women_family_centre``, ``hospital``, ``medical``); None where a layer does not
        cover the city (its measures are NaN).
    grid_m : float
        Spacing of the grid of points measured inside each village.
    d0 : float
        Catchment of the 2SFCA scores, metres.

    Returns
    -------
    pandas.DataFrame
        ``villcode, townname, villname, grid_points``, the measures, ``pop_total``,
        ``access_index`` and ``hard_to_reach`` (index in the top tenth).
    """
    pop = np.asarray(population)
    fac = layers
    pts = village_points(villages, grid_m)
    p = pts[["x", "y"]].to_numpy()
    per_point = pd.DataFrame({"v": pts["v"]})
    per_point["dist_metro_station_m"] = _nearest(p, _xy(fac["metro_station"]))
    per_point["dist_metro_exit_m"] = _nearest(p, _xy(fac["metro_exit"]))
    for r in (300, 500):
        n = _within(p, _xy(fac["bus_stop"]), r)
        per_point[f"bus_coverage_{r}m"] = np.where(np.isnan(n), np.nan, (n > 0).astype(float))
    per_point["dist_bus_stop_m"] = _nearest(p, _xy(fac["bus_stop"]))
    per_point["youbike_500m"] = _within(p, _xy(fac["youbike"]), 500)
    per_point["dist_police_precinct_m"] = _nearest(p, _xy(fac["police_precinct"]))
    per_point["dist_social_welfare_centre_m"] = _nearest(p, _xy(fac["social_welfare_centre"]))
    per_point["dist_women_family_centre_m"] = _nearest(p, _xy(fac["women_family_centre"]))
    per_point["dist_family_service_m"] = _nearest(p, _xy(fac["family_service"]))
    per_point["dist_hospital_m"] = _nearest(p, _xy(fac["hospital"]))
    per_point["medical_1km"] = _within(p, _xy(fac["medical"]), 1000)
    out = per_point.groupby("v").mean()
    return _finish(out, per_point, villages, pop, fac, d0)


def _finish(out, per_point, villages, pop, fac, d0) -> pd.DataFrame:
    """Per-village stop counts, 2SFCA scores, the index and the names."""
    out.insert(0, "grid_points", per_point.groupby("v").size())
    # counts of stops that serve the village: within 300 / 500 m of its polygon
    geoms = villages.geometry.values
    for r in (300, 500):
        if fac["bus_stop"] is None or not len(fac["bus_stop"]):
            out[f"bus_stops_{r}m"] = np.nan
            continue
        tree = shapely.STRtree(fac["bus_stop"].geometry.values)
        pairs = tree.query(geoms, predicate="dwithin", distance=r)
        out[f"bus_stops_{r}m"] = np.bincount(pairs[0], minlength=len(villages))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["bus_stops_per_1000"] = 1000 * out["bus_stops_500m"] / np.where(pop > 0, pop, np.nan)
    rep = villages.geometry.representative_point()
    rep_xy = np.column_stack([rep.x, rep.y])
    for col, layer in (
        ("sfca_family_service", "family_service"),
        ("sfca_police", "police_precinct"),
    ):
        g = fac[layer]
        out[col] = (
            np.nan if g is None else 1e5 * two_step_fca(rep_xy, pop, _xy(g), np.ones(len(g)), d0)
        )
    out["pop_total"] = pop
    out.index = villages["villcode"].to_numpy()
    out.index.name = "villcode"
    out["access_index"] = composite_index(out)
    out["hard_to_reach"] = out["access_index"] >= out["access_index"].quantile(0.9)
    out = out.reset_index()
    out.insert(1, "townname", villages["townname"].to_numpy())
    out.insert(2, "villname", villages["villname"].to_numpy())
    return out


def composite_index(table: pd.DataFrame) -> pd.Series:
    """Mean of the standardised components of :data:`INDEX_COMPONENTS` (distances logged),
    higher = harder to reach.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per village with the columns of :data:`INDEX_COMPONENTS`; a column that is
        all missing (a layer that does not cover the city) is left out.

    Returns
    -------
    pandas.Series
        The index per village, in the order of ``table``.
    """
    parts = []
    for col, sign in INDEX_COMPONENTS.items():
        x = table[col].astype(float)
        if x.isna().all():
            continue  # a layer that does not cover the city
        if col in LOG_COMPONENTS:
            x = np.log(x + 100)
        sd = x.std()
        z = (x - x.mean()) / sd if sd and np.isfinite(sd) else x * 0
        parts.append(sign * z)
    if not parts:  # no layer covers the city
        return pd.Series(np.nan, index=table.index)
    return pd.concat(parts, axis=1).mean(axis=1)
