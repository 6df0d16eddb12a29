"""MPIPool.spawn: the workers of an MPIPool started by this process; the user runs no mpiexec.

``MPIPool.spawn(N)`` starts ``N - 1`` Python processes on this machine as
an MPI job of their own, under an ``mpiexec`` that this process runs as a
child (the one of the ``mpich`` wheel, beside ``python``), and joins them to
this process with ``MPI_Comm_accept``/``MPI_Comm_connect`` into one
communicator of ``N`` ranks, this process being rank 0 (worker 0). That
communicator gets its own runtime and client, so the pool talks to its
workers exactly as an ``MPIPool`` of a launch does (the same protocol, rows
by ``Scatterv``, the same worker loop). Each spawned pool has its own job.

Why a job of its own rather than ``MPI_Comm_spawn``: MPICH's process
manager ends every process of a job when one of them dies, and a process
that spawns is part of its children's job (MPICH kills its process group):
a crashing worker would kill this process, a notebook's kernel. Here the
process manager of the workers' job knows nothing of this process: a worker
that dies ends its job (the other workers), this process sees the worker's
process gone and raises ``WorkerLostError``, and a new ``MPIPool.spawn``
starts a new job.

Each worker also holds a connection to this process's control socket (a
Unix socket): it sends its pid first, then ``ready`` or its traceback, and
it ends itself when that connection closes. So the workers stop

* at ``close()`` (or the end of a ``with`` block, or garbage collection):
  they are told to quit, say goodbye, and both sides disconnect;
* at this process's exit: every open pool is closed then;
* when this process dies: their control connections close;
* when the start fails or takes longer than the pool's ``timeout``: this
  process closes their control connections, and kills those still there
  ``STOP_TIMEOUT`` seconds later (a worker that holds the GIL).

Every wait of the start has a timeout but one: once every worker reported
ready, ``MPI_Comm_accept`` waits for them to connect, which they do at once.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from typing import Any

from . import _runtime
from ._client import Client
from ._pool import MPIPool
from ._runtime import WorkerLostError
from ._spawned import TAG_BYE

__all__ = ["SpawnedMPIPool", "SpawnedWorkers", "WorkerJob", "mpiexec_folder"]

STOP_TIMEOUT = 10.0  # seconds the workers have to leave their loop after quit
_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_spawned.py")


def mpiexec_folder() -> str | None:
    """The folder of the ``mpiexec`` that MPICH's spawn must find: this environment's, else the one on ``PATH``."""
    candidates = [os.path.dirname(sys.executable), sysconfig.get_path("scripts")]
    try:
        candidates.append(sysconfig.get_path("scripts", f"{os.name}_user"))
    except KeyError:  # pragma: no cover - a scheme without user installs
        pass
    for folder in candidates:
        if folder and os.access(os.path.join(folder, "mpiexec"), os.X_OK):
            return folder
    found = shutil.which("mpiexec")
    return os.path.dirname(found) if found else None


def _check_can_spawn(num_workers: int) -> None:
    if isinstance(num_workers, bool) or not isinstance(num_workers, int):
        raise TypeError(f"MPIPool.spawn: num_workers must be an int, got {type(num_workers).__name__}")
    if num_workers <= 0:
        raise ValueError(f"MPIPool.spawn needs at least 1 worker, got {num_workers}")
    rt = _runtime.current()
    if rt is not None and rt.rank != 0:
        raise RuntimeError(
            "MPIPool.spawn: this process is a worker of an MPIPool; a pool is made by the process that runs the program"
        )


def _job_environment(folder: str) -> dict[str, str]:
    """This process's environment for the workers' mpiexec: its folder first on PATH, no trace of a launch.

    A program itself launched by ``mpiexec -n 1`` has the variables that
    connect it to its own process manager (``PMI_*``); the workers' job has
    its own, so they are left out.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_"))}
    env["PATH"] = folder + (os.pathsep + env["PATH"] if env.get("PATH") else "")
    return env


class WorkerJob:
    """The workers' own MPI job: its ``mpiexec`` (a child of this process) and the workers' control connections."""

    def __init__(self, MPI: Any, count: int, folder: str) -> None:
        import mpi4py

        self.count = count
        self.pids: dict[int, int] = {}  # control connection (fd) -> pid of the worker
        self.connections: list[socket.socket] = []
        self.folder = tempfile.mkdtemp(prefix="scatterpool-spawn-")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.process: subprocess.Popen[bytes] | None = None
        try:
            address = os.path.join(self.folder, "control")
            self.listener.bind(address)
            self.listener.listen(count)
            self.port: str = MPI.Open_port()
            config = {
                "mpi4py": [os.path.dirname(os.path.dirname(os.path.abspath(mpi4py.__file__)))],
                "path": [os.path.abspath(p) if p else os.getcwd() for p in sys.path],
                "control": address,
                "port": self.port,
            }
            self.mpiexec = os.path.join(folder, "mpiexec")
            args = [self.mpiexec, "-n", str(count), sys.executable, _SCRIPT]
            self.process = subprocess.Popen(
                [*args, json.dumps(config).encode().hex()],
                stdin=subprocess.DEVNULL,  # mpiexec would forward this process's stdin to a worker
                env=_job_environment(folder),
                start_new_session=True,  # a Ctrl-C at a terminal is for this process, not for its workers
            )
        except BaseException:
            self.end()
            raise

    def await_ready(self, timeout: float) -> list[int]:
        """The workers' pids once each reported ready; the first failure's traceback or a timeout otherwise."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        ready: dict[int, int] = {}  # rank -> pid
        pending: dict[socket.socket, bytes] = {}
        with selectors.DefaultSelector() as sel:
            sel.register(self.listener, selectors.EVENT_READ)
            while len(ready) < self.count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"MPIPool.spawn: {self.count - len(ready)} of {self.count} worker processes did not start "
                        f"within {timeout:g} s (MPIPool.spawn(timeout=...) or SCATTERPOOL_MPI_TIMEOUT); "
                        f"they are stopped"
                    )
                # the select wakes up now and then to notice an mpiexec that ended before any worker connected
                for key, _ in sel.select(min(left, 0.05)):
                    if key.fileobj is self.listener:
                        connection, _ = self.listener.accept()
                        self.connections.append(connection)
                        pending[connection] = b""
                        sel.register(connection, selectors.EVENT_READ)
                        continue
                    connection = key.fileobj  # type: ignore[assignment]
                    data = connection.recv(65536)
                    if not data:
                        sel.unregister(connection)
                        raise RuntimeError(
                            f"MPIPool.spawn: a worker process (pid {self.pids.get(connection.fileno(), '?')}) "
                            f"ended before it reported; see its output above"
                        )
                    pending[connection] += data
                    *lines, pending[connection] = pending[connection].split(b"\n")
                    for line in lines:
                        message = json.loads(line)
                        if "pid" in message:
                            self.pids[connection.fileno()] = message["pid"]
                        elif "failed" in message:
                            raise RuntimeError(
                                f"MPIPool.spawn: worker {message['rank']} could not start; its error:\n"
                                f"{message['failed']}"
                            )
                        else:
                            ready[message["rank"]] = self.pids[connection.fileno()]
                status = self.process.poll()
                if status is not None and len(ready) < self.count:
                    raise RuntimeError(
                        f"MPIPool.spawn: the workers' mpiexec ({self.mpiexec}) ended with status "
                        f"{status} before every worker started; see its output above"
                    )
        return [ready[rank] for rank in range(1, self.count + 1)]

    def accept(self, MPI: Any) -> Any:
        """The intercommunicator to the ready workers (they connect at once)."""
        return MPI.COMM_SELF.Accept(self.port)

    def end(self, quitting: bool = False) -> None:
        """Closes the control connections (the workers end themselves) and reaps the job; kills what stays.

        ``quitting``: the workers were told to quit and are on their way out; they get ``STOP_TIMEOUT``
        seconds to end on their own (``MPI_Finalize`` included) before their connections close.
        """
        if quitting and self.process is not None:
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        for connection in self.connections:
            connection.close()
        self.listener.close()
        process = self.process
        if process is not None:
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                # a worker that holds the GIL does not run its watch: end the workers and their mpiexec
                for pid in self.pids.values():
                    _kill(pid)
                _kill(process.pid)
                process.wait(STOP_TIMEOUT)
        shutil.rmtree(self.folder, ignore_errors=True)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class _SpawnedRuntime(_runtime.Runtime):
    """The runtime of a spawned pool: a lost worker breaks this pool only, and a new spawn makes another."""

    def _lost(self, w: int, why: str, what: str) -> None:
        self.broken = f"worker {w} (MPI rank {w}) was lost during {what}: {why}"
        raise WorkerLostError(
            f"{self.broken}. This pool cannot be used any more: close it (its other workers stop); "
            f"MPIPool.spawn makes a new one."
        )


class SpawnedWorkers:
    """The ``num_workers - 1`` processes of a spawned pool and the communicator that joins them to this one."""

    def __init__(self, num_workers: int, timeout: float | None) -> None:
        _check_can_spawn(num_workers)
        MPI = _runtime.import_mpi()
        size = MPI.COMM_WORLD.Get_size()
        if size > 1:
            raise RuntimeError(
                f"MPIPool.spawn is for programs started without mpiexec; this one runs on {size} MPI ranks: "
                f"start it as `mpiexec -n {size} python -m scatterpool.mpi script.py` and use MPIPool()"
            )
        self.MPI = MPI
        self.creator = os.getpid()
        self.timeout = (
            timeout if timeout is not None else _runtime._env_float("SCATTERPOOL_MPI_TIMEOUT", _runtime.DEFAULT_TIMEOUT)
        )
        self.stopped = False
        self.job: WorkerJob | None = None
        self.intercomm: Any = None
        self.pids: list[int] = []
        if num_workers == 1:
            comm = MPI.COMM_SELF.Dup()
        else:
            library = MPI.Get_library_version()
            if "MPICH" not in library:
                # connecting two jobs by port needs the process manager's help elsewhere (Open MPI's name server)
                raise RuntimeError(
                    "MPIPool.spawn is made for MPICH (pip install 'scatterpool[mpi]' brings the mpich wheel); "
                    f"this mpi4py uses {library.splitlines()[0].strip()}: launch the program with its mpiexec "
                    "(`mpiexec -n K python -m scatterpool.mpi script.py`) and use MPIPool()"
                )
            folder = mpiexec_folder()
            if folder is None:
                raise RuntimeError(
                    "MPIPool.spawn: the workers are started by MPICH's mpiexec, and there is none in "
                    f"{os.path.dirname(sys.executable)} nor on PATH; install the mpich wheel "
                    "(pip install 'scatterpool[mpi]') or put the folder of MPICH's mpiexec on PATH"
                )
            job = WorkerJob(MPI, num_workers - 1, folder)
            try:
                self.pids = job.await_ready(self.timeout)
                self.intercomm = job.accept(MPI)
            except BaseException:
                job.end()
                raise
            finally:
                MPI.Close_port(job.port)
            self.job = job
            comm = self.intercomm.Merge(high=False)
        self.comm = comm
        self.rt = _SpawnedRuntime(MPI, comm, launched=False)
        self.client = Client(self.rt)

    def stop(self) -> None:
        """Tells the workers to quit, disconnects from them and reaps their job (once; nothing in a forked child)."""
        if self.stopped or os.getpid() != self.creator:
            return
        self.stopped = True
        if self.job is None:
            self.comm.Free()
            return
        rt = self.rt
        quitting = False
        try:
            # not acquired: another thread is still in a call; the workers end with their control connections
            if rt.lock.acquire(timeout=STOP_TIMEOUT):
                try:
                    quitting = self._disconnect()
                finally:
                    rt.lock.release()
        finally:
            self.job.end(quitting)

    def _disconnect(self) -> bool:
        """Whether the workers quit and disconnected (else the communicators are freed)."""
        rt = self.rt
        try:
            if not rt.finished and rt.broken is None:
                self.client.quit()
            clean = rt.broken is None and self._await_bye()
        except WorkerLostError:
            clean = False
        if clean:
            self.comm.Disconnect()
            self.intercomm.Disconnect()
        else:  # a worker is gone or stuck: nothing collective can complete
            self.comm.Free()
            self.intercomm.Free()
        return clean

    def _await_bye(self) -> bool:
        """Whether every worker left its loop within ``STOP_TIMEOUT`` seconds."""
        MPI = self.MPI
        comm = self.comm
        status = MPI.Status()
        pending = set(range(1, self.rt.size))
        deadline = time.monotonic() + STOP_TIMEOUT
        sleep = 1e-4
        while pending:
            if comm.Iprobe(MPI.ANY_SOURCE, TAG_BYE, status):
                source = status.Get_source()
                comm.recv(source=source, tag=TAG_BYE)
                pending.discard(source)
                continue
            if time.monotonic() > deadline:
                return False
            time.sleep(sleep)
            sleep = min(sleep * 2, 0.01)
        return True


class SpawnedMPIPool(MPIPool):
    """An :class:`MPIPool` whose workers this process spawned; made by :meth:`MPIPool.spawn`."""

    def __init__(self, num_workers: int, seed: int = 0, timeout: float | None = None) -> None:
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        workers = SpawnedWorkers(num_workers, timeout)
        self._workers = workers
        try:
            super().__init__(num_workers, seed=seed, timeout=timeout)
        except BaseException:
            workers.stop()
            raise

    def _connect(self, num_workers: int | None) -> tuple[_runtime.Runtime, Client]:
        return self._workers.rt, self._workers.client

    @property
    def pids(self) -> list[int]:
        """The process ids of the spawned workers (workers 1 .. N-1)."""
        return list(self._workers.pids)

    def __repr__(self) -> str:
        return f"MPIPool.spawn({self._size}{', closed' if self._closed else ''})"

    def _close_transport(self) -> None:
        try:
            super()._close_transport()
        finally:
            # not after a refused close (from inside one of the pool's functions): the pool stays open
            if self._closed:
                self._workers.stop()
