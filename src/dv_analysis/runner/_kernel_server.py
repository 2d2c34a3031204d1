"""The kernel server: one warm process that forks a notebook kernel on request (Linux).

Run as a script by :mod:`.forkserver` (``python _kernel_server.py ADDRESS``, with the
authentication key in ``DV_KERNEL_SERVER_KEY``), not imported: it must not import the
runner (papermill, ZMQ clients) nor anything that starts a thread, since it forks.

It listens first, then imports the modules the notebooks import (``PRELOAD``), then
answers each request ``{"cmd", "env", "cwd"}`` (an ``ipykernel_launcher`` command line)
by forking a child that becomes that kernel, and replies with the child's pid. A child
keeps the imported modules and nothing else of the server: it gets the request's
environment, working directory and a session of its own, as ``jupyter_client`` gives a
kernel it starts, and it exits when the server does (ipykernel's parent poller). The
server runs no notebook code; it reaps its children, and ends (killing the kernels still
alive) on SIGTERM or when the process that started it ends.
"""

import os
import signal
import sys

#: What the server imports once for every kernel (the notebooks' own imports; not JAX,
#: whose settings the village-risk notebook makes before importing it, and not pyplot,
#: whose backend each kernel chooses for itself).
PRELOAD = (
    "ipykernel.kernelapp",
    "IPython.display",
    "matplotlib",
    "mapclassify",  # geopandas' classified maps: compiles a numba function at import (4–6 s)
    "dv_analysis.config",
    "dv_analysis.public",
    "dv_analysis.pages.charts",
    "dv_analysis.pages.credits",
    "dv_analysis.pages.maps",
    "dv_analysis.pages.report",
    "dv_analysis.pages.show",
    "dv_analysis.pages.summaries",
    "dv_analysis.pages.tables",
    "dv_analysis.stages.access",
    "dv_analysis.stages.clean",
    "dv_analysis.stages.features",
    "dv_analysis.stages.hotspots",
    "dv_analysis.stages.priority",
)

_children: set[int] = set()


def _die_with_parent() -> None:
    """SIGTERM to this process when the one that started it ends (Linux ``prctl``)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _reap(*_) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _children.discard(pid)


def _stop(*_) -> None:
    for pid in list(_children):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(0)


def _become_kernel(request: dict) -> None:
    """In the forked child: run the kernel of ``request`` and exit (never returns)."""
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        args = list(request["cmd"][3:])  # after: python -m ipykernel_launcher
        sys.argv = ["ipykernel_launcher", *args]
        sys.path[0] = os.getcwd()  # as ``python -m`` would have it
        from ipykernel.kernelapp import IPKernelApp

        IPKernelApp.launch_instance(argv=[*args, f"--IPKernelApp.parent_handle={os.getppid()}"])
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0
    except BaseException:  # noqa: BLE001 - reported, then the child ends
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _serve(listener) -> None:
    while True:
        conn = listener.accept()
        try:
            request = conn.recv()
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
            pid = os.fork()
            if pid == 0:
                listener.close()
                conn.close()
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
                _become_kernel(request)
            _children.add(pid)  # before its end can be reaped
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            conn.send(pid)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()


def main(address: str) -> None:
    from multiprocessing.connection import Listener

    _die_with_parent()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGCHLD, _reap)
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)  # this script's folder is no package root
    key = bytes.fromhex(os.environ.pop("DV_KERNEL_SERVER_KEY"))
    listener = Listener(address, family="AF_UNIX", authkey=key)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    import importlib
    import warnings

    # Python warns at every fork of a process with more than one thread. After PRELOAD the
    # one other thread here is pyarrow's jemalloc background thread (pandas imports
    # pyarrow), which jemalloc's own fork handlers make safe; the numerical libraries run
    # single-threaded (the runner's OMP_NUM_THREADS and the like), and JAX is not imported.
    warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
    # esda imports tqdm.auto, which warns that ipywidgets is missing and takes the text
    # progress bar, as it does in a kernel started cold (there the warm-up hides it)
    warnings.filterwarnings("ignore", "IProgress not found")
    for name in PRELOAD:
        importlib.import_module(name)
    _serve(listener)


if __name__ == "__main__":
    main(sys.argv[1])
