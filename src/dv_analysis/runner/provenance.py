"""Provenance of a run: file hashes, the content address of a period's run, versions, git.

A period's *run key* is the SHA-256 of its parameters, the notebooks, the package's
code and every input; a finished run with the same key is not recomputed.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from dv_analysis.config import Period, PeriodPaths, Settings, project_root
from dv_analysis.runner.staging import read_json

#: Packages whose versions every manifest records.
PACKAGES: tuple[str, ...] = (
    "pandas",
    "numpy",
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "pyarrow",
    "statsmodels",
    "scikit-learn",
    "matplotlib",
    "libpysal",
    "esda",
    "numba",
    "papermill",
    "nbconvert",
)


def notebooks_dir() -> Path:
    """The folder of the suite's notebooks."""
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


def code_fingerprint(notebooks: tuple[str, ...] | None = None) -> str:
    """SHA-256 over the package's source, its templates and the notebooks: what "code" means for reruns.

    ``notebooks``: only these notebooks' files (a run's own; every notebook when None), so a
    change to the plan's notebook does not recompute the quarter's core. Files are named
    relative to the package's parent and the notebooks' folder, not the project root. Docs,
    tests and benchmarks are left out, so changing them does not invalidate results.
    """
    pkg = Path(__file__).resolve().parents[1]
    folder = notebooks_dir()
    books = sorted(folder.glob("*.ipynb")) if notebooks is None else [folder / n for n in notebooks]
    named = [
        (f.relative_to(pkg.parent).as_posix(), f)
        for f in pkg.rglob("*")
        if f.is_file() and "__pycache__" not in f.parts
    ]
    named += [(f"notebooks/{f.name}", f) for f in books if f.exists()]
    h = hashlib.sha256()
    for name, f in sorted(named):
        h.update(name.encode() + b"\0" + _cached_sha(f).encode() + b"\n")
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
        "code": code_fingerprint(tuple(notebooks)),
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
    m = read_json(paths.manifest)
    if m.get("status") != "ok" or m.get("run_key", {}).get("key") != key:
        return False
    return bool(m.get("notebooks")) and not missing_outputs(m)


def missing_outputs(manifest: dict) -> list[str]:
    """The notebooks of a manifest whose executed copy or staff page is not on disk."""
    return [
        e.get("notebook", "?")
        for e in manifest.get("notebooks", [])
        if not e.get("executed")
        or not Path(e["executed"]).exists()
        or ("staff_html" in e and not Path(e["staff_html"]).exists())
    ]


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
