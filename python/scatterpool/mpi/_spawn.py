"""MPIPool.spawn: the workers of an MPIPool started by this process with MPI's spawn, no mpiexec.

``MPIPool.spawn(N)`` starts ``N - 1`` Python processes on this machine with
``MPI_Comm_spawn`` and merges the intercommunicator into one communicator
of ``N`` ranks, this process being rank 0 (worker 0). That communicator gets
its own runtime and client, so the pool talks to its workers exactly as an
``MPIPool`` of a launch does (the same protocol, rows by ``Scatterv``, the
same worker loop); it is just not the process-wide one. Each spawned pool
has its own processes: two pools, two sets.

The workers stop

* at ``close()`` (or the end of a ``with`` block, or garbage collection):
  they are told to quit, say goodbye, and both sides disconnect;
* at this process's exit: every open pool is closed then;
* when this process dies: MPICH's process manager ends the processes it
  spawned for it (and a worker that finds its parent gone stops too).

Which ``mpiexec``: MPICH starts its process manager (hydra's ``mpiexec``)
for the first spawn of a process not launched by ``mpiexec``, looking it up
on ``PATH``; without it, it hangs after an assertion. The folder of the
MPICH that mpi4py uses (the ``bin`` of this Python's environment, where the
``mpich`` wheel puts it) is put first on ``PATH`` for the spawn; when no
``mpiexec`` is found there nor on ``PATH`` the spawn is refused with a
``RuntimeError`` that says so, before MPI is asked.

Failure to start: a worker process initialises MPI first and reports
whether it could import scatterpool (from this process's ``sys.path``);
otherwise the pool raises a ``RuntimeError`` with the worker's traceback.
Every wait of the start and of the stop has a timeout (the pool's
``timeout``, default 60 s).

MPICH's process manager ends the whole job, this process included, when a
spawned process dies (a crash of the interpreter, a kill): the same as under
``mpiexec``. An exception in a function is not that: it is raised here, and
the pool stays usable.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import _runtime
from ._client import Client
from ._pool import MPIPool
from ._spawned import TAG_BYE, TAG_GO, TAG_STARTED

__all__ = ["SpawnedMPIPool", "SpawnedWorkers", "mpiexec_folder"]

STOP_TIMEOUT = 10.0  # seconds the workers have to leave their loop after quit
_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_spawned.py")
_spawn_lock = threading.Lock()  # one spawn at a time: the PATH of the process is changed for it


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


@contextmanager
def _path_first(folder: str | None) -> Iterator[None]:
    if folder is None:
        yield
        return
    before = os.environ.get("PATH")
    os.environ["PATH"] = folder + (os.pathsep + before if before else "")
    try:
        yield
    finally:
        if before is None:
            del os.environ["PATH"]
        else:
            os.environ["PATH"] = before


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
        self.intercomm: Any = None
        self.pids: list[int] = []
        if num_workers == 1:
            comm = MPI.COMM_SELF.Dup()
        else:
            self.intercomm = self._spawn(num_workers - 1)
            comm = self.intercomm.Merge(high=False)
            try:
                self.pids = self._await_start(comm, num_workers - 1)
            except BaseException:
                if not self.stopped:  # a timeout: the ranks that did start wait for a word that never comes
                    comm.Free()
                raise
        self.comm = comm
        self.rt = _runtime.Runtime(MPI, comm, launched=False)
        self.client = Client(self.rt)

    def _spawn(self, count: int) -> Any:
        MPI = self.MPI
        folder = None
        if "MPICH" in MPI.Get_library_version():
            folder = mpiexec_folder()
            if folder is None:
                raise RuntimeError(
                    "MPIPool.spawn: MPICH needs its mpiexec (hydra) to spawn processes, and there is none in "
                    f"{os.path.dirname(sys.executable)} nor on PATH; install the mpich wheel "
                    "(pip install 'scatterpool[mpi]') or put the folder of MPICH's mpiexec on PATH"
                )
        import mpi4py

        config = {
            "mpi4py": [os.path.dirname(os.path.dirname(os.path.abspath(mpi4py.__file__)))],
            "path": [os.path.abspath(p) if p else os.getcwd() for p in sys.path],
        }
        info = MPI.Info.Create()
        info.Set("wdir", os.getcwd())
        try:
            with _spawn_lock, _path_first(folder):
                return MPI.COMM_SELF.Spawn(
                    sys.executable, args=[_SCRIPT, json.dumps(config).encode().hex()], maxprocs=count, info=info
                )
        except MPI.Exception as error:
            raise RuntimeError(f"MPIPool.spawn: MPI could not start {count} worker processes: {error}") from error
        finally:
            info.Free()

    def _await_start(self, comm: Any, count: int) -> list[int]:
        """The pids of the workers, once each reported that it can serve; the first failure's traceback otherwise."""
        MPI = self.MPI
        status = MPI.Status()
        reports: dict[int, tuple[str, Any]] = {}
        deadline = time.monotonic() + self.timeout
        sleep = 1e-4
        while len(reports) < count:
            if comm.Iprobe(MPI.ANY_SOURCE, TAG_STARTED, status):
                source = status.Get_source()
                reports[source] = comm.recv(source=source, tag=TAG_STARTED)
                continue
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"MPIPool.spawn: {count - len(reports)} of {count} worker processes did not start within "
                    f"{self.timeout:g} s (MPIPool.spawn(timeout=...) or SCATTERPOOL_MPI_TIMEOUT)"
                )
            time.sleep(sleep)
            sleep = min(sleep * 2, 0.01)
        failed = sorted(rank for rank, (state, _) in reports.items() if state != "ok")
        for rank in range(1, count + 1):
            if reports[rank][0] == "ok":
                comm.send(not failed, rank, TAG_GO)
        if failed:
            comm.Disconnect()
            self.intercomm.Disconnect()
            self.stopped = True
            rank = failed[0]
            raise RuntimeError(
                f"MPIPool.spawn: worker {rank} could not start ({len(failed)} of {count} failed); its error:\n"
                f"{reports[rank][1]}"
            )
        return [reports[rank][1] for rank in range(1, count + 1)]

    def stop(self) -> None:
        """Tells the workers to quit and disconnects from them (once; nothing in a forked child)."""
        if self.stopped or os.getpid() != self.creator:
            return
        self.stopped = True
        rt = self.rt
        if self.intercomm is None:
            self.comm.Free()
            return
        if not rt.lock.acquire(timeout=STOP_TIMEOUT):
            # another thread is still in a call: the workers end with this process
            return
        try:
            if rt.broken is not None:
                return  # a worker is gone: no collective can complete; MPICH ends the rest
            if not rt.finished:
                self.client.quit()
            if self._await_bye():
                self.comm.Disconnect()
                self.intercomm.Disconnect()
        finally:
            rt.lock.release()

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
