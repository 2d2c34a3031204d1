"""Disclosure control for everything published, and the audit of report folders.

One :class:`Policy` decides what a publishable table may show. It is applied by the
code that writes publishable tables (:func:`write_public_csv`), never by each notebook:

* **primary suppression**: a count from 1 to ``threshold − 1`` (default 10, as CDC and
  ONS do for small areas) is not shown; zero is shown as 0 (``show_zero``);
* **rounding**: every other count is rounded to a multiple of ``rounding_base``
  (default 5), and totals are recomputed from the rounded values, so the published
  numbers add up and a total cannot be differenced against its rounded parts;
* **secondary suppression**: within each group (a district, for villages) and within
  each row (the parts of a total), a lone suppressed cell is joined by the next
  smallest cell, so the suppressed value cannot be recovered by subtraction;
* rates of suppressed cells are withheld too: the status column says ``suppressed``
  (「數量過少不公開」), never a number; missing stays missing; zero stays zero.

Because every published count is either withheld or a multiple of 5 that is at least
10, two quarterly releases that differ by one case differ by 0 or 5 in what they
show, and a difference can never pin down a count below the threshold.

:func:`audit` scans ``staff/`` and ``public/`` of a period (CSV, HTML and the data
tables behind images) for case-level fields and, in ``public/``, for counts below the
threshold, and names the file and cell of each finding.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dv_analysis.errors import RunError

SUPPRESSED_LABEL = "數量過少不公開"


@dataclass(frozen=True)
class Policy:
    """What publishable tables may show. Defaults follow common small-area practice."""

    threshold: int = 10  # counts 1 … threshold-1 are suppressed
    rounding_base: int = 5  # other counts are rounded to this base
    show_zero: bool = True  # a true zero is shown as 0 (it discloses nothing about a person)
    secondary: bool = True  # protect suppressed cells against subtraction

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_POLICY = Policy()


def _round(x: np.ndarray, base: int) -> np.ndarray:
    return (np.floor(x / base + 0.5) * base).astype(float)


@dataclass
class Protected:
    """A protected table: values to publish (NaN where withheld) and a status per cell."""

    values: pd.DataFrame
    status: pd.DataFrame  # 'shown', 'zero', 'suppressed', 'secondary', 'missing'
    log: list[str] = field(default_factory=list)
    rounded: pd.DataFrame | None = (
        None  # every cell rounded, withheld ones included: for totals only
    )
    policy: Policy = DEFAULT_POLICY

    def to_publish(self, keys: pd.DataFrame | None = None) -> pd.DataFrame:
        """One frame with the keys, the counts (empty where withheld) and ``<col>_status`` columns."""
        out = pd.DataFrame(index=self.values.index)
        if keys is not None:
            out = pd.concat([keys, out], axis=1)
        for c in self.values.columns:
            out[c] = self.values[c].astype("Int64")
            out[f"{c}_status"] = self.status[c].map(
                {
                    "shown": "",
                    "zero": "",
                    "suppressed": SUPPRESSED_LABEL,
                    "secondary": SUPPRESSED_LABEL,
                    "missing": "無資料",
                }
            )
        return out


def protect(
    counts: pd.DataFrame, groups: pd.Series | None = None, policy: Policy = DEFAULT_POLICY
) -> Protected:
    """Apply the policy to a table of counts (rows = areas, columns = count variables).

    ``groups`` (e.g. the district of each village) enables secondary suppression
    within groups; row-wise secondary suppression protects the columns of a row
    (they are parts of the row's total).
    """
    raw = counts.astype(float)
    status = pd.DataFrame("shown", index=raw.index, columns=raw.columns, dtype=object)
    status[raw.isna()] = "missing"
    status[(raw == 0)] = "zero" if policy.show_zero else "suppressed"
    small = (raw > 0) & (raw < policy.threshold)
    status[small] = "suppressed"
    log: list[str] = []
    if policy.secondary:
        _secondary(raw, status, groups, log)
    rounded = pd.DataFrame(
        _round(raw.to_numpy(), policy.rounding_base), index=raw.index, columns=raw.columns
    )
    values = rounded.copy()
    values[status.isin(["suppressed", "secondary", "missing"])] = np.nan
    if not policy.show_zero:
        values[raw == 0] = np.nan
    return Protected(values, status, log, rounded, policy)


def _secondary(
    raw: pd.DataFrame, status: pd.DataFrame, groups: pd.Series | None, log: list[str]
) -> None:
    """Iterate until no group or row has exactly one withheld non-zero cell among shown ones."""

    def withheld(s: pd.Series) -> pd.Series:
        return s.isin(["suppressed", "secondary"])

    changed = True
    while changed:
        changed = False
        # within groups, per column: the group total would reveal a lone suppressed cell
        if groups is not None:
            for col in raw.columns:
                for g, idx in raw.groupby(groups.values).groups.items():
                    st = status.loc[idx, col]
                    if withheld(st).sum() == 1:
                        cand = raw.loc[idx, col][st == "shown"]
                        if len(cand):
                            pick = cand.idxmin()
                            status.loc[pick, col] = "secondary"
                            log.append(f"{col}: {pick} withheld to protect a cell of group {g}")
                            changed = True
        # within rows: the row total would reveal a lone suppressed column
        if raw.shape[1] > 1:
            for i in raw.index:
                st = status.loc[i]
                if withheld(st).sum() == 1:
                    cand = raw.loc[i][st == "shown"]
                    if len(cand):
                        pick = cand.idxmin()
                        status.loc[i, pick] = "secondary"
                        log.append(f"row {i}: {pick} withheld to protect another column")
                        changed = True


def totals(protected: Protected, groups: pd.Series) -> Protected:
    """Group totals recomputed from the rounded values of every cell.

    A total is withheld when its group has exactly one withheld cell (it would reveal
    that cell's rounded value) or when the total is below the threshold.
    """
    pol = protected.policy
    rounded = protected.rounded.groupby(groups.values).sum()
    n_withheld = protected.status.isin(["suppressed", "secondary"]).groupby(groups.values).sum()
    status = pd.DataFrame("shown", index=rounded.index, columns=rounded.columns, dtype=object)
    status[rounded == 0] = "zero"
    status[(rounded > 0) & (rounded < pol.threshold)] = "suppressed"
    status[(n_withheld == 1) & (status == "shown")] = "secondary"
    values = rounded.where(status.isin(["shown", "zero"]))
    return Protected(values, status, [], rounded, pol)


def write_public_csv(
    table: pd.DataFrame, path: Path, dictionary: dict[str, str] | None = None
) -> Path:
    """Write an open-data CSV (UTF-8 with BOM so Excel opens it) and its data dictionary beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, encoding="utf-8-sig")
    if dictionary is not None:
        d = pd.DataFrame({"欄位": list(dictionary), "說明": list(dictionary.values())})
        d.to_csv(path.with_name(path.stem + "_dictionary.csv"), index=False, encoding="utf-8-sig")
    return path


def protect_estimates(table: pd.DataFrame, shares: pd.Series, policy: Policy = DEFAULT_POLICY):
    """Estimates with their intervals and the number they are computed on (``value``,
    ``low``, ``high``, ``n``), made publishable.

    An estimate is withheld (``value``, ``low``, ``high`` empty; status
    「數量過少不公開」) when ``n`` is below the threshold, and a share (``shares`` True) also
    when the count it implies (``value × n``) or its complement is 1 to threshold − 1: a
    share of a known base is a count. ``n`` becomes ``base_count``, rounded to the base and
    withheld below the threshold; shares are rounded to 3 decimals, other values to 1.
    """
    out = table.drop(columns=["n"]).copy()
    n = table["n"].to_numpy(float)
    k = np.rint(table["value"].to_numpy(float) * n)
    small = lambda x: (x >= 1) & (x < policy.threshold)  # noqa: E731
    share = np.asarray(shares, bool)
    withhold = (n < policy.threshold) | (share & (small(k) | small(n - k)))
    withhold |= ~np.isfinite(table["value"].to_numpy(float))
    for c in ("value", "low", "high"):
        v = table[c].to_numpy(float)
        out[c] = np.where(withhold, np.nan, np.where(share, np.round(v, 3), np.round(v, 1)))
    base = _round(n, policy.rounding_base)
    out["base_count"] = pd.array(np.where(n < policy.threshold, np.nan, base)).astype("Int64")
    out["status"] = np.where(withhold, SUPPRESSED_LABEL, "")
    return out


# ---------------------------------------------------------------------------
# Audit
# ---------------------------------------------------------------------------
#: Column names that are case-level fields and may never appear in staff or public files.
CASE_LEVEL_COLUMNS = {
    "notification_id",
    "victim_key",
    "case_id",
    "incident_id",
    "notified_date",
    "incident_date",
    "x",
    "y",
    "victim_age",
    "respondent_age",
    "通報編號",
    "被害人代碼",
    "案號",
    "通報日期",
    "事件發生日期",
    "發生地X",
    "發生地Y",
    "被害人年齡",
    "相對人年齡",
    "source_row",
}
_PATTERNS = {
    "notification id": re.compile(r"\bDV\d{9,11}\b"),
    "victim key": re.compile(r"\b[0-9A-F]{16}\b"),
    "exact date": re.compile(
        r"\b(19|20)\d{2}[-/](0?[1-9]|1[0-2])[-/](0?[1-9]|[12]\d|3[01])\b|\b1[01]\d[/.](0?[1-9]|1[0-2])[/.](0?[1-9]|[12]\d|3[01])\b"
    ),
    "coordinates": re.compile(
        r"\b(2[5-9]\d{4}|3[0-4]\d{4})\.\d+\s*[,;\s]\s*27\d{5}\.\d+\b|\b12[01]\.\d{4,}\s*,\s*2[45]\.\d{4,}\b"
    ),
}
#: Columns of a public table whose values are counts (checked against the threshold).
COUNT_COLUMN = re.compile(
    r"(count|incidents|notifications|victims|件數|事件|通報|被害人|人數)", re.I
)


@dataclass
class Finding:
    file: str
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.problem}"


class AuditFailed(RunError):
    """Published files contain something they must not; the message lists each finding."""

    fix = "the findings name each file and line: change what the page or table publishes, then run again"


def _scan_text(name: str, text: str, findings: list[Finding]) -> None:
    for line_no, line in enumerate(text.splitlines(), 1):
        for what, pat in _PATTERNS.items():
            m = pat.search(line)
            if m:
                findings.append(Finding(name, f"line {line_no}", f"{what} {m.group(0)!r}"))


def _scan_table(
    name: str, df: pd.DataFrame, public: bool, policy: Policy, findings: list[Finding]
) -> None:
    for col in df.columns:
        if str(col) in CASE_LEVEL_COLUMNS:
            findings.append(Finding(name, f"column {col!r}", "case-level field"))
    text = df.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    for row_no, row in enumerate(text.itertuples(index=False), 2):
        for col, val in zip(df.columns, row, strict=True):
            for what, pat in _PATTERNS.items():
                if pat.search(val):
                    findings.append(
                        Finding(name, f"row {row_no}, column {col!r}", f"{what} {val!r}")
                    )
    if public:
        for col in df.columns:
            if (
                not COUNT_COLUMN.search(str(col))
                or str(col).endswith("_status")
                or "rate" in str(col)
                or "率" in str(col)
            ):
                continue
            vals = pd.to_numeric(df[col], errors="coerce")
            bad = vals[(vals > 0) & (vals < policy.threshold)]
            for i, v in bad.items():
                findings.append(
                    Finding(
                        name,
                        f"row {int(i) + 2}, column {col!r}",
                        f"count {v:g} below the threshold {policy.threshold}",
                    )
                )


def _html_tables(text: str) -> list[pd.DataFrame]:
    from io import StringIO

    try:  # lxml only: a page without tables must not fall back to parsers not installed
        return pd.read_html(StringIO(text), flavor="lxml")
    except ValueError:  # no tables
        return []


#: Columns that make a public table village-level (allowed only with ``--public-level village``).
VILLAGE_COLUMNS = frozenset({"villcode", "villname", "村里代碼", "里", "村里"})


def _village_rows(name: str, df: pd.DataFrame, findings: list[Finding]) -> None:
    cols = [c for c in df.columns if str(c) in VILLAGE_COLUMNS]
    if cols and len(df):
        findings.append(
            Finding(
                name,
                f"column {cols[0]!r}",
                "village-level rows in public/ although the "
                "run's public level is district (publish villages only with --public-level village)",
            )
        )


def audit(
    period_reports: Path, policy: Policy = DEFAULT_POLICY, public_level: str = "district"
) -> list[Finding]:
    """Scan ``staff/`` and ``public/`` of a period's reports; return every finding.

    With ``public_level`` "district" (the default) a public table with village rows is a
    finding: publishing village figures is a deliberate choice (``--public-level village``).

    CSV files are read as tables; HTML pages are scanned as text (patterns) and their
    tables read (columns and, in ``public/``, counts); images are checked through the
    data table written beside them (``<image>.data.csv``), which must exist in ``public/``.
    """
    findings: list[Finding] = []
    for tier in ("staff", "public"):
        folder = Path(period_reports) / tier
        if not folder.is_dir():
            continue
        public = tier == "public"
        for f in sorted(folder.rglob("*")):
            if not f.is_file():
                continue
            name = f"{tier}/{f.relative_to(folder).as_posix()}"
            suffix = f.suffix.lower()
            if suffix == ".csv":
                df = pd.read_csv(f, dtype=str, keep_default_na=False, encoding="utf-8-sig")
                _scan_table(name, df, public, policy, findings)
                if public and public_level != "village":
                    _village_rows(name, df, findings)
            elif suffix in (".html", ".htm"):
                text = f.read_text(encoding="utf-8", errors="replace")
                visible = html_lib.unescape(
                    re.sub(
                        r"<(script|style)[^>]*>.*?</\1>|data:image/[^\"')]+", "", text, flags=re.S
                    )
                )
                _scan_text(name, re.sub(r"<[^>]+>", " ", visible), findings)
                for k, t in enumerate(_html_tables(visible), 1):
                    _scan_table(f"{name} table {k}", t, public, policy, findings)
                    if public and public_level != "village":
                        _village_rows(f"{name} table {k}", t, findings)
            elif suffix in (".png", ".svg", ".jpg", ".jpeg") and public:
                if not f.with_name(f.name + ".data.csv").exists():
                    findings.append(
                        Finding(
                            name, "image", "no data table beside it (<image>.data.csv) to audit"
                        )
                    )
            elif suffix == ".json":
                _scan_text(
                    name,
                    json.dumps(json.loads(f.read_text(encoding="utf-8")), ensure_ascii=False),
                    findings,
                )
    return findings


def check(
    period_reports: Path, policy: Policy = DEFAULT_POLICY, public_level: str = "district"
) -> None:
    """Raise :class:`AuditFailed` listing the findings, if any."""
    findings = audit(period_reports, policy, public_level)
    if findings:
        shown = "\n".join(f"  {f}" for f in findings[:50])
        more = f"\n  … and {len(findings) - 50} more" if len(findings) > 50 else ""
        raise AuditFailed(
            f"disclosure audit of {period_reports} failed with {len(findings)} finding(s):\n{shown}{more}"
        )
