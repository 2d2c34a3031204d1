"""The mess of real exports, injected into canonical notifications: one function per kind.

Every kind of mess is one random draw per row (vectorised), recorded in the truth with
the bucket and reason cleaning should give the row. The draws happen in a fixed order,
so the same seed gives the same files.
"""

from __future__ import annotations

from datetime import timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from dv_analysis.synth.model import (
    BUCKET_CLEAN,
    BUCKET_DUPLICATE,
    BUCKET_QUARANTINE,
    CASE_VARIANTS,
    UNIT_VARIANTS,
)
from dv_analysis.synth.writers import FULL_WIDTH, format_dates


class RowTruth:
    """Per raw row: the bucket and reason cleaning should give it, and the mess injected."""

    def __init__(self, n: int) -> None:
        self.bucket = np.full(n, BUCKET_CLEAN, dtype=object)
        self.reason = np.full(n, "", dtype=object)
        self.injected: list[list[str]] = [[] for _ in range(n)]

    def inject(self, mask: np.ndarray, label: str | None, reason: str | None = None) -> None:
        """Record ``label`` on the rows of ``mask``; a ``reason`` quarantines the clean ones."""
        for i in np.flatnonzero(mask):
            if label:
                self.injected[i].append(label)
        if reason:
            m = mask & (self.bucket == BUCKET_CLEAN)
            self.bucket[m], self.reason[m] = BUCKET_QUARANTINE, reason


def sample_points(geom, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points strictly inside a polygon (5 m from its edge where it is wide enough)."""
    inner = geom.buffer(-5)
    if inner.is_empty or inner.area < geom.area * 0.2:
        inner = geom
    minx, miny, maxx, maxy = inner.bounds
    out = np.empty((0, 2))
    shapely.prepare(inner)
    while len(out) < n:
        k = max(16, int((n - len(out)) * 3 * (maxx - minx) * (maxy - miny) / max(inner.area, 1)))
        k = min(k, 200_000)
        xy = np.column_stack([rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)])
        out = np.vstack([out, xy[shapely.contains_xy(inner, xy[:, 0], xy[:, 1])]])
    return out[:n]


def location_choices(canon: pd.DataFrame, geo: gpd.GeoDataFrame, mess, rng) -> dict:
    """Which location fields each row carries, whether it is out of the city, and its point."""
    n = len(canon)
    out = {
        "has_code": rng.random(n) < mess.code_present,
        "has_names": rng.random(n) < mess.names_present,
        "has_xy": rng.random(n) < mess.coords_present,
        "out_city": rng.random(n) < mess.out_of_city,
    }
    xy = np.full((n, 2), np.nan)
    for v, idx in canon.groupby("villcode").groups.items():
        idx = np.asarray(idx)
        xy[idx] = sample_points(geo.geometry[v], len(idx), rng)
    out["xy"] = xy
    return out


def ids_and_dates(canon: pd.DataFrame, mess, rng, truth: RowTruth) -> dict:
    """Blank ids, date formats (ROC and western), full-width digits, impossible dates, blanks."""
    n = len(canon)
    nid = canon["notification_id"].to_numpy(object).copy()
    missing = rng.random(n) < mess.missing_notification_id
    nid[missing] = ""
    truth.inject(missing, "missing_id", "missing_notification_id")
    notified = canon["notified"].to_numpy(object)
    ndate = format_dates(notified, rng.integers(0, 5, n))
    fw = rng.random(n) < mess.fullwidth_date
    ndate[fw] = [t.translate(FULL_WIDTH) for t in ndate[fw]]
    truth.inject(fw, "fullwidth_date")
    bad = rng.random(n) < mess.bad_notification_date
    ndate[bad] = [f"{d.year - 1911}/13/{d.day:02d}" for d in notified[bad]]
    truth.inject(bad, "bad_date", "bad_notification_date")
    idate = format_dates(canon["incident"].to_numpy(object), rng.integers(0, 5, n))
    blank = rng.random(n) < mess.incident_date_blank
    after = ~blank & (rng.random(n) < mess.incident_after_notification)
    idate[blank] = ""
    shift = rng.integers(3, 20, n)
    idate[after] = [
        (d + timedelta(days=int(k))).isoformat()
        for d, k in zip(notified[after], shift[after], strict=True)
    ]
    truth.inject(after, "incident_after_notification")
    return {"nid": nid, "ndate": ndate, "idate": idate, "notified": notified}


def coded_values(canon: pd.DataFrame, mess, rng) -> dict:
    """Variant spellings of units, case types and sexes; ages with 歲 or blank; form separators."""
    n = len(canon)
    unit = canon["unit"].to_numpy(object).copy()
    uv = rng.random(n) < mess.unit_variant
    unit[uv] = [UNIT_VARIANTS.get(u, u) for u in unit[uv]]
    ctype = canon["case_type"].to_numpy(object).copy()
    cv = rng.random(n) < mess.case_variant
    ctype[cv] = [CASE_VARIANTS[c] for c in ctype[cv]]
    vsex = canon["victim_sex"].to_numpy(object).copy()
    rsex = canon["resp_sex"].to_numpy(object).copy()
    sv = rng.random(n) < mess.sex_variant
    k = rng.integers(0, 2, n)
    alt = {("男", 0): "M", ("男", 1): "1", ("女", 0): "F", ("女", 1): "2"}
    vsex[sv] = [alt[(x, int(j))] for x, j in zip(vsex[sv], k[sv], strict=True)]
    rsex[sv] = [alt[(x, int(j))] for x, j in zip(rsex[sv], k[sv], strict=True)]
    vage = canon["victim_age"].astype(str).to_numpy(object)
    suffix = rng.random(n) < mess.age_suffix
    ablank = ~suffix & (rng.random(n) < mess.age_blank)
    vage[suffix] = vage[suffix] + "歲"
    vage[ablank] = ""
    sep = np.where(rng.random(n) < 0.3, "、", ";")
    forms = [s_.join(f) for s_, f in zip(sep, canon["forms"], strict=True)]
    return {"unit": unit, "ctype": ctype, "vsex": vsex, "rsex": rsex, "vage": vage, "forms": forms}


def places(canon, geo, other, loc: dict, mess, rng, truth: RowTruth) -> dict:
    """City, district, village and code text: 台/臺, missing suffixes, dashed codes, other cities."""
    n = len(canon)
    has_code, has_names, has_xy, out_city = (
        loc["has_code"],
        loc["has_names"],
        loc["has_xy"],
        loc["out_city"],
    )
    codes = canon["villcode"].to_numpy(object)
    city = geo["countyname"].reindex(codes).to_numpy(object)
    district = geo["townname"].reindex(codes).to_numpy(object)
    village = geo["villname"].reindex(codes).to_numpy(object)
    code, true_v = codes.copy(), codes.copy()
    x, y = loc["xy"][:, 0].copy(), loc["xy"][:, 1].copy()
    if out_city.any():
        pick = other.iloc[rng.integers(0, len(other), int(out_city.sum()))]
        city[out_city] = pick["countyname"].to_numpy(object)
        district[out_city] = pick["townname"].to_numpy(object)
        village[out_city] = pick["villname"].to_numpy(object)
        code[out_city] = pick["villcode"].to_numpy(object)
        true_v[out_city] = ""
        x[out_city] = y[out_city] = np.nan
        truth.inject(out_city, "out_of_city", "out_of_area")
        has_names = has_names | out_city
    tai = rng.random(n) < mess.city_tai_variant
    city[tai] = [c.replace("臺", "台") for c in city[tai]]
    short = rng.random(n) < mess.city_short
    city[short] = [c.rstrip("市") for c in city[short]]
    dns = rng.random(n) < mess.district_no_suffix
    district[dns] = [d[:-1] for d in district[dns]]
    vns = rng.random(n) < mess.village_no_suffix
    village[vns] = [v[:-1] for v in village[vns]]
    dash = rng.random(n) < mess.code_dash
    code_txt = np.where(has_code, code, "").astype(object)
    sel = has_code & dash
    code_txt[sel] = [f"{c[:8]}-{c[8:]}" for c in code[sel]]
    drop_district = rng.random(n) < 0.5
    village[~has_names] = ""
    district[~has_names & drop_district] = ""
    locatable = (has_code | has_names | has_xy) & ~out_city
    truth.inject(~out_city & ~locatable, "unlocatable", "unlocatable")
    located_by = np.select([has_code, has_names, has_xy], ["code", "names", "xy"], "")
    return {
        "city": city,
        "district": district,
        "village": village,
        "code_txt": code_txt,
        "true_v": true_v,
        "x": np.where(has_xy, x, np.nan),
        "y": np.where(has_xy, y, np.nan),
        "located_by": located_by,
    }


def reexports(prev: pd.DataFrame | None, geo, mess, rng) -> pd.DataFrame | None:
    """Unchanged copies of earlier notifications (the previous quarter's), as raw rows."""
    if prev is None or not len(prev):
        return None
    kk = rng.binomial(len(prev), mess.reexport_previous)
    p = prev.iloc[np.sort(rng.choice(len(prev), size=kk, replace=False))]
    pv = p["villcode"].to_numpy(object)
    return pd.DataFrame(
        {
            "通報編號": p["notification_id"].to_numpy(object),
            "案號": p["case_id"].to_numpy(object),
            "被害人代碼": p["victim_key"].to_numpy(object),
            "通報日期": format_dates(p["notified"].to_numpy(object), np.full(kk, 3)),
            "事件發生日期": format_dates(p["incident"].to_numpy(object), np.full(kk, 3)),
            "通報單位類別": p["unit"].to_numpy(object),
            "案件類型": p["case_type"].to_numpy(object),
            "被害人性別": p["victim_sex"].to_numpy(object),
            "被害人年齡": p["victim_age"].astype(str).to_numpy(object),
            "被害人國籍": p["victim_nat"].to_numpy(object),
            "相對人性別": p["resp_sex"].to_numpy(object),
            "相對人年齡": p["resp_age"].astype(str).to_numpy(object),
            "兩造關係": p["relationship"].to_numpy(object),
            "暴力型態": [";".join(f) for f in p["forms"]],
            "TIPVDA分數": p["tipvda"].to_numpy(object),
            "開案": p["opened"].to_numpy(object),
            "發生地縣市": geo["countyname"].reindex(pv).to_numpy(object),
            "發生地行政區": geo["townname"].reindex(pv).to_numpy(object),
            "發生地村里": geo["villname"].reindex(pv).to_numpy(object),
            "村里代碼": pv,
            "_x": np.nan,
            "_y": np.nan,
            "_notified": p["notified"].to_numpy(object),
            "notification_id": p["notification_id"].to_numpy(object),
            "true_villcode": pv,
            "incident_id": p["incident_id"].to_numpy(object),
            "victim_key": p["victim_key"].to_numpy(object),
            "case_type": p["case_type"].to_numpy(object),
            "expected_bucket": BUCKET_DUPLICATE,
            "expected_reason": "previous_period",
            "injected": "reexport_previous",
            "located_by": "code",
        }
    )


def duplicates(rows: pd.DataFrame, nfiles: int, mess, rng) -> pd.DataFrame:
    """Rows split into files, with exact (same file) and cross-file duplicates added."""
    rows["_file"] = rng.integers(0, nfiles, len(rows))
    clean = (rows["expected_bucket"] == BUCKET_CLEAN).to_numpy()
    exact = clean & (rng.random(len(rows)) < mess.exact_duplicate)
    cross = clean & ~exact & (nfiles > 1) & (rng.random(len(rows)) < mess.cross_file_duplicate)
    offset = rng.integers(0, max(nfiles - 1, 1), len(rows))
    copies = []
    for mask, kind in ((exact, "exact"), (cross, "cross_file")):
        c = rows[mask].copy()
        if kind == "cross_file":
            c["_file"] = (c["_file"] + 1 + offset[mask]) % nfiles
        c["expected_bucket"], c["expected_reason"] = BUCKET_DUPLICATE, kind
        c["injected"] = f"duplicate_{kind}"
        copies.append(c)
    return pd.concat([rows, *copies], ignore_index=True)


def stop_locating(canon: pd.DataFrame, loc: dict, mess, period: str) -> None:
    """The rows of ``mess.stop_locating_unit`` in ``mess.stop_locating_period`` lose every
    location field (no draw is made, so other quarters and worlds stay as they were)."""
    if not mess.stop_locating_unit or period != mess.stop_locating_period:
        return
    sel = (canon["unit"] == mess.stop_locating_unit).to_numpy()
    for k in ("has_code", "has_names", "has_xy"):
        loc[k] = loc[k] & ~sel


def messy_rows(canon, geo, other, prev, mess, rng, period: str = "") -> pd.DataFrame:
    """Every raw row of a quarter before it is split into files, with its truth columns."""
    truth = RowTruth(len(canon))
    loc = location_choices(canon, geo, mess, rng)
    stop_locating(canon, loc, mess, period)
    d = ids_and_dates(canon, mess, rng, truth)
    c = coded_values(canon, mess, rng)
    pl = places(canon, geo, other, loc, mess, rng, truth)
    rows = pd.DataFrame(
        {
            "通報編號": d["nid"],
            "案號": canon["case_id"].to_numpy(object),
            "被害人代碼": canon["victim_key"].to_numpy(object),
            "通報日期": d["ndate"],
            "事件發生日期": d["idate"],
            "通報單位類別": c["unit"],
            "案件類型": c["ctype"],
            "被害人性別": c["vsex"],
            "被害人年齡": c["vage"],
            "被害人國籍": canon["victim_nat"].to_numpy(object),
            "相對人性別": c["rsex"],
            "相對人年齡": canon["resp_age"].astype(str).to_numpy(object),
            "兩造關係": canon["relationship"].to_numpy(object),
            "暴力型態": c["forms"],
            "TIPVDA分數": canon["tipvda"].to_numpy(object),
            "開案": canon["opened"].to_numpy(object),
            "發生地縣市": pl["city"],
            "發生地行政區": pl["district"],
            "發生地村里": pl["village"],
            "村里代碼": pl["code_txt"],
            "_x": pl["x"],
            "_y": pl["y"],
            "_notified": d["notified"],
            "notification_id": canon["notification_id"].to_numpy(object),
            "true_villcode": pl["true_v"],
            "incident_id": canon["incident_id"].to_numpy(object),
            "victim_key": canon["victim_key"].to_numpy(object),
            "case_type": canon["case_type"].to_numpy(object),
            "expected_bucket": truth.bucket,
            "expected_reason": truth.reason,
            "injected": [";".join(t) for t in truth.injected],
            "located_by": pl["located_by"],
        }
    )
    again = reexports(prev, geo, mess, rng)
    return rows if again is None else pd.concat([rows, again], ignore_index=True)
