"""One notebook executed with papermill into ``reports/<period>/internal/`` (analysts only),
in a kernel of its own (:mod:`.kernels`, :mod:`.forkserver`), then rendered as a staff page
(:mod:`.render`). The chain follows man-group/notebooker's report execution.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from dv_analysis.config import PeriodPaths
from dv_analysis.errors import RunError
from dv_analysis.runner import forkserver, kernels
from dv_analysis.runner.provenance import notebooks_dir
from dv_analysis.runner.render import REPORT_NOTEBOOK, staff_html


class NotebookFailed(RunError):
    """A notebook raised; the message names the notebook and the error."""

    fix = "the executed copy named shows the cell that failed and its traceback"


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


def single_threaded_kernels() -> None:
    """Kernels inherit this process's environment: one thread per library unless set."""
    for name in KERNEL_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")


def kernel_manager():
    """Kernels with CurveZMQ-encrypted channels where the kernel supports it (ipykernel ≥ 7.3
    warns on every start over plain TCP; the kernel and the runner share the machine),
    over IPC sockets instead of TCP ports, forked from the run's kernel server when one
    serves (:mod:`.forkserver`).

    With TCP, jupyter_client picks five free ports and releases them before the kernel
    binds them, so kernels started at once (notebooks in parallel, test workers) now and
    then took the same port and failed with "Address already in use". IPC sockets are
    files named after the kernel, in the run's kernel-server folder (owner-only, removed
    with the server) or the temporary folder, at an absolute path (jupyter_client's default,
    ``kernel-ipc`` in the working directory, is read from the notebook's folder by the
    kernel and from the runner's by the client)."""
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager

    class EncryptedKernelManager(AsyncKernelManager):
        def __init__(self, **kw):
            kw.setdefault("transport_encryption", "auto")
            kw.setdefault("transport", "ipc")
            super().__init__(**kw)
            if self.transport == "ipc" and not os.path.isabs(self.ip):
                self.ip = os.path.join(
                    forkserver.socket_folder() or tempfile.gettempdir(),
                    f"dv-kernel-{uuid.uuid4().hex}",
                )

        async def _async_pre_start_kernel(self, **kw):
            # forked from the run's kernel server when one serves (.forkserver)
            if self.provisioner is None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
                self.provisioner = forkserver.provisioner_class()(
                    kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
                )
            return await super()._async_pre_start_kernel(**kw)

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts a kernel before shutting it down; an idle kernel then
            # logs "ERROR | KeyboardInterrupt caught in kernel." on the run's console
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return EncryptedKernelManager


def run_notebook(
    paths: PeriodPaths,
    name: str,
    params: dict,
    manifest: dict,
    progress_bar: bool,
    prepare_next: bool = False,
):
    """Execute one notebook and render its staff page; record it in the manifest.

    The notebook gets this process's spare kernel, started and warmed ahead
    (:mod:`~dv_analysis.runner.kernels`); with ``prepare_next`` the next spare starts warming
    while this notebook runs.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    nb_dir = notebooks_dir()
    out = paths.internal / name
    t0 = time.perf_counter()
    entry = {"notebook": name, "executed": str(paths.final.internal / name)}
    manifest["notebooks"].append(entry)
    try:
        manager = kernels.take(kernel_manager(), nb_dir, prepare_next=prepare_next)
        pm.execute_notebook(
            str(nb_dir / name),
            str(out),
            parameters=params,
            cwd=str(nb_dir),
            progress_bar=progress_bar,
            kernel_name="python3",
            log_output=False,
            kernel_manager_class=manager,
            request_save_on_cell_execute=False,
        )
    except PapermillExecutionError as e:
        entry.update(
            status="failed",
            seconds=round(time.perf_counter() - t0, 2),
            error=f"{e.ename}: {e.evalue}",
        )
        manifest["status"] = "failed"
        raise NotebookFailed(
            f"notebook {name} failed for {paths.period}: {e.ename}: {e.evalue} (executed copy: {out})"
        ) from None
    stem = Path(name).stem
    html = staff_html(out, paths.staff / f"{stem}.html", f"{stem} {paths.period}")
    if name == REPORT_NOTEBOOK:
        staff_html(out, paths.staff / "index.html", f"家庭暴力風險季報 {paths.period}")
    final = paths.final.staff / html.name
    entry.update(status="ok", seconds=round(time.perf_counter() - t0, 2), staff_html=str(final))
