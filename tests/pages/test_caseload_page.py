"""The responsibility areas' page (issue 42): plain words from the summary, the tables."""

import pandas as pd

from dv_analysis.pages import caseload as page
from dv_analysis.pages import labels as L


def _summary(**kw):
    out = {
        "n_areas": 97,
        "band": {"relative": 0.2, "mean": 21.46, "low": 17.17, "high": 25.75},
        "share_in_band": 92 / 97,
        "draws": 200,
        "max_travel_min": 34.7,
        "travel_p95_today_min": 36.2,
        "ceiling": 25.75,
        "workers_needed_at_ceiling": 98,
        "uncertain_villages": 49,
    }
    return {**out, **kw}


def test_sentences_say_the_numbers_in_plain_words():
    text = page.caseload_sentences(_summary(), 456)
    assert "456 個里分成 97 個責任區" in text and "上下 20%（17.2–25.8 起）" in text
    assert "97 區中有 92 區" in text and "約 35 分鐘" in text and "36 分鐘以內" in text
    assert "需要約 98 位社工" in text and "有 49 個里" in text
    assert "100%" not in text
    assert "有 0 個里" not in page.caseload_sentences(_summary(uncertain_villages=0), 456)
    assert page.caseload_sentences({"skipped": "all_of_taiwan"}, 7701) == L.CASELOAD_SKIPPED


def test_area_table_lists_each_areas_villages_and_never_claims_certainty():
    t = pd.DataFrame(
        {
            "villcode": ["1", "2", "3"],
            "townname": ["北投區", "北投區", "士林區"],
            "villname": ["大屯里", "湖山里", "天玉里"],
            "area_id": ["A01", "A01", "A02"],
            "centre": ["北投中心", "北投中心", "士林中心"],
            "expected_cases_mean": [20.0, 20.0, 22.0],
            "expected_cases_low": [17.0, 17.0, 19.0],
            "expected_cases_high": [23.0, 23.0, 25.0],
            "travel_min": [30.0, 10.0, 12.0],
            "village_cases_mean": [1.0, 3.0, 22.0],
            "area_share_in_band": [1.0, 1.0, 0.62],
            "uncertain": [False, True, False],
            "could_join": ["", "A02", ""],
        }
    )
    out = page.area_table(t)
    c = L.CASELOAD_COLUMNS
    assert out[c["names"]].tolist() == ["北投區大屯里、北投區湖山里", "士林區天玉里"]
    assert out[c["share_in_band"]].tolist() == ["> 99%", "62%"]
    assert out[c["travel_min"]].tolist() == [15, 12]  # weighted by caseload: (30 + 3·10) / 4
    assert out[c["expected_cases"]].tolist()[0] == "20.0（17.0–23.0）"
    u = page.uncertain_table(t)
    assert u[L.CASELOAD_UNCERTAIN_COLUMNS["could_join"]].tolist() == ["A02"]
    assert page.area_class(pd.Series([0.9, 0.6, 0.1])).tolist() == ["steady", "shaky", "out"]
