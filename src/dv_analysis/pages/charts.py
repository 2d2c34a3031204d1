"""Charts for staff pages (matplotlib, zh-TW labels from :mod:`.labels`)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from dv_analysis.pages import labels as L
from dv_analysis.pages.tables import reasons_table


def cleaning_chart(summary: dict):
    """Rows per bucket and reason (log scale), and how clean rows were located. Returns the figure."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    rt = reasons_table(summary)
    names = ["有效"] + [f"{r.類別}：{r.原因}" for r in rt.itertuples()]
    values = [summary["totals"]["clean"]] + rt["列數"].tolist()
    colors = ["#2b8cbe"] + ["#bdbdbd" if k == "重複" else "#e34a33" for k in rt["類別"]]
    axes[0].barh(names[::-1], values[::-1], color=colors[::-1])
    axes[0].set_xscale("log")
    axes[0].set_title("各類列數（對數尺度）")
    for i, v in enumerate(values[::-1]):
        axes[0].text(v, i, f" {v:,}", va="center", fontsize=8)
    lm = summary["locate_methods"]
    axes[1].bar([L.LOCATE_METHODS.get(k, k) for k in lm], list(lm.values()), color="#31a354")
    axes[1].set_title("有效通報的定位方式")
    for i, v in enumerate(lm.values()):
        axes[1].text(i, v, f"{v:,}", ha="center", va="bottom", fontsize=8)
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def backtest_chart(backtest, k: int, show: tuple[str, ...]):
    """Excess capture of the top ``k`` villages per backtest quarter for the rankings
    ``show`` (None when there is no backtest)."""
    if backtest.empty:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.8))
    b = backtest[backtest["k"] == k]
    for name in show:
        s = b[b["ranking"] == name].sort_values("target")
        if len(s):
            ax.plot(
                s["target"], s["excess_capture"] * 100, marker="o", label=L.RANKING_LABELS[name]
            )
    ax.set_ylabel(f"前 {k} 里掌握的超額事件（%）")
    ax.set_xlabel("被預測的季")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def trend_chart(wide, current: str, year_ago: str):
    """City incidents per quarter by case type (and in total), the current quarter marked and
    the same quarter a year ago circled. ``wide``: quarters × case types (see
    :func:`dv_analysis.pages.report.trend_frame`)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1, 1.4]})
    x = list(wide.index)
    total = wide[L.TOTAL_LABEL]
    axes[0].plot(x, total, marker="o", ms=3, color="#333")
    axes[0].set_title("全市事件數（每季）")
    for col in [c for c in wide.columns if c != L.TOTAL_LABEL]:
        axes[1].plot(x, wide[col], marker="o", ms=3, label=col)
    axes[1].set_title("依案件類型")
    axes[1].legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    for ax, series in (
        (axes[0], [total]),
        (axes[1], [wide[c] for c in wide.columns if c != L.TOTAL_LABEL]),
    ):
        if current in x:
            ax.axvline(x.index(current), color="#b2182b", lw=1, ls="--")
        for s in series:
            if year_ago in x:
                ax.scatter(
                    [x.index(year_ago)],
                    [s[year_ago]],
                    s=60,
                    facecolors="none",
                    edgecolors="#b2182b",
                )
        ticks = list(range(0, len(x), max(1, len(x) // 8)))
        ax.set_xticks(ticks, [x[i] for i in ticks], rotation=45, fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_ylim(bottom=0)
    fig.text(0.01, 0.01, "虛線：本季；空心圓：去年同季", fontsize=8, color="#555")
    fig.tight_layout()
    return fig
