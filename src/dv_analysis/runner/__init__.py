"""Running the notebooks of a period: one period (:mod:`.period`) or a range (:mod:`.ranges`),
the notebooks' order (:mod:`.schedule`), one notebook (:mod:`.notebook`, in kernels of
:mod:`.kernels` and :mod:`.forkserver`), the manifest (:mod:`.manifest`), staff pages
(:mod:`.render`) and provenance (:mod:`.provenance`: hashes, run keys, versions)."""

from . import _startup  # noqa: F401  (first: before anything imports jsonschema)
from .notebook import NotebookFailed
from .period import CORE_PARAMETERS, run
from .provenance import code_fingerprint, input_checksums, run_key, up_to_date
from .ranges import SEQUENTIAL_NOTEBOOKS, default_jobs, run_range
from .render import REPORT_NOTEBOOK, STAFF_HIDDEN_TAGS, staff_html

__all__ = [
    "CORE_PARAMETERS", "REPORT_NOTEBOOK", "SEQUENTIAL_NOTEBOOKS", "STAFF_HIDDEN_TAGS", "NotebookFailed",
    "code_fingerprint", "default_jobs", "input_checksums", "run", "run_key", "run_range", "staff_html",
    "up_to_date",
]  # fmt: skip
