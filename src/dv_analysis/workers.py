"""Worker processes: the one way the suite runs work on several cores.

Notebooks of a period (``runner.schedule``) and the county fits of all of Taiwan
(``stages.risk``) run in worker processes started with ``spawn``: no inherited ZMQ
sockets or JAX threads, and the same behaviour on Linux, macOS and Windows. A script that
calls them must guard its main code with ``if __name__ == "__main__":`` (Python's rule for
``spawn``); notebooks and the ``dv-analysis`` command need nothing. The one exception is
:func:`beside`: a short computation forked from the calling process, whose results go to
files the caller would otherwise write itself (the backtest's origin fits).
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
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


@contextmanager
def beside(target: Callable[..., None], *args) -> Iterator[bool]:
    """Run ``target(*args)`` in a forked child while the block runs; wait for it at the end.

    For computations that only read arrays and write their results to files (the
    backtest's origin fits into the fit cache): a forked child starts in milliseconds with
    everything already imported, where a spawned worker would spend about 4 s importing
    (which is what a short job on two cores cannot afford). The child may not print, and
    what it leaves undone the caller must be able to do itself: a child that fails or is
    killed only costs time. Yields whether a child was started (not on a platform without
    ``fork``, or on one core); left by an exception, the child is terminated.
    """
    if cores() < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield False
        return
    child = multiprocessing.get_context("fork").Process(target=target, args=args, daemon=True)
    with warnings.catch_warnings():
        # "multi-threaded, use of fork() may lead to deadlocks in the child": the threads a
        # kernel has (ZMQ, heartbeat) are not used by the child, and Python re-initialises
        # its own locks (imports, logging) after a fork
        warnings.simplefilter("ignore", DeprecationWarning)
        child.start()
    try:
        yield True
    except BaseException:
        child.terminate()
        child.join(timeout=5)
        raise
    child.join()
