"""Notebook kernels forked from one warm process instead of started cold (Linux).

Every notebook gets a kernel of its own. Started cold, a kernel costs about 4.5 s of CPU
before its first statistic: a new Python process (about 1.5 s) that then imports pandas,
geopandas, statsmodels, esda, matplotlib and the suite (about 3 s). A period runs eight
notebooks on two cores, so that was about 36 s of CPU in a Taipei quarter of about 85 s
(``docs/benchmarks.md``).

A run now starts one *kernel server* (:mod:`._kernel_server`, a process of its own that
imports those modules once) and every kernel of the run is forked from it: the process
that would have been started, with the modules already loaded. The kernel is otherwise
the one ``jupyter_client`` would start: the same command line, environment, working
directory and session, its own process and namespace, the runner's kernel manager and
encrypted channels. The server runs no notebook code, so no notebook sees another's state.

The server lives for one :func:`~dv_analysis.runner.run` or ``run_range`` (:func:`serving`);
its address is in the environment (``DV_KERNEL_SERVER``), so the run's worker processes
find it. Where it cannot serve (not Linux, ``DV_KERNEL_SERVER=off``, a kernel that is not
``ipykernel_launcher``, a server that died) kernels start as before.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

#: Environment variables that hand the server to the run's worker processes.
ADDRESS_VARIABLE = "DV_KERNEL_SERVER"
KEY_VARIABLE = "DV_KERNEL_SERVER_KEY"


def supported() -> bool:
    """Kernels can be forked here: Linux (``os.fork`` after imports, ``pidfd``), not turned off."""
    off = os.environ.get(ADDRESS_VARIABLE, "").lower() in ("off", "0", "no")
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open") and not off


@contextlib.contextmanager
def serving() -> Iterator[bool]:
    """A kernel server for the block (one already serving this process is kept); True if
    one serves. The server ends with the block, and with it any kernel still alive."""
    if not supported() or os.environ.get(ADDRESS_VARIABLE):
        yield bool(os.environ.get(ADDRESS_VARIABLE)) and supported()
        return
    folder = tempfile.mkdtemp(prefix="dv-kernels-")  # 0700: only this user can connect
    address = str(Path(folder) / "server")
    key = secrets.token_hex(16)
    script = Path(__file__).with_name("_kernel_server.py")
    process = subprocess.Popen(  # noqa: S603 - this package's own script
        [sys.executable, str(script), address],
        env={**os.environ, KEY_VARIABLE: key},
        stdin=subprocess.DEVNULL,
    )
    os.environ[ADDRESS_VARIABLE], os.environ[KEY_VARIABLE] = address, key
    try:
        yield True
    finally:
        del os.environ[ADDRESS_VARIABLE], os.environ[KEY_VARIABLE]
        _end(process)
        shutil.rmtree(folder, ignore_errors=True)  # with the sockets of killed kernels


def socket_folder() -> str | None:
    """The serving kernel server's folder (owner-only, removed when the server ends), where
    the run's kernels keep their IPC sockets; None when no server serves."""
    address = os.environ.get(ADDRESS_VARIABLE, "")
    folder = Path(address).parent
    return str(folder) if available() and folder.is_absolute() and folder.is_dir() else None


def _end(process: subprocess.Popen) -> None:
    """End the server (it kills the kernels still alive first), even in its imports."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _connect(address: str, key: str, timeout: float = 30.0):
    """A connection to the server, waiting for it to listen (it does within a second of its
    start, before its imports)."""
    import time
    from multiprocessing.connection import Client

    deadline = time.monotonic() + timeout
    while True:
        try:
            return Client(address, family="AF_UNIX", authkey=bytes.fromhex(key))
        except FileNotFoundError:  # not listening yet (a refused connection: it has died)
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _request(message: dict, address: str, key: str, timeout: float = 120.0):
    """Send one request to the server and return its answer."""
    with _connect(address, key) as conn:
        conn.send(message)
        if not conn.poll(timeout):  # the server answers between or after its imports
            raise TimeoutError(f"the kernel server did not answer in {timeout:.0f} s")
        return conn.recv()


#: Servers (by address) a request to which failed: later kernels of their run start cold.
_failed: dict[str, str] = {}


def available() -> bool:
    """A server serves this process's run (its address is in the environment) and has not
    failed it."""
    address = os.environ.get(ADDRESS_VARIABLE, "")
    return supported() and bool(address) and address not in _failed


def forkable(cmd: list[str]) -> bool:
    """The server can fork this kernel command: ``python -m ipykernel_launcher …``."""
    return cmd[1:3] == ["-m", "ipykernel_launcher"]


def fork_kernel(cmd: list[str], env: dict, cwd: str | None) -> ForkedProcess:
    """A kernel for the ``ipykernel_launcher`` command ``cmd``, forked by the server.

    Returns at once: the request is answered in the background (the server answers when
    its imports allow), and the kernel's channels wait for it as they would for a kernel
    still starting.
    """
    if not forkable(cmd):
        raise ValueError(f"not an ipykernel command line: {cmd[:3]}")
    request = {"cmd": list(cmd), "env": dict(env), "cwd": cwd or os.getcwd()}
    return ForkedProcess(request, os.environ[ADDRESS_VARIABLE], os.environ[KEY_VARIABLE])


class ForkedProcess:
    """The part of :class:`subprocess.Popen` that ``jupyter_client`` uses, for a kernel
    the server forks (not this process's child: followed through a ``pidfd``, which no
    later process can take the place of). Until the server has answered, the kernel counts
    as alive and starting; ``pid`` waits for the answer."""

    stdin = stdout = stderr = None

    def __init__(self, request: dict, address: str, key: str):
        import threading

        self.returncode: int | None = None
        self._pid: int | None = None
        self._fd: int | None = None
        self._error: BaseException | None = None
        self._signal: int | None = None
        self._answered = threading.Event()
        threading.Thread(target=self._ask, args=(request, address, key), daemon=True).start()

    def _ask(self, request: dict, address: str, key: str) -> None:
        try:  # socket I/O only, in a thread of its own
            self._pid = _request(request, address, key)
            self._fd = os.pidfd_open(self._pid)
        except BaseException as e:  # noqa: BLE001 - reported as a kernel that never started
            self._error = e
            _failed[address] = f"{type(e).__name__}: {e}"
            log.info("the kernel server failed (%s); later kernels start as usual", e)
        finally:
            self._answered.set()

    @property
    def pid(self) -> int:
        self._answered.wait()
        if self._error is not None:
            raise ProcessLookupError(
                errno.ESRCH, f"the kernel server forked no kernel: {self._error}"
            )
        return self._pid  # type: ignore[return-value]

    def poll(self) -> int | None:
        if self.returncode is None and self._answered.is_set():
            if self._error is not None:
                self.returncode = 1
            elif select.select([self._fd], [], [], 0)[0]:
                self.record_ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not self._answered.wait(timeout):
                raise subprocess.TimeoutExpired(f"kernel (asked of {ADDRESS_VARIABLE})", timeout)
            if self.poll() is None and not select.select([self._fd], [], [], timeout)[0]:
                raise subprocess.TimeoutExpired(f"kernel {self._pid}", timeout)
            self.poll()
        return self.returncode  # type: ignore[return-value]

    def record_ended(self) -> None:
        # the exit status belongs to the server (its child); a kernel this side killed
        # reports the signal, as Popen would
        self.returncode = -self._signal if self._signal else 0
        os.close(self._fd)  # type: ignore[arg-type]

    def send_signal(self, sig: int) -> None:
        self.pid  # noqa: B018 - waits for the kernel to exist
        if self.poll() is None:
            if sig in (signal.SIGKILL, signal.SIGTERM):
                self._signal = sig
            signal.pidfd_send_signal(self._fd, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def provisioner_class():
    """``jupyter_client``'s local provisioner, launching through the server when one serves."""
    from jupyter_client.provisioning import LocalProvisioner

    class ForkingProvisioner(LocalProvisioner):
        """Kernels forked by the run's kernel server (see the module); started as usual
        when there is none or it failed."""

        forked = False  # whether this kernel was forked (it has the server's imports)

        async def launch_kernel(self, cmd, **kwargs):
            if not available() or not forkable(cmd):
                return await super().launch_kernel(cmd, **kwargs)
            env = kwargs.get("env") or dict(os.environ)
            self.process = fork_kernel(cmd, env, kwargs.get("cwd"))
            self.forked = True
            return self.connection_info

        @property
        def pid(self):
            if isinstance(self.process, ForkedProcess):
                return self.process.pid
            return self.__dict__.get("_pid")

        @pid.setter
        def pid(self, value):
            self.__dict__["_pid"] = value

        @property
        def pgid(self):  # the kernel leads a session of its own
            return (
                self.pid if isinstance(self.process, ForkedProcess) else self.__dict__.get("_pgid")
            )

        @pgid.setter
        def pgid(self, value):
            self.__dict__["_pgid"] = value

    return ForkingProvisioner
