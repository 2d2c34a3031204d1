"""Field normalisation of the raw schema, applied to distinct values so large files stay fast."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd

from dv_analysis.layers import names

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


def map_unique(s: pd.Series, func: Callable[[str], object]) -> pd.Series:
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
    v = to_float(value)
    return v if lo <= v <= hi else np.nan


def to_float(value: object) -> float:
    try:
        return float(names.nfkc(value))
    except ValueError:
        return np.nan


def normalise_fields(df: pd.DataFrame) -> pd.DataFrame:
    """Every field of the raw schema normalised in place (dates, codes, sexes, ages, …)."""
    df["notification_id"] = names.nfkc_values(df["notification_id"], upper=True)
    df["victim_key"] = names.nfkc_values(df["victim_key"])  # ids: mostly distinct, vectorised
    df["case_id"] = names.nfkc_values(df["case_id"])
    df["notified_date"] = map_unique(df["notified_raw"], parse_date)
    df["incident_date"] = map_unique(df["incident_raw"], parse_date)
    df["case_type"] = map_unique(df["case_type_raw"], norm_case_type)
    df["reporter_unit"] = map_unique(df["unit_raw"], norm_unit)
    df["victim_sex"] = map_unique(df["victim_sex_raw"], norm_sex)
    df["respondent_sex"] = map_unique(df["respondent_sex_raw"], norm_sex)
    df["victim_age"] = map_unique(df["victim_age_raw"], parse_age).astype(float)
    df["respondent_age"] = map_unique(df["respondent_age_raw"], parse_age).astype(float)
    df["victim_nationality"] = map_unique(
        df["victim_nationality_raw"],
        lambda s: names.nfkc(s) if names.nfkc(s) in NATIONALITIES else "不詳",
    )
    df["relationship"] = map_unique(df["relationship"], names.nfkc)
    df["violence_forms"] = map_unique(df["forms_raw"], norm_forms)
    df["tipvda"] = map_unique(df["tipvda_raw"], norm_tipvda).astype(float)
    df["opened"] = map_unique(df["opened_raw"], norm_opened)
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
