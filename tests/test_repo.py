"""Repository rules: no case data in git, stripped notebooks, uniform parameters, one dependency list."""

import re
import subprocess
import tomllib
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from dv_analysis.config import NOTEBOOK_REGISTRY, NOTEBOOKS
from dv_analysis.runner import CORE_PARAMETERS

ROOT = Path(__file__).parents[1]
NB_FILES = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _git_files(*paths):
    try:
        out = subprocess.run(
            ["git", "ls-files", *paths], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [line for line in out.stdout.splitlines() if line]


def test_no_data_or_reports_tracked():
    tracked = _git_files("data_raw", "data_clean", "data_truth", "reports")
    extra = [f for f in tracked if Path(f).name != "README.md" or f.count("/") != 1]
    assert not extra, f"case data, derived data or reports are tracked: {extra}"
    for d in ("data_raw", "data_clean", "reports"):
        assert f"{d}/README.md" in tracked


def test_data_folders_are_ignored():
    out = subprocess.run(
        [
            "git",
            "check-ignore",
            "data_raw/2020Q4/x.csv",
            "data_clean/2020Q4/n.parquet",
            "reports/2020Q4/staff/a.html",
            "data_truth/63000/p.json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert len(out.stdout.splitlines()) == 4


def test_notebook_list_matches_folder():
    assert [p.name for p in NB_FILES] == list(NOTEBOOKS)


@pytest.mark.parametrize("path", NB_FILES, ids=lambda p: p.name)
def test_notebooks_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name}: strip outputs before committing"
            )


@pytest.mark.parametrize("path", NB_FILES, ids=lambda p: p.name)
def test_notebooks_declare_core_parameters(path):
    params = pm.inspect_notebook(str(path))
    missing = set(CORE_PARAMETERS) - set(params)
    assert not missing, f"{path.name} lacks parameters {missing}"
    for name, p in params.items():
        assert p["inferred_type_name"] not in ("None",), (
            f"{path.name}: parameter {name} needs a type"
        )
        assert p["help"], f"{path.name}: parameter {name} needs a comment"
    assert (
        params["period"]["inferred_type_name"] == "str"
        and params["seed"]["inferred_type_name"] == "int"
    )


@pytest.mark.parametrize("path", NB_FILES, ids=lambda p: p.name)
def test_notebooks_are_thin(path):
    """No function definitions, no statistics and no literal paths in notebooks: they live in the package."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert not re.search(r"^\s*(def|class) ", cell.source, re.M), (
            f"{path.name}: move definitions to dv_analysis"
        )
        assert "read_parquet" not in cell.source and "read_csv" not in cell.source
        assert not re.search(r"['\"](\.\./|/)[\w/]+['\"]", cell.source), (
            f"{path.name}: literal path"
        )


def test_environment_yml_matches_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {
        re.split(r"[<>=!~ ]", d)[0].lower()
        for d in deps["dependencies"] + deps["optional-dependencies"]["dev"]
    }
    env = (ROOT / "environment.yml").read_text()
    deps_block = env.split("dependencies:", 1)[1]
    listed = set(re.findall(r"^\s+-\s+([A-Za-z][\w.-]*)", deps_block, re.M)) - {"python", "pip"}
    assert {x.lower() for x in listed} == wanted
    assert re.search(r"python=3\.12", env) and "-e ." in env


@pytest.mark.parametrize("path", NB_FILES, ids=lambda p: p.name)
def test_parameter_lines_fit_on_one_line(path):
    """ruff format wraps long lines in parentheses, which papermill's parameter parser cannot read."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for line in cell.source.splitlines():
        assert len(line) <= 100 and not line.rstrip().endswith("("), f"{path.name}: {line}"


#: Each notebook's stage parameters dataclass (05_report has none beyond the run's).
STAGE_PARAMS = {n.name: f"dv_analysis.stages.{n.stage}:{n.params}" for n in NOTEBOOK_REGISTRY}


def test_every_notebook_file_has_a_registry_entry_and_every_entry_a_file():
    """config.NOTEBOOK_REGISTRY is the one list of notebooks; needs name registered ones
    that run earlier."""
    files = {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert files == set(NOTEBOOKS), files ^ set(NOTEBOOKS)
    for k, n in enumerate(NOTEBOOK_REGISTRY):
        assert set(n.needs) <= set(NOTEBOOKS[:k]), f"{n.name} needs a later or unknown notebook"


@pytest.mark.parametrize("name", sorted(STAGE_PARAMS))
def test_notebook_parameters_are_the_stage_dataclass(name):
    """The parameters cell declares every field of the stage's frozen dataclass, with its default."""
    import dataclasses
    import importlib

    module, cls = STAGE_PARAMS[name].split(":")
    params_cls = getattr(importlib.import_module(module), cls)
    assert dataclasses.is_dataclass(params_cls) and params_cls.__dataclass_params__.frozen
    declared = pm.inspect_notebook(str(ROOT / "notebooks" / name))
    for field in dataclasses.fields(params_cls):
        assert field.name in declared, f"{name} lacks parameter {field.name}"
        default = declared[field.name]["default"]
        assert eval(default) == field.default, (
            f"{name}: {field.name} = {default}, not {field.default!r}"
        )


def test_one_weights_setting_for_every_notebook_that_builds_weights():
    """02, 03 and 04 all take ``weights`` (a run's -p weights reaches each of them)."""
    for name in (
        "02_village_features.ipynb",
        "03_hotspots.ipynb",
        "03b_village_risk.ipynb",
        "04_accessibility.ipynb",
        "04b_priority.ipynb",
    ):
        declared = pm.inspect_notebook(str(ROOT / "notebooks" / name))
        assert declared["weights"]["default"] == '"queen"', name
    for path in NB_FILES:
        assert '"queen"' not in "".join(
            c.source
            for c in nbformat.read(path, as_version=4).cells
            if "parameters" not in c.metadata.get("tags", [])
        ), f"{path.name} hard-codes queen weights"


def test_stats_is_pure_and_labels_import_nothing():
    """stats imports nothing of the package but stats and holds no Chinese;
    pages/labels.py (and labels_overlay.py, the overlay page's) imports nothing at all."""
    src = ROOT / "src" / "dv_analysis"
    for f in (src / "stats").rglob("*.py"):
        text = f.read_text()
        assert not re.search(r"^\s*(from|import) dv_analysis(?!\.stats\b)", text, re.M), f.name
        assert not re.search(r"[\u4e00-\u9fff]", text), f"{f.name}: Chinese in stats"
    for name in ("labels.py", "labels_overlay.py"):
        labels = (src / "pages" / name).read_text()
        assert not re.search(
            r"^(from|import) ",
            labels.split('"""', 2)[2].replace("from __future__ import annotations", ""),
            re.M,
        ), name


def _package_imports() -> dict[str, set[str]]:
    """Module → package modules it imports (anywhere in the file, functions included)."""
    import ast

    src = ROOT / "src"
    graph: dict[str, set[str]] = {}
    modules = {
        ".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        for p in (src / "dv_analysis").rglob("*.py")
    }
    for p in (src / "dv_analysis").rglob("*.py"):
        name = ".".join(p.relative_to(src).with_suffix("").parts)
        package = (
            name.rsplit(".", 1)[0] if not name.endswith("__init__") else name[: -len(".__init__")]
        )
        name = name.removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(max(node.level - 1, 0)):
                    base = base.rsplit(".", 1)[0]
                target = (
                    (f"{base}.{node.module}" if node.module else base)
                    if node.level
                    else node.module
                )
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    deps.add(full if full in modules else target)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def test_no_import_cycles():
    graph = _package_imports()
    state: dict[str, int] = {}

    def visit(node, trail):
        state[node] = 1
        for dep in graph.get(node, ()):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " → ".join([*trail, node, dep]))
            if dep not in state:
                visit(dep, [*trail, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_the_runner_process_stays_light_until_the_notebooks_start():
    """`dv-analysis run` imports the runner and checks the window before the first notebook;
    nbconvert (2.9 s) and the statistics stages (2.4 s) kept that notebook waiting."""
    import sys

    code = (
        "import sys, dv_analysis.cli, dv_analysis.runner;"
        "from dv_analysis.config import FIRST_REGISTER_QUARTER, WINDOW_QUARTERS, window_periods;"
        "import dv_analysis.stages.clean;"
        "print(sorted(m for m in ('nbconvert', 'esda', 'libpysal', 'jax', 'papermill',"
        " 'dv_analysis.stages.features') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_architecture_lists_every_module():
    """docs/architecture.md's tree names every module and package of the source, at every
    depth (it drifted: synth.py, missing locks.py, ...)."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = text[: text.index("## The layers")]
    src = ROOT / "src" / "dv_analysis"
    for f in sorted(src.rglob("*.py")):
        if f.stem in ("__init__", "__main__"):
            continue
        assert re.search(rf"\b{re.escape(f.stem)}\b", tree), f"{f.relative_to(src)} missing"
    for d in sorted(p for p in src.rglob("*") if (p / "__init__.py").exists()):
        assert f"{d.name}/" in tree, f"{d.relative_to(src)}/ missing from the tree"
    assert "synth.py" not in tree


#: docs/architecture.md's layer table as prefixes: what each layer's modules may import of
#: the package (imports inside functions included; every layer may import itself).
LAYER_ALLOWS = {
    "dv_analysis.errors": (),
    "dv_analysis.quarters": ("dv_analysis.errors",),
    "dv_analysis.config": ("dv_analysis.quarters", "dv_analysis.errors"),
    "dv_analysis.workers": (),
    "dv_analysis.browser": (),
    "dv_analysis.disclosure": ("dv_analysis.errors",),
    "dv_analysis.stats": ("dv_analysis.stats",),
    "dv_analysis.layers": ("dv_analysis.config", "dv_analysis.errors"),
    "dv_analysis.pages.labels": (),
    "dv_analysis.pages": ("dv_analysis.pages", "dv_analysis.disclosure"),
    "dv_analysis.stages": (
        "dv_analysis.config",
        "dv_analysis.errors",
        "dv_analysis.layers",
        "dv_analysis.stats",
        "dv_analysis.workers",
        "dv_analysis.pages.labels",
        "dv_analysis.disclosure",
    ),
    "dv_analysis.synth": (
        "dv_analysis.config",
        "dv_analysis.errors",
        "dv_analysis.layers",
        "dv_analysis.stages",
        "dv_analysis.stats",
    ),
    "dv_analysis.runner": (
        "dv_analysis.config",
        "dv_analysis.errors",
        "dv_analysis.disclosure",
        "dv_analysis.pages",
        "dv_analysis.stages",
        "dv_analysis.workers",
    ),
    "dv_analysis.cli": ("dv_analysis",),
}


def test_every_module_has_a_row_of_the_layer_table():
    """Every top-level module and package of the source is in LAYER_ALLOWS."""
    src = ROOT / "src" / "dv_analysis"
    tops = {f"dv_analysis.{p.stem}" for p in src.glob("*.py") if p.stem != "__init__"}
    tops |= {f"dv_analysis.{p.name}" for p in src.iterdir() if (p / "__init__.py").exists()}
    assert tops <= set(LAYER_ALLOWS), sorted(tops - set(LAYER_ALLOWS))


def test_every_import_is_one_the_layer_table_allows():
    """No page reads a stage, no stage draws a page (stages import pages.labels only), stats
    imports only stats: the table of docs/architecture.md, checked on the import graph."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for layer, allowed in LAYER_ALLOWS.items():
        short = layer.removeprefix("dv_analysis.")
        heads = (f"| `{short}` ", f"| `{short}/` ", f"| `{short.replace('.', '/')}.py` ")
        row = next((line for line in text.splitlines() if line.startswith(heads)), None)
        assert row, f"docs/architecture.md's layer table has no row for {short}"
        for a in allowed:
            name = a.removeprefix("dv_analysis.").removeprefix("dv_analysis")
            assert name in row or a == layer or not name, f"{short}'s row lacks {name}"
    bad = []
    for module, deps in _package_imports().items():
        layer = max(
            (k for k in LAYER_ALLOWS if module == k or module.startswith(k + ".")),
            key=len,
            default=None,
        )
        if layer is None:
            continue
        allowed = (layer, *LAYER_ALLOWS[layer])
        bad += [
            f"{module} → {d}"
            for d in deps
            if not any(d == a or d.startswith(a + ".") for a in allowed)
            and d not in ("dv_analysis",)
        ]
    assert not bad, bad


def test_no_private_name_crosses_a_module():
    """No module imports an underscored name from another module of the package (a name
    shared is public: it loses its underscore); the private ``_inla`` package is reached
    only from ``disease_mapping``."""
    import ast

    src = ROOT / "src"
    modules = {".".join(p.relative_to(src).with_suffix("").parts) for p in src.rglob("*.py")}
    bad = []
    for p in (src / "dv_analysis").rglob("*.py"):
        name = ".".join(p.relative_to(src).with_suffix("").parts)
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dv_analysis"):
                bad += [
                    f"{name}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_")
                    and not a.name.startswith("__")
                    and f"{node.module}.{a.name}" not in modules
                ]
                if "._inla" in node.module and ".disease_mapping." not in name:
                    bad.append(f"{name}: {node.module}")
    assert not bad, bad


def test_every_affected_cross_table_has_its_title():
    """The stage's cross-tables and the page's titles are keyed alike (one list of names)."""
    from dv_analysis.pages.labels import AFFECTED_TABLES
    from dv_analysis.stages.report import AFFECTED_CROSSES

    assert list(AFFECTED_CROSSES) == list(AFFECTED_TABLES)


def test_the_stats_doctests_hold():
    """Every example in a stats docstring is run (one was wrong: an EB example that showed
    no shrinkage where the prior variance truncates to 0 and every area gets the mean)."""
    import doctest
    import importlib
    import pkgutil

    import dv_analysis.stats as stats

    ran = 0
    modules = [stats.__name__] + [
        m.name for m in pkgutil.walk_packages(stats.__path__, prefix="dv_analysis.stats.")
    ]
    for name in modules:
        result = doctest.testmod(importlib.import_module(name))
        assert result.failed == 0, name
        ran += result.attempted
    assert ran >= 15


def test_every_public_stats_function_has_numpydoc_parameters_and_returns():
    """numpydoc as in esda and momepy: each public function of ``stats`` (in its module's
    ``__all__`` where it has one) documents its Parameters and Returns."""
    import ast

    missing = []
    for f in sorted((ROOT / "src" / "dv_analysis" / "stats").rglob("*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"))
        public = None
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", "") == "__all__"
                and isinstance(node.value, ast.List)
            ):
                public = {e.value for e in node.value.elts}
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            if public is not None and node.name not in public:
                continue
            doc = ast.get_docstring(node) or ""
            takes = node.args.args or node.args.kwonlyargs or node.args.vararg
            if (takes and "Parameters\n----------" not in doc) or "Returns\n-------" not in doc:
                missing.append(f"{f.stem}.{node.name}")
    assert not missing, missing


#: Lines of code (no docstring, blank or comment lines) a function may have without saying
#: why; a longer one must carry a ``# long: <why>`` comment in its body.
MAX_FUNCTION_LINES = 60


def _code_lines(func, lines: list[str]) -> int:
    import ast

    body = func.body
    doc = isinstance(body[0], ast.Expr) and isinstance(
        getattr(body[0], "value", None), ast.Constant
    )
    start = body[0].end_lineno + 1 if doc else body[0].lineno
    text = [line.strip() for line in lines[start - 1 : func.end_lineno]]
    return sum(1 for line in text if line and not line.startswith("#"))


def test_no_function_is_over_sixty_lines_without_saying_why():
    import ast

    long = []
    for path in sorted((ROOT / "src" / "dv_analysis").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            if _code_lines(node, lines) > MAX_FUNCTION_LINES and "# long:" not in body:
                long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not long, "functions over 60 lines of code without '# long: <why>': " + ", ".join(long)


#: Lines of code no function may pass, with a reason or without.
HARD_MAX_FUNCTION_LINES = 80
#: Lines a module may have (a longer one holds more than one job: split it).
MAX_MODULE_LINES = 600


def test_no_function_over_eighty_lines_and_no_module_over_six_hundred():
    import ast

    long = []
    for path in sorted((ROOT / "src" / "dv_analysis").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        if len(lines) > MAX_MODULE_LINES:
            long.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if _code_lines(node, lines) > HARD_MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not long, long


def test_every_package_declares_all_and_a_container_lists_its_modules():
    import ast

    for init in sorted((ROOT / "src" / "dv_analysis").rglob("__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        found = [
            n.value
            for n in tree.body
            if isinstance(n, ast.Assign)
            and any(getattr(t, "id", "") == "__all__" for t in n.targets)
        ]
        assert found, f"{init.relative_to(ROOT)} declares no __all__"
        imports = any(isinstance(n, ast.ImportFrom | ast.Import) for n in tree.body)
        if not imports:  # a container of modules: __all__ names every one
            names = {ast.literal_eval(e) for e in found[0].elts}
            here = {p.stem for p in init.parent.glob("*.py") if not p.stem.startswith("_")}
            here |= {
                p.name
                for p in init.parent.iterdir()
                if (p / "__init__.py").exists() and not p.name.startswith("_")
            }
            assert names == here, f"{init.relative_to(ROOT)}: __all__ {sorted(names ^ here)}"
