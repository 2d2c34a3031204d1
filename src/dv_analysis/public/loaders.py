"""Loaders for the real public layers (MOI boundaries, registers, transit, facilities, welfare).

All layers are read from :attr:`dv_analysis.config.Settings.public_dir`. Geometries
come back in TWD97 TM2 metres (EPSG:3826). Every join to the village boundaries
produces a :class:`JoinReport` (kept in ``frame.attrs['join_report']`` and logged):
rows that do not match are kept and flagged (``in_boundaries`` is False), never
dropped silently.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..config import Period, Settings
from . import memo, names

log = logging.getLogger(__name__)

#: What ``dv_analysis.public`` re-exports (the loaders are the package's interface).
__all__ = [
    "CRS_LONLAT",
    "CRS_METRIC",
    "POPULATION_COLUMNS",
    "POPULATION_COLUMNS_INV",
    "POPULATION_COUNTS",
    "VILLAGE_LAYER_CITIES",
    "available_population_months",
    "covers",
    "district_label",
    "load_boundaries",
    "load_bus_stops",
    "load_children_0to5",
    "load_medical",
    "load_metro_exits",
    "load_metro_lines",
    "load_metro_stations",
    "load_police",
    "load_population",
    "load_vital_events",
    "load_welfare_facilities",
    "load_welfare_recipients",
    "load_youbike",
    "match_villages",
    "population_month_for",
    "read_vital_events_file",
    "reassign_unmatched_population",
    "roc_month",
    "village_name_index",
]

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


# ---------------------------------------------------------------------------
# Boundaries
# ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _read_boundaries(path: str) -> gpd.GeoDataFrame:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"village boundaries not found: {p}")
    g = gpd.read_file(p, layer="villages")
    g = g.set_crs(CRS_LONLAT, allow_override=True).to_crs(CRS_METRIC)
    invalid = ~g.geometry.is_valid
    if invalid.any():
        log.info("repairing %d invalid village polygons with make_valid", int(invalid.sum()))
        fixed = shapely.make_valid(g.geometry[invalid].values)
        # keep only the polygonal parts of a repaired geometry
        fixed = [
            shapely.union_all(
                [p for p in shapely.get_parts(f) if p.geom_type in ("Polygon", "MultiPolygon")]
            )
            for f in fixed
        ]
        g.loc[invalid, "geometry"] = fixed
    out = gpd.GeoDataFrame(
        {
            "villcode": g["VILLCODE"].astype(str),
            "countycode": g["COUNTYCODE"].astype(str),
            "countyname": g["COUNTYNAME"].map(lambda s: names.nfkc(s).replace("台", "臺")),
            "towncode": g["TOWNCODE"].astype(str),
            "townname": g["TOWNNAME"].map(lambda s: names.nfkc(s).replace("台", "臺")),
            "villname": g["VILLNAME"].map(names.nfkc),
            "villeng": g["VILLENG"],
        },
        geometry=g.geometry.values,
        crs=CRS_METRIC,
    )
    return out.sort_values("villcode").reset_index(drop=True)


def load_boundaries(settings: Settings, city: str | None = None) -> gpd.GeoDataFrame:
    """Village polygons in EPSG:3826 for a city code (default the settings' city; 'all' for Taiwan).

    Columns: villcode, countycode, countyname, towncode, townname, villname, villeng,
    geometry; invalid polygons are repaired with ``make_valid``.
    """
    city = _city_filter(settings.city if city is None else city)
    return _city_boundaries(str(settings.boundaries_file), city).copy()


@functools.lru_cache(maxsize=8)
def _city_boundaries(path: str, city: str | None) -> gpd.GeoDataFrame:
    """A city's (or all) village polygons, kept on disk by content (:mod:`.memo`)."""
    if not Path(path).exists():
        raise FileNotFoundError(f"village boundaries not found: {path}")
    return memo.kept("boundaries", [Path(path)], (city,), lambda: _boundaries_of(path, city))


def _boundaries_of(path: str, city: str | None) -> gpd.GeoDataFrame:
    g = _read_boundaries(path)
    if city is not None:
        g = g[g["countycode"] == city]
        if g.empty:
            raise ValueError(f"no village in the boundaries has COUNTYCODE {city}")
    return g.reset_index(drop=True)


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


# ---------------------------------------------------------------------------
# Population registers
# ---------------------------------------------------------------------------
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
        raise FileNotFoundError(
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
    city = _city_filter(settings.city if city is None else city)
    files = [path, settings.boundaries_file]
    return memo.kept("population", files, (month, city),
                     lambda: _read_population(settings, month, city))  # fmt: skip


def _read_population(settings: Settings, month: str, city: str | None) -> pd.DataFrame:
    """:func:`load_population` for a month's file, read and matched."""
    path = settings.population_file(month)
    raw = pd.read_csv(path, dtype={"村里代碼": str}, encoding="utf-8-sig")
    missing = set(POPULATION_COLUMNS) - set(raw.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
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
        df, b, layer=f"population {month}", code_col="_code", city_col="_city",
        district_col="_district", village_col="village", label_cols=("area", "village"),
    ).drop(columns=["_city", "_district", "_code"])  # fmt: skip
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
    if gifts:
        gift = pd.concat(gifts, ignore_index=True)
        gift = gift.groupby("villcode").agg(
            {**{c: "sum" for c in POPULATION_COUNTS}, "area": "first"}
        )
        gift["pop_reassigned"] = gift["pop_total"]
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
            report.layer, len(unmatched), int(unmatched["pop_total"].sum()), moved,
        )  # fmt: skip
    return df


# ---------------------------------------------------------------------------
# Vital events (births, deaths, marriages, divorces)
# ---------------------------------------------------------------------------
_VITAL_NAMES = {
    # Chinese headers of every generation, and the English ones
    "統計年月": "roc_month",
    "statistic_yyymm": "roc_month",
    "區域別代碼": "code",
    "district_code": "code",
    "區域別": "area",
    "site_id": "area",
    "村里": "village",
    "村里名稱": "village",
    "village": "village",
    "出生數": "births",
    "birth_total": "births",
    "死亡數": "deaths",
    "death_total": "deaths",
    "結婚對數": "marriages",
    "marry_pair": "marriages",
    "離婚對數": "divorces",
    "divorce_pair": "divorces",
    "結婚對數_異性": "marriages_os",
    "marry_pair_OppositeSex": "marriages_os",
    "結婚對數_同性": "marriages_ss",
    "marry_pair_SameSex": "marriages_ss",
    "離婚對數_異性": "divorces_os",
    "divorce_pair_OppositeSex": "divorces_os",
    "離婚對數_同性": "divorces_ss",
    "divorce_pair_SameSex": "divorces_ss",
}


def roc_month(value: object) -> str | None:
    """'10506' (ROC year 105, month 06) → '2016-06'."""
    s = names.nfkc(value)
    if not s.isdigit() or len(s) not in (4, 5):
        return None
    year, month = int(s[:-2]) + 1911, int(s[-2:])
    if not 1 <= month <= 12:
        return None
    return f"{year}-{month:02d}"


def read_vital_events_file(path: Path) -> pd.DataFrame:
    """One monthly vital-events file, any header generation, as canonical columns.

    Handles a BOM, an English header followed by a Chinese one, trailing empty
    columns, and the split of marriages/divorces into opposite- and same-sex pairs.
    Kept on disk by content (:mod:`.memo`): a window reads each month once.
    """
    return memo.kept("vital_events_file", [Path(path)], (), lambda: _parse_vital_events(path))


def _parse_vital_events(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    raw = raw.loc[:, [c for c in raw.columns if not str(c).startswith("Unnamed")]]
    raw.columns = [str(c).strip() for c in raw.columns]
    # a second (Chinese) header row under the English one
    if len(raw) and names.nfkc(raw.iloc[0, 0]) in _VITAL_NAMES:
        raw = raw.iloc[1:]
    cols = {c: _VITAL_NAMES[c] for c in raw.columns if c in _VITAL_NAMES}
    df = raw[list(cols)].rename(columns=cols)
    for need in ("roc_month", "area", "village"):
        if need not in df.columns:
            raise ValueError(f"{path}: no column for {need}; header is {list(raw.columns)}")
    for c in (
        "births",
        "deaths",
        "marriages",
        "divorces",
        "marriages_os",
        "marriages_ss",
        "divorces_os",
        "divorces_ss",
    ):
        if c in df.columns:
            df[c] = pd.to_numeric(df[c].str.strip(), errors="coerce").fillna(0).astype(int)
    if "marriages" not in df.columns:
        df["marriages"] = df.get("marriages_os", 0) + df.get("marriages_ss", 0)
    if "divorces" not in df.columns:
        df["divorces"] = df.get("divorces_os", 0) + df.get("divorces_ss", 0)
    df["month"] = df["roc_month"].map(roc_month)
    if "code" not in df.columns:
        df["code"] = None
    df["code"] = df["code"].map(names.villcode)
    keys = df["area"].map(names.split_county_district)
    df["city"] = keys.str[0]
    df["district"] = keys.str[1]
    return df[
        [
            "month",
            "code",
            "area",
            "city",
            "district",
            "village",
            "births",
            "deaths",
            "marriages",
            "divorces",
        ]
    ].reset_index(drop=True)


def load_vital_events(
    settings: Settings, months: list[str], city: str | None = None
) -> pd.DataFrame:
    """Births, deaths, marriages and divorces per village summed over ``months`` (YYYY-MM).

    Rows are matched to VILLCODE by code where the file has one, otherwise by the
    normalised city + district + village names. Unmatched rows are kept (flagged).
    Months without a file are listed in ``attrs['missing_months']``.
    """
    city = _city_filter(settings.city if city is None else city)
    files = [f for f in map(settings.vital_events_file, months) if f.exists()]
    return memo.kept("vital_events", [*files, settings.boundaries_file], (tuple(months), city),
                     lambda: _read_vital_events(settings, months, city))  # fmt: skip


def _read_vital_events(settings: Settings, months: list[str], city: str | None) -> pd.DataFrame:
    """:func:`load_vital_events` for the months' files, read, matched and summed."""
    frames, missing = [], []
    for m in months:
        path = settings.vital_events_file(m)
        if not path.exists():
            missing.append(m)
            continue
        frames.append(read_vital_events_file(path))
    if not frames:
        raise FileNotFoundError(
            f"no vital-events file for months {months[0]} … {months[-1]} in {settings.public_folder('vital_events')}"
        )
    df = pd.concat(frames, ignore_index=True)
    b = load_boundaries(settings, city or "all")
    if city is not None:
        ck = names.city_key(b["countyname"].iloc[0])
        df = df[(df["code"].str[:5] == city) | (df["city"] == ck)]
    df = df.assign(city_name=df["city"])
    matched = match_villages(
        df,
        b,
        layer=f"vital events {months[0]}…{months[-1]}",
        code_col="code",
        city_col="city_name",
        district_col="district",
        village_col="village",
        label_cols=("month",),
    )
    report = matched.attrs["join_report"]
    key = matched["villcode"].fillna("unmatched:" + matched["area"] + matched["village"])
    out = (
        matched.assign(key=key)
        .groupby("key", sort=True)
        .agg(
            villcode=("villcode", "first"),
            area=("area", "first"),
            village=("village", "first"),
            births=("births", "sum"),
            deaths=("deaths", "sum"),
            marriages=("marriages", "sum"),
            divorces=("divorces", "sum"),
            n_months=("month", "nunique"),
        )
        .reset_index(drop=True)
    )
    out["in_boundaries"] = out["villcode"].notna()
    out.attrs["join_report"] = report
    out.attrs["missing_months"] = missing
    return out


# ---------------------------------------------------------------------------
# Point layers (transit, facilities)
# ---------------------------------------------------------------------------
def _points(df: pd.DataFrame, lon: str = "lon", lat: str = "lat") -> gpd.GeoDataFrame:
    x = pd.to_numeric(df[lon], errors="coerce")
    y = pd.to_numeric(df[lat], errors="coerce")
    ok = x.between(118, 123) & y.between(21, 27)
    if (~ok).any():
        log.warning("%d rows without valid lon/lat dropped from a point layer", int((~ok).sum()))
    df = df[ok].reset_index(drop=True)
    g = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(x[ok], y[ok]), crs=CRS_LONLAT)
    return g.to_crs(CRS_METRIC)


def _read_points(settings: Settings, layer: str, **kw) -> gpd.GeoDataFrame:
    path = settings.public_file(layer)
    if not path.exists():
        raise FileNotFoundError(f"public layer not found: {path}")
    return _points(pd.read_csv(path, dtype=str, encoding="utf-8-sig", **kw))


def load_metro_stations(settings: Settings) -> gpd.GeoDataFrame:
    """Taipei Metro stations (TDX 2023): stationid, stationname1, geometry."""
    return _read_points(settings, "metro_stations")


def load_metro_exits(settings: Settings) -> gpd.GeoDataFrame:
    """Taipei Metro station exits (2021) with line code and name."""
    return _read_points(settings, "metro_exits")


def load_metro_lines(settings: Settings) -> gpd.GeoDataFrame:
    """Metro line shapes (TDX 2023), for drawing."""
    path = settings.public_file("metro_lines")
    return gpd.read_file(path).to_crs(CRS_METRIC)


def load_bus_stops(settings: Settings) -> gpd.GeoDataFrame:
    """Bus stops (TDX 2023, Greater Taipei): stationid, stationname, geometry."""
    return _read_points(settings, "bus_stops")


def load_youbike(settings: Settings) -> gpd.GeoDataFrame:
    """YouBike 2.0 stations (2024-12-07) with docks."""
    return _read_points(settings, "youbike")


def load_police(settings: Settings) -> gpd.GeoDataFrame:
    """Taipei police offices; ``is_precinct`` marks the 派出所."""
    g = _read_points(settings, "police")
    g["is_precinct"] = g["STATION_NAME"].str.endswith("派出所")
    return g


def load_welfare_facilities(settings: Settings) -> gpd.GeoDataFrame:
    """Taipei social-welfare facilities with main_type and sub_type."""
    return _read_points(settings, "welfare_facilities")


def load_medical(settings: Settings) -> gpd.GeoDataFrame:
    """Taipei hospitals and clinics (type 醫院/診所)."""
    return _read_points(settings, "medical")


# ---------------------------------------------------------------------------
# Which cities each per-village layer covers
# ---------------------------------------------------------------------------
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


def district_label(boundaries: pd.DataFrame, city: str) -> pd.Series:
    """District names for tables: the district alone for one city; county + district for
    all of Taiwan, where names repeat (中正區 is in Taipei and in Keelung)."""
    if _city_filter(city) is None:
        return boundaries["countyname"] + boundaries["townname"]
    return boundaries["townname"]


# ---------------------------------------------------------------------------
# Welfare recipients per village (Taipei only)
# ---------------------------------------------------------------------------
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
