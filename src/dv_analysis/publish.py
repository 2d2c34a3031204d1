"""Publishable outputs: open-data tables through the disclosure policy, and quarter-over-quarter change.

Everything written under ``reports/<period>/public/`` goes through
:mod:`dv_analysis.disclosure`; nothing here takes a case-level table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import disclosure
from .features import COUNT_LABELS_ZH

VILLAGE_COUNTS = ("incidents_q", "notifications_q", "victims_q", "incidents_w")
VILLAGE_DICTIONARY = {
    "villcode": "村里代碼（內政部 11 碼）",
    "townname": "行政區",
    "villname": "里",
    "incidents_q": "本季家庭暴力事件數（同一被害人、同一類型 14 天內多次通報計為一起；四捨五入至 5 的倍數）",
    "notifications_q": "本季通報件數（四捨五入至 5 的倍數）",
    "victims_q": "本季被害人數（四捨五入至 5 的倍數）",
    "incidents_w": "近四季事件數（四捨五入至 5 的倍數）",
    "rate_incidents_w": "近四季每千人每季事件率（以公布的四捨五入值計算；數量過少時不公開）",
    "gi_bin": "Gi* 熱點等級：3/2/1 為 99%/95%/90% 信心熱點，-1/-2/-3 為冷點，0 為不顯著",
    "*_status": "空白表示已公開；「數量過少不公開」表示 1–9 件或為保護其他數字而不公開；「無資料」表示缺值",
}
DISTRICT_DICTIONARY = {
    "townname": "行政區",
    "pop_total": "人口（戶政司，季末）",
    "incidents_q": "本季事件數（由各里四捨五入值加總）",
    "notifications_q": "本季通報件數（由各里四捨五入值加總）",
    "victims_q": "本季被害人數（由各里四捨五入值加總）",
    "incidents_w": "近四季事件數（由各里四捨五入值加總）",
    "*_status": "空白表示已公開；「數量過少不公開」表示不公開",
}


def open_data(
    features: pd.DataFrame,
    hotspots: pd.DataFrame | None,
    policy: disclosure.Policy = disclosure.DEFAULT_POLICY,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Village and district open-data tables, disclosure-controlled; and the secondary-suppression log."""
    keys = features[["villcode", "townname", "villname"]].reset_index(drop=True)
    counts = features[list(VILLAGE_COUNTS)].reset_index(drop=True)
    groups = keys["townname"]
    prot = disclosure.protect(counts, groups, policy)
    villages = prot.to_publish(keys)
    pop_w = (features["pop_total"] * features["window_quarters"]).reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        villages["rate_incidents_w"] = (1000 * prot.values["incidents_w"] / pop_w).round(3)
    if hotspots is not None:
        villages["gi_bin"] = (
            keys[["villcode"]]
            .merge(hotspots[["villcode", "gi_bin"]], on="villcode", how="left")["gi_bin"]
            .astype("Int64")
        )
    tot = disclosure.totals(prot, groups)
    districts = tot.to_publish(
        pd.DataFrame({"townname": tot.values.index}, index=tot.values.index)
    ).reset_index(drop=True)
    pop = features.groupby("townname")["pop_total"].sum()
    districts.insert(1, "pop_total", districts["townname"].map(pop).astype(int))
    return villages, districts, prot.log


def write_open_data(paths, policy: disclosure.Policy = disclosure.DEFAULT_POLICY) -> list:
    """Write ``public/open_data/villages.csv`` and ``districts.csv`` with their data dictionaries."""
    feats = pd.read_parquet(paths.village_features)
    hot = pd.read_parquet(paths.hotspots) if paths.hotspots.exists() else None
    villages, districts, _ = open_data(feats, hot, policy)
    out = paths.open_data
    return [
        disclosure.write_public_csv(villages, out / "villages.csv", VILLAGE_DICTIONARY),
        disclosure.write_public_csv(districts, out / "districts.csv", DISTRICT_DICTIONARY),
    ]


def quarter_change(paths) -> pd.DataFrame:
    """Incidents per district this quarter and last quarter (from the village panel), with the change."""
    panel = pd.read_parquet(paths.village_panel)
    feats = pd.read_parquet(paths.village_features)[["villcode", "townname"]]
    cur, prev = str(paths.period), str(paths.period.previous())
    p = panel[panel["period"].isin([cur, prev])].merge(feats, on="villcode")
    t = p.pivot_table(
        index="townname", columns="period", values="incidents", aggfunc="sum"
    ).reindex(columns=[prev, cur])
    t = t.fillna(0).astype(int)
    t["change"] = t[cur] - t[prev]
    with np.errstate(divide="ignore", invalid="ignore"):
        t["change_pct"] = (100 * t["change"] / t[prev].replace(0, np.nan)).round(1)
    t = t.sort_values("change", ascending=False).reset_index()
    return t.rename(
        columns={
            "townname": "行政區",
            prev: f"{prev} 事件",
            cur: f"{cur} 事件",
            "change": "增減",
            "change_pct": "增減 %",
        }
    )


def highlights(paths) -> str:
    """The quarter's main points in plain Traditional Chinese (Markdown), from the aggregate outputs."""
    import json

    from .maps import EMERGING_ZH

    feats = pd.read_parquet(paths.village_features)
    lines = []
    change = quarter_change(paths)
    cur_col = [c for c in change.columns if c.endswith("事件")]
    if len(cur_col) == 2:
        prev_n, cur_n = int(change[cur_col[0]].sum()), int(change[cur_col[1]].sum())
        if prev_n:
            lines.append(
                f"- 本季全市事件 {cur_n:,} 起，上季 {prev_n:,} 起（{(cur_n - prev_n) / prev_n * 100:+.1f}%）。"
            )
        else:
            lines.append(f"- 本季全市事件 {cur_n:,} 起（沒有上季資料可比較）。")
    if paths.hotspot_summary.exists():
        hs = json.loads(paths.hotspot_summary.read_text(encoding="utf-8"))
        lines.append(
            f"- 熱點里 {hs['n_hot']} 個、冷點里 {hs['n_cold']} 個（Gi*，已控制偽發現率）。"
        )
    if paths.emerging_hotspots.exists():
        e = pd.read_parquet(paths.emerging_hotspots)["category"].value_counts()
        for k in (
            "new hot spot",
            "intensifying hot spot",
            "persistent hot spot",
            "diminishing hot spot",
        ):
            if e.get(k, 0):
                lines.append(f"- {EMERGING_ZH[k]}：{int(e[k])} 個里。")
    if paths.blind_spots.exists():
        b = pd.read_parquet(paths.blind_spots)
        lines.append(
            f"- 可能低報（事件少於預期且交通不便）的里：{int(b['blind_spot'].sum())} 個，詳見「交通可及性」頁。"
        )
    lines.append(f"- 全市 {len(feats)} 個里均納入分析，包括沒有任何事件紀錄的里。")
    return "\n".join(lines)


def open_data_preview(paths) -> pd.DataFrame:
    """The published district table as written (Chinese headers), for the report page."""
    t = pd.read_csv(
        paths.open_data / "districts.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False
    )
    labels = {**COUNT_LABELS_ZH, "incidents_w": "近四季事件"}
    return t.rename(columns={**labels, **{f"{k}_status": f"{v}備註" for k, v in labels.items()}})


def public_rate_map(paths, villages_public: pd.DataFrame, out_png) -> pd.DataFrame:
    """Map of the published window rates: quintile classes, withheld villages in their own class.

    Writes the PNG and, beside it, ``<png>.data.csv`` with exactly what the map shows
    (the class of each village), so the audit can check the table behind the image.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from . import display, maps, public

    display.setup()
    geo = public.load_boundaries(paths.settings)[["villcode", "townname", "villname", "geometry"]]
    g = geo.merge(
        villages_public[["villcode", "rate_incidents_w", "incidents_w_status"]],
        on="villcode",
        how="left",
    )
    rate = g["rate_incidents_w"].astype(float)
    withheld = rate.isna()
    classes = pd.Series("數量過少不公開", index=g.index, dtype=object)
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
    colors["數量過少不公開"] = (0.85, 0.85, 0.85, 1)
    fig, ax = plt.subplots(figsize=(6.5, 7.5))
    g.plot(ax=ax, color=[colors[c] for c in classes], edgecolor="white", linewidth=0.2, hatch=None)
    ax.legend(handles=[Patch(color=colors[k], label=k) for k in [*labels, "數量過少不公開"]], title="每千人每季事件率（近四季）",
              loc="lower right", fontsize=7, title_fontsize=8)  # fmt: skip
    maps._frame(ax, geo, f"{paths.period} 各里事件率（公開版）")
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    shown = pd.DataFrame(
        {
            "villcode": g["villcode"],
            "townname": g["townname"],
            "villname": g["villname"],
            "rate_class": classes,
        }
    )
    shown.to_csv(out_png.with_name(out_png.name + ".data.csv"), index=False, encoding="utf-8-sig")
    return shown


def public_page(paths, policy: disclosure.Policy = disclosure.DEFAULT_POLICY):
    """The disclosure-controlled twin of the quarterly report: ``public/index.html`` with its map and tables."""
    import html
    import json

    from .public import SOURCE_CREDITS

    feats = pd.read_parquet(paths.village_features)
    hot = pd.read_parquet(paths.hotspots) if paths.hotspots.exists() else None
    villages, districts, _ = open_data(feats, hot, policy)
    png = paths.public / "map_incident_rates.png"
    public_rate_map(paths, villages, png)
    n_hot = n_cold = None
    if paths.hotspot_summary.exists():
        hs = json.loads(paths.hotspot_summary.read_text(encoding="utf-8"))
        n_hot, n_cold = hs["n_hot"], hs["n_cold"]
    total = districts["incidents_q"].astype("Float64").sum()
    table = districts.rename(columns={**COUNT_LABELS_ZH, "incidents_w": "近四季事件"})
    table = table[[c for c in table.columns if not c.endswith("_status")]]
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{'數量過少不公開' if pd.isna(v) else html.escape(str(v))}</td>" for v in r)
        + "</tr>"
        for r in table.itertuples(index=False)
    )
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    points = [f"本季全市事件約 {int(total):,} 起（各區數字已四捨五入至 5 的倍數）。"]
    if n_hot is not None:
        points.append(
            f"事件率的熱點里 {n_hot} 個、冷點里 {n_cold} 個（Getis-Ord Gi*，已控制偽發現率）。"
        )
    page = f"""<!DOCTYPE html>
<html lang="zh-Hant"><head><meta charset="utf-8"><title>家庭暴力風險季報（公開版） {paths.period}</title>
<style>body{{font-family:"Noto Sans CJK TC","Noto Sans TC","Microsoft JhengHei","PingFang TC",sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.6}}
table{{border-collapse:collapse}}td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}}th{{text-align:left}}
img{{max-width:100%}}@page{{size:A4;margin:15mm}}</style></head><body>
<h1>家庭暴力風險季報（公開版）{paths.period}</h1>
<p>本頁為可公開的彙總統計，已經揭露控制：1 到 9 件不公開、其餘四捨五入到 5 的倍數；若某區只有一個里不公開，會再多遮蔽一個里。</p>
<h2>本季重點</h2><ul>{"".join(f"<li>{html.escape(p)}</li>" for p in points)}</ul>
<h2>各里事件率</h2><img src="{png.name}" alt="各里事件率地圖（公開版）">
<h2>各行政區</h2><table><tr>{head}</tr>{rows}</table>
<p>資料檔：<a href="open_data/villages.csv">各里</a>、<a href="open_data/districts.csv">各行政區</a>（含欄位說明）。</p>
<h2>說明</h2><ul><li>通報數不等於實際發生數；交通不便的地區可能較少被看見而低報，冷點不代表安全。</li>
<li>不含任何個案資料。</li></ul>
<h2>資料來源</h2><ul>{"".join(f"<li>{html.escape(s)}</li>" for s in SOURCE_CREDITS)}</ul>
</body></html>"""
    out = paths.public / "index.html"
    out.write_text(page, encoding="utf-8")
    return out
