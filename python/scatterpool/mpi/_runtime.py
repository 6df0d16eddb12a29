"""The MPI side of scatterpool.mpi: one communicator, framed messages, waits that cannot hang.

Every rank of a launch holds one :class:`Runtime`. Rank 0 sends each worker
rank its commands as point-to-point messages of pickled bytes (tag ``CMD``)
and receives one reply per command (tag ``REPLY``); array data moves with
buffer collectives (``Iscatterv``, ``Ibcast``) on the same communicator.

Nothing here blocks inside MPI: every wait is a loop over ``Test`` /
``improbe`` that first spins (yielding the CPU every few hundred polls, or
every few dozen with more ranks than cores on the host, so that all ranks
make progress) and then sleeps in growing steps, and that checks on the
ranks it waits for:

* a rank on the same host whose process has ended is noticed within
  ``LIVENESS_PERIOD`` seconds (its pid is gone from ``/proc``);
* a worker rank that runs a command sends a sign of life (tag ``ALIVE``)
  every ``HEARTBEAT_PERIOD`` seconds from a helper thread; a rank waited
  for that sent nothing for ``timeout`` seconds (default 60, environment
  variable ``SCATTERPOOL_MPI_TIMEOUT``) counts as lost.

A lost rank raises :class:`WorkerLostError` on rank 0, and the runtime is
broken from then on: MPI offers no way to talk to the other ranks again, so
the launcher ends the job with ``MPI_Abort``.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ._protocol import SEQ

try:
    import _signal as _sig  # type: ignore[import-not-found]  # signal.signal without the enum wrapping: 0.5 us instead of 11
except ImportError:  # pragma: no cover
    _sig = signal

__all__ = ["Runtime", "WorkerLostError", "import_mpi", "runtime", "start"]

TAG_CMD = 17
TAG_REPLY = 18
TAG_ALIVE = 19

HEARTBEAT_PERIOD = 0.5  # seconds between signs of life of a busy worker
LIVENESS_PERIOD = 0.2  # seconds between checks of the processes of a wait
DEFAULT_TIMEOUT = 60.0  # seconds without a sign of life before a rank counts as lost
DEFAULT_SPIN = 0.02  # seconds a wait polls without sleeping
MAX_SLEEP = 0.001  # the longest sleep between two polls
EAGER = 4096  # bytes: messages this small are sent with a plain Send (copied out at once)
# Polls between two yields of the CPU while spinning (a poll takes about
# 0.3 us). Yielding on every poll hands the CPU to any other busy process for
# a whole time slice (latency of milliseconds on a loaded machine); yielding
# seldom starves the other ranks when there are more ranks than cores on the
# host, where every call needs several of them to get a core in turn.
POLLS_BEFORE_YIELD = 200
POLLS_BEFORE_YIELD_OVERSUBSCRIBED = 5


class WorkerLostError(RuntimeError):
    """An MPI rank of the pool died or stopped answering; the pool cannot be used again."""


def import_mpi() -> Any:
    """``mpi4py.MPI``, imported so that MPICH finds the ``mpiexec`` of this Python's environment.

    MPICH's singleton start (a program run without ``mpiexec``) looks for
    ``mpiexec`` on ``PATH``; with the environment's ``bin`` missing from it
    MPICH aborts and can hang. So the folder of ``sys.executable`` goes first.
    """
    if "mpi4py.MPI" not in sys.modules:
        bindir = os.path.dirname(sys.executable)
        path = os.environ.get("PATH", "")
        if bindir and path.split(os.pathsep)[0] != bindir:
            os.environ["PATH"] = bindir + (os.pathsep + path if path else "")
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(
            "scatterpool.mpi needs mpi4py and an MPI library: pip install 'scatterpool[mpi]' "
            "(installs mpi4py and the mpich wheel)"
        ) from error
    return MPI


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None


def _process_state(pid: int) -> bool | None:
    """Whether process ``pid`` of this host runs (None: cannot tell)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    except OSError:
        return None
    # the state letter follows the command name in parentheses
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X", b"x")


class _DeferInterrupt:
    """Holds back Ctrl-C while a command is being sent.

    A command half sent (some ranks have it, a collective is not posted yet)
    would leave the ranks out of step for good; the interrupt is raised as
    soon as the sending is done. Only the main thread receives signals.
    """

    def __init__(self) -> None:
        self.pending = False
        self.previous: Any = None
        self.active = False

    def _handler(self, signum: int, frame: Any) -> None:
        self.pending = True

    def __enter__(self) -> _DeferInterrupt:
        self.pending = False
        self.active = threading.current_thread() is threading.main_thread()
        if self.active:
            try:
                self.previous = _sig.signal(signal.SIGINT, self._handler)
            except (ValueError, TypeError):  # not in the main interpreter
                self.active = False
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active:
            _sig.signal(signal.SIGINT, self.previous)
            if self.pending and exc[0] is None:
                if callable(self.previous):
                    self.previous(signal.SIGINT, None)
                else:
                    raise KeyboardInterrupt


class Runtime:
    """The communicator of a launch and how its ranks talk (one per process)."""

    def __init__(self, MPI: Any, comm: Any, launched: bool) -> None:
        self.MPI = MPI
        self.comm = comm
        self.rank: int = comm.Get_rank()
        self.size: int = comm.Get_size()
        self.launched = launched
        self.lock = threading.RLock()  # one command at a time on rank 0
        self.broken: str | None = None  # why the ranks cannot talk any more
        self.finished = False  # the launcher stopped the worker ranks
        self.timeout = _env_float("SCATTERPOOL_MPI_TIMEOUT", DEFAULT_TIMEOUT)
        self.spin = _env_float("SCATTERPOOL_MPI_SPIN", DEFAULT_SPIN)
        self.threads_ok = MPI.Query_thread() >= MPI.THREAD_MULTIPLE
        self.status = MPI.Status()
        self.host = socket.gethostname()
        self.procs: list[tuple[str, int]] = comm.allgather((self.host, os.getpid()))
        # A pid can be watched if it lives on this host and is visible here
        # (ranks in other pid namespaces with the same host name are not).
        watch = os.environ.get("SCATTERPOOL_MPI_WATCH_PIDS", "1") != "0"
        self.watchable = [watch and h == self.host and _process_state(p) is True for h, p in self.procs]
        self.last_seen = [time.monotonic()] * self.size
        on_host = sum(h == self.host for h, _ in self.procs)
        self.polls = POLLS_BEFORE_YIELD_OVERSUBSCRIBED if on_host > (os.cpu_count() or 1) else POLLS_BEFORE_YIELD
        self.seq = 0
        self.defer_interrupt = _DeferInterrupt()
        # collectives an interrupt left running; completed before the next command
        self.unfinished: list[tuple[Any, Any]] = []

    # ------------------------------------------------------------------ #
    # rank 0: sending                                                     #
    # ------------------------------------------------------------------ #
    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def check_usable(self) -> None:
        if self.finished:
            raise RuntimeError("the script has ended and the MPI worker ranks have stopped")
        if self.broken is not None:
            raise WorkerLostError(f"the MPI ranks cannot work together any more: {self.broken}")

    def send(self, messages: dict[int, bytes]) -> list[Any]:
        """Sends ``messages[w]`` to each rank ``w``; returns the requests still running.

        A small message goes eagerly (MPI copies it out before ``Send``
        returns, dead receiver or not); a large one starts with ``Isend``,
        and the caller drives it to completion with :meth:`complete`.
        """
        send = self.comm.Send
        isend = self.comm.Isend
        reqs = []
        for w, data in messages.items():
            if len(data) < EAGER:
                send(data, w, TAG_CMD)
            else:
                reqs.append(isend(data, w, TAG_CMD))
        return reqs

    # ------------------------------------------------------------------ #
    # waits                                                               #
    # ------------------------------------------------------------------ #
    def complete(self, requests: list[Any], ranks: Iterable[int], what: str) -> None:
        """Drives ``requests`` to completion, never sleeping (transfers need the progress)."""
        if not requests:
            return
        Testall = self.MPI.Request.Testall
        if Testall(requests):
            return
        ranks = list(ranks)
        self.mark_seen(ranks)  # the timeout counts from the start of the wait
        next_check = time.monotonic() + LIVENESS_PERIOD
        polls = 0
        every = self.polls
        while not Testall(requests):
            polls += 1
            if polls % every == 0:
                os.sched_yield()
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + LIVENESS_PERIOD
                    self._drain_alive()
                    self._check_alive(ranks, now, what)

    def collect(self, expected: Sequence[int], seq: int, what: str) -> dict[int, bytearray]:
        """Waits for the reply to command ``seq`` of each rank in ``expected``."""
        MPI = self.MPI
        BYTE = MPI.BYTE
        improbe = self.comm.improbe
        status = self.status
        pending = set(expected)
        replies: dict[int, bytearray] = {}
        if not pending:
            return replies
        start = time.monotonic()
        spin_until = start + self.spin
        next_check = start + LIVENESS_PERIOD
        sleep = 0.0
        polls = 0
        every = self.polls
        source = next(iter(pending)) if len(pending) == 1 else MPI.ANY_SOURCE
        waited = False
        while pending:
            msg = improbe(source, TAG_REPLY, status)
            if msg is not None:
                src = status.Get_source()
                buf = bytearray(status.Get_count(BYTE))
                msg.Recv(buf)
                # a reply starts with the command's sequence number (8 bytes)
                if SEQ.unpack_from(buf)[0] == seq and src in pending:
                    replies[src] = buf
                    pending.discard(src)
                    if len(pending) == 1:
                        source = next(iter(pending))
                sleep = 0.0
                continue
            polls += 1
            if polls % every:
                continue
            now = time.monotonic()
            if now >= next_check:
                if not waited:  # the timeout counts from the start of the wait
                    waited = True
                    for w in pending:
                        self.last_seen[w] = max(self.last_seen[w], start)
                next_check = now + LIVENESS_PERIOD
                self._drain_alive()
                self._check_alive(pending, now, what)
            if now < spin_until:
                os.sched_yield()
            else:
                sleep = min(MAX_SLEEP, sleep * 2 if sleep else 5e-5)
                time.sleep(sleep)
                polls = every - 1  # one poll per sleep from now on
        return replies

    def _drain_alive(self) -> None:
        MPI = self.MPI
        status = self.status
        while True:
            msg = self.comm.improbe(MPI.ANY_SOURCE, TAG_ALIVE, status)
            if msg is None:
                return
            src = status.Get_source()
            msg.Recv([bytearray(status.Get_count(MPI.BYTE)), MPI.BYTE])
            self.last_seen[src] = time.monotonic()

    def _check_alive(self, ranks: Iterable[int], now: float, what: str) -> None:
        for w in ranks:
            if w == self.rank:
                continue
            host, pid = self.procs[w]
            if self.watchable[w] and _process_state(pid) is False:
                self._lost(w, f"its process (pid {pid} on {host}) has ended", what)
            silent = now - self.last_seen[w]
            if silent > self.timeout:
                self._lost(
                    w,
                    f"it sent no sign of life for {silent:.0f} s (the timeout is {self.timeout:g} s: "
                    f"set SCATTERPOOL_MPI_TIMEOUT or MPIPool(timeout=...) for functions that hold "
                    f"the GIL longer)",
                    what,
                )

    def _lost(self, w: int, why: str, what: str) -> None:
        self.broken = f"MPI rank {w} was lost during {what}: {why}"
        raise WorkerLostError(
            f"{self.broken}. The pool cannot be used any more; the launcher ends the MPI job "
            f"with MPI_Abort when the script ends."
        )

    def mark_seen(self, ranks: Iterable[int]) -> None:
        now = time.monotonic()
        for w in ranks:
            self.last_seen[w] = max(self.last_seen[w], now)

    # ------------------------------------------------------------------ #
    # worker ranks                                                         #
    # ------------------------------------------------------------------ #
    def receive_command(self) -> bytearray | None:
        """The next command from rank 0 (None if rank 0's process is gone)."""
        BYTE = self.MPI.BYTE
        improbe = self.comm.improbe
        status = self.status
        start = time.monotonic()
        spin_until = start + self.spin
        next_check = start + 1.0
        sleep = 0.0
        pid0 = self.procs[0][1]
        polls = 0
        every = self.polls
        while True:
            msg = improbe(0, TAG_CMD, status)
            if msg is not None:
                buf = bytearray(status.Get_count(BYTE))
                msg.Recv(buf)
                return buf
            polls += 1
            if polls % every:
                continue
            now = time.monotonic()
            if now < spin_until:
                os.sched_yield()
                continue
            sleep = min(MAX_SLEEP, sleep * 2 if sleep else 5e-5)
            time.sleep(sleep)
            polls = every - 1
            if now >= next_check:
                next_check = now + 1.0
                if self.watchable[0] and _process_state(pid0) is False:
                    return None

    def reply(self, data: bytes | bytearray) -> None:
        if len(data) < EAGER:
            self.comm.Send(data, 0, TAG_REPLY)
        else:
            self.wait_local([self.comm.Isend(data, 0, TAG_REPLY)])

    def wait_local(self, requests: list[Any]) -> None:
        """A worker's wait for its part of a transfer (rank 0 watches the others)."""
        Testall = self.MPI.Request.Testall
        polls = 0
        every = self.polls
        while not Testall(requests):
            polls += 1
            if polls % every == 0:
                os.sched_yield()


class Heartbeat:
    """A worker's helper thread: a sign of life to rank 0 while a command runs long.

    While a command has been running for ``HEARTBEAT_PERIOD / 2`` seconds or
    more, it sends rank 0 an empty message every ``HEARTBEAT_PERIOD / 2``
    seconds. It needs the GIL for that: a function that holds the GIL for
    longer than rank 0's timeout looks lost.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.busy_since: float | None = None
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        if rt.threads_ok:
            self.thread = threading.Thread(target=self._run, name="scatterpool-mpi-heartbeat", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        MPI = self.rt.MPI
        comm = self.rt.comm
        pending: list[Any] = []
        while not self.stopping.wait(HEARTBEAT_PERIOD / 2):
            since = self.busy_since
            if since is not None and time.monotonic() - since >= HEARTBEAT_PERIOD / 2:
                pending = [r for r in pending if not r.Test()]
                if len(pending) < 4:  # rank 0 may not listen now; do not pile up
                    pending.append(comm.Isend([b"", MPI.BYTE], 0, TAG_ALIVE))

    def stop(self) -> None:
        """Ends the thread (before MPI is finalized)."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join()


class _PymorGuard:
    """Keeps ``import pymor`` from taking over the worker ranks.

    pyMOR starts its own MPI event loop on ranks > 0 when it is imported in
    a program on several ranks (and exits the process after it). Under this
    launcher the ranks serve scatterpool instead, so the launcher turns the
    default ``pymor.tools.mpi.event_loop_settings.auto_launch`` off right
    after ``pymor.tools.mpi`` is loaded, before ``pymor/__init__`` looks at it.
    """

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "pymor.tools.mpi":
            return None
        import importlib.util

        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            try:
                from pymor.core.defaults import set_defaults

                set_defaults({"pymor.tools.mpi.event_loop_settings.auto_launch": False})
            except Exception:
                module.event_loop_settings = lambda *args, **kwargs: {"auto_launch": False}

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def guard_pymor() -> None:
    if "pymor.tools.mpi" not in sys.modules and not any(isinstance(f, _PymorGuard) for f in sys.meta_path):
        sys.meta_path.insert(0, _PymorGuard())


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def start(launched: bool, comm: Any = None) -> Runtime:
    """Creates this process's runtime (collective over MPI_COMM_WORLD, or over ``comm``).

    ``comm``: the communicator of the ranks when it is not MPI_COMM_WORLD
    (a process spawned by ``MPIPool.spawn`` serves on the communicator
    that joins it to the process that spawned it).
    """
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            MPI = import_mpi()
            if launched:
                guard_pymor()
            _runtime = Runtime(MPI, MPI.COMM_WORLD.Dup() if comm is None else comm, launched)
        return _runtime


def runtime(required_size: int | None = None) -> Runtime:
    """This process's runtime; made here for a single-rank program."""
    if _runtime is not None:
        return _runtime
    MPI = import_mpi()
    size = MPI.COMM_WORLD.Get_size()
    if size > 1:
        raise RuntimeError(
            f"this program runs on {size} MPI ranks but was not started by scatterpool's launcher, so no "
            f"rank serves an MPIPool; start it as `mpiexec -n {size} python -m scatterpool.mpi script.py`"
        )
    if required_size is not None and required_size != 1:
        raise RuntimeError(
            f"MPIPool({required_size}) expects {required_size} workers, but this program runs on 1 MPI rank; "
            f"start it as `mpiexec -n {required_size} python -m scatterpool.mpi script.py`"
        )
    return start(launched=False)


def current() -> Runtime | None:
    return _runtime


def call_quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:
        pass
