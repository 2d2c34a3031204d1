"""Worker processes: the one way the suite runs work on several cores.

Notebooks of a period (``runner.schedule``) and the county fits of all of Taiwan
(``stages.risk``) run in worker processes started with ``spawn``: no inherited ZMQ
sockets or JAX threads, and the same behaviour on Linux, macOS and Windows. A script that
calls them must guard its main code with ``if __name__ == "__main__":`` (Python's rule for
``spawn``); notebooks and the ``dv-analysis`` command need nothing.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager


def cores() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def stop(pool: ProcessPoolExecutor) -> None:
    """Terminate the pool's workers now (what they run is abandoned) and shut it down;
    returns once they have ended (5 s at most each)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(timeout=5)


@contextmanager
def process_pool(
    workers: int, initializer: Callable[[], None] | None = None
) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` spawned processes, shut down at the end of the block.

    Left by an exception (a failure, Ctrl-C), the workers are terminated at once rather
    than waited for, so nothing of an abandoned run goes on in the background.
    """
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=initializer)
    try:
        yield pool
    except BaseException:
        stop(pool)
        raise
    pool.shutdown()
