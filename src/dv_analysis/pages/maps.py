"""Maps for staff pages: choropleths with district outlines; labels and colours from :mod:`.labels`."""

from __future__ import annotations

import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from dv_analysis.pages.labels import (
    EMERGING,
    EMERGING_LABELS,
    GI_BIN_LABELS,
    GI_COLORS,
    LISA_COLORS,
    LISA_LABELS,
    PROBABILITY_1_5_CLASSES,
    PROBABILITY_CLASSES,
    RISK_CLASSES,
    UNCERTAIN_LABEL,
)

#: Above this many districts (all of Taiwan has 357) maps outline and label counties instead:
#: hundreds of outlines and labels cover the villages and cost seconds to lay out.
MAX_DISTRICT_LABELS = 60


def _no_draw(*args, **kwargs) -> None:
    return None


def plot_layer(layer, ax, **kwargs):
    """``layer.plot(ax=ax, **kwargs)`` without the full redraw geopandas asks for after it.

    GeoPandas ends every ``plot`` with ``canvas.draw_idle()``, which on the Agg canvases of
    notebooks and pages draws the whole figure at once; a map of four layers was drawn four
    times before it was saved (all of Taiwan: 7 s of a 9 s map). The figure is drawn once,
    when it is shown or saved. Interactive canvases get their ``draw_idle`` back afterwards.
    """
    canvas = ax.figure.canvas
    canvas.draw_idle = _no_draw  # shadows the method on this canvas only
    try:
        return layer.plot(ax=ax, **kwargs)
    finally:
        del canvas.draw_idle


def hatch(ax, polygons: gpd.GeoSeries, pattern: str = "////", color: str = "#555555") -> None:
    """Hatch the polygons as one compound path: Agg hatches every path on its own, so one
    path per village added 1.6 s to drawing a national map, one path for all of them
    nothing measurable. Rings are oriented (holes against their shell), so that a village
    enclosed by another is not hatched with it."""
    import shapely
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path

    parts = shapely.get_parts(shapely.orient_polygons(np.asarray(polygons.values)))
    rings = [
        Path(np.asarray(r.coords)[:, :2], closed=True)
        for p in parts
        if not p.is_empty
        for r in (p.exterior, *p.interiors)
    ]
    if rings:
        ax.add_patch(
            PathPatch(
                Path.make_compound_path(*rings),
                facecolor="none",
                edgecolor=color,
                hatch=pattern,
                linewidth=0.0,
            )
        )


#: Outlines already dissolved in this process (:func:`outlines`), newest last.
_OUTLINES: dict = {}


def outlines(villages: gpd.GeoDataFrame, by: str = "townname") -> gpd.GeoDataFrame:
    """Polygons dissolved from the villages by district (or ``by="countyname"``: county),
    with their ``name``. Kept for the process by the villages' codes, names and extent:
    dissolving Taiwan's 7,701 villages by county takes 0.9 s, and a national run draws a
    dozen maps on the same villages. Callers must not change the frame returned."""
    key = (
        by,
        len(villages),
        tuple(villages.total_bounds.round(6)),
        hash(tuple(villages["villcode"])) if "villcode" in villages else id(villages),
        hash(tuple(villages[by])),
    )
    if key not in _OUTLINES:
        _OUTLINES[key] = villages[[by, "geometry"]].dissolve(by).rename_axis("name").reset_index()
        while len(_OUTLINES) > 4:
            _OUTLINES.pop(next(iter(_OUTLINES)))
    return _OUTLINES[key]


def frame(ax, villages: gpd.GeoDataFrame, title: str) -> None:
    """District outlines with their names (counties above :data:`MAX_DISTRICT_LABELS`)."""
    by = "townname"
    if villages["townname"].nunique() > MAX_DISTRICT_LABELS and "countyname" in villages:
        by = "countyname"
    d = outlines(villages, by)
    plot_layer(d.boundary, ax, color="#333333", linewidth=0.8)
    for row in d.itertuples():
        pt = row.geometry.representative_point()
        ax.annotate(
            row.name,
            (pt.x, pt.y),
            ha="center",
            fontsize=7,
            color="#222222",
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6},
        )
    ax.set_title(title)
    ax.set_axis_off()


def rate_map(villages: gpd.GeoDataFrame, values: pd.Series, title: str, legend: str, ax=None):
    """Quantile choropleth of a rate (5 classes); villages without a value in grey."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 7.5))
    g = villages.assign(_v=np.asarray(values, float))
    has = g["_v"].notna()
    if not has.any():
        plot_layer(g, ax, color="#d9d9d9", edgecolor="white", linewidth=0.2)
        ax.text(0.5, 0.02, "本市沒有此項資料", transform=ax.transAxes, ha="center")
        frame(ax, villages, title)
        return ax
    plot_layer(g[~has], ax, color="#d9d9d9", edgecolor="white", linewidth=0.2)
    plot_layer(
        g[has],
        ax,
        column="_v",
        scheme="quantiles",
        k=5,
        cmap="OrRd",
        edgecolor="white",
        linewidth=0.2,
        legend=True,
        legend_kwds={
            "title": legend,
            "loc": "lower right",
            "fontsize": 7,
            "title_fontsize": 8,
            "fmt": "{:.2f}",
        },
    )
    frame(ax, villages, title)
    return ax


def _categorical(
    villages: gpd.GeoDataFrame, colors: list, legend: list[tuple[str, object]], title: str, ax=None
):
    """Villages filled with one colour each, a legend of (label, colour), district outlines."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 7.5))
    plot_layer(villages, ax, color=colors, edgecolor="white", linewidth=0.2)
    ax.legend(
        handles=[Patch(color=c, label=label) for label, c in legend], loc="lower right", fontsize=7
    )
    frame(ax, villages, title)
    return ax


def hotspot_map(villages: gpd.GeoDataFrame, gi_bin: pd.Series, title: str, ax=None):
    """Gi* hot and cold spots by confidence (after FDR)."""
    bins = np.nan_to_num(np.asarray(gi_bin, float), nan=0.0).astype(int)  # untested areas: 0
    legend = [(GI_BIN_LABELS[b], GI_COLORS[b]) for b in sorted(set(bins), reverse=True)]
    return _categorical(villages, [GI_COLORS[b] for b in bins], legend, title, ax)


def lisa_map(villages: gpd.GeoDataFrame, clusters: pd.Series, title: str, ax=None):
    """Local Moran clusters (significant after FDR)."""
    c = list(clusters)
    legend = [(LISA_LABELS[k], LISA_COLORS[k]) for k in LISA_COLORS if k in set(c)]
    return _categorical(villages, [LISA_COLORS[x] for x in c], legend, title, ax)


def emerging_colors() -> dict[str, tuple]:
    """Colour of each emerging category: reds for hot patterns, blues for cold, in label order."""
    out = {}
    for side, cmap in (("hot", "Reds"), ("cold", "Blues")):
        cats = [c for c, _, s in EMERGING if s == side]
        shades = plt.get_cmap(cmap)(np.linspace(0.35, 0.9, len(cats)))
        out.update(zip(cats, shades, strict=True))
    out.update({c: (0.94, 0.94, 0.94, 1) for c, _, s in EMERGING if s == "none"})
    return out


def emerging_map(villages: gpd.GeoDataFrame, categories: pd.Series, title: str, ax=None):
    """Emerging hot/cold spot categories."""
    cats = list(categories)
    colors = emerging_colors()
    legend = [(EMERGING_LABELS[k], colors[k]) for k in EMERGING_LABELS if k in set(cats)]
    return _categorical(villages, [colors[c] for c in cats], legend, title, ax)


def emerging_strip(
    gi_panel: pd.DataFrame,
    emerging: pd.DataFrame,
    id_col: str,
    labels: pd.Series,
    max_rows: int = 30,
):
    """Time strip: Gi* bins per quarter for the villages with a hot or cold pattern."""
    sel = emerging[emerging["category"] != "no pattern"].copy()
    sel["order"] = sel["category"].map({k: i for i, k in enumerate(EMERGING_LABELS)})
    sel = sel.sort_values(["order", id_col]).head(max_rows)
    m = gi_panel.pivot(index=id_col, columns="period", values="gi_bin").reindex(sel[id_col])
    fig, ax = plt.subplots(figsize=(10, 0.28 * max(len(m), 4) + 1.2))
    cmap = ListedColormap([GI_COLORS[b] for b in range(-3, 4)])
    ax.imshow(m.to_numpy(), cmap=cmap, vmin=-3.5, vmax=3.5, aspect="auto")
    ax.set_yticks(
        range(len(m)),
        [
            f"{labels.get(i, i)}（{EMERGING_LABELS[c]}）"
            for i, c in zip(m.index, sel["category"], strict=True)
        ],
        fontsize=7,
    )
    ax.set_xticks(range(len(m.columns)), list(m.columns), rotation=90, fontsize=7)
    ax.set_title("各季 Gi* 熱點／冷點（依新興熱點類型排序）")
    fig.tight_layout()
    return fig


def bivariate_map(
    villages: gpd.GeoDataFrame, risk: pd.Series, access: pd.Series, title: str, ax=None
):
    """3 × 3 bivariate map: risk (EB rate) tertiles against access-difficulty tertiles."""
    palette = [
        ["#e8e8e8", "#e4acac", "#c85a5a"],
        ["#b0d5df", "#ad9ea5", "#985356"],
        ["#64acbe", "#627f8c", "#574249"],
    ]  # rows: access low→high difficulty; columns: risk low→high
    if pd.Series(np.asarray(access, float)).isna().all():
        return rate_map(villages, access, title, "", ax)  # no access data: says so on the map
    r = pd.qcut(pd.Series(np.asarray(risk, float)).rank(method="first"), 3, labels=False).to_numpy()
    a = pd.qcut(
        pd.Series(np.asarray(access, float)).rank(method="first"), 3, labels=False
    ).to_numpy()
    colors = [palette[ai][ri] for ai, ri in zip(a, r, strict=True)]
    legend = [
        ("高風險、難到達", palette[2][2]),
        ("高風險、易到達", palette[0][2]),
        ("低風險、難到達", palette[2][0]),
        ("低風險、易到達", palette[0][0]),
    ]
    return _categorical(villages, colors, legend, title, ax)


def overlay_map(
    villages: gpd.GeoDataFrame,
    gi_bin: pd.Series,
    layers: dict,
    lines: gpd.GeoDataFrame | None,
    title: str,
    ax=None,
):
    """Hotspots with metro lines and stations, family-service centres and police precincts."""
    ax = hotspot_map(villages, gi_bin, title, ax)
    if lines is not None and len(lines):
        plot_layer(lines, ax, color="#444444", linewidth=1.0)
    styles = {
        "metro_station": ("o", "#000000", 6, "捷運站"),
        "family_service": ("*", "#7b3294", 40, "家庭服務中心"),
        "police_precinct": ("^", "#1a9641", 12, "派出所"),
    }
    handles = list(ax.get_legend().legend_handles) if ax.get_legend() else []
    area = None
    for key, (marker, color, size, label) in styles.items():
        g = layers.get(key)
        if g is None or not len(g):
            continue
        area = villages.union_all().buffer(500) if area is None else area
        g = g[g.geometry.within(area)]
        plot_layer(g, ax, marker=marker, color=color, markersize=size, zorder=5)
        handles.append(plt.Line2D([], [], marker=marker, color=color, linestyle="", label=label))
    ax.legend(handles=handles, loc="lower right", fontsize=7)
    return ax


def _classes(values: np.ndarray, bounds) -> np.ndarray:
    """Index of the first class whose upper bound exceeds each value (NaN → -1)."""
    v = np.asarray(values, float)
    idx = np.searchsorted(np.asarray([b for b, _, _ in bounds]), v, side="right")
    return np.where(np.isfinite(v), np.minimum(idx, len(bounds) - 1), -1)


def risk_map(villages: gpd.GeoDataFrame, risk: pd.DataFrame, title: str, ax=None):
    """Posterior relative risk in classes; hatched where the 90 % interval contains 1.

    ``risk`` is in the order of ``villages`` with ``rr_mean``, ``rr_low``, ``rr_high``.
    A value-suppressing reading: a colour is only as sure as its hatching says.
    """
    k = _classes(risk["rr_mean"], RISK_CLASSES)
    colors = [RISK_CLASSES[i][2] if i >= 0 else "#d9d9d9" for i in k]
    legend = [(label, c) for _, label, c in RISK_CLASSES if c in set(colors)]
    ax = _categorical(villages, colors, legend, title, ax)
    unsure = (risk["rr_low"] <= 1.0) & (risk["rr_high"] >= 1.0)
    if unsure.any():
        hatch(ax, villages.geometry[unsure.to_numpy()])
    handles = list(ax.get_legend().legend_handles) + [
        Patch(facecolor="white", edgecolor="#555555", hatch="////", label=UNCERTAIN_LABEL)
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=7)
    return ax


def probability_map(
    villages: gpd.GeoDataFrame, p_exceed: pd.Series, title: str, ax=None, above: float = 1.0
):
    """How sure we are that each village's risk is above the city average (``above=1``:
    P(RR > 1)) or half again above it (``above=1.5``: P(RR > 1.5)), in classes whose words
    say which."""
    classes = PROBABILITY_CLASSES if above == 1.0 else PROBABILITY_1_5_CLASSES
    k = _classes(p_exceed, classes)
    colors = [classes[i][2] if i >= 0 else "#d9d9d9" for i in k]
    legend = [(label, c) for _, label, c in classes if c in set(colors)]
    return _categorical(villages, colors, legend, title, ax)
