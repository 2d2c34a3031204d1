"""Other cities end to end on small synthetic data: New Taipei (65000) and Taoyuan (68000)."""

import json

import pandas as pd
import pytest

from dv_analysis.runner import run
from dv_analysis.synth import SynthConfig, generate

from .conftest import make_settings

pytestmark = pytest.mark.e2e


def test_new_taipei_end_to_end(tmp_path):
    s = make_settings(tmp_path, city="65000")
    generate(
        s,
        SynthConfig(city="65000", start="2020Q3", end="2020Q4", seed=5, scale=0.05),
        progress=False,
    )
    fast = {"permutations": 999, "panel_permutations": 99, "scan_simulations": 99}
    run(s, "2020Q3", progress=False, notebooks=("01_clean.ipynb",))
    manifest = run(s, "2020Q4", progress=False, extra_parameters=fast)
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
