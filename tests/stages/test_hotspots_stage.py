"""The hotspot stage: the Gi* panel and its per-quarter cache."""

import geopandas as gpd
import numpy as np
import pandas as pd

from dv_analysis.stages import hotspots as stage
from dv_analysis.stages.hotspots import panel_gi


def _grid_panel(periods, seed=0):
    """A 7×7 grid of square areas and a panel of Poisson counts over ``periods``."""
    from shapely.geometry import box

    cells = [box(i, j, i + 1, j + 1) for i in range(7) for j in range(7)]
    areas = gpd.GeoDataFrame({"id": [f"A{k:02d}" for k in range(49)]}, geometry=cells)
    rng = np.random.default_rng(seed)
    panel = pd.concat(
        [
            pd.DataFrame(
                {
                    "id": areas["id"],
                    "period": p,
                    "incidents": rng.poisson(6, 49),
                    "pop_total": rng.integers(2000, 6000, 49),
                }
            )
            for p in periods
        ],
        ignore_index=True,
    )
    return areas, panel


def test_panel_gi_reuses_unchanged_quarters(tmp_path, monkeypatch):
    areas, panel = _grid_panel(["2020Q1", "2020Q2", "2020Q3"])
    cache = lambda p: tmp_path / p / "gi_quarter.parquet"  # noqa: E731
    first = panel_gi(areas, panel, "id", permutations=199, seed=4, cache=cache)
    plain = panel_gi(areas, panel, "id", permutations=199, seed=4)
    pd.testing.assert_frame_equal(first, plain)
    # a quarter's result does not depend on which range it is part of
    later = panel_gi(areas, panel[panel["period"] == "2020Q3"], "id", permutations=199, seed=4)
    pd.testing.assert_frame_equal(later, plain[plain["period"] == "2020Q3"].reset_index(drop=True))
    calls = []
    real = stage.gi_statistics
    monkeypatch.setattr(stage, "gi_statistics", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = panel_gi(areas, panel, "id", permutations=199, seed=4, cache=cache)
    pd.testing.assert_frame_equal(again, first)
    assert calls == []  # every quarter read back
    changed = panel.copy()
    changed.loc[(changed["period"] == "2020Q2") & (changed["id"] == "A24"), "incidents"] += 40
    panel_gi(areas, changed, "id", permutations=199, seed=4, cache=cache)
    assert len(calls) == 1  # only the changed quarter recomputed
    panel_gi(areas, changed, "id", permutations=99, seed=4, cache=cache)
    assert len(calls) == 4  # other settings: every quarter recomputed
