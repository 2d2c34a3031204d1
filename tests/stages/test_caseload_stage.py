"""Responsibility areas on a synthetic Taipei (issue 42): every village in one contiguous
area, caseloads inside the band over the draws, travel no longer than the city's 95th
percentile of today's, ``workers`` and ``ceiling`` changing the answer, staffing files
checked row by row."""

import json

import numpy as np
import pandas as pd
import pytest

from dv_analysis import layers
from dv_analysis.config import Settings
from dv_analysis.stages import caseload, plan
from dv_analysis.stats.planning import regions
from dv_analysis.stats.weights import build_weights, representative_xy


@pytest.fixture(scope="module")
def villages():
    return layers.load_boundaries(Settings.from_args())


def _inputs(paths, villages, rng):
    """The stage's inputs for Taipei as the pipeline makes them: today's accessibility of
    every village (04's table from the public layers and the 2020Q4 population: its
    hard-to-reach villages take 1.5 times as long), each village's expected incidents next
    quarter in proportion to its residents at 4.6 on average, times a relative risk
    (lognormal, sd of the log 0.35), and 200 draws each within about ±18 % (the spread the
    synthetic Taipei's risk model gives a village)."""
    from dv_analysis.stages import access

    acc = access.village_accessibility(paths.settings, paths.period)
    acc = acc.set_index("villcode").reindex(villages["villcode"]).reset_index()
    pop = acc["pop_total"].to_numpy(float)
    ids = list(villages["villcode"])
    mean = 4.6 * pop / pop.mean() * rng.lognormal(-0.06, 0.35, len(ids))
    draws = mean[None, :] * rng.lognormal(0.0, 0.18, (200, len(ids)))
    paths.clean.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"villcode": ids, "expected_next": mean}).to_parquet(paths.village_risk)
    pd.DataFrame(
        {
            "draw": np.repeat(np.arange(200), len(ids)),
            "villcode": ids * 200,
            "next_expected": draws.ravel(),
        }
    ).to_parquet(paths.village_risk_draws)
    acc.to_parquet(paths.accessibility)
    return draws


@pytest.fixture(scope="module")
def taipei(villages, tmp_path_factory):
    """The stage run with its defaults (97 workers) on a synthetic Taipei."""
    root = tmp_path_factory.mktemp("caseload")
    settings = Settings.from_args(clean_dir=root / "clean", reports_dir=root / "r")
    paths = settings.period("2020Q4")
    draws = _inputs(paths, villages, np.random.default_rng(11))
    out = caseload.run(paths, caseload.CaseloadParams(), progress=False)
    return paths, out, draws


def _elsewhere(paths, tmp_path):
    """The same inputs in another folder (so a run with other settings writes there)."""
    import shutil

    other = Settings.from_args(clean_dir=tmp_path / "clean", reports_dir=tmp_path / "r")
    shutil.copytree(paths.clean, other.period(paths.period).clean)
    return other.period(paths.period)


def _neighbours(villages):
    w, _ = build_weights(villages, "queen")
    nb, _ = regions.connected_neighbours(w.neighbors, representative_xy(villages))
    return nb


@pytest.mark.slow(
    seconds=12, why="the areas of Taipei's 456 villages, and the workers a ceiling needs"
)
def test_97_workers_every_village_in_one_contiguous_area_mostly_in_band(villages, taipei):
    paths, out, draws = taipei
    table = pd.read_parquet(paths.caseload_areas)
    summary = json.loads(paths.caseload_summary.read_text(encoding="utf-8"))
    assert table["villcode"].is_unique and set(table["villcode"]) == set(villages["villcode"])
    assert summary["n_areas"] == 97 == table["area_id"].nunique()
    labels = pd.factorize(table.set_index("villcode").loc[villages["villcode"], "area_id"])[0]
    assert regions.is_contiguous(labels, _neighbours(villages))
    # ≥ 90 % of areas inside the band in ≥ 80 % of the draws, recounted from the draws
    shares, mean = regions.band_shares(labels, draws, 0.2)
    assert (shares >= 0.8).mean() >= 0.9, np.sort(shares)[:15]
    assert summary["share_in_band"] == pytest.approx((shares >= 0.8).mean(), abs=1e-4)
    assert summary["band"]["mean"] == pytest.approx(mean, abs=0.01)
    assert summary["band"]["low"] == pytest.approx(0.8 * mean, abs=0.01)
    # each area's trip from its centre no longer than the city's 95th percentile of today's
    centres, minutes = caseload.centres_of(paths, villages)
    p95 = np.percentile(minutes.min(axis=1), 95)
    assert summary["max_travel_min"] <= p95 and summary["travel_p95_today_min"] == round(p95, 1)
    assert (out.areas["travel_min"] <= p95).all()
    assert set(table["centre"]) <= set(centres["name"])
    # the columns of the issue, and the area's numbers on each of its villages
    for col in ("villcode", "area_id", "centre", "expected_cases_mean", "expected_cases_low"):
        assert col in table
    area = table.groupby("area_id")
    assert (area["expected_cases_mean"].nunique() == 1).all()
    assert (table["expected_cases_low"] <= table["expected_cases_mean"]).all()
    assert (table["expected_cases_mean"] <= table["expected_cases_high"]).all()


@pytest.mark.slow(seconds=15, why="the areas of Taipei twice more: 60 workers, a ceiling")
def test_workers_and_ceiling_change_the_answer_as_stated(villages, taipei, tmp_path):
    """60 workers: 60 areas whose band is 97/60 times as high; a ceiling of 15 expected
    cases needs at least total/15 workers and more than the default ceiling does."""
    paths, out, draws = taipei
    paths = _elsewhere(paths, tmp_path)
    sixty = caseload.run(paths, caseload.CaseloadParams(workers=60, ceiling=15.0), progress=False)
    s97, s60 = out.summary, sixty.summary
    assert s60["n_areas"] == 60 == pd.read_parquet(paths.caseload_areas)["area_id"].nunique()
    assert s60["band"]["mean"] == pytest.approx(s97["band"]["mean"] * 97 / 60, rel=1e-3)
    assert s60["ceiling"] == 15.0 and s97["ceiling"] == s97["band"]["high"]
    total = draws.sum(axis=1).mean()
    assert s60["workers_needed_at_ceiling"] >= np.ceil(total / 15.0)
    assert s60["workers_needed_at_ceiling"] > s97["workers_needed_at_ceiling"]
    assert s97["workers_needed_at_ceiling"] >= np.ceil(total / s97["ceiling"])


@pytest.mark.slow(seconds=11, why="the areas of Taipei with a staffing file")
def test_a_staffing_file_gives_each_centre_its_areas(villages, taipei, tmp_path):
    paths = _elsewhere(taipei[0], tmp_path)
    centres, _ = caseload.centres_of(paths, villages)
    names = list(centres["name"][:3])
    f = tmp_path / "staff.csv"
    f.write_text(f"centre,workers\n{names[0]},4\n{names[1]},3\n{names[2]},2\n", encoding="utf-8")
    out = caseload.run(paths, caseload.CaseloadParams(centre_staffing=str(f)), progress=False)
    assert out.summary["n_areas"] == 9
    assert out.areas["centre"].value_counts().to_dict() == dict(zip(names, (4, 3, 2), strict=True))


@pytest.mark.parametrize(
    "text, message",
    [
        ("centre,workers\n{a},3\n火星中心,2\n", "row 3, column 'centre': '火星中心' is not"),
        ("centre,workers\n{a},3\n{a},2\n", "row 3, column 'centre': '{a}' repeats"),
        ("centre,workers\n{a},3\n{b},two\n", "row 3, column 'workers': 'two' is not a whole"),
        ("centre,workers\n{a},-1\n", "row 2, column 'workers': '-1'"),
        ("centre,staff\n{a},3\n", "needs columns centre, workers; missing ['workers']"),
    ],
)
def test_a_bad_staffing_file_names_file_row_and_column(villages, taipei, tmp_path, text, message):
    paths, _, _ = taipei
    centres, _ = caseload.centres_of(paths, villages)
    a, b = centres["name"][:2]
    f = tmp_path / "bad.csv"
    f.write_text(text.format(a=a, b=b), encoding="utf-8")
    with pytest.raises(ValueError) as e:
        caseload.read_centre_staffing(f, centres["name"])
    assert str(f) in str(e.value) and message.format(a=a) in str(e.value)


def test_parameters_are_checked_when_made():
    with pytest.raises(ValueError, match="workers"):
        caseload.CaseloadParams(workers=0)
    with pytest.raises(ValueError, match="band"):
        caseload.CaseloadParams(band=1.5)


def test_the_plan_reads_the_same_draws(villages, taipei):
    """The caseload is the plan's demand: the draws' expected incidents (``demand_draws``)."""
    paths, out, draws = taipei
    _, expected = plan.demand_draws(paths, villages["villcode"].to_numpy())
    assert np.allclose(expected, draws)
    table = out.villages.set_index("villcode").loc[villages["villcode"]]
    assert np.allclose(table["village_cases_mean"], draws.mean(axis=0).round(2))
