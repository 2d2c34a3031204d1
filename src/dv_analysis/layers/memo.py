"""Public layers parsed once per content and kept on disk.

Every notebook of a run reads the village boundaries: a 4 MB TopoJSON of all Taiwan,
parsed, projected to TWD97 and repaired, about 1 s each time. The features read 14
monthly population files and 12 vital-events files, each normalised and matched to the
villages by code and name, about 5 s. These frames are the same every quarter, so the
loaders keep them in ``<cache dir>/public/`` (``DV_CACHE_DIR``, default ``.cache/``):

- The key is the SHA-256 of every file read, of the loader's arguments, and of the source
  of the code that reads them (the loaders' modules, :mod:`.names` and this one). A changed
  file or a changed loader is read afresh; nothing is kept by date.
- An entry is a pickle of the frame the loader returned, so its dtypes, geometry and join
  report (``attrs``) come back exactly. It is public data only; the folder is the
  analyst's own (runs write owner-only files).
- An entry is written to a temporary file and renamed, so two notebooks that read the
  same layer at once never see half an entry. A damaged entry is read afresh.
- The folder is safe to delete. ``DV_PUBLIC_CACHE=off`` turns the keeping off.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from dv_analysis.config import cache_dir

log = logging.getLogger(__name__)


#: The modules whose source is in every key (files of this package).
KEYED_SOURCES = (
    "join.py",
    "boundaries.py",
    "population.py",
    "vital_events.py",
    "points.py",
    "village_tables.py",
    "names.py",
    "memo.py",
)


@functools.cache
def _code_digest() -> bytes:
    """SHA-256 of the source of the code that reads the public layers."""
    h = hashlib.sha256()
    for name in KEYED_SOURCES:
        h.update(Path(__file__).with_name(name).read_bytes())
    return h.digest()


@functools.lru_cache(maxsize=512)
def _file_digest(path: str, size: int, mtime_ns: int) -> bytes:
    """SHA-256 of a file's content (computed once per process for each size and time)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()


def key(kind: str, files: Sequence[Path], args: tuple) -> str:
    """The entry's name: ``kind`` and the SHA-256 of the code, the files and the arguments.

    Parameters
    ----------
    kind : str
        What the loader returns, e.g. ``"population"``.
    files : sequence of Path
        Every file the loader reads.
    args : tuple
        The loader's other arguments (``repr`` must identify them).

    Returns
    -------
    str
        ``kind`` and 40 hexadecimal digits.
    """
    h = hashlib.sha256(_code_digest())
    h.update(f"{kind}\0{args!r}".encode())
    for f in files:
        st = os.stat(f)
        h.update(_file_digest(str(f), st.st_size, st.st_mtime_ns))
    return f"{kind}-{h.hexdigest()[:40]}"


def enabled() -> bool:
    """Keeping is on unless ``DV_PUBLIC_CACHE`` is ``off``, ``0`` or ``no``."""
    return os.environ.get("DV_PUBLIC_CACHE", "").lower() not in ("off", "0", "no")


def kept(kind: str, files: Sequence[Path], args: tuple, compute: Callable[[], Any]) -> Any:
    """What ``compute()`` returns for these files and arguments: read back when kept,
    else computed and kept (see the module)."""
    if not enabled():
        return compute()
    path = cache_dir() / "public" / f"{key(kind, files, args)}.pkl"
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except FileNotFoundError:
        pass
    except Exception as e:  # noqa: BLE001 - a damaged entry is read afresh
        log.warning("kept %s unreadable (%s); reading the layer again", path.name, e)
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as e:  # a read-only cache folder: the run goes on without keeping
        log.warning("could not keep %s in %s: %s", kind, path.parent, e)
    return value
