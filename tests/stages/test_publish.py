"""Open-data tables built from synthetic features pass the disclosure rules."""

import numpy as np

from dv_analysis import disclosure
from dv_analysis.stages import features as F
from dv_analysis.stages import report as publish


def test_open_data_tables(year_of_data):
    s, _, _ = year_of_data
    f = F.village_features(s, "2020Q4", 4)
    villages, districts, log = publish.open_data(f, None)
    assert len(villages) == 456 and len(districts) == 12
    for c in publish.VILLAGE_COUNTS:
        shown = villages[c].dropna().astype(float)
        assert ((shown == 0) | ((shown >= 10) & (shown % 5 == 0))).all()
        # no district has exactly one withheld village: its total would reveal it
        withheld = villages[c].isna() & villages[f"{c}_status"].eq(disclosure.SUPPRESSED_LABEL)
        per_district = withheld.groupby(villages["townname"]).sum()
        assert not (per_district == 1).any()
        d = districts.set_index("townname")[c].astype(float)
        assert (d.dropna() % 5 == 0).all()
    # a rate is never shown where its count is withheld
    assert villages.loc[villages["incidents_w"].isna(), "rate_incidents_w"].isna().all()
    assert np.isfinite(villages["rate_incidents_w"].dropna()).all()
