"""The KPIs on the front page and in the open data: the staff table and trend, and the
disclosure of estimates (small bases and small implied counts withheld)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from dv_analysis import disclosure
from dv_analysis.config import Period
from dv_analysis.pages import front_page
from dv_analysis.pages import labels as L


def _kpi():
    rows = [
        ("city", "city", "2020Q4", "renotified_3m", 0.05, 0.04, 0.06, 2000),
        ("district", "大安區", "2020Q4", "renotified_3m", 0.25, 0.1, 0.5, 4),
        ("city", "city", "2020Q3", "renotified_3m", 0.07, 0.06, 0.08, 1900),
        ("city", "city", "2020Q4", "days_to_notification_median", 1.0, 1.0, 1.0, 1500),
        ("district", "大安區", "2020Q4", "victims_female", 0.96, 0.9, 0.99, 50),
    ]
    return pd.DataFrame(
        rows, columns=["level", "area", "period", "kpi", "value", "low", "high", "n"]
    )


def test_front_page_kpi_table_and_trend():
    inputs = SimpleNamespace(kpi=_kpi(), period=Period.parse("2020Q4"))
    t = front_page.kpi_table(inputs).set_index(L.KPI_AREA)
    col = L.KPI_LABELS["renotified_3m"][0]
    assert t.loc[L.KPI_CITY, col] == "5.0%（4.0%–6.0%）"
    assert t.loc["大安區", col] == L.KPI_FEW  # 4 victims: too few to say
    assert t.loc[L.KPI_CITY, L.KPI_LABELS["days_to_notification_median"][0]] == "1.0（1.0–1.0）"
    trend = front_page.kpi_trend(inputs).set_index("指標")
    assert trend.loc[col].tolist() == ["7.0%", "5.0%"]
    assert front_page.kpi_table(SimpleNamespace(kpi=None, period=inputs.period)).empty


def test_protect_estimates_withholds_small_bases_and_small_counts():
    k = _kpi()
    shares = ~k["kpi"].str.startswith("days_")
    out = disclosure.protect_estimates(k, shares)
    assert "n" not in out and out["base_count"].tolist()[:3] == [2000, pd.NA, 1900]
    assert out.loc[0, "value"] == 0.05 and out.loc[0, "status"] == ""
    assert np.isnan(out.loc[1, "value"]) and out.loc[1, "status"] == disclosure.SUPPRESSED_LABEL
    # 96 % of 50 is 48 women and 2 others: the complement is a small count
    assert np.isnan(out.loc[4, "value"]) and np.isnan(out.loc[4, "high"])
    assert out.loc[3, "value"] == 1.0  # days are not a share
