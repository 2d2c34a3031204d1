"""Running the notebooks of a period: execution and scheduling (:mod:`.execute`), staff
pages (:mod:`.render`) and provenance (:mod:`.provenance`: hashes, run keys, versions)."""

from . import _startup  # noqa: F401  (first: before anything imports jsonschema)
from .execute import (
    CORE_PARAMETERS,
    SEQUENTIAL_NOTEBOOKS,
    NotebookFailed,
    default_jobs,
    run,
    run_range,
)
from .provenance import code_fingerprint, input_checksums, run_key, up_to_date
from .render import REPORT_NOTEBOOK, STAFF_HIDDEN_TAGS, staff_html

__all__ = [
    "CORE_PARAMETERS", "REPORT_NOTEBOOK", "SEQUENTIAL_NOTEBOOKS", "STAFF_HIDDEN_TAGS", "NotebookFailed",
    "code_fingerprint", "default_jobs", "input_checksums", "run", "run_key", "run_range", "staff_html",
    "up_to_date",
]  # fmt: skip
