"""The ``dv-analysis`` command: one handler per subcommand.

``synth`` (synthetic exports), ``clean`` (a range of quarters), ``run`` (the notebooks
of a period or a range), ``plan`` and ``caseload`` (an add-on of a period again, with other
settings), ``hotspots`` (any layer), ``smooth`` (BYM2 relative risks for any layer),
``overlay`` (any layer beside domestic-violence risk, :mod:`.overlay`), ``audit`` (a report
folder).
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import signal
import sys
from pathlib import Path

from dv_analysis.config import CITIES, DEFAULT_CITY, Settings
from dv_analysis.errors import DVAnalysisError, MissingInputError, ParameterError

_DIR_HELP = {
    "public": "public layers (default: $DV_PUBLIC_DIR or ../shared/data/public)",
    "raw": "raw case exports, one folder per period (default: $DV_RAW_DIR or data_raw/)",
    "clean": "clean tables (default: $DV_CLEAN_DIR or data_clean/)",
    "reports": "reports (default: $DV_REPORTS_DIR or reports/)",
    "truth": "synthetic ground truth (default: $DV_TRUTH_DIR or data_truth/)",
}

__all__ = ["build_parser", "main"]


def _dirs(p: argparse.ArgumentParser, *which: str) -> None:
    for w in which:
        p.add_argument(f"--{w}-dir", default=None, help=_DIR_HELP[w])


def _city(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--city",
        default=DEFAULT_CITY,
        choices=list(CITIES),
        help="city code (default 63000 臺北市)",
    )


def _settings(args: argparse.Namespace) -> Settings:
    """Settings from whichever directory flags and city the subcommand has."""
    dirs = {
        f"{d}_dir": getattr(args, f"{d}_dir", None)
        for d in ("public", "raw", "clean", "reports", "truth")
    }
    return Settings.from_args(**dirs, city=getattr(args, "city", DEFAULT_CITY))


def _literal(text: str):
    """A parameter value: a Python literal (999, 0.1, True) when it parses, else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


# --- synth -------------------------------------------------------------------------------
def _add_synth(sub) -> None:
    s = sub.add_parser("synth", help="write synthetic case exports (raw format) with ground truth")
    _city(s)
    s.add_argument("--start", default="2015Q1", help="first quarter, e.g. 2015Q1")
    s.add_argument("--end", default="2020Q4", help="last quarter, e.g. 2020Q4")
    s.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    s.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="volume relative to realistic (1.0 ≈ 13,000 notifications a year for Taipei)",
    )
    s.add_argument(
        "--stop-locating",
        nargs=2,
        metavar=("UNIT", "PERIOD"),
        help="one reporting unit (e.g. 醫院) gives no village code, name or coordinates in one "
        "quarter (data-quality test; off by default)",
    )
    _dirs(s, "public", "raw", "truth")
    s.set_defaults(func=_synth)


def _synth(args: argparse.Namespace) -> None:
    from dv_analysis.synth import SynthConfig, generate

    settings = _settings(args)
    print(
        f"synthetic exports for {CITIES[args.city]} {args.start}…{args.end} (seed {args.seed}) → {settings.raw_dir}"
    )
    cfg = SynthConfig(
        city=args.city, start=args.start, end=args.end, seed=args.seed, scale=args.scale
    )
    if args.stop_locating:
        cfg.mess.stop_locating_unit, cfg.mess.stop_locating_period = args.stop_locating
    summary = generate(settings, cfg)
    n = sum(p["notifications"] for p in summary["periods"].values())
    print(
        f"{n:,} notifications in {len(summary['periods'])} quarters; ground truth in {settings.truth_city_dir}"
    )


# --- clean -------------------------------------------------------------------------------
def _add_clean(sub) -> None:
    c = sub.add_parser(
        "clean", help="clean a range of quarters without the notebooks (for panels and backfills)"
    )
    c.add_argument("--start", required=True, help="first quarter, e.g. 2015Q1")
    c.add_argument("--end", required=True, help="last quarter, e.g. 2020Q4")
    _city(c)
    _dirs(c, "public", "raw", "clean")
    c.set_defaults(func=_clean)


def _clean(args: argparse.Namespace) -> None:
    from dv_analysis.runner.modes import owner_only
    from dv_analysis.stages.clean import clean_range

    with owner_only():  # clean tables are case-level: the owner's alone
        clean_range(_settings(args), args.start, args.end)


# --- hotspots ----------------------------------------------------------------------------
def _add_hotspots(sub) -> None:
    h = sub.add_parser("hotspots", help="hotspot statistics for any polygon file or point CSV")
    h.add_argument("input", help="GeoPackage, GeoJSON, shapefile, or CSV with x and y columns")
    h.add_argument("--count", required=True, help="column with the counts")
    h.add_argument(
        "--population", default=None, help="column with the population (rates are EB-smoothed)"
    )
    h.add_argument("--id", default=None, help="column identifying the areas")
    h.add_argument(
        "--weights",
        default=None,
        help="queen (polygon default), rook, distance:D or knn:K (point default knn:6)",
    )
    h.add_argument(
        "--permutations", type=int, default=9999, help="permutations for the local tests"
    )
    h.add_argument("--seed", type=int, default=42, help="random seed")
    h.add_argument("--alpha", type=float, default=0.05, help="significance after FDR control")
    h.add_argument("--out", required=True, help="output CSV, one row per area")
    h.set_defaults(func=_hotspots)


def _hotspots(args: argparse.Namespace) -> None:
    from dv_analysis.cli.any_layer import analyse_file

    table, res = analyse_file(
        args.input,
        args.count,
        args.population,
        args.id,
        args.weights,
        args.permutations,
        args.seed,
        args.alpha,
    )
    table.to_csv(args.out, index=False, encoding="utf-8-sig")
    m = res.moran_rate
    print(f"global Moran's I = {m.I:.6f} (z = {m.z_norm:.2f}, pseudo p = {m.p_sim})")
    if args.population:
        print(f"EB-standardised Moran's I = {res.moran_eb.I:.6f} (z = {res.moran_eb.z_norm:.2f})")
    n_hot, n_cold = int((table["gi_bin"] > 0).sum()), int((table["gi_bin"] < 0).sum())
    print(f"{n_hot} hot and {n_cold} cold areas (Gi*, FDR {args.alpha}); {res.weights}")
    print(f"wrote {len(table)} rows to {args.out}")


# --- smooth ------------------------------------------------------------------------------
def _add_smooth(sub) -> None:
    m = sub.add_parser("smooth", help="BYM2 relative risks with credible intervals for any layer")
    m.add_argument("input", help="GeoPackage, GeoJSON, shapefile, or CSV with x and y columns")
    m.add_argument("--count", required=True, help="column with the counts")
    group = m.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--population", help="column with the population (expected = population × overall rate)"
    )
    group.add_argument("--expected", help="column with the expected counts")
    m.add_argument(
        "--covariate",
        action="append",
        default=[],
        help="a covariate column (repeat for more; standardised)",
    )
    m.add_argument("--id", required=True, help="column identifying the areas")
    m.add_argument(
        "--time",
        default=None,
        help="column of the period, for a panel (one row per area and period): the space-time"
        " model, with each area's present risk and its direction (docs/risk_model.md)",
    )
    m.add_argument(
        "--weights",
        default="queen",
        help="queen (default), rook, knn:K or a .gal file of neighbours by id",
    )
    m.add_argument(
        "--engine",
        choices=("laplace", "nuts"),
        default="laplace",
        help="laplace (default: nested Laplace, seconds) or nuts (NumPyro's NUTS, the"
        " reference; minutes)",
    )
    m.add_argument(
        "--draws",
        type=int,
        default=1000,
        help="kept draws per chain (4 chains; laplace: 4 × this many draws)",
    )
    m.add_argument("--warmup", type=int, default=500, help="warm-up iterations per chain (nuts)")
    m.add_argument("--seed", type=int, default=42, help="random seed (same seed, same numbers)")
    m.add_argument(
        "--out", required=True, help="output CSV: id, rr_mean, rr_low, rr_high, p_exceed_1"
    )
    m.add_argument(
        "--summary", default=None, help="output JSON: fixed effects, sigma, rho, diagnostics"
    )
    m.set_defaults(func=_smooth)


def _smooth(args: argparse.Namespace) -> None:
    import json

    from dv_analysis.cli.any_layer import smooth_file

    if args.time:
        return _smooth_panel(args)

    table, fit = smooth_file(
        args.input,
        args.count,
        args.id,
        args.population,
        args.expected,
        tuple(args.covariate),
        args.weights,
        args.draws,
        args.warmup,
        seed=args.seed,
        engine=args.engine,
    )
    table.to_csv(args.out, index=False, encoding="utf-8-sig")
    if args.summary:
        Path(args.summary).write_text(json.dumps(fit.summary(), ensure_ascii=False, indent=1))
    d, h = fit.diagnostics, fit.hyperparameters
    print(
        f"BYM2 ({args.engine}) on {len(table)} areas: sigma {h['sigma']['mean']:.3f}, "
        f"rho {h['rho']['mean']:.3f}; {_bym2_checks(d)}"
    )
    if not fit.ok:
        hint = "raise --draws and --warmup" if args.engine == "nuts" else "try --engine nuts"
        print(
            f"WARNING: the fit missed its checks ({_bym2_checks(d)}): do not use these "
            f"numbers; {hint}",
            file=sys.stderr,
        )
    print(f"wrote {len(table)} rows to {args.out}")


def _bym2_checks(d: dict) -> str:
    """A pooled BYM2 fit's checks in one line, for either engine."""
    if d.get("engine") == "laplace":
        return (
            f"θ search converged {d['theta_search_converged']}, grid edge mass "
            f"{d['edge_mass']:.3f} (limit 0.01), importance ESS share "
            f"{d['importance_ess_share']:.2f} (limit 0.10)"
        )
    return (
        f"R-hat max {d['rhat_max']:.3f} (limit 1.01), bulk ESS min "
        f"{d['ess_bulk_min']:.0f} (limit 400)"
    )


def _smooth_panel(args: argparse.Namespace) -> None:
    """``smooth --time``: the space-time model of a panel."""
    import json

    from dv_analysis.cli.any_layer import smooth_panel_file

    if args.engine != "laplace":
        raise ParameterError(
            "--engine nuts is not supported with --time: the space-time model is"
            " fitted by nested Laplace here (NUTS: dv-analysis run -p engine nuts)"
        )
    table, summary = smooth_panel_file(
        args.input,
        args.count,
        args.id,
        args.time,
        args.population,
        args.expected,
        args.weights,
        seed=args.seed,
        covariates=tuple(args.covariate),
    )
    table.to_csv(args.out, index=False, encoding="utf-8-sig")
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary, ensure_ascii=False, indent=1))
    h, d = summary["hyperparameters"], summary["diagnostics"]
    print(
        f"space-time model on {len(table)} areas × {len(summary['periods'])} periods:"
        f" sigma {h['sigma']['mean']:.3f}, rho {h['rho']['mean']:.3f},"
        f" sigma_delta {h['sigma_delta']['mean']:.3f}, sigma_eps {h['sigma_eps']['mean']:.3f}"
    )
    for name, f in summary.get("fixed_effects", {}).items():
        irr = f["irr"]
        print(
            f"  {name}: rate ratio per unit {irr['median']:.4g}"
            f" (90 % interval {irr['q05']:.4g} to {irr['q95']:.4g})"
        )
    if not d.get("ok", True):
        print(
            f"WARNING: the fit missed its checks ({d.get('message', '')}): do not use these"
            " numbers",
            file=sys.stderr,
        )
    print(f"wrote {len(table)} rows to {args.out}")


# --- audit -------------------------------------------------------------------------------
def _add_audit(sub) -> None:
    a = sub.add_parser(
        "audit", help="check staff/ and public/ of a period's reports for disclosure problems"
    )
    a.add_argument("folder", help="a period's report folder, e.g. reports/2020Q4")
    a.set_defaults(func=_audit)


def _audit(args: argparse.Namespace) -> None:
    from dv_analysis.disclosure import check

    manifest = Path(args.folder) / "manifest.json"
    level = "district"
    if manifest.exists():
        level = json.loads(manifest.read_text(encoding="utf-8")).get("public_level", level)
    check(Path(args.folder), public_level=level)
    print(f"{args.folder}: disclosure audit passed (staff/ and public/)")


# --- run ---------------------------------------------------------------------------------
def _add_run(sub) -> None:
    r = sub.add_parser(
        "run", help="run every notebook for a period (or a range) and render the staff pages"
    )
    r.add_argument(
        "--period",
        required=True,
        help="quarter, e.g. 2020Q4, or a range 2016Q1:2020Q4 (unchanged periods are skipped)",
    )
    r.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="notebooks or quarters run at once: of one quarter, those that do not read each other; of a range, quarters after cleaning (default: the cores, at most 4)",
    )
    r.add_argument(
        "--force",
        action="store_true",
        help="recompute periods even when their inputs, code and parameters are unchanged",
    )
    _city(r)
    r.add_argument("--seed", type=int, default=42, help="random seed for permutation tests")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument(
        "--public-level",
        choices=("district", "village"),
        default=None,
        help="what the public tier publishes: district (default) or village"
        " (a deliberate choice, recorded in the manifest; docs/reports.md)",
    )
    r.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="another notebook parameter, e.g. -p permutations 999 (values are Python literals or text)",
    )
    _dirs(r, "public", "raw", "clean", "reports")
    r.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> None:
    from dv_analysis.runner import default_jobs, run_range

    extra = {name: _literal(value) for name, value in args.parameter}
    if args.public_level:
        extra["public_level"] = args.public_level
    start, _, end = args.period.partition(":")
    run_range(
        _settings(args),
        start,
        end or start,
        seed=args.seed,
        force=args.force,
        progress=not args.quiet,
        extra_parameters=extra,
        jobs=args.jobs or default_jobs(),
    )


def _add_plan(sub) -> None:
    p = sub.add_parser(
        "plan",
        help="the service plan of a period again (new sites, staff per district), with other settings",
    )
    p.add_argument(
        "--period", required=True, help="quarter whose run made the risk and the list, e.g. 2020Q4"
    )
    p.add_argument(
        "--new-sites", type=int, default=None, help="new service centres to place (default 2)"
    )
    p.add_argument(
        "--threshold-min",
        type=float,
        default=None,
        help="minutes within which a village counts as reached (default 30)",
    )
    p.add_argument("--staff", type=int, default=None, help="social workers to share (default 97)")
    p.add_argument(
        "--candidates", default=None, help="CSV of candidate sites: name, lon, lat (WGS84)"
    )
    p.add_argument("--staffing", default=None, help="CSV of today's staff: townname, staff")
    _city(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    _dirs(p, "public", "raw", "clean", "reports")
    p.set_defaults(func=_plan)


def _plan(args: argparse.Namespace) -> None:
    """Run 06_service_plan alone for a period that has been run, as ``run`` does (staged,
    audited, promoted only when it passes)."""
    paths = _settings(args).period(args.period)
    _run_addon(
        args,
        "06_service_plan.ipynb",
        needs=(paths.village_risk_draws, paths.village_priority),
        what="village risk or outreach list",
        extra={
            "new_sites": args.new_sites,
            "threshold_min": args.threshold_min,
            "staff": args.staff,
            "candidates": args.candidates and str(Path(args.candidates).resolve()),
            "staffing": args.staffing and str(Path(args.staffing).resolve()),
        },
    )


def _run_addon(args, notebook: str, needs, what: str, extra: dict) -> None:
    """Run one add-on notebook alone for a period that has been run, with the seed and
    parameters of its last run and the flags given (``None``: keep)."""
    from dv_analysis.runner import run

    settings = _settings(args)
    paths = settings.period(args.period)
    if not all(p.exists() for p in needs):
        raise MissingInputError(
            f"{args.period}: no {what} in {paths.clean};"
            f" run `dv-analysis run --period {args.period}` first"
        )
    seed, before = _run_parameters(paths)
    run(
        settings,
        args.period,
        notebooks=(notebook,),
        seed=seed,
        extra_parameters={**before, **{k: v for k, v in extra.items() if v is not None}},
        progress=not args.quiet,
        force=True,
    )


def _add_caseload(sub) -> None:
    c = sub.add_parser(
        "caseload",
        help="responsibility areas of a period again (one worker per area: 1里1主責社工)",
    )
    c.add_argument(
        "--period", required=True, help="quarter whose run made the risk model, e.g. 2020Q4"
    )
    c.add_argument(
        "--workers", type=int, default=None, help="social workers, one area each (default 97)"
    )
    c.add_argument(
        "--ceiling",
        type=float,
        default=None,
        help="most expected cases a quarter one worker should hold: how many workers it needs"
        " (default: the band's top)",
    )
    c.add_argument(
        "--staffing",
        default=None,
        help="CSV of workers per service centre: centre, workers (their sum is the areas)",
    )
    _city(c)
    c.add_argument("--quiet", action="store_true", help="no progress output")
    _dirs(c, "public", "raw", "clean", "reports")
    c.set_defaults(func=_caseload)


def _caseload(args: argparse.Namespace) -> None:
    """Run 07_caseload alone for a period that has been run, as ``plan`` does."""
    paths = _settings(args).period(args.period)
    _run_addon(
        args,
        "07_caseload.ipynb",
        needs=(paths.village_risk_draws, paths.accessibility),
        what="village risk or accessibility",
        extra={
            "workers": args.workers,
            "ceiling": args.ceiling,
            "centre_staffing": args.staffing and str(Path(args.staffing).resolve()),
        },
    )


def _run_parameters(paths) -> tuple[int, dict]:
    """The seed and the extra parameters (``-p``, ``--public-level``) of the period's last
    run, which ``plan`` keeps: only its own flags change."""
    from dv_analysis.runner import CORE_PARAMETERS
    from dv_analysis.runner.staging import read_json

    params = read_json(paths.manifest).get("parameters", {})
    extra = {k: v for k, v in params.items() if k not in CORE_PARAMETERS}
    return int(params.get("seed", 42)), extra


def build_parser() -> argparse.ArgumentParser:
    """The parser: global flags and one subparser per subcommand, each with its handler."""
    ap = argparse.ArgumentParser(
        prog="dv-analysis", description="Domestic-violence risk mapping per village (里)."
    )
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="log details (join reports, repairs)"
    )
    sub = ap.add_subparsers(dest="command", required=True)
    from dv_analysis.cli.overlay import add_overlay

    for add in (
        _add_synth,
        _add_clean,
        _add_hotspots,
        _add_smooth,
        _add_audit,
        _add_run,
        _add_plan,
        _add_caseload,
        add_overlay,
    ):
        add(sub)
    return ap


def _terminated(signum, frame) -> None:
    """SIGTERM ends a run as Ctrl-C does: the run records itself as interrupted."""
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        args.func(args)
    except DVAnalysisError as e:  # something the user can fix: one line saying how
        if args.verbose:
            raise
        print(f"dv-analysis {args.command}: error: {e.one_line()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        print(
            f"dv-analysis {args.command}: interrupted ({str(e) or 'Ctrl-C'}); finished outputs are"
            " unchanged, the manifest records the interruption",
            file=sys.stderr,
        )
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
