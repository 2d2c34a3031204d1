"""The outreach list's summary in plain words."""

import pandas as pd

from dv_analysis.pages import summaries


def _summary(default, baseline):
    return {
        "tiers": {"2": 3, "1": 5, "0": 448},
        "parameters": {"budget": 20, "flag_probability": 0.9, "risk_window": 12},
        "emerging": 2,
        "under_reporting": 1,
        "default_ranking": "bym2_count",
        "default": default,
        "baseline": baseline,
    }


def test_priority_summary_counts_quarters_as_whole_numbers_and_names_the_ranking():
    table = pd.DataFrame(
        {"tier": [2, 2, 1], "townname": ["大安區"] * 3, "villname": ["甲里", "乙里", "丙里"]}
    )
    d = {"origins": 8.0, "wins": 7.0, "hit_rate": 0.143, "hit_rate_sd": 0.009}
    b = {"origins": 8.0, "wins": 0.0, "hit_rate": 0.135, "hit_rate_sd": 0.007}
    text = summaries.priority_summary(_summary(d, b), table)
    assert "優先關注 3 個里" in text and "另有 5 個里" in text
    assert "回測過去 8 季" in text and "在 7 / 8 季" in text and "8.0" not in text
    assert "模型估計每季事件數" in text and "14.3%" in text and "13.5%" in text
    assert "名單前三名：大安區甲里、大安區乙里" in text
    assert "風險依近 12 季估計" in text
    short = summaries.priority_summary(_summary(None, None), table)
    assert "資料季數不足" in short
