"""Joining a layer to the village boundaries: codes first, then normalised names, with a
:class:`JoinReport` of what matched (kept in ``frame.attrs['join_report']`` and logged).
Rows that do not match are kept and flagged (``in_boundaries`` is False), never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import names

log = logging.getLogger(__name__)


CRS_METRIC = "EPSG:3826"


CRS_LONLAT = "EPSG:4326"


@dataclass
class JoinReport:
    """What a join to the village boundaries matched and did not match."""

    layer: str
    n_rows: int
    n_matched: int
    unmatched_examples: list[str] = field(default_factory=list)
    n_villages: int = 0
    villages_without_data: list[str] = field(default_factory=list)
    methods: dict[str, int] = field(default_factory=dict)

    @property
    def n_unmatched(self) -> int:
        return self.n_rows - self.n_matched

    def __str__(self) -> str:
        text = f"{self.layer}: {self.n_matched:,} of {self.n_rows:,} rows matched a village"
        if self.methods:
            text += " (" + ", ".join(f"{k} {v:,}" for k, v in self.methods.items()) + ")"
        if self.n_unmatched:
            text += (
                f"; {self.n_unmatched:,} unmatched, e.g. {', '.join(self.unmatched_examples[:5])}"
            )
        if self.villages_without_data:
            text += (
                f"; {len(self.villages_without_data)} of {self.n_villages} boundary villages have no row,"
                f" e.g. {', '.join(self.villages_without_data[:5])}"
            )
        return text

    def as_dict(self) -> dict:
        return {
            "layer": self.layer,
            "n_rows": self.n_rows,
            "n_matched": self.n_matched,
            "n_unmatched": self.n_unmatched,
            "unmatched_examples": self.unmatched_examples[:10],
            "n_villages": self.n_villages,
            "villages_without_data": self.villages_without_data[:10],
            "n_villages_without_data": len(self.villages_without_data),
            "methods": self.methods,
        }


def _attach(df: pd.DataFrame, report: JoinReport) -> pd.DataFrame:
    df.attrs["join_report"] = report
    if report.n_unmatched or report.villages_without_data:
        log.warning("%s", report)
    else:
        log.info("%s", report)
    return df


def _city_filter(city: str | None) -> str | None:
    return None if city in (None, "all") else str(city)


def village_name_index(boundaries: pd.DataFrame) -> pd.DataFrame:
    """(city key, district key, village key) → villcode for name matching.

    Keys that are ambiguous within a city are dropped from the index (they cannot
    identify a village) and listed in ``attrs['ambiguous']``.
    """
    idx = pd.DataFrame(
        {
            "city_k": boundaries["countyname"].map(names.city_key),
            "district_k": boundaries["townname"].map(names.district_key),
            "village_k": boundaries["villname"].map(names.village_key),
            "villcode": boundaries["villcode"].values,
        }
    )
    dup = idx.duplicated(["city_k", "district_k", "village_k"], keep=False)
    out = idx[~dup].reset_index(drop=True)
    out.attrs["ambiguous"] = idx[dup]["villcode"].tolist()
    return out


def match_villages(
    df: pd.DataFrame,
    boundaries: pd.DataFrame,
    *,
    layer: str,
    code_col: str | None = None,
    city_col: str | None = None,
    district_col: str | None = None,
    village_col: str | None = None,
    label_cols: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Add ``villcode`` and ``in_boundaries`` to ``df``: by code first, then by names.

    A code counts when it is a village of ``boundaries``; names are matched on the
    normalised (city, district, village) keys. Unmatched rows stay, flagged.
    """
    df = df.copy()
    known = set(boundaries["villcode"])
    code = (
        df[code_col].map(names.villcode)
        if code_col
        else pd.Series(None, index=df.index, dtype=object)
    )
    by_code = code.isin(known)
    result = pd.Series(np.where(by_code, code, None), index=df.index, dtype=object)
    method = pd.Series(np.where(by_code, "code", None), index=df.index, dtype=object)
    if village_col:
        idx = village_name_index(boundaries)
        keys = pd.DataFrame(
            {
                "city_k": df[city_col].map(names.city_key).values if city_col else "",
                "district_k": df[district_col].map(names.district_key).values,
                "village_k": df[village_col].map(names.village_key).values,
            },
            index=df.index,
        )
        if not city_col:
            idx = idx.drop(columns="city_k").drop_duplicates(
                ["district_k", "village_k"], keep=False
            )
            keys = keys.drop(columns="city_k")
        on = [c for c in ("city_k", "district_k", "village_k") if c in keys.columns]
        merged = keys.reset_index().merge(idx, on=on, how="left").set_index("index")["villcode"]
        merged = merged.reindex(df.index)
        # a name written without its suffix (義村 for 義村里): try it as written
        unstripped = keys.assign(
            village_k=df[village_col].map(lambda v: names.village_key(v, strip=False)).values
        )
        again = (
            unstripped.reset_index().merge(idx, on=on, how="left").set_index("index")["villcode"]
        )
        merged = again.reindex(df.index).fillna(merged)
        use = ~by_code & merged.notna()
        result[use] = merged[use]
        method[use] = "names"
    df["villcode"] = result
    df["in_boundaries"] = result.notna()
    df["match_method"] = method
    unmatched = df[~df["in_boundaries"]]
    cols = [c for c in (code_col, city_col, district_col, village_col, *label_cols) if c]
    examples = [" ".join(map(str, row)) for row in unmatched[cols].head(10).itertuples(index=False)]
    missing = sorted(known - set(result.dropna()))
    report = JoinReport(
        layer=layer,
        n_rows=len(df),
        n_matched=int(df["in_boundaries"].sum()),
        unmatched_examples=examples,
        n_villages=len(known),
        villages_without_data=missing,
        methods={k: int(v) for k, v in method.value_counts().items()},
    )
    return _attach(df, report)
