"""End to end: the runner executes every notebook with papermill on small synthetic data."""

import json
import re

import nbformat
import pytest

from dv_analysis.config import NOTEBOOKS
from dv_analysis.runner import NotebookFailed, run, run_key, run_range
from dv_analysis.runner.one_period import CORE_NOTEBOOKS

from .conftest import FAST
from .golden_outputs import page_text

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def ran(e2e_run):
    return e2e_run["settings"], e2e_run["manifest"]


def test_manifest(ran):
    s, manifest = ran
    paths = s.period("2020Q4")
    on_disk = json.loads(paths.manifest.read_text())
    assert on_disk["status"] == manifest["status"] == "ok"
    assert on_disk["parameters"]["period"] == "2020Q4" and on_disk["parameters"]["seed"] == 42
    assert [n["notebook"] for n in on_disk["notebooks"]] == list(NOTEBOOKS)
    assert any(k.startswith("raw/") for k in on_disk["inputs"]) and any(
        k.startswith("public/") for k in on_disk["inputs"]
    )
    assert all(len(v) == 64 for v in on_disk["inputs"].values())
    assert on_disk["packages"]["esda"] != "not installed"
    assert "revision" in on_disk["git"]


def test_internal_files_are_the_owners_alone_and_staff_pages_readable(ran):
    """On a shared machine: the run's clean tables, executed notebooks and manifest are
    600 (folders 700); staff and public pages 644 (folders 755), reachable through 755."""
    s, _ = ran
    p = s.period("2020Q4")

    def mode(path):
        return path.stat().st_mode & 0o777

    for root in (p.clean, p.internal):
        assert mode(root) == 0o700, root
        for f in root.rglob("*"):
            assert mode(f) == (0o700 if f.is_dir() else 0o600), f
    assert mode(p.manifest) == 0o600
    for root in (p.staff, p.public):
        for f in (root, *root.rglob("*")):
            assert mode(f) == (0o755 if f.is_dir() else 0o644), f
    assert mode(p.reports) == mode(s.reports_dir) == 0o755


def test_outputs_per_period(ran):
    """The tables of 01–03 agree with each other and with their summaries, and every
    notebook ran for 2020Q4 without an error and has its staff page."""
    import pandas as pd

    s, _ = ran
    p = s.period("2020Q4")
    summary = json.loads(p.cleaning_summary.read_text())
    assert summary["balanced"] and summary["duplicate_reasons"].get("previous_period", 0) > 0
    counts, totals = summary["counts"], summary["totals"]
    assert len(pd.read_parquet(p.notifications)) == counts["notifications"] == totals["clean"]
    assert len(pd.read_parquet(p.incidents)) == counts["incidents"]
    assert len(pd.read_parquet(p.quarantine)) == totals["quarantined"]
    f = pd.read_parquet(p.village_features)
    assert len(f) == 456 and f["villcode"].is_unique
    assert f["notifications_q"].sum() == counts["notifications"]
    assert f["incidents_q"].sum() == counts["incidents"]
    hot = json.loads(p.hotspot_summary.read_text())
    assert hot["period"] == "2020Q4" and hot["panel_periods"] == ["2020Q3", "2020Q4"]
    panel = pd.read_parquet(p.village_panel)
    assert panel.groupby("period").size().to_dict() == {"2020Q3": 456, "2020Q4": 456}
    assert panel.loc[panel["period"] == "2020Q4", "incidents"].sum() == counts["incidents"]
    gi = pd.read_parquet(p.hotspots)
    assert set(gi["villcode"]) == set(f["villcode"]) and len(gi) == 456
    assert (hot["n_hot"], hot["n_cold"]) == ((gi["gi_bin"] > 0).sum(), (gi["gi_bin"] < 0).sum())
    emerging = pd.read_parquet(p.emerging_hotspots)
    assert len(emerging) == 456 and (emerging["n_periods"] == 2).all()
    scan = pd.read_parquet(p.scan_clusters)
    assert scan["cluster"].tolist() == list(range(1, len(scan) + 1))
    assert scan["kind"].iloc[0] == "most likely" and (scan["kind"].iloc[1:] == "secondary").all()
    for name in NOTEBOOKS:
        nb = nbformat.read(p.internal / name, as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert outputs and not [o for o in outputs if o.get("output_type") == "error"], name
        injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and "2020Q4" in injected[0].source, name
        html = (p.staff / name.replace(".ipynb", ".html")).read_text(encoding="utf-8")
        assert 'lang="zh-Hant"' in html and "2020Q4" in html and "Traceback" not in html, name


def test_staff_page_has_no_code_and_no_case_fields(ran):
    s, _ = ran
    p = s.period("2020Q4")
    html = (p.staff / "01_clean.html").read_text(encoding="utf-8")
    assert 'lang="zh-Hant"' in html
    assert "各匯出檔的列數核對" in html and "讀入列數" in html
    assert "clean_period" not in html and "Settings.from_args" not in html, (
        "code leaked into the staff page"
    )
    assert "Traceback" not in html and str(s.clean_dir) not in html, (
        "no tracebacks or internal paths"
    )
    assert not re.search(r"(src|href)=\"https?://", html), "staff pages make no network request"
    assert "data:image/png;base64" in html, "images are embedded"
    for page in p.staff.glob("*.html"):  # notes for analysts stay in the internal notebook
        assert "For analysts" not in page.read_text(encoding="utf-8"), page.name
    assert "For analysts" in (p.internal / "01_clean.ipynb").read_text(encoding="utf-8")
    notes = __import__("pandas").read_parquet(p.notifications)
    for nid in notes["notification_id"].head(50):
        assert nid not in html
    for key in notes["victim_key"].head(50):
        assert key not in html


def test_internal_notebook_shows_no_case_rows(ran):
    s, _ = ran
    p = s.period("2020Q4")
    nb = nbformat.read(p.internal / "01_clean.ipynb", as_version=4)
    text = json.dumps([c.get("outputs", []) for c in nb.cells], ensure_ascii=False)
    notes = __import__("pandas").read_parquet(p.notifications)
    assert not any(nid in text for nid in notes["notification_id"])


def test_range_skips_unchanged_periods(ran, capsys):
    """A rerun of the range recomputes nothing; a changed raw file changes its period and later ones."""
    s, manifest = ran
    before = {q: s.period(q).manifest.read_text() for q in ("2020Q3", "2020Q4")}
    manifests = run_range(s, "2020Q3", "2020Q4", extra_parameters=FAST)
    assert [m.get("skipped") for m in manifests] == [True, True], capsys.readouterr().out
    assert "unchanged since its last run" in capsys.readouterr().out
    assert {q: s.period(q).manifest.read_text() for q in before} == before
    params = manifest["parameters"]
    key3 = run_key(s, "2020Q3", {**params, "period": "2020Q3"}, CORE_NOTEBOOKS)["key"]
    key4 = run_key(s, "2020Q4", params, CORE_NOTEBOOKS)["key"]
    assert key4 == manifest["run_key"]["key"]
    # a different parameter or a new raw file of 2020Q4: 2020Q4 must rerun, 2020Q3 not
    assert run_key(s, "2020Q4", {**params, "seed": 1}, CORE_NOTEBOOKS)["key"] != key4
    extra = s.raw_dir / "2020Q4" / "late_export.csv"
    extra.write_text("通報編號\n", encoding="utf-8")
    try:
        assert run_key(s, "2020Q4", params, CORE_NOTEBOOKS)["key"] != key4
        assert run_key(s, "2020Q3", {**params, "period": "2020Q3"}, CORE_NOTEBOOKS)["key"] == key3
    finally:
        extra.unlink()
    with pytest.raises(FileNotFoundError, match="no raw exports for 2020Q1, 2020Q2"):
        run_range(s, "2020Q1", "2020Q4", progress=False)


def test_failure_names_the_notebook(small_data):
    with pytest.raises(
        NotebookFailed, match=r"01_clean\.ipynb failed for 2019Q1: MissingInputError"
    ):
        run(small_data, "2019Q1", progress=False)
    manifest = json.loads(small_data.period("2019Q1").manifest.read_text())
    assert (
        manifest["status"] == "failed" and "01_clean.ipynb failed" in manifest["attempt"]["error"]
    )
    assert manifest["outputs"] is None, "no earlier complete run of 2019Q1"
    attempt = json.loads(small_data.with_staging("2019Q1").period("2019Q1").manifest.read_text())
    assert attempt["notebooks"][0]["status"] == "failed", "the attempt is kept for inspection"


def test_failure_with_notebooks_at_once_names_the_notebook_and_starts_nothing_after(small_data):
    """``jobs=2``: the notebooks run in worker processes; the first failure is raised with
    the notebook's name and nothing that reads it is started."""
    with pytest.raises(NotebookFailed, match=r"01_clean\.ipynb failed for 2019Q1"):
        run(small_data, "2019Q1", progress=False, jobs=2)
    manifest = json.loads(small_data.period("2019Q1").manifest.read_text())
    attempt = json.loads(small_data.with_staging("2019Q1").period("2019Q1").manifest.read_text())
    assert manifest["status"] == "failed"
    assert [n["notebook"] for n in attempt["notebooks"]] == ["01_clean.ipynb"]
    assert attempt["notebooks"][0]["status"] == "failed"


def test_cli_run(ran, capsys):
    """The full runs of the session's data went through the command line (``e2e_run``); here
    a period without raw exports: exit code 1 and the reason."""
    from dv_analysis.cli import main

    s, manifest = ran
    assert manifest["status"] == "ok"
    code = main(
        [
            "run",
            "--period",
            "2018Q1",
            "--raw-dir",
            str(s.raw_dir),
            "--clean-dir",
            str(s.clean_dir),
            "--reports-dir",
            str(s.reports_dir),
            "--quiet",
        ]
    )
    assert code == 1
    assert "no raw exports for 2018Q1" in capsys.readouterr().err


def test_hotspot_outputs(ran):
    s, _ = ran
    p = s.period("2020Q4")
    h = __import__("pandas").read_parquet(p.hotspots)
    assert len(h) == 456
    assert {
        "villcode",
        "gi_z",
        "gi_p",
        "gi_bin",
        "lisa_q",
        "lisa_p",
        "lisa_cluster",
        "rate_eb",
    } <= set(h.columns)
    assert h["gi_bin"].between(-3, 3).all() and set(h["lisa_cluster"]) <= {
        "HH",
        "LL",
        "HL",
        "LH",
        "ns",
    }
    e = __import__("pandas").read_parquet(p.emerging_hotspots)
    assert len(e) == 456 and (e["n_periods"] == 2).all()
    html = (p.staff / "03_hotspots.html").read_text(encoding="utf-8")
    assert "熱點地圖" in html and "空間掃描" in html and "data:image/png;base64" in html
    assert not re.search(r"(src|href)=\"https?://", html)


def test_permutations_identical_for_the_same_seed(ran):
    import pandas as pd

    from dv_analysis.stages import hotspots

    s, _ = ran
    p = s.period("2020Q4")
    fast = {"permutations": 999, "panel_permutations": 99, "scan_simulations": 99}
    runs = []
    for seed in (42, 42, 43):
        hotspots.run(p, hotspots.HotspotParams(seed=seed, **fast), progress=False)
        runs.append(
            (
                pd.read_parquet(p.hotspots),
                pd.read_parquet(p.gi_panel),
                pd.read_parquet(p.scan_clusters),
            )
        )
    for a, b in zip(runs[0], runs[1], strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert not runs[0][0]["gi_p"].equals(runs[2][0]["gi_p"]), (
        "another seed gives other permutations"
    )


def test_village_risk_outputs(e2e_run):
    """The space-time model per village: intervals around the means, probabilities, the
    present risk, its direction, next quarter's excess, diagnostics in the manifest."""
    import pandas as pd

    s, manifest, snap = e2e_run["settings"], e2e_run["manifest"], e2e_run["snapshot"]
    p = s.period("2020Q4")
    risk = snap["2020Q4/village_risk.parquet"]
    assert len(risk) == 456 and {
        "villcode",
        "observed",
        "expected",
        "rr_mean",
        "rr_low",
        "rr_high",
        "p_exceed_1",
        "p_exceed_1_5",
        "higher_risk",
        "rr_now_mean",
        "rr_now_low",
        "rr_now_high",
        "p_now_exceed_1",
        "p_now_exceed_1_5",
        "p_rising",
        "trend",
        "expected_next",
        "excess_next_mean",
        "excess_next_low",
        "excess_next_high",
    } <= set(risk.columns)
    fitted = risk.dropna(subset=["rr_mean"])
    for pre in ("rr", "rr_now", "excess_next"):
        assert (fitted[f"{pre}_low"] <= fitted[f"{pre}_mean"]).all()
        assert (fitted[f"{pre}_mean"] <= fitted[f"{pre}_high"]).all()
    assert fitted["p_exceed_1"].between(0, 1).all()
    assert (fitted["p_exceed_1_5"] <= fitted["p_exceed_1"]).all()
    assert (fitted["p_now_exceed_1_5"] <= fitted["p_now_exceed_1"]).all()
    assert set(fitted["trend"]) <= {"上升", "持平", "下降"}
    assert (
        abs(fitted["expected"].sum() - fitted["observed"].sum()) < 1e-6 * fitted["observed"].sum()
    )
    summary = snap["2020Q4/risk_summary.json"]
    assert {"ok", "weight_ess", "newton_gradient_max", "message"} <= set(summary["diagnostics"])
    assert {"sigma", "rho", "sigma_delta", "sigma_eps"} == set(summary["hyperparameters"])
    assert summary["engine"]["name"] == "laplace"
    assert summary["engine"]["posterior_draws"] == summary["parameters"]["posterior_draws"] == 2000
    assert summary["expected_by"] == ["child", "elder", "ipv", "other"]
    assert manifest["risk_model"]["diagnostics"] == summary["diagnostics"]
    html = snap["2020Q4/staff/03b_village_risk.txt"]
    assert "目前高於全市平均的機率" in html and "目前相對風險" in html and "趨勢" in html
    assert "100%" not in html.splitlines(), "a probability cell reads 100%"
    on_disk = pd.read_parquet(p.village_risk)
    assert len(on_disk) == 456 and on_disk["villcode"].is_unique
    assert json.loads(p.risk_summary.read_text())["engine"]["name"] == "laplace"
    if not summary["diagnostics"]["ok"]:  # the page must say the numbers are unusable
        assert "沒有收斂" in html and manifest["warnings"]


def test_accessibility_outputs(ran):
    import pandas as pd

    s, _ = ran
    p = s.period("2020Q4")
    acc = pd.read_parquet(p.accessibility)
    assert len(acc) == 456 and {
        "dist_metro_station_m",
        "bus_coverage_500m",
        "sfca_family_service",
        "access_index",
    } <= set(acc.columns)
    irr = pd.read_parquet(p.risk_factors)
    assert set(irr["outcome"]) == {
        "全部事件",
        "親密關係暴力",
        "兒少保護",
        "老人虐待",
        "其他家庭成員暴力",
    }
    bs = pd.read_parquet(p.blind_spots)
    assert len(bs) == 456 and bs["blind_spot"].dtype == bool
    html = (p.staff / "04_accessibility.html").read_text(encoding="utf-8")
    assert "可能的低報地區" in html and "風險因子" in html and "data:image/png;base64" in html
    assert "Traceback" not in html and not re.search(r"(src|href)=\"https?://", html)
    # two quarters only: the prediction check says why it was not validated, in the internal copy
    nb = nbformat.read(p.internal / "04_accessibility.ipynb", as_version=4)
    assert "prediction not validated" in json.dumps(
        [c.get("outputs", []) for c in nb.cells], ensure_ascii=False
    )


def test_run_fails_when_the_audit_fails(ran):
    from dv_analysis.disclosure import AuditFailed

    s, _ = ran
    p = s.period("2020Q4")
    leak = p.public / "leak.csv"
    __import__("pandas").DataFrame({"victim_key": ["X"]}).to_csv(leak, index=False)
    index = (p.staff / "index.html").read_bytes()
    try:
        with pytest.raises(AuditFailed, match=r"public/leak\.csv"):
            run(s, "2020Q4", progress=False, notebooks=("01_clean.ipynb",))
        assert json.loads(p.manifest.read_text())["status"] == "audit failed"
        assert (p.staff / "index.html").read_bytes() == index, (
            "the previous outputs stay as they were"
        )
    finally:
        leak.unlink()


def _publish(p, params=None):
    """What 05_report does for the public tier: the open data, then the page and its map."""
    from dv_analysis import layers
    from dv_analysis.pages import public_page
    from dv_analysis.stages import report

    published = report.run(p, params or report.ReportParams())
    hot = report.load_inputs(p).hotspot_summary
    page, figure = public_page.public_page(
        published, layers.load_boundaries(p.settings), hot, p.public_map.name
    )
    report.write_public_page(p, page, figure)


def test_report_index_and_open_data(ran):
    import pandas as pd

    from dv_analysis import disclosure
    from dv_analysis.stages import report

    s, manifest = ran
    p = s.period("2020Q4")
    html = (p.staff / "index.html").read_text(encoding="utf-8")
    for part in (
        "家庭暴力風險季報",
        "本季摘要",
        "下一季外展優先名單",
        "各里地圖",
        "趨勢",
        "受影響的人",
        "資料來源",
    ):
        assert part in html, part
    assert manifest["public_level"] == "district"
    for name in ("districts.csv", "districts_dictionary.csv", "district_trends.csv"):
        assert (p.open_data / name).read_bytes().startswith(b"\xef\xbb\xbf"), (
            f"{name}: UTF-8 with BOM for Excel"
        )
    public_files = [f for f in p.public.rglob("*") if f.is_file()]
    assert not [f for f in public_files if "village" in f.name], "no village file by default"
    for f in public_files:
        if f.suffix == ".csv":
            cols = pd.read_csv(f, encoding="utf-8-sig", nrows=0).columns
            assert not set(cols) & disclosure.VILLAGE_COLUMNS, f"{f.name} has village rows"
    d = pd.read_csv(p.open_data / "district_trends.csv", encoding="utf-8-sig")
    counts = d.drop(columns="townname").stack().dropna()
    assert ((counts == 0) | ((counts >= 10) & (counts % 5 == 0))).all()
    assert disclosure.audit(p.reports) == []
    page = (p.public / "index.html").read_text(encoding="utf-8")
    assert "公開版" in page and 'src="map_incident_rates.png"' in page and "各行政區趨勢" in page
    shown = pd.read_csv(p.public / "map_incident_rates.png.data.csv", encoding="utf-8-sig")
    assert list(shown.columns) == ["townname", "rate_class"] and len(shown) == 12
    # publishing villages is a deliberate choice: without it the audit fails on them
    try:
        _publish(p, report.ReportParams(public_level="village"))
        v = pd.read_csv(p.open_data / "villages.csv", encoding="utf-8-sig")
        assert len(v) == 456
        for c in ("incidents_q", "notifications_q", "victims_q", "incidents_w"):
            shown = v[c].dropna()
            assert ((shown == 0) | ((shown >= 10) & (shown % 5 == 0))).all()
            assert (v.loc[v[c].isna(), f"{c}_status"] == disclosure.SUPPRESSED_LABEL).all()
        findings = disclosure.audit(p.reports)
        assert any("villages.csv" in str(f) and "village-level" in str(f) for f in findings)
        assert disclosure.audit(p.reports, public_level="village") == []
        shown = pd.read_csv(p.public / "map_incident_rates.png.data.csv", encoding="utf-8-sig")
        withheld = v.loc[v["incidents_w"].isna(), "villcode"].astype(str)
        assert (
            shown.set_index(shown["villcode"].astype(str)).loc[withheld, "rate_class"]
            == disclosure.SUPPRESSED_LABEL
        ).all()
    finally:
        for f in p.open_data.glob("villages*"):
            f.unlink()
        _publish(p)
    assert disclosure.audit(p.reports) == []


def test_staff_tables_hold_no_english_category_values(ran):
    """Table cells of every staff page are zh-TW: no True/False, scan ranks or nan."""
    from io import StringIO

    import pandas as pd

    s, _ = ran
    bad = {"True", "False", "most likely", "secondary", "nan", "NaN", "None"}
    pages = sorted(s.period("2020Q4").staff.glob("*.html"))
    with_tables = [p for p in pages if "<table" in p.read_text(encoding="utf-8")]
    assert len(with_tables) >= 6, "the staff pages' tables are what this test reads"
    for page in with_tables:  # a page with tables that do not parse fails here
        tables = pd.read_html(StringIO(page.read_text(encoding="utf-8")))
        for k, t in enumerate(tables, 1):
            cells = set(t.astype(str).stack()) | {str(c) for c in t.columns}
            assert not cells & bad, f"{page.name} table {k}: {sorted(cells & bad)}"


def test_who_is_affected_sums_to_the_clean_tables(ran):
    import pandas as pd

    s, _ = ran
    p = s.period("2020Q4")
    a = pd.read_parquet(p.affected)
    n = len(pd.read_parquet(p.notifications, columns=["villcode"]))
    assert set(a["table"]) == {"sex", "age", "relationship", "channel", "sex_district"}
    for name, t in a.groupby("table"):
        assert t["count"].sum() == n, name
    trends = pd.read_parquet(p.trends)
    inc = len(pd.read_parquet(p.incidents, columns=["villcode"]))
    assert trends.loc[trends["period"] == "2020Q4", "incidents"].sum() == inc


#: Text of every table cell under a header that names a probability (機率), as drawn.
PROBABILITY_CELLS = """[...document.querySelectorAll('table')].flatMap(t => {
  const heads = [...t.querySelectorAll('thead th')].map(h => h.innerText);
  const cols = heads.flatMap((h, i) => h.includes('機率') ? [i] : []);
  return [...t.querySelectorAll('tbody tr')].flatMap(r => {
    const c = [...r.querySelectorAll('td, th')];
    const off = c.length - heads.length;
    return cols.map(i => (c[i + off] || {}).innerText || '').map(x => x.trim());
  });
})"""
#: Captions of the tables that are wider than their place on the page (they scroll sideways).
TABLES_WIDER_THAN_THE_PAGE = """[...document.querySelectorAll('table')]
  .filter(t => t.scrollWidth > t.parentElement.clientWidth + 1)
  .map(t => (t.caption || {}).innerText || '(no caption)')"""
#: The 等級 cells of the outreach page's 留意 table (captioned 留意（依順位）).
WATCH_TABLE_TIERS = """(() => {
  const t = [...document.querySelectorAll('table')].find(x => (x.caption || {}).innerText === '留意（依順位）');
  if (!t) return [];
  const heads = [...t.querySelectorAll('thead th')].map(x => x.innerText.trim());
  const i = heads.indexOf('等級');
  return [...t.querySelectorAll('tbody tr')].map(r => {
    const c = [...r.querySelectorAll('td, th')];
    return ((c[i + c.length - heads.length] || {}).innerText || '').trim();
  });
})()"""


def test_pages_in_a_real_browser(ran, tmp_path):
    """Every staff page loads in headless Chromium with no network request, no console error, Chinese in a CJK font."""
    from dv_analysis.browser import Browser

    s, _ = ran
    p = s.period("2020Q4")
    pages = sorted(p.staff.glob("*.html")) + [p.public / "index.html"]
    assert len(pages) == len(NOTEBOOKS) + 2  # every notebook, index.html, the public page
    with Browser() as b:
        for page in pages:
            r = b.check(
                page, screenshot=tmp_path / f"{page.stem}.png" if page.stem == "index" else None
            )
            assert not r.requests, f"{page.name} requested {r.requests}"
            assert not r.console_errors, f"{page.name}: {r.console_errors}"
            assert r.cjk_font, f"{page.name}: heading drawn with {r.heading_fonts}"
            cells = b.evaluate(PROBABILITY_CELLS)
            assert not {"100%", "0%"} & set(cells), f"{page.name}: a probability reads {cells}"
        b.check(p.staff / "04b_priority.html")
        tiers = b.evaluate(WATCH_TABLE_TIERS)
        assert tiers and set(tiers) == {"留意"}, f"the 留意 table holds {set(tiers)}"
        assert (tmp_path / "index.png").read_bytes().startswith(b"\x89PNG")
        # the index map: hovering a village shows its name; it works at phone width too
        from dv_analysis import layers

        names = set(layers.load_boundaries(s).pipe(lambda v: v["townname"] + " " + v["villname"]))
        for width, mobile in ((1280, False), (390, True)):
            b.set_width(width, mobile)
            r = b.check(p.staff / "index.html")
            assert r.ok, (width, r.requests, r.console_errors)
            assert b.evaluate("document.querySelectorAll('.ivmap path.v').length") == 456
            tip = b.hover(".ivmap path.v", 200)
            assert tip.splitlines()[0] in names, tip
            assert tip == b.evaluate("document.querySelectorAll('.ivmap path.v')[200].dataset.t")
        b.set_width(1280)
        # at desktop width every table of the list's pages shows all its columns (they
        # used to scroll sideways, hiding 近一年走向 and 風險與可及性)
        for page in ("04b_priority.html", "index.html"):
            b.check(p.staff / page)
            assert not b.evaluate(TABLES_WIDER_THAN_THE_PAGE), page
        # the check itself can fail: a page that calls a network host and logs an error
        bad = tmp_path / "bad.html"
        bad.write_text(
            '<html><body><h1>熱點</h1><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script></body></html>'
        )
        r = b.check(bad, settle=1.0)
        assert (
            r.requests == ["http://127.0.0.1:9/x.png"]
            and r.console_errors
            and r.cjk_font
            and not r.ok
        )


def test_the_run_makes_a_service_plan_and_plan_changes_it(ran, tmp_path, capsys):
    """The plain run writes the service plan (sites, staff per district summing to the
    total, the summary); ``dv-analysis plan --new-sites 3`` on a copy of the period places
    three, leaves the risk and the list as they were, and names a bad candidate file's row."""
    import shutil

    import pandas as pd

    from dv_analysis.cli import main

    s, _ = ran
    p = s.period("2020Q4")
    sites, staff = pd.read_parquet(p.service_plan), pd.read_parquet(p.staff_allocation)
    summary = json.loads(p.plan_summary.read_text(encoding="utf-8"))
    assert staff["staff_proposed"].sum() == 97 and (staff["staff_low"] <= staff["staff_high"]).all()
    assert len(summary["new_sites"]) == 2 and set(summary["new_sites"]) <= set(sites["site_id"])
    assert (
        sites["chosen_share"].between(0, 1).all()
        and (sites.loc[sites["kind"] == "existing", "chosen_share"] == 1).all()
    )
    dirs = {}
    for name, src in (("raw", s.raw_dir), ("clean", s.clean_dir), ("reports", s.reports_dir)):
        dirs[name] = tmp_path / name
        shutil.copytree(src, dirs[name])
    flags = [
        "--raw-dir",
        str(dirs["raw"]),
        "--clean-dir",
        str(dirs["clean"]),
        "--reports-dir",
        str(dirs["reports"]),
        "--quiet",
    ]
    risk_before = (dirs["clean"] / "2020Q4" / "village_risk.parquet").read_bytes()
    assert main(["plan", "--period", "2020Q4", "--new-sites", "3", *flags]) == 0, (
        capsys.readouterr().err
    )
    again = json.loads((dirs["clean"] / "2020Q4" / "plan_summary.json").read_text(encoding="utf-8"))
    assert len(again["new_sites"]) == 3 and again["parameters"]["new_sites"] == 3
    assert (dirs["clean"] / "2020Q4" / "village_risk.parquet").read_bytes() == risk_before
    page = page_text(
        (dirs["reports"] / "2020Q4" / "staff" / "06_service_plan.html").read_text("utf-8")
    )
    names = "、".join(again["new_site_names"])
    assert f"建議新增 3 處：{names}" in page, "the page shows the three new sites"
    before = json.loads(p.manifest.read_text(encoding="utf-8"))
    m = json.loads((dirs["reports"] / "2020Q4" / "manifest.json").read_text(encoding="utf-8"))
    assert m["plan"]["status"] == "ok"
    assert m["status"] == before["status"], "the core's state as the plan found it"
    assert m["plan"]["parameters"] == {"new_sites": 3}, "the flags it changed, nothing else"
    assert m["parameters"] == before["parameters"], "the quarter's own run parameters"
    assert [e["notebook"] for e in m["notebooks"]] == [e["notebook"] for e in before["notebooks"]]
    core = [e for e in m["notebooks"] if e["notebook"] != "06_service_plan.ipynb"]
    plan = "06_service_plan.ipynb"  # the caseload (07) follows it since issue 42
    assert core == [e for e in before["notebooks"] if e["notebook"] != plan], (
        "the core's entries as its run wrote them"
    )
    bad = tmp_path / "candidates.csv"
    bad.write_text("name,lon,lat\n新據點,121.55,25.03\n海上,122.5,24.0\n", encoding="utf-8")
    assert main(["plan", "--period", "2020Q4", "--candidates", str(bad), *flags]) != 0
    assert "row 3" in capsys.readouterr().err


def test_the_run_makes_responsibility_areas_and_caseload_changes_them(ran, tmp_path, capsys):
    """The plain run writes the responsibility areas (each village in one of 97 areas, the
    summary's fields of issue 42, the staff page); ``dv-analysis caseload --workers 60
    --ceiling C`` on a copy of the period makes 60 areas and answers for that ceiling, and a
    bad staffing file stops it naming the file, row and column."""
    import shutil

    import pandas as pd

    from dv_analysis.cli import main

    s, _ = ran
    p = s.period("2020Q4")
    areas = pd.read_parquet(p.caseload_areas)
    summary = json.loads(p.caseload_summary.read_text(encoding="utf-8"))
    assert len(areas) == 456 and areas["villcode"].is_unique
    assert summary["n_areas"] == 97 == areas["area_id"].nunique()
    for key in ("band", "share_in_band", "max_travel_min", "workers_needed_at_ceiling"):
        assert key in summary
    page = page_text((p.staff / "07_caseload.html").read_text("utf-8"))
    assert "97 個責任區" in page and "歸屬可再討論的里" in page
    dirs = {}
    for name, src in (("raw", s.raw_dir), ("clean", s.clean_dir), ("reports", s.reports_dir)):
        dirs[name] = tmp_path / name
        shutil.copytree(src, dirs[name])
    flags = []
    for name in ("raw", "clean", "reports"):
        flags += [f"--{name}-dir", str(dirs[name])]
    ceiling = summary["band"]["mean"]  # the mean at 97: more workers are needed
    args = ["caseload", "--period", "2020Q4", "--workers", "60", "--ceiling", str(ceiling)]
    assert main([*args, *flags, "--quiet"]) == 0, capsys.readouterr().err
    again = json.loads((dirs["clean"] / "2020Q4" / "caseload_summary.json").read_text("utf-8"))
    assert again["n_areas"] == 60 and again["ceiling"] == round(ceiling, 2)
    assert again["workers_needed_at_ceiling"] > summary["workers_needed_at_ceiling"]
    m = json.loads((dirs["reports"] / "2020Q4" / "manifest.json").read_text(encoding="utf-8"))
    assert m["caseload"]["parameters"] == {"workers": 60, "ceiling": ceiling}
    bad = tmp_path / "staffing.csv"
    bad.write_text("centre,workers\n不存在的中心,3\n", encoding="utf-8")
    assert main(["caseload", "--period", "2020Q4", "--staffing", str(bad), *flags]) != 0
    err = capsys.readouterr().err
    assert str(bad) in err and "row 2, column 'centre'" in err
