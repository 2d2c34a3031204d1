"""Births, deaths, marriages and divorces per village from the monthly files, any header
generation.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dv_analysis.config import Settings
from dv_analysis.errors import InputError, MissingInputError
from dv_analysis.layers import memo, names
from dv_analysis.layers.boundaries import load_boundaries
from dv_analysis.layers.join import city_filter, match_villages

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
            raise InputError(f"{path}: no column for {need}; header is {list(raw.columns)}")
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
    city = city_filter(settings.city if city is None else city)
    files = [f for f in map(settings.vital_events_file, months) if f.exists()]
    return memo.kept(
        "vital_events",
        [*files, settings.boundaries_file],
        (tuple(months), city),
        lambda: _read_vital_events(settings, months, city),
    )


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
        raise MissingInputError(
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
