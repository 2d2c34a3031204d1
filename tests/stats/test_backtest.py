"""Hit rate, PAI and the comparison of rankings, by hand."""

import numpy as np
import pandas as pd
import pytest

from dv_analysis.stats.backtest import compare, hit_rate, pai, score_rankings, top_k


def test_top_k_puts_nan_last_and_keeps_order_of_ties():
    assert top_k([1.0, np.nan, 3.0, 3.0], 3).tolist() == [2, 3, 0]


def test_hit_rate_and_pai_by_hand():
    scores = [5, 4, 3, 2, 1]
    outcome = [10, 0, 5, 5, 0]  # 20 events
    area = [1, 1, 2, 4, 2]  # 10 units
    assert hit_rate(scores, outcome, 2) == pytest.approx(10 / 20)
    assert pai(scores, outcome, area, 2) == pytest.approx((10 / 20) / (2 / 10))
    assert np.isnan(hit_rate(scores, [0] * 5, 2))


def test_compare_reports_margin_spread_and_wins():
    rows = []
    for origin, (a, b) in enumerate([(0.30, 0.20), (0.25, 0.22), (0.20, 0.24)]):
        rows += [
            {"origin": origin, "ranking": "model", "k": 20, "hit_rate": a, "pai": 2.0},
            {"origin": origin, "ranking": "last", "k": 20, "hit_rate": b, "pai": 1.0},
        ]
    c = compare(pd.DataFrame(rows), 20, "last").set_index("ranking")
    assert c.loc["model", "margin"] == pytest.approx(np.mean([0.10, 0.03, -0.04]))
    assert c.loc["model", "margin_sd"] == pytest.approx(np.std([0.10, 0.03, -0.04], ddof=1))
    assert c.loc["model", "wins"] == 2 and c.loc["model", "origins"] == 3
    assert c.index[0] == "model"


def test_score_rankings_has_every_ranking_and_k():
    t = score_rankings({"a": [1, 2, 3], "b": [3, 2, 1]}, [0, 0, 9], [1, 1, 1], ks=(1, 2))
    assert len(t) == 4
    assert t.set_index(["ranking", "k"]).loc[("a", 1), "hit_rate"] == 1.0
