"""What each kind of test scenario plants (``docs/scenarios.md``): clusters of villages
whose true risk rises, fades or stays high, district drifts, a city-wide shock, and the
reporting multipliers of units in districts. Every draw is recorded in ``plan.drawn``."""

from __future__ import annotations

import numpy as np

from dv_analysis.config import Period
from dv_analysis.errors import ParameterError
from dv_analysis.synth.model import CASE_TYPES, UNITS, grow_cluster
from dv_analysis.synth.scenario_world import Plan, World

POLICE, SCHOOLS = UNITS.index("警政"), UNITS.index("教育")
#: Units' weights of the incidents of a police-carried rise (UNITS order): 110 calls.
POLICE_CARRIED_UNITS = np.array([0.85, 0.08, 0.0, 0.0, 0.0, 0.04, 0.03])
#: Quarters over which a ramp rises to its full strength (the last of start..end).
RAMP_QUARTERS = 3


def empty_plan(kind: str, world: World, periods: list[Period], n_main: int) -> Plan:
    """A plan where nothing is planted (every multiplier 1)."""
    nt, nv = len(periods), len(world.b)
    return Plan(
        kind=kind,
        periods=periods,
        n_main=n_main,
        risk=np.ones((nt, nv, len(CASE_TYPES))),
        rise=np.ones((nt, nv, len(CASE_TYPES))),
        report=np.ones((nt, len(world.towns), len(UNITS))),
    )


def ramp(plan: Plan, m: float) -> np.ndarray:
    """1 until the ramp, then rising linearly over the last RAMP_QUARTERS quarters of
    start..end to ``m``, and ``m`` in the quarters after the end."""
    q = np.arange(len(plan.periods))
    step = np.clip(q - (plan.n_main - 1 - RAMP_QUARTERS), 0, RAMP_QUARTERS) / RAMP_QUARTERS
    return 1.0 + (m - 1.0) * step


def fading(plan: Plan, m: float, ended: int) -> np.ndarray:
    """``m``, falling linearly over two quarters to 1, reached ``ended`` quarters before the end."""
    q = np.arange(len(plan.periods))
    stop = plan.n_main - ended
    return 1.0 + (m - 1.0) * np.clip((stop - q) / 2, 0, 1)


def cluster(world: World, towns, size: int, used: set, rng) -> list[int]:
    """``size`` contiguous villages of one district, the first of ``towns`` where they fit
    (grown at random from a seed of more than 2,000 residents), apart from the villages of
    ``used`` and their neighbours."""
    codes = world.codes
    index = {c: i for i, c in enumerate(codes)}
    near = {n for i in used for n in world.nb[codes[i]]} | {codes[i] for i in used}
    for town in towns:
        blocked = set(codes[world.town_of != town]) | near
        free = (world.town_of == town) & (world.pop > 2000)
        seeds = [c for c in codes[free] if c not in blocked]
        for k in rng.permutation(len(seeds)):
            members = grow_cluster(seeds[k], size, world.nb, blocked, rng)
            if len(members) == size:
                out = sorted(index[c] for c in members)
                used.update(out)
                return out
    raise ParameterError(f"no {size} contiguous villages free in {[world.towns[t] for t in towns]}")


def plant(plan: Plan, world: World, members, profile, ctype: str, types=None, rise=False):
    """Multiply the risk of ``members`` (case types ``types``, all if None) by ``profile``
    over the quarters; ``rise``: the multiplier is a real rise (its incidents are tagged)."""
    cols = list(range(len(CASE_TYPES))) if types is None else list(types)
    sel = np.ix_(np.arange(len(plan.periods)), np.asarray(members), cols)
    plan.risk[sel] *= profile[:, None, None]
    if rise:
        plan.rise[sel] *= profile[:, None, None]
    plan.clusters.append(
        {
            "id": f"C{len(plan.clusters) + 1}",
            "type": ctype,
            "townname": world.towns[int(world.town_of[members[0]])],
            "villcodes": sorted(world.codes[members].tolist()),
            "case_types": [CASE_TYPES[c] for c in cols],
            "multiplier": {
                str(p): round(float(x), 4) for p, x in zip(plan.periods, profile, strict=True)
            },
        }
    )


def background(plan: Plan, world: World, n: int, used: set, avoid: set, rng) -> None:
    """``n`` persistent high-risk clusters (4–8 villages, ×1.5–2.2) in distinct districts
    apart from ``avoid`` (realistic hot spots that neither rise nor fall)."""
    avoid = set(avoid)
    for _ in range(n):
        members = cluster(world, towns(world, rng, avoid), int(rng.integers(4, 9)), used, rng)
        avoid.add(int(world.town_of[members[0]]))
        m = float(rng.uniform(1.5, 2.2))
        plant(plan, world, members, np.full(len(plan.periods), m), "persistent")


def rising(plan: Plan, world: World, used: set, rng, m_range=(1.5, 2.5), types=None):
    """A cluster of 5–8 contiguous villages of a district drawn at random whose true risk
    ramps up (a real rise); returns its villages, its strength and its district."""
    members = cluster(world, towns(world, rng), int(rng.integers(5, 9)), used, rng)
    m = float(rng.uniform(*m_range))
    plant(plan, world, members, ramp(plan, m), "ramp", types, rise=True)
    return members, m, int(world.town_of[members[0]])


def towns(world: World, rng, avoid=()) -> list[int]:
    """The districts apart from ``avoid``, in random order."""
    return [int(d) for d in rng.permutation(len(world.towns)) if d not in avoid]


def campaign_over_rise(world: World, periods, n_main: int, rng) -> Plan:
    """A police campaign (×1.5 notifications) in one district over the last 2–3 quarters,
    over a real rise (ramp ×1.5–2.5) of 5–8 contiguous villages of the same district."""
    plan = empty_plan("campaign_over_rise", world, periods, n_main)
    used = set()
    _, m, town = rising(plan, world, used, rng)
    n_q = int(rng.integers(2, 4))
    plan.report[n_main - n_q :, town, POLICE] = 1.5
    plan.campaign = {
        "townname": world.towns[town],
        "villcodes": sorted(world.codes[world.town_of == town].tolist()),
        "periods": [str(p) for p in periods[n_main - n_q :]],
        "unit": "警政",
        "multiplier": 1.5,
        "new_incident_share": plan.campaign_new_share,
    }
    background(plan, world, 2, used, {town}, rng)
    plan.drawn = {"district": world.towns[town], "campaign_quarters": n_q, "rise": m}
    return plan


def unit_carried_rise(world: World, periods, n_main: int, rng) -> Plan:
    """A real rise of intimate-partner violence only (ramp ×1.8–2.8) in 5–8 contiguous
    villages of one district, its extra incidents notified mostly by the police (about 86 %
    of them, 80 % of their notifications)."""
    plan = empty_plan("unit_carried_rise", world, periods, n_main)
    plan.rise_units = POLICE_CARRIED_UNITS
    plan.rise_notifications = (0.9, 0.1)
    used = set()
    _, m, town = rising(plan, world, used, rng, (1.8, 2.8), types=[0])
    background(plan, world, 2, used, {town}, rng)
    plan.drawn = {"district": world.towns[town], "rise": m, "rise_case_type": CASE_TYPES[0]}
    return plan


def unit_mix(world: World, periods, n_main: int, rng) -> Plan:
    """Units' shares varying by village (near hospitals, police, welfare centres, children)
    and strongly by season (school holidays); three persistent clusters; no change."""
    plan = empty_plan("unit_mix", world, periods, n_main)
    plan.unit_village_strength = 0.8
    plan.holiday = (0.7, 1.1, 0.35, 1.1)
    background(plan, world, 3, set(), set(), rng)
    plan.drawn = {"school_holiday_factor": list(plan.holiday), "unit_village_strength": 0.8}
    return plan


def drift(world: World, periods, n_main: int, rng) -> Plan:
    """Two districts drifting up and two down (2–6 % a year), a cluster that ended 4–6
    quarters before the end, one that ramps up, and a persistent one."""
    plan = empty_plan("drift", world, periods, n_main)
    drifting = rng.choice(len(world.towns), size=4, replace=False)
    rates = np.array([1, 1, -1, -1]) * rng.uniform(0.02, 0.06, 4)
    years = np.arange(len(periods)) / 4
    for d, r in zip(drifting, rates, strict=True):
        plan.risk[:, world.town_of == d, :] *= np.exp(r * years)[:, None, None]
    used = set()
    ended = int(rng.integers(4, 7))
    m_fade = float(rng.uniform(1.8, 2.5))
    members = cluster(world, towns(world, rng), int(rng.integers(5, 9)), used, rng)
    plant(plan, world, members, fading(plan, m_fade, ended), "ended")
    _, m, _ = rising(plan, world, used, rng)
    background(plan, world, 1, used, set(), rng)
    plan.drawn = {
        "drift_per_year": {
            world.towns[d]: round(float(r), 4) for d, r in zip(drifting, rates, strict=True)
        },
        "ended_quarters_before_end": ended,
        "fading": m_fade,
        "rise": m,
    }
    return plan


def repeat_victims(world: World, periods, n_main: int, rng) -> Plan:
    """Heavy-tailed repeat victimisation (victims' weights Pareto α = 1.1, a third of the
    incidents by earlier victims) and one real rising cluster."""
    plan = empty_plan("repeat_victims", world, periods, n_main)
    plan.repeat_share, plan.pareto_alpha = 0.35, 1.1
    plan.incident_scale = 0.92  # heavy victims' extra notifications: the same volume
    used = set()
    _, m, town = rising(plan, world, used, rng)
    background(plan, world, 1, used, {town}, rng)
    plan.drawn = {"district": world.towns[town], "rise": m, "repeat_share": 0.35, "alpha": 1.1}
    return plan


def shock(world: World, periods, n_main: int, rng) -> Plan:
    """A city-wide shock over the last 2–3 quarters (true intimate-partner and child risk
    ×1.1–1.3) while schools, closed, notify half as much; and one local real rise."""
    plan = empty_plan("shock", world, periods, n_main)
    n_q = int(rng.integers(2, 4))
    m_ipv, m_child = rng.uniform(1.1, 1.3, 2)
    plan.risk[n_main - n_q :, :, 0] *= m_ipv
    plan.risk[n_main - n_q :, :, 1] *= m_child
    plan.report[n_main - n_q :, :, SCHOOLS] = 0.5
    used = set()
    _, m, town = rising(plan, world, used, rng)
    background(plan, world, 2, used, {town}, rng)
    plan.drawn = {
        "shock_quarters": [str(p) for p in periods[n_main - n_q :]],
        "shock_ipv": round(float(m_ipv), 4),
        "shock_child": round(float(m_child), 4),
        "schools": 0.5,
        "district": world.towns[town],
        "rise": m,
    }
    return plan


def no_change(world: World, periods, n_main: int, rng) -> Plan:
    """Nothing rises or falls: heterogeneity (two persistent clusters), seasons, noise."""
    plan = empty_plan("no_change", world, periods, n_main)
    background(plan, world, 2, set(), set(), rng)
    return plan


#: The kinds of scenario and their planners.
KINDS = {
    "campaign_over_rise": campaign_over_rise,
    "unit_carried_rise": unit_carried_rise,
    "unit_mix": unit_mix,
    "drift": drift,
    "repeat_victims": repeat_victims,
    "shock": shock,
    "no_change": no_change,
}
