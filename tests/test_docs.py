"""The docs name only what exists: every tests/ and benchmarks/ path and every dotted name.

README.md and docs/*.md are read as reference. A path (`tests/…`, `benchmarks/…`, with an
optional `::test_name`) must be a file or folder of the repository; a dotted name
(`dv_analysis.x.y` anywhere, or the short form `stats.x.y`, `stages.x`, `config.X`, … in
backticks) must be a module of the package or an attribute of one. CHANGELOG.md is history
and may name what no longer exists; fenced blocks of shell output are not read.
"""

import importlib
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Fenced blocks whose lines are output, not text or commands: none of their lines is
# read, except the `$ ` command lines of a console session.
OUTPUT_FENCES = {"console", "shell-session", "output", "text", "log"}
PATH = re.compile(r"(?<![\w./-])((?:tests|benchmarks)/[\w./<>{}*,-]*)(?:::[\w\[\]-]+)?")
# `git show 2bdb85c:benchmarks/x.py` names a file of a commit, not of the work tree.
IN_COMMIT = re.compile(r"\b[0-9a-f]{7,40}:$")
FULL_NAME = re.compile(r"(?<![\w./-])dv_analysis(?:\.[A-Za-z_]\w*)+")
SHORT_ROOTS = ("stats", "stages", "layers", "pages", "runner", "synth", "config")
SHORT_NAME = re.compile(rf"(?<![\w./-])(?:{'|'.join(SHORT_ROOTS)})(?:\.[A-Za-z_]\w*)+")
BACKTICKS = re.compile(r"`([^`\n]+)`")
# `config.py`, `stats.json`: file names, not dotted names.
FILE_SUFFIXES = {"py", "ipynb", "json", "parquet", "csv", "md", "html", "toml", "yml", "gal"}


def _doc_lines(path):
    """(line number, text) of every line of a doc that is read: prose and non-output blocks."""
    fence = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip().lower()
            continue
        if fence in OUTPUT_FENCES and not stripped.startswith("$ "):
            continue
        yield number, line


def _mentions(path):
    """(line number, kind, name) of every path and dotted name a doc mentions."""
    for number, line in _doc_lines(path):
        for match in PATH.finditer(line):
            if not IN_COMMIT.search(line[: match.start()]):
                yield number, "path", match.group(1).rstrip(".,")
        for match in FULL_NAME.finditer(line):
            yield number, "name", match.group(0)
        for span in BACKTICKS.findall(line):
            for match in SHORT_NAME.finditer(span):
                yield number, "name", f"dv_analysis.{match.group(0)}"


def _ignored_outputs():
    """Files the scripts write and git ignores (listed one by one in .gitignore)."""
    lines = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    return {line.strip().lstrip("/") for line in lines if "/" in line.strip("/")}


def _path_exists(name, ignored):
    """A path exists as written; a template (`test_<module>.py`, `*.py`) by its folder."""
    parts = name.rstrip("/").split("/")
    for i, part in enumerate(parts):
        if any(c in part for c in "<>{}*"):
            parts = parts[:i]
            break
    target = "/".join(parts)
    return (ROOT / target).exists() or target in ignored


@cache
def _name_exists(name):
    """Import the longest importable prefix of `name`, then look the rest up as attributes."""
    parts = name.split(".")
    if parts[-1] in FILE_SUFFIXES:
        return True
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError as error:
            if error.name is None or not ".".join(parts[:cut]).startswith(error.name):
                raise
            continue
        for attribute in parts[cut:]:
            fields = getattr(obj, "__dataclass_fields__", {})
            if hasattr(obj, attribute):
                obj = getattr(obj, attribute)
            elif attribute in fields:
                obj = fields[attribute]
            else:
                return False
        return True
    return False


def test_docs_name_only_what_exists():
    ignored = _ignored_outputs()
    missing = []
    for doc in DOCS:
        for number, kind, name in _mentions(doc):
            found = _path_exists(name, ignored) if kind == "path" else _name_exists(name)
            if not found:
                missing.append(f"{doc.relative_to(ROOT)}:{number}: {name}")
    assert not missing, f"{len(missing)} names in the docs do not exist:\n" + "\n".join(missing)


def test_the_check_finds_what_it_should(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        "See `tests/stats/test_rates.py::test_x`, tests/nowhere.py and `stats.rates.eb_rate`.\n"
        "```console\n$ ls benchmarks/timing/\nbenchmarks/gone.py\n```\n"
        "`git show 2bdb85c:benchmarks/gone.py`\n"
        "`stats.nowhere.f`, dv_analysis.config.PUBLIC_FILES, `config.py`, `stats.rates.nope`.\n",
        encoding="utf-8",
    )
    found = {}
    for _, kind, name in _mentions(doc):
        found[kind, name] = _path_exists(name, set()) if kind == "path" else _name_exists(name)
    assert found == {
        ("path", "tests/stats/test_rates.py"): True,
        ("path", "tests/nowhere.py"): False,
        ("name", "dv_analysis.stats.rates.eb_rate"): True,
        ("path", "benchmarks/timing/"): True,
        ("name", "dv_analysis.stats.nowhere.f"): False,
        ("name", "dv_analysis.config.PUBLIC_FILES"): True,
        ("name", "dv_analysis.config.py"): True,
        ("name", "dv_analysis.stats.rates.nope"): False,
    }
