"""Writing raw exports: date formats, encodings (UTF-8, BOM, CP950, Excel), column order, truth rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from dv_analysis import layers
from dv_analysis.config import Period
from dv_analysis.synth.model import FILE_KINDS, RAW_COLUMNS

FULL_WIDTH = str.maketrans("0123456789/.-", "０１２３４５６７８９／．－")


def format_date(d: date, style: int) -> str:
    """A date in one of the raw formats (0: 105/03/07, 1: 105.3.7, 2: 1050307, 3: 2016-03-07, 4: 2016/3/7)."""
    roc = d.year - 1911
    if style == 0:
        return f"{roc}/{d.month:02d}/{d.day:02d}"
    if style == 1:
        return f"{roc}.{d.month}.{d.day}"
    if style == 2:
        return f"{roc}{d.month:02d}{d.day:02d}"
    if style == 3:
        return d.isoformat()
    return f"{d.year}/{d.month}/{d.day}"


def excel_serial(d: date) -> int:
    """Excel's serial day number of a date (1900 system)."""
    return (d - date(1899, 12, 30)).days


def format_dates(dates, style: np.ndarray) -> np.ndarray:
    """:func:`format_date` for arrays of dates and styles (vectorised)."""
    d = pd.DatetimeIndex(pd.to_datetime(pd.Series(list(dates), dtype=object)))
    y, m, dd = d.year.to_numpy(), d.month.to_numpy(), d.day.to_numpy()
    ys, ms, ds = pd.Series(y).astype(str), pd.Series(m).astype(str), pd.Series(dd).astype(str)
    rs = pd.Series(y - 1911).astype(str)
    m2, d2 = ms.str.zfill(2), ds.str.zfill(2)
    options = [
        rs + "/" + m2 + "/" + d2,
        rs + "." + ms + "." + ds,
        rs + m2 + d2,
        ys + "-" + m2 + "-" + d2,
        ys + "/" + ms + "/" + ds,
    ]
    style = np.asarray(style)
    return np.select([style == k for k in range(5)], [o.to_numpy(object) for o in options], "")


def _coordinates(part: pd.DataFrame, lonlat: bool) -> tuple[np.ndarray, np.ndarray]:
    """Coordinate text of a file's rows: TWD97 metres or WGS84 degrees, blank where absent."""
    x = part["_x"].to_numpy(float)
    y = part["_y"].to_numpy(float)
    ok = np.isfinite(x)
    if lonlat:
        pts = gpd.GeoSeries(
            gpd.points_from_xy(np.nan_to_num(x), np.nan_to_num(y)), crs=layers.CRS_METRIC
        ).to_crs(layers.CRS_LONLAT)
        xs = np.where(ok, pd.Series(pts.x.to_numpy()).map("{:.6f}".format), "")
        ys = np.where(ok, pd.Series(pts.y.to_numpy()).map("{:.6f}".format), "")
    else:
        xs = np.where(ok, pd.Series(x).map("{:.1f}".format), "")
        ys = np.where(ok, pd.Series(y).map("{:.1f}".format), "")
    return xs, ys


def _save(
    df: pd.DataFrame, part: pd.DataFrame, out_dir: Path, stem: str, kind: str, rng
) -> tuple[str, str]:
    """Write one export as Excel (some dates as serial numbers) or CSV in its encoding."""
    if kind == "xlsx":
        name = stem + ".xlsx"
        serial = rng.random(len(df)) < 0.5
        serial &= ~part["injected"].str.contains("bad_date|fullwidth_date").to_numpy()
        vals = df["通報日期"].astype(object).to_numpy().copy()
        vals[serial] = [excel_serial(d) for d in part["_notified"].to_numpy(object)[serial]]
        df["通報日期"] = vals
        df.to_excel(out_dir / name, index=False, engine="openpyxl")
        return name, "xlsx"
    name = stem + ".csv"
    text = df.to_csv(index=False, lineterminator="\r\n" if kind == "cp950" else "\n")
    if kind == "cp950":
        text = text.replace("糖廍", "糖蔀")
        data = text.encode("cp950", errors="replace")
    else:
        data = text.encode(kind)
    (out_dir / name).write_bytes(data)
    return name, kind


def _write_file(part: pd.DataFrame, period: Period, f: int, nfiles: int, out_dir: Path, mess, rng):
    """One export file of a quarter (format by rotation, shuffled columns); its truth rows."""
    part = part.iloc[rng.permutation(len(part))]
    # an original must precede its exact duplicate in the same file: copies after
    part = part.iloc[np.argsort((part["expected_reason"] == "exact").to_numpy(), kind="stable")]
    part = part.reset_index(drop=True)
    # file formats rotate over files and quarters, so every format appears in any two quarters
    turn = period.ordinal() * nfiles + f
    kind = FILE_KINDS[turn % len(FILE_KINDS)]
    lonlat = turn % 3 == 0
    extra_col = rng.random() < mess.extra_column_file_share
    df = part[[c for c in RAW_COLUMNS if c not in ("發生地X", "發生地Y")]].copy()
    df["發生地X"], df["發生地Y"] = _coordinates(part, lonlat)
    cols = list(RAW_COLUMNS)
    if extra_col:
        df["備註"] = ""
        cols.append("備註")
    df = df[[cols[i] for i in rng.permutation(len(cols))]]
    name, enc_used = _save(df, part, out_dir, f"dv_notifications_{period}_part{f + 1}", kind, rng)
    t = part[
        [
            "notification_id",
            "true_villcode",
            "incident_id",
            "victim_key",
            "case_type",
            "expected_bucket",
            "expected_reason",
            "injected",
            "located_by",
        ]
    ].copy()
    t.insert(0, "coords", "lonlat" if lonlat else "twd97")
    t.insert(0, "encoding", enc_used)
    t.insert(0, "row", np.arange(1, len(t) + 1))
    t.insert(0, "file", name)
    return name, t


def write_files(rows: pd.DataFrame, out_dir: Path, period: Period, nfiles: int, mess, rng):
    """Replace the quarter's raw folder with its export files; return their names and row truth."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*"):
        if old.is_file():
            old.unlink()
    written, truth = [], []
    for f in range(nfiles):
        part = rows[rows["_file"] == f]
        if part.empty:
            continue
        name, t = _write_file(part, period, f, nfiles, out_dir, mess, rng)
        written.append(name)
        truth.append(t)
    truth_df = pd.concat(truth, ignore_index=True) if truth else pd.DataFrame()
    return written, relabel_cross_file(truth_df)


def relabel_cross_file(truth: pd.DataFrame) -> pd.DataFrame:
    """Cleaning keeps the first copy of a cross-file duplicate (files in name order); label so."""
    if truth.empty:
        return truth
    sel = truth["expected_reason"].isin(["", "cross_file"]) & truth["notification_id"].ne("")
    grp = truth[sel].sort_values(["file", "row"])
    multi = grp[grp["notification_id"].duplicated(keep=False)]
    first = multi.groupby("notification_id").head(1)
    orig = multi[multi["expected_reason"] == ""].groupby("notification_id").head(1)
    pairs = pd.DataFrame(
        {"keep": pd.Series(first.index, index=first["notification_id"].to_numpy())}
    ).join(
        pd.Series(orig.index, index=orig["notification_id"].to_numpy(), name="orig"), how="inner"
    )
    pairs = pairs[pairs["keep"] != pairs["orig"]]
    if len(pairs):
        cols = ["expected_bucket", "expected_reason", "injected"]
        k, o = pairs["keep"].to_numpy(), pairs["orig"].to_numpy()
        at_k, at_o = truth.loc[k, cols].to_numpy(), truth.loc[o, cols].to_numpy()
        truth.loc[k, cols], truth.loc[o, cols] = at_o, at_k
    return truth
