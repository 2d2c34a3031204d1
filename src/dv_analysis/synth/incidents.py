"""Incidents and their canonical notifications: victims who recur, case details, reporting units."""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import pandas as pd

from dv_analysis.config import Period
from dv_analysis.synth.model import (
    CASE_TYPES,
    FORMS,
    NATIONALITY,
    RELATIONSHIPS,
    UNIT_SHARES,
    UNITS,
    SynthConfig,
)


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16].upper()


class VictimPool:
    """Victims so far, by village and case type, for repeat victimisation across quarters."""

    def __init__(self) -> None:
        self.key = np.empty(0, np.int64)  # village index * 4 + case type
        self.id = np.empty(0, object)
        self.last = np.empty(0, np.int64)  # date ordinal of the last incident
        self.sex = np.empty(0, object)
        self.age0 = np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self.id)

    def pick(self, keys: np.ndarray, u: np.ndarray) -> np.ndarray:
        """For each key, a uniformly chosen earlier victim with that key (index), or -1."""
        order = np.argsort(self.key, kind="stable")
        sk = self.key[order]
        lo, hi = np.searchsorted(sk, keys, "left"), np.searchsorted(sk, keys, "right")
        n = hi - lo
        pos = lo + np.minimum((u * n).astype(np.int64), np.maximum(n - 1, 0))
        return np.where(n > 0, order[np.minimum(pos, max(len(order) - 1, 0))], -1)

    def add(self, key, ids, last, sex, age0) -> None:
        self.key = np.concatenate([self.key, key])
        self.id = np.concatenate([self.id, ids])
        self.last = np.concatenate([self.last, last])
        self.sex = np.concatenate([self.sex, sex])
        self.age0 = np.concatenate([self.age0, age0])


def _victims(cfg, inc_v, inc_type, inc_ord, victims: VictimPool, rng, repeat: float):
    """Victim key, sex and age at first incident of each incident, new or recurring."""
    n_inc = len(inc_v)
    key = inc_v.astype(np.int64) * 4 + inc_type
    want = rng.random(n_inc) < repeat
    cand = victims.pick(key, rng.random(n_inc)) if len(victims) else np.full(n_inc, -1)
    reuse = want & (cand >= 0)
    reuse[reuse] = (inc_ord[reuse] - victims.last[cand[reuse]]) > 30
    # at most one recurrence of a victim per quarter (two within 30 days would be one incident)
    again = np.zeros(n_inc, bool)
    again[np.flatnonzero(reuse)] = pd.Series(cand[reuse]).duplicated().to_numpy()
    reuse &= ~again
    new = ~reuse
    # new victims: sex and age by case type
    u_sex = rng.random(n_inc)
    female_p = np.array([0.85, 0.5, 0.6, 0.6])[inc_type]
    sex = np.where(u_sex < female_p, "女", "男").astype(object)
    age = np.select(
        [inc_type == 0, inc_type == 1, inc_type == 2],
        [
            np.clip(rng.normal(38, 11, n_inc), 16, 85).astype(np.int64),
            rng.integers(0, 18, n_inc),
            rng.integers(65, 96, n_inc),
        ],
        rng.integers(15, 81, n_inc),
    )
    first_new = len(victims)
    new_ids = np.array(
        [_key(cfg.seed, "victim", first_new + k + 1) for k in range(int(new.sum()))], dtype=object
    )
    victim = np.empty(n_inc, dtype=object)
    victim[new] = new_ids
    victim[reuse] = victims.id[cand[reuse]]
    sex[reuse] = victims.sex[cand[reuse]]
    age0 = age.copy()
    age0[reuse] = victims.age0[cand[reuse]]
    victims.last[cand[reuse]] = np.maximum(victims.last[cand[reuse]], inc_ord[reuse])
    victims.add(key[new], new_ids, inc_ord[new], sex[new], age0[new])
    return victim, sex, age0


def case_details(inc_type, sex, age, rng) -> dict[str, np.ndarray]:
    """Relationship, respondent sex and age, TIPVDA, forms of violence, nationality, opened."""
    n_inc = len(inc_type)
    # relationship, respondent, TIPVDA
    rel = np.empty(n_inc, dtype=object)
    for t, name in enumerate(CASE_TYPES):
        sel = inc_type == t
        vals, p = RELATIONSHIPS[name]
        rel[sel] = np.array(vals, dtype=object)[rng.choice(len(vals), size=int(sel.sum()), p=p)]
    ipv = inc_type == 0
    r_sex = np.where(rng.random(n_inc) < 0.65, "男", "女").astype(object)
    r_sex[ipv] = np.where(
        sex[ipv] == "女", "男", np.where(rng.random(int(ipv.sum())) < 0.8, "女", "男")
    )
    gap = np.select([inc_type == 1, inc_type == 2], [25.0, -30.0], rng.normal(0, 15, n_inc))
    r_age = np.clip(age + gap, 18, 95).astype(np.int64)
    r_age[ipv] = np.clip(age[ipv] + rng.normal(2, 6, int(ipv.sum())), 16, 95).astype(np.int64)
    tipvda = np.full(n_inc, "", dtype=object)
    tipvda[ipv] = np.clip(rng.normal(6, 3.2, int(ipv.sum())), 0, 15).astype(np.int64).astype(str)
    # forms of violence (at least one), nationality, opened
    probs = np.array([0.7 if f == "身體" else 0.45 if f == "精神" else 0.1 for f in FORMS])
    has = rng.random((n_inc, len(FORMS))) < probs
    combos = {}
    bits = has @ (1 << np.arange(len(FORMS)))
    for b_ in np.unique(bits):
        combos[int(b_)] = tuple(f for k, f in enumerate(FORMS) if b_ >> k & 1) or ("精神",)
    forms = np.empty(n_inc, dtype=object)
    for i, b_ in enumerate(bits):
        forms[i] = combos[int(b_)]
    nat = np.array(NATIONALITY[0], dtype=object)[
        rng.choice(len(NATIONALITY[0]), size=n_inc, p=NATIONALITY[1])
    ]
    u1, u2 = rng.random(n_inc), rng.random(n_inc)
    opened = np.where(u1 < 0.68, "是", np.where(u2 < 0.9, "否", "")).astype(object)
    return {
        "rel": rel,
        "r_sex": r_sex,
        "r_age": r_age,
        "tipvda": tipvda,
        "forms": forms,
        "nat": nat,
        "opened": opened,
    }


def _units_and_dates(period: Period, inc_ord, n_notif, rng, forced_unit=None):
    """For each notification: its incident, its unit (1–3 different units per incident) and date.
    ``forced_unit`` (per incident, "" where free) names the one unit of a campaign's incident."""
    n_inc = len(inc_ord)
    # notifications: 1–3 different units per incident (Gumbel top-k = weighted, no replacement)
    g = np.log(UNIT_SHARES)[None, :] - np.log(-np.log(rng.random((n_inc, len(UNITS)))))
    unit_order = np.argsort(-g, axis=1, kind="stable")
    inc_of = np.repeat(np.arange(n_inc), n_notif)
    k_of = np.arange(len(inc_of)) - np.repeat(np.cumsum(n_notif) - n_notif, n_notif)
    unit = np.array(UNITS, dtype=object)[unit_order[inc_of, k_of]]
    if forced_unit is not None:
        unit = np.where(forced_unit[inc_of] != "", forced_unit[inc_of], unit).astype(object)
    delay = np.where(k_of > 0, rng.integers(0, 8, len(inc_of)), rng.integers(0, 4, len(inc_of)))
    n_ord = np.minimum(inc_ord[inc_of] + delay, period.end.toordinal())
    n_dates = np.array([date.fromordinal(int(o)) for o in n_ord], dtype=object)
    return inc_of, unit, n_dates


def notifications(
    cfg: SynthConfig,
    period: Period,
    first: Period,
    codes: np.ndarray,
    inc_v: np.ndarray,
    inc_type: np.ndarray,
    inc_day: np.ndarray,
    n_notif: np.ndarray,
    victims: VictimPool,
    rng: np.random.Generator,
    forced_unit: np.ndarray | None = None,
) -> pd.DataFrame:
    """Canonical notifications of a quarter's incidents (vectorised over incidents).

    Victims recur: with probability ``repeat_victim`` an incident's victim is an earlier
    victim of the same village and case type, if one exists whose last incident was more
    than 30 days before; otherwise a new victim with sex and age drawn by case type.
    Each incident is notified by 1–3 different units (weighted draw without replacement).
    """
    model = cfg.model
    n_inc = len(inc_v)
    inc_ord = period.start.toordinal() + inc_day.astype(np.int64)
    victim, sex, age0 = _victims(cfg, inc_v, inc_type, inc_ord, victims, rng, model.repeat_victim)
    years = np.array([date.fromordinal(int(o)).year for o in inc_ord], dtype=np.int64)
    age = age0 + (years - first.start.year)
    ctype = np.array(CASE_TYPES, dtype=object)[inc_type]
    incident_id = np.array(
        [_key(cfg.seed, "incident", str(period), i) for i in range(n_inc)], dtype=object
    )
    blank_case = rng.random(n_inc) < cfg.mess.case_id_blank
    case_id = np.array(
        [
            "" if b else "C" + _key(cfg.seed, "case", v, t)[:10]
            for b, v, t in zip(blank_case, victim, ctype, strict=True)
        ],
        dtype=object,
    )
    d = case_details(inc_type, sex, age, rng)
    inc_of, unit, n_dates = _units_and_dates(period, inc_ord, n_notif, rng, forced_unit)
    inc_dates = np.array([date.fromordinal(int(o)) for o in inc_ord], dtype=object)
    roc = np.array([x.year - 1911 for x in n_dates])
    nid = [
        f"DV{r:03d}{x:07d}" for r, x in zip(roc, rng.integers(0, 10**7, len(inc_of)), strict=True)
    ]
    return pd.DataFrame(
        {
            "notification_id": nid,
            "case_id": case_id[inc_of],
            "victim_key": victim[inc_of],
            "notified": n_dates,
            "incident": inc_dates[inc_of],
            "unit": unit,
            "case_type": ctype[inc_of],
            "victim_sex": sex[inc_of],
            "victim_age": age[inc_of],
            "victim_nat": d["nat"][inc_of],
            "resp_sex": d["r_sex"][inc_of],
            "resp_age": d["r_age"][inc_of],
            "relationship": d["rel"][inc_of],
            "forms": d["forms"][inc_of],
            "tipvda": d["tipvda"][inc_of],
            "opened": d["opened"][inc_of],
            "villcode": codes[inc_v[inc_of]],
            "incident_id": incident_id[inc_of],
        }
    )
