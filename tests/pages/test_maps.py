"""Map helpers: one draw per figure, hatching as one path, county frames for all of Taiwan."""

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from shapely.geometry import box  # noqa: E402

from dv_analysis.pages import maps  # noqa: E402


def _grid(k: int, towns: int, counties: int = 1) -> gpd.GeoDataFrame:
    cells = [box(i, j, i + 1, j + 1) for i in range(k) for j in range(k)]
    n = len(cells)
    return gpd.GeoDataFrame(
        {
            "villcode": [f"v{i}" for i in range(n)],
            "townname": [f"t{i % towns}" for i in range(n)],
            "countyname": [f"c{i % counties}" for i in range(n)],
        },
        geometry=cells,
        crs="EPSG:3826",
    )


def test_plot_layer_does_not_redraw_the_figure_and_gives_draw_idle_back(monkeypatch):
    fig, ax = plt.subplots()
    draws = []
    monkeypatch.setattr(type(fig.canvas), "draw", lambda self, *a, **k: draws.append(1))
    _grid(3, 1).plot(ax=ax)  # geopandas alone redraws the whole figure after its layer
    assert draws == [1]
    maps.plot_layer(_grid(3, 1), ax, color="red")
    assert draws == [1], "no redraw for the layer"
    assert "draw_idle" not in vars(fig.canvas), "the canvas's own draw_idle is back"
    fig.canvas.draw_idle()
    assert draws == [1, 1]
    plt.close(fig)


def _painted(path, points, xlim=(0, 8), ylim=(0, 4)) -> list[bool]:
    """Whether Agg paints each point when it fills ``path`` (the rule the hatching follows)."""
    from matplotlib.patches import PathPatch

    fig, ax = plt.subplots(figsize=(8, 4), dpi=20)
    fig.subplots_adjust(0, 0, 1, 1)
    ax.set_xlim(*xlim), ax.set_ylim(*ylim), ax.set_axis_off()
    ax.add_patch(PathPatch(path, facecolor="black", linewidth=0))
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    h, w = rgba.shape[:2]
    return [
        bool(rgba[int(h * (1 - y / ylim[1])), int(w * x / xlim[1]), 0] < 128) for x, y in points
    ]


def test_hatch_is_one_patch_and_leaves_holes_out():
    fig, ax = plt.subplots()
    ring = box(0, 0, 4, 4).difference(box(1, 1, 3, 3))  # a village around another
    # the hole's ring turned the same way as the outer ring: nonzero filling would paint it
    same_way = type(ring)(ring.exterior.coords, [list(ring.interiors[0].coords)[::-1]])
    maps.hatch(ax, gpd.GeoSeries([same_way, box(5, 0, 6, 1)]))
    assert len(ax.patches) == 1
    path = ax.patches[0].get_path()
    assert _painted(path, [(0.5, 0.5), (5.5, 0.5), (2, 2), (7, 3)]) == [True, True, False, False]
    maps.hatch(ax, gpd.GeoSeries([], dtype="geometry"))
    assert len(ax.patches) == 1, "nothing to hatch, nothing added"
    plt.close(fig)


def test_frames_outline_counties_when_districts_are_too_many():
    few = _grid(4, towns=4, counties=2)
    many = _grid(9, towns=maps.MAX_DISTRICT_LABELS + 1, counties=3)
    for villages, labels in ((few, {"t0", "t1", "t2", "t3"}), (many, {"c0", "c1", "c2"})):
        fig, ax = plt.subplots()
        maps.frame(ax, villages, "title")
        assert {t.get_text() for t in ax.texts} == labels
        plt.close(fig)


def test_risk_map_draws_and_hatches_the_unsure_villages():
    v = _grid(4, towns=2)
    rr = np.linspace(0.5, 2.0, len(v))
    risk = pd.DataFrame({"rr_mean": rr, "rr_low": rr * 0.7, "rr_high": rr * 1.3})
    ax = maps.risk_map(v, risk, "title")
    unsure = ((risk["rr_low"] <= 1) & (risk["rr_high"] >= 1)).to_numpy()
    centres = [(c.x, c.y) for c in v.geometry.centroid]
    painted = _painted(ax.patches[-1].get_path(), centres, xlim=(0, 4), ylim=(0, 4))
    assert painted == unsure.tolist()
    ax.figure.savefig(__import__("io").BytesIO(), format="png")
    plt.close(ax.figure)


def test_outlines_are_kept_for_the_same_villages_and_made_anew_for_others():
    g = _grid(6, towns=3, counties=2)
    first = maps.outlines(g, "countyname")
    assert maps.outlines(g, "countyname") is first  # dissolved once
    fresh = g[["countyname", "geometry"]].dissolve("countyname").rename_axis("name").reset_index()
    assert first["name"].tolist() == fresh["name"].tolist()
    assert first.geometry.geom_equals(fresh.geometry).all()
    towns = maps.outlines(g, "townname")
    assert len(towns) == 3 and towns is not first
    part = maps.outlines(g.iloc[:12], "countyname")  # other villages: their own outlines
    assert part is not first and part.union_all().area == 12
    renamed = g.assign(countyname=[f"d{i % 2}" for i in range(len(g))])
    assert maps.outlines(renamed, "countyname")["name"].tolist() == ["d0", "d1"]
