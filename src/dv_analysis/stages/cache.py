"""A table computed once per content: a parquet file with its key beside it.

The Gi* of each quarter of the panel, the BYM2 window of each backtest origin and the
early warning at each origin are all kept this way: ``<file>.parquet`` and
``<file>.parquet.key`` (the SHA-256 of every input, and of the code that computes it:
:func:`code_digest`). A file whose key differs is computed again and overwritten; the key
is written last, so an interrupted write is never read.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def code_digest(*code) -> bytes:
    """SHA-256 of the source of modules and functions: a key that holds it changes when the
    code that computes the kept table changes (a cache must not outlive its method).

    Parameters
    ----------
    *code : module or function
        What computes the table.

    Returns
    -------
    bytes
        The digest.
    """
    h = hashlib.sha256()
    for obj in code:
        h.update(inspect.getsource(obj).encode())
    return h.digest()


def key(tag: str, code: tuple, *parts) -> str:
    """Content address of a kept result: SHA-256 of ``tag``, the source of ``code``
    (:func:`code_digest`: a change to the code that computes the result changes the key, so
    no version is kept by hand) and every part, each prefixed by its length.

    Parameters
    ----------
    tag : str
        What is kept, e.g. ``"gi-quarter"``.
    code : tuple of module or function
        What computes it.
    *parts : bytes, str, numpy.ndarray or JSON-serialisable
        Its inputs and settings; arrays by their dtype, shape and bytes.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    h = hashlib.sha256(tag.encode() + b"|")
    h.update(code_digest(*code))
    for part in parts:
        if isinstance(part, bytes):
            data = part
        elif isinstance(part, str):
            data = part.encode()
        elif isinstance(part, np.ndarray):
            a = np.ascontiguousarray(part)
            data = f"{a.dtype.str}{a.shape}".encode() + a.tobytes()
        else:
            data = json.dumps(part, sort_keys=True, default=str).encode()
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def keyed_table(
    path: Path | None, key: str, compute: Callable[[], pd.DataFrame]
) -> tuple[pd.DataFrame, bool]:
    """The table at ``path`` when its key is ``key``, otherwise ``compute()`` written there.

    Returns the table and whether it was read back. With ``path`` None nothing is kept.
    """
    if path is None:
        return compute(), False
    keyfile = path.with_name(path.name + ".key")
    if path.exists() and keyfile.exists() and keyfile.read_text() == key:
        return pd.read_parquet(path), True
    table = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    keyfile.unlink(missing_ok=True)
    table.to_parquet(path, index=False)
    keyfile.write_text(key)
    return table, False
