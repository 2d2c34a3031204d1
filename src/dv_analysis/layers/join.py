"""Joining a layer to the village boundaries: codes first, then normalised names, with a
:class:`JoinReport` of what matched (kept in ``frame.attrs['join_report']`` and logged).
Rows that do not match are kept and flagged (``in_boundaries`` is False), never dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dv_analysis.layers import names

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


def city_filter(city: str | None) -> str | None:
    return None if city in (None, "all") else str(city)


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

    A code counts when it is a village of ``boundaries``; names are matched by
    :class:`~dv_analysis.layers.names.VillageNames`, the matcher cleaning uses too.
    Unmatched rows stay, flagged.
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
        index = names.VillageNames(boundaries, by_city=city_col is not None)
        city = df[city_col].map(names.city_key) if city_col else None
        by_name = index.codes(city, df[district_col], df[village_col])
        use = ~by_code & by_name.notna()
        result[use] = by_name[use]
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
