"""Notifications grouped into incidents (one victim and case type within a window of days)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dv_analysis.layers.names import group_codes


def incident_key(df: pd.DataFrame) -> pd.Series:
    """One integer per distinct (id, notified date, victim, case type): equal rows, equal keys."""
    key, _ = group_codes(
        df["notification_id"], df["notified_date"], df["victim_key"], df["case_type"]
    )
    return pd.Series(key, index=df.index)


#: Columns of the incident table.
INCIDENT_COLUMNS = (
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
)


def build_incidents(notes: pd.DataFrame, window_days: int = 14) -> pd.DataFrame:
    """Group notifications into incidents.

    Notifications about the same victim and case type whose notification dates are
    within ``window_days`` of the previous one form one incident (several units
    reporting the same event). Without a victim key a notification is its own incident.
    Adds ``incident_id`` to ``notes`` (in place) and returns the incident table.
    """
    if notes.empty:
        notes["incident_id"] = pd.Series(dtype=str)
        return pd.DataFrame(columns=list(INCIDENT_COLUMNS))
    g = _group(notes, window_days)
    notes["incident_id"] = g.ids[g.grp]
    n_groups, grp = len(g.starts), g.grp
    opened = notes["opened"]
    yes = np.bincount(grp, weights=(opened == "是").to_numpy(bool), minlength=n_groups) > 0
    no = np.bincount(grp, weights=(opened == "否").to_numpy(bool), minlength=n_groups) > 0
    danger = np.bincount(grp, weights=notes["tipvda"].to_numpy(float) >= 8, minlength=n_groups) > 0
    inc = pd.DataFrame(
        {
            "incident_id": g.ids,
            "victim_key": g.victim,
            "case_type": g.ctype,
            "villcode": _main_village(notes["villcode"], grp, n_groups),
            "first_notified": notes["notified_date"].to_numpy()[g.first],
            "last_notified": notes["notified_date"].to_numpy()[g.ends],
            "n_notifications": np.diff(np.r_[g.starts, len(notes)]).astype(np.int64),
            "n_units": _units(notes["reporter_unit"], grp, n_groups).astype(np.int64),
            # opened if any notification says so, else not opened if any says so, else unknown
            "opened": np.where(yes, "是", np.where(no, "否", None)),
            "high_danger": danger,
        }
    )
    return inc.iloc[np.argsort(g.ids.astype("U16"), kind="stable")].reset_index(drop=True)


@dataclass
class _Groups:
    """Notifications grouped into incidents (positions are rows of the notes)."""

    grp: np.ndarray  # each notification's incident
    starts: np.ndarray  # each incident's first notification, in sorted order
    first: np.ndarray  # the row of each incident's first notification
    ends: np.ndarray  # and of its last (the latest date)
    victim: np.ndarray
    ctype: np.ndarray
    ids: np.ndarray  # incident ids, by content


def _group(notes: pd.DataFrame, window_days: int) -> _Groups:
    """Same victim and case type within ``window_days`` of the previous notification."""
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
    starts = np.flatnonzero(new)
    grp = np.empty(n, dtype=np.int64)
    grp[order] = np.cumsum(new) - 1
    first = order[starts]
    victim, ctype = vk_uniq.take(vk_codes[first]), ct_uniq.take(ct_codes[first])
    firsts = id_uniq.take(id_codes[first]).tolist()
    ids = np.array(
        [
            "I" + hashlib.sha256(f"{v}|{t}|{f}".encode()).hexdigest()[:15].upper()
            for v, t, f in zip(victim.tolist(), ctype.tolist(), firsts, strict=True)
        ],
        dtype=object,
    )
    ends = order[np.r_[starts[1:], n] - 1]
    return _Groups(grp, starts, first, ends, victim, ctype, ids)


def _units(reporter_unit: pd.Series, grp: np.ndarray, n_groups: int) -> np.ndarray:
    """Distinct known reporting units of each incident."""
    unit, unit_uniq = pd.factorize(reporter_unit)
    known = unit >= 0
    pairs = _distinct(grp[known] * len(unit_uniq) + unit[known])
    return np.bincount(pairs // max(len(unit_uniq), 1), minlength=n_groups)


def _main_village(villcode: pd.Series, grp: np.ndarray, n_groups: int) -> np.ndarray:
    """The most frequent village of each incident's notifications (ties: the smallest code)."""
    vc_codes, vc_uniq = pd.factorize(villcode, sort=True)
    pair, count = _distinct(grp * len(vc_uniq) + vc_codes, counts=True)
    pg, pv = pair // len(vc_uniq), pair % len(vc_uniq)
    best = np.lexsort((pv, -count, pg))
    best = best[np.r_[True, pg[best][1:] != pg[best][:-1]]]
    village = np.empty(n_groups, dtype=np.int64)
    village[pg[best]] = pv[best]
    return vc_uniq.take(village)


def _distinct(values: np.ndarray, counts: bool = False):
    """Sorted distinct integers (and how often each occurs), by one sort."""
    v = np.sort(values)
    first = np.r_[True, v[1:] != v[:-1]] if len(v) else np.zeros(0, dtype=bool)
    if not counts:
        return v[first]
    return v[first], np.diff(np.r_[np.flatnonzero(first), len(v)])
