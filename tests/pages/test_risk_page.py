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
        {
            "villcode": ["a", "b"],
            "observed": [30, 3],
            "expected": [20.0, 4.0],
            "rr_now_mean": [1.4, 0.9],
            "rr_now_low": [1.1, 0.5],
            "rr_now_high": [1.8, 1.4],
            "p_now_exceed_1": [0.996, 0.3],
            "p_now_exceed_1_5": [0.3, 0.004],
            "trend": ["上升", "持平"],
            "excess_next_mean": [2.0, -0.3],
            "excess_next_low": [0.5, -1.0],
            "excess_next_high": [3.5, 0.8],
            "next_mean": [7.04, 3.6],
            "next_low": [3.0, 1.0],
            "next_high": [12.0, 7.0],
        }
    )
    villages = pd.DataFrame(
        {"villcode": ["a", "b"], "townname": ["大安區"] * 2, "villname": ["甲里", "乙里"]}
    )
    t = tables.risk_table(risk, villages, 12)
    assert "近 12 季事件" in t.columns and t["里"].tolist() == ["甲里", "乙里"]
    assert t["目前高於全市平均的機率"].tolist() == ["> 99%", "30%"]
    assert t["目前高出 50% 以上的機率"].tolist() == ["30%", "< 1%"]
    # the expected count and, apart, the range the count itself falls in (not E·(RR − 1))
    assert t["下一季預期事件"].tolist() == ["7.0", "3.6"]
    assert t["下一季 90% 預測範圍"].tolist() == ["3–12", "1–7"]


def test_probabilities_never_read_as_certain():
    assert [tables.percent(p) for p in (0.0, 0.004, 0.01, 0.5, 0.99, 0.996, 1.0)] == [
        "< 1%",
        "< 1%",
        "1%",
        "50%",
        "99%",
        "> 99%",
        "> 99%",
    ]
    assert tables.percent(float("nan")) == "—"


def test_a_model_that_missed_its_diagnostics_warns_on_the_outreach_page():
    """The risk model's miss is carried into 04b's summary and said at its top."""
    summary = {
        "tiers": {"2": 1, "1": 0},
        "default_ranking": "excess_low",
        "rankings": {},
        "emerging": 0,
        "under_reporting": 0,
        "parameters": {"budget": 20, "tier2_probability": 0.8, "watch_size": 40, "risk_window": 12},
        "risk_model_diagnostics": {"ok": False, "engine": "laplace", "message": "Newton 1e-1"},
    }
    priority = pd.DataFrame({"tier": [2], "townname": ["大安區"], "villname": ["甲里"]})
    text = summaries.priority_summary(summary, priority)
    assert text.startswith("**警告") and "Newton 1e-1" in text
    summary["risk_model_diagnostics"] = {"ok": True}
    assert "警告" not in summaries.priority_summary(summary, priority)
