"""One run of a period at a time: a lock file per period and reports folder.

The lock is created with ``O_CREAT | O_EXCL`` (atomic on local file systems) and holds
the process id, host, start time and command of the run. A second run of the same period
is refused at once with those facts. A lock whose process is gone (killed, machine
restarted) is recognised and removed with a message; on another host the process cannot
be checked, so such a lock is only reported.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from dv_analysis.config import Period, Settings
from dv_analysis.errors import RunError
from dv_analysis.runner.staging import read_json


class PeriodLocked(RunError):
    """Another run holds the period's lock; the message names it."""

    fix = "wait for that run to end (a lock of a process that has died is taken over)"


def _process_start(pid: int) -> str | None:
    """The start time of a process in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(info: dict) -> bool:
    """True when the lock's process still runs (or cannot be checked: another host)."""
    if info.get("host") != socket.gethostname():
        return True
    pid = int(info.get("pid", -1))
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = info.get("process_start")
    return started is None or _process_start(pid) in (None, started)


def _describe(info: dict) -> str:
    return (
        f"process {info.get('pid')} on {info.get('host')}, started {info.get('started')}"
        f" ({info.get('command', '?')})"
    )


def _create(path: Path, info: dict) -> bool:
    """Create the lock file; False if it exists."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(info, f, ensure_ascii=False)
    return True


@contextmanager
def period_lock(settings: Settings, period: str | Period) -> Iterator[dict]:
    """Hold the lock of ``period`` for the block; raise :class:`PeriodLocked` if it is taken.

    A lock left by a process that no longer runs on this host is removed (with a message
    on stderr) and taken.
    """
    path = settings.lock_file(period)
    path.parent.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    info = {
        "period": str(Period.parse(period)),
        "pid": pid,
        "process_start": _process_start(pid),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
    }
    for _ in range(2):
        if _create(path, info):
            break
        other = read_json(path)
        if other and _alive(other):
            raise PeriodLocked(
                f"{info['period']} is already being run by {_describe(other)};"
                f" wait for it to finish or stop it (lock: {path})"
            )
        print(
            f"{info['period']}: removing a stale lock of {_describe(other)},"
            f" which is no longer running ({path})",
            file=sys.stderr,
            flush=True,
        )
        path.unlink(missing_ok=True)
    else:  # pragma: no cover - a third process took it between our two attempts
        raise PeriodLocked(f"{info['period']}: could not take the lock {path}")
    try:
        yield info
    finally:
        if read_json(path).get("pid") == pid:
            path.unlink(missing_ok=True)


@contextmanager
def period_locks(settings: Settings, periods) -> Iterator[None]:
    """The locks of several periods, all or none."""
    with ExitStack() as stack:
        for p in periods:
            stack.enter_context(period_lock(settings, p))
        yield
