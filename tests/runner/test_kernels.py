"""Spare kernels (runner.kernels): a notebook gets a started kernel with the suite imported,
runs in it as in a kernel of its own, and no kernel outlives the run."""

import nbformat
from nbclient import NotebookClient

from dv_analysis.runner import kernels
from dv_analysis.runner.notebook import kernel_manager


def _notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def test_a_notebook_runs_in_the_warm_spare_and_it_is_shut_down(tmp_path):
    manager = kernel_manager()
    try:
        kernels.prepare(manager, tmp_path)
        spare_km = kernels._spares[str(tmp_path)][0]
        adopted = kernels.take(manager, tmp_path, prepare_next=True)
        assert adopted() is spare_km  # nbclient's instance is the spare, already started
        nb = _notebook(
            "import os, sys\n"
            "print('dv_analysis.stages.access' in sys.modules, 'jax' in sys.modules, os.getcwd())",
            "1 + 1",
        )
        NotebookClient(nb, kernel_manager_class=adopted, kernel_name="python3").execute()
        out = nb.cells[0].outputs[0]["text"].split()
        assert out == ["True", "False", str(tmp_path)]  # imported ahead; JAX not; cwd kept
        assert [c.execution_count for c in nb.cells] == [1, 2]  # the warm-up left no trace
        assert not spare_km.has_kernel  # nbclient owned it and shut it down
        nxt = kernels._spares[str(tmp_path)][0]
        assert nxt is not spare_km and nxt.has_kernel  # the next spare is warming
    finally:
        kernels.close()
    assert not kernels._spares and not nxt.has_kernel


def test_without_a_spare_a_kernel_is_started(tmp_path):
    manager = kernel_manager()
    try:
        adopted = kernels.take(manager, tmp_path, prepare_next=False)
        assert not kernels._spares
        nb = _notebook("import sys\nprint('dv_analysis.pages.maps' in sys.modules)")
        NotebookClient(nb, kernel_manager_class=adopted, kernel_name="python3").execute()
        assert nb.cells[0].outputs[0]["text"].strip() == "True"
    finally:
        kernels.close()


def test_a_spare_that_died_is_replaced(tmp_path):
    from jupyter_core.utils import run_sync

    manager = kernel_manager()
    try:
        kernels.prepare(manager, tmp_path)
        dead = kernels._spares[str(tmp_path)][0]
        run_sync(dead.shutdown_kernel)(now=True)
        adopted = kernels.take(manager, tmp_path, prepare_next=False)
        km = adopted()
        assert km is not dead and run_sync(km.is_alive)()
        nb = _notebook("print(6 * 7)")
        NotebookClient(nb, kernel_manager_class=adopted, kernel_name="python3").execute()
        assert nb.cells[0].outputs[0]["text"].strip() == "42"
    finally:
        kernels.close()


def test_a_kernel_is_not_interrupted_when_it_is_shut_down(monkeypatch):
    """jupyter_client interrupts a kernel before shutting it down, and a kernel interrupted
    in a message handler logs ``ERROR | KeyboardInterrupt caught in kernel.`` on the run's
    console (``make demo`` printed it mid-progress); an interrupt outside a shutdown still
    goes through."""
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    sent = []

    async def interrupt(self):
        sent.append(self.shutting_down)

    monkeypatch.setattr(AsyncKernelManager, "_async_interrupt_kernel", interrupt)
    km = kernel_manager()(kernel_name="python3")
    km.shutting_down = True
    asyncio.run(km._async_interrupt_kernel())
    assert sent == []
    km.shutting_down = False
    asyncio.run(km._async_interrupt_kernel())
    assert sent == [False]
