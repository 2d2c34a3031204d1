"""The quarterly report's own blocks: highlights, change since last quarter, the published table.

They read the period's aggregate outputs (never a case-level table) through the paths.
"""

from __future__ import annotations

import json

import pandas as pd

from . import labels as L
from .tables import published_districts, quarter_change


def change_table(paths) -> pd.DataFrame:
    """Incidents per district this quarter and last quarter, with the change."""
    panel = pd.read_parquet(paths.village_panel)
    feats = pd.read_parquet(paths.village_features, columns=["villcode", "townname"])
    return quarter_change(panel, feats, paths.period)


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


def highlights(paths) -> str:
    """The quarter's main points in plain zh-TW (Markdown), from the aggregate outputs."""
    feats = pd.read_parquet(
        paths.village_features, columns=["villcode", "window_quarters", "window_length"]
    )
    warning = window_warning(feats)
    lines = ([f"- {warning}"] if warning else []) + _change_line(change_table(paths))
    if paths.priority_summary.exists():
        ps = json.loads(paths.priority_summary.read_text(encoding="utf-8"))
        tiers = {int(k): v for k, v in ps["tiers"].items()}
        lines.append(
            f"- 下一季建議**優先關注 {tiers.get(2, 0)} 個里**、留意 {tiers.get(1, 0)} 個里；"
            f"近期明顯上升 {ps['emerging']} 個里（名單與原因見「外展優先名單」頁）。"
        )
    if paths.hotspot_summary.exists():
        hs = json.loads(paths.hotspot_summary.read_text(encoding="utf-8"))
        lines.append(
            f"- 熱點里 {hs['n_hot']} 個、冷點里 {hs['n_cold']} 個（Gi*，已控制偽發現率）。"
        )
    if paths.emerging_hotspots.exists():
        e = pd.read_parquet(paths.emerging_hotspots)["category"].value_counts()
        for k in L.EMERGING_HIGHLIGHTS:
            if e.get(k, 0):
                lines.append(f"- {L.EMERGING_LABELS[k]}：{int(e[k])} 個里。")
    if paths.blind_spots.exists():
        b = pd.read_parquet(paths.blind_spots)
        lines.append(
            f"- 可能低報（事件少於預期且交通不便）的里：{int(b['blind_spot'].sum())} 個，詳見「交通可及性」頁。"
        )
    lines.append(f"- 全市 {len(feats)} 個里均納入分析，包括沒有任何事件紀錄的里。")
    return "\n".join(lines)


def open_data_preview(paths) -> pd.DataFrame:
    """The published district table as written (zh-TW headers), for the report page."""
    t = pd.read_csv(
        paths.open_data / "districts.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False
    )
    return published_districts(t)
