"""Kulldorff's scan against SaTScan's published New York results; the compiled kernel."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dv_analysis.stats.detection.scan import _max_llr_value, _poisson_llr, _windows, kulldorff_scan

VALIDATION = Path(__file__).parents[4] / "shared" / "data" / "validation"


@pytest.fixture(scope="module")
def ny():
    def read(name, cols):
        return pd.read_csv(VALIDATION / name, sep=r"\s+", header=None, names=cols)

    df = read("satscan_ny_coords.txt", ["id", "x", "y"])
    df = df.merge(read("satscan_ny_cases.txt", ["id", "cases", "year"]), on="id")
    return df.merge(read("satscan_ny_pop.txt", ["id", "year", "pop"])[["id", "pop"]], on="id")


def test_satscan_new_york(ny):
    cl = kulldorff_scan(
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


def test_compiled_scan_maximum_equals_the_array_version():
    rng = np.random.default_rng(3)
    coords = rng.random((300, 2)) * 1000
    pop = rng.integers(500, 5000, 300).astype(float)
    cases = rng.poisson(pop / 500).astype(float)
    expected = cases.sum() * pop / pop.sum()
    for frac in (0.05, 0.5):
        _, order, kmax = _windows(coords, pop, frac)
        llr = _poisson_llr(
            np.cumsum(cases[order], axis=1), np.cumsum(expected[order], axis=1), cases.sum()
        )
        a = np.where(np.arange(order.shape[1])[None, :] < kmax[:, None], llr, 0.0).max()
        b = _max_llr_value(cases, expected, order, np.minimum(kmax, order.shape[1]))
        assert b == pytest.approx(a, rel=1e-12) and a > 0


def test_compiled_scan_maximum_equals_the_array_version_on_null_replicates():
    """The Monte-Carlo replicates, where the kernel skips most windows by its bound: the
    same maximum as scoring every window, replicate by replicate (small and large counts)."""
    rng = np.random.default_rng(5)
    coords = rng.random((400, 2)) * 1000
    pop = rng.integers(500, 5000, 400).astype(float)
    _, order, kmax = _windows(coords, pop, 0.3)
    kmax = np.minimum(kmax, order.shape[1])
    inside = np.arange(order.shape[1])[None, :] < kmax[:, None]
    for total in (40, 2_000, 300_000):
        for _ in range(20):
            cases = rng.multinomial(total, pop / pop.sum()).astype(float)
            expected = total * pop / pop.sum()
            cc, ce = np.cumsum(cases[order], axis=1), np.cumsum(expected[order], axis=1)
            a = np.where(inside, _poisson_llr(cc, ce, float(total)), 0.0).max()
            assert _max_llr_value(cases, expected, order, kmax) == pytest.approx(a, rel=1e-12)
