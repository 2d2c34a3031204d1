"""The front page's blocks (05_report's staff page, ``staff/index.html``): highlights,
change since last quarter, the published table.

They take the period's aggregate outputs, read once by the stage
(:class:`dv_analysis.stages.report.ReportInputs`, here ``inputs``; never a case-level
table), and return text, tables and HTML: no file is read or written here.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from dv_analysis.pages import labels as L
from dv_analysis.pages.tables import percent, published_districts, quarter_change


def change_table(inputs) -> pd.DataFrame:
    """Incidents per district this quarter and last quarter, with the change."""
    feats = inputs.features[["villcode", "townname"]]
    return quarter_change(inputs.panel, feats, inputs.period)


def _change_line(change: pd.DataFrame) -> list[str]:
    cols = [c for c in change.columns if c.endswith("事件")]
    if len(cols) != 2:
        return []
    prev_n, cur_n = int(change[cols[0]].sum()), int(change[cols[1]].sum())
    if not prev_n:
        return [f"- 本季全市事件 {cur_n:,} 起（沒有上季資料可比較）。"]
    return [
        f"- 本季全市事件 {cur_n:,} 起，上季 {prev_n:,} 起（{(cur_n - prev_n) / prev_n * 100:+.1f}%）。"
    ]


def window_warning(features: pd.DataFrame) -> str:
    """A warning when the rolling window has fewer quarters with data than asked ('' if not)."""
    if "window_length" not in features:
        return ""
    have, asked = int(features["window_quarters"].iloc[0]), int(features["window_length"].iloc[0])
    if have >= asked:
        return ""
    return (
        f"**注意：近 {asked} 季中只有 {have} 季有資料**（其餘季別沒有通報匯出檔），"
        f"本報告的「近期」合計與比率只涵蓋這 {have} 季，與其他季的報告不能直接比較。"
    )


def highlights(inputs) -> str:
    """The quarter's main points in plain zh-TW (Markdown), from the aggregate outputs."""
    from dv_analysis.pages.data_quality import quality_line

    feats = inputs.features
    warning = window_warning(feats)
    quality = quality_line(getattr(inputs, "data_quality", None), inputs.period)
    lines = ([f"- {warning}"] if warning else []) + ([f"- {quality}"] if quality else [])
    lines += _change_line(change_table(inputs))
    if (ps := inputs.priority_summary) is not None:
        tiers = {int(k): v for k, v in ps["tiers"].items()}
        lines.append(
            f"- 下一季建議**優先關注 {tiers.get(2, 0)} 個里**、留意 {tiers.get(1, 0)} 個里；"
            f"近期明顯上升 {ps['emerging']} 個里（名單與原因見「外展優先名單」頁）。"
        )
    if (hs := inputs.hotspot_summary) is not None:
        lines.append(
            f"- 熱點里 {hs['n_hot']} 個、冷點里 {hs['n_cold']} 個（Gi*，已控制偽發現率）。"
        )
    if inputs.emerging is not None:
        e = inputs.emerging["category"].value_counts()
        for k in L.EMERGING_HIGHLIGHTS:
            if e.get(k, 0):
                lines.append(f"- {L.EMERGING_LABELS[k]}：{int(e[k])} 個里。")
    if (b := inputs.blind_spots) is not None:
        lines.append(
            f"- 可能低報（事件少於預期且交通不便）的里：{int(b['blind_spot'].sum())} 個，詳見「交通可及性」頁。"
        )
    lines.append(f"- 全市 {len(feats)} 個里均納入分析，包括沒有任何事件紀錄的里。")
    return "\n".join(lines)


def open_data_preview(inputs) -> pd.DataFrame:
    """The published district table as written (zh-TW headers), for the report page."""
    return published_districts(inputs.open_districts)


def quarter_sentences(inputs) -> str:
    """The quarter in three sentences: volume, change, what is new (Markdown)."""
    by_q = inputs.trends.groupby("period")["incidents"].sum()
    cur = str(inputs.period)
    n = int(by_q.get(cur, 0))
    year_ago = str(inputs.period.back(4))
    prev = str(inputs.period.previous())
    first = f"本季全市共 **{n:,} 起**家庭暴力事件"
    if year_ago in by_q.index and by_q[year_ago]:
        first += (
            f"，去年同季 {int(by_q[year_ago]):,} 起（{(n - by_q[year_ago]) / by_q[year_ago]:+.1%}）"
        )
    second = (
        f"與上季（{int(by_q[prev]):,} 起）相比{'增加' if n > by_q[prev] else '減少' if n < by_q[prev] else '持平'}"
        f" {abs(n - int(by_q[prev])):,} 起。"
        if prev in by_q.index
        else "沒有上季資料可比較。"
    )
    third = "本季沒有新出現的上升群聚。"
    if (ps := inputs.priority_summary) is not None:
        tiers = {int(k): v for k, v in ps["tiers"].items()}
        third = (
            f"早期預警發現 **{ps['emerging']} 個里**近期明顯上升；建議下一季優先關注 "
            f"**{tiers.get(2, 0)} 個里**（名單見下）。"
            if ps["emerging"]
            else f"沒有里出現明顯的新上升；建議下一季優先關注 **{tiers.get(2, 0)} 個里**（名單見下）。"
        )
    text = f"{first}。{second}{third}"
    if inputs.risk_summary is not None:  # the risk model's miss, loud on the page staff open first
        from dv_analysis.pages.summaries import diagnostics_warning

        warning = diagnostics_warning(inputs.risk_summary)
        text = f"{warning}\n\n{text}" if warning else text
    return text


def outreach_preview(inputs, top: int = 10) -> pd.DataFrame:
    """The first ``top`` villages of the outreach list (tier 2), as on 04b_priority."""
    from dv_analysis.pages.tables import priority_list

    return priority_list(inputs.priority, 2).head(top)


def index_map(inputs, villages) -> str:
    """The interactive village map of the front page (HTML): risk, P(RR > 1), tier,
    reach of services and possible under-reporting, with a tooltip per village."""
    from dv_analysis.pages.interactive import village_map

    v = villages[["villcode", "townname", "villname", "geometry"]].reset_index(drop=True)
    listed = [
        "villcode",
        "tier",
        "tier_label",
        "rank",
        "reasons",
        "access_index",
        "under_reporting",
    ]
    pr = v[["villcode"]].merge(inputs.priority[listed], on="villcode", how="left")
    now = ["villcode", "rr_now_mean", "rr_now_low", "rr_now_high", "p_now_exceed_1", "trend"]
    pr = pr.merge(inputs.risk[now], on="villcode", how="left")
    feats = v[["villcode"]].merge(
        inputs.features[["villcode", "incidents_w", "rate_incidents_w"]], on="villcode", how="left"
    )
    layers = _map_layers(pr)
    tips = [
        _tooltip(name, r, f)
        for name, r, f in zip(v.itertuples(), pr.itertuples(), feats.itertuples(), strict=True)
    ]
    return village_map(v, layers, tips, f"各里地圖 {inputs.period}")


def _map_layers(pr: pd.DataFrame) -> dict:
    """The map's layers: name → (title, colour of each village, legend)."""
    from dv_analysis.pages.interactive import class_colours, legend, quantile_classes

    access = quantile_classes(pr["access_index"], L.ACCESS_LABELS, L.ACCESS_COLOURS)
    return {
        "risk": (
            L.MAP_LAYERS["risk"],
            class_colours(pr["rr_now_mean"], L.RISK_CLASSES),
            legend(L.RISK_CLASSES),
        ),
        "probability": (
            L.MAP_LAYERS["probability"],
            class_colours(pr["p_now_exceed_1"], L.PROBABILITY_CLASSES),
            legend(L.PROBABILITY_CLASSES),
        ),
        "tier": (
            L.MAP_LAYERS["tier"],
            [L.TIER_COLOURS[int(t)] if pd.notna(t) else "#e0e0e0" for t in pr["tier"]],
            [(L.TIER_COLOURS[k], L.TIER_LABELS[k]) for k in (2, 1, 0)],
        ),
        "access": (
            L.MAP_LAYERS["access"],
            class_colours(pr["access_index"], access),
            legend(access),
        ),
        "blind": (
            L.MAP_LAYERS["blind"],
            [L.BLIND_SPOT_COLOURS[bool(b)] for b in pr["under_reporting"].fillna(False)],
            [(L.BLIND_SPOT_COLOURS[True], "可能低報"), (L.BLIND_SPOT_COLOURS[False], "其他")],
        ),
    }


def _tooltip(name, r, f) -> str:
    """One village's tooltip: its name, counts, present risk, tier and reasons."""
    lines = [f"{name.townname} {name.villname}"]
    if pd.notna(f.incidents_w):
        lines.append(
            f"近四季事件 {int(f.incidents_w):,} 起，每千人每季 {f.rate_incidents_w:.2f} 起"
        )
    if pd.notna(r.rr_now_mean):
        lines.append(
            f"目前（近一年）風險 {r.rr_now_mean:.2f} 倍"
            f"（90% 範圍 {r.rr_now_low:.2f}–{r.rr_now_high:.2f}），{r.trend}"
        )
        lines.append(f"高於全市的機率 {percent(r.p_now_exceed_1)}")
    if pd.notna(r.tier):
        lines.append(
            f"等級：{r.tier_label}" + (f"（第 {int(r.rank)} 順位）" if r.tier == 2 else "")
        )
    if isinstance(r.reasons, str) and r.reasons:
        lines.append(f"原因：{r.reasons}")
    return "\n".join(lines)


def trend_frame(inputs) -> pd.DataFrame:
    """City incidents per quarter and case type (rows: quarters; columns: case types and 合計)."""
    wide = inputs.trends.pivot_table(
        index="period", columns="case_type", values="incidents", aggfunc="sum"
    ).fillna(0)
    wide[L.TOTAL_LABEL] = wide.sum(axis=1)
    return wide.astype(int)


def district_trends(inputs, quarters: int = 8) -> pd.DataFrame:
    """Incidents per district over the last ``quarters`` quarters and the same quarter a year ago."""
    wide = inputs.trends.pivot_table(
        index="townname", columns="period", values="incidents", aggfunc="sum"
    ).fillna(0)
    cur = str(inputs.period)
    year_ago = str(inputs.period.back(4))
    cols = [c for c in wide.columns if c <= cur][-quarters:]
    out = wide[cols].astype(int)
    if year_ago in wide.columns:
        base = wide[year_ago].replace(0, np.nan)
        out["與去年同季相比"] = [
            f"{d:+.0%}" if np.isfinite(d) else "—" for d in (wide[cur] - wide[year_ago]) / base
        ]
    total = (
        out[cols]
        .sum()
        .to_frame()
        .T.assign(**({"與去年同季相比": "—"} if year_ago in wide.columns else {}))
    )
    total.index = [L.TOTAL_LABEL]
    return pd.concat([out, total]).rename_axis("行政區").reset_index()


def affected_tables(inputs) -> dict[str, pd.DataFrame]:
    """Who is affected this quarter: one cross-table per :data:`labels.AFFECTED_TABLES` entry,
    with totals; zh-TW labels."""
    a = inputs.affected
    out = {}
    for name, (title, row_label) in L.AFFECTED_TABLES.items():
        t = a[a["table"] == name]
        wide = (
            t.pivot_table(index="row", columns="column", values="count", aggfunc="sum")
            .fillna(0)
            .astype(int)
        )
        if name == "age":
            order = [k for k in L.AGE_GROUP_LABELS if k in wide.index]
            wide = wide.loc[order].rename(index=L.AGE_GROUP_LABELS)
        wide = wide.rename(index={"unknown": L.UNKNOWN_LABEL})
        wide[L.TOTAL_LABEL] = wide.sum(axis=1)
        wide.loc[L.TOTAL_LABEL] = wide.sum()
        out[title] = wide.rename_axis(row_label).reset_index()
    return out


#: Markers around the front page's notice of a missing add-on (added and removed by the
#: runner), one pair per add-on's stage (``plan``, ``caseload``): ``{stage}`` is filled in.
NOTICE_START, NOTICE_END = "<!-- dv-addon-notice{stage} -->", "<!-- /dv-addon-notice{stage} -->"


def with_addon_notice(page: str, stage: str, kind: str, reason: str, rerun: str) -> str:
    """The front page's HTML with one line at the top saying that the ``stage`` add-on
    (``plan``, ``caseload``) is not there this quarter (``kind``: ``failed``, ``pending`` or
    ``kept``, as :data:`labels.ADDON_NOTICES`), with the error's type and the command that
    completes it (an earlier line of the same add-on replaced; another add-on's kept)."""
    line = L.ADDON_NOTICES[kind].format(
        name=L.ADDON_NAMES.get(stage, stage), reason=html.escape(reason), rerun=html.escape(rerun)
    )
    start, end = NOTICE_START.format(stage=" " + stage), NOTICE_END.format(stage=" " + stage)
    block = (
        f'{start}<div class="dv-addon-notice" role="status" style="border:2px solid '
        f'#b2182b;padding:0.6em 1em;margin:1em 0;background:#fff5f0">{line}</div>{end}'
    )
    page = without_addon_notice(page, stage)
    return page.replace("<main>", "<main>" + block, 1) if "<main>" in page else block + page


def without_addon_notice(page: str, stage: str | None = None) -> str:
    """The front page's HTML without the notice of :func:`with_addon_notice` for ``stage``
    (every add-on's when None)."""
    tag = re.escape(" " + stage) if stage else r"(?: \w+)?"
    pattern = (
        re.escape(NOTICE_START.format(stage="@")).replace("@", tag)
        + ".*?"
        + re.escape(NOTICE_END.format(stage="@")).replace("@", tag)
    )
    return re.sub(pattern, "", page, flags=re.DOTALL)


def _kpi_cell(row, kind: str) -> str:
    """One KPI in words: a share as a percent with its 90 % range, days with one decimal;
    too few to say below :data:`labels.KPI_MIN_N`."""
    if not np.isfinite(row["value"]) or row["n"] < L.KPI_MIN_N:
        return L.KPI_FEW
    if kind == "days":
        fmt = "{:.1f}".format
    elif np.isfinite(row["high"]) and row["high"] < 0.1:
        fmt = "{:.1%}".format  # a small share: one decimal, so 0.6 % is not shown as 1 %
    else:
        fmt = "{:.0%}".format
    if not (np.isfinite(row["low"]) and np.isfinite(row["high"])):
        return fmt(row["value"])
    return L.KPI_RANGE.format(value=fmt(row["value"]), low=fmt(row["low"]), high=fmt(row["high"]))


def kpi_table(inputs, kpis=L.KPI_FRONT) -> pd.DataFrame:
    """The quarter's KPIs per district and for the city (rows), zh-TW headers; empty when
    the report has no KPIs."""
    k = getattr(inputs, "kpi", None)
    if k is None or k.empty:
        return pd.DataFrame()
    cur = k[(k["period"] == str(inputs.period)) & k["kpi"].isin(kpis)]
    cells = {
        (r.area, r.kpi): _kpi_cell(r._asdict(), L.KPI_LABELS[r.kpi][1])
        for r in cur.itertuples(index=False)
    }
    areas = ["city", *sorted(set(cur.loc[cur["level"] == "district", "area"]))]
    out = pd.DataFrame(
        [[cells.get((a, c), "—") for c in kpis] for a in areas],
        columns=[L.KPI_LABELS[c][0] for c in kpis],
    )
    out.insert(0, L.KPI_AREA, [L.KPI_CITY if a == "city" else a for a in areas])
    return out


def kpi_trend(inputs, kpis=L.KPI_FRONT) -> pd.DataFrame:
    """The city's KPIs over the quarters of ``kpi.parquet`` (rows: KPIs; columns: quarters),
    the values alone (their ranges are in :func:`kpi_table`)."""
    k = getattr(inputs, "kpi", None)
    if k is None or k.empty:
        return pd.DataFrame()
    city = k[(k["level"] == "city") & k["kpi"].isin(kpis)]
    periods = sorted(set(city["period"]))
    cells = {
        (r.kpi, r.period): _kpi_cell(r._asdict(), L.KPI_LABELS[r.kpi][1]).split("（")[0]
        for r in city.itertuples(index=False)
    }
    out = pd.DataFrame([[cells.get((c, p), "—") for p in periods] for c in kpis], columns=periods)
    out.insert(0, "指標", [L.KPI_LABELS[c][0] for c in kpis])
    return out


def kpi_note() -> str:
    """How to read the KPI tables (Markdown)."""
    return L.KPI_NOTE
