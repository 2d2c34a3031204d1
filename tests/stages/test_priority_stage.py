"""The priority stage's backtest and early-warning cache on a synthetic 14-quarter panel."""

import numpy as np
import pandas as pd
import pytest

from dv_analysis import public
from dv_analysis.config import period_range
from dv_analysis.stages import priority
from dv_analysis.stats.backtest import hit_rate
from dv_analysis.stats.early_warning import neighbourhood_matrix
from dv_analysis.stats.weights import build_weights, contiguity


@pytest.fixture
def world(settings, monkeypatch):
    """Boundaries of Taipei, a Poisson panel of 14 quarters, BYM2 replaced by a stub that
    records which quarters it was given (the backtest must not see the target quarter)."""
    villages = public.load_boundaries(settings)
    ids = villages["villcode"].to_numpy()
    rng = np.random.default_rng(5)
    quarters = [str(q) for q in period_range("2017Q3", "2020Q4")]
    pop = rng.integers(2000, 9000, len(ids))
    panel = pd.concat(
        [pd.DataFrame({"villcode": ids, "period": q, "pop_total": pop,
                       "incidents": rng.poisson(pop / 1000)}) for q in quarters],
        ignore_index=True,
    )  # fmt: skip
    seen = []

    def fake_risk(paths, villages, observed, person_quarters, params):
        seen.append(str(paths.period))
        e = person_quarters * observed.sum() / person_quarters.sum()
        return pd.DataFrame({"villcode": ids, "expected": e, "rr_mean": (observed + 1) / (e + 1),
                             "p_exceed_1": (observed > e).astype(float)})  # fmt: skip

    monkeypatch.setattr(priority, "risk_at", fake_risk)
    neighbours, _ = contiguity(villages, "queen", ids="villcode")
    w, _ = build_weights(villages, "queen", ids="villcode")
    return villages, panel, neighbourhood_matrix(neighbours, ids), w, seen, quarters


def test_backtest_ranks_with_earlier_quarters_only(settings, world):
    villages, panel, m, w, seen, quarters = world
    params = priority.PriorityParams(backtest_quarters=3, alarm_simulations=199)
    bt = priority.backtest(settings.period("2020Q4"), panel, villages, m, w, params, progress=False)
    assert sorted(bt["target"].unique()) == quarters[-3:]
    assert (bt["origin"] < bt["target"]).all() and set(seen) == set(quarters[-4:-1])
    assert set(bt["ranking"]) == set(priority.RANKINGS) and set(bt["k"]) == {10, 20, 50}
    assert bt["hit_rate"].between(0, 1).all()
    # last quarter's counts, by hand, for the last origin
    ids = villages["villcode"].to_numpy()
    last = panel[panel["period"] == quarters[-2]].set_index("villcode")["incidents"].reindex(ids)
    target = panel[panel["period"] == quarters[-1]].set_index("villcode")["incidents"].reindex(ids)
    row = bt[(bt["target"] == quarters[-1]) & (bt["ranking"] == "last_quarter") & (bt["k"] == 20)]
    assert row["hit_rate"].iloc[0] == pytest.approx(
        hit_rate(last.to_numpy(), target.to_numpy(), 20)
    )


def test_early_warning_of_an_origin_is_read_back_while_unchanged(settings, world, monkeypatch):
    villages, panel, m, _, _, quarters = world
    ids = villages["villcode"].to_numpy()
    params = priority.PriorityParams(alarm_simulations=199)
    paths = settings.period(quarters[-2])
    first = priority.emerging_cached(paths, panel, ids, m, params)
    assert first["available"].all() and (paths.clean / "early_warning_backtest.parquet").exists()
    again = priority.emerging_cached(paths, panel, ids, m, params)
    pd.testing.assert_frame_equal(first, again)
    keyfile = paths.clean / "early_warning_backtest.parquet.key"
    key = keyfile.read_text()
    with monkeypatch.context() as patched:  # the early warning's code changed: computed again
        patched.setattr(priority, "code_digest", lambda *code: b"another method")
        priority.emerging_cached(paths, panel, ids, m, params)
        assert keyfile.read_text() != key
    priority.emerging_cached(paths, panel, ids, m, params)
    assert keyfile.read_text() == key
    changed = panel.copy()
    changed.loc[changed["period"] == quarters[-2], "incidents"] += 5
    other = priority.emerging_cached(paths, changed, ids, m, params)
    assert not other.equals(first), "new counts, new early warning"
    later = panel[panel["period"] > quarters[-2]]  # quarters after the origin do not matter
    grown = pd.concat([panel, later.assign(incidents=later["incidents"] * 3)], ignore_index=True)
    grown = grown.drop_duplicates(["villcode", "period"], keep="last")
    pd.testing.assert_frame_equal(priority.emerging_cached(paths, grown, ids, m, params), first)


def test_a_kept_table_is_keyed_by_the_code_that_computes_it():
    """``cache.code_digest``: the same code, the same digest; other code, another."""
    from dv_analysis.stages import cache, priority
    from dv_analysis.stats import early_warning

    assert cache.code_digest(early_warning, priority.emerging_at) == cache.code_digest(
        early_warning, priority.emerging_at
    )
    assert cache.code_digest(early_warning) != cache.code_digest(
        early_warning, priority.emerging_at
    )
