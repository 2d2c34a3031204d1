"""Every hotspot statistic for one table of areas (stats.detection.areas.analyse_areas), on a
hand-made 8 × 8 grid of 1 km squares with a 3 × 3 block of three times the rate planted."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import box

from dv_analysis.stats.detection.areas import analyse_areas

K = 8
ROWS, COLS = np.divmod(np.arange(K * K), K)
#: The planted block: rows and columns 1–3; its centre is area 18 (row 2, column 2).
BLOCK = (ROWS >= 1) & (ROWS <= 3) & (COLS >= 1) & (COLS <= 3)
CENTRE = 2 * K + 2
#: The centre and its four rook neighbours: hot at the 95 % level for seeds 1, 2 and 3.
PLUS = [CENTRE - K, CENTRE - 1, CENTRE, CENTRE + 1, CENTRE + K]
#: The block and the areas that touch it (Gi* includes the neighbours of each area).
NEAR_BLOCK = (ROWS <= 4) & (COLS <= 4)
FAST = {"permutations": 999, "scan_simulations": 99, "seed": 42}


def _grid(seed: int = 1) -> gpd.GeoDataFrame:
    """Populations 1,500–2,500; counts Poisson at 8 per 1,000, three times that in the block."""
    rng = np.random.default_rng(seed)
    pop = rng.integers(1500, 2500, K * K).astype(float)
    cases = rng.poisson(pop / 1000 * 8 * np.where(BLOCK, 3.0, 1.0)).astype(float)
    squares = [
        box(c * 1000, r * 1000, (c + 1) * 1000, (r + 1) * 1000)
        for r, c in zip(ROWS, COLS, strict=True)
    ]
    return gpd.GeoDataFrame(
        {"code": [f"A{i:02d}" for i in range(K * K)], "cases": cases, "pop": pop},
        geometry=squares,
        crs=3826,
    )


@pytest.fixture(scope="module")
def grid():
    return _grid()


@pytest.fixture(scope="module")
def result(grid):
    before = grid.copy()
    res = analyse_areas(grid, "cases", "pop", "code", **FAST)
    assert_geodataframe_equal(grid, before)  # the input is not changed
    return res


def test_the_table_has_one_row_per_area_with_every_statistic(result, grid):
    t = result.table
    assert list(t.columns) == [
        "code",
        "cases",
        "pop",
        "gi_z",
        "gi_p",
        "gi_q",
        "gi_bin",
        "lisa_I",
        "lisa_q",
        "lisa_p",
        "lisa_q_adj",
        "lisa_cluster",
        "rate_raw",
        "rate_eb",
        "rate_seb",
        "scan_cluster",
    ]
    assert t["code"].tolist() == grid["code"].tolist()
    assert t["cases"].tolist() == grid["cases"].tolist()
    # the raw rate by hand: cases per 1,000 people
    np.testing.assert_allclose(t["rate_raw"], grid["cases"] / grid["pop"] * 1000)
    # EB shrinks towards the city's rate: never further from it than the raw rate
    city = grid["cases"].sum() / grid["pop"].sum() * 1000
    assert ((t["rate_eb"] - city).abs() <= (t["rate_raw"] - city).abs() + 1e-9).all()
    assert set(t["gi_bin"]) <= {-3, -2, -1, 0, 1, 2, 3}
    assert str(result.weights) == "queen weights on 64 areas, 6.6 neighbours on average"


def test_the_planted_block_comes_out_hot_by_gi_star(result):
    t = result.table
    assert t["gi_z"].idxmax() == CENTRE
    assert (t.loc[PLUS, "gi_bin"] >= 2).all(), t.loc[PLUS, ["gi_z", "gi_q", "gi_bin"]]
    assert (t.loc[PLUS, "lisa_cluster"] == "HH").all()
    hot = t.index[t["gi_bin"] > 0]
    assert NEAR_BLOCK[hot].all(), f"hot areas away from the block: {hot[~NEAR_BLOCK[hot]]}"
    assert (t.loc[BLOCK, "gi_bin"] >= 0).all(), "no part of the block is cold"


def test_the_global_statistics_and_the_scan_find_the_cluster(result):
    for moran in (result.moran_rate, result.moran_eb):
        assert moran.I > 0.4 and moran.p_sim == 0.001 and moran.permutations == 999
    assert not result.moran_rate.eb and result.moran_eb.eb
    first = result.scan[0]
    assert first.center == CENTRE and set(PLUS) <= set(first.members) and first.p_value < 0.05
    assert BLOCK[first.members].all(), "the most likely cluster lies inside the block"
    t = result.table
    assert (t.loc[first.members, "scan_cluster"] == 1).all()
    assert (t.loc[~NEAR_BLOCK, "scan_cluster"] == 0).all()


def test_the_same_seed_gives_the_same_table(result, grid):
    again = analyse_areas(grid, "cases", "pop", "code", **FAST)
    pd.testing.assert_frame_equal(again.table, result.table)


def test_without_population_the_counts_themselves_are_described(grid):
    res = analyse_areas(grid, "cases", None, "code", **FAST)
    t = res.table
    assert "pop" not in t.columns and not {"rate_raw", "rate_eb"} & set(t.columns)
    assert t.columns[:2].tolist() == ["code", "cases"]
    assert res.moran_rate is res.moran_eb and not res.moran_eb.eb
    assert t["gi_z"].idxmax() == CENTRE and (t.loc[PLUS, "gi_bin"] > 0).all()


def test_an_area_without_population_gets_no_local_result():
    g = _grid()
    g.loc[K * K - 1, ["cases", "pop"]] = 0.0  # the far corner
    t = analyse_areas(g, "cases", "pop", "code", **FAST).table
    last = t.iloc[-1]
    assert np.isnan(last["gi_z"]) and np.isnan(last["gi_p"]) and np.isnan(last["lisa_I"])
    assert last["gi_bin"] == 0 and last["lisa_cluster"] == "ns"
    assert t["gi_z"].iloc[:-1].notna().all()


@pytest.mark.parametrize(
    "columns", [("nope", "pop", "code"), ("cases", "nope", "code"), ("cases", "pop", "nope")]
)
def test_a_column_that_is_not_there_is_named(grid, columns):
    with pytest.raises((KeyError, ValueError), match="nope"):
        analyse_areas(grid, *columns, permutations=9, scan_simulations=9)
