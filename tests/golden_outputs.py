"""The golden-output check: every table and staff page of a small synthetic run, frozen.

A snapshot holds, for each period of the end-to-end run, every parquet table of
``data_clean/<period>/``, the JSON summaries there, and the text of every staff page
(tags, styles and embedded images removed, so a page is compared by what staff read).
``tests/test_golden.py`` compares the run of the current code with the snapshot kept in
``tests/golden/``. After a deliberate change of behaviour, rewrite it with::

    DV_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

and say in the commit why the outputs changed.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd

GOLDEN_DIR = Path(__file__).parent / "golden"

_DROP_BLOCKS = re.compile(r"<(style|script)\b.*?</\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?(\.\d+)?([+-]\d{2}:?\d{2}|Z)?")
#: JSON fields that depend on where and when a run happened, not on what it computed.
_VOLATILE_KEYS = {"seconds", "started", "finished", "path", "file", "source"}


def page_text(markup: str) -> str:
    """What a reader sees of an HTML page: text lines, without styles, scripts, images or timestamps."""
    text = _DROP_BLOCKS.sub(" ", markup)
    text = _TAG.sub("\n", text)
    text = html.unescape(text)
    lines = (_SPACE.sub(" ", line).strip() for line in text.splitlines())
    return _STAMP.sub("<time>", "\n".join(line for line in lines if line))


def _stable_json(obj, root: Path):
    """A JSON value with run-dependent fields removed and the run's folders made relative."""
    if isinstance(obj, dict):
        return {k: _stable_json(v, root) for k, v in obj.items() if k not in _VOLATILE_KEYS}
    if isinstance(obj, list):
        return [_stable_json(v, root) for v in obj]
    if isinstance(obj, str):
        return obj.replace(str(root), "<root>")
    return obj


def snapshot(settings, periods, root: Path) -> dict[str, object]:
    """Tables, summaries and staff page texts of ``periods``, keyed by a relative name."""
    out: dict[str, object] = {}
    for period in periods:
        p = settings.period(period)
        for f in sorted(p.clean.glob("*.parquet")):
            out[f"{period}/{f.name}"] = pd.read_parquet(f)
        for f in sorted(p.clean.glob("*.json")):
            out[f"{period}/{f.name}"] = _stable_json(json.loads(f.read_text("utf-8")), root)
        for f in sorted(p.staff.glob("*.html")):
            out[f"{period}/staff/{f.stem}.txt"] = page_text(f.read_text("utf-8"))
    return out


def write(snap: dict[str, object], folder: Path = GOLDEN_DIR) -> None:
    """Replace the golden snapshot on disk with ``snap``."""
    for old in folder.rglob("*"):
        if old.is_file() and old.name != "README.md":
            old.unlink()
    for name, value in snap.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(value, pd.DataFrame):
            value.to_parquet(path, index=False)
        elif name.endswith(".json"):
            path.write_text(
                json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True), "utf-8"
            )
        else:
            path.write_text(value, "utf-8")


def read(folder: Path = GOLDEN_DIR) -> dict[str, object]:
    """The golden snapshot kept in the repository."""
    out: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name == "README.md":
            continue
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".parquet":
            out[name] = pd.read_parquet(path)
        elif path.suffix == ".json":
            out[name] = json.loads(path.read_text("utf-8"))
        else:
            out[name] = path.read_text("utf-8")
    return out


def _close(got, expected) -> bool:
    """JSON values equal, floats within 1e-6 (relative or absolute): a refactor that only
    reorders arithmetic moves the last bits, and residuals such as Newton's gradient at
    convergence (about 1e-7) are noise."""
    import math

    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and got.keys() == expected.keys()
            and all(_close(got[k], expected[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(_close(a, b) for a, b in zip(got, expected, strict=True))
        )
    if isinstance(expected, float) and isinstance(got, int | float):
        return math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-6)
    return got == expected


def differences(name: str, got, expected) -> list[str]:
    """What differs between a current and a golden entry, in a few lines ([] if equal)."""
    import difflib

    if isinstance(expected, pd.DataFrame):
        try:
            pd.testing.assert_frame_equal(got, expected, obj=name)
        except AssertionError as e:
            return [f"{name}: " + " ".join(str(e).split())[:400]]
        return []
    if _close(got, expected):
        return []
    if isinstance(expected, str):
        diff = difflib.unified_diff(expected.splitlines(), got.splitlines(), lineterm="", n=0)
        return [f"{name}:"] + [f"    {line}" for line in list(diff)[2:12]]
    return [
        f"{name}: {json.dumps(got, ensure_ascii=False)[:200]} != {json.dumps(expected, ensure_ascii=False)[:200]}"
    ]
