"""The priority stage: its backtest sees only earlier quarters, its tiers and reasons."""

import numpy as np
import pandas as pd
import pytest

from dv_analysis import layers
from dv_analysis.config import period_range
from dv_analysis.pages import labels as L
from dv_analysis.stages import priority
from dv_analysis.stats.backtest import excess_capture, hit_rate


@pytest.fixture
def world(settings, monkeypatch):
    """Boundaries of Taipei, a Poisson panel of 14 quarters, the space-time model at each
    origin replaced by a stub that records the last quarter it was given (the backtest must
    not see the target quarter)."""
    villages = layers.load_boundaries(settings)
    ids = villages["villcode"].to_numpy()
    rng = np.random.default_rng(5)
    quarters = [str(q) for q in period_range("2017Q3", "2020Q4")]
    pop = rng.integers(2000, 9000, len(ids))
    panel = pd.concat(
        [
            pd.DataFrame(
                {
                    "villcode": ids,
                    "period": q,
                    "pop_total": pop,
                    "incidents": rng.poisson(pop / 1000),
                }
            )
            for q in quarters
        ],
        ignore_index=True,
    )
    seen = []

    def fake_risk(paths, panel_, villages_, origin, params):
        seen.append(origin)
        upto = panel_[panel_["period"] <= origin]
        assert upto["period"].max() == origin
        mean = upto.groupby("villcode")["incidents"].mean().reindex(ids).to_numpy()
        e = pop * mean.sum() / pop.sum()
        return pd.DataFrame(
            {
                "villcode": ids,
                "expected_next": e,
                "excess_next_mean": mean - e,
                "excess_next_low": mean - e - 1,
                "p_now_exceed_1_25": mean / mean.max(),
                "rr_now_mean": mean / e,
                "next_low": np.floor(np.clip(mean - 2, 0, None)),  # a real fit's interval
                "next_high": np.ceil(mean + 2),
            }
        )

    monkeypatch.setattr(priority, "origin_risk", fake_risk)
    monkeypatch.setattr(priority, "prefit_origins", lambda *a: (0, False))  # tested below
    return villages, panel, seen, quarters, pop


def test_missing_origin_fits_are_made_on_two_cores_and_read_back_as_made_here(settings):
    """A first run's origin fits, half made in a forked child, are the fits this process
    makes itself; a second call finds nothing to fit."""
    from dv_analysis import workers

    villages = layers.load_boundaries(settings)
    villages = villages[villages["townname"] == "松山區"].reset_index(drop=True)
    rng = np.random.default_rng(3)
    quarters = [str(q) for q in period_range("2019Q1", "2020Q4")]
    pop = rng.integers(2000, 9000, len(villages))
    panel = pd.concat(
        [
            pd.DataFrame(
                {
                    "villcode": villages["villcode"],
                    "period": q,
                    "pop_total": pop,
                    "incidents": rng.poisson(pop / 800),
                }
            )
            for q in quarters
        ],
        ignore_index=True,
    )
    paths, params = settings.period("2020Q4"), priority.PriorityParams(risk_window=4)
    origins = quarters[-5:-1]
    assert priority.prefit_origins(paths, panel, villages, origins, params) == (
        4,
        workers.cores() >= 2 and "fork" in __import__("multiprocessing").get_all_start_methods(),
    )
    assert len(list(settings.fit_cache.glob("st-*.parquet"))) == 4, "the child's two are kept too"
    kept = [priority.origin_risk(paths, panel, villages, o, params) for o in origins]
    for f in settings.fit_cache.iterdir():
        f.unlink()
    for o, read_back in zip(origins, kept, strict=True):
        made = priority.origin_risk(paths, panel, villages, o, params)
        pd.testing.assert_frame_equal(read_back, made)
    assert priority.prefit_origins(paths, panel, villages, origins, params) == (0, False)


def test_backtest_ranks_with_earlier_quarters_only(settings, world):
    villages, panel, seen, quarters, pop = world
    params = priority.PriorityParams(backtest_quarters=3)
    bt, coverage = priority.backtest(
        settings.period("2020Q4"), panel, villages, params, progress=False
    )
    assert sorted(bt["target"].unique()) == quarters[-3:]
    # the forecast's coverage is scored at the same origins, from the same fits
    assert sorted(coverage["per_target"]) == quarters[-3:] and coverage["level"] == 0.9
    assert 0 <= coverage["overall"] <= 1
    assert (bt["origin"] < bt["target"]).all() and seen == quarters[-4:-1]
    assert set(bt["ranking"]) == set(priority.RANKINGS) and set(bt["k"]) == {10, 20, 50}
    assert bt["hit_rate"].between(0, 1).all() and bt["pei"].between(0, 1).all()
    ids = villages["villcode"].to_numpy()

    def quarter(q):
        return panel[panel["period"] == q].set_index("villcode")["incidents"].reindex(ids)

    target = quarter(quarters[-1]).to_numpy()
    last = bt[(bt["target"] == quarters[-1]) & (bt["k"] == 20)].set_index("ranking")
    by_hand = quarter(quarters[-2]).to_numpy()
    assert last.loc["count_1q", "hit_rate"] == pytest.approx(hit_rate(by_hand, target, 20))
    twelve = sum(quarter(q).to_numpy() for q in quarters[-13:-1])
    assert last.loc["rate_12q", "hit_rate"] == pytest.approx(hit_rate(twelve / pop, target, 20))
    e = (
        pop
        * panel[panel["period"] <= quarters[-2]]
        .groupby("villcode")["incidents"]
        .mean()
        .reindex(ids)
        .sum()
        / pop.sum()
    )
    assert last.loc["count_12q", "excess_capture"] == pytest.approx(
        excess_capture(twelve, target, e, 20)
    ), "excess against the expected counts the model knew at the origin"


def _table(n=8, **cols):
    base = {
        "rank": np.arange(1, n + 1),
        "p_now_exceed_1_5": np.full(n, 0.95),
        "p_now_exceed_1": np.full(n, 0.99),
        "trend": ["持平"] * n,
        "emerging": [False] * n,
    }
    kind = cols.pop("kind", "risk")
    base |= cols
    base["rise_kind"] = [kind if e else "" for e in base["emerging"]]
    return pd.DataFrame(base)


def test_tier_two_is_the_budget_among_the_likely_elevated_and_a_falling_village_waits():
    t = _table(
        p_now_exceed_1_5=[0.99, 0.5, 0.9, 0.95, 0.9, 0.3, 0.2, 0.1],
        p_now_exceed_1=[1, 0.9, 1, 1, 1, 0.85, 0.5, 0.4],
        trend=["持平", "持平", "下降", "上升", "持平", "持平", "持平", "持平"],
        emerging=[False] * 7 + [True],
    )
    tiers = priority.assign_tiers(t, priority.PriorityParams(budget=2, watch_size=3))
    # rank 1 and 4 (rank 2 is not likely elevated; rank 3 is falling)
    assert tiers.tolist()[:4] == [2, 1, 1, 2]
    # the watch list: the rise of its own (rank 8) first, then ranks 2 and 3 (watch_size 3)
    assert tiers.tolist()[4:] == [0, 0, 0, 1]
    wide = priority.assign_tiers(t, priority.PriorityParams(budget=2, watch_size=10))
    assert wide.tolist() == [2, 1, 1, 2, 1, 1, 0, 1], "P(RR > 1) ≥ 0.8 or a rise of its own"
    # a rise that comes mostly through one unit keeps its route to tier 1; a reporting
    # change does not (issue 39)
    args = dict(
        p_now_exceed_1_5=[0.99, 0.5, 0.9, 0.95, 0.9, 0.3, 0.2, 0.1],
        p_now_exceed_1=[1, 0.9, 1, 1, 1, 0.85, 0.5, 0.4],
        emerging=[False] * 7 + [True],
    )
    small = priority.PriorityParams(budget=2, watch_size=3)
    assert priority.assign_tiers(_table(kind="one_unit", **args), small)[-1] == 1
    assert priority.assign_tiers(_table(kind="reporting", **args), small)[-1] == 0


def test_a_village_in_an_alarmed_neighbourhood_shows_its_own_rise_not_the_windows():
    early = pd.DataFrame({"own_observed": [12.0, np.nan, 0.0], "own_expected": [6.0, np.nan, 2.0]})
    r = priority.own_rise(early)
    assert r["own_oe"].iloc[0] == pytest.approx(2.0) and r["own_oe_low"].iloc[0] > 1.0
    assert np.isnan(r["own_oe"].iloc[1]) and r["own_oe_low"].iloc[2] == 0.0
    row = pd.Series(
        {
            "rr_now_mean": 0.7,
            "rr_now_low": 0.5,
            "rr_now_high": 0.95,
            "p_now_exceed_1_25": 0.001,
            "excess_next_mean": -1.0,
            "excess_next_low": -2.0,
            "excess_next_high": 0.1,
            "trend": "持平",
            "p_rising": 0.5,
            "tier": 1,
            "emerging": True,
            "rise_kind": "risk",
            "rise_unit": "",
            "onset": "2020Q3",
            "own_oe": 1.1,
            "own_oe_low": 0.6,
            "own_oe_high": 1.9,
            "hard_to_reach": False,
            "under_reporting": False,
            "hotspot": True,
        }
    )
    text = priority._reasons(row, priority.PriorityParams())
    # the risk's numbers are in their own columns; a village below the city gets no risk words
    assert "風險" not in text and "全市" not in text
    assert "本里自那時起事件為過去水準的 1.1 倍" in text
    assert "0.6–1.9" in text and "熱點" not in text and "下一季" not in text
    assert "100%" not in text
    high = {**row.to_dict(), "p_now_exceed_1_25": 0.93, "p_now_exceed_1": 0.99}
    assert priority._reasons(pd.Series(high), priority.PriorityParams()).startswith(
        "風險明顯高於全市；"
    )
    likely = {**high, "p_now_exceed_1_25": 0.5, "p_now_exceed_1": 0.85}
    assert priority._reasons(pd.Series(likely), priority.PriorityParams()).startswith(
        "風險可能高於全市；"
    )
    row = pd.Series({**row.to_dict(), "trend": L.TREND_LABELS["falling"], "p_rising": 0.03})
    falling = priority._reasons(row, priority.PriorityParams())
    assert "近一年下降" in falling and "3%" in falling
    campaign = priority._reasons(
        pd.Series({**row.to_dict(), "rise_kind": "reporting"}), priority.PriorityParams()
    )
    assert "通報來源變化" in campaign and "本里自那時起" not in campaign
    police = priority._reasons(
        pd.Series({**row.to_dict(), "rise_kind": "one_unit", "rise_unit": "警政"}),
        priority.PriorityParams(),
    )
    # a rise one unit carries stays a rise, said to come through that unit (issue 39)
    assert "上升，主要經由警政通報" in police and "本里自那時起" in police
    assert "通報來源變化" not in police


def test_the_clerks_excess_lists_are_observed_minus_expected_at_the_citys_rate():
    """O − E over 4 and 12 quarters, with E at the city's rate over the same quarters, and the
    EB excess: the naive lists a clerk would add beside counts and rates (issue 39)."""
    import numpy as np
    import pandas as pd

    periods = [f"{y}Q{q}" for y in (2018, 2019, 2020) for q in (1, 2, 3, 4)]
    rows = []
    for k, p in enumerate(periods):
        rows += [
            {"villcode": "a", "period": p, "incidents": 10 if k >= 8 else 2, "pop_total": 1000},
            {"villcode": "b", "period": p, "incidents": 4, "pop_total": 3000},
        ]
    s = priority.naive_scores(pd.DataFrame(rows), ["a", "b"], "2020Q4")
    # last four quarters: a 40, b 16 → city rate 56 / 16,000; E_a = 14, E_b = 42
    assert s["excess_4q"].tolist() == pytest.approx([40 - 14, 16 - 42])
    # twelve: a 56, b 48 → rate 104 / 48,000; E_a = 26, E_b = 78
    assert s["excess_12q"].tolist() == pytest.approx([56 - 26, 48 - 78])
    assert s["eb_excess_12q"][0] > 0 > s["eb_excess_12q"][1]
    assert abs(s["eb_excess_12q"][0]) < 30  # shrunk towards the city's rate
    assert set(priority.NAIVE_RANKINGS) >= {"excess_4q", "excess_12q", "eb_excess_12q"}
    assert np.argmax(s["count_12q"]) == 0 and np.argmax(s["excess_12q"]) == 0
