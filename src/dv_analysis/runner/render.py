"""Staff pages: an executed notebook rendered without code, internal cells or stderr.

nbconvert's lab template extended by ``templates/staff`` (no request to any network
host, zh-Hant, A4 print styles).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

#: The notebook whose page is also the staff folder's index.html.
REPORT_NOTEBOOK = "05_report.ipynb"
#: Cells with these tags never reach the staff page.
STAFF_HIDDEN_TAGS: tuple[str, ...] = (
    "internal",
    "parameters",
    "injected-parameters",
    "remove_cell",
)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def warm() -> None:
    """Import nbconvert now (about 1.5 s), e.g. in a worker while its kernel starts; it is
    imported on first use otherwise, so importing this module costs nothing."""
    _strip_staff_outputs()


@cache
def _strip_staff_outputs() -> type:
    """The preprocessor class that removes stderr streams and error outputs."""
    from nbconvert.preprocessors import Preprocessor

    class StripStaffOutputs(Preprocessor):
        """Remove stderr streams and error outputs: staff pages show no warnings or tracebacks."""

        def preprocess_cell(self, cell, resources, index):
            if cell.get("cell_type") == "code":
                cell.outputs = [
                    o
                    for o in cell.get("outputs", [])
                    if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                    and o.get("output_type") != "error"
                ]
            return cell, resources

    return StripStaffOutputs


def staff_html(executed: Path, out: Path, title: str) -> Path:
    """Render an executed notebook as a staff page: no code, no internal cells, no stderr."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="staff")
    exporter.language_code = "zh-Hant"
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=set(STAFF_HIDDEN_TAGS), enabled=True), enabled=True
    )
    exporter.register_preprocessor(_strip_staff_outputs()(enabled=True), enabled=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out
