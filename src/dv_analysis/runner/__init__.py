"""Running the notebooks of a period: one period (:mod:`.period`) or a range (:mod:`.ranges`),
the notebooks' order (:mod:`.schedule`), one notebook (:mod:`.notebook`, in kernels of
:mod:`.kernels` and :mod:`.forkserver`), the manifest (:mod:`.manifest`), staff pages
(:mod:`.render`) and provenance (:mod:`.provenance`: hashes, run keys, versions)."""

from dv_analysis.runner import _startup  # noqa: F401  (first: before anything imports jsonschema)
from dv_analysis.runner.notebook import NotebookFailed
from dv_analysis.runner.one_period import CORE_PARAMETERS, run
from dv_analysis.runner.provenance import code_fingerprint, input_checksums, run_key, up_to_date
from dv_analysis.runner.ranges import SEQUENTIAL_NOTEBOOKS, default_jobs, run_range
from dv_analysis.runner.render import REPORT_NOTEBOOK, STAFF_HIDDEN_TAGS, staff_html

__all__ = [
    "CORE_PARAMETERS",
    "REPORT_NOTEBOOK",
    "SEQUENTIAL_NOTEBOOKS",
    "STAFF_HIDDEN_TAGS",
    "NotebookFailed",
    "code_fingerprint",
    "default_jobs",
    "input_checksums",
    "run",
    "run_key",
    "run_range",
    "staff_html",
    "up_to_date",
]
