"""The ``dv-analysis`` command: ``synth`` (synthetic exports) and ``run`` (the notebooks of a period)."""

from __future__ import annotations

import argparse
import logging
import sys

from .config import CITIES, DEFAULT_CITY, Settings


def _dirs(p: argparse.ArgumentParser, *which: str) -> None:
    helps = {
        "public": "public layers (default: $DV_PUBLIC_DIR or ../shared/data/public)",
        "raw": "raw case exports, one folder per period (default: $DV_RAW_DIR or data_raw/)",
        "clean": "clean tables (default: $DV_CLEAN_DIR or data_clean/)",
        "reports": "reports (default: $DV_REPORTS_DIR or reports/)",
        "truth": "synthetic ground truth (default: $DV_TRUTH_DIR or data_truth/)",
    }
    for w in which:
        p.add_argument(f"--{w}-dir", default=None, help=helps[w])


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="dv-analysis", description="Domestic-violence risk mapping per village (里)."
    )
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="log details (join reports, repairs)"
    )
    sub = ap.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write synthetic case exports (raw format) with ground truth")
    s.add_argument(
        "--city",
        default=DEFAULT_CITY,
        choices=list(CITIES),
        help="city code (default 63000 臺北市)",
    )
    s.add_argument("--start", default="2015Q1", help="first quarter, e.g. 2015Q1")
    s.add_argument("--end", default="2020Q4", help="last quarter, e.g. 2020Q4")
    s.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    s.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="volume relative to realistic (1.0 ≈ 13,000 notifications a year for Taipei)",
    )
    _dirs(s, "public", "raw", "truth")

    c = sub.add_parser(
        "clean", help="clean a range of quarters without the notebooks (for panels and backfills)"
    )
    c.add_argument("--start", required=True, help="first quarter, e.g. 2015Q1")
    c.add_argument("--end", required=True, help="last quarter, e.g. 2020Q4")
    c.add_argument(
        "--city",
        default=DEFAULT_CITY,
        choices=list(CITIES),
        help="city code (default 63000 臺北市)",
    )
    _dirs(c, "public", "raw", "clean")

    r = sub.add_parser("run", help="run every notebook for a period and render the staff pages")
    r.add_argument("--period", required=True, help="quarter, e.g. 2020Q4")
    r.add_argument(
        "--city",
        default=DEFAULT_CITY,
        choices=list(CITIES),
        help="city code (default 63000 臺北市)",
    )
    r.add_argument("--seed", type=int, default=42, help="random seed for permutation tests")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    _dirs(r, "public", "raw", "clean", "reports")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "synth":
            from .synth import SynthConfig, generate

            settings = Settings.from_args(
                public_dir=args.public_dir,
                raw_dir=args.raw_dir,
                truth_dir=args.truth_dir,
                city=args.city,
            )
            print(
                f"synthetic exports for {CITIES[args.city]} {args.start}…{args.end} (seed {args.seed}) → {settings.raw_dir}"
            )
            summary = generate(
                settings,
                SynthConfig(
                    city=args.city, start=args.start, end=args.end, seed=args.seed, scale=args.scale
                ),
            )
            n = sum(p["notifications"] for p in summary["periods"].values())
            print(
                f"{n:,} notifications in {len(summary['periods'])} quarters; ground truth in {settings.truth_city_dir}"
            )
        elif args.command == "clean":
            from .cleaning import clean_range

            settings = Settings.from_args(
                public_dir=args.public_dir,
                raw_dir=args.raw_dir,
                clean_dir=args.clean_dir,
                city=args.city,
            )
            clean_range(settings, args.start, args.end)
        elif args.command == "run":
            from .runner import run

            settings = Settings.from_args(
                public_dir=args.public_dir, raw_dir=args.raw_dir, clean_dir=args.clean_dir,
                reports_dir=args.reports_dir, city=args.city,
            )  # fmt: skip
            run(settings, args.period, seed=args.seed, progress=not args.quiet)
    except Exception as e:  # noqa: BLE001 - the command line shows a clear message, not a traceback
        if args.verbose:
            raise
        print(f"dv-analysis {args.command}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
