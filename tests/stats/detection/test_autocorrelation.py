"""Global and local autocorrelation against GeoDa, R spdep and the Getis–Ord grid; FDR; seeding."""

from pathlib import Path

import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
from libpysal import examples

from dv_analysis.stats.detection.autocorrelation import (
    fdr_bh,
    gi_bins,
    gi_statistics,
    global_moran,
    local_statistics,
    moran_rate,
)
from dv_analysis.stats.weights import build_weights

VALIDATION = Path(__file__).parents[4] / "shared" / "data" / "validation"


def test_columbus_moran():
    df = gpd.read_file(examples.get_path("columbus.shp"))
    w, rep = build_weights(df, "queen")
    m = global_moran(df["CRIME"].to_numpy(), w, permutations=99, seed=1)
    assert m.I == pytest.approx(0.500188557, abs=1e-9)
    assert not rep.islands


def test_nc_sids_eb_moran():
    w = libpysal.io.open(examples.get_path("sids2.gal")).read()
    f = libpysal.io.open(examples.get_path("sids2.dbf"))
    e, b = np.array(f.by_col("SID79"), float), np.array(f.by_col("BIR79"), float)
    m = moran_rate(e, b, w, permutations=0)
    assert m.I == pytest.approx(0.1662, abs=5e-5)
    assert m.p_norm / 2 == pytest.approx(0.0042, abs=5e-5)  # one-tailed


def test_getis_ord_grid():
    g = pd.read_csv(VALIDATION / "getis_ord_grid.csv")
    pts = gpd.GeoDataFrame(g, geometry=gpd.points_from_xy(g["x"], g["y"]))
    w, _ = build_weights(pts, "distance:30")
    import esda

    w.transform = "b"
    gi = esda.G_Local(g["value"].to_numpy(), w, transform="B", star=False, permutations=0)
    assert gi.Zs[119] == pytest.approx(1.221979, abs=1e-6)
    res = local_statistics(g["value"].to_numpy(), w, ids=g.index.to_numpy(), permutations=0)
    assert res["gi_z"].iloc[119] == pytest.approx(1.45078, abs=1e-5)


def test_fdr_bh_matches_definition_and_ties():
    p = np.array([0.01, 0.04, 0.03, 0.04, 0.5, np.nan])
    q = fdr_bh(p)
    # hand computation: sorted 0.01,0.03,0.04,0.04,0.5 (m=5) → 0.05,0.075,0.0667,0.05,0.5 → step-up min
    assert q[0] == pytest.approx(0.05)
    assert q[1] == pytest.approx(0.05) and q[3] == pytest.approx(0.05), (
        "tied p-values get one q-value"
    )
    assert q[2] == pytest.approx(0.05)
    assert q[4] == pytest.approx(0.5) and np.isnan(q[5])
    from statsmodels.stats.multitest import multipletests

    pr = np.random.default_rng(0).uniform(size=200) ** 3
    assert np.allclose(fdr_bh(pr), multipletests(pr, method="fdr_bh")[1])


def test_gi_bins():
    assert gi_bins(
        np.array([3.0, 2.0, 1.0, -1.0, -2.5, 4.0]), np.array([0.005, 0.03, 0.08, 0.2, 0.009, 0.2])
    ).tolist() == [3, 2, 1, 0, -3, 0]


def test_local_statistics_are_seeded():
    df = gpd.read_file(examples.get_path("columbus.shp"))
    w, _ = build_weights(df, "queen")
    a = local_statistics(
        df["CRIME"].to_numpy(), w, ids=df.index.to_numpy(), permutations=199, seed=5
    )
    b = local_statistics(
        df["CRIME"].to_numpy(), w, ids=df.index.to_numpy(), permutations=199, seed=5
    )
    c = local_statistics(
        df["CRIME"].to_numpy(), w, ids=df.index.to_numpy(), permutations=199, seed=6
    )
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["gi_p"], c["gi_p"])
    assert set(a["lisa_cluster"]) <= {"HH", "LL", "HL", "LH", "ns"}
    assert (a.loc[a["lisa_cluster"] != "ns", "lisa_q_adj"] < 0.05).all()


def test_constant_rates_give_no_hotspots():
    """EB can shrink every area to the mean (sparse counts): no z, no hot spot, no crash."""
    w = libpysal.weights.lat2W(5, 5)
    t = local_statistics(np.full(25, 0.3), w, np.arange(25), permutations=99, seed=1)
    assert (t["gi_bin"] == 0).all() and t["gi_z"].isna().all()


def test_gi_alone_gives_the_gi_columns_of_the_full_local_statistics():
    """The panel's Gi* without the local Moran: the same numbers as the full table's."""
    import libpysal

    w = libpysal.weights.lat2W(7, 7)
    y = np.random.default_rng(2).gamma(2.0, 1.0, 49)
    ids = [f"a{i}" for i in range(49)]
    full = local_statistics(y, w, ids, permutations=199, seed=5, exclude=["a3"])
    alone = gi_statistics(y, w, ids, permutations=199, seed=5, exclude=["a3"])
    pd.testing.assert_frame_equal(alone, full[["id", "gi_z", "gi_p", "gi_q", "gi_bin"]])
