"""Cleaning of raw case exports into tidy tables, with every input row accounted for.

``clean_period`` reads every ``*.csv``/``*.xlsx`` of ``data_raw/<period>/``
(encoding detected), maps the Chinese headers, normalises every field of the raw
schema, drops duplicates, locates each notification's village (code → names →
point-in-polygon) and sorts every row into one of three buckets:

* **clean** — a located notification of this period;
* **duplicate** — ``exact`` (the same notification again in the same file),
  ``cross_file`` (again in a later file of the period) or ``previous_period``
  (already in the previous period's clean table);
* **quarantined** — with a reason code (their words: ``pages.labels.QUARANTINE_REASONS``).

For each file, rows read = clean + duplicate + quarantined; the summary says so.
Case-level tables are internal: they are written to ``data_clean/<period>/`` and
never displayed.

The package is split by job: :mod:`.read` (files, encodings, headers), :mod:`.fields`
(normalising each field), :mod:`.locate` (the village of each notification),
:mod:`.incidents` (notifications grouped into incidents), :mod:`.buckets` (clean, duplicate
or quarantined), :mod:`.quality` (data quality by reporting unit and quarter), :mod:`.period` (one quarter: :func:`clean_period`, :func:`write_outputs`,
:func:`clean_key`) and :mod:`.quarters` (stale quarters and ranges). Their public names
are this package's.
"""

from dv_analysis.stages.clean.buckets import CLEAN_COLUMNS
from dv_analysis.stages.clean.fields import (
    CASE_TYPE_MAP,
    NATIONALITIES,
    SEX_MAP,
    UNIT_MAP,
    norm_case_type,
    norm_forms,
    norm_opened,
    norm_sex,
    norm_tipvda,
    norm_unit,
    parse_age,
    parse_date,
)
from dv_analysis.stages.clean.incidents import build_incidents
from dv_analysis.stages.clean.locate import coordinates_to_twd97, locate
from dv_analysis.stages.clean.one_quarter import (
    CleaningResult,
    CleanParams,
    clean_key,
    clean_period,
    write_outputs,
)
from dv_analysis.stages.clean.quality import (
    QUALITY_COLUMNS,
    quality_table,
    quarantine_by_unit,
    write_internal_page,
)
from dv_analysis.stages.clean.read import (
    HEADERS,
    LOCATION_HEADERS,
    REQUIRED,
    RawFile,
    RawInputError,
    detect_encoding,
    read_raw_file,
)
from dv_analysis.stages.clean.stale import clean_range, ensure_cleaned, stale_quarters

__all__ = [
    "CASE_TYPE_MAP",
    "CLEAN_COLUMNS",
    "HEADERS",
    "LOCATION_HEADERS",
    "NATIONALITIES",
    "QUALITY_COLUMNS",
    "REQUIRED",
    "SEX_MAP",
    "UNIT_MAP",
    "CleanParams",
    "CleaningResult",
    "RawFile",
    "RawInputError",
    "build_incidents",
    "clean_key",
    "clean_period",
    "clean_range",
    "coordinates_to_twd97",
    "detect_encoding",
    "ensure_cleaned",
    "locate",
    "norm_case_type",
    "norm_forms",
    "norm_opened",
    "norm_sex",
    "norm_tipvda",
    "norm_unit",
    "parse_age",
    "parse_date",
    "quality_table",
    "quarantine_by_unit",
    "read_raw_file",
    "stale_quarters",
    "write_internal_page",
    "write_outputs",
]
