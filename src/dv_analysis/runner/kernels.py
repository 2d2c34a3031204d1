"""Kernels started ahead of the notebooks that will use them.

Before a notebook's first statistic its kernel costs about 4 s: the kernel process starts
(about 1.5 s) and the notebook imports pandas, geopandas, statsmodels, esda, matplotlib
and the suite (about 2.5 s). A period runs seven notebooks, six of them one after the
other, so that is a quarter of a Taipei quarter's run (``docs/benchmarks.md``).

Each process that executes notebooks keeps one spare kernel: while a notebook runs, the
next notebook's kernel starts and imports the suite's modules (``WARM_UP``). What runs
in a notebook does not change: the warm-up only imports modules the notebooks import
themselves (not JAX, whose settings the village-risk notebook makes first), without
output and outside the kernel's history, and every notebook still gets a kernel of its
own. nbclient adopts the spare as if it had started it, and shuts it down at the end.
"""

from __future__ import annotations

import logging
import multiprocessing.util
from pathlib import Path

log = logging.getLogger(__name__)

#: What a spare kernel runs before a notebook is given to it: the notebooks' imports.
WARM_UP = """
import IPython.display
import matplotlib.pyplot
import mapclassify
import dv_analysis.config, dv_analysis.layers
from dv_analysis.pages import charts, credits, front_page, maps, show, summaries, tables
from dv_analysis.stages import access, clean, features, hotspots, priority
"""

#: The warm-up of a kernel forked from the run's kernel server (:mod:`.forkserver`), which
#: imported the rest before forking it.
FORKED_WARM_UP = "import matplotlib.pyplot\n"

#: Arguments nbclient gives the kernels it starts (history in memory, not in SQLite).
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:"]

_spares: dict[str, tuple[object, object]] = {}  # cwd → (kernel manager, client of its warm-up)


def _start(manager_class: type, cwd: str):
    """A kernel started in ``cwd`` with its warm-up sent to it (not waited for)."""
    from jupyter_core.utils import run_sync

    km = manager_class(kernel_name="python3")
    run_sync(km.start_kernel)(cwd=cwd, extra_arguments=list(KERNEL_ARGUMENTS))
    kc = km.blocking_client()
    kc.start_channels()
    code = FORKED_WARM_UP if getattr(km.provisioner, "forked", False) else WARM_UP
    kc.execute(code, silent=True, store_history=False, allow_stdin=False)
    return km, kc


def _ready(km, kc, timeout: float = 120.0) -> bool:
    """Wait for the warm-up to end and close its client; False if the kernel died meanwhile."""
    import queue

    from jupyter_core.utils import run_sync

    alive = run_sync(km.is_alive)
    try:
        for _ in range(int(timeout)):
            try:
                kc.get_shell_msg(timeout=1.0)
                return alive()
            except queue.Empty:
                if not alive():
                    return False
        return alive()  # still importing after the timeout: the notebook will wait for it
    finally:
        kc.stop_channels()


def _warm(manager_class: type, cwd: str, spare=None):
    """A warm kernel: the spare if it is alive after its warm-up, else one started now."""
    from jupyter_core.utils import run_sync

    if spare is not None:
        if _ready(*spare):
            return spare[0]
        log.warning("the spare kernel died while warming up; starting another")
        run_sync(spare[0].cleanup_resources)()
    km, kc = _start(manager_class, cwd)
    _ready(km, kc)
    return km


def prepare(manager_class: type, cwd: Path) -> None:
    """Start this process's spare kernel for notebooks in ``cwd``, if it has none. A spare
    that cannot start is logged, not raised: the next notebook then starts its own kernel."""
    key = str(cwd)
    if key not in _spares:
        try:
            _spares[key] = _start(manager_class, key)
        except Exception:  # noqa: BLE001 - any failure to start is the same to the caller
            log.warning("could not start a spare kernel", exc_info=True)


def take(manager_class: type, cwd: Path, *, prepare_next: bool = True) -> type:
    """A kernel-manager class for papermill whose one instance is a started, warm kernel.

    The spare of this process is used if there is one (else a kernel is started now); with
    ``prepare_next`` the next spare starts warming at once. nbclient instantiates the
    returned class, finds the kernel running, and owns it from then on.
    """
    key = str(cwd)
    km = _warm(manager_class, key, _spares.pop(key, None))
    if prepare_next:
        prepare(manager_class, cwd)

    class Adopted(type(km)):
        """nbclient's kernel manager: the kernel started ahead (see the module)."""

        def __new__(cls, *args, **kwargs):
            return km

    return Adopted


def close() -> None:
    """Shut down this process's spare kernels (at the end of a run, and at a worker's exit)."""
    from jupyter_core.utils import run_sync

    while _spares:
        _, (km, kc) = _spares.popitem()
        try:
            kc.stop_channels()
            run_sync(km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 - a kernel already gone
            log.debug("spare kernel already gone", exc_info=True)


def close_at_exit() -> None:
    """Shut the spares down when this (worker) process ends: multiprocessing's workers do
    not run ``atexit`` handlers, only its own finalizers."""
    multiprocessing.util.Finalize(None, close, exitpriority=10)
