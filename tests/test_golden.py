"""Golden outputs: the same synthetic quarters give the same tables and staff pages as before.

Guards every refactor: a change that moves code must leave every table of
``data_clean/<period>/`` equal (``pandas.testing``) and the staff pages' text the same.
A deliberate change of results rewrites the snapshot (see ``tests/golden_outputs.py``).
"""

import os

import pandas as pd
import pytest

from . import golden_outputs

pytestmark = pytest.mark.e2e


def test_outputs_match_the_golden_snapshot(e2e_run):
    current = e2e_run["snapshot"]
    if os.environ.get("DV_UPDATE_GOLDEN") == "1":
        golden_outputs.write(current)
        pytest.skip("golden snapshot rewritten")
    golden = golden_outputs.read()
    assert golden, "no golden snapshot in tests/golden/: write it with DV_UPDATE_GOLDEN=1"
    problems = [f"{n}: missing" for n in sorted(set(golden) - set(current))]
    problems += [f"{n}: new" for n in sorted(set(current) - set(golden))]
    for name in sorted(set(golden) & set(current)):
        problems += golden_outputs.differences(name, current[name], golden[name])
    assert not problems, "outputs differ from the golden snapshot:\n" + "\n".join(problems)


def test_golden_check_can_fail():
    """The comparison notices a changed value, a changed page and a missing table."""
    snap = {"t.parquet": pd.DataFrame({"a": [1.0, 2.0]}), "p.txt": "熱點 3 個"}
    with pytest.raises(AssertionError):
        pd.testing.assert_frame_equal(pd.DataFrame({"a": [1.0, 2.5]}), snap["t.parquet"])
    assert golden_outputs.page_text("<p>熱點 <b>4</b> 個</p>") != golden_outputs.page_text(
        "<p>熱點 <b>3</b> 個</p>"
    )
    assert golden_outputs.page_text(
        "<style>x{}</style><p>2026-11-25T10:00:01+00:00 完成</p>"
    ) == golden_outputs.page_text("<p>2025-01-01 09:00 完成</p>")
