"""The outreach list's summary and tables in plain words."""

import numpy as np
import pandas as pd

from dv_analysis.pages import summaries, tables


def _row(excess, diff, lo=-0.02, hi=0.08, wins=3):
    return {
        "excess_capture": excess,
        "hit_rate": 0.14,
        "pai": 2.5,
        "pei": 0.8,
        "difference": diff,
        "difference_low": lo,
        "difference_high": hi,
        "wins": wins,
        "origins": 4,
        "selection_origins": 4,
        "nested": True,
    }


def _summary(rankings, chosen_by="backtest"):
    return {
        "tiers": {"2": 3, "1": 5, "0": 448},
        "expected_not_elevated": {"2": 0.4, "1": 1.6},
        "parameters": {
            "budget": 20,
            "tier2_probability": 0.7,
            "watch_size": 40,
            "risk_window": 12,
        },
        "emerging": 2,
        "under_reporting": 1,
        "falling_held_back": 1,
        "default_ranking": "excess_low",
        "chosen_by": chosen_by,
        "rankings": rankings,
    }


def test_priority_summary_names_the_ranking_the_best_naive_list_and_how_sure():
    table = pd.DataFrame(
        {"tier": [2, 2, 1], "townname": ["大安區"] * 3, "villname": ["甲里", "乙里", "丙里"]}
    )
    rankings = {
        "excess_low": _row(0.81, 0.0, np.nan, np.nan, 0),
        "rate_12q": _row(0.74, 0.07),
        "count_1q": _row(0.60, 0.21, 0.1, 0.3, 4),
        "rr_now": _row(0.85, -0.04),
    }
    text = summaries.priority_summary(_summary(rankings), table)
    assert "優先關注 3 個里" in text and "另有 5 個里" in text
    assert "不到 1 個里其實並未偏高" in text and "約 2 個里其實並未高於全市" in text
    assert "約 0 個" not in text, "an expected 0.4 is not a certain zero"
    assert "下一季超額事件（保守估計）" in text and "較早 4 季" in text and "之後 4 季" in text
    assert "近十二季事件率" in text, "the best naive list, not a model ranking"
    assert "81%" in text and "74%" in text and "+7 個百分點" in text and "-2 至 +8" in text
    assert "名單前三名：大安區甲里、大安區乙里" in text
    assert "暫不列優先關注的里：1 個" in text
    short = summaries.priority_summary(_summary({}, "validation"), table)
    assert "無法回測" in short


def test_the_methods_line_describes_the_ranking_the_backtest_chose():
    """The page said 「保守值」 even when the backtest had chosen the mean excess."""
    said = {}
    for ranking in ("excess_low", "excess_mean", "p_now_1_25", "rr_now"):
        s = _summary({}) | {"default_ranking": ranking}
        said[ranking] = summaries.ranking_method(s)
        assert said[ranking].startswith("- **排序**：") and "回測挑選" in said[ranking]
    assert "保守值" in said["excess_low"] and "保守值" not in said["excess_mean"]
    assert "平均值" in said["excess_mean"] and "機率" in said["p_now_1_25"]
    assert "倍數" in said["rr_now"] and len(set(said.values())) == 4
    assert "無法回測" in summaries.ranking_method(_summary({}, "validation"))


def _list():
    return pd.DataFrame(
        {
            "rank": [1, 2, 3, 4],
            "tier": [2, 2, 1, 0],
            "tier_label": ["優先關注", "優先關注", "留意", "一般"],
            "townname": ["大安區"] * 4,
            "villname": ["甲里", "乙里", "丙里", "丁里"],
            "reasons": ["r"] * 4,
            "rr_now_mean": [2.5, 1.8, 1.3, np.nan],
            "rr_now_low": [2.0, 1.4, 1.0, np.nan],
            "rr_now_high": [3.1, 2.3, 1.7, np.nan],
            "p_now_exceed_1_5": [0.9996, 0.93, 0.55, np.nan],
            "excess_next_mean": [6.0, 3.2, 1.0, np.nan],
            "excess_next_low": [4.1, 1.5, -0.5, np.nan],
            "excess_next_high": [8.0, 5.0, 2.5, np.nan],
            "next_mean": [11.2, 7.0, 4.1, np.nan],
            "next_low": [6.0, 3.0, 1.0, np.nan],
            "next_high": [17.0, 12.0, 8.0, np.nan],
            "trend": ["上升", "持平", "下降", None],
            "quadrant": ["q"] * 4,
        }
    )


def test_each_tier_table_holds_that_tier_only():
    """The 留意 table used to repeat the 優先關注 villages (a tuple compared as a tier)."""
    two = tables.priority_list(_list(), 2)
    one = tables.priority_list(_list(), 1)
    assert list(two["里"]) == ["甲里", "乙里"] and list(one["里"]) == ["丙里"]
    assert two["高於 1.5 倍的機率"].tolist() == ["> 99%", "93%"], "never 100%"
    assert one["目前風險倍數（90% 範圍）"].iloc[0] == "1.30（1.00–1.70）"
    assert one["下一季預期事件"].iloc[0] == "4.1" and one["下一季 90% 預測範圍"].iloc[0] == "1–8"


def test_the_reporting_changes_table_shows_ratios_and_words_not_counts():
    """Only the changed district-unit-quarters, the ratio to what the district's other
    units predict and the test's p-value in words; an empty table (no unit counts, too few
    quarters) gives an empty table, not an error."""
    rows = pd.DataFrame(
        {
            "towncode": ["A", "A", "B"],
            "district": ["大安區", "大安區", "信義區"],
            "unit": ["警政", "教育", "警政"],
            "period": ["2020Q4"] * 3,
            "observed": [30.0, 5.0, 12.0],
            "predicted": [15.0, 5.5, 11.0],
            "p_value": [0.0001, 0.6, 0.3],
            "changed": [True, False, False],
        }
    )
    out = tables.reporting_changes_table(rows)
    assert out.to_dict("records") == [
        {
            "行政區": "大安區",
            "通報單位": "警政",
            "季": "2020Q4",
            "為區內其他單位所預期的": "2.0 倍",
            "若通報方式未變，出現這麼大差異的機率": "< 1%",
        }
    ]
    assert "30" not in out.to_string() and "15" not in out.to_string()
    assert tables.reporting_changes_table(rows.iloc[:0].astype(object)).empty
