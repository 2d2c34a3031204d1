"""The soak's fast subset (issue 40): three small worlds of ``benchmarks/timing/soak.py`` run end to
end as a user would (a small Taipei world, a district without any case, a missing quarter
of the window in Taoyuan); each must end ``ok`` with its plan made. The full soak (30 worlds) is ``python benchmarks/timing/soak.py``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from dv_analysis.config import project_root

pytestmark = pytest.mark.e2e


@pytest.mark.slow(seconds=150, why="three synthetic worlds synthesised and run end to end")
def test_the_soaks_fast_worlds_all_end_ok(tmp_path):
    out = tmp_path / "soak.json"
    script = project_root() / "benchmarks" / "timing" / "soak.py"
    r = subprocess.run(
        [sys.executable, str(script), "--fast", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 3, r.stdout + r.stderr
    for row in rows:
        assert row["passed"], f"{row['name']}: {row.get('error')}"
        assert row["status"] == "ok" and row["plan"] == "ok"
    assert r.returncode == 0
    empty = next(row for row in rows if row["special"] == "empty_district")
    missing = next(row for row in rows if row["special"] == "missing_quarter")
    assert empty["empty_district"] and missing["missing_quarter"]
