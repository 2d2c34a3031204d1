"""Cleaning of raw case exports into tidy tables, with every input row accounted for.

``clean_period`` reads every ``*.csv``/``*.xlsx`` of ``data_raw/<period>/``
(encoding detected), maps the Chinese headers, normalises every field of the raw
schema, drops duplicates, locates each notification's village (code → names →
point-in-polygon) and sorts every row into one of three buckets:

* **clean** — a located notification of this period;
* **duplicate** — ``exact`` (the same notification again in the same file),
  ``cross_file`` (again in a later file of the period) or ``previous_period``
  (already in the previous period's clean table);
* **quarantined** — with a reason code (their words: ``pages.labels.QUARANTINE_REASONS``).

For each file, rows read = clean + duplicate + quarantined; the summary says so.
Case-level tables are internal: they are written to ``data_clean/<period>/`` and
never displayed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import unicodedata
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import public
from ..config import CITIES, Period, PeriodPaths, Settings
from ..public import names

log = logging.getLogger(__name__)

#: Raw header → internal column name. Headers are matched after NFKC and 台→臺.
HEADERS: dict[str, str] = {
    "通報編號": "notification_id",
    "案號": "case_id",
    "被害人代碼": "victim_key",
    "通報日期": "notified_raw",
    "事件發生日期": "incident_raw",
    "通報單位類別": "unit_raw",
    "案件類型": "case_type_raw",
    "被害人性別": "victim_sex_raw",
    "被害人年齡": "victim_age_raw",
    "被害人國籍": "victim_nationality_raw",
    "相對人性別": "respondent_sex_raw",
    "相對人年齡": "respondent_age_raw",
    "兩造關係": "relationship",
    "暴力型態": "forms_raw",
    "TIPVDA分數": "tipvda_raw",
    "開案": "opened_raw",
    "發生地縣市": "city_raw",
    "發生地行政區": "district_raw",
    "發生地村里": "village_raw",
    "村里代碼": "code_raw",
    "發生地X": "x_raw",
    "發生地Y": "y_raw",
}
#: Columns a file must have; the others are filled blank (and reported) when absent.
REQUIRED: tuple[str, ...] = ("通報編號", "通報日期", "案件類型")
LOCATION_HEADERS: tuple[str, ...] = ("發生地行政區", "發生地村里", "村里代碼", "發生地X", "發生地Y")

UNIT_MAP: dict[str, str] = {
    **{k: "警政" for k in ("警政", "警察局", "警察", "警察機關", "派出所", "分局")},
    **{k: "醫院" for k in ("醫院", "醫療院所", "衛政", "衛生局", "醫療")},
    **{k: "社政" for k in ("社政", "社會局", "社福", "社工")},
    **{k: "教育" for k in ("教育", "學校", "教育局")},
    **{k: "司法" for k in ("司法", "法院", "地檢署", "檢察署")},
    **{k: "113專線" for k in ("113專線", "113", "保護專線", "113保護專線")},
    "其他": "其他",
}
CASE_TYPE_MAP: dict[str, str] = {
    **{
        k: "親密關係暴力"
        for k in ("親密關係暴力", "婚姻/離婚/同居關係暴力", "婚姻", "親密關係", "婚姻暴力")
    },
    **{k: "兒少保護" for k in ("兒少保護", "兒少", "兒童少年保護", "兒虐")},
    **{k: "老人虐待" for k in ("老人虐待", "老人", "老人保護")},
    **{k: "其他家庭成員暴力" for k in ("其他家庭成員暴力", "其他", "其他家虐", "其他家庭成員")},
}
SEX_MAP: dict[str, str] = {
    "男": "男",
    "男性": "男",
    "M": "男",
    "1": "男",
    "女": "女",
    "女性": "女",
    "F": "女",
    "2": "女",
}
NATIONALITIES = ("本國籍", "外國籍", "大陸港澳籍", "不詳")


class RawInputError(ValueError):
    """A raw file that cannot be read at all (the message names the file and what is wrong)."""


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------
@dataclass
class RawFile:
    """One raw file as read: canonical columns as text plus what was found."""

    path: Path
    encoding: str
    frame: pd.DataFrame  # canonical columns (all str), plus source_file, source_row
    extra: pd.DataFrame  # unknown columns kept aside (source_row + their values)
    missing_optional: list[str]


def _header_key(h: object) -> str:
    return names.nfkc(h).replace("台", "臺").upper().replace("TIPVDA", "TIPVDA")


_HEADER_LOOKUP = {_header_key(k): k for k in HEADERS}


def detect_encoding(data: bytes, path: Path) -> str:
    """'utf-8-sig' (with or without BOM) or 'cp950'; raise RawInputError if neither decodes."""
    try:
        data.decode("utf-8")
        return "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    except UnicodeDecodeError as e_utf:
        try:
            data.decode("cp950")
            return "cp950"
        except UnicodeDecodeError as e_big5:
            line = data[: e_utf.start].count(b"\n") + 1
            raise RawInputError(
                f"{path.name}: unreadable encoding: not UTF-8 (byte 0x{data[e_utf.start]:02x} at line {line})"
                f" and not CP950/Big5 (byte offset {e_big5.start}); re-export the file as UTF-8 or Big5"
            ) from None


def _cell_text(v: object) -> str:
    """Cell value as text; numbers from XLSX without a spurious '.0'."""
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return str(v).strip()


def _read_csv_text(text: str) -> pd.DataFrame:
    """Every cell of a CSV as text ('' for empty), header names as written.

    Arrow's multithreaded reader, about three times faster than pandas' C parser on
    the exports; a file it refuses (rows of the wrong length, repeated or missing header
    names) is read by pandas' parser, whose rules and messages stay the reference.
    """
    import csv
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        header = next(csv.reader(io.StringIO(text[:65536])), [])
    except csv.Error:  # e.g. lines ended by a bare CR (old Mac exports): pandas reads those
        header = []
    if header and all(header) and len(set(header)) == len(header):
        try:
            table = pacsv.read_csv(
                io.BytesIO(text.encode("utf-8")),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in header},
                    null_values=[],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            if table.column_names == header:
                return table.to_pandas()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True)


def read_raw_file(path: Path) -> RawFile:
    """Read one export (CSV in UTF-8/UTF-8-BOM/CP950, or the first sheet of an XLSX).

    Raises :class:`RawInputError` naming the file for an empty file, an unreadable
    encoding, an XLSX without a header row, or a missing required column.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise RawInputError(f"{path.name}: file is empty (0 bytes)")
    if path.suffix.lower() == ".xlsx":
        try:
            raw = pd.read_excel(path, sheet_name=0, header=None, dtype=object, engine="openpyxl")
        except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds
            raise RawInputError(f"{path.name}: not a readable XLSX workbook ({e})") from None
        raw = raw.dropna(how="all")
        if raw.empty:
            raise RawInputError(f"{path.name}: the first sheet is empty")
        header = [_cell_text(v) for v in raw.iloc[0]]
        if not any(_header_key(h) in _HEADER_LOOKUP for h in header):
            raise RawInputError(
                f"{path.name}: no header row: the first row of the first sheet ({', '.join(header[:5])} …)"
                f" has none of the expected column names ({', '.join(REQUIRED)} …)"
            )
        body = raw.iloc[1:].map(_cell_text)
        body.columns = header
        encoding = "xlsx"
    else:
        data = path.read_bytes()
        encoding = detect_encoding(data, path)
        text = data.decode(encoding)
        if not text.strip():
            raise RawInputError(f"{path.name}: file is empty (no header row)")
        try:
            body = _read_csv_text(text)
        except pd.errors.ParserError as e:
            raise RawInputError(f"{path.name}: not a readable CSV ({e})") from None
        body = body.apply(lambda col: col.astype(str).str.strip())  # all text (dtype=str)
    body = body.reset_index(drop=True)
    mapped, extra_cols = {}, []
    for col in body.columns:
        k = _HEADER_LOOKUP.get(_header_key(col))
        if k and HEADERS[k] not in mapped.values():
            mapped[col] = HEADERS[k]
        else:
            extra_cols.append(col)
    found = {k for k in HEADERS if HEADERS[k] in mapped.values()}
    missing_req = [h for h in REQUIRED if h not in found]
    if missing_req:
        raise RawInputError(
            f"{path.name}: missing required column(s) {', '.join(missing_req)}; header is {', '.join(map(str, body.columns))}"
        )
    if not any(h in found for h in LOCATION_HEADERS):
        raise RawInputError(
            f"{path.name}: no location column (need one of {', '.join(LOCATION_HEADERS)})"
        )
    frame = body[list(mapped)].rename(columns=mapped)
    missing_opt = [h for h in HEADERS if h not in found]
    for h in missing_opt:
        frame[HEADERS[h]] = ""
    frame = frame[list(HEADERS.values())]
    frame["source_file"] = path.name
    frame["source_row"] = np.arange(1, len(frame) + 1)
    extra = body[extra_cols].copy()
    extra.insert(0, "source_row", frame["source_row"].values)
    return RawFile(path, encoding, frame, extra, missing_opt)


# ---------------------------------------------------------------------------
# Field normalisation (applied to unique values, so large files stay fast)
# ---------------------------------------------------------------------------
def _map_unique(s: pd.Series, func: Callable[[str], object]) -> pd.Series:
    """``func`` of every value, computed once per distinct value (the result array points at
    the shared results: no Python object per row)."""
    codes, uniq = pd.factorize(s, use_na_sentinel=False)
    results = np.empty(len(uniq), dtype=object)
    results[:] = [func(u) for u in uniq]
    return pd.Series(results[codes], index=s.index, dtype=object)


_DATE_SPLIT = re.compile(r"[/.\-年月日]+")


def parse_date(value: object) -> date | None:
    """Parse a raw date: ROC (105/03/07, 105.3.7, 1050307), ISO, 2016/3/7, full-width, Excel serials.

    Returns ``None`` for blank or impossible dates.
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    s = unicodedata.normalize("NFKC", str(value)).strip()
    if not s:
        return None
    try:
        if s.isdigit():
            n = int(s)
            if len(s) == 7:  # ROC yyyMMdd
                return date(int(s[:3]) + 1911, int(s[3:5]), int(s[5:]))
            if len(s) == 8:  # yyyyMMdd
                return date(int(s[:4]), int(s[4:6]), int(s[6:]))
            if len(s) == 6 and s[0] in "89":  # ROC yyMMdd (years 80-99)
                return date(int(s[:2]) + 1911, int(s[2:4]), int(s[4:]))
            if 20000 <= n <= 80000:  # Excel serial day (1900 system)
                return date(1899, 12, 30) + timedelta(days=n)
            return None
        if re.fullmatch(r"\d+\.0", s) and 20000 <= float(s) <= 80000:
            return date(1899, 12, 30) + timedelta(days=int(float(s)))
        s = s.split()[0].split("T")[0]
        parts = [p for p in _DATE_SPLIT.split(s) if p]
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return None
        y, m, d = (int(p) for p in parts)
        if y < 1000:
            y += 1911
        return date(y, m, d)
    except ValueError:
        return None


def parse_age(value: object) -> float:
    """Age in years from '38', '12歲', '38.0'; NaN when blank or outside 0–120."""
    return _number_in(names.nfkc(value).replace("歲", ""), 0, 120)


def norm_sex(value: object) -> str:
    """男 / 女 / 不詳 from 男, 女, M, F, 1, 2 and friends."""
    return SEX_MAP.get(names.nfkc(value).upper(), "不詳")


def norm_unit(value: object) -> str | None:
    """Canonical reporting unit, or None when the value is unknown."""
    s = names.nfkc(value)
    return UNIT_MAP.get(s) if s else "其他"


def norm_case_type(value: object) -> str | None:
    """Canonical case type, or None when the value is blank or unknown."""
    return CASE_TYPE_MAP.get(names.nfkc(value))


def norm_forms(value: object) -> str:
    """Violence forms as a sorted ';'-joined list (身體;精神)."""
    parts = {p for p in re.split(r"[;；、,，/ ]+", names.nfkc(value)) if p}
    return ";".join(sorted(parts))


def norm_opened(value: object) -> str | None:
    s = names.nfkc(value).upper()
    return {"是": "是", "Y": "是", "1": "是", "否": "否", "N": "否", "0": "否"}.get(s)


def norm_tipvda(value: object) -> float:
    """TIPVDA score 0–15; NaN when blank or out of range."""
    return _number_in(value, 0, 15)


def _number_in(value: object, lo: float, hi: float) -> float:
    """A number within [lo, hi], else NaN."""
    v = _to_float(value)
    return v if lo <= v <= hi else np.nan


def _to_float(value: object) -> float:
    try:
        return float(names.nfkc(value))
    except ValueError:
        return np.nan


# ---------------------------------------------------------------------------
# Location
# ---------------------------------------------------------------------------
def coordinates_to_twd97(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates given as TWD97 TM2 metres or WGS84 lon/lat → EPSG:3826 metres.

    Returns x, y and the detected system per row ('twd97', 'lonlat' or '').
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    lonlat = (x > 118) & (x < 123) & (y > 21) & (y < 27)
    # EPSG:3826 extent of Taiwan with Penghu, Kinmen and Matsu
    twd = (x > -6.0e4) & (x < 3.6e5) & (y > 2.4e6) & (y < 2.95e6)
    ox, oy = np.where(twd, x, np.nan), np.where(twd, y, np.nan)
    if lonlat.any():
        pts = gpd.GeoSeries(gpd.points_from_xy(x[lonlat], y[lonlat]), crs=public.CRS_LONLAT).to_crs(
            public.CRS_METRIC
        )
        ox[lonlat], oy[lonlat] = pts.x.to_numpy(), pts.y.to_numpy()
    system = np.where(twd, "twd97", np.where(lonlat, "lonlat", ""))
    return ox, oy, system


class _NameIndex:
    """Village codes by (city, district, village) keys; by (city, village) where the name is unique."""

    def __init__(self, idx: pd.DataFrame) -> None:
        self.pair = dict(
            zip(
                zip(idx["city_k"], idx["district_k"], idx["village_k"], strict=True),
                idx["villcode"],
                strict=True,
            )
        )
        self.by_village = (
            idx.drop_duplicates(["city_k", "village_k"], keep=False)
            .set_index(["city_k", "village_k"])["villcode"]
            .to_dict()
        )
        self.district: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for c, d, v, code in zip(
            idx["city_k"], idx["district_k"], idx["village_k"], idx["villcode"], strict=True
        ):
            self.district.setdefault((c, d), []).append((v, code))

    def lookup(self, c: str, d: str, cands: tuple[str, ...]) -> str | None:
        """The code of the first candidate spelling that matches, or None."""
        for v in cands:
            hit = self.pair.get((c, d, v)) if d else self.by_village.get((c, v))
            if hit:
                return hit
        if d and any("?" in v for v in cands):  # a character CP950 could not hold, as '?'
            return self._wildcard(c, d, cands)
        return None

    def _wildcard(self, c: str, d: str, cands: tuple[str, ...]) -> str | None:
        """A '?' matches any one character, within the district, if exactly one village fits."""
        here = self.district.get((c, d), [])
        for v in cands:
            pat = re.compile("^" + re.escape(v).replace(r"\?", ".") + "$")
            hits = [code for k, code in here if pat.match(k)]
            if len(hits) == 1:
                return hits[0]
        return None


def _group_codes(*columns: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """One integer per distinct combination of the columns' values (in order of first
    appearance), and the position of each combination's first row."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        codes, uniq = pd.factorize(col, use_na_sentinel=False)
        key, _ = pd.factorize(key * len(uniq) + codes)  # stays below rows × distinct values
    _, first = np.unique(key, return_index=True)
    return key, first


def _by_names(df: pd.DataFrame, b: pd.DataFrame, ck: pd.Series, national: bool) -> pd.Series:
    """Village code from district and village names (with the city's name in a national run),
    looked up once per distinct spelling of (city, district, village)."""
    idx = public.village_name_index(b)
    if not national:  # one city: its name is not part of the key
        idx = idx.assign(city_k="")
    rk = ck if national else pd.Series("", index=df.index)
    key, first = _group_codes(rk, df["district_raw"], df["village_raw"])
    index = _NameIndex(idx)
    found = np.empty(len(first), dtype=object)
    found[:] = [
        index.lookup(c, names.district_key(d), names.village_candidates(v))
        for c, d, v in zip(
            rk.iloc[first],
            df["district_raw"].iloc[first],
            df["village_raw"].iloc[first],
            strict=True,
        )
    ]
    return pd.Series(found[key], index=df.index, dtype=object)


def _by_points(settings: Settings, city: str, x, y, need: np.ndarray):
    """Point-in-polygon over all of Taiwan: rows and codes inside the area, and rows elsewhere."""
    pts = gpd.GeoDataFrame(
        {"row": np.flatnonzero(need)},
        geometry=gpd.points_from_xy(x[need], y[need]),
        crs=public.CRS_METRIC,
    )
    allb = public.load_boundaries(settings, "all")
    hit = gpd.sjoin(
        pts, allb[["villcode", "countycode", "geometry"]], how="left", predicate="within"
    )
    hit = hit[~hit.index.duplicated()]
    in_city = (hit["countycode"].notna() if city == "all" else hit["countycode"] == city).to_numpy()
    rows = hit["row"].to_numpy()
    elsewhere = hit["countycode"].notna().to_numpy() & ~in_city
    return rows[in_city], hit["villcode"].to_numpy()[in_city], rows[elsewhere]


def locate(df: pd.DataFrame, settings: Settings, city: str) -> pd.DataFrame:
    """Village of each row: valid VILLCODE, then district + village names, then point-in-polygon.

    Adds ``villcode``, ``locate_method`` (code/names/xy/''), ``retired_code``,
    ``out_of_area`` (the row names or points into another city), and ``x``, ``y`` in
    EPSG:3826.
    """
    b = public.load_boundaries(settings, city)
    national = city == "all"  # every city is in the area; names are matched with their city
    city_key = "" if national else names.city_key(CITIES.get(city, b["countyname"].iloc[0]))
    known = set(b["villcode"])
    out = pd.DataFrame(index=df.index)
    code = _map_unique(df["code_raw"], names.villcode)
    ck = _map_unique(df["city_raw"], names.city_key)
    other_city = (ck != "") & (ck != city_key) & (not national)
    other_code = code.notna() & (code.str[:5] != city) & (not national)
    vill = pd.Series(np.where(code.isin(known), code, None), index=df.index, dtype=object)
    method = pd.Series(np.where(vill.notna(), "code", ""), index=df.index, dtype=object)
    name_hit = _by_names(df, b, ck, national)
    use = vill.isna() & name_hit.notna()
    vill[use] = name_hit[use]
    method[use] = "names"
    xr = _map_unique(df["x_raw"], _to_float).to_numpy(float)
    yr = _map_unique(df["y_raw"], _to_float).to_numpy(float)
    x, y, _ = coordinates_to_twd97(xr, yr)
    out["x"], out["y"] = x, y
    need = vill.isna().to_numpy() & np.isfinite(x)
    xy_other = np.zeros(len(df), bool)
    if need.any():
        rows, codes, elsewhere = _by_points(settings, city, x, y, need)
        vill.iloc[rows] = codes
        method.iloc[rows] = "xy"
        xy_other[elsewhere] = True
    out["villcode"] = vill
    out["locate_method"] = method
    # a well-formed code of the area that the boundary vintage no longer has (re-divided villages)
    out["retired_code"] = (code.notna() & ~code.isin(known) & ~other_code & vill.isna()).to_numpy()
    # out of area: the row says another city, or its only location is in another city
    out["out_of_area"] = (
        other_city
        | (other_code & vill.isna())
        | (pd.Series(xy_other, index=df.index) & vill.isna())
    ).to_numpy()
    return out


# ---------------------------------------------------------------------------
# The period
# ---------------------------------------------------------------------------
@dataclass
class CleaningResult:
    """The tables of a cleaned period: what ``write_outputs`` writes to ``data_clean/<period>/``."""

    notifications: pd.DataFrame
    incidents: pd.DataFrame
    quarantine: pd.DataFrame
    summary: dict
    duplicates: pd.DataFrame = field(default_factory=pd.DataFrame)  # file, row, reason, id
    extra: pd.DataFrame = field(default_factory=pd.DataFrame)  # unknown columns, kept aside
    key: str = ""  # what the tables were made from (:func:`clean_key`), written to clean.key


def _content_key(df: pd.DataFrame) -> pd.Series:
    """One integer per distinct (id, notified date, victim, case type): equal rows, equal keys."""
    key, _ = _group_codes(
        df["notification_id"], df["notified_date"], df["victim_key"], df["case_type"]
    )
    return pd.Series(key, index=df.index)


def build_incidents(notes: pd.DataFrame, window_days: int = 14) -> pd.DataFrame:
    """Group notifications into incidents.

    Notifications about the same victim and case type whose notification dates are
    within ``window_days`` of the previous one form one incident (several units
    reporting the same event). Without a victim key a notification is its own incident.
    Adds ``incident_id`` to ``notes`` (in place) and returns the incident table.
    """
    if notes.empty:
        notes["incident_id"] = pd.Series(dtype=str)
        return pd.DataFrame(
            columns=[
                "incident_id",
                "victim_key",
                "case_type",
                "villcode",
                "first_notified",
                "last_notified",
                "n_notifications",
                "n_units",
                "high_danger",
                "opened",
            ]
        )
    n = len(notes)
    vk_codes, vk_uniq = pd.factorize(notes["victim_key"], sort=True, use_na_sentinel=False)
    ct_codes, ct_uniq = pd.factorize(notes["case_type"], sort=True, use_na_sentinel=False)
    id_codes, id_uniq = pd.factorize(notes["notification_id"], sort=True, use_na_sentinel=False)
    days = pd.to_datetime(notes["notified_date"]).to_numpy("datetime64[D]").astype(np.int64)
    # by victim, case type, date and id (integer codes in the strings' order: no string sort)
    order = np.lexsort((id_codes, days, ct_codes, vk_codes))
    vk, ct, dd = vk_codes[order], ct_codes[order], days[order]
    blank = np.asarray(vk_uniq == "", dtype=bool)[vk]
    new = np.ones(n, dtype=bool)
    new[1:] = ~(
        (vk[1:] == vk[:-1]) & (ct[1:] == ct[:-1]) & ~blank[1:] & (dd[1:] - dd[:-1] <= window_days)
    )
    starts = np.flatnonzero(new)  # each incident's first notification, in sorted order
    grp = np.empty(n, dtype=np.int64)
    grp[order] = np.cumsum(new) - 1  # each notification's incident, in the notes' order
    first = order[starts]  # the notes' row of each incident's first notification
    ends = order[np.r_[starts[1:], n] - 1]  # and of its last (the latest date)
    victim, ctype = vk_uniq.take(vk_codes[first]), ct_uniq.take(ct_codes[first])
    ids = np.array(
        [
            "I" + hashlib.sha256(f"{v}|{t}|{f}".encode()).hexdigest()[:15].upper()
            for v, t, f in zip(
                victim.tolist(), ctype.tolist(), id_uniq.take(id_codes[first]).tolist(), strict=True
            )
        ],
        dtype=object,
    )
    notes["incident_id"] = ids[grp]
    n_groups = len(starts)
    # reporting units: distinct known units per incident
    unit, unit_uniq = pd.factorize(notes["reporter_unit"])
    known = unit >= 0
    pairs = _distinct(grp[known] * len(unit_uniq) + unit[known])
    n_units = np.bincount(pairs // max(len(unit_uniq), 1), minlength=n_groups)
    # the most frequent village of the incident's notifications (ties: the smallest code)
    vc_codes, vc_uniq = pd.factorize(notes["villcode"], sort=True)
    pair, count = _distinct(grp * len(vc_uniq) + vc_codes, counts=True)
    pg, pv = pair // len(vc_uniq), pair % len(vc_uniq)
    best = np.lexsort((pv, -count, pg))
    best = best[np.r_[True, pg[best][1:] != pg[best][:-1]]]
    village = np.empty(n_groups, dtype=np.int64)
    village[pg[best]] = pv[best]
    # opened if any notification says so, else not opened if any says so, else unknown
    opened = notes["opened"]
    yes = np.bincount(grp, weights=(opened == "是").to_numpy(bool), minlength=n_groups) > 0
    no = np.bincount(grp, weights=(opened == "否").to_numpy(bool), minlength=n_groups) > 0
    danger = np.bincount(grp, weights=notes["tipvda"].to_numpy(float) >= 8, minlength=n_groups) > 0
    inc = pd.DataFrame(
        {
            "incident_id": ids,
            "victim_key": victim,
            "case_type": ctype,
            "villcode": vc_uniq.take(village),
            "first_notified": notes["notified_date"].to_numpy()[first],
            "last_notified": notes["notified_date"].to_numpy()[ends],
            "n_notifications": np.diff(np.r_[starts, n]).astype(np.int64),
            "n_units": n_units.astype(np.int64),
            "opened": np.where(yes, "是", np.where(no, "否", None)),
            "high_danger": danger,
        }
    )
    return inc.iloc[np.argsort(ids.astype("U16"), kind="stable")].reset_index(drop=True)


def _distinct(values: np.ndarray, counts: bool = False):
    """Sorted distinct integers (and how often each occurs), by one sort."""
    v = np.sort(values)
    first = np.r_[True, v[1:] != v[:-1]] if len(v) else np.zeros(0, dtype=bool)
    if not counts:
        return v[first]
    return v[first], np.diff(np.r_[np.flatnonzero(first), len(v)])


@dataclass(frozen=True)
class CleanParams:
    """Settings of the cleaning stage (the ``parameters`` cell of ``01_clean``)."""

    incident_window_days: int = 14  # days within which one victim and case type make one incident


def _raw_files(paths: PeriodPaths, progress: bool) -> list[RawFile]:
    """Every export of the period's raw folder, read (encoding detected, headers mapped)."""
    if not paths.raw.is_dir():
        raise FileNotFoundError(
            f"no raw folder for {paths.period}: {paths.raw} (run `dv-analysis synth` for synthetic data)"
        )
    files = _raw_exports(paths)
    if not files:
        raise FileNotFoundError(f"{paths.raw}: no *.csv or *.xlsx export in the folder")
    raws = []
    for i, f in enumerate(files, 1):
        rf = read_raw_file(f)
        raws.append(rf)
        if progress:
            print(
                f"  [{i}/{len(files)}] read {f.name}: {len(rf.frame):,} rows ({rf.encoding})",
                flush=True,
            )
    return raws


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    """Every field of the raw schema normalised in place (dates, codes, sexes, ages, …)."""
    df["notification_id"] = names.nfkc_values(df["notification_id"], upper=True)
    df["victim_key"] = names.nfkc_values(df["victim_key"])  # ids: mostly distinct, vectorised
    df["case_id"] = names.nfkc_values(df["case_id"])
    df["notified_date"] = _map_unique(df["notified_raw"], parse_date)
    df["incident_date"] = _map_unique(df["incident_raw"], parse_date)
    df["case_type"] = _map_unique(df["case_type_raw"], norm_case_type)
    df["reporter_unit"] = _map_unique(df["unit_raw"], norm_unit)
    df["victim_sex"] = _map_unique(df["victim_sex_raw"], norm_sex)
    df["respondent_sex"] = _map_unique(df["respondent_sex_raw"], norm_sex)
    df["victim_age"] = _map_unique(df["victim_age_raw"], parse_age).astype(float)
    df["respondent_age"] = _map_unique(df["respondent_age_raw"], parse_age).astype(float)
    df["victim_nationality"] = _map_unique(
        df["victim_nationality_raw"],
        lambda s: names.nfkc(s) if names.nfkc(s) in NATIONALITIES else "不詳",
    )
    df["relationship"] = _map_unique(df["relationship"], names.nfkc)
    df["violence_forms"] = _map_unique(df["forms_raw"], norm_forms)
    df["tipvda"] = _map_unique(df["tipvda_raw"], norm_tipvda).astype(float)
    df["opened"] = _map_unique(df["opened_raw"], norm_opened)
    unknown_units = df["reporter_unit"].isna() & (df["unit_raw"] != "")
    df.loc[unknown_units, "reporter_unit"] = "其他"
    df.loc[df["case_type"] != "親密關係暴力", "tipvda"] = np.nan
    flags = pd.Series("", index=df.index, dtype=object)
    after = (
        df["incident_date"].notna()
        & df["notified_date"].notna()
        & (df["incident_date"].astype(object) > df["notified_date"].astype(object))
    )
    flags[after] = "incident_after_notification"
    df["flags"] = flags

    return df


def _previous_ids(paths: PeriodPaths) -> set[str]:
    """Notification ids of the previous quarter's clean table (re-exports are duplicates)."""
    prev = paths.previous()
    if not prev.notifications.exists():
        return set()
    return set(pd.read_parquet(prev.notifications, columns=["notification_id"])["notification_id"])


def _buckets(df: pd.DataFrame, paths: PeriodPaths) -> pd.DataFrame:
    """Sort every row into clean, duplicate or quarantine, with its reason; locate the clean ones.

    Rules are applied in order; a row keeps the first reason that catches it.
    """
    period = paths.period
    bucket = pd.Series("clean", index=df.index, dtype=object)
    reason = pd.Series("", index=df.index, dtype=object)
    column = pd.Series("", index=df.index, dtype=object)

    def mark(mask: pd.Series, b: str, r: str, col: str = "") -> None:
        m = mask & (bucket == "clean")
        bucket[m], reason[m], column[m] = b, r, col

    mark(df["notification_id"] == "", "quarantine", "missing_notification_id", "通報編號")
    mark(df["notified_date"].isna(), "quarantine", "bad_notification_date", "通報日期")
    mark(df["case_type"].isna(), "quarantine", "unknown_case_type", "案件類型")
    # duplicates among the rows still in play: same id and content
    live = bucket == "clean"
    key_cols = ["notification_id", "notified_date", "victim_key", "case_type"]
    sub = pd.DataFrame(
        {"key": _content_key(df.loc[live, key_cols]), "file": df.loc[live, "source_file"]}
    )
    again = sub["key"].duplicated()
    first_file = sub.groupby("key")["file"].transform("first")
    mark(
        (again & (sub["file"] == first_file)).reindex(df.index, fill_value=False),
        "duplicate",
        "exact",
    )
    mark(
        (again & (sub["file"] != first_file)).reindex(df.index, fill_value=False),
        "duplicate",
        "cross_file",
    )
    # one id with different content
    live = bucket == "clean"
    conflict = (
        df.loc[live, "notification_id"].duplicated(keep=False).reindex(df.index, fill_value=False)
    )
    mark(conflict, "quarantine", "conflicting_id", "通報編號")
    # period
    nd = df["notified_date"]
    before = nd.notna() & (nd.astype(object) < period.start)
    beyond = nd.notna() & (nd.astype(object) > period.end)
    prev_ids = _previous_ids(paths)
    mark(before & df["notification_id"].isin(prev_ids), "duplicate", "previous_period")
    mark(before | beyond, "quarantine", "outside_period", "通報日期")
    # location
    loc = locate(df, paths.settings, paths.settings.city)
    df = df.join(loc)
    mark(df["out_of_area"], "quarantine", "out_of_area", "發生地縣市")
    mark(df["retired_code"], "quarantine", "retired_village_code", "村里代碼")
    mark(df["villcode"].isna(), "quarantine", "unlocatable", "村里代碼/發生地村里/發生地X,Y")
    df["bucket"], df["reason"], df["reason_column"] = bucket, reason, column

    return df


#: Columns of the clean notifications table, in order.
CLEAN_COLUMNS: tuple[str, ...] = (
    "notification_id", "case_id", "victim_key", "notified_date", "incident_date", "reporter_unit",
    "case_type", "victim_sex", "victim_age", "victim_nationality", "respondent_sex", "respondent_age",
    "relationship", "violence_forms", "tipvda", "opened", "villcode", "locate_method", "x", "y", "flags",
    "source_file", "source_row",
)  # fmt: skip


def _split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The bucketed rows as four small tables: the clean notifications (their columns only),
    the quarantine (with the raw text of its rows), the duplicates, and per row the file,
    bucket and reason (for the accounting).

    ``df`` is emptied on the way, a column at a time, so the clean table never exists
    beside the whole frame (memory: docs/benchmarks.md).
    """
    quarantine = df.loc[
        df["bucket"] == "quarantine",
        ["source_file", "source_row", "reason", "reason_column", *HEADERS.values()],
    ].reset_index(drop=True)
    duplicates = df.loc[
        df["bucket"] == "duplicate", ["source_file", "source_row", "reason", "notification_id"]
    ].reset_index(drop=True)
    small = df[["source_file", "bucket", "reason"]].copy()
    is_clean = (df["bucket"] == "clean").to_numpy()
    for c in [c for c in df.columns if c not in CLEAN_COLUMNS]:
        del df[c]
    notes = pd.DataFrame(index=pd.RangeIndex(int(is_clean.sum())))
    for c in CLEAN_COLUMNS:
        notes[c] = df.pop(c)[is_clean].reset_index(drop=True)
    return notes, quarantine, duplicates, small


def _tables(parts, raws: list[RawFile], paths: PeriodPaths, n_read: int, window: int):
    """The clean, incident, quarantine, duplicate and extra-column tables and the summary."""
    notes, quarantine, duplicates, small = parts
    for c in ("notified_date", "incident_date"):
        notes[c] = pd.to_datetime(notes[c])
    b = public.load_boundaries(paths.settings, paths.settings.city).set_index("villcode")
    notes.insert(
        notes.columns.get_loc("villcode") + 1, "townname", notes["villcode"].map(b["townname"])
    )
    notes.insert(
        notes.columns.get_loc("villcode") + 2, "villname", notes["villcode"].map(b["villname"])
    )
    incidents = build_incidents(notes, window)
    summary = _summary(paths, raws, small, notes, incidents, n_read, window)
    extra = (
        pd.concat(
            [r.extra.assign(source_file=r.path.name) for r in raws if r.extra.shape[1] > 1],
            ignore_index=True,
        )
        if any(r.extra.shape[1] > 1 for r in raws)
        else pd.DataFrame(columns=["source_file", "source_row"])
    )
    return CleaningResult(notes, incidents, quarantine, summary, duplicates, extra)


def clean_period(
    paths: PeriodPaths, params: CleanParams = CleanParams(), *, progress: bool = True
) -> CleaningResult:
    """Clean every raw file of a period; see the module docstring for the buckets.

    Raises :class:`RawInputError` for a file that cannot be read at all; a bad row
    is quarantined with its reason, never an error.
    """
    with _returning_arrow_pool():
        raws = _raw_files(paths, progress)
        df = pd.concat([r.frame for r in raws], ignore_index=True)
        for r in raws:  # the rows live on in ``df`` only (memory: docs/benchmarks.md); an empty
            r.frame = pd.DataFrame(columns=r.frame.columns)  # slice would keep the Arrow buffers
        n_read = len(df)
        df = _buckets(_normalise(df), paths)
        parts = _split(df)  # empties df: the raw text of clean rows is not kept
        del df
        result = _tables(parts, raws, paths, n_read, params.incident_window_days)
    result.key = clean_key(paths, params)
    return result


@contextmanager
def _returning_arrow_pool():
    """Arrow's jemalloc pool, returning freed memory at once, while a period is cleaned.

    The default pool (mimalloc) keeps what the raw text frees for Arrow's own later use,
    so numpy's arrays grow beside it; with jemalloc the peak of 1.5 million rows falls
    from 1.8 to 1.5 GB (docs/benchmarks.md). Where jemalloc is not built in, nothing changes.
    """
    import pyarrow as pa

    before = pa.default_memory_pool()
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except (NotImplementedError, pa.ArrowNotImplementedError):
        yield
        return
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(before)


def _raw_exports(paths: PeriodPaths) -> list[Path]:
    return sorted(
        p
        for p in paths.raw.iterdir()
        if p.suffix.lower() in (".csv", ".xlsx") and not p.name.startswith((".", "~$"))
    )


def clean_key(paths: PeriodPaths, params: CleanParams = CleanParams()) -> str:
    """What a quarter's clean tables depend on: its raw exports, the cleaning settings and
    the previous quarter's key (its notifications decide which rows are re-exports).

    Tables whose ``clean.key`` differs are stale (:func:`stale_quarters`).
    """
    h = hashlib.sha256(f"clean|{json.dumps(vars(params), sort_keys=True)}|".encode())
    for f in _raw_exports(paths):
        h.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    prev = paths.previous()
    h.update(b"|previous=" + (prev.clean_key.read_bytes() if prev.clean_key.exists() else b""))
    return h.hexdigest()


def _summary(paths, raws, small, notes, incidents, n_read, window) -> dict:
    files = []
    for r in raws:
        sub = small[small["source_file"] == r.path.name]
        counts = sub["bucket"].value_counts()
        dup = sub[sub["bucket"] == "duplicate"]["reason"].value_counts()
        q = sub[sub["bucket"] == "quarantine"]["reason"].value_counts()
        entry = {
            "file": r.path.name,
            "encoding": r.encoding,
            "rows_read": int(len(sub)),
            "clean": int(counts.get("clean", 0)),
            "duplicate": int(counts.get("duplicate", 0)),
            "quarantined": int(counts.get("quarantine", 0)),
            "duplicate_reasons": {k: int(v) for k, v in dup.items()},
            "quarantine_reasons": {k: int(v) for k, v in q.items()},
            "extra_columns": [c for c in r.extra.columns if c != "source_row"],
            "missing_optional_columns": r.missing_optional,
        }
        entry["balanced"] = (
            entry["rows_read"] == entry["clean"] + entry["duplicate"] + entry["quarantined"]
        )
        files.append(entry)
    totals = {
        k: sum(f[k] for f in files) for k in ("rows_read", "clean", "duplicate", "quarantined")
    }
    if totals["rows_read"] != n_read or not all(f["balanced"] for f in files):
        raise AssertionError("row accounting does not balance; this is a bug in cleaning")
    q_all = small[small["bucket"] == "quarantine"]["reason"].value_counts()
    d_all = small[small["bucket"] == "duplicate"]["reason"].value_counts()
    return {
        "period": str(paths.period),
        "city": paths.settings.city,
        "files": files,
        "totals": totals,
        "balanced": True,
        "duplicate_reasons": {k: int(v) for k, v in d_all.items()},
        "quarantine_reasons": {k: int(v) for k, v in q_all.items()},
        "locate_methods": {k: int(v) for k, v in notes["locate_method"].value_counts().items()},
        "flags": {
            k: int(v) for k, v in notes["flags"][notes["flags"] != ""].value_counts().items()
        },
        "counts": {
            "notifications": int(len(notes)),
            "incidents": int(len(incidents)),
            "victims": int(notes.loc[notes["victim_key"] != "", "victim_key"].nunique()),
            "villages_with_notifications": int(notes["villcode"].nunique()),
        },
        "case_types": {k: int(v) for k, v in notes["case_type"].value_counts().items()},
        "incident_window_days": window,
    }


def write_outputs(paths: PeriodPaths, result: CleaningResult) -> list[Path]:
    """Write the clean tables and the summary to ``data_clean/<period>/``.

    Each file is written beside its place and moved in with ``os.replace``; ``clean.key``
    comes last, so tables cut short by an interruption are seen as stale and cleaned again.
    """
    paths.clean.mkdir(parents=True, exist_ok=True)
    paths.clean_key.unlink(missing_ok=True)
    tables = {
        paths.notifications: result.notifications,
        paths.incidents: result.incidents,
        paths.quarantine: result.quarantine,
        paths.duplicates: result.duplicates,
        paths.extra_columns: result.extra,
    }
    for path, table in tables.items():
        tmp = path.with_name(f".{path.name}.tmp")
        table.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    summary = json.dumps(result.summary, ensure_ascii=False, indent=1)
    for path, text in ((paths.cleaning_summary, summary), (paths.clean_key, result.key)):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return [*tables, paths.cleaning_summary]


def stale_quarters(settings: Settings, period: str | Period, first: Period) -> list[Period]:
    """Quarters from ``first`` to the one before ``period`` with raw exports whose clean
    tables are missing or were made from other inputs (:func:`clean_key`), oldest first.

    Keys chain through the previous quarter, so the check runs in order, as if every
    stale quarter before were cleaned again.
    """
    from ..config import period_range

    out = []
    p = Period.parse(period)
    if p <= first:
        return out
    for q in period_range(first, p.previous()):
        paths = settings.unstaged.period(q)
        if not (paths.raw.is_dir() and _raw_exports(paths)):
            continue
        if out or not paths.clean_key.exists() or paths.clean_key.read_text() != clean_key(paths):
            out.append(q)
    return out


def ensure_cleaned(
    settings: Settings, period: str | Period, first: Period, progress: bool = True
) -> list[str]:
    """Clean every stale quarter before ``period`` (:func:`stale_quarters`), in order.

    ``dv-analysis run --period P`` calls it, so P's rolling window and panel read every
    quarter whose raw exports exist. Returns the quarters cleaned.
    """
    todo = stale_quarters(settings, period, first)
    if todo and progress:
        print(
            f"{len(todo)} earlier quarter(s) with raw exports but no up-to-date clean tables;"
            " cleaning them first (the window and panel read them):",
            flush=True,
        )
    if todo:
        clean_range(settings.unstaged, todo[0], todo[-1], progress=progress, only=todo)
    return [str(q) for q in todo]


def clean_range(
    settings: Settings,
    start: str | Period,
    end: str | Period,
    progress: bool = True,
    only: list[Period] | None = None,
) -> dict[str, dict]:
    """Clean every quarter from ``start`` to ``end`` (or the quarters ``only``) in order, so
    re-exports are recognised. Returns the totals per period.
    """
    from ..config import period_range

    out = {}
    periods = only if only is not None else period_range(start, end)
    for i, p in enumerate(periods, 1):
        paths = settings.period(p)
        result = clean_period(paths, progress=False)
        write_outputs(paths, result)
        out[str(p)] = result.summary["totals"]
        if progress:
            t = result.summary["totals"]
            print(
                f"[{i}/{len(periods)}] {p}: {t['rows_read']:,} rows → {t['clean']:,} clean, "
                f"{t['duplicate']:,} duplicate, {t['quarantined']:,} quarantined",
                flush=True,
            )
    return out
