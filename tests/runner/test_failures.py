"""Every notebook's failure is named, and none loses a quarter to a plan (issue 40).

A failure is injected into each notebook's stage (a copy of ``notebooks/`` where a cell
after the parameters replaces the stage's entry point with one that raises; the runner
finds it through ``DV_PROJECT_ROOT``). Then, for a core notebook (01–05): the console and
the manifest name the notebook and the error, and nothing of the previous complete quarter
changes. For the plan (06): the quarter's core is promoted, the manifest says ``plan:
failed`` with the command that completes it, the front page says so in one line, and
``dv-analysis plan`` completes the quarter and removes the line.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pandas as pd
import pytest

from dv_analysis.config import NOTEBOOK_REGISTRY, project_root
from dv_analysis.synth import SynthConfig, generate

from ..conftest import fast_flags, make_settings
from .test_atomic_runs import _digest_tree

PERIOD = "2020Q4"
#: The stage function each notebook calls (``run`` unless named here).
ENTRY = {"clean": "clean_period", "features": "build"}
#: The injected error: a message a reader can find in the console, manifest and pages.
MESSAGE = "injected failure for the test"

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("failures")]


def _cli(s, *args: str, root=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DV_CACHE_DIR": str(project_root() / ".cache")}
    if root is not None:
        env["DV_PROJECT_ROOT"] = str(root)
    dirs = [
        "--raw-dir",
        str(s.raw_dir),
        "--clean-dir",
        str(s.clean_dir),
        "--reports-dir",
        str(s.reports_dir),
        "--public-dir",
        str(s.public_dir),
    ]
    cmd = [sys.executable, "-m", "dv_analysis.cli", *args, *dirs]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def _failing_root(tmp_path, notebook: str):
    """A project root whose ``notebook`` raises ``MESSAGE`` from inside its stage's call."""
    root = tmp_path / "project"
    shutil.copytree(project_root() / "notebooks", root / "notebooks")
    shutil.copy(project_root() / "pyproject.toml", root / "pyproject.toml")
    entry = next(n for n in NOTEBOOK_REGISTRY if n.name == notebook)
    path = root / "notebooks" / notebook
    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = (
        f"import dv_analysis.stages.{entry.stage} as _stage\n\n\n"
        f"def _fail(*args, **kwargs):\n    raise RuntimeError({MESSAGE!r})\n\n\n"
        f"_stage.{ENTRY.get(entry.stage, 'run')} = _fail"
    )
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["internal"]}))
    nbformat.write(nb, path)
    return root


@pytest.fixture(scope="module")
def complete_quarter(tmp_path_factory):
    """A tiny synthetic Taipei quarter, run completely once (the previous complete outputs)."""
    s = make_settings(tmp_path_factory.mktemp("complete"))
    generate(s, SynthConfig(start=PERIOD, end=PERIOD, seed=5, scale=0.05), progress=False)
    r = _cli(s, "run", "--period", PERIOD, "--quiet", *fast_flags())
    assert r.returncode == 0, r.stderr
    return s


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy(src, tmp_path):
    s = make_settings(tmp_path / "world")
    for a, b in (
        (src.raw_dir, s.raw_dir),
        (src.clean_dir, s.clean_dir),
        (src.reports_dir, s.reports_dir),
    ):
        shutil.copytree(a, b)
    return s


CORE = [n.name for n in NOTEBOOK_REGISTRY if not n.addon]
#: The add-on after the plan (issue 42): made whether or not the plan fails.
CASELOAD = ["07_caseload.ipynb"]


@pytest.mark.slow(seconds=12, why="a quarter run up to the failing notebook")
@pytest.mark.parametrize("notebook", CORE)
def test_a_failing_core_notebook_is_named_and_changes_nothing(complete_quarter, tmp_path, notebook):
    s = _copy(complete_quarter, tmp_path)
    final = s.period(PERIOD)
    before = _digest_tree(final.clean, final.reports / "staff", final.reports / "public")
    finished = json.loads(final.manifest.read_text())["finished"]
    r = _cli(
        s,
        "run",
        "--period",
        PERIOD,
        "--force",
        "--quiet",
        *fast_flags(),
        root=_failing_root(tmp_path, notebook),
    )
    assert r.returncode == 1
    assert f"error: notebook {notebook} failed for {PERIOD}: RuntimeError: {MESSAGE}" in r.stderr
    m = json.loads(final.manifest.read_text())
    assert m["status"] == "failed" and MESSAGE in m["attempt"]["error"]
    assert m["outputs"]["finished"] == finished, "the complete run's files are the ones in place"
    after = _digest_tree(final.clean, final.reports / "staff", final.reports / "public")
    assert after == before, "nothing of the previous complete quarter changed"
    staged = s.with_staging(PERIOD).period(PERIOD)
    failed = json.loads(staged.manifest.read_text())
    entry = next(e for e in failed["notebooks"] if e["notebook"] == notebook)
    assert entry["status"] == "failed" and MESSAGE in entry["error"]


@pytest.mark.slow(seconds=35, why="a quarter whose plan fails, then the plan alone")
def test_a_failing_plan_keeps_the_quarter_and_plan_completes_it(complete_quarter, tmp_path):
    s = _copy(complete_quarter, tmp_path)
    final = s.period(PERIOD)
    r = _cli(
        s,
        "run",
        "--period",
        PERIOD,
        "--force",
        "--quiet",
        *fast_flags(),
        root=_failing_root(tmp_path, "06_service_plan.ipynb"),
    )
    assert r.returncode == 0, r.stderr
    assert f"the plan (06_service_plan.ipynb) failed: RuntimeError: {MESSAGE}" in r.stderr
    assert f"`dv-analysis plan --period {PERIOD}`" in r.stderr
    m = json.loads(final.manifest.read_text())
    assert m["status"] == "ok" and m["plan"]["status"] == "failed"
    assert m["plan"]["rerun"] == f"dv-analysis plan --period {PERIOD}"
    assert m["plan"]["reason"] == f"RuntimeError: {MESSAGE}"
    assert [e["notebook"] for e in m["notebooks"]] == [*CORE, *CASELOAD]
    for table in (final.village_priority, final.village_risk):
        t = pd.read_parquet(table)
        assert len(t) == 456 and t["villcode"].is_unique, f"{table.name}: the core is in place"
    priority_page = (final.staff / "04b_priority.html").read_text(encoding="utf-8")
    assert "下一季外展優先名單" in priority_page and PERIOD in priority_page
    assert not final.service_plan.exists() and not (final.staff / "06_service_plan.html").exists()
    index = (final.staff / "index.html").read_text(encoding="utf-8")
    assert index.count("dv-addon-notice") == 3  # the markers and the line's class
    assert "服務據點與社工人力規劃未能完成" in index and "RuntimeError" in index
    assert MESSAGE not in index, "an error's text may quote a value: only its type on the page"
    # the plan alone completes the quarter, without rerunning the rest
    core = (
        final.village_risk,
        final.internal / "05_report.ipynb",
        final.staff / "04b_priority.html",
    )
    core_files = [_sha(f) for f in core]
    r = _cli(s, "plan", "--period", PERIOD, "--quiet")
    assert r.returncode == 0, r.stderr
    m = json.loads(final.manifest.read_text())
    assert m["status"] == "ok" and m["plan"]["status"] == "ok"
    assert [e["notebook"] for e in m["notebooks"]] == [*CORE, "06_service_plan.ipynb", *CASELOAD]
    sites = pd.read_parquet(final.service_plan)
    plan = json.loads(final.plan_summary.read_text(encoding="utf-8"))
    assert plan["period"] == PERIOD and set(plan["new_sites"]) <= set(sites["site_id"])
    assert len(sites) == plan["candidates"] + plan["existing_sites"]
    plan_page = (final.staff / "06_service_plan.html").read_text(encoding="utf-8")
    assert "服務據點與社工人力規劃" in plan_page and PERIOD in plan_page
    assert "dv-addon-notice" not in (final.staff / "index.html").read_text(encoding="utf-8")
    assert [_sha(f) for f in core] == core_files, "the core is not rerun"
    # the next run finds everything unchanged
    r = _cli(s, "run", "--period", PERIOD, *fast_flags())
    assert r.returncode == 0 and "unchanged since its last run" in r.stdout, r.stdout + r.stderr
    assert "06_service_plan.ipynb unchanged" in r.stdout
    # a redo with other settings that fails keeps the plan in place, and says so
    plan_page = _sha(final.staff / "06_service_plan.html")
    root = _failing_root(tmp_path / "again", "06_service_plan.ipynb")
    r = _cli(s, "plan", "--period", PERIOD, "--new-sites", "3", "--quiet", root=root)
    assert r.returncode == 1 and MESSAGE in r.stderr
    m = json.loads(final.manifest.read_text())
    assert m["status"] == "ok" and m["plan"]["status"] == "failed"
    assert m["plan"]["outputs"]["status"] == "ok", "the plan in place is recorded"
    assert _sha(final.staff / "06_service_plan.html") == plan_page
    index = (final.staff / "index.html").read_text(encoding="utf-8")
    assert "規劃頁顯示的是先前完成的規劃" in index and MESSAGE not in index
    # the next plain run tries the failed plan again, and leaves the core as it is
    r = _cli(s, "run", "--period", PERIOD, "--quiet", *fast_flags())
    assert r.returncode == 0, r.stderr
    m = json.loads(final.manifest.read_text())
    assert m["plan"]["status"] == "ok" and "outputs" not in m["plan"]
    assert [_sha(f) for f in core] == core_files
    assert "dv-addon-notice" not in (final.staff / "index.html").read_text(encoding="utf-8")


@pytest.mark.slow(seconds=35, why="a quarter whose responsibility areas fail, then they alone")
def test_failing_caseload_keeps_the_quarter_and_the_plan(complete_quarter, tmp_path):
    """The responsibility areas (07) are an add-on after the plan: their failure leaves the
    core and the plan in place, says so on the front page in its own line, and
    ``dv-analysis caseload`` completes the quarter and removes the line."""
    s = _copy(complete_quarter, tmp_path)
    final = s.period(PERIOD)
    r = _cli(
        s,
        "run",
        "--period",
        PERIOD,
        "--force",
        "--quiet",
        *fast_flags(),
        root=_failing_root(tmp_path, "07_caseload.ipynb"),
    )
    assert r.returncode == 0, r.stderr
    assert f"the caseload (07_caseload.ipynb) failed: RuntimeError: {MESSAGE}" in r.stderr
    m = json.loads(final.manifest.read_text())
    assert m["status"] == "ok" and m["plan"]["status"] == "ok"
    assert m["caseload"]["status"] == "failed"
    assert m["caseload"]["rerun"] == f"dv-analysis caseload --period {PERIOD}"
    assert final.service_plan.exists() and (final.staff / "06_service_plan.html").exists()
    index = (final.staff / "index.html").read_text(encoding="utf-8")
    assert index.count("dv-addon-notice") == 3 and "社工責任區（1里1主責社工）未能完成" in index
    assert MESSAGE not in index
    r = _cli(s, "caseload", "--period", PERIOD, "--workers", "20", "--quiet")
    assert r.returncode == 0, r.stderr
    m = json.loads(final.manifest.read_text())
    assert m["caseload"]["status"] == "ok" and m["caseload"]["parameters"] == {"workers": 20}
    assert [e["notebook"] for e in m["notebooks"]] == [*CORE, "06_service_plan.ipynb", *CASELOAD]
    assert json.loads(final.caseload_summary.read_text(encoding="utf-8"))["n_areas"] == 20
    assert "dv-addon-notice" not in (final.staff / "index.html").read_text(encoding="utf-8")


@pytest.mark.slow(seconds=10, why="the plan alone, failing")
def test_plan_alone_that_fails_is_an_error_and_keeps_the_quarter(complete_quarter, tmp_path):
    s = _copy(complete_quarter, tmp_path)
    final = s.period(PERIOD)
    before = _digest_tree(final.clean, final.internal)
    r = _cli(
        s,
        "plan",
        "--period",
        PERIOD,
        "--quiet",
        root=_failing_root(tmp_path, "06_service_plan.ipynb"),
    )
    assert r.returncode == 1 and f"RuntimeError: {MESSAGE}" in r.stderr
    m = json.loads(final.manifest.read_text())
    assert m["status"] == "ok" and m["plan"]["status"] == "failed"
    assert _digest_tree(final.clean, final.internal) == before, "the previous plan stays"


def test_plan_of_a_quarter_whose_core_is_not_complete_is_refused(complete_quarter, tmp_path):
    s = _copy(complete_quarter, tmp_path)
    final = s.period(PERIOD)
    m = json.loads(final.manifest.read_text())
    final.manifest.write_text(
        json.dumps({**m, "status": "failed", "outputs": None}), encoding="utf-8"
    )
    r = _cli(s, "plan", "--period", PERIOD, "--quiet")
    assert r.returncode == 1
    assert "core outputs are not complete (status 'failed')" in r.stderr
    assert f"run `dv-analysis run --period {PERIOD}` first" in r.stderr


def test_the_front_page_says_pending_until_the_plan_ends(tmp_path):
    """What a run killed between the core and the plan leaves: the core's manifest and front
    page say the plan is pending (``mark_pending``, before the core is promoted)."""
    from dv_analysis.runner.addons import mark_pending

    s = make_settings(tmp_path)
    paths = s.period(PERIOD)
    paths.staff.mkdir(parents=True)
    (paths.staff / "index.html").write_text("<html><body><main><h1>季報</h1></main></body></html>")
    paths.manifest.write_text(json.dumps({"status": "ok"}), encoding="utf-8")
    mark_pending(paths, ("06_service_plan.ipynb",))
    m = json.loads(paths.manifest.read_text())
    assert m["plan"] == {"status": "pending", "rerun": f"dv-analysis plan --period {PERIOD}"}
    page = (paths.staff / "index.html").read_text(encoding="utf-8")
    assert "尚未完成" in page and page.index("dv-addon-notice") < page.index("<h1>")
