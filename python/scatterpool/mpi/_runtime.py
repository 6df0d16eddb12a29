"""The MPI side of scatterpool.mpi: one communicator, framed messages, waits that cannot hang.

Every rank of a launch holds one :class:`Runtime`. Commands are messages of
pickled bytes (tag ``CMD``) that fan out from rank 0 along a binomial tree
(``_tree``): each rank receives them from its parent in the tree and
forwards them to its children, and the replies (tag ``REPLY``) come back
the same way, merged at each rank, so that rank 0 sends and receives
``ceil(log2 K)`` messages per command of K ranks. Array data moves with
buffer collectives (``Iscatterv``, ``Ibcast``) on the same communicator.

Nothing here blocks inside MPI: every wait is a loop over ``Test`` /
``improbe`` that first spins (yielding the CPU every few hundred polls, or
every few dozen with more ranks than cores on the host, so that all ranks
make progress) and then sleeps in growing steps, and that checks on the
ranks it waits for, which are the children in the tree of the waiting rank
(rank 0 and the worker ranks that forward alike):

* a child on the same host whose process has ended is noticed within
  ``LIVENESS_PERIOD`` seconds (its pid is gone from ``/proc``);
* a worker rank that runs a command (its own share, or a wait for its
  children) sends its parent a sign of life (tag ``ALIVE``) every
  ``HEARTBEAT_PERIOD`` seconds from a helper thread; a child waited for
  that sent nothing for ``timeout`` seconds (default 60, environment
  variable ``SCATTERPOOL_MPI_TIMEOUT``; rank 0's value travels with every
  frame) counts as lost.

A lost rank raises :class:`WorkerLostError` on rank 0 naming it. When the
lost rank is not a child of rank 0, its parent finds out and sends a report
(tag ``LOST``) up the tree at once; each rank on the way passes it on from
any of its waits, or from its idle loop, and rank 0 looks for reports at
each check of its own waits. An idle rank with children watches their
processes too: a collective (a scatter's rows) that a dead rank never joins
keeps rank 0 waiting after every live rank has its part and gone idle. The runtime is broken from then on: MPI offers
no way to talk to the other ranks again, so the launcher ends the job with
``MPI_Abort``.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ._protocol import SEQ
from ._tree import MERGED, REPLIES, Tree, merged_reply, open_frame, unpack_merged

try:
    import _signal as _sig  # type: ignore[import-not-found]  # signal.signal without the enum wrapping: 0.5 us instead of 11
except ImportError:  # pragma: no cover
    _sig = signal

__all__ = ["Runtime", "WorkerLostError", "import_mpi", "runtime", "start"]

TAG_CMD = 17
TAG_REPLY = 18
TAG_ALIVE = 19
TAG_LOST = 20  # a rank's report that one of its children (or a rank below) is lost
_LOST = struct.Struct("<I")  # a report: the lost rank, then why (utf-8)

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
        self.tree = Tree(self.size, self.rank)
        self.flat = self.tree.all_leaves  # all children are leaves: plain messages only (rank 0 for K <= 3)
        self.parent = self.tree.parent
        # command messages this rank sent to its children and reply messages it received from them
        # (the tests and the benchmark count them)
        self.sent = 0
        self.received = 0
        # a worker rank: when the command it runs (or forwards) started; its heartbeat looks at it
        self.busy_since: float | None = None
        self.awaiting: list[int] = []  # the children this rank forwarded the current command to
        self.command_seq = 0  # the sequence number of that command
        self.reported: set[int] = set()  # lost ranks this rank has reported up
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

    def send(self, messages: dict[int, bytes], replies: bool = True) -> list[Any]:
        """Sends ``messages[w]`` to each rank ``w`` along the tree; returns the requests still running.

        ``replies``: whether the ranks answer (the ranks that forward a
        command wait for their children's replies only then).
        A small message goes eagerly (MPI copies it out before ``Send``
        returns, dead receiver or not); a large one starts with ``Isend``,
        and the caller drives it to completion with :meth:`complete`.
        """
        if self.flat:  # K <= 3: every worker is a leaf child of rank 0, the path of every call
            send = self.comm.Send
            isend = self.comm.Isend
            reqs = []
            for w, data in messages.items():
                if len(data) < EAGER:
                    send(data, w, TAG_CMD)
                else:
                    reqs.append(isend(data, w, TAG_CMD))
            self.sent += len(messages)
            return reqs
        return self._send_down(self.tree.frames(messages, REPLIES if replies else 0, self.timeout))

    def _send_down(self, sends: Iterable[tuple[int, Any]]) -> list[Any]:
        send = self.comm.Send
        isend = self.comm.Isend
        reqs = []
        n = 0
        for w, data in sends:
            n += 1
            if len(data) < EAGER:
                send(data, w, TAG_CMD)
            else:
                reqs.append(isend(data, w, TAG_CMD))
        self.sent += n
        return reqs

    # ------------------------------------------------------------------ #
    # waits                                                               #
    # ------------------------------------------------------------------ #
    def complete(self, requests: list[Any], ranks: Iterable[int], what: str) -> None:
        """Drives ``requests`` to completion, never sleeping (transfers need the progress)."""
        if not requests or self.MPI.Request.Testall(requests):
            return
        # watched: the children in the tree whose subtrees take part
        self._wait_children(requests, self.tree.covering(list(ranks)), what)

    def collect(self, expected: Sequence[int], seq: int, what: str) -> dict[int, Any]:
        """Waits for the reply to command ``seq`` of each rank in ``expected``; rank -> its reply message."""
        if not expected:
            return {}
        if self.flat:
            return self._gather(expected, seq, what)
        replies: dict[int, Any] = {}
        for child, message in self._gather(self.tree.covering(expected), seq, what).items():
            if SEQ.unpack_from(message)[0] == seq:
                replies[child] = message
            else:
                unpack_merged(message, replies)
        return replies

    def _gather(self, children: Sequence[int], seq: int, what: str) -> dict[int, bytearray]:
        """One reply message to command ``seq`` from each of ``children``: a plain or a merged reply."""
        MPI = self.MPI
        BYTE = MPI.BYTE
        improbe = self.comm.improbe
        status = self.status
        pending = set(children)
        replies: dict[int, bytearray] = {}
        start = time.monotonic()
        spin_until = start + self.spin
        next_check = start + LIVENESS_PERIOD
        sleep = 0.0
        polls = 0
        every = self.polls
        merged = seq | MERGED
        source = next(iter(pending)) if len(pending) == 1 else MPI.ANY_SOURCE
        waited = False
        while pending:
            msg = improbe(source, TAG_REPLY, status)
            if msg is not None:
                src = status.Get_source()
                buf = bytearray(status.Get_count(BYTE))
                msg.Recv(buf)
                self.received += 1
                # a reply starts with the command's sequence number (8 bytes; a merged one with MERGED set)
                head = SEQ.unpack_from(buf)[0]
                if head in (seq, merged) and src in pending:
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
                self._watch(pending, now, what)
            if now < spin_until:
                os.sched_yield()
            else:
                sleep = min(MAX_SLEEP, sleep * 2 if sleep else 5e-5)
                time.sleep(sleep)
                polls = every - 1  # one poll per sleep from now on
        return replies

    def _watch(self, ranks: Iterable[int], now: float, what: str) -> None:
        """One check of a wait: signs of life and reports of lost ranks read, the children waited for checked."""
        self._drain_alive()
        self._drain_lost(what)
        self._check_alive(ranks, now, what)

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

    def _check_processes(self, ranks: Iterable[int], what: str) -> None:
        for w in ranks:
            host, pid = self.procs[w]
            if w != self.rank and self.watchable[w] and _process_state(pid) is False:
                self._lost(w, f"its process (pid {pid} on {host}) has ended", what)

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
        """Rank 0: raises WorkerLostError. A worker rank: reports the loss to its parent (once) and goes on waiting."""
        if self.rank != 0:
            self.report_lost(w, why)
            return
        self.broken = f"MPI rank {w} was lost during {what}: {why}"
        raise WorkerLostError(
            f"{self.broken}. The pool cannot be used any more; the launcher ends the MPI job "
            f"with MPI_Abort when the script ends."
        )

    def report_lost(self, w: int, why: str) -> None:
        """A worker rank: tells its parent (once) that rank ``w`` below it is lost."""
        if w not in self.reported:
            self.reported.add(w)
            report = _LOST.pack(w) + f"{why} (found by rank {self.rank})".encode()
            self.comm.Send(report, self.parent, TAG_LOST)

    def _drain_lost(self, what: str) -> None:
        """Reads the reports of lost ranks from the children: rank 0 raises, a worker rank passes them up."""
        MPI = self.MPI
        status = self.status
        while True:
            msg = self.comm.improbe(MPI.ANY_SOURCE, TAG_LOST, status)
            if msg is None:
                return
            report = bytearray(status.Get_count(MPI.BYTE))
            msg.Recv([report, MPI.BYTE])
            (w,) = _LOST.unpack_from(report)
            if self.rank == 0:
                self._lost(w, report[_LOST.size :].decode(errors="replace"), what)
            elif w not in self.reported:
                self.reported.add(w)
                self.comm.Send(report, self.tree.parent, TAG_LOST)

    def mark_seen(self, ranks: Iterable[int]) -> None:
        now = time.monotonic()
        for w in ranks:
            self.last_seen[w] = max(self.last_seen[w], now)

    # ------------------------------------------------------------------ #
    # worker ranks                                                         #
    # ------------------------------------------------------------------ #
    def receive_command(self) -> Any:
        """The next command for this rank (None if rank 0's process is gone).

        A rank with children in the tree forwards each command to those of
        its children whose subtrees take part first; a command only for
        ranks below this one is forwarded here, and their replies passed up.
        """
        if not self.tree.children:  # a leaf: plain messages only
            return self._receive_from_parent()
        while True:
            buf = self._receive_from_parent()
            if buf is None:
                return buf
            self.busy_since = time.monotonic()
            own = self._forward(buf)
            if own is not None:
                return own
            if self.awaiting:
                self._reply_up(None)
            self.busy_since = None

    def _receive_from_parent(self) -> bytearray | None:
        BYTE = self.MPI.BYTE
        improbe = self.comm.improbe
        status = self.status
        parent = self.tree.parent
        start = time.monotonic()
        spin_until = start + self.spin
        next_check = start + 1.0
        next_relay = start + LIVENESS_PERIOD
        sleep = 0.0
        pid0 = self.procs[0][1]
        polls = 0
        every = self.polls
        forwards = bool(self.tree.children)
        while True:
            msg = improbe(parent, TAG_CMD, status)
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
            if forwards and now >= next_relay:  # reports of lost ranks go up from here too
                next_relay = now + LIVENESS_PERIOD
                self._drain_alive()
                self._drain_lost("")
                # an idle rank's children are idle too, so silence says nothing; a
                # dead process does (rank 0 may wait in a collective it never joins)
                self._check_processes(self.tree.children, "")
            if now >= next_check:
                next_check = now + 1.0
                if self.watchable[0] and _process_state(pid0) is False:
                    return None

    def _forward(self, frame: bytearray) -> Any:
        """Sends a frame's commands on to the children; this rank's own message (None: not for this rank)."""
        flags, timeout, content = open_frame(frame)
        self.timeout = timeout
        tree = self.tree
        own: Any
        if not isinstance(content, dict):  # UNIFORM
            own = content
            sends = tree.forward(frame, content)
            self.command_seq = SEQ.unpack_from(content)[0]
        else:
            own = content.pop(self.rank, None)
            sends = tree.frames(content, flags, timeout)
            any_message = own if own is not None else next(iter(content.values()))
            self.command_seq = SEQ.unpack_from(any_message)[0]
        reqs = self._send_down(sends)
        self.awaiting = [c for c, _ in sends] if flags & REPLIES else []
        if reqs:
            self._wait_children(reqs, [c for c, _ in sends], "a command's forwarding")
        if own is not None and len(own) < 65536:
            own = bytearray(own)  # small: as a message received directly
        return own

    def reply(self, data: bytes | bytearray) -> None:
        """Sends this rank's reply to its parent, merged with its children's when it forwarded the command."""
        if self.awaiting:
            self._reply_up(data)
        elif len(data) < EAGER:
            self.comm.Send(data, self.parent, TAG_REPLY)
        else:
            self._wait_unwatched([self.comm.Isend(data, self.parent, TAG_REPLY)])

    def _reply_up(self, data: bytes | bytearray | None) -> None:
        seq = self.command_seq
        received = self._gather(self.awaiting, seq, "a command")
        self.awaiting = []
        own = (self.rank, data) if data is not None else None
        message = merged_reply(SEQ.pack(seq | MERGED), own, list(received.items()), seq)
        if len(message) < EAGER:
            self.comm.Send(message, self.parent, TAG_REPLY)
        else:
            self._wait_unwatched([self.comm.Isend(message, self.parent, TAG_REPLY)])

    def wait_local(self, requests: list[Any]) -> None:
        """A worker's wait for its part of a collective, watching its children in the tree."""
        if self.tree.children:
            self._wait_children(requests, self.tree.children, "a collective")
        else:
            self._wait_unwatched(requests)

    def _wait_children(self, requests: list[Any], children: list[int], what: str) -> None:
        """Drives ``requests`` to completion, never sleeping, watching ``children``."""
        Testall = self.MPI.Request.Testall
        if Testall(requests):
            return
        self.mark_seen(children)  # the timeout counts from the start of the wait
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
                    self._watch(children, now, what)

    def _wait_unwatched(self, requests: list[Any]) -> None:
        """A wait for a send to the parent (its parent, and rank 0, watch it)."""
        Testall = self.MPI.Request.Testall
        polls = 0
        every = self.polls
        while not Testall(requests):
            polls += 1
            if polls % every == 0:
                os.sched_yield()


class Heartbeat:
    """A worker's helper thread: a sign of life to its parent in the tree while a command runs long.

    While a command has been running for ``HEARTBEAT_PERIOD / 2`` seconds or
    more (``Runtime.busy_since``: the rank's own share, or the wait for its
    children), it sends its parent an empty message every
    ``HEARTBEAT_PERIOD / 2`` seconds. It needs the GIL for that: a function
    that holds the GIL for longer than the timeout looks lost. Meanwhile it
    looks at the processes of the children the command was forwarded to (on
    this host): a child that died while this rank runs a long function is
    reported up at once, not when the function returns.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        if rt.threads_ok:
            self.thread = threading.Thread(target=self._run, name="scatterpool-mpi-heartbeat", daemon=True)
            self.thread.start()

    def _run(self) -> None:
        rt = self.rt
        MPI = rt.MPI
        comm = rt.comm
        parent = rt.tree.parent
        pending: list[Any] = []
        while not self.stopping.wait(HEARTBEAT_PERIOD / 2):
            since = rt.busy_since
            if since is not None and time.monotonic() - since >= HEARTBEAT_PERIOD / 2:
                pending = [r for r in pending if not r.Test()]
                if len(pending) < 4:  # the parent may not listen now; do not pile up
                    pending.append(comm.Isend([b"", MPI.BYTE], parent, TAG_ALIVE))
                for c in rt.awaiting:
                    host, pid = rt.procs[c]
                    if rt.watchable[c] and _process_state(pid) is False:
                        rt.report_lost(c, f"its process (pid {pid} on {host}) has ended")

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
