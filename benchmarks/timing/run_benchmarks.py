"""Time each stage of the suite: wall, CPU and peak memory, on this machine.

    .venv/bin/python benchmarks/timing/run_benchmarks.py [--suite all] [--out benchmarks/results.json]
    make bench

Each stage runs in its own process (so peak memory is that stage's own, read with
``resource.getrusage(RUSAGE_CHILDREN)``), in a temporary folder, on synthetic data.
Suites (``--suite``, default ``all``):

``quarter``
    Taipei at realistic volume: synthetic exports for ``--quarters`` quarters, cleaning
    (``dv-analysis clean``), then one quarter end to end (``dv-analysis run``).
``backfill``
    Taipei, the 28 quarters the population registers cover (2014Q2–2021Q1): synthetic
    exports, ``dv-analysis run --period 2014Q2:2021Q1`` (every notebook of every quarter),
    then the same command again (every quarter unchanged, so skipped).
``national``
    All of Taiwan (7,701 villages) for 2020Q4: synthetic exports at ``--national-scale``,
    amplified to ``--national-rows`` notification rows (copies of the files with new
    notification ids and victim keys, written as CSV), then ``dv-analysis clean`` of those
    rows, and ``dv-analysis run --city all`` end to end on them.
``hotspots``
    Gi* and local Moran with 9,999 permutations for 456 (Taipei) and 7,701 (Taiwan)
    villages: the suite's ``local_statistics`` against a bare esda call on the same data.

Results are printed as a Markdown table and written as JSON; copy them to
docs/benchmarks.md with the machine described.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

HOTSPOT_BENCH = r"""
import time, json, sys
import numpy as np, esda
from dv_analysis import layers
from dv_analysis.stats.detection import autocorrelation as H
from dv_analysis.stats.weights import build_weights
from dv_analysis.config import Settings
b = layers.load_boundaries(Settings.from_args(city=sys.argv[1]))
w, _ = build_weights(b)
y = np.random.default_rng(0).gamma(2.0, 1.0, len(b))
t = time.perf_counter(); H.local_statistics(y, w, b["villcode"].to_numpy(), permutations=99, seed=1); first = time.perf_counter() - t
t = time.perf_counter(); H.local_statistics(y, w, b["villcode"].to_numpy(), permutations=9999, seed=1); ours = time.perf_counter() - t
kw = dict(permutations=9999, seed=1, n_jobs=1, keep_simulations=False)
def bare(**extra):
    w.transform = "r"; esda.Moran_Local(y, w, **kw, **extra)
    w.transform = "b"; esda.G_Local(y, w, transform="B", star=True, **kw, **extra)
kw99 = dict(kw, permutations=99)
t = time.perf_counter(); w.transform = "r"; esda.Moran_Local(y, w, alternative="two-sided", **kw99); w.transform = "b"; esda.G_Local(y, w, transform="B", star=True, alternative="two-sided", **kw99); bare_first = time.perf_counter() - t
t = time.perf_counter(); bare(alternative="two-sided"); bare_s = time.perf_counter() - t
t = time.perf_counter(); bare(); directed = time.perf_counter() - t
print(json.dumps({"n": len(b), "ours_first_call_s": first, "ours_s": ours, "bare_esda_first_call_s": bare_first, "bare_esda_s": bare_s, "bare_esda_directed_s": directed}))
"""


#: Runs a command and reports its own children's peak memory and CPU on the last stderr line.
WRAP = (
    "import json, resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
    "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(json.dumps({'rc': p.returncode, 'maxrss_kb': r.ru_maxrss, 'cpu': r.ru_utime + r.ru_stime}), file=sys.stderr)"
)


def stage(name: str, cmd: list[str], env: dict) -> dict:
    """Run one stage in a fresh wrapper process: wall, CPU and peak RSS of that stage alone."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", WRAP, *cmd], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    usage = json.loads(proc.stderr.strip().splitlines()[-1])
    if usage["rc"] != 0:
        raise SystemExit(f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return {
        "stage": name,
        "wall_s": round(wall, 1),
        "cpu_s": round(usage["cpu"], 1),
        "peak_rss_mb": round(usage["maxrss_kb"] / 1024),  # Linux reports KiB
        "stdout_tail": proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else [],
    }


AMPLIFY = r"""
import sys, pandas as pd
from pathlib import Path
from dv_analysis.stages.clean import HEADERS, read_raw_file
src, dst, target = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
dst.mkdir(parents=True, exist_ok=True)
frames = [(f, read_raw_file(f)) for f in sorted(src.glob("*")) if f.suffix in (".csv", ".xlsx")]
base = sum(len(r.frame) for _, r in frames)
copies = -(-target // base)
rows = 0
for k in range(copies):
    for f, r in frames:
        df = r.frame[list(HEADERS.values())].copy()
        nid = df["notification_id"]
        df["notification_id"] = nid.where(nid.eq(""), "DV" + str(k).zfill(2) + nid.str[2:])
        df["victim_key"] = str(k).zfill(2) + df["victim_key"]
        df.columns = list(HEADERS)
        enc = "cp950" if r.encoding == "cp950" else "utf-8"
        df.to_csv(dst / f"{f.stem}_copy{k:02d}.csv", index=False, encoding=enc, errors="replace")
        rows += len(df)
print(f"{rows} rows in {copies * len(frames)} files ({copies} copies of {base} rows)")
"""


def suite_quarter(args, cli: str, env: dict, tmp: str) -> list[dict]:
    """Taipei at realistic volume: synth and clean ``--quarters`` quarters, run the last one."""
    from dv_analysis.config import Period

    end = Period(2020, 4)
    start = end
    for _ in range(args.quarters - 1):
        start = start.previous()
    out = [
        stage(
            f"Taipei: synth {args.quarters} quarters",
            [cli, "synth", "--start", str(start), "--end", str(end)],
            env,
        ),
        stage(
            f"Taipei: clean {args.quarters} quarters",
            [cli, "clean", "--start", str(start), "--end", str(end)],
            env,
        ),
        stage(
            f"Taipei: run {end} end to end (7 notebooks, HTML, audit)",
            [cli, "run", "--period", str(end), "--quiet", "--force"],
            env,
        ),
    ]
    manifest = json.loads(Path(env["DV_REPORTS_DIR"], str(end), "manifest.json").read_text())
    out[-1]["notebooks"] = {n["notebook"]: n["seconds"] for n in manifest["notebooks"]}
    return out


def suite_backfill(args, cli: str, env: dict, tmp: str) -> list[dict]:
    """Taipei, 28 quarters: synth, run the whole range, run it again (all skipped)."""
    start, end = "2014Q2", "2021Q1"
    out = [
        stage(
            "Taipei: synth 28 quarters (2014Q2–2021Q1)",
            [cli, "synth", "--start", start, "--end", end],
            env,
        ),
        stage(
            "Taipei: run --period 2014Q2:2021Q1 (28 quarters, every notebook, default --jobs)",
            [cli, "run", "--period", f"{start}:{end}", "--quiet"],
            env,
        ),
        stage(
            "Taipei: the same range again (unchanged: every quarter skipped)",
            [cli, "run", "--period", f"{start}:{end}", "--quiet"],
            env,
        ),
    ]
    return out


def suite_national(args, cli: str, env: dict, tmp: str) -> list[dict]:
    """All of Taiwan, 2020Q4: synth, amplify to --national-rows, clean them; run end to end."""
    nat = dict(
        env,
        DV_RAW_DIR=f"{tmp}/nat_raw",
        DV_CLEAN_DIR=f"{tmp}/nat_clean",
        DV_REPORTS_DIR=f"{tmp}/nat_reports",
        DV_TRUTH_DIR=f"{tmp}/nat_truth",
    )
    big = dict(
        nat,
        DV_RAW_DIR=f"{tmp}/big_raw",
        DV_CLEAN_DIR=f"{tmp}/big_clean",
        DV_REPORTS_DIR=f"{tmp}/big_reports",
    )
    out = [
        stage(
            f"Taiwan: synth 2020Q4 at scale {args.national_scale}",
            [
                cli,
                "synth",
                "--city",
                "all",
                "--start",
                "2020Q4",
                "--end",
                "2020Q4",
                "--scale",
                str(args.national_scale),
            ],
            nat,
        ),
        stage(
            f"Taiwan: amplify 2020Q4 to {args.national_rows:,} rows (CSV)",
            [
                sys.executable,
                "-c",
                AMPLIFY,
                f"{tmp}/nat_raw/2020Q4",
                f"{tmp}/big_raw/2020Q4",
                str(args.national_rows),
            ],
            nat,
        ),
        stage(
            f"Taiwan: clean {args.national_rows:,} notification rows (one quarter)",
            [cli, "clean", "--city", "all", "--start", "2020Q4", "--end", "2020Q4"],
            big,
        ),
        stage(
            f"Taiwan: run 2020Q4 end to end on the {args.national_rows:,} rows (7,701 villages,"
            " 7 notebooks, HTML, audit)",
            [cli, "run", "--city", "all", "--period", "2020Q4", "--quiet", "--force"],
            big,
        ),
    ]
    manifest = json.loads(Path(big["DV_REPORTS_DIR"], "2020Q4", "manifest.json").read_text())
    out[-1]["notebooks"] = {n["notebook"]: n["seconds"] for n in manifest["notebooks"]}
    return out


def suite_hotspots(args, cli: str, env: dict, tmp: str) -> list[dict]:
    """Gi* and local Moran, 9,999 permutations: ours against bare esda, Taipei and Taiwan."""
    out = []
    for city, label in (("63000", "456 villages"), ("all", "7,701 villages")):
        hs = stage(
            f"hotspots {label}, 9,999 permutations (one process)",
            [sys.executable, "-c", HOTSPOT_BENCH, city],
            env,
        )
        hs.update(json.loads(hs.pop("stdout_tail")[0]))
        out.append(hs)
    return out


SUITES = {
    "quarter": suite_quarter,
    "backfill": suite_backfill,
    "national": suite_national,
    "hotspots": suite_hotspots,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--suite",
        choices=[*SUITES, "all"],
        action="append",
        help="which suite(s) to run (repeatable; default all)",
    )
    ap.add_argument(
        "--quarters", type=int, default=4, help="quarters of synthetic data (ending 2020Q4)"
    )
    ap.add_argument(
        "--national-scale",
        type=float,
        default=5.0,
        help="volume of the national synthetic exports (1.0 ≈ 29,000 a quarter)",
    )
    ap.add_argument(
        "--national-rows",
        type=int,
        default=1_500_000,
        help="notification rows to clean in the national cleaning benchmark",
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    args = ap.parse_args()
    suites = list(SUITES) if not args.suite or "all" in args.suite else args.suite
    results = []
    cli = str(BIN / "dv-analysis")
    for name in suites:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(
                os.environ,
                DV_RAW_DIR=f"{tmp}/raw",
                DV_CLEAN_DIR=f"{tmp}/clean",
                DV_REPORTS_DIR=f"{tmp}/reports",
                DV_TRUTH_DIR=f"{tmp}/truth",
            )
            print(f"--- suite {name}", flush=True)
            for r in SUITES[name](args, cli, env, tmp):
                r["suite"] = name
                results.append(r)
                print(f"  {r['stage']}: {r['wall_s']} s wall, {r['peak_rss_mb']} MB", flush=True)
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "system": platform.platform(),
    }
    Path(args.out).write_text(
        json.dumps({"machine": machine, "results": results}, indent=1, ensure_ascii=False)
    )
    print("| stage | wall (s) | CPU (s) | peak RSS (MB) |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['stage']} | {r['wall_s']} | {r['cpu_s']} | {r['peak_rss_mb']:.0f} |")
    for r in results:
        if "notebooks" in r:
            print(r["stage"], json.dumps(r["notebooks"], ensure_ascii=False))
        if "ours_s" in r:
            print(r["stage"], {k: round(v, 2) for k, v in r.items() if k.endswith("_s")})


if __name__ == "__main__":
    main()
