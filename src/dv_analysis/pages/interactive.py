"""An interactive village map that works offline from a file: inline SVG and a little JavaScript.

No tiles, no library from the internet, no request of any kind: the village outlines
(simplified) and district borders are drawn as SVG paths, each village carries its
numbers in ``data-*`` attributes, and about eighty lines of plain JavaScript give a
tooltip on hover or tap, zoom (wheel, buttons, pinch by the browser) and pan (drag), and
layers to switch (each layer's colours are computed here, the script only swaps them).
Chosen over folium (Leaflet's JavaScript and CSS come from a CDN) and Plotly (3.5 MB of
inlined JavaScript): the whole map of Taipei's 456 villages weighs about 250 kB.
"""

from __future__ import annotations

import html
import json
import uuid

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dv_analysis.pages.labels import NO_DATA


def _path(geom, x0: float, y1: float, scale: float) -> str:
    """SVG path data of a (multi)polygon in the map's pixel space (y flipped)."""
    parts = []
    polys = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
    for poly in polys:
        for ring in [poly.exterior, *poly.interiors]:
            xy = np.asarray(ring.coords)
            px = (xy[:, 0] - x0) * scale
            py = (y1 - xy[:, 1]) * scale
            pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))
            parts.append(f"M{pts}Z")
    return "".join(parts)


def village_map(
    villages: gpd.GeoDataFrame,
    layers: dict[str, tuple[str, list[str], list[tuple[str, str]]]],
    tooltips: list[str],
    title: str,
    width: int = 900,
    tolerance: float = 15.0,
) -> str:
    """The HTML of an offline interactive map.

    Parameters
    ----------
    villages : geopandas.GeoDataFrame
        Village polygons in a projected CRS (metres), with ``townname``.
    layers : dict
        Layer key → (button label, one colour per village, legend entries (colour, label)).
    tooltips : list of str
        One text per village (lines separated by ``\\n``), shown on hover or tap.
    title : str
        Accessible title of the map.
    width : int
        Width of the drawing in SVG units (it scales to the page).
    tolerance : float
        Simplification of the outlines in metres.

    Returns
    -------
    str
        A self-contained ``<div>`` with the SVG, the controls and the script.
    """
    g = villages.reset_index(drop=True)
    geoms = shapely.simplify(g.geometry.to_numpy(), tolerance, preserve_topology=True)
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    scale = width / (x1 - x0)
    height = (y1 - y0) * scale
    uid = "m" + uuid.uuid5(uuid.NAMESPACE_URL, title).hex[:8]
    first = next(iter(layers))
    paths = []
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        colours = json.dumps({k: v[1][i] for k, v in layers.items()}, ensure_ascii=False)
        paths.append(
            f'<path class="v" d="{_path(geom, x0, y1, scale)}" fill="{layers[first][1][i]}" '
            f"data-c='{html.escape(colours)}' data-t=\"{html.escape(tooltips[i])}\"/>"
        )
    towns = g.assign(geometry=geoms).dissolve("townname").geometry
    borders = "".join(
        f'<path class="d" d="{_path(geom, x0, y1, scale)}"/>'
        for geom in shapely.simplify(towns.to_numpy(), tolerance * 2)
    )
    legends = {
        k: "".join(
            f'<span><i style="background:{c}"></i>{html.escape(lab)}</span>' for c, lab in v[2]
        )
        for k, v in layers.items()
    }
    buttons = "".join(
        f'<label><input type="radio" name="{uid}-layer" value="{k}"{" checked" if k == first else ""}>'
        f"{html.escape(v[0])}</label>"
        for k, v in layers.items()
    )
    return _TEMPLATE.format(
        uid=uid,
        title=html.escape(title),
        w=width,
        h=f"{height:.0f}",
        paths="".join(paths),
        borders=borders,
        buttons=buttons,
        legends=html.escape(json.dumps(legends, ensure_ascii=False)),
        first_legend=legends[first],
    )


def class_colours(values, classes) -> list[str]:
    """Colour of each value by upper bounds ``classes`` ((bound, label, colour), ...); grey if NaN."""
    out = []
    for v in values:
        if v is None or not np.isfinite(v):
            out.append("#e0e0e0")
            continue
        out.append(next(c for bound, _, c in classes if v < bound))
    return out


def legend(classes) -> list[tuple[str, str]]:
    return [(c, lab) for _, lab, c in classes]


def quantile_classes(values, labels: list[str], colours: list[str]) -> list[tuple[float, str, str]]:
    """Upper bounds at the quantiles of ``values`` splitting them into ``len(labels)`` groups."""
    v = pd.Series(values, dtype=float).dropna()
    if not len(v):  # e.g. a layer that does not cover the city
        return [(float("inf"), NO_DATA, "#e0e0e0")]
    qs = np.quantile(v, np.linspace(0, 1, len(labels) + 1)[1:-1])
    bounds = [*qs, float("inf")]
    return list(zip(bounds, labels, colours, strict=True))


_TEMPLATE = """
<div class="ivmap" id="{uid}">
<style>
#{uid} {{ position: relative; max-width: 100%; font-size: 14px; }}
#{uid} .bar {{ display: flex; flex-wrap: wrap; gap: 6px 14px; align-items: center; margin: 4px 0; }}
#{uid} .bar label {{ white-space: nowrap; cursor: pointer; }}
#{uid} .bar button {{ min-width: 2.2em; padding: 2px 8px; }}
#{uid} svg {{ width: 100%; height: auto; border: 1px solid #ccc; background: #f7f7f7; touch-action: none; cursor: grab; }}
#{uid} path.v {{ stroke: #fff; stroke-width: 0.4; vector-effect: non-scaling-stroke; }}
#{uid} path.v:hover, #{uid} path.v.on {{ stroke: #000; stroke-width: 2; }}
#{uid} path.d {{ fill: none; stroke: #333; stroke-width: 1.2; vector-effect: non-scaling-stroke; pointer-events: none; }}
#{uid} .legend {{ display: flex; flex-wrap: wrap; gap: 4px 12px; margin: 4px 0; font-size: 13px; }}
#{uid} .legend i {{ display: inline-block; width: 14px; height: 14px; margin-right: 4px; vertical-align: -2px; border: 1px solid #999; }}
#{uid} .tip {{ position: absolute; display: none; pointer-events: none; background: #fff; border: 1px solid #555;
  padding: 6px 8px; white-space: pre-line; box-shadow: 0 2px 6px rgba(0,0,0,.25); max-width: 320px; z-index: 10; font-size: 13px; }}
@media print {{ #{uid} .bar {{ display: none; }} }}
</style>
<div class="bar" role="radiogroup" aria-label="圖層">{buttons}
<span><button type="button" data-z="1.5" aria-label="放大">＋</button><button type="button" data-z="0.667" aria-label="縮小">－</button><button type="button" data-z="0" aria-label="重設">重設</button></span></div>
<div class="legend" data-legends="{legends}">{first_legend}</div>
<svg viewBox="0 0 {w} {h}" role="img" aria-label="{title}"><g>{paths}{borders}</g></svg>
<div class="tip" role="tooltip"></div>
<script>
(function () {{
  var root = document.getElementById("{uid}"), svg = root.querySelector("svg"), tip = root.querySelector(".tip");
  var legend = root.querySelector(".legend"), legends = JSON.parse(legend.getAttribute("data-legends"));
  var W = {w}, H = {h}, vb = [0, 0, W, H];
  function setView() {{ svg.setAttribute("viewBox", vb.join(" ")); }}
  function zoom(f, cx, cy) {{
    if (!f) {{ vb = [0, 0, W, H]; return setView(); }}
    var w = vb[2] / f, h = vb[3] / f;
    if (w > W) {{ w = W; h = H; }}
    cx = cx === undefined ? vb[0] + vb[2] / 2 : cx; cy = cy === undefined ? vb[1] + vb[3] / 2 : cy;
    vb = [cx - (cx - vb[0]) * w / vb[2], cy - (cy - vb[1]) * h / vb[3], w, h]; setView();
  }}
  function toSvg(e) {{
    var r = svg.getBoundingClientRect();
    return [vb[0] + (e.clientX - r.left) / r.width * vb[2], vb[1] + (e.clientY - r.top) / r.height * vb[3]];
  }}
  svg.addEventListener("wheel", function (e) {{
    e.preventDefault(); var p = toSvg(e); zoom(e.deltaY < 0 ? 1.25 : 0.8, p[0], p[1]);
  }}, {{ passive: false }});
  var drag = null;
  svg.addEventListener("pointerdown", function (e) {{ drag = [e.clientX, e.clientY, vb[0], vb[1], false]; }});
  window.addEventListener("pointerup", function () {{ drag = null; }});
  svg.addEventListener("pointermove", function (e) {{
    if (!drag) return;
    var r = svg.getBoundingClientRect(), dx = e.clientX - drag[0], dy = e.clientY - drag[1];
    if (Math.abs(dx) + Math.abs(dy) > 4) drag[4] = true;
    if (!drag[4]) return;
    vb[0] = drag[2] - dx / r.width * vb[2]; vb[1] = drag[3] - dy / r.height * vb[3]; setView();
  }});
  root.querySelectorAll("button[data-z]").forEach(function (b) {{
    b.addEventListener("click", function () {{ zoom(parseFloat(b.getAttribute("data-z"))); }});
  }});
  var current = null;
  function show(p, e) {{
    if (current) current.classList.remove("on");
    current = p; p.classList.add("on");
    tip.textContent = p.getAttribute("data-t"); tip.style.display = "block";
    var r = root.getBoundingClientRect(), x = e.clientX - r.left + 12, y = e.clientY - r.top + 12;
    if (x + tip.offsetWidth > r.width) x = Math.max(0, r.width - tip.offsetWidth);
    tip.style.left = x + "px"; tip.style.top = y + "px";
  }}
  function hide() {{ if (current) current.classList.remove("on"); current = null; tip.style.display = "none"; }}
  root.querySelectorAll("path.v").forEach(function (p) {{
    p.addEventListener("mousemove", function (e) {{ show(p, e); }});
    p.addEventListener("mouseleave", hide);
    p.addEventListener("click", function (e) {{ if (!drag || !drag[4]) show(p, e); }});
  }});
  root.querySelectorAll("input[type=radio]").forEach(function (r) {{
    r.addEventListener("change", function () {{
      root.querySelectorAll("path.v").forEach(function (p) {{ p.setAttribute("fill", JSON.parse(p.getAttribute("data-c"))[r.value]); }});
      legend.innerHTML = legends[r.value];
    }});
  }});
}})();
</script>
</div>
"""
