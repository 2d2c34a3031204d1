"""Screenshots of a staff page at desktop (1280 px) and phone (390 px) width, for the docs.

    .venv/bin/python benchmarks/screenshots.py reports/2020Q4/staff/index.html docs/screenshots

Writes ``<stem>_1280.png`` and ``<stem>_390.png`` (the first 2,400 px of the page) and
prints what the browser saw: requests other than file:, console errors, the heading font,
and the tooltip of one village of the map.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from dv_analysis.browser import Browser


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("page", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--height", type=int, default=2400, help="pixels kept from the top")
    args = ap.parse_args()
    with Browser() as b:
        for width, mobile in ((1280, False), (390, True)):
            b.set_width(width, mobile)
            shot = args.out / f"{args.page.stem}_{width}.png"
            r = b.check(args.page, screenshot=shot, settle=2.0)
            im = Image.open(shot)
            im.crop((0, 0, im.width, min(im.height, args.height))).save(shot, optimize=True)
            tip = (
                b.hover(".ivmap path.v", 200)
                if b.evaluate("!!document.querySelector('.ivmap')")
                else ""
            )
            print(
                f"{shot}: requests {r.requests}, console errors {r.console_errors},"
                f" CJK heading font {r.cjk_font}, tooltip {tip.splitlines()[:1]}"
            )


if __name__ == "__main__":
    main()
