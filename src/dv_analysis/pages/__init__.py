"""Everything staff and the public see: labels, tables, maps, charts, summaries, credits.

:mod:`.labels` is the one zh-TW vocabulary (:mod:`.labels_overlay`, its part for the
overlay's on-demand page); the other modules build tables
(:mod:`.tables`), maps (:mod:`.maps`), charts (:mod:`.charts`), plain-language text
(:mod:`.summaries`), the analysts' data-quality page (:mod:`.data_quality`), the service
plan's and the responsibility areas' pages (:mod:`.plan`, :mod:`.caseload`), the front page's
blocks (:mod:`.front_page`, the
quarterly report staff open first), the public page
(:mod:`.public_page`) and the source credits (:mod:`.credits`) from aggregate tables.
:mod:`.show` (imported as ``show``; it used to be ``display``, which shadowed IPython's) sets up fonts and styles tables in the notebooks.
"""

#: The package's modules (``from dv_analysis.pages import *`` imports them).
__all__ = [
    "caseload",
    "charts",
    "credits",
    "data_quality",
    "front_page",
    "interactive",
    "labels",
    "labels_overlay",
    "maps",
    "overlay",
    "plan",
    "public_page",
    "show",
    "summaries",
    "tables",
]
