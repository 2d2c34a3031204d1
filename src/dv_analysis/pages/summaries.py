"""What each page found, in plain zh-TW sentences for staff (Markdown).

Every function takes aggregates (summaries, village tables, statistics) and returns
text; the words for codes and categories come from :mod:`.labels`.
"""

from __future__ import annotations

import pandas as pd

from dv_analysis.pages import labels as L
from dv_analysis.pages.tables import district_table

#: The caveat every page about counts carries.
UNDER_REPORTING_CAVEAT = (
    "注意：通報數不等於實際發生數；偏遠、交通不便的里可能因較少被看見而低報，冷點不代表安全。"
)


def cleaning_summary(summary: dict) -> str:
    """What came in and what was kept, from the cleaning summary."""
    t, c = summary["totals"], summary["counts"]
    q = summary["quarantine_reasons"]
    top = "、".join(
        f"{L.QUARANTINE_REASONS.get(k, k)} {v:,} 列"
        for k, v in sorted(q.items(), key=lambda kv: -kv[1])[:3]
    )
    text = (
        f"**{summary['period']}** 共讀入 {len(summary['files'])} 個匯出檔、{t['rows_read']:,} 列："
        f"有效通報 {t['clean']:,} 列，重複 {t['duplicate']:,} 列（已合併，不重複計算），"
        f"隔離 {t['quarantined']:,} 列（待人工檢查）。每個檔案的 讀入 = 有效 + 重複 + 隔離 均已核對無誤。\n\n"
        f"有效通報歸為 {c['incidents']:,} 起事件、{c['victims']:,} 位被害人，分布於 {c['villages_with_notifications']:,} 個里。"
    )
    if top:
        text += f"\n\n隔離的主要原因：{top}。"
    return text


def features_summary(features: pd.DataFrame, period: str) -> str:
    """The quarter's counts and the district with the highest window rate."""
    q = int(features["window_quarters"].iloc[0])
    n_zero = int((features["incidents_w"] == 0).sum())
    top = district_table(features).iloc[0]
    return (
        f"**{period}** 全市 {len(features)} 個里共有通報 {int(features['notifications_q'].sum()):,} 件、"
        f"事件 {int(features['incidents_q'].sum()):,} 起、被害人 {int(features['victims_q'].sum()):,} 位。"
        f"以近 {q} 季合計計算，事件率最高的行政區是 **{top['行政區']}**"
        f"（每千人每季 {top['每千人每季事件率（視窗）']:.2f} 起）；有 {n_zero} 個里近 {q} 季沒有任何事件紀錄"
        "——沒有紀錄不等於沒有發生，偏遠地區可能較少被通報。"
    )


def population_note(population: pd.DataFrame) -> str:
    """Register villages missing from the boundaries and where their people went ('' if none).

    ``population`` is :func:`dv_analysis.layers.load_population`'s frame with its join
    report, so the mismatch is reported on the page, not only in a log.
    """
    rep = population.attrs.get("join_report")
    unmatched = population[~population["in_boundaries"]]
    if unmatched.empty or rep is None:
        return ""
    moved = rep.methods.get("reassigned_people", 0)
    left = rep.methods.get("people_in_districts_without_polygons", 0)
    text = (
        f"戶政人口資料（{rep.layer.split()[-1]}）有 {len(unmatched)} 個里不在 2021 年村里界圖中"
        f"（村里合併或重劃），共 {int(unmatched['pop_total'].sum()):,} 人；"
        f"依規則併入同一行政區的里：{moved:,} 人，沒有人被遺漏。"
    )
    if left:
        text += f"另有 {left:,} 人所屬行政區在界圖中沒有任何里，只計入總數。"
    return text


def moran_sentence(m) -> str:
    """A global Moran result (:class:`dv_analysis.stats.detection.autocorrelation.GlobalMoran`) in one clause."""
    sig = "顯著" if (m.p_sim if m.p_sim is not None else m.p_norm) < 0.05 else "不顯著"
    kind = "EB 標準化 " if m.eb else ""
    return f"{kind}Moran's I = {m.I:.3f}（期望值 {m.expected:.3f}，z = {m.z_norm:.2f}，{sig}）"


def hotspot_summary(result, emerging: pd.DataFrame | None, names: pd.Series) -> str:
    """What the hotspot analysis found (an :class:`~dv_analysis.stats.detection.areas.AreaResult`)."""
    t = result.table
    hot, cold = t[t["gi_bin"] > 0], t[t["gi_bin"] < 0]
    sig = "有" if result.moran_eb.p_norm < 0.05 else "沒有"
    text = (
        f"全市事件率{sig}明顯的空間聚集（{moran_sentence(result.moran_eb)}）。"
        f"以 Getis-Ord Gi* 檢定並控制偽發現率後，共有 **{len(hot)} 個熱點里**、{len(cold)} 個冷點里。"
    )
    if len(hot):
        top = hot.sort_values("gi_z", ascending=False).head(8)
        text += "熱點包括：" + "、".join(str(names.get(i, i)) for i in top.iloc[:, 0]) + "。"
    sig_scan = [c for c in result.scan if c.p_value < 0.05]
    if sig_scan:
        c = sig_scan[0]
        text += f"\n\n空間掃描找到 {len(sig_scan)} 個顯著群聚；最可能的群聚含 {len(c.members)} 個里，事件數為期望值的 {c.relative_risk:.1f} 倍。"
    if emerging is not None:
        counts = emerging["category"].value_counts()
        parts = [
            f"{L.EMERGING_LABELS.get(k, k)} {v} 個里"
            for k, v in counts.items()
            if k != "no pattern"
        ]
        if parts:
            text += "\n\n跨季趨勢（新興熱點分析）：" + "；".join(parts) + "。"
    return text + "\n\n" + UNDER_REPORTING_CAVEAT


def irr_sentence(irr: pd.DataFrame, outcome: str = "全部事件") -> str:
    """Plain-language reading of the significant risk factors of one case type."""
    t = irr[(irr["outcome"] == outcome) & (irr["term"] != "const") & (irr["p_value"] < 0.05)]
    if t.empty:
        return "在控制人口後，沒有任何背景因素與事件數有明顯關聯。"
    parts = []
    for r in t.itertuples():
        pct = (r.irr_per_sd - 1) * 100
        parts.append(
            f"{r.label}每高一個標準差，事件數約{'多' if pct > 0 else '少'} {abs(pct):.0f}%"
        )
    return "；".join(parts) + "（負二項迴歸，已控制人口）。"


def coverage_note(missing_layers) -> str:
    """Which accessibility layers do not cover the city ('' when all do)."""
    if not missing_layers:
        return ""
    return (
        "本市沒有完整的下列公開圖層，相關指標留空、不納入不便指數："
        + "、".join(L.ACCESS_LAYER_LABELS[k] for k in missing_layers)
        + "（這些圖層目前只涵蓋臺北市）。"
    )


def diagnostics_warning(summary: dict) -> str:
    """A loud warning when the model's diagnostics missed their limits ('' when they passed)."""
    d = summary["diagnostics"]
    if d["ok"]:
        return ""
    if "failed" in d:
        return (
            f"**警告：{len(d['failed'])} 個縣市的模型沒有收斂（{'、'.join(d['failed'])}），"
            "這些縣市的數字不可採用。**"
        )
    if d.get("engine") == "laplace":
        return (
            "**警告：模型的近似計算沒有收斂，下列數字不可採用。**"
            f'（{d.get("message", "")}）請改用 engine="nuts" 重跑，或聯絡分析人員。'
        )
    return (
        f"**警告：模型沒有收斂，下列數字不可採用。** 收斂指標 R-hat 最大為 {d['rhat_max']:.3f}"
        f"（上限 {d['rhat_limit']}，{d['rhat_worst']}），有效樣本數最少為 {d['ess_bulk_min']:.0f}"
        f"（下限 {d['ess_bulk_limit']}，{d['ess_bulk_worst']}）。請增加抽樣次數（draws、warmup）後重跑。"
    )


def risk_window_phrase(summary: dict) -> str:
    """The quarters the risk model read, in words: 近 12 季（2018Q1–2020Q4）, or how few of
    them had data."""
    w = summary.get("window")
    if not w or not w["quarters"]:
        return "近期"
    q, n = w["quarters"], w["length"]
    span = f"{q[0]}–{q[-1]}" if len(q) > 1 else q[0]
    if len(q) < n:
        return f"近 {n} 季中有資料的 {len(q)} 季（{span}）"
    return f"近 {n} 季（{span}）"


def risk_window_sentence(summary: dict) -> str:
    """Why the risk uses a longer period than the quarter's counts, in one sentence."""
    w = summary.get("window")
    text = f"風險以{risk_window_phrase(summary)}合計的事件估計"
    if w and len(w["quarters"]) < w["length"]:
        return text + "：資料季數較少，人口少的里較難判斷高低。"
    return (
        text + "：期間較長，人口少的里也看得出高低；近期才出現的上升，請看外展名單的「近期上升」。"
    )


def risk_summary(summary: dict, risk: pd.DataFrame, names: pd.Series, flag: float = 0.9) -> str:
    """What the village-risk model found, with how sure we are, in plain words: the present
    risk (the last year, from the space-time model) and its direction."""
    fitted = risk[risk["rr_now_mean"].notna()]
    high = fitted[fitted["p_now_exceed_1"] >= flag].sort_values(
        ["p_now_exceed_1_5", "rr_now_mean"], ascending=False
    )
    low = fitted[fitted["p_now_exceed_1"] <= 1 - flag]
    rising, falling = (fitted["trend"] == "上升").sum(), (fitted["trend"] == "下降").sum()
    text = (
        f"{risk_window_sentence(summary)}\n\n"
        f"在 {len(fitted)} 個里中，有 **{len(high)} 個里**目前（近一年）的事件風險高於全市平均的機率至少 {flag:.0%}；"
        f"{len(low)} 個里低於全市平均的機率至少 {flag:.0%}。其餘的里，資料還不足以判斷高低。"
        f"與前一年相比，{rising} 個里很可能上升、{falling} 個里很可能下降（機率至少 90%）。"
    )
    if len(high):
        top = high.head(8)
        text += (
            "最明確的包括："
            + "、".join(
                f"{names.get(v, v)}（目前風險約為平均的 {m:.1f} 倍，90% 可能落在 {lo:.1f}–{hi:.1f} 倍，"
                f"{L.TREND_WORDS.get(tr, tr)}）"
                for v, m, lo, hi, tr in zip(
                    top["villcode"],
                    top["rr_now_mean"],
                    top["rr_now_low"],
                    top["rr_now_high"],
                    top["trend"],
                    strict=True,
                )
            )
            + "。"
        )
    if "per_county" in summary:
        text += f"\n\n全國分 {len(summary['per_county'])} 個縣市各自估計，風險都是相對於全國平均。"
    else:
        sigma, rho = summary["hyperparameters"]["sigma"], summary["hyperparameters"]["rho"]
        text += (
            f"\n\n各里之間的風險差異（σ）約 {sigma['mean']:.2f}，其中約 {rho['mean']:.0%} 來自相鄰地區共有的空間型態"
            f"（90% 區間 {rho['q05']:.0%}–{rho['q95']:.0%}）。"
        )
    warning = diagnostics_warning(summary)
    return (warning + "\n\n" + text) if warning else text


def _backtest_sentence(summary: dict) -> str:
    """How the default did against the best naive list on the later backtest quarters."""
    rows, default = summary["rankings"], summary["default_ranking"]
    k = summary["parameters"]["budget"]
    name = L.RANKING_LABELS[default]
    if summary.get("chosen_by") != "backtest" or default not in rows:
        return f"- 排序方式：**{name}**（在模擬資料上表現最好；本期資料季數不足，無法回測）。"
    naive = {r: v for r, v in rows.items() if not r.startswith(("excess", "p_now", "rr_now"))}
    best = max(naive, key=lambda r: naive[r]["excess_capture"])
    d, b = rows[default], naive[best]
    interval = (
        f"（90% 可能範圍 {b['difference_low'] * 100:+.0f} 至 {b['difference_high'] * 100:+.0f} 個百分點）"
        if b["difference_low"] == b["difference_low"]
        else ""
    )
    return (
        f"- 排序方式：**{name}**（以較早 {d['selection_origins']} 季的回測挑選）。在之後 {d['origins']} 季，"
        f"依此排序的前 {k} 個里掌握了 {d['excess_capture']:.0%} 的超額事件；最好的簡單名單"
        f"「{L.RANKING_LABELS[best]}」為 {b['excess_capture']:.0%}，差 {b['difference'] * 100:+.0f} 個百分點"
        f"{interval}，{d['origins']} 季中有 {b['wins']} 季較好。"
    )


def ranking_method(summary: dict) -> str:
    """The methods line on how the list is ordered: the ranking in use, in words, and how it
    was chosen (Markdown, one list item)."""
    default = summary["default_ranking"]
    how = L.RANKING_METHODS.get(default, L.RANKING_LABELS.get(default, default))
    chosen = (
        "用哪一種排序，每季由較早幾季的回測挑選，再以較晚幾季評分（見「重點」與回測表）。"
        if summary.get("chosen_by") == "backtest"
        else "本期資料季數不足，無法回測，使用預設排序。"
    )
    return f"- **排序**：{how}{chosen}"


def _how_many(expected: float) -> str:
    """An expected number of villages in words: 「不到 1 個」 below one half, never 「約 0 個」
    (which would read as a certainty)."""
    return "不到 1 個" if expected < 0.5 else f"約 {expected:.0f} 個"


def priority_summary(summary: dict, priority) -> str:
    """The outreach list in plain words: how many, chosen how, how sure, and how well the
    ordering did before."""
    tiers = summary["tiers"]
    n2, n1 = tiers.get(2, tiers.get("2", 0)), tiers.get(1, tiers.get("1", 0))
    miss = summary.get("expected_not_elevated", {})
    m2, m1 = miss.get(2, miss.get("2")), miss.get(1, miss.get("1"))
    p = summary["parameters"]
    lines = [
        f"- 建議下一季**優先關注 {n2} 個里**：依排序最前、而且目前風險高於全市 1.5 倍的機率達 "
        f"{p['tier2_probability']:.0%} 以上（風險依近 {p['risk_window']} 季估計，著重近一年）。"
        + (f"其中預估{_how_many(m2)}里其實並未偏高。" if m2 is not None else ""),
        f"- 另有 {n1} 個里列為「留意」（最多 {p['watch_size']} 個）"
        + (f"，其中預估{_how_many(m1)}里其實並未高於全市。" if m1 is not None else "。"),
        f"- 近一年明顯下降而暫不列優先關注的里：{summary.get('falling_held_back', 0)} 個；"
        f"鄰近地區近期上升（早期預警）的里：{summary['emerging']} 個；可能低報、需另行查訪的里："
        f"{summary['under_reporting']} 個。",
        _backtest_sentence(summary),
    ]
    top = priority[priority["tier"] == 2].head(3)
    if len(top):
        names = "、".join(f"{r.townname}{r.villname}" for r in top.itertuples())
        lines.append(f"- 名單前三名：{names}。")
    warning = diagnostics_warning(
        {"diagnostics": summary.get("risk_model_diagnostics", {"ok": True})}
    )
    return (warning + "\n\n" if warning else "") + "\n".join(lines)
