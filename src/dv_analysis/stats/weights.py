"""Spatial weights for areas and points, with islands attached to their nearest area."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field

import geopandas as gpd
import libpysal
import numpy as np
from scipy.spatial import cKDTree

log = logging.getLogger(__name__)

#: The weights specifications :func:`build_weights` understands.
WEIGHTS_KINDS = ("queen", "rook", "distance:D", "knn:K")


@dataclass
class WeightsReport:
    """How the weights were built and what was done with areas without neighbours."""

    kind: str
    n: int
    islands: list = field(default_factory=list)
    attached: dict = field(default_factory=dict)  # island id -> nearest area id
    mean_neighbours: float = 0.0

    def __str__(self) -> str:
        text = f"{self.kind} weights on {self.n} areas, {self.mean_neighbours:.1f} neighbours on average"
        if self.islands:
            text += (
                f"; {len(self.islands)} without neighbours attached to the nearest area: "
                + ", ".join(f"{k}→{v}" for k, v in list(self.attached.items())[:5])
            )
        return text


def representative_xy(gdf: gpd.GeoDataFrame) -> np.ndarray:
    """Coordinates of each feature: the representative point of polygons, points as they are.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons or points in a projected CRS.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` array of x and y.
    """
    pts = (
        gdf.geometry.representative_point()
        if gdf.geom_type.isin(["Polygon", "MultiPolygon"]).any()
        else gdf.geometry
    )
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def check_kind(kind: str) -> str:
    """A weights specification, checked: ``queen``, ``rook``, ``distance:D`` (D > 0) or
    ``knn:K`` (K a whole number ≥ 1).

    Parameters
    ----------
    kind : str
        The specification.

    Returns
    -------
    str
        ``kind`` unchanged.

    Examples
    --------
    >>> check_kind("knn:6")
    'knn:6'
    """
    head, _, value = str(kind).partition(":")
    try:
        ok = (kind in ("queen", "rook") or (head == "distance" and float(value) > 0)
              or (head == "knn" and int(value) >= 1))  # fmt: skip
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"weights {kind!r}: use queen, rook, distance:D (D > 0) or knn:K")
    return kind


def _raw_weights(gdf: gpd.GeoDataFrame, kind: str, coords: np.ndarray) -> libpysal.weights.W:
    if kind == "queen":
        return libpysal.weights.Queen.from_dataframe(gdf, use_index=False, silence_warnings=True)
    if kind == "rook":
        return libpysal.weights.Rook.from_dataframe(gdf, use_index=False, silence_warnings=True)
    if kind.startswith("distance:"):
        return libpysal.weights.DistanceBand(
            coords, threshold=float(kind.split(":", 1)[1]), binary=True, silence_warnings=True
        )
    if kind.startswith("knn:"):
        return libpysal.weights.KNN(coords, k=int(kind.split(":", 1)[1]))
    raise ValueError(f"weights {kind!r}: use queen, rook, distance:D or knn:K")


def build_weights(
    gdf: gpd.GeoDataFrame, kind: str = "queen", ids: str | None = None
) -> tuple[libpysal.weights.W, WeightsReport]:
    """Spatial weights for polygons or points, with no area left without a neighbour.

    Areas without a neighbour would make false clusters or none: each is attached to
    its nearest area (by representative point), symmetrically, and listed in the report.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons (contiguity or distance weights) or points (distance weights).
    kind : str
        ``queen``, ``rook``, ``distance:D`` (binary band of D map units) or ``knn:K``.
    ids : str, optional
        Column naming the areas in the report; positions are used otherwise.

    Returns
    -------
    w : libpysal.weights.W
        Binary weights indexed by position (``0 … n-1``), transform ``O``.
    report : WeightsReport
        The kind, the islands and what each was attached to.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> grid = gpd.GeoDataFrame(geometry=[shapely.box(i, 0, i + 1, 1) for i in range(3)])
    >>> w, rep = build_weights(grid, "rook")
    >>> w.neighbors[1], rep.islands
    ([0, 2], [])
    """
    id_order = list(gdf[ids]) if ids else list(range(len(gdf)))
    kind = kind.lower()
    coords = representative_xy(gdf)
    w = _raw_weights(gdf, kind, coords)
    neigh = {i: list(w.neighbors[i]) for i in range(len(gdf))}
    islands = [i for i, nb in neigh.items() if not nb]
    attached = {}
    if islands and len(gdf) > 1:
        tree = cKDTree(coords)
        for i in islands:
            _, j = tree.query(coords[i], k=2)
            j = int(j[1])
            neigh[i].append(j)
            if i not in neigh[j]:
                neigh[j].append(i)
            attached[id_order[i]] = id_order[j]
        log.warning("%d areas without neighbours attached to their nearest area", len(islands))
    w = libpysal.weights.W(neigh, id_order=list(range(len(gdf))), silence_warnings=True)
    report = WeightsReport(
        kind=kind,
        n=len(gdf),
        islands=[id_order[i] for i in islands],
        attached=attached,
        mean_neighbours=float(np.mean([len(v) for v in neigh.values()])),
    )
    return w, report


def contiguity(
    gdf: gpd.GeoDataFrame, kind: str = "queen", ids: str | None = None
) -> tuple[dict, WeightsReport]:
    """Neighbours as the geometry gives them: islands stay without neighbours.

    For models that handle a disconnected graph themselves (BYM2 gives an island the
    unstructured effect only); :func:`build_weights` instead attaches every island to
    its nearest area, which the permutation tests need.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons (or points for distance weights).
    kind : str
        As :func:`build_weights`.
    ids : str, optional
        Column naming the areas; positions otherwise.

    Returns
    -------
    neighbours : dict
        Area id → list of neighbouring ids.
    report : WeightsReport
        The kind and the islands (``attached`` is empty).
    """
    id_order = list(gdf[ids]) if ids else list(range(len(gdf)))
    kind = kind.lower()
    w = _raw_weights(gdf, kind, representative_xy(gdf))
    neighbours = {id_order[i]: [id_order[j] for j in w.neighbors[i]] for i in range(len(gdf))}
    islands = [k for k, v in neighbours.items() if not v]
    mean = float(np.mean([len(v) for v in neighbours.values()])) if neighbours else 0.0
    return neighbours, WeightsReport(kind=kind, n=len(gdf), islands=islands, mean_neighbours=mean)


def transformed(w: libpysal.weights.W, transform: str) -> libpysal.weights.W:
    """A copy of ``w`` with ``transform`` set (``r``, ``b``, ``o``…); ``w`` itself is unchanged.

    Parameters
    ----------
    w : libpysal.weights.W
        Any weights object.
    transform : str
        A libpysal transform code.

    Returns
    -------
    libpysal.weights.W
        The copy, transformed.
    """
    # a shallow copy with its own dictionaries (libpysal's transform setter rebinds the
    # weights and adds to ``transformations``): 0.01 s for Taiwan's 7,701 villages against
    # 0.3 s for a deep copy, made 17 times a run
    out = copy.copy(w)
    out.transformations = dict(w.transformations)
    out.neighbors = dict(w.neighbors)
    out.weights = dict(w.weights)
    out._cache = {}
    out.transform = transform
    return out
