"""Every row sorted into clean, duplicate or quarantine, with its reason."""

from __future__ import annotations

import pandas as pd

from dv_analysis.config import PeriodPaths
from dv_analysis.stages.clean.incidents import incident_key
from dv_analysis.stages.clean.locate import locate
from dv_analysis.stages.clean.read import HEADERS


def _previous_ids(paths: PeriodPaths) -> set[str]:
    """Notification ids of the previous quarter's clean table (re-exports are duplicates)."""
    prev = paths.previous()
    if not prev.notifications.exists():
        return set()
    return set(pd.read_parquet(prev.notifications, columns=["notification_id"])["notification_id"])


def assign_buckets(df: pd.DataFrame, paths: PeriodPaths) -> pd.DataFrame:
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
        {"key": incident_key(df.loc[live, key_cols]), "file": df.loc[live, "source_file"]}
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
    "notification_id",
    "case_id",
    "victim_key",
    "notified_date",
    "incident_date",
    "reporter_unit",
    "case_type",
    "victim_sex",
    "victim_age",
    "victim_nationality",
    "respondent_sex",
    "respondent_age",
    "relationship",
    "violence_forms",
    "tipvda",
    "opened",
    "villcode",
    "locate_method",
    "x",
    "y",
    "flags",
    "source_file",
    "source_row",
)


def split_buckets(
    df: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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
