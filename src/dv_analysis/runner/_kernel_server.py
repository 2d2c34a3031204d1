"""The kernel server: one warm process that forks a notebook kernel on request (Linux).

Run as a script by :mod:`.forkserver` (``python _kernel_server.py ADDRESS``, with the
authentication key in ``DV_KERNEL_SERVER_KEY``), not imported: it must not import the
runner (papermill, ZMQ clients) nor anything that starts a thread, since it forks.

It listens first, then imports the modules the notebooks import: ``FIRST``, then it waits
for the first request and answers it (with any other already waiting), then ``REST``. Then
it answers each request ``{"cmd", "env", "cwd"}`` (an ``ipykernel_launcher`` command line)
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

#: What the server imports before it forks its first kernel: the kernel itself and what the
#: first notebook (01, cleaning) imports, so that notebook starts early.
FIRST = (
    "ipykernel.kernelapp",
    "IPython.display",
    "matplotlib",
    "dv_analysis.config",
    "dv_analysis.pages.charts",
    "dv_analysis.pages.show",
    "dv_analysis.pages.summaries",
    "dv_analysis.pages.tables",
    "dv_analysis.stages.clean",
)

#: What it imports then for every later kernel: the other notebooks' imports (not pyplot,
#: whose backend each kernel chooses for itself; JAX only if the NUTS engine is asked for).
REST = (
    "mapclassify",  # geopandas' classified maps: compiles a numba function at import (4–6 s)
    "dv_analysis.layers",
    "dv_analysis.pages.credits",
    "dv_analysis.pages.maps",
    "dv_analysis.pages.plan",
    "dv_analysis.pages.caseload",
    "dv_analysis.pages.public_page",
    "dv_analysis.pages.front_page",
    "dv_analysis.stages.access",
    "dv_analysis.stages.features",
    "dv_analysis.stages.hotspots",
    "dv_analysis.stages.plan",
    "dv_analysis.stages.caseload",
    "dv_analysis.stages.priority",
    "dv_analysis.stages.report",
    "dv_analysis.stages.risk",
    "spopt.locate",  # the service plan's location models (about 1 s)
    "sklearn.cluster",  # the responsibility areas' seeds (07)
)

_children: set[int] = set()


def _prctl(option: int, value) -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(option, value)


def _die_with_parent() -> None:
    """SIGTERM to this process when the one that started it ends (Linux ``prctl``)."""
    _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _name(name: str) -> None:
    """The name ``top`` and ``ps -o comm`` show (a forked kernel keeps the server's command
    line in ``ps aux``)."""
    _prctl(15, name.encode()[:15])  # PR_SET_NAME


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
        _name("dv-kernel")
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
        # as ``python -m`` would have it: the working folder first. Inserted, not put in
        # place of sys.path[0], which the server already popped (its own folder): that
        # overwrote PYTHONPATH's first entry, and a kernel imported the package from
        # another checkout (an editable install) where PYTHONPATH named this one.
        sys.path.insert(0, os.getcwd())
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


def _accept(sock, key: bytes, block: bool):
    """The next authenticated request's connection; None if none waits and not ``block``."""
    import select
    from multiprocessing.connection import Connection, answer_challenge, deliver_challenge

    if not block and not select.select([sock], [], [], 0)[0]:
        return None
    conn = Connection(sock.accept()[0].detach())
    try:
        deliver_challenge(conn, key)
        answer_challenge(conn, key)
    except Exception:  # noqa: BLE001 - a client without the key gets nothing
        conn.close()
        return _accept(sock, key, block)
    return conn


def _fork(sock, conn) -> None:
    """Answer one request: fork its kernel, reply with the kernel's pid."""
    try:
        request = conn.recv()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            sock.close()
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


def _quiet_imports() -> None:
    import warnings

    # Python warns at every fork of a process with more than one thread. After the imports
    # the one other thread here is pyarrow's jemalloc background thread (pandas imports
    # pyarrow), which jemalloc's own fork handlers make safe; the numerical libraries run
    # single-threaded (the runner's OMP_NUM_THREADS and the like), and no JAX backend runs.
    warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
    # esda imports tqdm.auto, which warns that ipywidgets is missing and takes the text
    # progress bar, as it does in a kernel started cold (there the warm-up hides it)
    warnings.filterwarnings("ignore", "IProgress not found")


def main(address: str) -> None:
    import importlib
    import socket

    _die_with_parent()
    _name("dv-kernel-srv")
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGCHLD, _reap)
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        sys.path.pop(0)  # this script's folder is no package root
    key = bytes.fromhex(os.environ.pop("DV_KERNEL_SERVER_KEY"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(address)
    sock.listen(64)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    _quiet_imports()
    for name in FIRST:
        importlib.import_module(name)
    conn = _accept(sock, key, block=True)  # the first notebook's kernel: a run asks for it
    while conn is not None:  # at once (and any other already waiting)
        _fork(sock, conn)
        conn = _accept(sock, key, block=False)
    for name in REST:
        importlib.import_module(name)
    while True:
        _fork(sock, _accept(sock, key, block=True))


if __name__ == "__main__":
    main(sys.argv[1])
