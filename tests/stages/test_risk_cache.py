"""The village-risk fit is made once per content and read back after (issue 14)."""

import json

import pandas as pd
import pytest

from dv_analysis.stages import cache, features, risk


@pytest.mark.slow(seconds=25, why="two space-time fits of Taipei")
def test_a_second_run_reads_the_fit_back_and_a_change_refits(year_of_data):
    s, _, _ = year_of_data
    paths = s.period("2020Q4")
    features.build(paths)
    params = risk.RiskParams(posterior_draws=500)
    first = risk.run(paths, params, progress=False)
    assert not first.summary["engine"].get("cached")
    table = pd.read_parquet(paths.village_risk)
    second = risk.run(paths, params, progress=False)
    assert second.summary["engine"]["cached"]
    pd.testing.assert_frame_equal(pd.read_parquet(paths.village_risk), table)
    assert (
        json.loads(paths.risk_summary.read_text())["hyperparameters"]
        == first.summary["hyperparameters"]
    )
    other = risk.run(paths, risk.RiskParams(posterior_draws=500, seed=7), progress=False)
    assert not other.summary["engine"].get("cached"), "another seed is another fit"


def test_the_risk_window_keeps_the_panel_per_quarter_and_type(year_of_data):
    """The model's counts are the panel's over the risk window (the quarters with clean
    data), per quarter and case type, each type with its own population at risk; the
    expected counts of indirect standardisation add up to the observed ones; a count outside
    the panel is refused by name."""
    from dv_analysis.stats.disease_mapping.spacetime.model import expected_by_type

    s, _, results = year_of_data
    paths = s.period("2020Q4")
    features.build(paths)
    panel = pd.read_parquet(paths.village_panel)
    wp = risk.window_panel(paths, "incidents", 12)
    assert wp.quarters == ["2020Q1", "2020Q2", "2020Q3", "2020Q4"], "the quarters that exist"
    assert wp.y.sum() == sum(len(r.incidents) for r in results.values())
    assert sorted(wp.counts) == ["child", "elder", "ipv", "other"]
    assert wp.populations["other"].sum() == panel["pop_total"].sum()
    assert (wp.populations["child"] < wp.populations["ipv"]).mean() > 0.95
    assert (wp.populations["elder"] <= wp.populations["ipv"]).all()
    e = expected_by_type(wp.counts, wp.populations)
    assert abs(e.sum() - wp.y.sum()) < 1e-6
    half = risk.window_panel(paths, "notifications", 2)
    assert half.quarters == ["2020Q3", "2020Q4"] and list(half.counts) == ["all"]
    last_two = panel[panel["period"].isin(half.quarters)].groupby("villcode")["notifications"].sum()
    assert (half.y.sum(1) == last_two.reindex(half.villages["villcode"]).to_numpy()).all()
    with pytest.raises(ValueError, match="count 'incidents_w'.*incidents, notifications"):
        risk.window_panel(paths, "incidents_w", 12)


def _two_counties(year_of_data):
    """2020Q4's paths and the county fit's arguments (villages, y, e, e_next) for two
    districts of the year's data recoded as two "counties" (90100 and 90200)."""
    from dv_analysis.stats.disease_mapping.spacetime.model import expected_by_type, expected_next

    s, _, _ = year_of_data
    paths = s.period("2020Q4")
    features.build(paths)
    wp = risk.window_panel(paths, "incidents", 4)
    keep = wp.villages["villcode"].str[5:8].isin(["010", "020"]).to_numpy()
    g = wp.villages[keep].reset_index(drop=True)
    g["villcode"] = "9" + g["villcode"].str[5:8] + "0" + g["villcode"]
    counts = {k: v[keep] for k, v in wp.counts.items()}
    pops = {k: v[keep] for k, v in wp.populations.items()}
    y, e = sum(counts.values()), expected_by_type(counts, pops)
    return paths, (g, y, e, expected_next(counts, pops, 4))


@pytest.mark.slow(seconds=12, why="three passes over two county space-time fits")
def test_county_fits_are_cached_and_do_not_depend_on_the_workers(year_of_data, monkeypatch):
    """All of Taiwan fits county by county in worker processes: the same numbers on one
    worker or two, and a pass with the fits kept reads every county back."""
    import shutil

    paths, args = _two_counties(year_of_data)
    params = risk.RiskParams(posterior_draws=300)
    monkeypatch.setattr(risk, "cores", lambda: 1)
    one, s1 = risk._spacetime_by_county(paths, *args, params, progress=False)
    assert set(s1["per_county"]) == {"90100", "90200"} and s1["diagnostics"]["ok"]
    assert not any(c["engine"].get("cached") for c in s1["per_county"].values())
    again, s3 = risk._spacetime_by_county(paths, *args, params, progress=False)
    assert all(c["engine"]["cached"] for c in s3["per_county"].values())
    pd.testing.assert_frame_equal(again, one)
    shutil.rmtree(paths.settings.fit_cache)
    monkeypatch.setattr(risk, "cores", lambda: 2)  # fitted again, on two workers
    both, s2 = risk._spacetime_by_county(paths, *args, params, progress=False)
    assert not any(c["engine"].get("cached") for c in s2["per_county"].values())
    pd.testing.assert_frame_equal(one, both)


@pytest.mark.slow(seconds=8, why="two county space-time fits, then read back")
def test_county_jobs_prefitted_in_one_pool_are_read_back_without_a_pool(year_of_data, monkeypatch):
    """The backtest's prefit of all of Taiwan (every origin's counties in one pool, results
    not sent back) keeps fits that the county-by-county fit then reads back in its own
    process: no pool is started, and the numbers are those of fitting there."""
    import shutil

    paths, args = _two_counties(year_of_data)
    params = risk.RiskParams(posterior_draws=300, strategy="eb")
    shutil.rmtree(paths.settings.fit_cache, ignore_errors=True)
    jobs = risk.county_jobs(*args, prefix="2020Q3/")
    assert sorted(j[0] for j in jobs) == ["2020Q3/90100", "2020Q3/90200"]
    assert not any(risk.job_kept(paths, j, params) for j in jobs)
    made = risk.run_county_jobs(paths, jobs, params, keep=False)
    assert set(made) == {j[0] for j in jobs} and all(v is None for v in made.values())
    assert all(risk.job_kept(paths, j, params) for j in jobs)

    def no_pool(*a, **k):
        raise AssertionError("a pool was started though every fit was kept")

    monkeypatch.setattr(risk, "process_pool", no_pool)
    read, summary = risk._spacetime_by_county(paths, *args, params, progress=False)
    assert all(c["engine"]["cached"] for c in summary["per_county"].values())
    shutil.rmtree(paths.settings.fit_cache)
    monkeypatch.undo()  # a pool again, fitting afresh
    fresh, _ = risk._spacetime_by_county(paths, *args, params, progress=False)
    pd.testing.assert_frame_equal(read, fresh)


def test_a_cached_fit_is_keyed_by_the_code_that_fits_it(year_of_data, monkeypatch):
    """Another model or engine is another fit: the key holds their code, and the strategy."""
    s, _, _ = year_of_data
    paths = s.period("2020Q4")
    features.build(paths)
    wp = risk.window_panel(paths, "incidents", 4)
    y = wp.y
    key = risk.spacetime_key(wp.villages, y, y + 1.0, risk.RiskParams())
    assert risk.spacetime_key(wp.villages, y, y + 1.0, risk.RiskParams()) == key
    assert risk.spacetime_key(wp.villages, y, y + 1.0, risk.RiskParams(strategy="eb")) != key
    monkeypatch.setattr(cache, "code_digest", lambda *code: b"another model")
    assert risk.spacetime_key(wp.villages, y, y + 1.0, risk.RiskParams()) != key


def test_kept_draws_skip_villages_without_a_fit():
    """Villages left out of the fit (no population) have no draws: the long table holds the
    others' draws only (all of Taiwan has such villages)."""
    import numpy as np
    import pandas as pd

    from dv_analysis.stages.risk import draws_table

    t = pd.DataFrame(
        {
            "villcode": ["a", "b", "c"],
            "rr_now_draws": [np.array([1.0, 2.0], np.float32), np.nan, np.array([0.5, 0.7])],
            "next_draws": [np.array([3.0, 4.5], np.float32), np.nan, np.array([1.0, 0.0])],
        }
    )
    out = draws_table(t)
    assert out["villcode"].tolist() == ["a", "a", "c", "c"] and out["draw"].tolist() == [0, 1, 0, 1]
    assert out["rr_now"].tolist() == pytest.approx([1.0, 2.0, 0.5, 0.7])
    assert out["next_expected"].tolist() == pytest.approx([3.0, 4.5, 1.0, 0.0])
