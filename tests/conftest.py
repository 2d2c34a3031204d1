"""Shared fixtures: settings pointing at temporary folders and small synthetic datasets."""

from __future__ import annotations

import logging
import sys

import pytest

from dv_analysis.config import Settings
from dv_analysis.stages.clean import clean_period, write_outputs
from dv_analysis.synth import SynthConfig, generate

logging.getLogger("dv_analysis").setLevel(logging.ERROR)

#: Session fixtures that build data once: under ``pytest -n`` (pytest-xdist, ``make test``)
#: every test that uses one runs on the same worker, so the data is built once, not once
#: per worker (``--dist loadgroup``).
SHARED = ("small_data", "year_of_data")  # e2e_run is built on small_data
#: Seconds to build each shared fixture (2 cores, alone): counted with its group's tests.
SHARED_SECONDS = {"small_data": 75, "year_of_data": 15}


def _seconds(item) -> float:
    """What a test costs by its ``slow`` mark (``pytest.mark.slow(seconds, why)``), else 1."""
    mark = item.get_closest_marker("slow")
    if mark is None:
        return 1.0
    return float(mark.kwargs.get("seconds", mark.args[0] if mark.args else 10))


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(items):
    """Group the tests of each shared fixture on one worker, and put the costliest groups
    and tests first, so that the two workers of ``make test`` finish together (xdist hands
    out work in this order with ``--no-loadscope-reorder``; a long test dealt out last kept
    one worker busy for minutes after the other had finished)."""
    group: dict[int, str] = {}
    for item in items:
        shared = [f for f in SHARED if f in getattr(item, "fixturenames", ())]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
            group[id(item)] = shared[0]
        elif (mark := item.get_closest_marker("xdist_group")) is not None:
            group[id(item)] = mark.args[0] if mark.args else mark.kwargs["name"]
    cost = {name: float(seconds) for name, seconds in SHARED_SECONDS.items()}
    for item in items:
        key = group.get(id(item), item.nodeid)
        cost[key] = cost.get(key, 0.0) + _seconds(item)
    items.sort(key=lambda item: -cost[group.get(id(item), item.nodeid)])  # stable


def pytest_collection_finish(session):
    """Refuse to run when ``--dist loadgroup`` does not group: every worker would then build
    the shared data (the end-to-end run twice, two minutes each) and nothing would say so.
    pytest 9.2 made xdist 3.8's grouping a silent no-op (pytest-dev/pytest-xdist#1386), hence
    ``pytest<9.2`` in ``pyproject.toml`` until xdist mends it."""
    if not session.config.getoption("loadgroup", default=False):
        return
    for item in session.items:
        if item.get_closest_marker("xdist_group") and "@" not in item.nodeid:
            message = (
                f"pytest-xdist --dist loadgroup ignored the group of {item.nodeid} "
                "(pytest-dev/pytest-xdist#1386): install pytest<9.2 (pip install -e '.[dev]')"
            )
            print(message, file=sys.stderr)  # a worker's UsageError alone is not shown
            raise pytest.UsageError(message)


def make_settings(root, city="63000") -> Settings:
    return Settings.from_args(
        raw_dir=root / "data_raw",
        clean_dir=root / "data_clean",
        reports_dir=root / "reports",
        truth_dir=root / "data_truth",
        city=city,
    )


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings with every writable folder under a fresh temporary directory."""
    return make_settings(tmp_path)


@pytest.fixture(scope="session")
def year_of_data(tmp_path_factory):
    """A realistic-volume synthetic Taipei year (2020Q1–2020Q4, seed 7), cleaned quarter by quarter."""
    root = tmp_path_factory.mktemp("year")
    s = make_settings(root)
    summary = generate(s, SynthConfig(start="2020Q1", end="2020Q4", seed=7), progress=False)
    results = {}
    for q in ("2020Q1", "2020Q2", "2020Q3", "2020Q4"):
        r = clean_period(s.period(q), progress=False)
        write_outputs(s.period(q), r)
        results[q] = r
    return s, summary, results


#: Permutation settings of the end-to-end runs (fewer than the defaults, same code paths).
FAST = {
    "permutations": 999,
    "panel_permutations": 199,
    "scan_simulations": 99,
    # the village-risk model with short chains: the same code path, diagnostics may miss
    "chains": 2,
    "warmup": 150,
    "draws": 150,
}


def fast_flags() -> list[str]:
    """:data:`FAST` as ``dv-analysis run`` flags (``-p NAME VALUE`` each)."""
    return [x for k, v in FAST.items() for x in ("-p", k, str(v))]


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """Small synthetic Taipei exports (2020Q3–2020Q4 at a tenth of the volume) for end-to-end runs."""
    root = tmp_path_factory.mktemp("small")
    s = make_settings(root)
    generate(s, SynthConfig(start="2020Q3", end="2020Q4", seed=3, scale=0.1), progress=False)
    return s


@pytest.fixture(scope="session")
def e2e_run(small_data):
    """Every notebook run for 2020Q3 then 2020Q4 on the small data, once per test session,
    through the command line a user types (``dv-analysis run --period P``, fast settings).

    Returns the settings, the 2020Q4 manifest and a snapshot of every table and staff page
    taken right after the run (tests that rerun parts later do not change the snapshot).
    """
    import json

    from dv_analysis.cli import main

    from .golden_outputs import snapshot

    s = small_data
    dirs = [
        "--raw-dir",
        str(s.raw_dir),
        "--clean-dir",
        str(s.clean_dir),
        "--reports-dir",
        str(s.reports_dir),
        "--quiet",
    ]
    for period in ("2020Q3", "2020Q4"):  # the previous quarter first
        assert main(["run", "--period", period, *dirs, *fast_flags()]) == 0, period
    manifest = json.loads(s.period("2020Q4").manifest.read_text(encoding="utf-8"))
    root = s.raw_dir.parent
    return {
        "settings": s,
        "manifest": manifest,
        "snapshot": snapshot(s, ("2020Q3", "2020Q4"), root),
    }
