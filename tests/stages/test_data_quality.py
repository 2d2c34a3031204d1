"""Data quality by reporting unit (stages.clean.quality): the counts of a quarter, the
flag's test (stats.detection.reporting.share_departure) and the synthetic unit that stops
locating villages."""

import numpy as np
import pandas as pd
import pytest

from dv_analysis.stages.clean import clean_period, write_outputs
from dv_analysis.stages.clean.quality import QUALITY_COLUMNS, quarter_quality
from dv_analysis.stats.detection.reporting import UNIT_Z, share_departure
from dv_analysis.synth import SynthConfig, generate
from dv_analysis.synth.model import MessRates


def test_quarter_counts_by_unit():
    df = pd.DataFrame(
        {
            "reporter_unit": ["警政", "警政", "警政", "醫院", "醫院"],
            "bucket": ["clean", "clean", "quarantine", "clean", "duplicate"],
            "reason": ["", "", "unlocatable", "", "exact"],
            "locate_method": ["code", "names", "", "xy", "code"],
            "villcode": ["A", "B", None, "A", "A"],
            "victim_age": [30.0, None, None, 40.0, 40.0],
            "incident_date": [pd.NaT, pd.Timestamp("2020-10-01"), pd.NaT, pd.NaT, pd.NaT],
        }
    )
    towns = pd.Series({"A": "X", "B": "Y"})
    q = quarter_quality(df, towns, "2020Q4").set_index("unit")
    assert list(q.reset_index().columns) == list(QUALITY_COLUMNS)
    police, hosp = q.loc["警政"], q.loc["醫院"]
    assert police["rows"] == 3 and police["quarantined"] == 1 and police["duplicates"] == 0
    assert police[["located_code", "located_names", "located_xy", "unlocatable"]].tolist() == [
        pytest.approx(1 / 3)
    ] * 2 + [0.0, pytest.approx(1 / 3)]
    assert police["missing_age"] == pytest.approx(2 / 3)
    assert police["missing_incident_date"] == pytest.approx(2 / 3)
    assert hosp["duplicates"] == 1 and hosp["located_code"] == 0.0  # a duplicate is not located
    # district X: police 1 of 2 clean rows, hospitals 1 of 2; Y: police 1 of 1
    assert police["district_share_max"] == 1.0 and hosp["district_share_max"] == 0.5
    assert not q["flagged"].any()


def test_share_departure_flags_a_change_and_not_noise():
    hist_n = np.full((2, 6), 200.0)
    hist_k = np.array([[20, 22, 18, 21, 19, 20], [20, 22, 18, 21, 19, 20]], float)
    z, up = share_departure([60, 25], [200, 200], hist_k, hist_n, ratio=1.23)
    assert up.tolist() == [True, False] and z[0] > UNIT_Z
    _, down = share_departure([2, 18], [200, 200], hist_k, hist_n, ratio=1.23, direction=-1)
    assert down.tolist() == [True, False]
    # no history: no verdict
    z, out = share_departure([60], [200], [[np.nan, 20]], [[np.nan, 200]], ratio=1.23)
    assert np.isnan(z[0]) and not out[0]
    # a history that wanders needs a larger departure (its overdispersion)
    wander = np.array([[5, 40, 8, 35, 10, 30]], float)
    assert not share_departure([40], [200], wander, hist_n[:1], ratio=1.23)[1][0]


def test_share_departure_false_flags_at_most_the_nominal_rate():
    """With no change (binomial shares, eight history quarters), a one-sided test at z 2.58
    flags at most its 0.5 % (the ratio condition only removes flags)."""
    rng = np.random.default_rng(1)
    m, p = 20_000, 0.08
    n = rng.integers(30, 400, size=(m, 9)).astype(float)
    k = rng.binomial(n.astype(int), p).astype(float)
    _, up = share_departure(k[:, 8], n[:, 8], k[:, :8], n[:, :8], ratio=1.23)
    _, down = share_departure(k[:, 8], n[:, 8], k[:, :8], n[:, :8], ratio=1.23, direction=-1)
    assert up.mean() <= 0.005 and down.mean() <= 0.005


@pytest.mark.slow(seconds=40, why="six synthetic quarters generated and cleaned")
def test_a_unit_that_stops_locating_villages_is_flagged(settings):
    mess = MessRates(stop_locating_unit="醫院", stop_locating_period="2020Q3")
    generate(settings, SynthConfig(start="2019Q2", end="2020Q4", seed=5, scale=0.2, mess=mess),
             progress=False)  # fmt: skip
    for q in ("2019Q2", "2019Q3", "2019Q4", "2020Q1", "2020Q2", "2020Q3", "2020Q4"):
        write_outputs(settings.period(q), clean_period(settings.period(q), progress=False))
    dq = pd.read_parquet(settings.period("2020Q4").data_quality)
    assert sorted(dq["period"].unique())[0] == "2019Q2"  # the history travels with the table
    hit = dq[(dq["unit"] == "醫院") & (dq["period"] == "2020Q3")].iloc[0]
    assert hit["flagged"] and hit["unlocatable"] > 0.9
    assert {"unlocatable+", "located_code-", "located_names-"} <= set(hit["reason"].split(";"))
    # every other unit-quarter with two quarters of history: the stated rate is 0.05 a
    # quarter for the whole city (docs/cleaning.md); here 5 quarters × 7 units
    others = dq[(dq["period"] >= "2019Q4") & ~((dq["unit"] == "醫院") & (dq["period"] == "2020Q3"))]
    assert others["flagged"].sum() <= 1, others[others["flagged"]]


def test_quarantine_by_unit_and_the_pages():
    from dv_analysis.pages import data_quality as page
    from dv_analysis.stages.clean import quarantine_by_unit

    q = pd.DataFrame(
        {"unit_raw": ["警察局", "警政", "醫療院所", ""],
         "reason": ["unlocatable", "bad_notification_date", "unlocatable", "unlocatable"]}
    )  # fmt: skip
    t = quarantine_by_unit(q).set_index("unit")
    assert t.loc["警政"].to_dict() == {"bad_notification_date": 1, "unlocatable": 1}
    assert t.loc["醫院", "unlocatable"] == 1 and t.loc["其他", "unlocatable"] == 1
    dq = pd.DataFrame(
        {c: [0.0, 0.0] for c in QUALITY_COLUMNS if c not in ("unit", "period", "flagged", "reason")}
    ).assign(unit=["醫院", "警政"], period="2020Q3", flagged=[True, False],
             reason=["unlocatable+;located_code-", ""])  # fmt: skip
    line = page.quality_line(dq, "2020Q3")
    assert "醫院" in line and "無法定位的比例上升" in line and "警政" not in line
    assert page.quality_line(dq, "2020Q4") == "" and page.quality_line(None, "2020Q3") == ""
    html = page.quality_page(dq, "2020Q3", t.reset_index())
    assert html.count('class="flag"') == 2 and "無法定位村里" in html
