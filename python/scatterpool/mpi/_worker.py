"""The event loop of the worker ranks (ranks 1 .. K-1 of a launch).

A worker rank waits for commands from rank 0, keeps the objects of every
open pool in the core's ``Registry`` (one slot: its own object, under the id
rank 0 gave it), runs functions and sends back one reply per command. It
serves until rank 0 sends ``quit`` (the script ended) or rank 0's process is
gone.

A command is its sequence number ``seq`` (8 bytes, little endian) followed
by the pickle of ``(op, pool, extras, body)``, ``extras`` being None or
``(removals, dropped_functions, sys_path)``; a reply is the command's
``seq`` followed by the pickle of ``(ok, value)``, where ``value`` is the
result or, when ``ok`` is false, the packed exception.
"""

from __future__ import annotations

import functools
import pickle
import signal
import sys
import time
import traceback
from typing import Any

import numpy as np

from .. import _context, _core
from .._core import VectorArray
from . import _runtime
from ._runtime import SEQ
from ._serial import FunctionStore, dumps, loads, pack_exception

__all__ = ["serve"]

_DTYPES = {"float32", "float64", "complex64", "complex128"}


class _Pool:
    __slots__ = ("uid", "registry", "scope")

    def __init__(self, uid: int, rank: int) -> None:
        self.uid = uid
        self.registry = _core.Registry(1)
        self.scope = _core.worker_scope(uid, rank)  # entered and left by every call


def mpi_type(MPI: Any, dtype: np.dtype) -> Any:
    return {
        "float32": MPI.FLOAT,
        "float64": MPI.DOUBLE,
        "complex64": MPI.C_FLOAT_COMPLEX,
        "complex128": MPI.C_DOUBLE_COMPLEX,
    }[np.dtype(dtype).name]


def array_kind(kind: str, rows: np.ndarray, extra: Any) -> Any:
    """The part a worker keeps, of the same kind as the array rank 0 scattered."""
    if kind == "va":
        if len(rows) == 0:  # from_numpy refuses the strides NumPy gives some empty arrays
            return VectorArray.zeros(0, rows.shape[1], dtype=rows.dtype)
        return VectorArray.from_numpy(rows, copy=False)
    if kind == "pymor":
        return extra.from_numpy(rows.T)  # pyMOR keeps vectors as columns
    return rows


def run_call(f: Any, mode: str, args: tuple[Any, ...], kwargs: dict[str, Any], chunk: Any) -> Any:
    if mode != "map":
        return f(*args, **kwargs)
    # map's loop runs in C (the items of one chunk; several sequences side by side)
    return list(map(functools.partial(f, **kwargs) if kwargs else f, *chunk))


class WorkerState:
    def __init__(self, rt: _runtime.Runtime) -> None:
        self.rt = rt
        self.pools: dict[int, _Pool] = {}
        self.functions = FunctionStore()
        self.ops = {name[3:]: getattr(self, name) for name in dir(self) if name.startswith("op_")}

    def handle(self, buf: bytearray) -> bool:
        """Runs one command; False when the loop should end."""
        seq = SEQ.unpack_from(buf)[0]
        op, pool_uid, extras, body = pickle.loads(_runtime.body(buf))
        pool = self.pools.get(pool_uid)
        if extras is not None:
            removals, dropped, path = extras
            if path is not None:
                sys.path[:] = path
            if dropped:
                self.functions.drop(dropped)
            if removals and pool is not None:
                for oid in removals:
                    pool.registry.release(oid)
        if op == "quit":
            return False
        if op == "remove":
            return True
        try:
            reply = (True, self.ops[op](pool_uid, pool, *body))
        except BaseException as error:  # everything goes back to rank 0, even SystemExit
            reply = (False, pack_exception(error))
            del error
        self.send_reply(seq, reply)
        return True

    def send_reply(self, seq: int, reply: tuple[bool, Any]) -> None:
        head = SEQ.pack(seq)
        try:
            data = pickle.dumps(reply, 5)
            if b"__main__" in data:  # a class or function of the script: by value
                data = dumps(reply)
        except BaseException:
            data = b""
        if not data:
            self.send_reply_slow(seq, reply)
            return
        self.rt.reply(head + data)

    def send_reply_slow(self, seq: int, reply: tuple[bool, Any]) -> None:
        head = SEQ.pack(seq)
        try:
            data = dumps(reply)
        except BaseException as error:
            try:
                raise TypeError(
                    f"the result on worker {self.rt.rank} cannot be sent to rank 0: a "
                    f"{type(reply[1]).__module__}.{type(reply[1]).__qualname__} does not pickle "
                    f"({type(error).__name__}: {error})"
                ) from error
            except TypeError as wrapped:
                data = dumps((False, pack_exception(wrapped)))
        self.rt.reply(head + data)

    # ------------------------------------------------------------------ #
    def _pool(self, pool: _Pool | None, uid: int) -> _Pool:
        if pool is None:
            raise RuntimeError(f"worker {self.rt.rank} has no pool {uid} (closed?)")
        return pool

    def op_open(self, uid: int, pool: _Pool | None, seed: int) -> None:
        self.pools[uid] = _Pool(uid, self.rt.rank)
        _context.register_seed(uid, seed)

    def op_close(self, uid: int, pool: _Pool | None) -> None:
        p = self.pools.pop(uid, None)
        _context.forget_pool(uid)
        if p is not None:
            p.registry.clear()

    def op_sizes(self, uid: int, pool: _Pool | None) -> int:
        return len(self._pool(pool, uid).registry)

    def op_push(self, uid: int, pool: _Pool | None, oid: int, data: bytes | None, sizes: list[int]) -> None:
        MPI = self.rt.MPI
        buffers: list[Any] = [np.empty(n, np.uint8) for n in sizes]
        if buffers:
            reqs = [self.rt.comm.Ibcast([b, MPI.BYTE], root=0) for b in buffers]
            self.rt.wait_local(reqs)
        if data is None:  # a big pickle came by Ibcast too, first
            data, buffers = buffers[0], buffers[1:]
        obj = loads(data, buffers=buffers)
        self._pool(pool, uid).registry.put_at(oid, [obj])

    def op_scatter_array(
        self, uid: int, pool: _Pool | None, oid: int, kind: str, dtype: str, dim: int, counts: list[int], extra: Any
    ) -> None:
        MPI = self.rt.MPI
        n = counts[self.rt.rank]
        rows = np.empty((n, dim), dtype=dtype)
        req = self.rt.comm.Iscatterv(None, [rows, n * dim, mpi_type(MPI, rows.dtype)], root=0)
        self.rt.wait_local([req])
        part = array_kind(kind, rows, extra)
        self._pool(pool, uid).registry.put_at(oid, [part])

    def op_scatter_list(self, uid: int, pool: _Pool | None, oid: int, data: bytes) -> None:
        items = loads(data)
        self._pool(pool, uid).registry.put_at(oid, [items])

    def op_call(
        self,
        uid: int,
        pool: _Pool | None,
        mode: str,
        fspec: tuple[Any, ...],
        args_data: bytes | None,
        pos_refs: tuple[tuple[int, int], ...],
        kw_refs: tuple[tuple[str, int], ...],
        chunk_data: bytes | None,
    ) -> Any:
        if pool is None:
            raise RuntimeError(f"worker {self.rt.rank} has no pool {uid} (closed?)")
        p = pool
        f = self.functions.functions[fspec[0]] if len(fspec) == 1 else self.functions.resolve(fspec)
        if args_data is None:
            args: Any = ()
            kwargs: dict[str, Any] = {}
        else:
            args, kwargs = loads(args_data)
        if pos_refs:
            args = list(args)
            for i, oid in pos_refs:
                args[i] = p.registry.get(0, oid)
        for name, oid in kw_refs:
            kwargs[name] = p.registry.get(0, oid)
        if chunk_data is None:
            with p.scope:
                return f(*args, **kwargs)
        with p.scope:
            return run_call(f, mode, args, kwargs, loads(chunk_data))


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
            heartbeat.busy_since = time.monotonic()
            try:
                if not state.handle(buf):
                    break
            finally:
                heartbeat.busy_since = None
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
