"""Statistics checked against numbers published by GeoDa, R spdep and SaTScan."""

from pathlib import Path

import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
from libpysal import examples

from dv_analysis import hotspots as H

VALIDATION = Path(__file__).parents[2] / "shared" / "data" / "validation"


def test_columbus_moran():
    df = gpd.read_file(examples.get_path("columbus.shp"))
    w, rep = H.build_weights(df, "queen")
    m = H.global_moran(df["CRIME"].to_numpy(), w, permutations=99, seed=1)
    assert m.I == pytest.approx(0.500188557, abs=1e-9)
    assert not rep.islands


def test_nc_sids_eb_moran():
    w = libpysal.io.open(examples.get_path("sids2.gal")).read()
    f = libpysal.io.open(examples.get_path("sids2.dbf"))
    e, b = np.array(f.by_col("SID79"), float), np.array(f.by_col("BIR79"), float)
    m = H.moran_rate(e, b, w, permutations=0)
    assert m.I == pytest.approx(0.1662, abs=5e-5)
    assert m.p_norm / 2 == pytest.approx(0.0042, abs=5e-5)  # one-tailed


def test_getis_ord_grid():
    g = pd.read_csv(VALIDATION / "getis_ord_grid.csv")
    pts = gpd.GeoDataFrame(g, geometry=gpd.points_from_xy(g["x"], g["y"]))
    w, _ = H.build_weights(pts, "distance:30")
    import esda

    w.transform = "b"
    gi = esda.G_Local(g["value"].to_numpy(), w, transform="B", star=False, permutations=0)
    assert gi.Zs[119] == pytest.approx(1.221979, abs=1e-6)
    res = H.local_statistics(g["value"].to_numpy(), w, ids=g.index.to_numpy(), permutations=0)
    assert res["gi_z"].iloc[119] == pytest.approx(1.45078, abs=1e-5)


def test_auckland_eb_moments():
    a = gpd.read_file(VALIDATION / "auckland.gpkg")
    b, var = H.eb_moments(a["M77_85"].to_numpy(), 9 * a["Und5_81"].to_numpy())
    assert b == pytest.approx(0.002633436, rel=1e-6)
    assert var == pytest.approx(7.284173e-07, rel=1e-6)
    eb = H.eb_rate(a["M77_85"].to_numpy(), 9 * a["Und5_81"].to_numpy())
    raw = a["M77_85"] / (9 * a["Und5_81"])
    # shrinkage: EB rates are less spread than raw ones and keep the overall mean
    assert eb.std() < raw.std()
    assert np.average(eb, weights=a["Und5_81"]) == pytest.approx(b, rel=0.05)


@pytest.fixture(scope="module")
def ny():
    def read(name, cols):
        return pd.read_csv(VALIDATION / name, sep=r"\s+", header=None, names=cols)

    df = read("satscan_ny_coords.txt", ["id", "x", "y"])
    df = df.merge(read("satscan_ny_cases.txt", ["id", "cases", "year"]), on="id")
    return df.merge(read("satscan_ny_pop.txt", ["id", "year", "pop"])[["id", "pop"]], on="id")


def test_satscan_new_york(ny):
    cl = H.kulldorff_scan(
        ny[["x", "y"]].to_numpy(),
        ny["cases"].to_numpy(),
        ny["pop"].to_numpy(),
        0.5,
        n_sim=199,
        seed=3,
    )
    top = cl[0]
    assert len(top.members) == 28
    assert top.observed == 100 and top.expected == pytest.approx(58.28, abs=0.005)
    assert top.llr == pytest.approx(14.083511, abs=1e-6)
    ids = set(ny["id"].iloc[top.members])
    assert ids == {
        52,
        50,
        37,
        49,
        38,
        48,
        53,
        39,
        15,
        47,
        51,
        1,
        40,
        44,
        16,
        2,
        55,
        36,
        14,
        43,
        13,
        45,
        3,
        35,
        17,
        11,
        12,
        46,
    }
    assert top.p_value <= 0.01
    second = cl[1]
    assert set(ny["id"].iloc[second.members]) == {89, 88, 87, 84, 90, 86, 92, 85}
    assert second.llr == pytest.approx(9.019716, abs=1e-6)


def test_fdr_bh_matches_definition_and_ties():
    p = np.array([0.01, 0.04, 0.03, 0.04, 0.5, np.nan])
    q = H.fdr_bh(p)
    # hand computation: sorted 0.01,0.03,0.04,0.04,0.5 (m=5) → 0.05,0.075,0.0667,0.05,0.5 → step-up min
    assert q[0] == pytest.approx(0.05)
    assert q[1] == pytest.approx(0.05) and q[3] == pytest.approx(0.05), (
        "tied p-values get one q-value"
    )
    assert q[2] == pytest.approx(0.05)
    assert q[4] == pytest.approx(0.5) and np.isnan(q[5])
    from statsmodels.stats.multitest import multipletests

    pr = np.random.default_rng(0).uniform(size=200) ** 3
    assert np.allclose(H.fdr_bh(pr), multipletests(pr, method="fdr_bh")[1])


def test_gi_bins():
    assert H.gi_bins(
        np.array([3.0, 2.0, 1.0, -1.0, -2.5, 4.0]), np.array([0.005, 0.03, 0.08, 0.2, 0.009, 0.2])
    ).tolist() == [3, 2, 1, 0, -3, 0]


def test_islands_attached_not_clusters():
    from shapely.geometry import box

    polys = [box(i, 0, i + 1, 1) for i in range(5)] + [box(10, 10, 11, 11)]
    g = gpd.GeoDataFrame({"id": list("abcdef")}, geometry=polys)
    w, rep = H.build_weights(g, "queen", ids="id")
    assert rep.islands == ["f"] and rep.attached == {"f": "e"}
    assert w.neighbors[5] == [4] and 5 in w.neighbors[4]


def test_local_statistics_are_seeded():
    df = gpd.read_file(examples.get_path("columbus.shp"))
    w, _ = H.build_weights(df, "queen")
    a = H.local_statistics(
        df["CRIME"].to_numpy(), w, ids=df.index.to_numpy(), permutations=199, seed=5
    )
    b = H.local_statistics(
        df["CRIME"].to_numpy(), w, ids=df.index.to_numpy(), permutations=199, seed=5
    )
    c = H.local_statistics(
        df["CRIME"].to_numpy(), w, ids=df.index.to_numpy(), permutations=199, seed=6
    )
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["gi_p"], c["gi_p"])
    assert set(a["lisa_cluster"]) <= {"HH", "LL", "HL", "LH", "ns"}
    assert (a.loc[a["lisa_cluster"] != "ns", "lisa_q_adj"] < 0.05).all()


def test_mann_kendall():
    s, z, p = H.mann_kendall(np.arange(10.0))
    assert s == 45 and p < 0.001 and z > 0
    s, z, p = H.mann_kendall(np.array([1.0, 1.0, 1.0]))
    assert p == 1.0


@pytest.mark.parametrize(
    "bins, z, p, expected",
    [
        ([0] * 11 + [2], 2.0, 0.04, "new hot spot"),
        ([0] * 8 + [2, 3, 2, 2], 3.0, 0.01, "consecutive hot spot"),
        ([2] * 12, 3.0, 0.01, "intensifying hot spot"),
        ([2] * 12, 0.1, 0.9, "persistent hot spot"),
        ([3] * 12, -3.0, 0.01, "diminishing hot spot"),
        ([0, 2, 0, 0, 2, 0, 0, 2, 0, 0, 0, 2], 0.5, 0.6, "sporadic hot spot"),
        ([-2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 0, 2], 0.5, 0.6, "oscillating hot spot"),
        ([2] * 11 + [0], -0.2, 0.8, "historical hot spot"),
        ([-2] * 12, 0.0, 1.0, "persistent cold spot"),
        ([0] * 12, 0.0, 1.0, "no pattern"),
    ],
)
def test_emerging_categories(bins, z, p, expected):
    assert H.classify_emerging(np.array(bins), z, p) == expected


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
    first = H.panel_gi(areas, panel, "id", permutations=199, seed=4, cache=cache)
    plain = H.panel_gi(areas, panel, "id", permutations=199, seed=4)
    pd.testing.assert_frame_equal(first, plain)
    # a quarter's result does not depend on which range it is part of
    later = H.panel_gi(areas, panel[panel["period"] == "2020Q3"], "id", permutations=199, seed=4)
    pd.testing.assert_frame_equal(later, plain[plain["period"] == "2020Q3"].reset_index(drop=True))
    calls = []
    real = H.local_statistics
    monkeypatch.setattr(H, "local_statistics", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = H.panel_gi(areas, panel, "id", permutations=199, seed=4, cache=cache)
    pd.testing.assert_frame_equal(again, first)
    assert calls == []  # every quarter read back
    changed = panel.copy()
    changed.loc[(changed["period"] == "2020Q2") & (changed["id"] == "A24"), "incidents"] += 40
    H.panel_gi(areas, changed, "id", permutations=199, seed=4, cache=cache)
    assert len(calls) == 1  # only the changed quarter recomputed
    H.panel_gi(areas, changed, "id", permutations=99, seed=4, cache=cache)
    assert len(calls) == 4  # other settings: every quarter recomputed


def test_constant_rates_give_no_hotspots():
    """EB can shrink every area to the mean (sparse counts): no z, no hot spot, no crash."""
    w = libpysal.weights.lat2W(5, 5)
    t = H.local_statistics(np.full(25, 0.3), w, np.arange(25), permutations=99, seed=1)
    assert (t["gi_bin"] == 0).all() and t["gi_z"].isna().all()


def test_compiled_scan_maximum_equals_the_array_version():
    rng = np.random.default_rng(3)
    coords = rng.random((300, 2)) * 1000
    pop = rng.integers(500, 5000, 300).astype(float)
    cases = rng.poisson(pop / 500).astype(float)
    expected = cases.sum() * pop / pop.sum()
    for frac in (0.05, 0.5):
        _, order, kmax = H._windows(coords, pop, frac)
        llr = H._poisson_llr(
            np.cumsum(cases[order], axis=1), np.cumsum(expected[order], axis=1), cases.sum()
        )
        a = np.where(np.arange(order.shape[1])[None, :] < kmax[:, None], llr, 0.0).max()
        b = H._max_llr_value(cases, expected, order, np.minimum(kmax, order.shape[1]))
        assert b == pytest.approx(a, rel=1e-12) and a > 0
