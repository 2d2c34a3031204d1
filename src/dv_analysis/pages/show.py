"""Display helpers for notebooks: CJK fonts for plots, tidy tables, plain-language text.

Notebooks only ever display aggregates built by the package; nothing here takes a
case-level table.
"""

from __future__ import annotations

import html
import logging

import matplotlib
import pandas as pd
from matplotlib import font_manager

from dv_analysis.pages import labels as L

log = logging.getLogger(__name__)

#: Fonts with Traditional Chinese glyphs, in order of preference (Debian: fonts-noto-cjk).
CJK_FONTS: tuple[str, ...] = (
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Noto Sans TC",
    "Noto Serif CJK TC",
    "AR PL UMing TW",
    "WenQuanYi Zen Hei",
    "Microsoft JhengHei",
    "PingFang TC",
)


def cjk_font() -> str | None:
    """Name of an installed font with Traditional Chinese glyphs, or None.

    matplotlib caches its font list; a font installed after that cache was written (for
    example by ``make system`` after a first run) is found by rebuilding it once.
    """
    for rebuild in (False, True):
        if rebuild:  # add the system's CJK font files to the (cached) manager in place
            for path in font_manager.findSystemFonts():
                if "cjk" in path.lower():
                    try:
                        font_manager.fontManager.addfont(path)
                    except (OSError, RuntimeError, ValueError):
                        continue
        available = {f.name for f in font_manager.fontManager.ttflist}
        for name in CJK_FONTS:
            if name in available:
                return name
    return None


def setup() -> str | None:
    """Configure matplotlib and pandas for the reports; return the CJK font used.

    Without a CJK font Chinese labels would render as boxes, so this logs an error
    naming the package to install (Debian: fonts-noto-cjk).
    """
    font = cjk_font()
    if font is None:
        log.error(
            "no CJK font found: Chinese labels will not render; install fonts-noto-cjk (make env does)"
        )
    else:
        matplotlib.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
        matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False
    matplotlib.rcParams["figure.dpi"] = 110
    matplotlib.rcParams["svg.fonttype"] = "none"
    pd.set_option("display.max_rows", 60)
    return font


def format_p(p: float) -> str:
    """A p-value for staff: ``< 0.001`` below 0.001, else three decimals."""
    if p is None or pd.isna(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def table(df: pd.DataFrame, caption: str | None = None):
    """A styled table without the index, thousands separated, for staff pages.

    Text columns are left-aligned; the columns named in ``labels.WRAP_COLUMNS`` (long
    plain-language reasons) may wrap, every other cell stays on one line.
    """
    df = df.reset_index(drop=True)
    classes = pd.DataFrame("", index=df.index, columns=df.columns)
    for c in df.columns:
        if not pd.api.types.is_numeric_dtype(df[c]):
            classes[c] = "text"
        if c in L.WRAP_COLUMNS:
            classes[c] = "text wrap"
    sty = df.style.hide(axis="index").format(thousands=",", precision=2, na_rep="—")
    whole = [
        c
        for c in df.columns
        if pd.api.types.is_float_dtype(df[c])
        and df[c].notna().any()
        and (df[c].dropna() % 1 == 0).all()
    ]
    if whole:  # counts and distances held as floats: shown as integers
        sty = sty.format("{:,.0f}", subset=whole, na_rep="—")
    p_cols = [c for c in df.columns if any(m in str(c) for m in L.P_VALUE_MARKERS)]
    p_cols = [c for c in p_cols if pd.api.types.is_numeric_dtype(df[c])]
    if p_cols:
        sty = sty.format(lambda v: html.escape(format_p(v)), subset=p_cols, na_rep="—")
    sty = sty.set_td_classes(classes)
    if caption:
        sty = sty.set_caption(caption)
    return sty.set_table_styles(
        [
            {
                "selector": "caption",
                "props": "caption-side: top; font-weight: bold; font-size: 1.05em; text-align: left;",
            },
            {"selector": "th", "props": "text-align: left; padding: 4px 10px;"},
            {"selector": "td", "props": "padding: 4px 10px;"},
            {"selector": "td.text", "props": "text-align: left;"},
            {"selector": "td.wrap", "props": "white-space: normal !important; min-width: 14em;"},
        ]
    )
