"""Data quality by reporting unit: the analyst's internal page (``internal/data_quality.html``)
and the front page's one line when a unit is flagged.

They take ``data_quality.parquet`` as a frame (aggregates per unit and quarter, never a
case row) and the quarter's quarantined rows counted by unit and reason; no file is read
or written here.
"""

from __future__ import annotations

import html

import pandas as pd

from dv_analysis.pages import labels as L

_SHARES = ("located_code", "located_names", "located_xy", "unlocatable", "missing_age",
           "missing_incident_date", "district_share_max")  # fmt: skip

_STYLE = """
body{font-family:"Noto Sans CJK TC","Noto Sans TC",sans-serif;margin:1em auto;max-width:1200px;
padding:0 1em;color:#222;line-height:1.5}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}
.wrap{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:0.9em;margin:0.5em 0}
th,td{border:1px solid #ccc;padding:0.25em 0.5em;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
tr.flag td{background:#fde0dd}
.note{color:#555}
"""


def reasons_in_words(reason: str) -> str:
    """A flag's ``reason`` codes (``unlocatable+;rows-``) in plain words, joined by 、."""
    codes = [c for c in str(reason).split(";") if c]
    return "、".join(L.DQ_REASONS.get(c, c) for c in codes)


def quality_line(quality: pd.DataFrame | None, period) -> str:
    """The front page's line (Markdown) when a unit of ``period`` is flagged, else ""."""
    if quality is None or quality.empty:
        return ""
    now = quality[(quality["period"] == str(period)) & quality["flagged"].astype(bool)]
    if now.empty:
        return ""
    units = "、".join(now["unit"].astype(str))
    what = "；".join(
        f"{u}：{reasons_in_words(r)}" for u, r in zip(now["unit"], now["reason"], strict=True)
    )
    return L.DQ_FRONT_LINE.format(units=units, what=what)


def history_table(quality: pd.DataFrame) -> pd.DataFrame:
    """Every unit and quarter, shares as percents, the reason in words (zh-TW headers)."""
    t = quality.sort_values(["unit", "period"]).copy()
    for c in _SHARES:
        t[c] = [f"{v:.1%}" for v in t[c].astype(float)]
    t["flagged"] = t["flagged"].map({True: "需檢查", False: ""})
    t["reason"] = t["reason"].map(reasons_in_words)
    return t.rename(columns=L.DQ_COLUMNS)


def _html_table(t: pd.DataFrame, flagged: list[bool] | None = None) -> str:
    """A plain HTML table (rows of ``flagged`` shaded), scrolling sideways on a phone."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in t.columns)
    flags = flagged if flagged is not None else [False] * len(t)
    rows = "".join(
        ('<tr class="flag">' if f else "<tr>")
        + "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
        + "</tr>"
        for f, row in zip(flags, t.itertuples(index=False), strict=True)
    )
    return f'<div class="wrap"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def quality_page(quality: pd.DataFrame, period, quarantine_by_unit: pd.DataFrame) -> str:
    """The internal page the analyst reads before trusting a quarter (HTML)."""
    cur = quality[quality["period"] == str(period)]
    flagged = cur[cur["flagged"].astype(bool)]
    parts = [
        f"<h1>{html.escape(L.DQ_TITLE)}：{html.escape(str(period))}</h1>",
        f'<p class="note">{html.escape(L.DQ_INTRO)}</p>',
        f"<h2>{html.escape(L.DQ_FLAGGED_TITLE)}</h2>",
    ]
    if flagged.empty:
        parts.append(f"<p>{html.escape(L.DQ_NONE)}</p>")
    else:
        items = "".join(
            f"<li><b>{html.escape(str(u))}</b>：{html.escape(reasons_in_words(r))}</li>"
            for u, r in zip(flagged["unit"], flagged["reason"], strict=True)
        )
        parts.append(f"<ul>{items}</ul>")
    qt = quarantine_by_unit.rename(columns={**L.QUARANTINE_REASONS, "unit": L.DQ_COLUMNS["unit"]})
    now = cur.sort_values("unit")
    parts += [
        f"<h2>{html.escape(L.DQ_QUARTER_TITLE)}</h2>",
        _html_table(history_table(now), now["flagged"].astype(bool).tolist()),
        f"<h2>{html.escape(L.DQ_QUARANTINE_TITLE)}</h2>",
        _html_table(qt),
    ]
    hist = quality.sort_values(["unit", "period"])
    parts += [
        f"<h2>{html.escape(L.DQ_HISTORY_TITLE)}</h2>",
        _html_table(history_table(hist), hist["flagged"].astype(bool).tolist()),
    ]
    return (
        '<!DOCTYPE html><html lang="zh-Hant"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(L.DQ_TITLE)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{''.join(parts)}</main></body></html>"
    )
