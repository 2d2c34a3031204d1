"""What the NUTS engines share (stats.disease_mapping.mcmc): posterior summaries and the
convergence diagnostics every reported quantity must pass."""

import warnings

import numpy as np
import pytest

from dv_analysis.stats.disease_mapping.mcmc import ESS_BULK_MIN, RHAT_MAX, convergence, describe


def _mixed(rng, *shape):
    """Independent standard normal draws: chains that mix perfectly."""
    return rng.standard_normal(shape)


def _stuck(rng, chains=4, draws=1000):
    """Chains stuck at 0, 1, 2 and 3, each barely moving."""
    return np.arange(chains)[:, None] + 0.1 * rng.standard_normal((chains, draws))


def test_describe_by_hand():
    """1 … 5: mean 3, sd √2.5 (ddof 1), and the 5 % and 95 % quantiles interpolated
    linearly between order statistics (1 + 0.05 × 4 and 1 + 0.95 × 4)."""
    d = describe([1.0, 2.0, 3.0, 4.0, 5.0])
    assert d == pytest.approx({"mean": 3.0, "sd": np.sqrt(2.5), "q05": 1.2, "q95": 4.8})
    assert set(d) == {"mean", "sd", "q05", "q95"}
    assert all(type(v) is float for v in d.values()), "plain floats, for JSON"


def test_describe_flattens_chains_and_draws():
    draws = np.array([[5.0, 1.0], [4.0, 2.0], [3.0, 3.0]])  # any shape: the same numbers
    assert describe(draws) == describe([1.0, 2.0, 3.0, 3.0, 4.0, 5.0])
    d = describe(draws)
    assert d["mean"] == 3.0 and d["sd"] == pytest.approx(np.sqrt(10.0 / 5.0))
    assert d["q05"] == pytest.approx(1.25) and d["q95"] == pytest.approx(4.75)


def test_well_mixed_chains_pass():
    rng = np.random.default_rng(0)
    c = convergence({"sigma": _mixed(rng, 4, 1000), "b": _mixed(rng, 4, 1000, 3)})
    assert abs(c["rhat_max"] - 1.0) < 0.005
    assert c["ess_bulk_min"] > 3000, "4,000 independent draws"
    assert c["ok"] is True
    assert (c["rhat_limit"], c["ess_bulk_limit"]) == (RHAT_MAX, ESS_BULK_MIN) == (1.01, 400)
    assert c["rhat_worst"] in {"sigma", "b[0]", "b[1]", "b[2]"}


def test_chains_stuck_at_different_values_fail_and_are_named():
    rng = np.random.default_rng(1)
    c = convergence({"sigma": _mixed(rng, 4, 1000), "rho": _stuck(rng)})
    assert c["rhat_max"] > 2.0 and c["rhat_worst"] == "rho"
    assert c["ess_bulk_min"] < 20 and c["ess_bulk_worst"] == "rho"
    assert c["ok"] is False


def test_the_worst_element_of_a_vector_is_named_by_its_index():
    rng = np.random.default_rng(2)
    b = _mixed(rng, 4, 1000, 3)
    b[:, :, 1] += np.arange(4)[:, None]  # only b[1]'s chains disagree
    c = convergence({"sigma": _mixed(rng, 4, 1000), "b": b})
    assert c["rhat_worst"] == "b[1]" and c["ess_bulk_worst"] == "b[1]"
    assert c["rhat_max"] > 1.01 and not c["ok"]


def test_few_draws_fail_on_the_effective_sample_size_alone():
    """Well mixed but 4 × 50 draws: R-hat is fine, the ESS is below 400."""
    rng = np.random.default_rng(3)
    c = convergence({"sigma": _mixed(rng, 4, 50)})
    assert c["ess_bulk_min"] < ESS_BULK_MIN and c["ok"] is False


def test_a_diagnostic_that_is_not_a_number_counts_as_worst():
    """A NaN draw makes R-hat and ESS NaN: that quantity is named (the last of several),
    never passed over because NaN compares false."""
    rng = np.random.default_rng(4)
    first, last = _mixed(rng, 4, 1000), _mixed(rng, 4, 1000)
    first[0, 5] = last[2, 7] = np.nan
    stuck = _stuck(rng)  # R-hat far above 1, yet the NaN is worse
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        c = convergence({"first": first, "stuck": stuck, "last": last})
    assert c["rhat_worst"] == "last" and np.isnan(c["rhat_max"])
    assert c["ess_bulk_worst"] == "last" and np.isnan(c["ess_bulk_min"])
    assert c["ok"] is False
