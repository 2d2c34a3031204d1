"""Rates: EB moments against the published Auckland numbers; why the EB rate is our own."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from dv_analysis.stats.rates import eb_moments, eb_rate, person_quarters

VALIDATION = Path(__file__).parents[3] / "shared" / "data" / "validation"


def test_auckland_eb_moments():
    a = gpd.read_file(VALIDATION / "auckland.gpkg")
    b, var = eb_moments(a["M77_85"].to_numpy(), 9 * a["Und5_81"].to_numpy())
    assert b == pytest.approx(0.002633436, rel=1e-6)
    assert var == pytest.approx(7.284173e-07, rel=1e-6)
    eb = eb_rate(a["M77_85"].to_numpy(), 9 * a["Und5_81"].to_numpy())
    raw = a["M77_85"] / (9 * a["Und5_81"])
    # shrinkage: EB rates are less spread than raw ones and keep the overall mean
    assert eb.std() < raw.std()
    assert np.average(eb, weights=a["Und5_81"]) == pytest.approx(b, rel=0.05)


def test_person_quarters():
    assert person_quarters([1000, 0, None], 4).tolist() == [4000.0, 0.0, 0.0]
    assert person_quarters(pd.Series([10, 20]), pd.Series([1, 3])).tolist() == [10.0, 60.0]


def test_eb_rate_agrees_with_esda_where_esda_is_defined():
    """With a positive prior variance and people everywhere, ours is esda's Empirical_Bayes."""
    import esda

    a = gpd.read_file(VALIDATION / "auckland.gpkg")
    e, n = a["M77_85"].to_numpy(float), 9 * a["Und5_81"].to_numpy(float)
    assert eb_moments(e, n)[1] > 0
    np.testing.assert_allclose(eb_rate(e, n), esda.smoothing.Empirical_Bayes(e, n).r.ravel())


def test_why_the_eb_rate_is_our_own():
    """esda does not truncate a negative prior variance, and divides by zero population.

    Under-dispersed counts (less spread than Poisson) have a negative moment estimate of
    the prior variance; Marshall's method sets it to zero, so every area gets the mean.
    esda keeps it negative: the weights leave [0, 1] and a small area's rate overshoots the mean.
    """
    import esda

    n = np.array([1000.0, 1000.0, 1000.0, 1000.0, 50.0])
    e = np.array([10.0, 10.0, 10.0, 10.0, 1.0])  # as even as counts get
    assert eb_moments(e, n)[1] < 0
    ours = eb_rate(e, n)
    np.testing.assert_allclose(ours, e.sum() / n.sum())  # all at the mean
    theirs = esda.smoothing.Empirical_Bayes(e, n).r.ravel()
    mean = e.sum() / n.sum()
    weight = (theirs - mean) / (e / n - mean)  # share of its own rate each area keeps
    assert weight[4] < 0  # esda pushes the small area past the mean, to the other side
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = esda.smoothing.Empirical_Bayes(np.array([1.0, 2.0]), np.array([0.0, 100.0])).r
    assert not np.isfinite(zero).all()
    assert np.isfinite(eb_rate(np.array([1.0, 2.0]), np.array([0.0, 100.0]))).all()
