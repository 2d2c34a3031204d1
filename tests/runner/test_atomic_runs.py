"""Atomic periods and locks: an interrupted run leaves the previous outputs as they were,
a second run of a period is refused, a stale lock is cleared, the window is cleaned first."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dv_analysis import cli
from dv_analysis.config import Period
from dv_analysis.runner import locks, staging, up_to_date
from dv_analysis.stages.clean import clean_key, ensure_cleaned, stale_quarters

from ..conftest import fast_flags, make_settings

FIRST = Period(2020, 1)


def _digest_tree(*folders: Path) -> dict[str, str]:
    """sha256 of every file under the folders except the manifest (which records the attempt)."""
    out = {}
    for folder in folders:
        for f in sorted(folder.rglob("*")):
            if f.is_file() and f.name != "manifest.json":
                out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def _cli(s, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dv_analysis.cli",
        *args,
        "--raw-dir",
        str(s.raw_dir),
        "--clean-dir",
        str(s.clean_dir),
        "--reports-dir",
        str(s.reports_dir),
    ]


# --- locks ---------------------------------------------------------------------------
def test_second_run_of_a_period_is_refused(settings):
    with locks.period_lock(settings, "2020Q4") as info:
        with pytest.raises(locks.PeriodLocked, match=f"process {os.getpid()} on .*started"):
            with locks.period_lock(settings, "2020Q4"):
                pass
        with locks.period_lock(settings, "2020Q3"):  # another period is free
            pass
        assert json.loads(settings.lock_file("2020Q4").read_text())["pid"] == info["pid"]
    assert not settings.lock_file("2020Q4").exists(), "the lock is released"


def test_cli_refuses_a_locked_period_at_once(settings):
    settings.raw_dir.joinpath("2020Q4").mkdir(parents=True)
    with locks.period_lock(settings, "2020Q4"):
        t0 = time.perf_counter()
        r = subprocess.run(
            _cli(settings, "run", "--period", "2020Q4"), capture_output=True, text=True
        )
        assert time.perf_counter() - t0 < 30
    assert r.returncode == 1
    assert f"already being run by process {os.getpid()}" in r.stderr
    assert "2020Q4" in r.stderr and "lock:" in r.stderr


def test_stale_lock_of_a_dead_process_is_cleared(settings, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = settings.lock_file("2020Q4")
    lock.parent.mkdir(parents=True)
    lock.write_text(
        json.dumps(
            {
                "pid": dead.pid,
                "host": os.uname().nodename,
                "started": "2020-01-01T00:00:00+00:00",
                "command": "dv-analysis run",
            }
        )
    )
    with locks.period_lock(settings, "2020Q4") as info:
        assert json.loads(lock.read_text())["pid"] == info["pid"] == os.getpid()
    err = capsys.readouterr().err
    assert f"removing a stale lock of process {dead.pid}" in err and "no longer running" in err


def test_sigterm_ends_a_run_like_ctrl_c():
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        cli._terminated(signal.SIGTERM, None)


# --- staging -------------------------------------------------------------------------
def _fake_period(paths, text: str) -> None:
    for folder in (paths.clean, paths.reports / "staff"):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "table.txt").write_text(text)


def test_promote_replaces_the_period_and_recover_undoes_a_half_move(settings):
    final = settings.period("2020Q4")
    _fake_period(final, "old")
    staging.write_json(
        final.manifest, {"status": "ok", "finished": "then", "run_key": {"key": "k"}}
    )
    staged = settings.with_staging("2020Q4").period("2020Q4")
    assert staged.clean != final.clean and staged.final.clean == final.clean
    staging.prepare(staged)
    assert not (staged.clean / "table.txt").exists(), "a full run starts empty"
    staging.prepare(staged, copy=True)
    assert (staged.clean / "table.txt").read_text() == "old", "a partial run starts from a copy"
    staging.record_attempt(staged, "running")
    m = json.loads(final.manifest.read_text())
    assert m["status"] == "running" and m["outputs"]["finished"] == "then"
    _fake_period(staged, "new")
    assert (final.clean / "table.txt").read_text() == "old", "untouched until promoted"
    staging.promote(staged)
    assert (final.clean / "table.txt").read_text() == "new"
    assert (final.reports / "staff" / "table.txt").read_text() == "new"
    assert not staged.clean.exists() and not staged.reports.exists()
    # a run killed between the two moves of promote: the final folder is moved aside
    old = final.clean.parent / ".staging" / f"{final.clean.name}.old"
    os.replace(final.clean, old)
    assert staging.recover(staged) and (final.clean / "table.txt").read_text() == "new"


def test_an_unfinished_run_is_never_skipped(settings):
    paths = settings.period("2020Q4")
    staging.write_json(
        paths.manifest,
        {
            "status": "ok",
            "run_key": {"key": "k"},
            "notebooks": [{"executed": str(paths.manifest), "staff_html": str(paths.manifest)}],
        },
    )
    assert up_to_date(paths, "k")
    staging.record_attempt(
        settings.with_staging("2020Q4").period("2020Q4"), "interrupted", "Ctrl-C"
    )
    assert not up_to_date(paths, "k"), "same key, but the last attempt did not finish"


# --- the window is cleaned before the run -----------------------------------------------
def test_run_cleans_every_quarter_of_the_window_first(small_data, tmp_path, capsys):
    s = make_settings(tmp_path)
    shutil.copytree(small_data.raw_dir, s.raw_dir)
    assert [str(q) for q in stale_quarters(s, "2020Q4", FIRST)] == ["2020Q3"]
    assert ensure_cleaned(s, "2020Q4", FIRST, progress=True) == ["2020Q3"]
    q3 = s.period("2020Q3")
    assert q3.notifications.exists() and q3.clean_key.read_text() == clean_key(q3)
    assert stale_quarters(s, "2020Q4", FIRST) == [], "cleaned once, then up to date"
    (s.raw_dir / "2020Q3" / "extra_export.csv").write_bytes(
        next((s.raw_dir / "2020Q3").glob("*.csv")).read_bytes()
    )
    assert [str(q) for q in stale_quarters(s, "2020Q4", FIRST)] == ["2020Q3"], "raw changed"
    assert "cleaning them first" in capsys.readouterr().out


def test_the_run_says_how_much_of_each_window_has_data(small_data, tmp_path, capsys):
    """2020Q4 of two quarters of exports: the four-quarter window is a warning, the risk
    model's twelve a note; both go into the manifest's record."""
    from dv_analysis.runner.one_period import window_check

    s = make_settings(tmp_path)
    shutil.copytree(small_data.raw_dir, s.raw_dir)
    w = window_check(s, Period.parse("2020Q4"), None, progress=True)
    assert (w["window"], w["window_quarters"], w["window_missing"]) == (
        4,
        2,
        ["2020Q1", "2020Q2"],
    )
    assert (w["risk_window"], w["risk_window_quarters"]) == (12, 2)
    out, err = capsys.readouterr()
    assert "WARNING: window: 2 of 4 quarters for 2020Q4" in err
    assert "the village-risk model reads 2 of its 12 quarters for 2020Q4" in out
    w2 = window_check(s, Period.parse("2020Q4"), {"risk_window": 2}, progress=True)
    assert w2["risk_window_quarters"] == 2 and "village-risk" not in capsys.readouterr().out


# --- a real run interrupted mid-notebook -------------------------------------------------
@pytest.mark.e2e
@pytest.mark.slow(seconds=55, why="a real run stopped mid-notebook, then a whole quarter rerun")
def test_interrupted_run_leaves_the_previous_outputs_and_the_next_run_recomputes(e2e_run, tmp_path):
    """Slow (about a minute): a real run is stopped with SIGINT during a notebook, then rerun."""
    src = e2e_run["settings"]
    s = make_settings(tmp_path)
    for a, b in (
        (src.raw_dir, s.raw_dir),
        (src.clean_dir, s.clean_dir),
        (src.reports_dir, s.reports_dir),
    ):
        shutil.copytree(a, b)
    final = s.period("2020Q4")
    before = _digest_tree(final.clean, final.reports)
    manifest_before = json.loads(final.manifest.read_text())
    flags = ["--period", "2020Q4", "--force", "--quiet", *fast_flags()]
    # The child must get Ctrl-C's default action even when this test runs in a process that
    # ignores SIGINT (pytest-xdist workers do, and an ignored signal stays ignored across
    # exec): catch it here while the child starts (a caught signal is reset at exec).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(_cli(s, "run", *flags), stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)
    staged = s.with_staging("2020Q4").period("2020Q4")
    deadline = time.time() + 300  # a bound for a loaded machine, not a timing
    # an executed notebook is written when it ends: once 01's is there, 02 runs
    while not (staged.internal / "01_clean.ipynb").exists():
        assert proc.poll() is None and time.time() < deadline, "the run ended before 01"
        time.sleep(0.2)
    time.sleep(1.0)  # inside 02
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted (Ctrl-C); finished outputs are unchanged" in err, err
    assert _digest_tree(final.clean, final.reports) == before, "previous outputs byte-identical"
    m = json.loads(final.manifest.read_text())
    assert m["status"] == "interrupted" and m["attempt"]["status"] == "interrupted"
    assert m["outputs"]["finished"] == manifest_before["finished"]
    assert not s.lock_file("2020Q4").exists()
    # the next run without --force recomputes (the attempt did not finish) and ends ok
    r = subprocess.run(
        _cli(s, "run", *flags[:2], "--quiet", *fast_flags()), capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert "ERROR" not in r.stdout + r.stderr, "a normal run prints no ERROR line"
    m = json.loads(final.manifest.read_text())
    assert m["status"] == "ok" and "attempt" not in m and not m.get("skipped")
    assert m["started"] > manifest_before["started"], "recomputed, not skipped"
    assert not staged.reports.exists() and not staged.clean.exists()
