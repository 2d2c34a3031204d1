"""Run the notebooks of a period with papermill and render the staff HTML.

The chain follows man-group/notebooker's report execution: papermill executes
each notebook with the period's parameters into ``reports/<period>/internal/``
(analysts only), then nbconvert renders it without code (``exclude_input``) and
without cells tagged ``internal`` into ``reports/<period>/staff/``. A
``manifest.json`` records parameters, git revision, package versions, input
checksums and timings.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

from .config import NOTEBOOKS, Period, PeriodPaths, Settings, period_range, project_root

#: Parameters every notebook declares (a test checks it with papermill.inspect_notebook).
CORE_PARAMETERS: tuple[str, ...] = (
    "period",
    "city",
    "public_dir",
    "raw_dir",
    "clean_dir",
    "reports_dir",
    "seed",
)
#: The notebook whose page is also the staff folder's index.html.
REPORT_NOTEBOOK = "05_report.ipynb"
#: Cells with these tags never reach the staff page.
STAFF_HIDDEN_TAGS: tuple[str, ...] = (
    "internal",
    "parameters",
    "injected-parameters",
    "remove_cell",
)
PACKAGES: tuple[str, ...] = (
    "pandas", "numpy", "geopandas", "shapely", "pyproj", "pyogrio", "pyarrow", "statsmodels", "scikit-learn",
    "matplotlib", "libpysal", "esda", "numba", "papermill", "nbconvert",
)  # fmt: skip


class NotebookFailed(RuntimeError):
    """A notebook raised; the message names the notebook and the error."""


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


TEMPLATES = Path(__file__).parent / "templates"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_checksums(paths: PeriodPaths) -> dict[str, str]:
    """SHA-256 of every raw file of the period and every public-layer file used."""
    out = {}
    for base, label in ((paths.raw, "raw"), (paths.settings.public_dir, "public")):
        if base.is_dir():
            for f in sorted(base.rglob("*")):
                if f.is_file():
                    out[f"{label}/{f.relative_to(base).as_posix()}"] = _cached_sha(f)
    return out


def code_fingerprint() -> str:
    """SHA-256 over the package's source, its templates and the notebooks: what "code" means for reruns.

    Docs, tests and benchmarks are left out, so changing them does not invalidate results.
    """
    root = project_root()
    pkg = Path(__file__).parent
    files = sorted(
        [f for f in pkg.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
        + [f for f in notebooks_dir().glob("*.ipynb")]
    )
    h = hashlib.sha256()
    for f in files:
        try:
            name = f.relative_to(root).as_posix()
        except ValueError:  # an installed (not editable) package
            name = f.relative_to(pkg.parent).as_posix()
        h.update(name.encode() + b"\0" + sha256(f).encode() + b"\n")
    return h.hexdigest()


def run_key(
    settings: Settings, period: str | Period, params: dict, notebooks: tuple[str, ...]
) -> dict:
    """The content address of a period's run: parameters, notebooks, code and every input.

    Inputs are the raw files of this period *and of every earlier period* (the panel and
    the rolling window read their clean tables), and every public-layer file. Two runs
    with the same key give the same outputs, so a finished run with this key is skipped.
    """
    p = Period.parse(period)
    h = hashlib.sha256()
    raw = {}
    if settings.raw_dir.is_dir():
        for d in sorted(settings.raw_dir.iterdir()):
            try:
                q = Period.parse(d.name)
            except ValueError:
                continue
            if d.is_dir() and q <= p:
                for f in sorted(d.rglob("*")):
                    if f.is_file():
                        raw[f"raw/{f.relative_to(settings.raw_dir).as_posix()}"] = _cached_sha(f)
    public = {
        f"public/{f.relative_to(settings.public_dir).as_posix()}": _cached_sha(f)
        for f in sorted(settings.public_dir.rglob("*"))
        if f.is_file()
    }
    parts = {
        "parameters": _digest(json.dumps(params, sort_keys=True, ensure_ascii=False)),
        "notebooks": _digest("|".join(notebooks)),
        "code": code_fingerprint(),
        "raw": _digest(json.dumps(raw, sort_keys=True)),
        "public": _digest(json.dumps(public, sort_keys=True)),
    }
    for k in sorted(parts):
        h.update(f"{k}={parts[k]}\n".encode())
    return {"key": h.hexdigest(), "parts": parts, "raw_files": len(raw)}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def _cached_sha(path: Path) -> str:
    """sha256 of a file, remembered for this process by (path, size, mtime)."""
    st = path.stat()
    k = (str(path), st.st_size, st.st_mtime_ns)
    if k not in _SHA_CACHE:
        _SHA_CACHE[k] = sha256(path)
    return _SHA_CACHE[k]


def up_to_date(paths: PeriodPaths, key: str) -> bool:
    """True when the period's manifest says a finished run with this key and its outputs exist."""
    if not paths.manifest.exists():
        return False
    try:
        m = json.loads(paths.manifest.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    if m.get("status") != "ok" or m.get("run_key", {}).get("key") != key:
        return False
    files = [Path(n["executed"]) for n in m.get("notebooks", [])]
    files += [Path(n["staff_html"]) for n in m.get("notebooks", []) if "staff_html" in n]
    return bool(files) and all(f.exists() for f in files)


def git_revision() -> dict[str, object]:
    root = project_root()
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=root,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        return {"revision": None, "dirty": None}
    return {"revision": rev, "dirty": dirty}


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "dv_analysis": _version("dv_analysis")}
    out.update({p: _version(p) for p in PACKAGES})
    return out


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def staff_html(executed: Path, out: Path, title: str) -> Path:
    """Render an executed notebook as a staff page: no code, no internal cells, no stderr."""
    nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="staff")
    exporter.language_code = "zh-Hant"
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.register_preprocessor(
        TagRemovePreprocessor(remove_cell_tags=set(STAFF_HIDDEN_TAGS), enabled=True), enabled=True
    )
    exporter.register_preprocessor(StripStaffOutputs(enabled=True), enabled=True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    return out


#: Notebooks that read the previous quarter's own outputs (cleaning recognises re-exported
#: rows by the previous quarter's notifications): a range runs them quarter by quarter
#: first; the others only read clean tables and can run for several quarters at once.
SEQUENTIAL_NOTEBOOKS: tuple[str, ...] = ("01_clean.ipynb",)


def _parameters(settings: Settings, paths: PeriodPaths, seed: int, extra: dict | None) -> dict:
    return {
        "period": str(paths.period),
        "city": settings.city,
        "public_dir": str(settings.public_dir),
        "raw_dir": str(settings.raw_dir),
        "clean_dir": str(settings.clean_dir),
        "reports_dir": str(settings.reports_dir),
        "seed": int(seed),
        **(extra or {}),
    }


def _new_manifest(settings: Settings, paths: PeriodPaths, params: dict, key: dict) -> dict:
    for d in (paths.internal, paths.staff, paths.public, paths.clean):
        d.mkdir(parents=True, exist_ok=True)
    return {
        "period": str(paths.period),
        "city": settings.city,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": params,
        "git": git_revision(),
        "packages": package_versions(),
        "platform": {
            "machine": platform.machine(),
            "system": platform.system(),
            "python": sys.version.split()[0],
        },
        "inputs": input_checksums(paths),
        "run_key": key,
        "notebooks": [],
        "seconds": 0.0,
        "status": "running",
    }


#: Thread pools of the numerical libraries in the notebook kernels. One thread each: the
#: models are small (OpenMP spin-waiting made gradient boosting 8× slower when two kernels
#: ran at once on two cores), results do not depend on the machine's core count, and a
#: range runs several kernels side by side instead. An analyst's own setting is kept.
KERNEL_THREAD_VARIABLES: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def _single_threaded_kernels() -> None:
    """Kernels inherit this process's environment: one thread per library unless set."""
    for name in KERNEL_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def _execute(
    paths: PeriodPaths,
    params: dict,
    manifest: dict,
    notebooks: tuple[str, ...],
    *,
    progress: bool,
    progress_bar: bool,
    finish: bool = True,
    numbering: tuple[int, int] | None = None,
) -> dict:
    """Execute ``notebooks`` for a period, adding to ``manifest``; with ``finish``, audit and close.

    The manifest is written after every call, with the failure recorded when a notebook
    fails (:class:`NotebookFailed`) or the audit finds something.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    nb_dir = notebooks_dir()
    total = time.perf_counter()
    first, count = numbering or (1, len(notebooks))
    _single_threaded_kernels()
    try:
        for i, name in enumerate(notebooks, first):
            src = nb_dir / name
            out = paths.internal / name
            if progress:
                print(f"[{i}/{count}] {name} ({paths.period})", flush=True)
            t0 = time.perf_counter()
            entry = {"notebook": name, "executed": str(out)}
            try:
                pm.execute_notebook(
                    str(src), str(out), parameters=params, cwd=str(nb_dir),
                    progress_bar=progress_bar, kernel_name="python3", log_output=False,
                )  # fmt: skip
            except PapermillExecutionError as e:
                entry.update(
                    status="failed",
                    seconds=round(time.perf_counter() - t0, 2),
                    error=f"{e.ename}: {e.evalue}",
                )
                manifest["notebooks"].append(entry)
                manifest["status"] = "failed"
                raise NotebookFailed(
                    f"notebook {name} failed for {paths.period}: {e.ename}: {e.evalue} (executed copy: {out})"
                ) from None
            html = staff_html(
                out, paths.staff / (Path(name).stem + ".html"), f"{Path(name).stem} {paths.period}"
            )
            if name == REPORT_NOTEBOOK:
                staff_html(out, paths.staff / "index.html", f"家庭暴力風險季報 {paths.period}")
            entry.update(
                status="ok", seconds=round(time.perf_counter() - t0, 2), staff_html=str(html)
            )
            manifest["notebooks"].append(entry)
        if finish:
            from . import disclosure

            if progress:
                print(f"disclosure audit of staff/ and public/ ({paths.period})", flush=True)
            findings = disclosure.audit(paths.reports)
            manifest["audit"] = {
                "findings": [str(f) for f in findings],
                "policy": disclosure.DEFAULT_POLICY.as_dict(),
            }
            if findings:
                manifest["status"] = "audit failed"
                disclosure.check(paths.reports)  # raises with the file and cell of each finding
            manifest["status"] = "ok"
    finally:
        manifest["seconds"] = round(manifest.get("seconds", 0.0) + time.perf_counter() - total, 2)
        manifest["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        paths.manifest.parent.mkdir(parents=True, exist_ok=True)
        paths.manifest.write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
        )
    return manifest


def _previous_run(paths: PeriodPaths, key: dict, force: bool, progress: bool) -> dict | None:
    """The manifest of a finished run with this key (marked ``skipped``), or None to run."""
    if force or not up_to_date(paths, key["key"]):
        return None
    if progress:
        print(
            f"{paths.period}: unchanged since its last run (same inputs, code and parameters);"
            " skipped (use --force to recompute)",
            flush=True,
        )
    return {**json.loads(paths.manifest.read_text(encoding="utf-8")), "skipped": True}


def run(
    settings: Settings,
    period: str | Period,
    *,
    seed: int = 42,
    notebooks: tuple[str, ...] = NOTEBOOKS,
    progress: bool = True,
    extra_parameters: dict | None = None,
    force: bool = True,
) -> dict:
    """Execute the notebooks in order for a period; return the manifest (also written to disk).

    With ``force=False`` a period whose manifest records a finished run with the same
    :func:`run_key` (same parameters, code and inputs) is not recomputed: its manifest is
    returned with ``skipped`` set. Stops at the first failing notebook with
    :class:`NotebookFailed`, after writing the manifest with the failure recorded.
    """
    settings.check_public_dir()
    paths = settings.period(period)
    params = _parameters(settings, paths, seed, extra_parameters)
    key = run_key(settings, paths.period, params, notebooks)
    previous = _previous_run(paths, key, force, progress)
    if previous is not None:
        return previous
    manifest = _new_manifest(settings, paths, params, key)
    _execute(paths, params, manifest, notebooks, progress=progress, progress_bar=progress)
    if progress:
        print(f"done in {manifest['seconds']:.1f} s")
        print(f"  executed notebooks (internal): {paths.internal}")
        print(f"  staff pages:                   {paths.staff}")
        print(f"  clean tables (internal):       {paths.clean}")
        print(f"  manifest:                      {paths.manifest}")
    return manifest


def _finish_period(
    settings: Settings, period: str, params: dict, manifest: dict, notebooks, progress: bool
) -> dict:
    """Worker of a parallel range: the notebooks after cleaning, audit and manifest."""
    paths = settings.period(period)
    done = len(manifest["notebooks"])
    return _execute(
        paths, params, manifest, tuple(notebooks), progress=progress, progress_bar=False,
        numbering=(done + 1, done + len(notebooks)),
    )  # fmt: skip


def default_jobs() -> int:
    """Parallel periods of a range: the machine's cores, at most 4 (each kernel holds ~0.6 GB)."""
    return max(1, min(os.cpu_count() or 1, 4))


def run_range(
    settings: Settings,
    start: str | Period,
    end: str | Period,
    *,
    seed: int = 42,
    force: bool = False,
    progress: bool = True,
    extra_parameters: dict | None = None,
    notebooks: tuple[str, ...] = NOTEBOOKS,
    jobs: int = 1,
) -> list[dict]:
    """Run every period from ``start`` to ``end``, skipping unchanged ones; manifests in order.

    Checks first that every period has a raw folder, and names the missing ones. With
    ``jobs`` > 1 the cleaning notebook runs quarter by quarter first (it reads the previous
    quarter's notifications), then the other notebooks of up to ``jobs`` quarters at once
    (they read only clean tables). Results do not depend on ``jobs``: every quarter has
    its own seeds. Each period's Gi* panel reuses the quarters computed before, so the
    emerging-hotspot panel is computed once for the range.
    """
    periods = period_range(start, end)
    missing = [str(p) for p in periods if not (settings.raw_dir / str(p)).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"no raw exports for {', '.join(missing)} in {settings.raw_dir}"
            " (one folder per quarter, e.g. data_raw/2020Q4/)"
        )
    settings.check_public_dir()
    t0 = time.perf_counter()
    first = tuple(n for n in notebooks if n in SEQUENTIAL_NOTEBOOKS)
    rest = tuple(n for n in notebooks if n not in SEQUENTIAL_NOTEBOOKS)
    if jobs <= 1 or len(periods) == 1 or not rest:
        manifests = []
        for i, p in enumerate(periods, 1):
            if progress and len(periods) > 1:
                print(f"=== {p} ({i}/{len(periods)}) ===", flush=True)
            manifests.append(
                run(settings, p, seed=seed, notebooks=notebooks, progress=progress,
                    extra_parameters=extra_parameters, force=force)
            )  # fmt: skip
    else:
        manifests = _run_parallel(
            settings, periods, first, rest, seed, force, progress, extra_parameters, jobs
        )
    if progress:
        done = sum(not m.get("skipped") for m in manifests)
        print(
            f"{len(periods)} period(s): {done} run, {len(periods) - done} unchanged and skipped,"
            f" in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    return manifests


def _run_parallel(settings, periods, first, rest, seed, force, progress, extra, jobs) -> list:
    """Cleaning notebooks in order, then the rest of up to ``jobs`` periods at once."""
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    notebooks = first + rest
    results: dict[str, dict] = {}
    todo: list[tuple[PeriodPaths, dict, dict]] = []
    for p in periods:
        paths = settings.period(p)
        params = _parameters(settings, paths, seed, extra)
        key = run_key(settings, paths.period, params, notebooks)
        previous = _previous_run(paths, key, force, progress)
        if previous is not None:
            results[str(p)] = previous
        else:
            todo.append((paths, params, _new_manifest(settings, paths, params, key)))
    if progress and todo:
        print(f"{len(todo)} period(s) to run: cleaning in order, then {jobs} at a time", flush=True)
    for paths, params, manifest in todo:
        _execute(paths, params, manifest, first, progress=progress, progress_bar=False,
                 finish=False, numbering=(1, len(notebooks)))  # fmt: skip
    ctx = multiprocessing.get_context("spawn")  # no inherited ZMQ state in the workers
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {
            pool.submit(
                _finish_period, settings, str(paths.period), params, manifest, rest, progress
            ): str(paths.period)
            for paths, params, manifest in todo
        }
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for f in pending:
            f.cancel()
        for f in done:
            if f.exception() is not None:
                raise f.exception()
            results[futures[f]] = f.result()
    return [results[str(p)] for p in periods]
