"""The village-risk fit is made once per content and read back after (issue 14)."""

import json

import pandas as pd

from dv_analysis.stages import features, risk


def test_a_second_run_reads_the_fit_back_and_a_change_refits(year_of_data):
    s, _, _ = year_of_data
    paths = s.period("2020Q4")
    features.build(paths)
    params = risk.RiskParams(chains=2, warmup=100, draws=100, extend=False)
    first = risk.run(paths, params, progress=False)
    assert first.fit is not None and not first.summary["sampler"].get("cached")
    table = pd.read_parquet(paths.village_risk)
    second = risk.run(paths, params, progress=False)
    assert second.fit is None and second.summary["sampler"]["cached"]
    pd.testing.assert_frame_equal(pd.read_parquet(paths.village_risk), table)
    assert (
        json.loads(paths.risk_summary.read_text())["fixed_effects"]
        == first.summary["fixed_effects"]
    )
    other = risk.run(
        paths,
        risk.RiskParams(chains=2, warmup=100, draws=100, seed=7, extend=False),
        progress=False,
    )
    assert other.fit is not None, "another seed is another fit"


def test_a_fit_that_misses_its_diagnostics_is_refitted_longer_once(year_of_data):
    """Chains far too short to converge: the stage refits with twice the warm-up and draws,
    records the first attempt, and still reports the miss when the second misses too."""
    s, _, _ = year_of_data
    paths = s.period("2020Q4")
    features.build(paths)
    out = risk.run(paths, risk.RiskParams(chains=2, warmup=15, draws=15, seed=3), progress=False)
    sampler = out.summary["sampler"]
    assert sampler["warmup"] == 30 and sampler["draws"] == 30
    assert (
        sampler["extended_after"]["rhat_max"] > 1.01
        or sampler["extended_after"]["ess_bulk_min"] < 400
    )
    assert out.summary["diagnostics"]["ok"] is False, "a second miss stays a failure"
