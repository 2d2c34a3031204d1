"""How a scenario's incidents become notifications: victims who recur, the units that
notify each incident, and the reporting changes (a unit notifying more or less in a
district) that change what is seen without changing the risk (``docs/scenarios.md``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from datetime import date

import numpy as np
import pandas as pd

from dv_analysis.config import Period
from dv_analysis.synth.incidents import case_details
from dv_analysis.synth.model import CASE_TYPES, UNITS
from dv_analysis.synth.scenario_world import NOTIFICATIONS_PER_INCIDENT, Plan

#: Days between two incidents of one victim and case type (the cleaning joins notifications
#: of one victim and case type within 14 days into one incident; notifications follow their
#: incident by at most 7 days).
MIN_REPEAT_GAP_DAYS = 30
#: A past victim's chance to recur fades with e-folding time (days).
RECURRENCE_DAYS = 540.0
#: Largest weight of a victim under the heavy-tailed law (a few victims, many incidents).
MAX_VICTIM_WEIGHT = 300.0
#: Origins of an incident.
ORIGIN_BASE, ORIGIN_RISE, ORIGIN_SURFACED = 0, 1, 2


def key(*parts: object) -> str:
    """A stable pseudonymous key (16 hex digits) of ``parts``."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16].upper()


@dataclass
class Quarter:
    """A quarter's incidents (village, type, day, origin, victim) and notifications
    (incident, unit, rank: 0 the first to notify, added: a campaign's extra notification)."""

    v: np.ndarray
    c: np.ndarray
    day: np.ndarray
    origin: np.ndarray
    victim: np.ndarray
    note_inc: np.ndarray
    note_unit: np.ndarray
    note_rank: np.ndarray
    note_added: np.ndarray

    def keep_incidents(self, keep: np.ndarray) -> Quarter:
        """The quarter without the incidents outside ``keep`` (and their notifications)."""
        new_index = np.cumsum(keep) - 1
        notes = keep[self.note_inc]
        return Quarter(
            self.v[keep],
            self.c[keep],
            self.day[keep],
            self.origin[keep],
            self.victim[keep],
            new_index[self.note_inc[notes]],
            self.note_unit[notes],
            self.note_rank[notes],
            self.note_added[notes],
        )

    def keep_notes(self, keep: np.ndarray) -> Quarter:
        """The quarter without the notifications outside ``keep``."""
        q = Quarter(**{f.name: getattr(self, f.name) for f in fields(self)})
        for name in ("note_inc", "note_unit", "note_rank", "note_added"):
            setattr(q, name, getattr(self, name)[keep])
        return q


#: Chance that a victim of each case type is female, and the victims' ages at first incident.
FEMALE_SHARE = (0.82, 0.5, 0.62, 0.6)


def victim_person(c: int, rng) -> tuple[str, int]:
    """Sex and age at the first incident of a new victim of case type ``c``."""
    sex = "女" if rng.random() < FEMALE_SHARE[c] else "男"
    if c == 0:
        age = int(np.clip(rng.normal(38, 11), 18, 85))
    elif c == 1:
        age = int(rng.integers(0, 18))
    elif c == 2:
        age = int(rng.integers(65, 96))
    else:
        age = int(rng.integers(18, 81))
    return sex, age


class Victims:
    """Every victim so far: key (village × 4 + type), weight, last incident, sex, age."""

    def __init__(self, seed: int, alpha: float | None) -> None:
        self.seed, self.alpha = seed, alpha
        self.pool: dict[int, list[int]] = {}
        self.weight: list[float] = []
        self.last: list[int] = []
        self.first: list[int] = []
        self.ctype: list[int] = []
        self.sex: list[str] = []
        self.age0: list[int] = []
        self.notes: list[int] = []

    def _new(self, k: int, day: int, rng) -> int:
        i = len(self.weight)
        w = 1.0
        if self.alpha is not None:
            w = min(float((1 - rng.random()) ** (-1 / self.alpha)), MAX_VICTIM_WEIGHT)
        self.weight.append(w)
        self.last.append(day)
        self.first.append(day)
        self.ctype.append(k % 4)
        sex, age = victim_person(k % 4, rng)
        self.sex.append(sex)
        self.age0.append(age)
        self.notes.append(0)
        self.pool.setdefault(k, []).append(i)
        return i

    def _recur(self, k: int, day: int, rng) -> int:
        """An earlier victim of ``k`` free on ``day`` (weighted, fading), or -1."""
        cand = np.array(self.pool.get(k, ()), dtype=np.int64)
        if not len(cand):
            return -1
        last = np.array([self.last[i] for i in cand])
        ok = day - last > MIN_REPEAT_GAP_DAYS
        if not ok.any():
            return -1
        cand, last = cand[ok], last[ok]
        w = np.array([self.weight[i] for i in cand]) * np.exp(-(day - last) / RECURRENCE_DAYS)
        i = int(cand[rng.choice(len(cand), p=w / w.sum())])
        self.last[i] = day
        return i

    def assign(self, keys: np.ndarray, days: np.ndarray, share: float, new_only, rng):
        """A victim for each incident (keys, days as ordinals): with probability ``share`` an
        earlier one (weighted by the victims' weights), else a new one."""
        out = np.empty(len(keys), np.int64)
        want = rng.random(len(keys)) < share
        for j in np.lexsort((days, keys)):
            i = -1
            if want[j] and not new_only[j]:
                i = self._recur(int(keys[j]), int(days[j]), rng)
            out[j] = i if i >= 0 else self._new(int(keys[j]), int(days[j]), rng)
        return out

    def weights(self, idx: np.ndarray) -> np.ndarray:
        return np.array([self.weight[i] for i in idx]) if len(idx) else np.empty(0)


def draw_incidents(mu: np.ndarray, rise: np.ndarray, rng):
    """Incidents of a quarter: counts per village and type (gamma–Poisson with mean ``mu``)
    and, of each, how many are the rise's (binomial with the rise's share (r − 1) / r)."""
    nv, nt = mu.shape
    g = rng.gamma(12.0, 1 / 12.0, (nv, 1)) * rng.gamma(15.0, 1 / 15.0, (nv, nt))
    n = rng.poisson(mu * g)
    n_rise = rng.binomial(n, np.clip((rise - 1) / np.maximum(rise, 1e-9), 0, 1))
    return n, n_rise


def notification_counts(plan: Plan, origin, weight, rng) -> np.ndarray:
    """Notifications of each incident (different units): 1–3 usually; a rise's incidents as
    its plan says; heavy repeat victims (weight above 20) up to 5."""
    n = len(origin)
    k = rng.choice([1, 2, 3], size=n, p=NOTIFICATIONS_PER_INCIDENT)
    rise = origin == ORIGIN_RISE
    if plan.rise_units is not None and rise.any():
        p = plan.rise_notifications
        k[rise] = rng.choice(np.arange(1, len(p) + 1), size=int(rise.sum()), p=p)
    heavy = weight > 20
    if heavy.any():
        k[heavy] = np.minimum(k[heavy] + rng.poisson(np.log(weight[heavy] / 10)), 5)
    k[origin == ORIGIN_SURFACED] = 1
    return k


def draw_units(w: np.ndarray, k: np.ndarray, rng):
    """For incidents with unit weights ``w`` (incidents × units) and ``k`` notifications
    each: (incident, unit, rank) of every notification, units without replacement."""
    g = np.log(np.maximum(w, 1e-12)) - np.log(-np.log(rng.random(w.shape)))
    order = np.argsort(-g, axis=1, kind="stable")
    inc = np.repeat(np.arange(len(k)), k)
    rank = np.arange(len(inc)) - np.repeat(np.cumsum(k) - k, k)
    return inc, order[inc, rank], rank


def apply_drops(q: Quarter, report: np.ndarray, town_of: np.ndarray, rng) -> tuple[Quarter, int]:
    """A unit that notifies less (multiplier m < 1 in a district): each of its notifications
    there is kept with probability m; incidents left without any notification are not seen.
    Returns the quarter and the number of incidents lost."""
    m = report[town_of[q.v[q.note_inc]], q.note_unit]
    keep = (m >= 1) | (rng.random(len(m)) < m)
    q = q.keep_notes(keep)
    seen = np.bincount(q.note_inc, minlength=len(q.v)) > 0
    return q.keep_incidents(seen), int((~seen).sum())


def _add_notes(q: Quarter, inc: np.ndarray, unit: int) -> Quarter:
    """``q`` with one more notification by ``unit`` for each incident of ``inc``."""
    rank = np.bincount(q.note_inc, minlength=len(q.v))[inc]
    q = q.keep_notes(np.ones(len(q.note_inc), bool))
    q.note_inc = np.concatenate([q.note_inc, inc])
    q.note_unit = np.concatenate([q.note_unit, np.full(len(inc), unit)])
    q.note_rank = np.concatenate([q.note_rank, rank])
    q.note_added = np.concatenate([q.note_added, np.ones(len(inc), bool)])
    return q


def _surface(q: Quarter, v: np.ndarray, c: np.ndarray, unit: int, span: int, rng) -> Quarter:
    """``q`` with new incidents (villages ``v``, types ``c``) notified by ``unit`` alone."""
    n0, n = len(q.v), len(v)
    return Quarter(
        np.concatenate([q.v, v]),
        np.concatenate([q.c, c]),
        np.concatenate([q.day, rng.integers(0, span, n)]),
        np.concatenate([q.origin, np.full(n, ORIGIN_SURFACED)]),
        np.concatenate([q.victim, np.full(n, -1)]),
        np.concatenate([q.note_inc, np.arange(n0, n0 + n)]),
        np.concatenate([q.note_unit, np.full(n, unit)]),
        np.concatenate([q.note_rank, np.zeros(n, np.int64)]),
        np.concatenate([q.note_added, np.zeros(n, bool)]),
    )


def apply_campaigns(q: Quarter, plan: Plan, t: int, town_of, mu, w, span: int, rng) -> Quarter:
    """A unit that notifies more (multiplier m > 1 in a district): its notifications in each
    village there rise by Poisson((m − 1) × its usual ones). A share
    ``plan.campaign_new_share`` of the extra are incidents the usual reporting does not see
    (notified by that unit alone: the risk has not changed); the others are the unit's
    notifications of incidents already notified by other units (added to those)."""
    report = plan.report[t]
    for d, u in zip(*np.nonzero(report > 1), strict=True):
        villages = np.flatnonzero(town_of == d)
        by_unit = q.note_unit == u
        n_u = np.bincount(q.v[q.note_inc[by_unit]], minlength=len(town_of))[villages]
        extra = rng.poisson((report[d, u] - 1) * n_u)
        n_new = rng.binomial(extra, plan.campaign_new_share)
        has_u = np.zeros(len(q.v), bool)
        has_u[q.note_inc[by_unit]] = True
        add, new_v = [], []
        for v, n_add, k in zip(villages, extra - n_new, n_new, strict=True):
            free = np.flatnonzero((q.v == v) & ~has_u)
            take = rng.choice(free, size=min(n_add, len(free)), replace=False)
            add.append(take)
            new_v.append(np.full(k + n_add - len(take), v))
        q = _add_notes(q, np.concatenate(add).astype(np.int64), int(u))
        v = np.concatenate(new_v).astype(np.int64)
        p = mu[v] * w[v, :, u]
        c = (rng.random(len(v))[:, None] > np.cumsum(p / p.sum(1, keepdims=True), 1)).sum(1)
        q = _surface(q, v, np.minimum(c, 3), int(u), span, rng)
    return q


def _notification_ids(dates, used: set, rng) -> list[str]:
    """Notification ids ``DV<ROC year><7 digits>``, unique over the whole world."""
    out = []
    for d in dates:
        while True:
            nid = f"DV{d.year - 1911:03d}{int(rng.integers(0, 10**7)):07d}"
            if nid not in used:
                used.add(nid)
                out.append(nid)
                break
    return out


def canonical(q: Quarter, victims: Victims, period: Period, codes, seed, used: set, mess, rng):
    """The quarter's canonical notifications (the columns the mess functions read)."""
    n_inc = len(q.v)
    start = period.start.toordinal()
    inc_ord = start + q.day.astype(np.int64)
    vi = q.victim
    age0 = np.array([victims.age0[i] for i in vi], np.int64)
    first = np.array([victims.first[i] for i in vi], np.int64)
    age = age0 + ((inc_ord - first) / 365.25).astype(np.int64)
    age = np.where(q.c == 1, np.minimum(age, 17), age)
    sex = np.array([victims.sex[i] for i in vi], dtype=object)
    vkey = np.array([key(seed, "victim", i) for i in vi], dtype=object)
    ctype = np.array(CASE_TYPES, dtype=object)[q.c]
    blank = rng.random(n_inc) < mess.case_id_blank
    case_id = np.array(
        [
            "" if b else "C" + key(seed, "case", k, t)[:10]
            for b, k, t in zip(blank, vkey, ctype, strict=True)
        ],
        dtype=object,
    )
    inc_id = np.array([key(seed, "incident", period, i) for i in range(n_inc)], dtype=object)
    d = case_details(q.c, sex, age, rng)
    j, rank = q.note_inc, q.note_rank
    delay = np.where(rank > 0, rng.integers(0, 8, len(j)), rng.integers(0, 4, len(j)))
    n_ord = np.minimum(inc_ord[j] + delay, period.end.toordinal())
    notified = np.array([date.fromordinal(int(o)) for o in n_ord], dtype=object)
    incident = np.array([date.fromordinal(int(o)) for o in inc_ord], dtype=object)
    return pd.DataFrame(
        {
            "notification_id": _notification_ids(notified, used, rng),
            "case_id": case_id[j],
            "victim_key": vkey[j],
            "notified": notified,
            "incident": incident[j],
            "unit": np.array(UNITS, dtype=object)[q.note_unit],
            "case_type": ctype[j],
            "victim_sex": sex[j],
            "victim_age": age[j],
            "victim_nat": d["nat"][j],
            "resp_sex": d["r_sex"][j],
            "resp_age": d["r_age"][j],
            "relationship": d["rel"][j],
            "forms": d["forms"][j],
            "tipvda": d["tipvda"][j],
            "opened": d["opened"][j],
            "villcode": codes[q.v[j]],
            "incident_id": inc_id[j],
        }
    )
