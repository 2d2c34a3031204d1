"""The quarterly KPIs (stages.kpi, stats.kpi): a hand-built export with known answers, the
intervals against the libraries, and the synthetic truth."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from dv_analysis.stages.clean import clean_period, write_outputs
from dv_analysis.stages.kpi import kpi_table
from dv_analysis.stats import kpi as stats_kpi
from dv_analysis.synth import RAW_COLUMNS
from dv_analysis.synth import truth as synth_truth

SONGSHAN, DAAN = "63000010002", "63000030001"  # 松山區 莊敬里, 大安區 德安里


def _row(nid, victim, notified, incident, unit, place, *, ctype="親密關係暴力", opened="",
         sex="女", age=""):  # fmt: skip
    r = dict.fromkeys(RAW_COLUMNS, "")
    r.update({"通報編號": nid, "被害人代碼": victim, "通報日期": notified, "事件發生日期": incident,
              "通報單位類別": unit, "案件類型": ctype, "開案": opened, "被害人性別": sex,
              "被害人年齡": age, "發生地縣市": "臺北市", "村里代碼": place})  # fmt: skip
    return r


#: Six victims of 2020Q4 and what came before (docs/kpi.md's definitions):
#: VA notified 56 days after a Q3 notification (3 and 12 months); VB 224 days after a Q2
#: one (12 months only); VC new; VD twice in 3 days by two units (one incident); VE twice
#: in Q4, 39 days apart (a re-notification inside the quarter); VF twice 6 days apart with
#: two case types (the same event: not a re-notification).
EXPORT = {
    "2020Q2": [_row("DV1090000001", "VB", "2020-04-10", "2020-04-09", "警政", SONGSHAN)],
    "2020Q3": [_row("DV1090000002", "VA", "2020-08-20", "2020-08-19", "警政", SONGSHAN)],
    "2020Q4": [
        _row("DV1090000003", "VA", "2020-10-15", "2020-10-13", "警政", SONGSHAN, opened="是", age="35"),
        _row("DV1090000004", "VB", "2020-11-20", "2020-11-20", "醫院", SONGSHAN, opened="否",
             sex="男", age="70"),
        _row("DV1090000005", "VC", "2020-10-05", "", "社政", SONGSHAN),
        _row("DV1090000006", "VD", "2020-11-01", "2020-10-30", "警政", DAAN, opened="是", age="10",
             ctype="兒少保護"),
        _row("DV1090000007", "VD", "2020-11-04", "2020-10-30", "醫院", DAAN, opened="是", age="10",
             ctype="兒少保護"),
        _row("DV1090000008", "VE", "2020-10-02", "2020-09-30", "警政", DAAN, opened="是",
             sex="不詳", age="40"),
        _row("DV1090000009", "VE", "2020-11-10", "2020-11-03", "教育", DAAN, opened="否",
             sex="不詳", age="40"),
        _row("DV1090000010", "VF", "2020-11-25", "2020-11-24", "警政", DAAN, opened="是", age="16"),
        _row("DV1090000011", "VF", "2020-12-01", "2020-12-05", "113專線", DAAN, age="16",
             ctype="其他家庭成員暴力"),
    ],
}  # fmt: skip


@pytest.fixture
def hand_built(settings):
    for q, rows in EXPORT.items():
        folder = settings.raw_dir / q
        folder.mkdir(parents=True)
        pd.DataFrame(rows, columns=list(RAW_COLUMNS)).to_csv(folder / "export.csv", index=False)
        write_outputs(settings.period(q), clean_period(settings.period(q), progress=False))
    table = kpi_table(settings, "2020Q4", quarters=3)
    return table.set_index(["period", "area", "kpi"])


def test_known_answers_of_a_hand_built_export(hand_built):
    q4 = hand_built.loc["2020Q4"]
    city = q4.loc["city"]
    expect = {
        "renotified_3m": (2, 6),
        "renotified_12m": (3, 6),
        "repeat_victims": (3, 6),
        "channel_police": (4, 9),
        "channel_medical": (2, 9),
        "channel_school": (1, 9),
        "channel_justice": (0, 9),
        "opened": (4, 6),
        "victims_female": (4, 5),
        "victims_age_30_44": (2, 5),
        "victims_age_65plus": (1, 5),
    }
    for kpi, (k, n) in expect.items():
        low, high = proportion_confint(k, n, alpha=0.1, method="wilson")
        got = city.loc[kpi]
        assert (got["n"], got["value"]) == (n, pytest.approx(k / n)), kpi
        assert (got["low"], got["high"]) == (pytest.approx(low), pytest.approx(high)), kpi
    assert q4.loc[("松山區", "renotified_3m"), "value"] == pytest.approx(1 / 3)
    assert q4.loc[("大安區", "renotified_12m"), "value"] == pytest.approx(1 / 3)
    # days from incident to first notification: 2, 0, 2, 2, 7, 1 (no date; one after it)
    days = np.array([2, 0, 2, 2, 7, 1.0])
    mean = city.loc["days_to_notification_mean"]
    half = sps.t.ppf(0.95, len(days) - 1) * days.std(ddof=1) / np.sqrt(len(days))
    assert mean["n"] == 6 and mean["value"] == pytest.approx(days.mean())
    assert (mean["low"], mean["high"]) == (
        pytest.approx(days.mean() - half),
        pytest.approx(days.mean() + half),
    )
    med = city.loc["days_to_notification_median"]
    assert med["value"] == 2 and med["low"] <= 2 <= med["high"]
    # earlier quarters have their own rows; Q3 had none of these victims before
    assert hand_built.loc[("2020Q3", "city", "renotified_12m"), "value"] == 0.0


def test_renotification_window_edges():
    d = pd.to_datetime
    cur = pd.DataFrame(
        {"incident_id": ["x", "y", "z"], "victim_key": ["a", "b", "c"],
         "first_notified": d(["2020-10-31", "2020-10-31", "2020-10-31"])}
    )  # fmt: skip
    earlier = pd.DataFrame(
        {"incident_id": ["p", "q", "r", "x", "y", "z"], "victim_key": ["a", "b", "c", "a", "b", "c"],
         "first_notified": d(["2020-08-01", "2020-07-31", "2020-10-17", *["2020-10-31"] * 3]),
         "last_notified": d(["2020-08-01", "2020-07-31", "2020-10-17", *["2020-10-31"] * 3])}
    )  # fmt: skip
    r = stats_kpi.renotified(cur, earlier, 91, 14)
    # 91 days: counted; 92 days: not; 14 days: the same event
    assert r.to_dict() == {"a": True, "b": False, "c": False}


def test_kpi_against_the_synthetic_truth(year_of_data):
    """Re-notification and repeat victims on the generator's own victims and incidents agree
    with the pipeline's (its incidents grouped by the 14-day rule) within the interval, and
    the true share opened (0.68 of incidents, 0.1 × 0.32 blank: 0.68 / 0.968) lies in the
    city's interval."""
    s, _, _ = year_of_data
    table = kpi_table(s, "2020Q4", quarters=4).set_index(["period", "area", "kpi"])
    truth_inc = []
    for q in ("2020Q1", "2020Q2", "2020Q3", "2020Q4"):
        rows = synth_truth.read_rows(s, q)
        rows = rows[rows["expected_bucket"] == "clean"]
        notes = pd.read_parquet(s.period(q).notifications, columns=["notification_id",
                                                                      "notified_date"])  # fmt: skip
        t = rows.merge(notes, on="notification_id")
        g = t.groupby("incident_id").agg(
            victim_key=("victim_key", "first"),
            first_notified=("notified_date", "min"),
            last_notified=("notified_date", "max"),
        )
        truth_inc.append(g.reset_index().assign(period=q))
    truth_inc = pd.concat(truth_inc, ignore_index=True)
    opened_true = 0.68 / (0.68 + 0.32 * 0.9)
    covered = 0
    for q in ("2020Q2", "2020Q3", "2020Q4"):
        cur = truth_inc[truth_inc["period"] == q]
        for kpi, days in (
            ("renotified_3m", 91),
            ("renotified_12m", 365),
            ("repeat_victims", 10**6),
        ):
            true = stats_kpi.renotified(cur, truth_inc, days, 14).mean()
            row = table.loc[(q, "city", kpi)]
            assert row["low"] <= true <= row["high"], (q, kpi, true, row.to_dict())
        row = table.loc[(q, "city", "opened")]
        covered += row["low"] <= opened_true <= row["high"]
    assert covered >= 2
