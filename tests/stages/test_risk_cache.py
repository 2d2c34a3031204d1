"""The village-risk fit is made once per content and read back after (issue 14)."""

import json

import pandas as pd
import pytest

from dv_analysis.stages import features, risk


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
    from dv_analysis.stats.spacetime import expected_by_type

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


def test_a_pooled_fit_that_misses_its_diagnostics_is_refitted_longer_once(year_of_data):
    """The pooled BYM2 of the backtest, with chains far too short to converge: it is refitted
    with twice the warm-up and draws, records the first attempt, and still reports the miss
    when the second misses too."""
    s, _, _ = year_of_data
    paths = s.period("2020Q4")
    features.build(paths)
    g, _ = risk.window_table(paths, "incidents", 4)
    expected = risk.expected_counts(g["observed"].to_numpy(float), g["person_quarters"])
    fit = risk._fit(g, expected, risk.RiskParams(chains=2, warmup=15, draws=15, seed=3))
    assert fit.sampler["warmup"] == 30 and fit.sampler["draws"] == 30
    assert (
        fit.sampler["extended_after"]["rhat_max"] > 1.01
        or fit.sampler["extended_after"]["ess_bulk_min"] < 400
    )
    assert fit.diagnostics["ok"] is False, "a second miss stays a failure"


@pytest.mark.slow(seconds=21, why="three passes over two county fits, one on two worker processes")
def test_county_fits_are_cached_and_do_not_depend_on_the_workers(year_of_data, monkeypatch):
    """All of Taiwan fits county by county in worker processes: the same numbers on one
    worker or two, and a second pass reads every county back."""
    s, _, _ = year_of_data
    paths = s.period("2020Q4")
    features.build(paths)
    g, _ = risk.window_table(paths, "incidents", 4)
    two = g[g["villcode"].str[5:8].isin(["010", "020"])].reset_index(drop=True)
    two["villcode"] = "9" + two["villcode"].str[5:8] + "0" + two["villcode"]  # two "counties"
    expected = risk.expected_counts(
        two["observed"].to_numpy(float), two["person_quarters"].to_numpy()
    )
    params = risk.RiskParams(chains=2, warmup=100, draws=100, extend=False)
    monkeypatch.setattr(risk, "cores", lambda: 1)
    one, s1 = risk._fit_by_county(paths, two, expected, params, progress=False)
    assert set(s1["per_county"]) == {"90100", "90200"} and s1["sampler"]["workers"] == 1
    # the national sampler line: the parameters' chain lengths, the forms and refits counted
    assert (s1["sampler"]["warmup"], s1["sampler"]["draws"], s1["sampler"]["extended"]) == (
        100,
        100,
        [],
    )
    forms = [c["sampler"]["parameterisation"] for c in s1["per_county"].values()]
    assert s1["sampler"]["parameterisations"] == {f: forms.count(f) for f in set(forms)}
    assert "data_strength" not in s1["sampler"] and "max_tree_depth" not in s1["sampler"]
    assert not any(c["sampler"].get("cached") for c in s1["per_county"].values())
    kept = sorted(paths.settings.fit_cache.glob("*"))
    monkeypatch.setattr(risk, "cores", lambda: 2)  # fit again (cache off), on two workers
    both, s2 = risk._fit_by_county(paths, two, expected, params, progress=False, cache=False)
    pd.testing.assert_frame_equal(one, both)
    assert s2["sampler"]["workers"] == 2
    assert not any(c["sampler"].get("cached") for c in s2["per_county"].values())
    assert sorted(paths.settings.fit_cache.glob("*")) == kept  # nothing read, nothing written
    again, s3 = risk._fit_by_county(paths, two, expected, params, progress=False)
    assert all(c["sampler"]["cached"] for c in s3["per_county"].values())
    pd.testing.assert_frame_equal(again, one)


def test_county_jobs_share_a_graph_size_and_split_the_large_ones():
    """Counties in jobs of one padded graph size (one traced sampler a job), none over a
    quarter of the villages per worker unless a county alone is, every county once."""
    from dv_analysis.stats.bym2 import padded_size

    size = pd.Series({"a": 1009, "b": 886, "c": 649, "d": 504, "e": 456, "f": 233,
                      "g": 192, "h": 37, "i": 22, "j": 3000})  # fmt: skip
    jobs = risk.county_jobs(size, workers=2)
    assert sorted(c for job in jobs for c in job) == sorted(size.index)
    cap = size.sum() / 4
    for job in jobs:
        assert len({padded_size(size[c]) for c in job}) == 1, job
        assert len(job) == 1 or size[job].sum() <= cap, job
    # largest first, but a + b would pass the cap, and "a" does not start beside "b, c"
    # (the same sampler would be compiled twice at once) while a job of another size is left
    assert jobs[:4] == [["j"], ["b", "c"], ["d", "e"], ["a"]]
    assert risk.county_jobs(size, workers=1)[:2] == [["j"], ["a", "b", "c"]]
    four = risk.county_jobs(size, workers=4)
    sizes = [padded_size(size[job[0]]) for job in four]
    assert len(set(sizes[:4])) == 4, sizes  # four workers: four sizes at once


def test_a_cached_fit_is_keyed_by_the_code_that_fits_it(year_of_data, monkeypatch):
    """Another model or refit rule is another fit: the key holds their code."""
    s, _, _ = year_of_data
    paths = s.period("2020Q4")
    features.build(paths)
    g, _ = risk.window_table(paths, "incidents", 4)
    expected = risk.expected_counts(g["observed"].to_numpy(float), g["person_quarters"])
    key = risk.fit_key(g, expected, risk.RiskParams())
    assert risk.fit_key(g, expected, risk.RiskParams()) == key
    monkeypatch.setattr(risk, "code_digest", lambda *code: b"another model")
    assert risk.fit_key(g, expected, risk.RiskParams()) != key
