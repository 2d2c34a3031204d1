"""Other cities end to end on small synthetic data: New Taipei (65000) and Taoyuan (68000)."""

import json

import pandas as pd
import pytest

from dv_analysis.runner import run
from dv_analysis.synth import SynthConfig, generate

from .conftest import make_settings

pytestmark = pytest.mark.e2e

#: The village-risk model with short chains (same code path; its diagnostics may miss).
SHORT_CHAINS = {"chains": 2, "warmup": 100, "draws": 100}


@pytest.mark.slow(seconds=32, why="New Taipei's 1,009 villages through four notebooks")
def test_new_taipei_end_to_end(tmp_path):
    """Another city's own layers and boundaries through cleaning, features, hotspots and
    access; its village risk, outreach list and report run in the all-of-Taiwan test below
    (New Taipei is one of its counties), so they are not run twice."""
    s = make_settings(tmp_path, city="65000")
    generate(
        s,
        SynthConfig(city="65000", start="2020Q3", end="2020Q4", seed=5, scale=0.05),
        progress=False,
    )
    fast = {"permutations": 999, "panel_permutations": 99, "scan_simulations": 99, **SHORT_CHAINS}
    run(s, "2020Q3", progress=False, notebooks=("01_clean.ipynb",))
    nbs = (
        "01_clean.ipynb",
        "02_village_features.ipynb",
        "03_hotspots.ipynb",
        "04_accessibility.ipynb",
    )
    manifest = run(s, "2020Q4", progress=False, extra_parameters=fast, notebooks=nbs)
    assert manifest["status"] == "ok" and manifest["audit"]["findings"] == []
    p = s.period("2020Q4")
    feats = pd.read_parquet(p.village_features)
    assert (
        len(feats) == 1009 and feats["low_income_per_1000"].isna().all()
    )  # Taipei-only layer left empty
    acc = pd.read_parquet(p.accessibility)
    assert acc["dist_police_precinct_m"].isna().all(), "never distances to another city's police"
    assert acc["dist_metro_station_m"].notna().all() and acc["access_index"].notna().all()
    html = (p.staff / "04_accessibility.html").read_text(encoding="utf-8")
    assert "只涵蓋臺北市" in html
    cleaned = json.loads(p.cleaning_summary.read_text())
    assert cleaned["balanced"] and cleaned["quarantine_reasons"].get("out_of_area", 0) > 0


@pytest.mark.slow(seconds=145, why="7,701 villages through every notebook, 22 county risk fits")
def test_all_of_taiwan_end_to_end(tmp_path):
    """`--city all`: 7,701 villages, names matched with their city, rule for retired villages."""
    from dv_analysis import layers

    s = make_settings(tmp_path, city="all")
    generate(
        s, SynthConfig(city="all", start="2020Q3", end="2020Q4", seed=8, scale=0.1), progress=False
    )
    fast = {"permutations": 99, "panel_permutations": 99, "scan_simulations": 19, **SHORT_CHAINS}
    run(s, "2020Q3", progress=False, notebooks=("01_clean.ipynb",))
    manifest = run(s, "2020Q4", progress=False, extra_parameters=fast)
    assert manifest["status"] == "ok" and manifest["audit"]["findings"] == []
    p = s.period("2020Q4")
    feats = pd.read_parquet(p.village_features)
    assert len(feats) == 7701 and feats["villcode"].is_unique
    # districts of the same name in different cities stay apart
    assert {"臺北市中正區", "基隆市中正區"} <= set(feats["townname"])
    # the report's own district tables keep the two 中正區 apart too (issue 39)
    trends, affected = pd.read_parquet(p.trends), pd.read_parquet(p.affected)
    by_district = affected[affected["table"].isin(["channel", "sex_district"])]["column"]
    for names in (set(trends["townname"]), set(by_district)):
        assert "中正區" not in names and {"臺北市中正區", "基隆市中正區"} <= names
    # nobody in the registers is lost: the retired villages' people are in their districts
    pop = layers.load_population(s, "2020Q4")
    assert feats["pop_total"].sum() == pop.loc[pop["in_boundaries"], "pop_total"].sum()
    assert pop.attrs["join_report"].methods["reassigned_people"] > 0
    cleaned = json.loads(p.cleaning_summary.read_text())
    assert cleaned["balanced"] and "out_of_area" not in cleaned["quarantine_reasons"]
    truth = pd.read_parquet(p.truth / "rows.parquet")
    notes = pd.read_parquet(p.notifications, columns=["notification_id", "villcode"])
    expected = truth[truth["expected_bucket"] == "clean"].set_index("notification_id")
    joined = notes.join(expected["true_villcode"], on="notification_id", how="inner")
    assert len(joined) > 0.97 * len(expected)
    assert (joined["villcode"] == joined["true_villcode"]).all()
    html = (p.staff / "04_accessibility.html").read_text(encoding="utf-8")
    assert "只涵蓋臺北市" in html


@pytest.mark.slow(seconds=30, why="two quarters of three notebooks at once")
def test_parallel_range_gives_the_sequential_results(e2e_run, tmp_path):
    """`run --period A:B --jobs 2`: cleaning in order, then quarters at once; the same tables
    as the end-to-end run, which ran the same exports one quarter after the other."""
    from dv_analysis.runner import run_range

    from .conftest import FAST

    src = e2e_run["settings"]
    par = make_settings(tmp_path)
    par = type(par)(**{**vars(par), "raw_dir": src.raw_dir})
    nbs = ("01_clean.ipynb", "02_village_features.ipynb", "03_hotspots.ipynb")
    b = run_range(
        par, "2020Q3", "2020Q4", notebooks=nbs, extra_parameters=FAST, progress=False, jobs=2
    )
    assert [m["status"] for m in b] == ["ok"] * 2
    assert [n["notebook"] for n in b[-1]["notebooks"]] == list(nbs)
    for q in ("2020Q3", "2020Q4"):
        for name in ("notifications", "village_features", "hotspots", "gi_panel"):
            table = getattr(par.period(q), name)
            sequential = e2e_run["snapshot"][f"{q}/{table.name}"]
            pd.testing.assert_frame_equal(pd.read_parquet(table), sequential, obj=f"{q} {name}")
    again = run_range(
        par, "2020Q3", "2020Q4", notebooks=nbs, extra_parameters=FAST, progress=False, jobs=2
    )
    assert all(m.get("skipped") for m in again)


@pytest.mark.slow(seconds=18, why="two worker processes started, failed and stopped")
def test_a_failure_in_a_parallel_range_stops_it_and_promotes_nothing(tmp_path):
    """`--jobs 2` over two quarters whose 02 fails (a weights setting that does not exist):
    the error names the notebook, neither quarter is promoted, both manifests say why, and
    no worker process is left running."""
    import multiprocessing

    from dv_analysis.runner import NotebookFailed, run_range

    s = make_settings(tmp_path)
    generate(s, SynthConfig(start="2020Q3", end="2020Q4", seed=6, scale=0.05), progress=False)
    nbs = ("01_clean.ipynb", "02_village_features.ipynb")
    with pytest.raises(NotebookFailed, match="02_village_features"):
        run_range(
            s,
            "2020Q3",
            "2020Q4",
            notebooks=nbs,
            extra_parameters={"weights": "nowhere"},
            progress=False,
            jobs=2,
        )
    for q in ("2020Q3", "2020Q4"):
        p = s.period(q)
        assert not p.village_features.exists()
        m = json.loads(p.manifest.read_text())
        assert m["status"] != "ok" and m["attempt"]["status"] == "failed", m
    assert not multiprocessing.active_children()
