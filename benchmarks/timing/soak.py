"""Soak: many random synthetic worlds, each run end to end as a new user would (issue 40).

Every world is synthetic exports for a random city (臺北市 63000, 新北市 65000, 桃園市
68000), seed, volume (scale 0.1–2.0, log-uniform) and history (1–16 quarters ending at a
random quarter the population registers cover), then the one command of the product's
default path, ``dv-analysis run --period END`` in a fresh folder. Two worlds are special:
one has a district without a single case (``ModelParams.empty_districts``) and one has a
quarter of the four-quarter window missing (its raw folder removed).

A world passes when the run ends ``ok`` with its plan made (``manifest.json``'s ``plan``
``ok``); a plan marked failed is a failure of the soak too (the quarter is kept, but no
known reason is accepted). The table says which world, how, and how long each step took.

    python benchmarks/timing/soak.py [--worlds 30] [--seed 2026] [--out benchmarks/timing/soak.json]
    python benchmarks/timing/soak.py --fast     # the suite's three small worlds (tests/test_soak.py)

Worlds run one after the other, each run on both cores (``--jobs`` default). ``--keep DIR``
keeps the worlds' folders.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

CITIES = ("63000", "65000", "68000")
FIRST, LAST = (2014, 2), (2021, 1)  # the quarters the population registers cover


@dataclass(frozen=True)
class World:
    """One soak world: what to generate and how to run it."""

    name: str
    city: str
    seed: int
    scale: float
    start: str
    end: str
    special: str = ""  # "", "empty_district" or "missing_quarter"
    run_flags: tuple[str, ...] = field(default=())


def _quarter(index: int) -> str:
    return f"{index // 4}Q{index % 4 + 1}"


def _index(year: int, q: int) -> int:
    return year * 4 + q - 1


def draw_worlds(n: int, seed: int) -> list[World]:
    """``n`` random worlds; the first has a district without cases, the second a missing
    quarter of its window."""
    rng = np.random.default_rng(seed)
    first, last = _index(*FIRST), _index(*LAST)
    out = []
    for k in range(n):
        quarters = int(rng.integers(1, 17))
        special = {0: "empty_district", 1: "missing_quarter"}.get(k, "")
        if special == "missing_quarter":
            quarters = max(quarters, 6)
        end = int(rng.integers(first + quarters - 1, last + 1))
        city = str(rng.choice(CITIES, p=[0.5, 0.25, 0.25]))
        scale = float(np.exp(rng.uniform(np.log(0.1), np.log(2.0))))
        out.append(
            World(
                f"w{k:02d}",
                city,
                int(rng.integers(1, 10_000)),
                round(scale, 3),
                _quarter(end - quarters + 1),
                _quarter(end),
                special,
            )
        )
    return out


def fast_worlds() -> list[World]:
    """The suite's subset: a small Taipei world of two quarters, a district without cases
    and a missing quarter (Taoyuan), with the suite's fast permutation settings (New Taipei
    and all of Taiwan end to end are ``tests/test_multicity.py``'s)."""
    fast = (
        "-p",
        "permutations",
        "999",
        "-p",
        "panel_permutations",
        "199",
        "-p",
        "scan_simulations",
        "99",
    )
    return [
        World("fast-taipei", "63000", 21, 0.05, "2020Q3", "2020Q4", "", fast),
        World("fast-empty", "63000", 22, 0.08, "2020Q4", "2020Q4", "empty_district", fast),
        World("fast-missing", "68000", 23, 0.1, "2019Q4", "2020Q4", "missing_quarter", fast),
    ]


def _settings(root: Path, city: str):
    from dv_analysis.config import Settings

    return Settings.from_args(
        "", str(root / "raw"), str(root / "clean"), str(root / "reports"), city=city
    )


def _empty_district(settings, world: World) -> str:
    """The district without cases: the one with the fewest villages (drawn by the seed)."""
    from dv_analysis import layers

    towns = layers.load_boundaries(settings)["townname"].value_counts()
    fewest = towns[towns == towns.min()].index.sort_values()
    return str(fewest[world.seed % len(fewest)])


def synthesise(world: World, root: Path) -> dict:
    """The world's raw exports in ``root/raw``; what was special about it."""
    from dv_analysis.synth import ModelParams, SynthConfig, generate

    settings = _settings(root, world.city)
    model, note = ModelParams(), {}
    if world.special == "empty_district":
        town = _empty_district(settings, world)
        model, note = replace(model, empty_districts=(town,)), {"empty_district": town}
    cfg = SynthConfig(
        city=world.city,
        start=world.start,
        end=world.end,
        seed=world.seed,
        scale=world.scale,
        model=model,
    )
    generate(settings, cfg, progress=False)
    if world.special == "missing_quarter":
        folders = sorted(p for p in settings.raw_dir.iterdir() if p.is_dir())
        gone = folders[-3]  # inside the last four quarters' window
        shutil.rmtree(gone)
        note = {"missing_quarter": gone.name}
    return note


def run_world(world: World, root: Path) -> dict:
    """Synthesise and run one world; its row of the soak's table."""
    row = {**asdict(world), "run_flags": list(world.run_flags)}
    t0 = time.perf_counter()
    row.update(synthesise(world, root))
    row["synth_seconds"] = round(time.perf_counter() - t0, 1)
    dirs = [
        "--raw-dir",
        str(root / "raw"),
        "--clean-dir",
        str(root / "clean"),
        "--reports-dir",
        str(root / "reports"),
    ]
    cmd = [
        sys.executable,
        "-m",
        "dv_analysis.cli",
        "run",
        "--period",
        world.end,
        "--city",
        world.city,
        "--quiet",
        *dirs,
        *world.run_flags,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    row["run_seconds"] = round(time.perf_counter() - t0, 1)
    row["exit"] = proc.returncode
    manifest_path = root / "reports" / world.end / "manifest.json"
    m = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    row["status"] = m.get("status", "no manifest")
    row["plan"] = m.get("plan", {}).get("status", "missing")
    row["plan_reason"] = m.get("plan", {}).get("reason", "")
    row["notifications"] = _notifications(root / "clean" / world.end)
    row["notebook_seconds"] = {
        e["notebook"].split("_")[0]: e.get("seconds") for e in m.get("notebooks", [])
    }
    row["cleaned_quarters"] = len(m.get("window", {}).get("cleaned", []))
    row["cleaning_seconds"] = m.get("window", {}).get("cleaning_seconds")
    row["passed"] = proc.returncode == 0 and row["status"] == "ok" and row["plan"] == "ok"
    if not row["passed"]:
        row["error"] = (proc.stderr.strip().splitlines() or [""])[-1][:400]
    return row


def _notifications(clean: Path) -> int | None:
    summary = clean / "cleaning_summary.json"
    if not summary.exists():
        return None
    s = json.loads(summary.read_text(encoding="utf-8"))
    return s.get("notifications", s.get("rows_out"))


def table(rows: list[dict]) -> str:
    """The soak's results as a Markdown table."""
    head = (
        "| world | city | quarters | scale | special | synth s | run s | status | plan |\n"
        "|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        special = r["special"] + (
            f" ({r.get('empty_district') or r.get('missing_quarter')})" if r["special"] else ""
        )
        lines.append(
            f"| {r['name']} | {r['city']} | {r['start']}–{r['end']} | {r['scale']} |"
            f" {special} | {r['synth_seconds']} | {r['run_seconds']} | {r['status']} |"
            f" {r['plan']}{' (' + r['plan_reason'] + ')' if r['plan_reason'] else ''} |"
        )
    return head + "\n".join(lines)


def soak(worlds: list[World], keep: Path | None = None, progress: bool = True) -> list[dict]:
    """Run every world; their rows (printed as they end)."""
    rows = []
    base = keep or Path(tempfile.mkdtemp(prefix="dv-soak-"))
    try:
        for i, w in enumerate(worlds, 1):
            row = run_world(w, base / w.name)
            rows.append(row)
            if progress:
                verdict = "pass" if row["passed"] else f"FAIL {row.get('error', '')}"
                print(
                    f"[{i}/{len(worlds)}] {w.name} {w.city} {w.start}–{w.end} scale {w.scale}"
                    f" {w.special}: {row['status']}, plan {row['plan']},"
                    f" {row['synth_seconds'] + row['run_seconds']:.0f} s: {verdict}",
                    flush=True,
                )
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worlds", type=int, default=30)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--fast", action="store_true", help="the suite's three small worlds")
    ap.add_argument("--out", type=Path, help="write the rows as JSON")
    ap.add_argument("--keep", type=Path, help="keep the worlds' folders here")
    args = ap.parse_args()
    worlds = fast_worlds() if args.fast else draw_worlds(args.worlds, args.seed)
    t0 = time.perf_counter()
    rows = soak(worlds, args.keep)
    total = time.perf_counter() - t0
    passed = sum(r["passed"] for r in rows)
    print(table(rows))
    print(f"\n{passed} of {len(rows)} worlds passed in {total / 60:.1f} min", flush=True)
    if args.out:
        args.out.write_text(
            json.dumps(
                {"rows": rows, "minutes": round(total / 60, 1)}, ensure_ascii=False, indent=1
            )
        )
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
