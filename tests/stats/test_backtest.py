"""Hit rate, PAI, PEI, excess capture, the block bootstrap and the nested choice, by hand."""

import numpy as np
import pandas as pd
import pytest

from dv_analysis.stats.backtest import (
    block_bootstrap_mean,
    excess_capture,
    hit_rate,
    nested_selection,
    pai,
    pei,
    score_rankings,
    top_k,
)


def test_top_k_puts_nan_last_and_keeps_order_of_ties():
    assert top_k([1.0, np.nan, 3.0, 3.0], 3).tolist() == [2, 3, 0]


def test_hit_rate_pai_and_pei_by_hand():
    scores = [5, 4, 3, 2, 1]
    outcome = [10, 0, 5, 5, 0]  # 20 events
    people = [1, 1, 2, 4, 2]  # 10 units
    assert hit_rate(scores, outcome, 2) == pytest.approx(10 / 20)
    assert pai(scores, outcome, people, 2) == pytest.approx((10 / 20) / (2 / 10))
    assert pei(scores, outcome, 2) == pytest.approx(10 / 15), "the best two held 15"
    assert np.isnan(hit_rate(scores, [0] * 5, 2)) and np.isnan(pei(scores, [0] * 5, 2))


def test_excess_capture_rewards_excess_not_size():
    """A big area with many events but as many as expected holds no excess: the ranking
    that picks the small area with the real excess captures all of it."""
    outcome = [50, 6, 1]
    expected = [50.0, 2.0, 1.0]  # excess 0, 4, 0
    assert excess_capture([3, 2, 1], outcome, expected, 1) == 0.0
    assert excess_capture([1, 3, 2], outcome, expected, 1) == 1.0
    assert hit_rate([3, 2, 1], outcome, 1) > hit_rate([1, 3, 2], outcome, 1)
    assert np.isnan(excess_capture([1, 2, 3], [1, 1, 1], [2.0, 2.0, 2.0], 1))


def test_block_bootstrap_interval_holds_the_mean_and_widens_with_spread():
    m, lo, hi = block_bootstrap_mean([0.1, 0.2, 0.1, 0.2, 0.15, 0.15], seed=1)
    assert m == pytest.approx(0.15) and lo < m < hi and hi - lo < 0.1
    _, lo2, hi2 = block_bootstrap_mean([0.5, -0.3, 0.6, -0.2, 0.4, -0.1], seed=1)
    assert hi2 - lo2 > hi - lo
    assert np.isnan(block_bootstrap_mean([0.3], seed=1)[1])
    assert block_bootstrap_mean([1, 2, 3, 4], seed=5) == block_bootstrap_mean([1, 2, 3, 4], seed=5)


def _origins(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for name, series in values.items():
        for origin, v in enumerate(series):
            rows.append(
                {
                    "origin": f"q{origin}",
                    "ranking": name,
                    "k": 20,
                    "excess_capture": v,
                    "hit_rate": v / 2,
                    "pai": 2.0,
                    "pei": v,
                }
            )
    return pd.DataFrame(rows)


def test_nested_selection_chooses_on_early_origins_and_scores_on_late_ones():
    """'a' is best early and 'b' late: the default is 'a' (chosen early), and the table
    reports 'a' on the late origins only, where 'b' beat it; a naive list ('n') is compared
    but never chosen, however good it is."""
    bt = _origins(
        {
            "a": [0.9, 0.9, 0.5, 0.5],
            "b": [0.6, 0.6, 0.7, 0.8],
            "n": [0.99, 0.99, 0.99, 0.99],
        }
    )
    default, table = nested_selection(bt, 20, ["a", "b"], "excess_capture", seed=0)
    assert default == "a"
    t = table.set_index("ranking")
    assert t.loc["a", "excess_capture"] == pytest.approx(0.5)
    assert t.loc["b", "difference"] == pytest.approx(-0.25) and t.loc["b", "wins"] == 0
    assert t.loc["n", "difference"] == pytest.approx(-0.49)
    assert t.loc["a", "difference"] == 0 and bool(t.loc["a", "nested"])
    assert (t["origins"] == 2).all() and (t["selection_origins"] == 2).all()
    assert table["ranking"].iloc[0] == "n", "best first on the later origins"


def test_score_rankings_has_every_ranking_and_k():
    t = score_rankings(
        {"a": [1, 2, 3], "b": [3, 2, 1]}, [0, 0, 9], [1, 1, 1], [1.0, 1.0, 1.0], ks=(1, 2)
    )
    assert len(t) == 4
    row = t.set_index(["ranking", "k"]).loc[("a", 1)]
    assert row["hit_rate"] == 1.0 and row["pei"] == 1.0 and row["excess_capture"] == 1.0
