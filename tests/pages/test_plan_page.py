"""The service plan's words (pages.plan): what staff read for Taipei, for a city the
public layers do not cover, and for all of Taiwan."""

from dv_analysis.pages import labels as L
from dv_analysis.pages import plan as page


def _summary(**changes):
    s = {
        "parameters": {"candidates": ""},
        "new_sites": ["S0001", "S0002"],
        "new_site_names": ["甲據點", "乙據點"],
        "most_frequent_share": 0.62,
        "threshold_min": 30.0,
        "covered_excess_gain": {"mean": 14.6, "low": 10.2, "high": 19.0},
        "tier2_newly_reached": 1,
        "tier2_unreached": 0,
        "existing_sites": 28,
        "draws": 200,
        "lscp": {"new_sites_needed": 2, "tier2_unreachable": 0},
        "mean_minutes": {"today": 16.14, "plan": 15.1, "p_median": 14.9},
        "p_median": {"new_site_names": ["丙據點", "丁據點"], "new_sites": ["S3", "S4"]},
    }
    s.update(changes)
    return s


def test_taipei_reads_the_plan_the_lscp_and_the_p_median():
    text = page.plan_sentences(_summary())
    assert "建議新增 2 處：甲據點、乙據點" in text and "14.6" in text and "62%" in text
    assert "至少需新增 2 處據點" in text
    assert "丙據點、丁據點" in text and "現在約 16.1 分鐘" in text and "14.9 分鐘" in text
    assert L.PLAN_NO_SITES not in text


def test_a_city_without_centres_in_the_layers_is_told_so_and_shown_no_trip_today():
    no_sites = _summary(existing_sites=0, mean_minutes={"today": None, "plan": 20.0})
    text = page.plan_sentences(no_sites)
    assert text.startswith(L.PLAN_NO_SITES) and "--candidates" in text
    assert "現在約" not in text
    own = page.plan_sentences({**no_sites, "parameters": {"candidates": "/x/sites.csv"}})
    assert L.PLAN_NO_SITES not in own, "own candidates given: the note would be wrong"


def test_all_of_taiwan_is_sent_to_the_cities():
    assert page.plan_sentences({"skipped": "all_of_taiwan"}) == L.PLAN_SKIPPED
