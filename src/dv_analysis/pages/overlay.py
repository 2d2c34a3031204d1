"""The staff page of ``dv-analysis overlay``: two offline maps side by side (domestic-violence
risk; the layer, its hot spots and the bivariate clusters), the match report and plain
words on what co-location does and does not mean."""

from __future__ import annotations

import html

import geopandas as gpd
import pandas as pd

from dv_analysis.pages import labels as L
from dv_analysis.pages import labels_overlay as LO
from dv_analysis.pages.credits import sources_html
from dv_analysis.pages.interactive import class_colours, legend, quantile_classes, village_map

_STYLE = (
    "body{font-family:'Noto Sans CJK TC','Noto Sans TC','Microsoft JhengHei',sans-serif;"
    "max-width:84em;margin:1em auto;padding:0 1em;line-height:1.6}"
    ".maps{display:flex;flex-wrap:wrap;gap:1em}.maps>div{flex:1 1 28em;min-width:0}"
    ".caution{background:#fff4e5;border-left:4px solid #e08214;padding:.6em 1em}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .5em}"
    "td.n{text-align:right}h1,h2,p,td{overflow-wrap:anywhere}td.n{white-space:nowrap}"
)


def _table(df: pd.DataFrame, columns: dict[str, str]) -> str:
    """A small HTML table with zh-TW headers (numbers right-aligned)."""
    cols = [c for c in columns if c in df]
    head = "".join(f"<th>{html.escape(columns[c])}</th>" for c in cols)
    rows = []
    for r in df[cols].itertuples(index=False):
        cells = []
        for v in r:
            num = isinstance(v, (int, float)) and not isinstance(v, bool)
            text = f"{v:,}" if num and not isinstance(v, float) else str(v)
            if isinstance(v, float):
                text = f"{v:,.2f}" if v == v else "—"
            cells.append(f"<td class='n'>{text}</td>" if num else f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def match_table(match: dict) -> pd.DataFrame:
    """The match report as rows: how, reason, rows (every row of the file once)."""
    out = [
        {"how": LO.OVERLAY_HOW[h], "reason": "", "rows": n}
        for h, n in match["matched"].items()
        if h != "district_only"
    ]
    out += [
        {"how": LO.OVERLAY_HOW["district_only"], "reason": LO.OVERLAY_REASONS.get(r, r), "rows": n}
        for r, n in match.get("district_only", {}).items()
    ]
    out += [
        {"how": LO.OVERLAY_HOW["unmatched"], "reason": LO.OVERLAY_REASONS.get(r, r), "rows": n}
        for r, n in match["unmatched"].items()
    ]
    return pd.DataFrame(out, columns=["how", "reason", "rows"])


def _maps(result, villages: gpd.GeoDataFrame, layer: str) -> str:
    v = villages[["villcode", "townname", "villname", "geometry"]].reset_index(drop=True)
    t = v[["villcode"]].merge(result.villages, how="left")
    bv = v[["villcode"]].merge(result.bivariate, how="left") if len(result.bivariate) else None
    tips = [f"{r.townname} {r.villname}" for r in t.itertuples()]
    rate = quantile_classes(t["rate_eb"], LO.OVERLAY_LAYER_CLASSES, LO.OVERLAY_LAYER_COLOURS)
    hot = [LO.OVERLAY_HOT[bool(h)][1] if pd.notna(r) else "#e0e0e0" for h, r in zip(t["hotspot"], t["rate_eb"], strict=True)]  # fmt: skip
    right = {
        "rate": (LO.OVERLAY_MAPS["layer_rate"], class_colours(t["rate_eb"], rate), legend(rate)),
        "hot": (
            LO.OVERLAY_MAPS["layer_hot"],
            hot,
            [(c, lab) for lab, c in LO.OVERLAY_HOT.values()],
        ),
    }
    if bv is None:
        return f"<div class='maps'><div>{village_map(v, right, tips, layer)}</div></div>"
    colours = {k: c for k, _, c in LO.OVERLAY_BV}
    right["bivariate"] = (
        LO.OVERLAY_MAPS["bivariate"],
        [colours.get(c, "#e0e0e0") for c in bv["cluster"]],
        [(c, lab) for _, lab, c in LO.OVERLAY_BV],
    )
    left = {
        "risk": (
            LO.OVERLAY_MAPS["dv_risk"],
            class_colours(t["dv_rr_now"], L.RISK_CLASSES),
            legend(L.RISK_CLASSES),
        )
    }
    if "tier" in t:
        left["tier"] = (
            LO.OVERLAY_MAPS["tier"],
            [L.TIER_COLOURS[int(x)] if pd.notna(x) else "#e0e0e0" for x in t["tier"]],
            [(L.TIER_COLOURS[k], L.TIER_LABELS[k]) for k in (2, 1, 0)],
        )
    return (
        f"<div class='maps'><div>{village_map(v, left, tips, LO.OVERLAY_MAPS['dv_risk'])}</div>"
        f"<div>{village_map(v, right, tips, layer)}</div></div>"
    )


def _words(result, layer: str) -> list[str]:
    """The findings in plain words: the global and local co-location, the covariate."""
    s, out = result.summary, []
    bv = s["bivariate"]
    if "I" not in bv:
        return [LO.OVERLAY_NO_DV if "village_risk" in str(bv) else LO.OVERLAY_NO_VILLAGES]
    p_value = bv["p_spatial"] if bv.get("p_spatial") == bv.get("p_spatial") else bv["p_sim"]
    p_words = f"比觀察值更極端的比例 {L.percent(p_value)}"
    out.append(
        LO.OVERLAY_GLOBAL.format(
            layer=layer,
            direction=LO.OVERLAY_DIRECTION[bv["I"] > 0 and p_value <= bv["fdr"]],
            I=bv["I"],
            permutations=bv["permutations"],
            p=p_words,
        )
    )
    k = bv["local_clusters"]
    hh, ns = k.get("HH", 0), k.get("ns", 0)
    other = sum(k.values()) - hh - ns
    out.append(LO.OVERLAY_LOCAL.format(fdr=bv["fdr"], hh=hh, other=other, ns=ns))
    cov = s["covariate"]
    if "irr_per_sd" in cov:
        out.append(
            LO.OVERLAY_COVARIATE.format(
                layer=layer, irr=cov["irr_per_sd"], lo=cov["ci_low"], hi=cov["ci_high"]
            )
        )
    return out


def _accuracy(match: dict) -> str:
    rb = match.get("road_band")
    if not rb or not rb["held_out"] or not rb["held_out"][-1]["predicted"]:
        return ""
    acc = rb["held_out"][-1]
    rule = result_rule(rb["rule"])
    return LO.OVERLAY_ACCURACY.format(
        rows=rule[0],
        share=rule[1],
        correct=acc["correct"],
        n=acc["predicted"],
        acc=L.percent(acc["accuracy"]),
    )


def result_rule(text: str) -> tuple[int, float]:
    """(rows, share) back from the rule's description (``at least 2 rows … at least 80%``)."""
    import re

    rows = re.search(r"at least (\d+) rows", text)
    share = re.search(r"at least (\d+)% of them", text)
    return (int(rows.group(1)) if rows else 0, int(share.group(1)) / 100 if share else 0.0)


def overlay_page(result, villages: gpd.GeoDataFrame, layer: str) -> str:
    """The whole staff page (HTML, no request to any server)."""
    title = LO.OVERLAY_TITLE.format(layer=layer)
    m = result.match
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p class='caution'>{LO.OVERLAY_CAUTION}</p>"]
    if "window" in m.get("period", {}) and "last_complete_quarter" in m["period"]:
        parts.append(
            "<p>"
            + LO.OVERLAY_PERIOD.format(
                window=m["period"]["window"], last=m["period"]["last_complete_quarter"]
            )
            + "</p>"
        )
    parts += [f"<p>{html.escape(w)}</p>" for w in _words(result, layer)]
    gone = sorted(set(result.villages.loc[~result.villages["located"], "townname"]))
    if gone:
        parts.append(f"<p>{LO.OVERLAY_UNLOCATED.format(names='、'.join(gone))}</p>")
    parts.append(_maps(result, villages, layer))
    if len(result.colocation):
        c = result.colocation.assign(tier=result.colocation["tier"].map(L.TIER_LABELS))
        parts += ["<h2>圖層熱點與外展分級</h2>", _table(c, LO.OVERLAY_COLOCATION_COLUMNS)]
    parts += ["<h2>各行政區</h2>", _table(result.districts, LO.OVERLAY_DISTRICT_COLUMNS)]
    parts += [
        f"<h2>每一筆資料的去向（共 {m['rows']:,} 筆）</h2>",
        _table(match_table(m), LO.OVERLAY_MATCH_COLUMNS),
        f"<p>{html.escape(_accuracy(m))}</p>",
        "<h2>資料來源</h2>",
        sources_html(),
        f"<p>{html.escape(LO.OVERLAY_SOURCE.format(layer=layer))}</p>",
    ]
    return (
        "<!DOCTYPE html><html lang='zh-Hant'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )
