"""The public twin of the quarterly report: ``public/index.html`` with its rate map.

It shows only the disclosure-controlled tables it is given (counts 1–9 withheld, the
rest rounded to 5); the map comes with the table of what it shows, which the stage
writes beside the image so the audit can check the picture. Nothing here reads or
writes a file (``stages.report.write_public_page`` writes what these return).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from dv_analysis.disclosure import SUPPRESSED_LABEL
from dv_analysis.pages import labels as L
from dv_analysis.pages.credits import sources_html


def public_rate_map(boundaries, villages_public: pd.DataFrame, title: str):
    """Map of the published window rates: quintile classes, withheld villages in their own class.

    Returns the figure and exactly what it shows (the class of each village), which is
    published beside the image so the audit can check the table behind it.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from dv_analysis.pages import maps, show

    show.setup()
    geo = boundaries[["villcode", "townname", "villname", "geometry"]]
    g = geo.merge(
        villages_public[["villcode", "rate_incidents_w", "incidents_w_status"]],
        on="villcode",
        how="left",
    )
    rate = g["rate_incidents_w"].astype(float)
    withheld = rate.isna()
    classes = pd.Series(SUPPRESSED_LABEL, index=g.index, dtype=object)
    if (~withheld).sum() >= 5:
        q = pd.qcut(rate[~withheld].rank(method="first"), 5, labels=False)
        edges = rate[~withheld].groupby(q).agg(["min", "max"])
        labels = [f"{lo:.2f}–{hi:.2f}" for lo, hi in edges.to_numpy()]
        classes[~withheld] = [labels[int(k)] for k in q]
    else:
        labels = []
    colors = dict(
        zip(labels, plt.get_cmap("OrRd")(np.linspace(0.2, 0.9, len(labels))), strict=True)
    )
    colors[SUPPRESSED_LABEL] = (0.85, 0.85, 0.85, 1)
    fig, ax = plt.subplots(figsize=(6.5, 7.5))
    maps.plot_layer(g, ax, color=[colors[c] for c in classes], edgecolor="white", linewidth=0.2)
    ax.legend(
        handles=[Patch(color=colors[k], label=k) for k in [*labels, SUPPRESSED_LABEL]],
        title="每千人每季事件率（近四季）",
        loc="lower right",
        fontsize=7,
        title_fontsize=8,
    )
    maps.frame(ax, geo, title)
    fig.tight_layout()
    shown = pd.DataFrame(
        {
            "villcode": g["villcode"],
            "townname": g["townname"],
            "villname": g["villname"],
            "rate_class": classes,
        }
    )
    return fig, shown


def public_district_map(boundaries, districts_public: pd.DataFrame, title: str):
    """Map of the published district window rates (four classes): the figure and the
    class of each district it shows."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from dv_analysis.pages import maps, show

    show.setup()
    geo = boundaries[["villcode", "townname", "geometry"]]
    towns = geo.dissolve("townname").reset_index()[["townname", "geometry"]]
    g = towns.merge(districts_public[["townname", "rate_incidents_w"]], on="townname", how="left")
    rate = g["rate_incidents_w"].astype(float)
    classes = pd.Series(SUPPRESSED_LABEL, index=g.index, dtype=object)
    ok = rate.notna()
    labels: list[str] = []
    if ok.sum() >= 4:
        q = pd.qcut(rate[ok].rank(method="first"), 4, labels=False)
        edges = rate[ok].groupby(q).agg(["min", "max"])
        labels = [f"{lo:.2f}–{hi:.2f}" for lo, hi in edges.to_numpy()]
        classes[ok] = [labels[int(k)] for k in q]
    colors = dict(
        zip(labels, plt.get_cmap("OrRd")(np.linspace(0.25, 0.85, len(labels))), strict=True)
    )
    colors[SUPPRESSED_LABEL] = (0.85, 0.85, 0.85, 1)
    fig, ax = plt.subplots(figsize=(6.5, 7.5))
    maps.plot_layer(g, ax, color=[colors[c] for c in classes], edgecolor="white", linewidth=0.8)
    for r in g.itertuples():
        pt = r.geometry.representative_point()
        ax.annotate(r.townname, (pt.x, pt.y), ha="center", fontsize=8)
    ax.legend(
        handles=[
            Patch(color=colors[k], label=k)
            for k in [*labels, SUPPRESSED_LABEL]
            if k in set(classes)
        ],
        title="每千人每季事件率（近四季）",
        loc="lower right",
        fontsize=7,
        title_fontsize=8,
    )
    maps.frame(ax, geo, title)
    fig.tight_layout()
    return fig, pd.DataFrame({"townname": g["townname"], "rate_class": classes})


def _cell(v) -> str:
    """A published value: withheld, an integer with thousands separators, or text."""
    if pd.isna(v):
        return SUPPRESSED_LABEL
    if isinstance(v, (int, float, np.integer, np.floating)) and float(v).is_integer():
        return f"{int(v):,}"
    return html.escape(str(v))


def _html_table(table: pd.DataFrame) -> str:
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>"
        for r in table.itertuples(index=False)
    )
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    return f"<table><tr>{head}</tr>{rows}</table>"


def public_page(published, boundaries, hotspot_summary: dict | None, map_name: str):
    """The disclosure-controlled twin of the quarterly report: the HTML of
    ``public/index.html``, and its map (figure, table of what it shows).

    ``published`` holds the published, disclosure-controlled tables
    (:class:`dv_analysis.stages.report.Published`: ``period``, ``villages``, None at the
    default district level, ``districts`` and ``trends``); ``map_name`` is the image's
    file name beside the page.
    """
    period, villages, districts, trends = (
        published.period,
        published.villages,
        published.districts,
        published.trends,
    )
    if villages is not None:
        figure = public_rate_map(boundaries, villages, f"{period} 各里事件率（公開版）")
    else:
        figure = public_district_map(boundaries, districts, f"{period} 各行政區事件率（公開版）")
    n_hot = n_cold = None
    if hotspot_summary is not None:
        n_hot, n_cold = hotspot_summary["n_hot"], hotspot_summary["n_cold"]
    total = districts["incidents_q"].astype("Float64").sum()
    table = districts.rename(columns=L.PUBLIC_COUNT_LABELS)
    table = table[
        [c for c in table.columns if not c.endswith("_status") and c != "rate_incidents_w"]
    ]
    trend_table = trends.rename(
        columns={"townname": "行政區", **{c: c.removeprefix("incidents_") for c in trends.columns}}
    )
    level = "各里" if villages is not None else "各行政區"
    files = (
        ('<a href="open_data/villages.csv">各里</a>、' if villages is not None else "")
        + '<a href="open_data/districts.csv">各行政區</a>、<a href="open_data/district_trends.csv">各行政區歷季</a>'
    )
    points = [f"本季全市事件約 {int(total):,} 起（各區數字已四捨五入至 5 的倍數）。"]
    if n_hot is not None:
        points.append(
            f"事件率的熱點里 {n_hot} 個、冷點里 {n_cold} 個（Getis-Ord Gi*，已控制偽發現率）。"
        )
    page = f"""<!DOCTYPE html>
<html lang="zh-Hant"><head><meta charset="utf-8"><title>家庭暴力風險季報（公開版） {period}</title>
<style>body{{font-family:"Noto Sans CJK TC","Noto Sans TC","Microsoft JhengHei","PingFang TC",sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.6}}
table{{border-collapse:collapse}}td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}}th{{text-align:left}}
img{{max-width:100%}}@page{{size:A4;margin:15mm}}</style></head><body>
<h1>家庭暴力風險季報（公開版）{period}</h1>
<p>本頁為可公開的彙總統計，已經揭露控制：1 到 9 件不公開、其餘四捨五入到 5 的倍數；若某區只有一個里不公開，會再多遮蔽一個里。</p>
<h2>本季重點</h2><ul>{"".join(f"<li>{html.escape(p)}</li>" for p in points)}</ul>
<h2>{level}事件率</h2><img src="{map_name}" alt="{level}事件率地圖（公開版）">
<h2>各行政區</h2>{_html_table(table)}
<h2>各行政區趨勢（每季事件數）</h2>{_html_table(trend_table)}
<p>資料檔：{files}（含欄位說明）。</p>
<h2>說明</h2><ul><li>通報數不等於實際發生數；交通不便的地區可能較少被看見而低報，冷點不代表安全。</li>
<li>不含任何個案資料。</li></ul>
<h2>資料來源</h2>{sources_html()}
</body></html>"""
    return page, figure
