"""The village-risk page says which quarters the model read."""

import pandas as pd

from dv_analysis.pages import summaries, tables


def _window(quarters, length=12):
    return {"window": {"length": length, "quarters": quarters, "missing": []}}


def test_the_risk_window_is_named_with_its_quarters_and_a_short_one_says_so():
    full = [f"{y}Q{q}" for y in (2018, 2019, 2020) for q in (1, 2, 3, 4)]
    assert summaries.risk_window_phrase(_window(full)) == "近 12 季（2018Q1–2020Q4）"
    assert "近期才出現的上升" in summaries.risk_window_sentence(_window(full))
    short = _window(["2020Q3", "2020Q4"])
    assert summaries.risk_window_phrase(short) == "近 12 季中有資料的 2 季（2020Q3–2020Q4）"
    assert "資料季數較少" in summaries.risk_window_sentence(short)
    assert summaries.risk_window_phrase(_window(["2020Q4"], 1)) == "近 1 季（2020Q4）"


def test_the_risk_table_heads_its_counts_with_the_window():
    risk = pd.DataFrame(
        {"villcode": ["a", "b"], "observed": [30, 3], "expected": [20.0, 4.0],
         "rr_mean": [1.4, 0.9], "rr_low": [1.1, 0.5], "rr_high": [1.8, 1.4],
         "p_exceed_1": [0.99, 0.3], "p_exceed_1_5": [0.3, 0.01]}
    )  # fmt: skip
    villages = pd.DataFrame({"villcode": ["a", "b"], "townname": ["大安區"] * 2,
                             "villname": ["甲里", "乙里"]})  # fmt: skip
    t = tables.risk_table(risk, villages, 12)
    assert "近 12 季事件" in t.columns and t["里"].tolist() == ["甲里", "乙里"]
