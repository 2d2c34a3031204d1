"""Kept out of the processes that run notebooks: one slow import nobody here needs.

jsonschema, which nbformat, papermill and nbconvert import, imports ``rfc3987_syntax`` when
it is installed (jupyter-events' ``format-nongpl`` extra brings it), and that module builds
a Lark grammar at import: 2.9 s of CPU in every process that executes or renders notebooks
(python-jsonschema/jsonschema#1428; ``docs/benchmarks.md``). The suite validates no IRI;
without the module, jsonschema leaves the "iri" formats unchecked. Imported first by
:mod:`dv_analysis.runner`; a process that imported the module already keeps it.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
