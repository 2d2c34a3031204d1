"""Time each stage of the suite: wall, CPU and peak memory, on this machine.

    .venv/bin/python benchmarks/run_benchmarks.py [--quarters 4] [--out benchmarks/results.json]

Each stage runs in its own process (so peak memory is that stage's own, read with
``resource.getrusage(RUSAGE_CHILDREN)``), in a temporary folder, on synthetic Taipei
data at realistic volume:

1. synthetic exports for ``--quarters`` quarters;
2. cleaning of all of them (``dv-analysis clean``);
3. one quarter end to end (``dv-analysis run``: every notebook, HTML, audit);
4. hotspot statistics for the 456 villages (Gi* and local Moran, 9,999 permutations)
   against a bare esda call on the same data, both after numba is warm.

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

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

HOTSPOT_BENCH = r"""
import time, json, sys
import numpy as np, esda
from dv_analysis import hotspots as H, public
from dv_analysis.config import Settings
b = public.load_boundaries(Settings.from_args())
w, _ = H.build_weights(b)
y = np.random.default_rng(0).gamma(2.0, 1.0, len(b))
H.local_statistics(y, w, b["villcode"].to_numpy(), permutations=99, seed=1)  # warm numba
t = time.perf_counter(); H.local_statistics(y, w, b["villcode"].to_numpy(), permutations=9999, seed=1); ours = time.perf_counter() - t
kw = dict(permutations=9999, seed=1, n_jobs=1, keep_simulations=False)
def bare(**extra):
    w.transform = "r"; esda.Moran_Local(y, w, **kw, **extra)
    w.transform = "b"; esda.G_Local(y, w, transform="B", star=True, **kw, **extra)
t = time.perf_counter(); bare(alternative="two-sided"); bare_s = time.perf_counter() - t
t = time.perf_counter(); bare(); directed = time.perf_counter() - t
print(json.dumps({"ours_s": ours, "bare_esda_s": bare_s, "bare_esda_directed_s": directed}))
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quarters", type=int, default=4, help="quarters of synthetic data (ending 2020Q4)"
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    args = ap.parse_args()
    from dv_analysis.config import Period

    end = Period(2020, 4)
    start = end
    for _ in range(args.quarters - 1):
        start = start.previous()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            DV_RAW_DIR=f"{tmp}/raw",
            DV_CLEAN_DIR=f"{tmp}/clean",
            DV_REPORTS_DIR=f"{tmp}/reports",
            DV_TRUTH_DIR=f"{tmp}/truth",
        )
        cli = str(BIN / "dv-analysis")
        results.append(
            stage(
                f"synth {args.quarters} quarters",
                [cli, "synth", "--start", str(start), "--end", str(end)],
                env,
            )
        )
        results.append(
            stage(
                f"clean {args.quarters} quarters",
                [cli, "clean", "--start", str(start), "--end", str(end)],
                env,
            )
        )
        results.append(
            stage(
                "run 2020Q4 end to end (5 notebooks, HTML, audit)",
                [cli, "run", "--period", str(end), "--quiet"],
                env,
            )
        )
        manifest = json.loads(Path(f"{tmp}/reports/{end}/manifest.json").read_text())
        results[-1]["notebooks"] = {n["notebook"]: n["seconds"] for n in manifest["notebooks"]}
        hs = stage(
            "hotspots 456 villages, 9,999 permutations", [sys.executable, "-c", HOTSPOT_BENCH], env
        )
        hs.update(json.loads(hs.pop("stdout_tail")[0]))
        results.append(hs)
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
    print(json.dumps(results[-2].get("notebooks"), ensure_ascii=False))
    print(
        f"hotspots: ours {results[-1]['ours_s']:.2f} s, bare esda {results[-1]['bare_esda_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
