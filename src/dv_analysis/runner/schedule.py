"""The notebooks of a period, one after the other or at once where they do not read each
other (``config.NOTEBOOK_NEEDS``), in worker processes (:mod:`dv_analysis.workers`).
"""

from __future__ import annotations

import time

from dv_analysis.config import NOTEBOOK_NEEDS, PeriodPaths
from dv_analysis.runner import forkserver, kernels, render
from dv_analysis.runner.manifest import write_manifest
from dv_analysis.runner.notebook import (
    NotebookFailed,
    kernel_manager,
    run_notebook,
    single_threaded_kernels,
)
from dv_analysis.runner.provenance import notebooks_dir
from dv_analysis.workers import process_pool


def execute_notebooks(
    paths: PeriodPaths,
    params: dict,
    manifest: dict,
    notebooks: tuple[str, ...],
    *,
    progress: bool,
    progress_bar: bool,
    numbering: tuple[int, int] | None = None,
    jobs: int = 1,
) -> dict:
    """Execute ``notebooks`` for a period, adding to ``manifest``, which is written after the
    call whatever happens (with the failure recorded, :class:`NotebookFailed`).

    With ``jobs`` > 1 a notebook starts as soon as the notebooks it reads
    (:data:`~dv_analysis.config.NOTEBOOK_NEEDS`) have finished, up to ``jobs`` at once
    (:func:`_execute_graph`, without per-cell progress bars: their lines would interleave);
    otherwise one after the other in order.
    """
    started = time.perf_counter()
    first, count = numbering or (1, len(notebooks))
    single_threaded_kernels()  # before the kernel server starts: it imports numpy
    try:
        with forkserver.serving():
            if jobs > 1 and len(notebooks) > 1:
                _execute_graph(paths, params, manifest, notebooks, progress, (first, count), jobs)
            else:
                for i, name in enumerate(notebooks, first):
                    if progress:
                        print(f"[{i}/{count}] {name} ({paths.period})", flush=True)
                    more = name != notebooks[-1]
                    run_notebook(paths, name, params, manifest, progress_bar, prepare_next=more)
    finally:
        kernels.close()
        write_manifest(paths, manifest, started)
    return manifest


def _notebook_job(
    paths: PeriodPaths, name: str, params: dict, prepare_next: bool
) -> tuple[dict, str | None]:
    """Worker of :func:`_execute_graph`: one notebook; its manifest entry and error, if any."""
    record: dict = {"notebooks": []}
    try:
        run_notebook(paths, name, params, record, progress_bar=False, prepare_next=prepare_next)
    except NotebookFailed as e:
        return record["notebooks"][0], str(e)
    return record["notebooks"][0], None


def _worker_start() -> None:
    """Initializer of :func:`_execute_graph`'s workers: a spare kernel warms at once."""
    kernels.close_at_exit()
    kernels.prepare(kernel_manager(), notebooks_dir())
    import papermill  # noqa: F401  (imported while the spare kernel starts, not after)

    render.warm()


def _no_op() -> None:
    """A task that makes the pool start a worker (workers start on demand)."""


def _execute_graph(paths, params, manifest, notebooks, progress, numbering, jobs) -> None:
    """Notebooks whose needs among ``notebooks`` have finished run at once, each in a process
    of its own (``jobs`` at most). After a failure nothing new starts; the running ones end
    and the first failure in the notebooks' order is raised. The manifest lists the
    notebooks in their order. Interrupted, the workers (and with them their kernels) stop.
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    first, count = numbering
    number = {n: i for i, n in enumerate(notebooks, first)}
    needs = {n: [m for m in NOTEBOOK_NEEDS[n] if m in notebooks] for n in notebooks}
    waiting, running, entries, errors = list(notebooks), {}, {}, {}
    try:
        with process_pool(jobs, initializer=_worker_start) as pool:
            # One worker (started by the first notebook) at first: the others would slow its
            # start by about 2 s on two cores. They start when it ends, behind the notebooks
            # then ready, and warm up while those run.
            others = min(jobs, len(notebooks)) - 1
            while waiting or running:
                ready = (
                    []
                    if errors
                    else [
                        n
                        for n in waiting
                        if all(entries.get(m, {}).get("status") == "ok" for m in needs[n])
                    ]
                )
                for name in ready[: jobs - len(running)]:
                    waiting.remove(name)
                    if progress:
                        print(f"[{number[name]}/{count}] {name} ({paths.period})", flush=True)
                    # a spare for every notebook still to come, counting the workers' first
                    more = len(waiting) >= jobs  # spares (their initializer): none left unused
                    running[pool.submit(_notebook_job, paths, name, params, more)] = name
                if entries and waiting and not errors:  # after the first notebook, behind the
                    # notebooks just submitted; none after a failure or when nothing is left
                    for _ in range(others):
                        pool.submit(_no_op)
                    others = 0
                if not running:
                    break  # after a failure: what waits for it never starts
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    name = running.pop(future)
                    entries[name], error = future.result()
                    if error:
                        errors[name] = error
                    elif progress:
                        print(f"      {name} done ({entries[name]['seconds']:.1f} s)", flush=True)
    finally:
        manifest["notebooks"].extend(entries[n] for n in notebooks if n in entries)
    if errors:
        manifest["status"] = "failed"
        raise NotebookFailed(errors[min(errors, key=notebooks.index)])
