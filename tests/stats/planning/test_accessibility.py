"""Accessibility from the real layers, and the 2SFCA score's defining property."""

import numpy as np
import pandas as pd
import pytest

from dv_analysis.config import Settings
from dv_analysis.stages import access
from dv_analysis.stats.planning import accessibility as A


def test_two_step_fca_conserves_supply():
    rng = np.random.default_rng(0)
    demand_xy = rng.uniform(0, 5000, (40, 2))
    demand = rng.integers(100, 5000, 40).astype(float)
    supply_xy = rng.uniform(1000, 4000, (5, 2))
    supply = np.array([1.0, 2.0, 1.0, 3.0, 1.0])
    acc = A.two_step_fca(demand_xy, demand, supply_xy, supply, d0=6000)
    # every facility reaches some demand, so population-weighted access adds up to total supply
    assert (demand * acc).sum() == pytest.approx(supply.sum())
    far = A.two_step_fca(np.array([[1e6, 1e6]]), np.array([100.0]), supply_xy, supply, d0=3000)
    assert far[0] == 0


def test_composite_index_direction():
    t = pd.DataFrame(
        {c: np.linspace(1, 2, 5) * (1000 if c.endswith("_m") else 1) for c in A.INDEX_COMPONENTS}
    )
    t.loc[4, "dist_metro_station_m"] = 10_000
    base = A.composite_index(t.assign(dist_metro_station_m=t["dist_metro_station_m"].iloc[0]))
    assert A.composite_index(t)[4] > base[4]


@pytest.fixture(scope="module")
def acc():
    return access.village_accessibility(Settings.from_args(), "2020Q4")


def test_every_village_measured(acc):
    assert len(acc) == 456 and acc["villcode"].is_unique
    assert acc["grid_points"].min() >= 1 and acc["grid_points"].sum() > 5000
    for c in ("bus_coverage_300m", "bus_coverage_500m"):
        assert acc[c].between(0, 1).all()
    assert (acc["bus_coverage_300m"] <= acc["bus_coverage_500m"]).all()
    assert (acc["bus_stops_300m"] <= acc["bus_stops_500m"]).all()
    assert (acc["dist_metro_exit_m"] > 0).all() and (acc["dist_police_precinct_m"] < 10_000).all()
    assert acc["hard_to_reach"].mean() == pytest.approx(0.1, abs=0.01)


def test_yangmingshan_is_hard_to_reach(acc):
    ranks = acc.set_index("villname")["access_index"].rank(pct=True)
    for v in ("平等里", "菁山里", "湖田里", "大屯里"):
        assert ranks[v] > 0.9, v
    assert ranks["東門里"] < 0.5  # central Da'an, next to a metro station
