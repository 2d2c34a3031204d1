"""Synthetic test worlds for Taipei, written blind to the models they test
(``docs/scenarios.md``).

:func:`generate_scenario` writes raw exports (the raw schema, with the mess of
:mod:`dv_analysis.synth.mess`) for every quarter from ``start`` to ``end`` and for
``extra_quarters`` held-out quarters after it, and records the truth under
``settings.truth_city_dir``. Kinds (:data:`dv_analysis.synth.scenario_kinds.KINDS`):
``campaign_over_rise``, ``unit_carried_rise``, ``unit_mix``, ``drift``,
``repeat_victims``, ``shock`` and ``no_change``.

Command line::

    PYTHONPATH=src python -m dv_analysis.synth.scenarios --kind campaign_over_rise --seed 6 --root /tmp/w
"""

from __future__ import annotations

import argparse
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from dv_analysis import layers
from dv_analysis.config import Period, Settings, period_range
from dv_analysis.errors import ParameterError
from dv_analysis.synth.mess import duplicates, messy_rows
from dv_analysis.synth.model import CASE_TYPES, UNITS, MessRates
from dv_analysis.synth.scenario_kinds import KINDS
from dv_analysis.synth.scenario_reports import (
    ORIGIN_RISE,
    ORIGIN_SURFACED,
    Quarter,
    Victims,
    apply_campaigns,
    apply_drops,
    canonical,
    draw_incidents,
    draw_units,
    notification_counts,
)
from dv_analysis.synth.scenario_truth import NOTE_ORIGINS, clean_expected, write_truth
from dv_analysis.synth.scenario_world import (
    Plan,
    World,
    build_world,
    expected_incidents,
    people_at_risk,
    unit_weights,
)
from dv_analysis.synth.truth import ROWS_FILE, SCENARIO_TYPES_FILE
from dv_analysis.synth.writers import write_files

__all__ = ["KINDS", "check_against_clean", "generate_scenario", "main"]

#: Files per quarter's export (formats rotate over them, as in the demo generator).
FILES_PER_PERIOD = 3


def _incidents(world: World, plan: Plan, t: int, at_risk, victims: Victims, rng):
    """The quarter's true incidents, their victims and their usual notifications (the rise's
    incidents with the plan's units for a rise, if any)."""
    period = plan.periods[t]
    mu = expected_incidents(world, plan, t, at_risk)
    n, n_rise = draw_incidents(mu, plan.rise[t], rng)
    nv, nt = n.shape
    cell = np.repeat(np.arange(nv * nt), n.ravel())
    rank_in_cell = np.arange(len(cell)) - np.repeat(np.cumsum(n.ravel()) - n.ravel(), n.ravel())
    origin = np.where(rank_in_cell < n_rise.ravel()[cell], ORIGIN_RISE, 0)
    v, c = cell // nt, cell % nt
    span = (period.end - period.start).days + 1
    day = rng.integers(0, span, len(cell))
    victim = victims.assign(
        cell, period.start.toordinal() + day, plan.repeat_share, np.zeros(len(cell), bool), rng
    )
    k = notification_counts(plan, origin, victims.weights(victim), rng)
    w = unit_weights(world, plan, t)
    wi = w[v, c]
    if plan.rise_units is not None:
        wi[origin == ORIGIN_RISE] = plan.rise_units
    inc, unit, rank = draw_units(wi, k, rng)
    q = Quarter(v, c, day, origin, victim, inc, unit, rank, np.zeros(len(inc), bool))
    return q, mu, n, n_rise, w, span


def simulate_quarter(world: World, plan: Plan, t: int, at_risk, victims: Victims, rng):
    """One quarter: incidents, notifications and the reporting changes of the plan.
    Returns the quarter's exported incidents and its record for the truth."""
    q, mu, n, n_rise, w, span = _incidents(world, plan, t, at_risk, victims, rng)
    q, _ = apply_drops(q, plan.report[t], world.town_of, rng)
    q = apply_campaigns(q, plan, t, world.town_of, mu, w, span, rng)
    fresh = q.victim < 0
    if fresh.any():
        days = plan.periods[t].start.toordinal() + q.day[fresh]
        q.victim[fresh] = victims.assign(
            q.v[fresh] * 4 + q.c[fresh], days, 0.0, np.ones(int(fresh.sum()), bool), rng
        )
    nv, nt = n.shape
    cell = q.v * nt + q.c

    def per_cell(mask):
        return np.bincount(cell[mask], minlength=nv * nt).reshape(nv, nt)

    surfaced = per_cell(q.origin == ORIGIN_SURFACED)
    exported = per_cell(np.ones(len(cell), bool))
    origin = np.where(q.note_added, 3, q.origin[q.note_inc])
    flat = (q.v[q.note_inc] * len(UNITS) + q.note_unit) * len(NOTE_ORIGINS) + origin
    notes = np.bincount(flat, minlength=nv * len(UNITS) * len(NOTE_ORIGINS))
    record = {
        "at_risk": at_risk,
        "mu": mu,
        "true_incidents": n,
        "rise_incidents": n_rise,
        "surfaced_incidents": surfaced,
        "lost_incidents": n - (exported - surfaced),
        "exported_incidents": exported,
        "notes": notes.reshape(nv, len(UNITS), len(NOTE_ORIGINS)),
    }
    return q, record


def _write_quarter(settings, world, plan, t, q, victims, ctx) -> pd.DataFrame:
    """The quarter's raw export files (messy) and its row truth; returns the row truth."""
    period = plan.periods[t]
    canon = canonical(
        q, victims, period, world.codes, ctx["seed"], ctx["ids"], ctx["mess"], ctx["rng"]
    )
    canon = canon.sample(frac=1.0, random_state=int(ctx["rng"].integers(2**31)))
    canon = canon.reset_index(drop=True)
    rows = messy_rows(canon, ctx["geo"], ctx["other"], ctx["prev"], ctx["mess"], ctx["rng"])
    rows = duplicates(rows, FILES_PER_PERIOD, ctx["mess"], ctx["rng"])
    _, truth_rows = write_files(
        rows, settings.raw_dir / str(period), period, FILES_PER_PERIOD, ctx["mess"], ctx["rng"]
    )
    ctx["prev"] = canon
    out = settings.truth_city_dir / str(period)
    out.mkdir(parents=True, exist_ok=True)
    truth_rows.to_parquet(out / ROWS_FILE, index=False)
    counts = np.bincount(q.victim[q.note_inc], minlength=len(victims.weight))
    prev = ctx["notes_per_victim"]
    counts[: len(prev)] += prev
    ctx["notes_per_victim"] = counts
    return truth_rows


def _context(settings: Settings, world: World, seed: int, rng) -> dict:
    """What the writing of every quarter shares: villages, the other city's names (rows
    placed out of the city), mess rates, the ids used, the previous quarter's notifications."""
    other = layers.load_boundaries(settings, "65000")[
        ["villcode", "countyname", "townname", "villname"]
    ]
    return {
        "seed": seed,
        "rng": rng,
        "geo": world.b.set_index("villcode"),
        "other": other,
        "mess": MessRates(),
        "ids": set(),
        "prev": None,
        "notes_per_victim": np.zeros(0, np.int64),
    }


def _victim_summary(victims: Victims, notes: np.ndarray) -> dict:
    """Victims and how often each was notified (the tail of repeat victimisation)."""
    notes = notes[notes > 0]
    top = np.sort(notes)[::-1][: max(1, len(notes) // 100)]
    return {
        "victims": int(len(notes)),
        "notified_once": round(float(np.mean(notes == 1)), 4),
        "notifications_per_victim_quantiles": {
            str(q): float(np.quantile(notes, q)) for q in (0.5, 0.9, 0.99, 0.999)
        },
        "max_notifications_per_victim": int(notes.max()),
        "top_1pct_share_of_notifications": round(float(top.sum() / notes.sum()), 4),
    }


def _periods(start, end, extra_quarters: int) -> tuple[list[Period], int]:
    main = period_range(start, end)
    extra, p = [], main[-1]
    for _ in range(extra_quarters):
        p = p.next()
        extra.append(p)
    return main + extra, len(main)


def generate_scenario(
    settings: Settings,
    kind: str,
    seed: int,
    start: str = "2017Q1",
    end: str = "2020Q4",
    extra_quarters: int = 1,
    volume: float = 1.0,
    progress: bool = False,
) -> dict:
    """Write a test scenario's raw exports and truth for Taipei.

    Parameters
    ----------
    settings : Settings
        Where to write: ``raw_dir`` (exports, one folder a quarter) and ``truth_dir``.
        The city must be 63000 (Taipei).
    kind : str
        One of :data:`KINDS`.
    seed : int
        Seed of every draw, with the kind (same kind and seed, same files; the same seed
        of two kinds gives two different worlds).
    start, end : str
        The quarters of the range (``2017Q1``).
    extra_quarters : int
        Held-out quarters after ``end``, written like the others.
    volume : float
        Scale of the expected incidents (1.0: Taipei's volume, ~2,650 notifications a
        quarter in the first year).
    progress : bool
        Print a line per quarter.

    Returns
    -------
    dict
        The scenario's summary (as ``scenario.json``) with notifications and incidents per
        quarter and the seconds taken.
    """
    if kind not in KINDS:
        raise ParameterError(f"scenario kind {kind!r}: one of {', '.join(KINDS)}")
    if settings.city != "63000":
        raise ParameterError(f"scenarios are of Taipei (city 63000), not {settings.city}")
    settings.check_public_dir()
    t0 = time.perf_counter()
    periods, n_main = _periods(start, end, extra_quarters)
    # the kind enters the seed: seed 6 of two kinds are two different worlds
    rng = np.random.default_rng([seed, zlib.crc32(kind.encode())])
    world = build_world(settings, periods, volume, rng)
    plan = KINDS[kind](world, periods, n_main, rng)
    victims = Victims(seed, plan.pareto_alpha)
    ctx = _context(settings, world, seed, rng)
    records, summary = [], {}
    for t, period in enumerate(periods):
        at_risk = people_at_risk(settings, period, world.codes)
        q, rec = simulate_quarter(world, plan, t, at_risk, victims, rng)
        rows = _write_quarter(settings, world, plan, t, q, victims, ctx)
        rec["clean_expected_incidents"] = clean_expected(rows, world.codes)
        records.append(rec)
        summary[str(period)] = {
            "notifications": int(len(q.note_inc)),
            "incidents": int(len(q.v)),
            "raw_rows": int(len(rows)),
        }
        if progress:
            s = summary[str(period)]
            print(f"  {period}: {s['notifications']:,} notifications, {s['incidents']:,} incidents")
    meta = {"seed": seed, "volume": volume, "city": settings.city}
    meta["victims"] = _victim_summary(victims, ctx["notes_per_victim"])
    scenario = write_truth(settings, world, plan, records, meta)
    scenario["quarters"] = summary
    scenario["seconds"] = round(time.perf_counter() - t0, 1)
    return scenario


def check_against_clean(settings: Settings) -> dict:
    """Compare the cleaned incidents per village and quarter with the recorded ones.

    Reads the clean incident tables of every quarter of the scenario (clean first:
    ``clean.clean_range``) and the truth. Returns totals (true, exported, expected clean,
    cleaned), the share of exported incidents the cleaning's quarantine loses, and the
    village-quarters where the cleaned count differs from the expected clean count.
    """
    types = pd.read_parquet(settings.truth_city_dir / SCENARIO_TYPES_FILE)
    truth = types.groupby(["villcode", "period"])[
        ["true_incidents", "exported_incidents", "clean_expected_incidents"]
    ].sum()
    got = []
    for period in sorted(types["period"].unique()):
        inc = pd.read_parquet(settings.period(period).incidents, columns=["villcode", "case_type"])
        got.append(
            inc.groupby("villcode").size().rename("cleaned").to_frame().assign(period=period)
        )
    cleaned = pd.concat(got).reset_index().set_index(["villcode", "period"])["cleaned"]
    both = truth.join(cleaned, how="outer").fillna(0)
    diff = both["cleaned"] - both["clean_expected_incidents"]
    totals = both.sum()
    return {
        "true_incidents": int(totals["true_incidents"]),
        "exported_incidents": int(totals["exported_incidents"]),
        "clean_expected_incidents": int(totals["clean_expected_incidents"]),
        "cleaned_incidents": int(totals["cleaned"]),
        "quarantine_loss": round(
            1 - totals["clean_expected_incidents"] / totals["exported_incidents"], 4
        ),
        "village_quarters_differing": int((diff != 0).sum()),
        "max_abs_difference": int(diff.abs().max()),
        "by_case_type": _by_type(settings, types),
    }


def _by_type(settings: Settings, types: pd.DataFrame) -> dict:
    """Cleaned and expected clean incidents per case type over every quarter."""
    got = pd.concat(
        pd.read_parquet(settings.period(p).incidents, columns=["case_type"])
        for p in sorted(types["period"].unique())
    )["case_type"].value_counts()
    want = types.groupby("case_type")["clean_expected_incidents"].sum()
    return {c: {"cleaned": int(got.get(c, 0)), "expected": int(want.get(c, 0))} for c in CASE_TYPES}


def main(argv: list[str] | None = None) -> dict:
    """Command line: generate one scenario under ``--root`` (raw/, truth/, and with
    ``--clean`` clean/ and the comparison of cleaned and recorded incidents)."""
    ap = argparse.ArgumentParser(prog="python -m dv_analysis.synth.scenarios")
    ap.add_argument("--kind", required=True, choices=sorted(KINDS))
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--root", required=True, help="folder of raw/, clean/, truth/, reports/")
    ap.add_argument("--start", default="2017Q1")
    ap.add_argument("--end", default="2020Q4")
    ap.add_argument("--extra-quarters", type=int, default=1)
    ap.add_argument("--volume", type=float, default=1.0)
    ap.add_argument("--clean", action="store_true", help="clean the exports and compare")
    a = ap.parse_args(argv)
    root = Path(a.root)
    s = Settings.from_args(
        raw_dir=root / "raw",
        clean_dir=root / "clean",
        reports_dir=root / "reports",
        truth_dir=root / "truth",
    )
    out = generate_scenario(s, a.kind, a.seed, a.start, a.end, a.extra_quarters, a.volume, True)
    print(f"{a.kind} seed {a.seed}: generated in {out['seconds']} s under {root}")
    if a.clean:
        from dv_analysis.stages import clean

        t0 = time.perf_counter()
        last = out["heldout_periods"][-1] if out["heldout_periods"] else a.end
        clean.clean_range(s, a.start, last, progress=False)
        out["check"] = check_against_clean(s)
        out["clean_seconds"] = round(time.perf_counter() - t0, 1)
        print(f"cleaned in {out['clean_seconds']} s: {out['check']}")
    return out


if __name__ == "__main__":
    main()
