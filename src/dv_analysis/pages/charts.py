"""Charts for staff pages (matplotlib, zh-TW labels from :mod:`.labels`)."""

from __future__ import annotations

import matplotlib.pyplot as plt

from . import labels as L
from .tables import reasons_table


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
    """Hit rate of the top ``k`` villages per backtest quarter for the rankings ``show``
    (None when there is no backtest)."""
    if backtest.empty:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.8))
    b = backtest[backtest["k"] == k]
    for name in show:
        s = b[b["ranking"] == name].sort_values("target")
        ax.plot(s["target"], s["hit_rate"] * 100, marker="o", label=L.RANKING_LABELS[name])
    ax.set_ylabel(f"前 {k} 里涵蓋下一季事件（%）")
    ax.set_xlabel("被預測的季")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
