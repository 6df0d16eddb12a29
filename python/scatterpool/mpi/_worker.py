"""The event loop of the worker ranks (ranks 1 .. K-1 of a launch).

A worker rank waits for commands from rank 0 (see ``_protocol``), keeps the
objects of every open pool in the core's ``Registry`` (one slot: its own
object, under the id rank 0 gave it), runs functions and sends back one
reply per command but the deliveries (push and the scatters), whose failures
it keeps for the pool's next reply (see ``_delivery``). Commands and replies
pass along the tree of ranks (``_tree``): the runtime forwards each command
to the rank's children before the rank runs it, and merges their replies
into the rank's own. It serves until rank 0 sends :class:`Quit` (the script
ended) or rank 0's process is gone.
"""

from __future__ import annotations

import functools
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import _context, _core
from .._arrays import ArrayParts
from . import _runtime
from ._delivery import FailedDeliveries
from ._protocol import (
    DELIVERIES,
    OK_NONE,
    SEQ,
    Call,
    Close,
    Confirm,
    CountObjects,
    Extras,
    Open,
    Push,
    Quit,
    Remove,
    ScatterChunk,
    ScatterRows,
    command_parts,
    reply_pickle,
)
from ._rows import mpi_type
from ._serial import FunctionStore, dumps, loads, pack_exception

__all__ = ["run_call", "serve"]


class _Pool:
    """One pool as a worker rank holds it: its objects, and the scope that makes worker_index() this rank."""

    __slots__ = ("uid", "registry", "scope", "held")

    def __init__(self, uid: int, rank: int) -> None:
        self.uid = uid
        self.registry = _core.Registry(1)
        self.scope = _core.worker_scope(uid, rank)  # entered and left by every call
        self.held = functools.partial(self.registry.get, 0)  # what a shared object's reference stands for


def run_call(f: Any, kind: str, args: Any, kwargs: dict[str, Any], chunk: Any) -> Any:
    """One worker's share of a call: ``f(*args, **kwargs)``, or for ``map`` ``f`` over its chunk."""
    if kind != "map":
        return f(*args, **kwargs)
    # map's loop runs in C (the items of one chunk; several sequences side by side)
    return list(map(functools.partial(f, **kwargs) if kwargs else f, *chunk))


class WorkerState:
    """A worker rank's pools and functions, and what it does with each kind of command."""

    def __init__(self, rt: _runtime.Runtime) -> None:
        self.rt = rt
        self.pools: dict[int, _Pool] = {}
        self.functions = FunctionStore()
        self.failed = FailedDeliveries(rt.rank)
        self.handlers: dict[type, Callable[[int, Any], Any]] = {
            Open: self.open,
            Close: self.close,
            CountObjects: self.count_objects,
            Push: self.push,
            ScatterRows: self.scatter_rows,
            ScatterChunk: self.scatter_chunk,
            Call: self.call,
            Confirm: self.confirm,
        }

    def handle(self, buf: bytearray) -> bool:
        """Runs one command; False when the loop should end."""
        seq, uid, extras, body = command_parts(buf)
        if extras is not None:
            self.housekeeping(uid, extras)
        kind = type(body)
        if kind is Quit:
            return False
        if kind is Remove:
            return True
        if kind in DELIVERIES:
            self.deliver(uid, body)  # type: ignore[arg-type]  # a kind in DELIVERIES
            return True
        if self.failed:
            report = self.failed.take(uid, kind is Confirm and body.again)  # type: ignore[union-attr]
            if report is not None:  # reported instead of running the command; a closing pool still goes
                if kind is Close:
                    self.close(uid, Close())
                self.send_reply(seq, False, pack_exception(report))
                return True
        try:
            value = self.handlers[kind](uid, body)
        except BaseException as error:  # everything goes back to rank 0, even SystemExit
            self.send_reply(seq, False, pack_exception(error))
            del error
        else:
            self.send_reply(seq, True, value)
        return True

    def deliver(self, uid: int, body: Push | ScatterRows | ScatterChunk) -> None:
        """Stores a delivery; no reply: a failure waits for the pool's next reply."""
        try:
            self.handlers[type(body)](uid, body)
        except BaseException as error:  # everything goes back to rank 0, even SystemExit
            self.failed.add(uid, body.oid, _DELIVERY_NAMES[type(body)], error)

    def housekeeping(self, uid: int, extras: Extras) -> None:
        if extras.path is not None:
            sys.path[:] = extras.path
        if extras.dropped:
            self.functions.drop(extras.dropped)
        pool = self.pools.get(uid)
        if extras.removals and pool is not None:
            for oid in extras.removals:
                pool.registry.release(oid)
                if self.failed:
                    self.failed.release(uid, oid)

    def send_reply(self, seq: int, ok: bool, value: Any) -> None:
        head = SEQ.pack(seq)
        if value is None and ok:
            self.rt.reply(head + OK_NONE)
            return
        try:
            data = reply_pickle(ok, value)
            if b"__main__" in data:  # a class or function of the script: by value
                data = reply_pickle(ok, value, dumps)
        except BaseException:
            data = b""
        if not data:
            self.send_reply_slow(seq, ok, value)
            return
        self.rt.reply(head + data)

    def send_reply_slow(self, seq: int, ok: bool, value: Any) -> None:
        head = SEQ.pack(seq)
        try:
            data = reply_pickle(ok, value, dumps)
        except BaseException as error:
            try:
                raise TypeError(
                    f"the result on worker {self.rt.rank} cannot be sent to rank 0: a "
                    f"{type(value).__module__}.{type(value).__qualname__} does not pickle "
                    f"({type(error).__name__}: {error})"
                ) from error
            except TypeError as wrapped:
                data = reply_pickle(False, pack_exception(wrapped), dumps)
        self.rt.reply(head + data)

    # ------------------------------------------------------------------ #
    # one method per kind of command                                      #
    # ------------------------------------------------------------------ #
    def _pool(self, uid: int) -> _Pool:
        pool = self.pools.get(uid)
        if pool is None:
            raise RuntimeError(f"worker {self.rt.rank} has no pool {uid} (closed?)")
        return pool

    def open(self, uid: int, body: Open) -> None:
        self.pools[uid] = _Pool(uid, self.rt.rank)
        _context.register_seed(uid, body.seed)

    def close(self, uid: int, body: Close) -> None:
        p = self.pools.pop(uid, None)
        _context.forget_pool(uid)
        self.failed.forget_pool(uid)
        if p is not None:
            p.registry.clear()

    def count_objects(self, uid: int, body: CountObjects) -> int:
        return len(self._pool(uid).registry)

    def confirm(self, uid: int, body: Confirm) -> None:
        """Nothing: a failed delivery was reported before this runs."""

    def push(self, uid: int, body: Push) -> None:
        MPI = self.rt.MPI
        buffers: list[Any] = [np.empty(n, np.uint8) for n in body.buffer_sizes]
        if buffers:
            reqs = [self.rt.comm.Ibcast([b, MPI.BYTE], root=0) for b in buffers]
            self.rt.wait_local(reqs)
        data = body.pickle
        if data is None:  # a big pickle came by Ibcast too, first
            data, buffers = buffers[0], buffers[1:]
        pool = self._pool(uid)
        pool.registry.put_at(body.oid, [loads(data, buffers, pool.held)])

    def scatter_rows(self, uid: int, body: ScatterRows) -> None:
        n = body.counts[self.rt.rank]
        rows = _core.empty_array((n, body.dim), body.dtype)  # a warm buffer when one of this size was freed
        req = self.rt.comm.Iscatterv(None, [rows, n * body.dim, mpi_type(self.rt.MPI, rows.dtype)], root=0)
        self.rt.wait_local([req])
        part = ArrayParts(body.kind, None, rows, body.space, False).wrap(rows)
        self._pool(uid).registry.put_at(body.oid, [part])

    def scatter_chunk(self, uid: int, body: ScatterChunk) -> None:
        self._pool(uid).registry.put_at(body.oid, [loads(body.items)])

    def call(self, uid: int, body: Call) -> Any:
        p = self.pools.get(uid) or self._pool(uid)
        if body.function is None:
            f = self.functions.functions[body.function_id]  # type: ignore[index]
        else:
            f = self.functions.resolve(body.function_id, body.function)
        if body.args is None:
            args: Any = ()
            kwargs: dict[str, Any] = {}
        else:
            args, kwargs = loads(body.args, None, p.held)
        if body.positional_refs:
            args = list(args)
            for i, oid in body.positional_refs:
                args[i] = p.registry.get(0, oid)
        for name, oid in body.keyword_refs:
            kwargs[name] = p.registry.get(0, oid)
        if body.chunk is None:
            with p.scope:
                return f(*args, **kwargs)
        chunk = loads(body.chunk)
        with p.scope:
            return run_call(f, body.kind, args, kwargs, chunk)


_DELIVERY_NAMES = {Push: "push", ScatterRows: "scatter_array", ScatterChunk: "scatter_list"}


def serve(rt: _runtime.Runtime) -> int:
    """Serves rank 0 until it says quit; returns the process's exit status."""
    state = WorkerState(rt)
    # Ctrl-C reaches every rank under mpiexec; rank 0 decides what happens
    # (the script stops, the launcher tells the workers to stop).
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # pragma: no cover - not the main thread
        pass
    heartbeat = _runtime.Heartbeat(rt)
    try:
        while True:
            buf = rt.receive_command()
            if buf is None:
                sys.stderr.write(f"scatterpool.mpi: rank {rt.rank}: rank 0 is gone; the worker stops\n")
                return 1
            rt.busy_since = time.monotonic()
            try:
                if not state.handle(buf):
                    break
            finally:
                rt.busy_since = None
    except BaseException:
        sys.stderr.write(f"scatterpool.mpi: rank {rt.rank}: the worker loop failed:\n{traceback.format_exc()}")
        sys.stderr.flush()
        rt.MPI.COMM_WORLD.Abort(70)
        return 70
    finally:
        heartbeat.stop()
        for p in state.pools.values():
            p.registry.clear()
        state.pools.clear()
    return 0
