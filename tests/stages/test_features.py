"""Village features against the clean tables they come from."""

import numpy as np
import pandas as pd
import pytest

from dv_analysis.config import Period
from dv_analysis.pages import summaries, tables
from dv_analysis.stages import features as F


@pytest.fixture(scope="module")
def feats(year_of_data):
    s, _, results = year_of_data
    return s, F.village_features(s, "2020Q4", window=4), results


def test_one_row_per_village_zero_counts_included(feats):
    s, f, _ = feats
    assert len(f) == 456 and f["villcode"].is_unique
    assert f["townname"].notna().all() and f["villname"].notna().all()
    assert (f["incidents_q"] == 0).any(), "villages without incidents must be kept"


def test_counts_match_the_clean_tables(feats):
    s, f, results = feats
    r = results["2020Q4"]
    assert f["notifications_q"].sum() == len(r.notifications)
    assert f["incidents_q"].sum() == len(r.incidents)
    assert f["incidents_w"].sum() == sum(len(x.incidents) for x in results.values())
    by_type = r.incidents["case_type"].value_counts()
    assert f["incidents_child_q"].sum() == by_type["兒少保護"]
    assert f["incidents_elder_q"].sum() == by_type["老人虐待"]
    units = [c for c in f.columns if c.startswith("notifications_unit_")]
    assert f[units].sum().sum() == len(r.notifications)
    assert (f["victims_q"] <= f["notifications_q"]).all()


def test_denominators_and_rates(feats):
    s, f, _ = feats
    assert f["pop_total"].sum() == 2_602_418  # real register, 2020-12
    v = f[f["pop_0_14"] > 0].iloc[0]
    assert v["rate_incidents_child_q"] == pytest.approx(
        1000 * v["incidents_child_q"] / v["pop_0_14"]
    )
    w = f[f["pop_65plus"] > 0].iloc[3]
    assert w["rate_incidents_elder_w"] == pytest.approx(
        1000 * w["incidents_elder_w"] / (w["pop_65plus"] * 4)
    )
    assert f["window_quarters"].eq(4).all() and f.attrs["missing_periods"] == []
    assert f["repeat_victim_share_q"].dropna().between(0, 1).all()
    assert f["high_danger_share_q"].dropna().between(0, 1).all()


def test_covariates_from_real_layers(feats):
    _, f, _ = feats
    assert f["low_income_per_1000"].notna().all() and (f["low_income_per_1000"] > 0).all()
    assert f["divorces_per_1000"].between(0, 20).all()
    assert f["density_per_km2"].max() > 50_000  # Taipei's densest villages
    assert f["share_over_64"].between(0, 1).all()


def test_missing_window_quarters_reported(year_of_data):
    s, _, _ = year_of_data
    f = F.village_features(s, "2020Q2", window=4)  # 2019Q3, 2019Q4 were never generated
    assert f.attrs["missing_periods"] == ["2019Q3", "2019Q4"]
    assert f["window_quarters"].eq(2).all()


def test_panel(year_of_data):
    s, _, results = year_of_data
    from dv_analysis.config import period_range

    panel = F.village_panel(s, period_range("2019Q1", "2020Q4"))
    assert sorted(panel["period"].unique()) == ["2020Q1", "2020Q2", "2020Q3", "2020Q4"]
    assert len(panel) == 4 * 456
    for q, r in results.items():
        assert panel.loc[panel["period"] == q, "incidents"].sum() == len(r.incidents)


def test_window_periods():
    assert [str(p) for p in F.window_periods("2020Q1", 3)] == ["2019Q3", "2019Q4", "2020Q1"]
    assert F.window_periods(Period(2020, 4), 1) == [Period(2020, 4)]


def test_district_table_sums(feats):
    _, f, _ = feats
    d = tables.district_table(f)
    assert len(d) == 12 and d["本季事件"].sum() == f["incidents_q"].sum()
    assert np.all(np.diff(d["每千人每季事件率（視窗）"].to_numpy()) <= 0)
    assert pd.notna(d["人口"]).all()


def test_features_summary_states_the_counts_and_the_top_district(feats):
    """The sentence above the table: the city's totals, the window's length, the district
    first in the table (highest window rate) with its rate, and the villages without any."""
    _, f, _ = feats
    text = summaries.features_summary(f, "2020Q4")
    top = tables.district_table(f).iloc[0]
    n_zero = int((f["incidents_w"] == 0).sum())
    assert text.startswith("**2020Q4** 全市 456 個里")
    assert f"通報 {int(f['notifications_q'].sum()):,} 件" in text
    assert f"事件 {int(f['incidents_q'].sum()):,} 起" in text
    assert f"被害人 {int(f['victims_q'].sum()):,} 位" in text
    assert f"以近 4 季合計計算，事件率最高的行政區是 **{top['行政區']}**" in text
    assert f"（每千人每季 {top['每千人每季事件率（視窗）']:.2f} 起）" in text
    assert f"有 {n_zero} 個里近 4 季沒有任何事件紀錄" in text
