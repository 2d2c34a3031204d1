"""Addresses of an open-data layer put on villages: parsing, ROC dates, and the road-band
inference of a village from rows that name both a road and a village.

Taipei's police open data give an address with the house number rounded to a band of 30
(``臺北市中山區農安街1~30號``); about half name the village (``…區萬美里萬寧街1~30號``).
:func:`parse_addresses` splits them into district, village, neighbourhood (鄰), street
(road, section, lane, alley) and number band. :class:`RoadBands` learns, from the rows that
name both, which village a street and band lie in, and predicts it for the rows that name
only a road where the rule is confident enough (:func:`cross_validate` measures it on
held-out rows).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dv_analysis.layers import names

#: Width of the number bands of the police data (1~30, 31~60, …).
BAND = 30
_CN_DIGITS = {c: str(i) for i, c in enumerate("一二三四五六七八九十", start=1)}
_ADDRESS_RE = re.compile(
    r"^(?P<city>[臺台]北市)?(?P<district>[^\d]{1,3}?區)"
    r"(?P<village>[^\d\s路街段巷弄號鄰]{1,3}?里)?(?:(?P<lin>\d+)鄰)?(?P<rest>.*)$"
)
_STREET_RE = re.compile(r"^(?P<road>[^\d]+?(?:路|街|大道))?(?:(?P<section>\d+)段)?(?P<tail>.*)$")
_NUMBER_RE = re.compile(r"(?P<lo>\d+)(?:~(?P<hi>\d+))?號")
_LANE_RE = re.compile(r"(?P<lane>\d+)巷(?:(?P<alley>\d+)弄)?")


def _normalise(text: object) -> str:
    """NFKC, 台 → 臺, Chinese numerals of sections (四段 → 4段), ﹑ and spaces dropped."""
    s = names.nfkc(text).replace("台北市", "臺北市").replace("﹑", "、")
    return re.sub(r"([一二三四五六七八九十])段", lambda m: _CN_DIGITS[m.group(1)] + "段", s)


def band_of(number: int) -> int:
    """The first number of the band of 30 a house number falls in (95 → 91).

    >>> band_of(95), band_of(30), band_of(31)
    (91, 1, 31)
    """
    return (int(number) - 1) // BAND * BAND + 1


def parse_address(text: object) -> dict:
    """One address split into its parts (empty strings where a part is missing).

    Keys: ``city``, ``district``, ``village`` (as written, with 里), ``street`` (road,
    section, lane and alley), ``road`` (road and section), ``position`` (the band of the
    lane's number on the road, else of the house number: where along the road it is),
    ``band`` (the band of the house number) and ``problem`` (why no street could be read).

    >>> p = parse_address("臺北市信義區富台里忠孝東路5段295巷6弄1~30號")
    >>> p["district"], p["village"], p["street"], p["road"], p["position"], p["band"]
    ('信義區', '富台里', '忠孝東路5段295巷6弄', '忠孝東路5段', 271, 1)
    """
    s = _normalise(text)
    out = dict(city="", district="", village="", street="", road="", position=0, band=0)
    m = _ADDRESS_RE.match(s)
    if not s or not m:
        return out | {"problem": "no district in the address"}
    out |= {k: m.group(k) or "" for k in ("city", "district", "village")}
    rest = m.group("rest")
    number = _NUMBER_RE.search(rest)
    street = rest[: number.start()] if number else re.sub(r"\d+樓.*$", "", rest)
    sm = _STREET_RE.match(street)
    road = (sm.group("road") or "") + (f"{sm.group('section')}段" if sm.group("section") else "")
    if not road:
        return out | {"problem": "no road in the address"}
    lane = _LANE_RE.search(sm.group("tail") or "")
    out["street"] = road + (lane.group(0) if lane else "")
    out["road"] = road
    if number:
        out["band"] = band_of(int(number.group("lo")))
    out["position"] = band_of(int(lane.group("lane"))) if lane else out["band"]
    return out | {"problem": ""}


def parse_addresses(addresses: pd.Series) -> pd.DataFrame:
    """:func:`parse_address` of every row (once per distinct address), same index."""
    uniq = pd.unique(addresses.fillna("").astype(str))
    parsed = pd.DataFrame([parse_address(a) for a in uniq], index=uniq)
    return parsed.reindex(addresses.fillna("").astype(str).to_numpy()).set_index(addresses.index)


def roc_dates(values: pd.Series) -> pd.Series:
    """Dates from ROC (民國) numbers like ``1040101`` (2015-01-01) or ``991231``; NaT where
    the value is not such a date.

    >>> roc_dates(pd.Series([1040101, "1110729", "x"])).dt.strftime("%Y-%m-%d").tolist()
    ['2015-01-01', '2022-07-29', nan]
    """
    s = values.astype(str).str.replace(r"\.0$", "", regex=True).str.strip()
    ok = s.str.fullmatch(r"\d{6,7}")
    year = pd.to_numeric(s.str[:-4].where(ok), errors="coerce") + 1911
    text = year.astype("Int64").astype(str) + "-" + s.str[-4:-2] + "-" + s.str[-2:]
    return pd.to_datetime(text.where(ok), format="%Y-%m-%d", errors="coerce")


# --- the road-band inference ----------------------------------------------------------

#: The keys the inference looks a row up by, most specific first: the street with its lane
#: and the house-number band; the street; the road (and section) at the lane's or house
#: number's band along it; the road alone.
LEVELS: tuple[tuple[str, ...], ...] = (
    ("district", "street", "band"),
    ("district", "street"),
    ("district", "road", "position"),
    ("district", "road"),
)
LEVEL_NAMES = ("street+band", "street", "road+band", "road")


@dataclass(frozen=True)
class Rule:
    """When a learnt key is trusted: at least ``min_rows`` rows naming a village, of which
    at least ``min_share`` name the same one, at the levels of :data:`LEVELS` listed in
    ``levels``."""

    min_rows: int = 2
    min_share: float = 0.8
    levels: tuple[int, ...] = (0, 1, 2, 3)

    def describe(self) -> str:
        used = ", ".join(LEVEL_NAMES[i] for i in self.levels) or "none"
        return (
            f"the village most rows name for the same district and {used} (tried in that "
            f"order), when at least {self.min_rows} rows name a village there and at least "
            f"{self.min_share:.0%} of them name that one"
        )


class RoadBands:
    """Road-band → village, learnt from rows that name both (columns of
    :func:`parse_addresses` plus ``villcode``)."""

    def __init__(self, rows: pd.DataFrame, rule: Rule = Rule()) -> None:
        self.rule = rule
        known = rows[rows["villcode"].notna() & rows["road"].ne("")]
        self.tables: list[pd.DataFrame] = []
        for level in LEVELS:
            g = known.groupby([*level, "villcode"]).size().rename("k").reset_index()
            g["n"] = g.groupby(list(level))["k"].transform("sum")
            g["share"] = g["k"] / g["n"]
            top = g.sort_values(["k", "villcode"], ascending=[False, True])
            top = top.drop_duplicates(list(level)).set_index(list(level))
            trusted = (top["n"] >= rule.min_rows) & (top["share"] >= rule.min_share)
            self.tables.append(top.loc[trusted, ["villcode", "n", "share"]])

    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:
        """``villcode`` (None when not confident) and ``level`` (name of the key used) per row."""
        code = np.full(len(rows), None, dtype=object)
        level = np.full(len(rows), "", dtype=object)
        has_road = rows["road"].ne("").to_numpy()
        for i in self.rule.levels:
            key = pd.MultiIndex.from_frame(rows[list(LEVELS[i])])
            hit = self.tables[i]["villcode"].reindex(key).to_numpy(dtype=object)
            new = has_road & pd.isna(code) & pd.notna(hit)
            code[new], level[new] = hit[new], LEVEL_NAMES[i]
        return pd.DataFrame({"villcode": code, "level": level}, index=rows.index)


def cross_validate(
    rows: pd.DataFrame, rule: Rule, folds: int = 5, seed: int = 0, by: str = "event"
) -> pd.DataFrame:
    """Held-out accuracy of the inference on rows that name a village, by level.

    The rows are split into ``folds`` folds of whole groups; each fold is predicted by the
    rule learnt from the others. ``by="event"`` groups rows of the same address, date and
    time band (a case listed twice never helps predict itself: what a row without a
    village meets when predicted from every other row); ``by="address"`` groups every row
    of an address (stricter: a held-out address was never seen, so the street+band level
    is never tried). ``rows`` needs the columns ``event`` for the first.

    Returns one row per level and one ``all`` row: ``predicted`` (held-out rows the rule
    gave a village), ``correct``, ``accuracy``, ``coverage`` (share of held-out rows
    predicted).
    """
    known = rows[rows["villcode"].notna() & rows["road"].ne("")].copy()
    addr = known["street"] + "|" + known["district"] + "|" + known["band"].astype(str)
    groups = pd.factorize(addr if by == "address" else known["event"])[0]
    fold_of = np.random.default_rng(seed).permutation(groups.max() + 1) % folds
    known["fold"] = fold_of[groups]
    out = []
    for f in range(folds):
        test = known[known["fold"] == f]
        pred = RoadBands(known[known["fold"] != f], rule).predict(test)
        out.append(pred.assign(truth=test["villcode"].to_numpy()))
    res = pd.concat(out)
    res["correct"] = res["villcode"] == res["truth"]
    table = []
    for name, part in [*res[res["level"] != ""].groupby("level"), ("all", res)]:
        done = part[part["villcode"].notna()]
        table.append(
            {
                "level": name,
                "predicted": len(done),
                "correct": int(done["correct"].sum()),
                "accuracy": float(done["correct"].mean()) if len(done) else float("nan"),
                "coverage": len(done) / len(known) if name == "all" else len(done) / len(known),
            }
        )
    return pd.DataFrame(table)


#: The rules :func:`confident_rule` chooses from (rows needed, share naming the same village).
RULE_GRID: tuple[tuple[int, float], ...] = ((2, 0.8), (2, 1.0), (3, 0.9), (3, 1.0), (4, 0.9))


def _levels_reaching(rows, rule: Rule, target: float, folds: int, seed: int) -> Rule:
    """The rule without the levels whose held-out accuracy is below ``target`` (dropped one
    round at a time: rows of a dropped level fall to the next level)."""
    while rule.levels:
        table = cross_validate(rows, rule, folds, seed)
        bad = set(table.loc[~(table["accuracy"] >= target), "level"]) - {"all"}
        if not bad:
            break
        keep = tuple(i for i in rule.levels if LEVEL_NAMES[i] not in bad)
        rule = Rule(rule.min_rows, rule.min_share, keep)
    return rule


def confident_rule(
    rows: pd.DataFrame, target: float = 0.9, folds: int = 5, seed: int = 0
) -> tuple[Rule, pd.DataFrame]:
    """The rule of :data:`RULE_GRID` that predicts the most held-out rows with every level
    it uses at ``target`` accuracy or more, and its accuracy measured again on a second,
    different split into folds (``seed + 1``; a level that falls below ``target`` there is
    dropped too, so the stated accuracy is not the one the rule was chosen on).

    ``rows``: parsed addresses with ``villcode`` (None where no village is named) and
    ``event`` (see :func:`cross_validate`).
    """
    best, best_n = Rule(levels=()), -1
    for min_rows, share in RULE_GRID:
        rule = _levels_reaching(rows, Rule(min_rows, share), target, folds, seed)
        n = cross_validate(rows, rule, folds, seed)["predicted"].iloc[-1] if rule.levels else 0
        if n > best_n:
            best, best_n = rule, n
    rule = _levels_reaching(rows, best, target, folds, seed + 1)
    return rule, cross_validate(rows, rule, folds, seed + 1)
