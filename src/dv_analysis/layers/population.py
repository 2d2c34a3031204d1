"""Households and population per village from the quarterly registers, with the people of
retired villages reassigned to their district's villages.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from dv_analysis.config import Period, Settings
from dv_analysis.errors import InputError, MissingInputError
from dv_analysis.layers import memo, names
from dv_analysis.layers.boundaries import load_boundaries
from dv_analysis.layers.join import JoinReport, city_filter, match_villages

log = logging.getLogger(__name__)


POPULATION_COLUMNS = {
    "年月": "month",
    "村里代碼": "register_code",
    "區域": "area",
    "村里": "village",
    "戶數": "households",
    "人口": "pop_total",
    "男性人口": "pop_male",
    "女性人口": "pop_female",
    "未滿15歲": "pop_0_14",
    "15-64歲": "pop_15_64",
    "超過64歲": "pop_65plus",
    "超過20歲": "pop_20plus",
    "18-19歲": "pop_18_19",
}


def available_population_months(settings: Settings) -> list[str]:
    """Months (YYYY-MM) with a population file."""
    files = settings.public_months("population")
    return [f.stem.rsplit("_", 1)[1] for f in files]


def population_month_for(settings: Settings, period: str | Period) -> str:
    """The population month for a period: its quarter-end, else the nearest earlier file.

    Raises ``FileNotFoundError`` when no file is at or before the period's end.
    """
    p = Period.parse(period)
    months = available_population_months(settings)
    if p.end_month in months:
        return p.end_month
    earlier = [m for m in months if m <= p.end_month]
    if not earlier:
        raise MissingInputError(
            f"no population file at or before {p.end_month} in {settings.public_folder('population')}"
            f" (available {months[0] if months else '-'} … {months[-1] if months else '-'})"
        )
    log.warning("no population file for %s; using %s", p.end_month, earlier[-1])
    return earlier[-1]


def load_population(
    settings: Settings, period: str | Period, city: str | None = None
) -> pd.DataFrame:
    """Households and population per village for a period (its quarter-end file).

    Returns one row per register village of the city with ``villcode`` (from 村里代碼
    without the dash), the population columns and ``in_boundaries``; the join report
    is in ``attrs['join_report']``.
    """
    month = population_month_for(settings, period)
    path = settings.population_file(month)
    city = city_filter(settings.city if city is None else city)
    files = [path, settings.boundaries_file]
    return memo.kept(
        "population", files, (month, city), lambda: _read_population(settings, month, city)
    )


def _read_population(settings: Settings, month: str, city: str | None) -> pd.DataFrame:
    """:func:`load_population` for a month's file, read and matched."""
    path = settings.population_file(month)
    raw = pd.read_csv(path, dtype={"村里代碼": str}, encoding="utf-8-sig")
    missing = set(POPULATION_COLUMNS) - set(raw.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {sorted(missing)}")
    df = raw.rename(columns=POPULATION_COLUMNS)[list(POPULATION_COLUMNS.values())]
    df["register_code"] = df["register_code"].map(names.villcode)
    if city is not None:
        df = df[df["register_code"].str[:5] == city].reset_index(drop=True)
    b = load_boundaries(settings, city or "all")
    # a code given to two register villages (2014-06 has one): trust it only for the row whose
    # district agrees with the boundaries; the other is matched by its names
    parts = df["area"].map(names.split_county_district)
    df["_city"], df["_district"] = parts.str[0], parts.str[1]
    dup = df["register_code"].duplicated(keep=False) & df["register_code"].notna()
    if dup.any():
        town = b.set_index("villcode")["townname"].map(names.district_key)
        wrong = dup & (df["register_code"].map(town) != df["_district"])
        df["_code"] = df["register_code"].where(~wrong)
    else:
        df["_code"] = df["register_code"]
    df = match_villages(
        df,
        b,
        layer=f"population {month}",
        code_col="_code",
        city_col="_city",
        district_col="_district",
        village_col="village",
        label_cols=("area", "village"),
    ).drop(columns=["_city", "_district", "_code"])
    df = reassign_unmatched_population(df, b)
    df["month"] = month
    return df


POPULATION_COLUMNS_INV = {v: k for k, v in POPULATION_COLUMNS.items()}


#: Population columns moved by :func:`reassign_unmatched_population`.
POPULATION_COUNTS: tuple[str, ...] = tuple(
    c for c in POPULATION_COLUMNS.values() if c not in ("month", "register_code", "area", "village")
)


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to weights, in integers that add up to it."""
    share = total * weights / weights.sum()
    out = np.floor(share).astype(np.int64)
    rest = int(total - out.sum())
    if rest:
        out[np.argsort(-(share - out), kind="stable")[:rest]] += 1
    return out


def _district_gifts(unmatched, matched, boundaries) -> tuple[pd.DataFrame | None, int]:
    """What each polygon receives from its district's unmatched register villages (by
    villcode, summed), and the people of districts without any polygon."""
    own = matched.groupby("villcode")["pop_total"].sum()
    has_own = set(own.index)
    codes = boundaries["villcode"].to_numpy(dtype=object)  # plain strings: fast to look up
    by_town = pd.Series(np.arange(len(codes))).groupby(np.array([c[:8] for c in codes])).indices
    gifts, kept_out = [], 0
    for town, g in unmatched.groupby(unmatched["register_code"].str[:8], sort=True):
        polys = codes[by_town.get(town, [])]  # in boundary order
        if not len(polys):
            kept_out += int(g["pop_total"].sum())
            continue
        empty = np.array([v for v in polys if v not in has_own], dtype=object)
        if len(empty):
            targets, weights = empty, np.ones(len(empty))
        else:
            targets = polys
            weights = own.reindex(targets).fillna(0).to_numpy(float) + 1.0
        gift = pd.DataFrame(
            {c: _largest_remainder(int(g[c].sum()), weights) for c in POPULATION_COUNTS}
        )
        gift["villcode"], gift["area"] = targets, g["area"].iloc[0]
        gifts.append(gift)
    if not gifts:
        return None, kept_out
    gift = pd.concat(gifts, ignore_index=True)
    gift = gift.groupby("villcode").agg({**{c: "sum" for c in POPULATION_COUNTS}, "area": "first"})
    gift["pop_reassigned"] = gift["pop_total"]
    return gift, kept_out


def _receive(df: pd.DataFrame, gift: pd.DataFrame, matched: pd.DataFrame) -> pd.DataFrame:
    """The register table with the gifts added: to a polygon's own row, or as a new row
    (``match_method`` ``reassigned``) for a polygon without one."""
    into = df["in_boundaries"] & df["villcode"].isin(gift.index)
    add = gift.reindex(df.loc[into, "villcode"])
    for c in (*POPULATION_COUNTS, "pop_reassigned"):
        df.loc[into, c] = df.loc[into, c].to_numpy() + add[c].to_numpy()
    fresh = gift[~gift.index.isin(matched["villcode"])].reset_index()
    if len(fresh):
        fresh = fresh.assign(
            register_code=None, village="", in_boundaries=True, match_method="reassigned"
        )
        df = pd.concat([df, fresh[[c for c in df.columns if c in fresh]]], ignore_index=True)
    return df


def reassign_unmatched_population(df: pd.DataFrame, boundaries: pd.DataFrame) -> pd.DataFrame:
    """The rule for register villages that the boundary vintage does not have.

    Villages are merged and re-divided over the years (New Taipei has 1,032 register
    villages against 1,009 polygons; Taoyuan went from 495 to 516), so some register rows
    match no polygon. Rule: the people of a district's unmatched register villages (same
    first 8 digits of the code: county and district) stay in that district. They go to the
    district's polygons that have no register row of their own (the re-divided villages)
    in equal parts, or, when every polygon of the district has a row, to all of them in
    proportion to their population; integers by largest remainder, so district totals are
    kept exactly. A polygon without a register row gets a row with ``match_method``
    ``reassigned``; every receiving village has the number of people it received in
    ``pop_reassigned``. Unmatched rows stay in the table, flagged, for the record; a district
    with no polygon at all keeps its people there (and the join report says so).
    """
    df = df.copy()
    df["pop_reassigned"] = 0
    unmatched = df[~df["in_boundaries"]]
    report: JoinReport = df.attrs.get("join_report")
    if unmatched.empty:
        return df
    matched = df[df["in_boundaries"]]
    gift, kept_out = _district_gifts(unmatched, matched, boundaries)
    if gift is not None:
        df = _receive(df, gift, matched)
    has_row = set(df.loc[df["in_boundaries"], "villcode"])
    if report is not None:
        moved = int(df["pop_reassigned"].sum())
        report.methods = {**report.methods, "reassigned_people": moved}
        report.villages_without_data = sorted(set(report.villages_without_data) - has_row)
        if kept_out:
            report.methods["people_in_districts_without_polygons"] = kept_out
        df.attrs["join_report"] = report
        log.warning(
            "%s: %d register villages (%d people) not in the boundaries; %d people reassigned"
            " within their districts",
            report.layer,
            len(unmatched),
            int(unmatched["pop_total"].sum()),
            moved,
        )
    return df
