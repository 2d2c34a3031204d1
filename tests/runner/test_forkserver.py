"""Kernels forked from the run's kernel server (runner.forkserver): a notebook runs in a
process of its own with the suite already imported, figures still show, interrupts and
kills reach it, and nothing outlives the server."""

import os
import time

import nbformat
import pytest
from jupyter_core.utils import run_sync
from nbclient import NotebookClient

from dv_analysis.runner import forkserver, kernels
from dv_analysis.runner.notebook import kernel_manager, single_threaded_kernels

pytestmark = pytest.mark.skipif(not forkserver.supported(), reason="kernels fork on Linux only")


def _notebook(*sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie has ended
        return f.read().split(")")[-1].split()[0] != "Z"


def _wait_for_end(pid: int, seconds: float = 10.0) -> None:
    """Wait until ``pid`` has ended (a kill lands asynchronously), at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _started(cwd):
    """A kernel started (forked, with a server) in ``cwd`` and its ready client."""
    km = kernel_manager()()
    run_sync(km.start_kernel)(cwd=str(cwd))
    kc = km.blocking_client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    return km, kc


def _run(nb, cwd):
    adopted = kernels.take(kernel_manager(), cwd, prepare_next=False)
    km = adopted()
    NotebookClient(nb, kernel_manager_class=adopted, kernel_name="python3").execute()
    return km


def test_a_notebook_runs_in_a_forked_kernel_of_its_own(tmp_path):
    single_threaded_kernels()
    with forkserver.serving() as serving:
        assert serving and forkserver.available()
        code = (
            "import os, sys\n"
            "print(os.getpid(), os.getppid(), os.getcwd(), 'dv_analysis.stages.clean' in sys.modules,"
            " 'jax' in sys.modules, os.environ.get('OMP_NUM_THREADS'))"
        )
        nb1 = _notebook(code, "x = 1")
        nb2 = _notebook(code, "print('x' in dir())")
        km = _run(nb1, tmp_path)
        assert type(km.provisioner).__name__ == "ForkingProvisioner"
        pid1, parent1, cwd, imported, jax, threads = nb1.cells[0].outputs[0]["text"].split()
        km2 = _run(nb2, tmp_path)
        pid2, parent2, *_ = nb2.cells[0].outputs[0]["text"].split()
        assert pid1 != pid2 and parent1 == parent2 != str(os.getpid())  # both of the server
        assert (cwd, imported, jax, threads) == (str(tmp_path), "True", "False", "1")
        assert nb2.cells[1].outputs[0]["text"].strip() == "False"  # no state carried over
        assert not km.has_kernel and not km2.has_kernel  # nbclient shut both down
        for pid in (int(pid1), int(pid2)):
            assert not _alive(pid)
    assert forkserver.ADDRESS_VARIABLE not in os.environ
    assert not _alive(int(parent1))  # the server ended with the block


def test_figures_still_show_inline(tmp_path):
    single_threaded_kernels()
    with forkserver.serving():
        nb = _notebook("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()")
        _run(nb, tmp_path)
    assert any("image/png" in o.get("data", {}) for o in nb.cells[0].outputs)


def test_interrupt_and_kill_reach_a_forked_kernel(tmp_path):
    single_threaded_kernels()
    with forkserver.serving():
        km, kc = _started(tmp_path)
        msg = kc.execute("import time; time.sleep(60)")
        time.sleep(1.0)
        run_sync(km.interrupt_kernel)()
        reply = kc.get_shell_msg(timeout=20)
        while reply["parent_header"]["msg_id"] != msg:
            reply = kc.get_shell_msg(timeout=20)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        pid = km.provisioner.pid
        kc.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)  # kills it
        assert not _alive(pid)


def test_kernels_die_with_the_server(tmp_path):
    single_threaded_kernels()
    with forkserver.serving():
        km = kernel_manager()()
        run_sync(km.start_kernel)(cwd=str(tmp_path))
        pid = km.provisioner.pid
        assert _alive(pid)
    # the kernel notices its parent's end once it has started (a poll a second); under the
    # load of the whole suite that start took more than 10 s once
    _wait_for_end(pid, 30.0)
    assert not _alive(pid)
    run_sync(km.cleanup_resources)()


def test_a_failed_server_sends_only_its_own_run_to_cold_kernels(tmp_path):
    """A server that failed a request is not asked again; the next run's server is."""
    single_threaded_kernels()
    with forkserver.serving():
        address = os.environ[forkserver.ADDRESS_VARIABLE]
        forkserver._failed[address] = "OSError: a test"
        assert not forkserver.available()
    with forkserver.serving():
        assert forkserver.available()
        nb = _notebook("1 + 1")
        km = _run(nb, tmp_path)
        assert km.provisioner.forked


def test_without_a_server_kernels_start_as_before(tmp_path, monkeypatch):
    monkeypatch.setenv(forkserver.ADDRESS_VARIABLE, "off")
    with forkserver.serving() as serving:
        assert not serving
        nb = _notebook("import os\nprint(os.getppid())")
        km = _run(nb, tmp_path)
    assert type(km.provisioner).__name__ == "ForkingProvisioner"  # it fell back
    assert nb.cells[0].outputs[0]["text"].strip() == str(os.getpid())  # this process's child


def test_a_stuck_kernel_is_killed_on_sigterm_of_the_server(tmp_path):
    """The server's SIGTERM handler kills each kernel's whole session."""
    single_threaded_kernels()
    with forkserver.serving():
        km, kc = _started(tmp_path)
        kc.execute("import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)")
        kc.get_shell_msg(timeout=20)
        assert km.provisioner.forked
        pid = km.provisioner.pid
        kc.stop_channels()
    _wait_for_end(pid)
    assert not _alive(pid)  # SIGKILL, which it cannot ignore


def test_kernels_use_ipc_sockets_of_their_own_at_an_absolute_path():
    """No TCP ports to race for, and the same socket path for the kernel (started in the
    notebook's folder) and the client (in the runner's)."""
    first, second = kernel_manager()(), kernel_manager()()
    assert first.transport == second.transport == "ipc"
    assert os.path.isabs(first.ip) and first.ip != second.ip
    with forkserver.serving() as serving:  # a run's kernels: in the server's owner-only folder
        folder = forkserver.socket_folder()
        assert serving and folder and os.path.dirname(kernel_manager()().ip) == folder
    assert not os.path.exists(folder)  # removed with the server, sockets of killed kernels too
