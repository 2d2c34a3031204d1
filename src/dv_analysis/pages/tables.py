"""Tables for staff pages, with zh-TW headers and values from :mod:`.labels`.

Every function takes aggregate tables (never case rows) and returns a frame ready for
:func:`dv_analysis.pages.show.table`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dv_analysis.pages import labels as L
from dv_analysis.pages.labels import percent  # noqa: F401 (pages read it from here too)


def accounting_table(summary: dict) -> pd.DataFrame:
    """Row accounting per file (aggregates only): 讀入 = 有效 + 重複 + 隔離."""

    def row(name, encoding, f, balanced) -> dict:
        return {
            "檔案": name,
            "編碼": encoding,
            "讀入列數": f["rows_read"],
            "有效": f["clean"],
            "重複": f["duplicate"],
            "隔離": f["quarantined"],
            "平衡": "✓" if balanced else "✗",
        }

    rows = [row(f["file"], f["encoding"], f, f["balanced"]) for f in summary["files"]]
    rows.append(row("合計", "", summary["totals"], summary["balanced"]))
    return pd.DataFrame(rows)


def reasons_table(summary: dict) -> pd.DataFrame:
    """Counts per duplicate and quarantine reason, with their labels."""
    rows = [
        {"類別": "重複", "原因": L.DUPLICATE_REASONS.get(k, k), "代碼": k, "列數": v}
        for k, v in summary["duplicate_reasons"].items()
    ]
    rows += [
        {"類別": "隔離", "原因": L.QUARANTINE_REASONS.get(k, k), "代碼": k, "列數": v}
        for k, v in summary["quarantine_reasons"].items()
    ]
    return pd.DataFrame(rows, columns=["類別", "原因", "代碼", "列數"])


def district_table(features: pd.DataFrame) -> pd.DataFrame:
    """Per-district totals of the quarter and the window, with rates per 1,000 residents per quarter."""
    g = features.groupby("townname").agg(
        villages=("villcode", "size"),
        pop_total=("pop_total", "sum"),
        notifications_q=("notifications_q", "sum"),
        incidents_q=("incidents_q", "sum"),
        victims_q=("victims_q", "sum"),
        incidents_w=("incidents_w", "sum"),
        person_quarters_w=("person_quarters_w", "sum"),
    )
    g["rate_incidents_w"] = 1000 * g["incidents_w"] / g["person_quarters_w"]
    g = g.sort_values("rate_incidents_w", ascending=False).reset_index()
    return g.drop(columns="person_quarters_w").rename(columns=L.DISTRICT_TABLE_LABELS)


def covariate_summary(features: pd.DataFrame) -> pd.DataFrame:
    """Distribution of the village covariates (mean, quartiles, maximum)."""
    cov = features[list(L.COVARIATE_SUMMARY)]
    desc = cov.describe().T[["mean", "25%", "50%", "75%", "max"]].round(3)
    desc.index = list(L.COVARIATE_SUMMARY.values())
    return desc.reset_index(names="指標")


def hot_villages_table(
    table: pd.DataFrame, villages: pd.DataFrame, emerging: pd.DataFrame
) -> pd.DataFrame:
    """Significant hot and cold villages with district, EB rate and emerging category."""
    t = table.merge(villages[["villcode", "townname", "villname"]], on="villcode")
    t = t.merge(emerging[["villcode", "category"]], on="villcode", how="left")
    t = t[t["gi_bin"] != 0].sort_values("gi_z", ascending=False)
    return pd.DataFrame(
        {
            "行政區": t["townname"],
            "里": t["villname"],
            "類別": t["gi_bin"].map(L.GI_BIN_LABELS),
            "Gi* z": t["gi_z"].round(2),
            "EB 事件率（每千人）": t["rate_eb"].round(3),
            "局部 Moran": t["lisa_cluster"],
            "跨季型態": t["category"].map(L.EMERGING_LABELS),
        }
    )


def scan_clusters_table(scan: pd.DataFrame, names: pd.Series) -> pd.DataFrame:
    """The scan clusters with the centre named (district and village) and zh-TW headers."""
    return scan.assign(
        centre=scan["centre"].map(names),
        kind=scan["kind"].map(L.SCAN_KINDS).fillna(scan["kind"]),
        significant=scan["significant"].map(L.YES_NO),
        observed=scan["observed"].round().astype(int),
    ).rename(columns=L.SCAN_COLUMNS)


def hard_to_reach_hot(
    risk: pd.DataFrame, hot: pd.DataFrame, access_quantile: float
) -> pd.DataFrame:
    """Hot spots whose access index is in the hardest ``1 − access_quantile`` of villages."""
    t = risk.merge(hot[["villcode", "gi_bin", "rate_eb"]], on="villcode")
    sel = t[(t["gi_bin"] > 0) & (t["access_index"] >= t["access_index"].quantile(access_quantile))]
    cols = L.HARD_TO_REACH_HOT_COLUMNS
    return sel[list(cols)].rename(columns=cols)


def irr_table(irr: pd.DataFrame) -> pd.DataFrame:
    """Risk factors per case type: IRR per standard deviation, 95% interval, p."""
    t = irr[irr["term"] != "const"]
    return t[list(L.IRR_COLUMNS)].rename(columns=L.IRR_COLUMNS)


def comparison_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """Poisson against negative binomial per case type (AIC, dispersion, residual Moran)."""
    t = comparison.assign(
        dispersion_meaning=comparison["model"].map(L.DISPERSION_MEANING),
        model=comparison["model"].map(L.COUNT_MODEL_LABELS),
    )
    return t[list(L.COMPARISON_COLUMNS)].rename(columns=L.COMPARISON_COLUMNS)


def prediction_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Next-quarter prediction scores with zh-TW headers."""
    return scores.rename(columns=L.PREDICTION_COLUMNS)


def blind_spot_table(table: pd.DataFrame) -> pd.DataFrame:
    """Villages flagged as possibly under-reported, with their evidence."""
    t = table[table["blind_spot"]].sort_values("p_lower")
    return pd.DataFrame(
        {
            "行政區": t["townname"],
            "里": t["villname"],
            "近期事件": t["incidents_w"].astype(int),
            "模型期望": t["expected"].round(1),
            "90% 區間": [
                f"{lo:.0f}–{hi:.0f}"
                for lo, hi in zip(t["expected_low90"], t["expected_high90"], strict=True)
            ],
            "觀察/期望": t["ratio"].round(2),
            "不便指數": t["access_index"].round(2),
            "最近捷運站（公尺）": t["dist_metro_station_m"].round(0),
            "500 公尺內有公車站的面積比例": t["bus_coverage_500m"].round(2),
            "最近家庭服務中心（公尺）": t["dist_family_service_m"].round(0),
        }
    )


def quarter_change(panel: pd.DataFrame, features: pd.DataFrame, period) -> pd.DataFrame:
    """Incidents per district this quarter and last quarter (from the village panel), with the change."""
    cur, prev = str(period), str(period.previous())
    p = panel[panel["period"].isin([cur, prev])].merge(
        features[["villcode", "townname"]], on="villcode"
    )
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


def published_districts(districts: pd.DataFrame) -> pd.DataFrame:
    """The published district table as written (zh-TW headers, status columns as 備註)."""
    labels = L.PUBLIC_COUNT_LABELS
    return districts.rename(
        columns={**labels, **{f"{k}_status": f"{v}備註" for k, v in labels.items()}}
    )


def _interval(m, lo, hi, digits: int = 2) -> str:
    return f"{m:.{digits}f}（{lo:.{digits}f}–{hi:.{digits}f}）"


def risk_table(
    risk: pd.DataFrame, villages: pd.DataFrame, quarters: int, top: int | None = 20
) -> pd.DataFrame:
    """Villages by how sure we are their present risk is 1.5 times the city's or more, then
    by present relative risk; ``quarters``: how many quarters the model's counts cover."""
    t = risk.merge(villages[["villcode", "townname", "villname"]], on="villcode")
    t = t[t["rr_now_mean"].notna()].sort_values(
        ["p_now_exceed_1_5", "rr_now_mean"], ascending=False
    )
    if top:
        t = t.head(top)
    out = t.assign(
        expected=t["expected"].round(1),
        rr_now=[
            _interval(*v)
            for v in zip(t["rr_now_mean"], t["rr_now_low"], t["rr_now_high"], strict=True)
        ],
        p_now_exceed_1=[percent(p) for p in t["p_now_exceed_1"]],
        p_now_exceed_1_5=[percent(p) for p in t["p_now_exceed_1_5"]],
        **_forecast(t),
    )
    names = {k: v.format(quarters=quarters) for k, v in L.RISK_TABLE_COLUMNS.items()}
    return out[list(names)].rename(columns=names)


def _forecast(t: pd.DataFrame) -> dict:
    """Next quarter's expected incidents and, apart, the 90 % predictive range of the count
    (the range holds the count itself, not only its mean: village_risk's next_low/high)."""
    return {
        "next_expected": [f"{m:.1f}" if pd.notna(m) else "—" for m in t["next_mean"]],
        "next_range": [
            f"{lo:.0f}–{hi:.0f}" if pd.notna(lo) else "—"
            for lo, hi in zip(t["next_low"], t["next_high"], strict=True)
        ],
    }


def priority_list(priority: pd.DataFrame, tier: int = 2) -> pd.DataFrame:
    """The villages of one ``tier`` of the outreach list in rank order, zh-TW headers and
    values."""
    t = priority[priority["tier"] == tier].sort_values("rank")
    out = t.assign(
        rank=t["rank"].astype(int),
        rr_now=[
            _interval(*v) if pd.notna(v[0]) else "—"
            for v in zip(t["rr_now_mean"], t["rr_now_low"], t["rr_now_high"], strict=True)
        ],
        p_now_exceed_1_5=[percent(p) for p in t["p_now_exceed_1_5"]],
        **_forecast(t),
        trend=t["trend"].fillna("—"),
    )
    return out[list(L.PRIORITY_TABLE_COLUMNS)].rename(columns=L.PRIORITY_TABLE_COLUMNS)


def under_reporting_list(priority: pd.DataFrame) -> pd.DataFrame:
    """Villages that may be under-reported, with their tier and reach of services."""
    t = priority[priority["under_reporting"]].sort_values("rank")
    cols = {
        "townname": "行政區",
        "villname": "里",
        "tier_label": "等級",
        "quadrant": "風險與可及性",
        "observed": "近期事件",
        "expected": "依人口預期",
    }
    return t.assign(observed=t["observed"].fillna(0).astype(int), expected=t["expected"].round(1))[
        list(cols)
    ].rename(columns=cols)


def backtest_table(comparison: pd.DataFrame, k: int) -> pd.DataFrame:
    """Every ranking on the backtest's later origins: excess capture, hit rate, PAI by
    population, PEI, and how much more the default captured, with its 90 % interval (no
    rows when the panel was too short to backtest)."""
    cols = {c: v.format(k=k) for c, v in L.BACKTEST_COLUMNS.items()}
    if comparison.empty:
        return pd.DataFrame(columns=list(cols.values()))
    c = comparison

    def diff(m, lo, hi):
        if not np.isfinite(m) or m == 0:
            return "—（預設）" if m == 0 else "—"
        rng = f"（{lo * 100:+.1f} 至 {hi * 100:+.1f}）" if np.isfinite(lo) else ""
        return f"{m * 100:+.1f} 個百分點{rng}"

    t = c.assign(
        ranking=c["ranking"].map(L.RANKING_LABELS),
        excess_capture=[f"{v:.0%}" if np.isfinite(v) else "—" for v in c["excess_capture"]],
        hit_rate=[f"{v:.1%}" for v in c["hit_rate"]],
        pai=c["pai"].round(1),
        pei=[f"{v:.0%}" for v in c["pei"]],
        difference=[
            diff(*v)
            for v in zip(c["difference"], c["difference_low"], c["difference_high"], strict=True)
        ],
        wins=[f"{w} / {n}" for w, n in zip(c["wins"], c["origins"], strict=True)],
    )
    return t[list(cols)].rename(columns=cols)


def reporting_changes_table(reporting: pd.DataFrame) -> pd.DataFrame:
    """The district, unit and quarter whose reports rose apart from the district's other
    units (a reporting change), with how many times what the others predict and how
    unlikely so large a gap is if reporting had not changed; ratios only, no counts."""
    t = reporting[reporting["changed"].astype(bool)].sort_values(["period", "district", "unit"])
    ratio = np.where(
        t["predicted"] > 0, t["observed"] / t["predicted"].where(t["predicted"] > 0), np.nan
    )
    out = t.assign(
        ratio=[f"{r:.1f} 倍" if np.isfinite(r) else "—" for r in ratio],
        p_value=[percent(p) for p in t["p_value"]],
    )
    cols = L.REPORTING_TABLE_COLUMNS
    return out[list(cols)].rename(columns=cols)
