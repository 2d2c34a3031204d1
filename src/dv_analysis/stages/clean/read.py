"""Reading raw exports: encoding, headers, CSV and Excel, the period's files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from dv_analysis.config import PeriodPaths
from dv_analysis.errors import InputError, MissingInputError
from dv_analysis.layers import names

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


class RawInputError(InputError):
    """A raw file that cannot be read at all (the message names the file and what is wrong)."""


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


def read_raw_files(paths: PeriodPaths, progress: bool) -> list[RawFile]:
    """Every export of the period's raw folder, read (encoding detected, headers mapped)."""
    if not paths.raw.is_dir():
        raise MissingInputError(
            f"no raw folder for {paths.period}: {paths.raw} (run `dv-analysis synth` for synthetic data)"
        )
    files = raw_exports(paths)
    if not files:
        raise MissingInputError(f"{paths.raw}: no *.csv or *.xlsx export in the folder")
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


def raw_exports(paths: PeriodPaths) -> list[Path]:
    return sorted(
        p
        for p in paths.raw.iterdir()
        if p.suffix.lower() in (".csv", ".xlsx") and not p.name.startswith((".", "~$"))
    )
