"""The blind test scenarios (synth.scenarios): raw exports the cleaning reads as it reads
the demo's, the truth tables, and what the kinds plant."""

import numpy as np
import pandas as pd
import pytest

from dv_analysis.stages import clean
from dv_analysis.stages.clean import read_raw_file
from dv_analysis.synth import truth as T
from dv_analysis.synth.model import RAW_COLUMNS
from dv_analysis.synth.scenarios import check_against_clean, generate_scenario

from ..conftest import make_settings

#: A small campaign world: six quarters and one held out, at half of Taipei's volume.
START, END, HELD_OUT = "2019Q3", "2020Q4", "2021Q1"

pytestmark = pytest.mark.xdist_group("scenarios")


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    s = make_settings(tmp_path_factory.mktemp("campaign"))
    out = generate_scenario(s, "campaign_over_rise", seed=3, start=START, end=END, volume=0.5)
    clean.clean_range(s, START, HELD_OUT, progress=False)
    return s, out


@pytest.mark.slow(8, "a campaign world of seven quarters generated and cleaned")
def test_exports_are_in_the_raw_schema_and_clean_to_the_recorded_incidents(campaign):
    s, out = campaign
    assert out["heldout_periods"] == [HELD_OUT]
    for period in [*out["periods"], HELD_OUT]:
        files = sorted((s.raw_dir / period).iterdir())
        assert len(files) == 3
        for f in files:
            rf = read_raw_file(f)
            assert not rf.missing_optional, f"{f.name} lacks {rf.missing_optional}"
            if f.suffix == ".xlsx":
                header = set(pd.read_excel(f, nrows=0).columns)
            else:
                header = set(f.read_bytes().decode(rf.encoding).splitlines()[0].split(","))
            assert set(RAW_COLUMNS) <= header <= set(RAW_COLUMNS) | {"備註"}
    check = check_against_clean(s)
    assert check["village_quarters_differing"] == 0
    assert check["cleaned_incidents"] == check["clean_expected_incidents"]
    assert check["quarantine_loss"] < 0.06


def test_truth_tables_have_the_estimand_and_its_components(campaign):
    s, _ = campaign
    vq = T.read_truth_table(s, T.VILLAGE_TRUTH_FILE)
    for col in (
        "villcode",
        "period",
        "true_expected",
        "ref_expected",
        "true_expected_4q",
        "ref_expected_4q",
        "true_rr_now",
        "true_incidents",
        "exported_incidents",
        "heldout",
    ):
        assert col in vq.columns, col
    assert vq["villcode"].nunique() == 456 and vq["period"].nunique() == 7
    types = T.read_truth_table(s, T.SCENARIO_TYPES_FILE)
    assert {"case_type", "pop_at_risk", "city_rate", "ref_expected"} <= set(types.columns)
    # the city's rate of each type reproduces its total: relative risks average to one
    city = types.groupby(["period", "case_type"])[["true_expected", "ref_expected"]].sum()
    assert np.allclose(city["true_expected"], city["ref_expected"])
    labels = T.read_truth_table(s, T.SCENARIO_LABELS_FILE)
    for col in ("real_rise", "rise_start", "campaign", "campaign_elevated_truly"):
        assert col in labels.columns, col
    assert 5 <= labels["real_rise"].sum() <= 8
    rep = T.read_truth_table(s, T.SCENARIO_REPORTING_FILE)
    assert list(rep.columns) == ["townname", "unit", "period", "multiplier"]
    assert len(rep) == 12 * 7 * 7
    held = T.read_truth_table(s, T.SCENARIO_HELDOUT_FILE)
    assert set(held["period"]) == {HELD_OUT} and len(held) == 456
    assert T.read_scenario(s)["kind"] == "campaign_over_rise"


def test_campaign_villages_outside_the_rise_keep_their_risk_while_police_reports_rise(campaign):
    s, out = campaign
    scen = T.read_scenario(s)
    labels = T.read_truth_table(s, T.SCENARIO_LABELS_FILE)
    quiet = labels.loc[labels["campaign"] & ~labels["real_rise"], "villcode"]
    assert len(quiet) >= 10
    rising = labels.loc[labels["real_rise"], "townname"]
    assert set(rising) == {scen["campaign"]["townname"]}
    vq = T.read_truth_table(s, T.VILLAGE_TRUTH_FILE)
    rr = vq.set_index(["villcode", "period"])["true_rr_now"].unstack()
    camp = scen["campaign"]["periods"]
    before = out["periods"][out["periods"].index(camp[0]) - 1]
    ratio = rr.loc[quiet, END] / rr.loc[quiet, before]
    assert ratio.between(0.95, 1.05).all()
    notes = T.read_truth_table(s, T.SCENARIO_NOTIFICATIONS_FILE)
    police = notes[(notes["unit"] == "警政") & notes["villcode"].isin(quiet)]
    per_q = police.groupby("period")["notifications"].sum()
    during = per_q[[p for p in camp if p in out["periods"]]].mean()
    usual = per_q[[p for p in out["periods"] if p < camp[0]]].mean()
    assert during / usual > 1.3
    rep = T.read_truth_table(s, T.SCENARIO_REPORTING_FILE)
    changed = rep[rep["multiplier"] != 1]
    assert set(changed["unit"]) == {"警政"} and set(changed["multiplier"]) == {1.5}


@pytest.mark.slow(6, "a unit-carried world of five quarters at twice Taipei's volume")
def test_a_unit_carried_rise_is_reported_mostly_by_the_police(tmp_path):
    s = make_settings(tmp_path)
    generate_scenario(s, "unit_carried_rise", seed=4, start="2020Q1", end="2020Q4", volume=2.0)
    notes = T.read_truth_table(s, T.SCENARIO_NOTIFICATIONS_FILE)
    extra = notes[notes["origin"] == "rise"]
    assert extra["notifications"].sum() > 50
    share = extra.groupby("unit")["notifications"].sum() / extra["notifications"].sum()
    assert share["警政"] >= 0.7
    types = T.read_truth_table(s, T.SCENARIO_TYPES_FILE)
    rise = types[types["rise_incidents"] > 0]
    assert set(rise["case_type"]) == {"親密關係暴力"}
    assert (T.read_truth_table(s, T.SCENARIO_REPORTING_FILE)["multiplier"] == 1).all()


def test_nothing_changes_in_a_no_change_world(tmp_path):
    s = make_settings(tmp_path)
    out = generate_scenario(s, "no_change", seed=6, start="2020Q2", end="2020Q4", volume=0.1)
    assert (T.read_truth_table(s, T.SCENARIO_REPORTING_FILE)["multiplier"] == 1).all()
    labels = T.read_truth_table(s, T.SCENARIO_LABELS_FILE)
    assert not labels["real_rise"].any() and not labels["campaign"].any()
    assert all(c["type"] == "persistent" for c in out["clusters"])
    types = T.read_truth_table(s, T.SCENARIO_TYPES_FILE)
    assert (types["surfaced_incidents"] == 0).all() and (types["lost_incidents"] == 0).all()


def test_same_seed_same_truth(tmp_path):
    tables = []
    for name in ("a", "b"):
        s = make_settings(tmp_path / name)
        generate_scenario(s, "shock", seed=2, start="2020Q2", end="2020Q4", volume=0.05)
        tables.append(T.read_truth_table(s, T.SCENARIO_TYPES_FILE))
    pd.testing.assert_frame_equal(*tables)


def test_unknown_kind_is_refused(tmp_path):
    from dv_analysis.errors import ParameterError

    with pytest.raises(ParameterError, match="one of"):
        generate_scenario(make_settings(tmp_path), "typo", seed=1)
