"""Mann–Kendall trends and the emerging hot/cold spot categories."""

import numpy as np
import pytest

from dv_analysis.stats.detection.emerging import classify_emerging, mann_kendall


def test_mann_kendall():
    s, z, p = mann_kendall(np.arange(10.0))
    assert s == 45 and p < 0.001 and z > 0
    s, z, p = mann_kendall(np.array([1.0, 1.0, 1.0]))
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
    assert classify_emerging(np.array(bins), z, p) == expected


def test_rows_at_once_match_pymannkendall_row_by_row():
    """Ties, a constant row, missing values and short rows: the matrix version gives the
    numbers of :func:`mann_kendall` (pymannkendall) on every row."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 12)).round(1)  # rounding makes ties
    x[0] = 1.0
    x[1, [2, 5]] = np.nan
    x[2, 2:] = np.nan  # two values only
    x[3] = np.arange(12.0)
    from dv_analysis.stats.detection.emerging import mann_kendall_rows

    s, z, p = mann_kendall_rows(x)
    for i in range(len(x)):
        assert np.allclose((s[i], z[i], p[i]), mann_kendall(x[i])), i
