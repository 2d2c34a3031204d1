"""``dv-analysis overlay FILE``: another layer of the city beside domestic-violence risk.

Runs :func:`dv_analysis.stages.overlay.run` and writes, beside its tables, the staff page
(``overlay.html``, :mod:`dv_analysis.pages.overlay`) and the district-level open data
(``open_data/overlay_districts.csv`` with its data dictionary, under the disclosure policy).
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

from dv_analysis.config import CITIES, DEFAULT_CITY


def add_overlay(sub) -> None:
    """The ``overlay`` subcommand's flags."""
    o = sub.add_parser(
        "overlay",
        help="put any layer (points, addresses, village or district table) on the villages",
    )
    o.add_argument("input", help="CSV or Excel file of the layer")
    o.add_argument(
        "--kind", default="addresses", choices=("points", "addresses", "villages", "districts")
    )
    o.add_argument(
        "--period",
        default="",
        help="quarter the window ends at (e.g. 2020Q4) or a range 2019Q1:2020Q4"
        " (default: the quarter of the latest domestic-violence outputs, else the layer's last"
        " complete quarter)",
    )
    o.add_argument("--window", type=int, default=12, help="quarters of a dated layer (default 12)")
    o.add_argument(
        "--dv-period", default="", help="quarter of domestic-violence outputs to compare"
    )
    o.add_argument("--count", default="", help="tables: the column with the counts")
    o.add_argument("--city", default=DEFAULT_CITY, choices=list(CITIES), help="city code")
    o.add_argument("--permutations", type=int, default=9999, help="permutations and surrogates")
    o.add_argument("--seed", type=int, default=42)
    o.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="another OverlayParams field, e.g. -p address 地址 (docs/overlay.md)",
    )
    o.add_argument(
        "--name", default="", help="the layer's name on the staff page (default: file name)"
    )
    o.add_argument("--out", required=True, help="folder for the outputs")
    for d in ("public", "clean"):
        o.add_argument(f"--{d}-dir", default=None, help=f"{d} folder (as for run)")
    o.set_defaults(func=overlay)


def overlay(args: argparse.Namespace) -> None:
    """Run the overlay, write the staff page and the open data, print the match report."""
    from dv_analysis.config import Settings
    from dv_analysis.layers import load_boundaries
    from dv_analysis.pages.overlay import overlay_page
    from dv_analysis.stages.overlay import OverlayParams, publish, run

    fields = dict(
        kind=args.kind,
        period=args.period,
        window=args.window,
        dv_period=args.dv_period,
        count=args.count,
        permutations=args.permutations,
        seed=args.seed,
    )
    fields |= {name: _value(value) for name, value in args.parameter}
    params = OverlayParams(**fields)
    settings = Settings.from_args(
        public_dir=args.public_dir, clean_dir=args.clean_dir, city=args.city
    )
    out = Path(args.out)
    res = run(settings, args.input, out, params)
    publish(res, out)
    page = overlay_page(res, load_boundaries(settings), args.name or Path(args.input).stem)
    (out / "overlay.html").write_text(page, encoding="utf-8")
    m = res.match
    print(f"{m['rows']:,} rows: matched {m['matched']}, unmatched {m['unmatched'] or 0}")
    if "road_band" in m:
        acc = m["road_band"]["held_out"][-1]
        print(f"road-band inference: {acc['correct']}/{acc['predicted']} held-out rows right")
    bv = res.summary["bivariate"]
    if "I" in bv:
        print(
            f"bivariate Moran's I = {bv['I']:.4f} (pseudo p = {bv['p_sim']}; against the layer's"
            f" own clustering {bv['p_spatial']}); local clusters {bv['local_clusters']}"
        )
    print(f"wrote {out}")


def _value(text: str):
    """A parameter value: a Python literal (999, 0.1) when it parses, else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
