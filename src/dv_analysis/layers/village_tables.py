"""Per-village tables that cover some cities only (welfare recipients, children 0–5), and
which cities each covers.
"""

from __future__ import annotations

import pandas as pd

from dv_analysis.config import Settings
from dv_analysis.layers.boundaries import load_boundaries
from dv_analysis.layers.join import match_villages

#: Per-village layers that do not cover all of Taiwan, and the cities they cover. For a
#: run over another city, or over all of Taiwan, such a layer is left empty with a note:
#: a covariate known for a few cities only would confound city with the covariate.
VILLAGE_LAYER_CITIES: dict[str, frozenset[str]] = {
    "welfare_recipients": frozenset({"63000"}),
    "children_0to5": frozenset({"63000"}),
    "vital_events": frozenset({"63000", "65000", "68000"}),
}


def covers(settings: Settings, layer: str) -> bool:
    """Whether a per-village layer covers every village of the settings' city."""
    cities = VILLAGE_LAYER_CITIES.get(layer)
    return cities is None or settings.city in cities


def _village_table(settings: Settings, name: str, layer: str, city: str | None) -> pd.DataFrame:
    path = settings.public_file(name)
    df = pd.read_csv(path, dtype={"VILLCODE": str}, encoding="utf-8-sig")
    b = load_boundaries(settings, settings.city if city is None else city)
    return match_villages(df, b, layer=layer, code_col="VILLCODE")


def load_welfare_recipients(settings: Settings, city: str | None = None) -> pd.DataFrame:
    """Low-income, low-middle-income and disabled recipients per Taipei village (2023)."""
    df = _village_table(settings, "welfare_recipients", "welfare recipients 2023", city)
    return df.rename(
        columns={
            "cnt_low_income": "low_income",
            "cnt_low_middle_income": "low_middle_income",
            "cnt_disabled": "disabled",
            "cnt_disabled_allowance": "disabled_allowance",
            "cnt_total": "welfare_total",
        }
    )


def load_children_0to5(settings: Settings, city: str | None = None) -> pd.DataFrame:
    """Children aged 0–5 per Taipei village (2023), with their total."""
    df = _village_table(settings, "children_0to5", "children 0-5 2023", city)
    age_cols = [c for c in df.columns if c.endswith("歲數量")]
    df["children_0_5"] = df[age_cols].sum(axis=1)
    return df
