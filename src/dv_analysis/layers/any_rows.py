"""Any layer an analyst brings, put on the villages row by row, with every row accounted for.

Four kinds of file (:data:`KINDS`): points with coordinates, addresses, a table per
village, a table per district. :func:`locate_rows` gives each row its village (or only its
district), how it was matched and, where it was not, why; :func:`match_report` counts
them. Nothing is dropped: a row is matched by village (code, name or point in polygon), by
road and number band (:mod:`.addresses`, under a rule whose held-out accuracy is stated),
kept at district level, or unmatched with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from dv_analysis.errors import InputError, MissingInputError
from dv_analysis.layers import addresses, names
from dv_analysis.layers.join import CRS_LONLAT, CRS_METRIC

KINDS = ("points", "addresses", "villages", "districts")
#: How a row was placed (``how``), in the match report's order.
MATCHED = ("village_code", "village_name", "point_in_village", "road_band", "district_only")


@dataclass(frozen=True)
class Columns:
    """The columns of the file to read (those the kind needs)."""

    count: str = ""  # tables: the count of each row ('' for points and addresses: 1 a row)
    address: str = "發生地點"
    date: str = "發生日期"  # ROC (1040101) or ISO dates; optional
    time: str = "發生時段"  # addresses: a time band (with the date, tells a case listed twice)
    lon: str = "lon"
    lat: str = "lat"
    code: str = "VILLCODE"
    district: str = "dist"
    village: str = "vil"


@dataclass
class Located:
    """Every row of the file: ``row`` (line in the file), ``n`` (its count), ``villcode``,
    ``district`` (district key), ``how``, ``reason``, ``date``; and the road-band rule used
    with its cross-validation (addresses only)."""

    rows: pd.DataFrame
    rule: str = ""
    accuracy: pd.DataFrame | None = None


def read_file(path) -> pd.DataFrame:
    """A CSV (UTF-8, with or without BOM; Big5 tried after) or Excel file as text columns."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"{path}: no such file")
    if path.suffix.lower() in (".xlsx", ".xls"):
        return pd.read_excel(path, dtype=str)
    try:
        return pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except UnicodeDecodeError:
        return pd.read_csv(path, dtype=str, encoding="cp950", keep_default_na=False)


def _need(df: pd.DataFrame, path, *cols: str) -> None:
    for col in cols:
        if col and col not in df.columns:
            raise InputError(f"{path}: no column {col!r}; columns are {', '.join(df.columns)}")


def _counts(df: pd.DataFrame, path, col: str) -> pd.Series:
    """Each row's count: 1 without a count column; else the column, checked."""
    if not col:
        return pd.Series(1, index=df.index)
    n = pd.to_numeric(df[col].str.replace(",", ""), errors="coerce")
    bad = n.isna() | (n < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}, row {i + 2}, column {col!r}: {df[col].iloc[i]!r} is not a count")
    return n


def _dates(df: pd.DataFrame, col: str) -> pd.Series:
    """ROC dates (1040101), else ISO dates; NaT where missing or unreadable."""
    if not col or col not in df.columns:
        return pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    roc = addresses.roc_dates(df[col])
    if roc.notna().mean() >= 0.5:
        return roc
    return pd.to_datetime(df[col], errors="coerce")


def _frame(df: pd.DataFrame, n: pd.Series, dates: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": np.arange(2, len(df) + 2),
            "n": n.to_numpy(),
            "villcode": pd.Series(None, index=df.index, dtype=object),
            "district": "",
            "how": "",
            "reason": "",
            "date": dates.to_numpy(),
        },
        index=df.index,
    )


def _district_keys(villages: pd.DataFrame) -> dict[str, str]:
    """District key → the district's name as the boundaries spell it."""
    return dict(
        zip(villages["townname"].map(names.district_key), villages["townname"], strict=False)
    )


def locate_rows(path, kind: str, villages: gpd.GeoDataFrame, cols: Columns = Columns(),
                target_accuracy: float = 0.9, seed: int = 0) -> Located:  # fmt: skip
    """Every row of a layer file placed on the villages (or districts) of ``villages``.

    Parameters
    ----------
    path : path-like
        The file.
    kind : str
        One of :data:`KINDS`.
    villages : geopandas.GeoDataFrame
        The city's villages (:func:`dv_analysis.layers.load_boundaries`).
    cols : Columns
        The file's columns.
    target_accuracy : float
        Addresses: the held-out accuracy a road-band level must reach to be used.
    seed : int
        Addresses: the split into folds.
    """
    if kind not in KINDS:
        raise InputError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    df = read_file(path)
    if df.empty:
        raise InputError(f"{path}: no rows")
    if kind == "addresses":
        _need(df, path, cols.address)
        return _address_rows(df, villages, cols, target_accuracy, seed)
    if kind == "points":
        _need(df, path, cols.lon, cols.lat)
        return Located(_point_rows(df, path, villages, cols))
    _need(df, path, cols.count)
    if kind == "villages":
        return Located(_village_rows(df, path, villages, cols))
    _need(df, path, cols.district)
    out = _frame(df, _counts(df, path, cols.count), _dates(df, cols.date))
    known = _district_keys(villages)
    key = df[cols.district].map(names.district_key)
    out["district"] = key.where(key.isin(list(known)), "")
    out["how"] = np.where(out["district"] != "", "district_only", "unmatched")
    out["reason"] = np.where(
        out["district"] != "", "a table per district", "district not in the city"
    )
    return Located(out)


def _point_rows(df: pd.DataFrame, path, villages: gpd.GeoDataFrame, cols: Columns) -> pd.DataFrame:
    out = _frame(df, _counts(df, path, cols.count), _dates(df, cols.date))
    x = pd.to_numeric(df[cols.lon], errors="coerce")
    y = pd.to_numeric(df[cols.lat], errors="coerce")
    has = x.notna() & y.notna()
    pts = gpd.GeoDataFrame(
        {"i": np.flatnonzero(has)}, geometry=gpd.points_from_xy(x[has], y[has]), crs=CRS_LONLAT
    ).to_crs(CRS_METRIC)
    hit = gpd.sjoin(pts, villages[["villcode", "townname", "geometry"]], predicate="within")
    hit = hit.drop_duplicates("i")
    pos = out.index[hit["i"].to_numpy()]
    out.loc[pos, "villcode"] = hit["villcode"].to_numpy()
    out.loc[pos, "district"] = hit["townname"].map(names.district_key).to_numpy()
    out.loc[pos, "how"] = "point_in_village"
    out.loc[~has.to_numpy(), ["how", "reason"]] = ["unmatched", "no coordinates"]
    rest = out["how"].eq("")
    out.loc[rest, ["how", "reason"]] = ["unmatched", "outside the city's villages"]
    return out


def _village_rows(
    df: pd.DataFrame, path, villages: gpd.GeoDataFrame, cols: Columns
) -> pd.DataFrame:
    out = _frame(df, _counts(df, path, cols.count), _dates(df, cols.date))
    town = villages.set_index("villcode")["townname"].map(names.district_key)
    if cols.code in df.columns:
        code = df[cols.code].map(names.villcode)
        ok = code.isin(set(villages["villcode"]))
        out.loc[ok, "villcode"] = code[ok]
        out.loc[ok, "how"] = "village_code"
    if {cols.district, cols.village} <= set(df.columns):
        rest = out["how"].eq("")
        found = names.VillageNames(villages, by_city=False).codes(
            None, df.loc[rest, cols.district], df.loc[rest, cols.village]
        )
        ok = found.notna()
        out.loc[found.index[ok], "villcode"] = found[ok]
        out.loc[found.index[ok], "how"] = "village_name"
    out["district"] = out["villcode"].map(town).fillna("")
    rest = out["how"].eq("")
    out.loc[rest, ["how", "reason"]] = ["unmatched", "village code and name not in the city"]
    return out


def _address_rows(
    df: pd.DataFrame, villages: gpd.GeoDataFrame, cols: Columns, target: float, seed: int
) -> Located:  # long: the four outcomes of an address, in the order they are tried
    out = _frame(df, _counts(df, "", ""), _dates(df, cols.date))
    p = addresses.parse_addresses(df[cols.address])
    known = _district_keys(villages)
    dkey = p["district"].map(names.district_key)
    city = names.city_key(villages["countyname"].iloc[0])
    other_city = p["city"].ne("") & p["city"].map(names.city_key).ne(city)
    in_city = dkey.isin(list(known)) & ~other_city
    out["district"] = dkey.where(in_city, "")
    named = p["village"].ne("") & in_city
    code = names.VillageNames(villages, by_city=False).codes(None, p["district"], p["village"])
    code = code.where(named, None)
    p["villcode"] = code
    event = [df[c].astype(str) for c in (cols.date, cols.time) if c in df.columns]
    p["event"] = pd.concat([*event, df[cols.address]], axis=1).agg("|".join, axis=1)
    out["villcode"] = code
    out.loc[code.notna(), "how"] = "village_name"
    rule, cv = addresses.confident_rule(p, target=target, seed=seed)
    todo = in_city & code.isna() & p["road"].ne("")
    pred = addresses.RoadBands(p, rule).predict(p[todo])
    inferred = pred["villcode"].notna()
    out.loc[pred.index[inferred], "villcode"] = pred.loc[inferred, "villcode"]
    out.loc[pred.index[inferred], "how"] = "road_band"
    out.loc[pred.index[inferred], "reason"] = "by " + pred.loc[inferred, "level"]
    rest = out["how"].eq("") & in_city
    why = np.where(
        p["road"].eq(""),
        "no road in the address",
        np.where(named, "named village not in the boundaries; road not learnt with confidence",
                 "no village named; road and band not learnt with confidence"),
    )  # fmt: skip
    out.loc[rest, "how"] = "district_only"
    out.loc[rest, "reason"] = pd.Series(why, index=out.index)[rest]
    gone = ~in_city
    out.loc[gone, "how"] = "unmatched"
    out.loc[gone, "reason"] = np.where(
        other_city[gone], "another city", np.where(p["district"][gone].eq(""), "no district in the address", "district not in the city")
    )  # fmt: skip
    return Located(out, rule.describe(), cv)


def match_report(located: Located, path, kind: str) -> dict:
    """The match report: every row counted once (``rows`` = matched + unmatched).

    ``matched``: rows by how they were placed (:data:`MATCHED`); ``unmatched``: rows by
    reason; ``district_only``: the reasons of the rows kept at district level;
    ``road_band``: the rule and its held-out accuracy (addresses).
    """
    r = located.rows
    matched = {h: int((r["how"] == h).sum()) for h in MATCHED if (r["how"] == h).any()}
    unmatched = r[r["how"] == "unmatched"]["reason"].value_counts().to_dict()
    report = {
        "file": Path(path).name,
        "kind": kind,
        "rows": len(r),
        "matched": matched,
        "unmatched": {k: int(v) for k, v in unmatched.items()},
        "district_only": {
            k: int(v) for k, v in r[r["how"] == "district_only"]["reason"].value_counts().items()
        },
        "accounted": int(sum(matched.values()) + sum(unmatched.values())) == len(r),
    }
    if located.accuracy is not None:
        acc = located.accuracy
        report["road_band"] = {
            "rule": located.rule,
            "held_out": acc.to_dict(orient="records"),
            "by_level": r[r["how"] == "road_band"]["reason"].value_counts().to_dict(),
        }
    return report
