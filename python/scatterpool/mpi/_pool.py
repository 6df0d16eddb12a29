"""MPIPool: the scatterpool contract on the ranks of an MPI launch (rank 0 drives, rank 0 is worker 0)."""

from __future__ import annotations

import itertools
import pickle
import sys
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from .. import _context, _core
from .._core import InvalidRemoteObjectError, PoolClosedError, ReentrantCallError, RemoteObject, VectorArray
from .._arrays import is_pymor_array
from .._immutable import is_immutable, shared_key
from . import _runtime
from ._serial import FunctionCache, SendError, add_note, describe_unpicklable, dumps, loads, unpack_exception
from ._worker import mpi_type, run_call

__all__ = ["MPIPool"]

_DTYPES = ("float32", "float64", "complex64", "complex128")
_CALL_NAMES = {"apply": "apply", "only": "apply_only", "map": "map"}
_SMALL = 1 << 14  # bytes: a message MPI sends eagerly
_BROADCAST = 1 << 20  # bytes: a pushed pickle at least this big goes by Ibcast


# --------------------------------------------------------------------------- #
# rank 0's side of the runtime                                                 #
# --------------------------------------------------------------------------- #
class _Client:
    """What rank 0 knows about the worker ranks, shared by all its pools."""

    def __init__(self, rt: _runtime.Runtime) -> None:
        self.rt = rt
        self.functions = FunctionCache()
        self.in_command = False
        self.links: dict[int, _Link] = {}  # open pools, by uid
        self.pools: "weakref.WeakSet[MPIPool]" = weakref.WeakSet()
        self.path: list[str] | None = None
        self.path_version = 0
        self.path_known = [0] * rt.size
        self.path_everywhere = False
        self.deferred_close: list[_Link] = []
        self.has_pending = False  # removals not sent yet
        self.recent: dict[Any, bytes] = {}  # pickles of recent calls, by (pool, body)

    def refresh_path(self) -> bool:
        """Notes a change of ``sys.path``; True when every rank has the current one."""
        if sys.path != self.path:
            self.path = list(sys.path)
            self.path_version += 1
            self.path_everywhere = False
        return self.path_everywhere

    def path_for(self, w: int) -> list[str] | None:
        if self.path_known[w] == self.path_version:
            return None
        self.path_known[w] = self.path_version
        if all(v == self.path_version for v in self.path_known[1:]):
            self.path_everywhere = True
        return list(self.path or ())

    def messages(
        self,
        link: "_Link | None",
        seq: int,
        op: str,
        ranks: Sequence[int],
        body: Callable[[int], tuple[Any, ...]] | tuple[Any, ...],
    ) -> dict[int, bytes]:
        """One message per rank: the command's sequence number (8 bytes), then the pickle of
        ``(op, pool uid, extras, body)``, where ``extras`` is None or ``(removals,
        dropped functions, sys.path or None)``.

        ``body`` is the same tuple for every rank, or a function of the rank.
        Ranks with the same contents share one pickle; a call repeated with
        the same function and arguments reuses the last pickle.
        """
        uid = link.uid if link is not None else 0
        head = _runtime.SEQ.pack(seq)
        if self.refresh_path() and not self.has_pending and not self.functions.dropped and type(body) is tuple:
            cacheable = (
                op == "call" and len(body[1]) == 1 and (body[2] is None or len(body[2]) < 256) and body[5] is None
            )
            key = (uid, body) if cacheable else None
            data = self.recent.get(key) if cacheable else None
            if data is None:
                data = head + pickle.dumps((op, uid, None, body), 5)
                if cacheable:
                    if len(self.recent) >= 256:
                        self.recent.clear()
                    self.recent[key] = data[8:]
            else:
                data = head + data
            return dict.fromkeys(ranks, data)
        out: dict[int, bytes] = {}
        # Ranks given the same body object share a pickle. The body is known by its id,
        # so every body stays referenced here until the loop ends: a body made for one
        # rank and freed could hand its id to the next rank's body.
        shared: dict[Any, tuple[Any, bytes]] = {}
        for w in ranks:
            removals = link.take(w) if link is not None else ()
            dropped = tuple(self.functions.take_dropped(w))
            path = self.path_for(w)
            b = body if type(body) is tuple else body(w)
            key = (removals, dropped, path is not None, id(b))
            hit = shared.get(key)
            if hit is None:
                extras = (removals, dropped, path) if removals or dropped or path is not None else None
                data = head + pickle.dumps((op, uid, extras, b), 5)
                shared[key] = (b, data)
            else:
                data = hit[1]
            out[w] = data
        return out

    def flush_removals(self) -> None:
        """Tells the workers about objects removed on rank 0 (no reply)."""
        rt = self.rt
        self.has_pending = False
        if rt.broken is not None or rt.finished or rt.size == 1:
            return
        for link in list(self.links.values()):
            ranks = [w for w in range(1, rt.size) if link.pending[w]]
            if not ranks:
                continue
            seq = rt.next_seq()
            msgs = self.messages(link, seq, "remove", ranks, lambda w: ())
            with rt.defer_interrupt:
                reqs = rt.send(msgs)
            rt.complete(reqs, ranks, "a removal")

    def close_link(self, link: "_Link") -> None:
        """Frees a closed pool's objects on the worker ranks."""
        link.open = False
        self.links.pop(link.uid, None)
        rt = self.rt
        if rt.broken is not None or rt.finished or rt.size == 1:
            return
        ranks = list(range(1, rt.size))
        seq = rt.next_seq()
        msgs = self.messages(link, seq, "close", ranks, lambda w: ())
        with rt.defer_interrupt:
            reqs = rt.send(msgs)
        try:
            rt.complete(reqs, ranks, "close()")
        except BaseException:
            if rt.broken is None:
                rt.unfinished.append((reqs, ranks))
            raise
        rt.collect(ranks, seq, "close()")

    def close_deferred(self) -> None:
        while self.deferred_close:
            self.close_link(self.deferred_close.pop())

    def finish_unfinished(self) -> None:
        rt = self.rt
        while rt.unfinished:
            reqs, ranks = rt.unfinished[0]
            rt.complete(reqs, ranks, "the completion of an interrupted call")
            rt.unfinished.pop(0)


class _Link:
    """One pool as the worker ranks know it: its uid, and removals not sent yet.

    The registry's erase hook calls :meth:`erased`; the link holds no
    reference to the pool, so that a pool can be garbage-collected.
    """

    def __init__(self, client: _Client, uid: int, size: int) -> None:
        self.client = client
        self.uid = uid
        self.pending: list[list[int]] = [[] for _ in range(size)]
        self.shared_ids: dict[str, int] = {}  # registry key of an immutable -> object id
        self.shared_keys: dict[int, str] = {}  # object id -> registry key
        self.open = True

    def take(self, w: int) -> tuple[int, ...]:
        ids = self.pending[w]
        if not ids:
            return ()
        self.pending[w] = []
        return tuple(ids)

    def erased(self, oid: int) -> None:
        key = self.shared_keys.pop(oid, None)
        if key is not None:
            self.shared_ids.pop(key, None)
        if not self.open:
            return
        for w in range(1, len(self.pending)):
            self.pending[w].append(oid)
        client = self.client
        client.has_pending = True
        rt = client.rt
        # Tell the workers now, unless this runs inside a command (a garbage
        # collection during a send): then the next message carries it.
        if rt.lock.acquire(blocking=False):
            try:
                if not client.in_command and rt.broken is None:
                    client.in_command = True
                    try:
                        client.flush_removals()
                    finally:
                        client.in_command = False
            except Exception:
                pass
            finally:
                rt.lock.release()


_client: _Client | None = None


def _get_client(rt: _runtime.Runtime) -> _Client:
    global _client
    if _client is None:
        _client = _Client(rt)
    return _client


def shutdown() -> None:
    """Closes every open pool and stops the worker ranks (the launcher's last word on rank 0)."""
    rt = _runtime.current()
    if rt is None or rt.rank != 0:
        return
    client = _client
    if client is not None:
        for pool in list(client.pools):
            try:
                pool.close()
            except Exception:
                pass
        if rt.broken is None:
            with rt.lock:
                try:
                    client.close_deferred()
                except Exception:
                    pass
    if rt.broken is not None or rt.size == 1:
        return
    with rt.lock:
        seq = rt.next_seq()
        ranks = list(range(1, rt.size))
        if client is not None:
            msgs = client.messages(None, seq, "quit", ranks, lambda w: ())
        else:
            msgs = {w: _runtime.SEQ.pack(seq) + pickle.dumps(("quit", 0, None, ()), 5) for w in ranks}
        reqs = rt.send(msgs)
        rt.finished = True
        rt.complete(reqs, ranks, "the shutdown")


# --------------------------------------------------------------------------- #
# arrays                                                                       #
# --------------------------------------------------------------------------- #


def _classify(U: Any) -> tuple[str, np.ndarray, Any]:
    """``(kind, rows, extra)``: the rows of ``U`` as a 2-D NumPy view (or copy, if it must)."""
    if isinstance(U, VectorArray):
        kind, A, extra = "va", U.to_numpy(), None
    elif isinstance(U, np.ndarray):
        if U.ndim != 2:
            raise TypeError(f"scatter_array needs a 2-D array (rows are vectors), got {U.ndim} dimensions")
        kind, A, extra = "np", U, None
    elif is_pymor_array(U):
        # pyMOR keeps vectors as columns: to_numpy() is (dim, len)
        kind, A, extra = "pymor", U.to_numpy().T, U.space
    else:
        raise TypeError(
            f"scatter_array takes a scatterpool.VectorArray, a 2-D numpy.ndarray or a pyMOR VectorArray, "
            f"got {type(U).__module__}.{type(U).__qualname__}"
        )
    if A.dtype.name not in _DTYPES:
        raise _core.DTypeError(
            f"scatter_array moves float32, float64, complex64 and complex128 arrays, not {A.dtype.name}"
        )
    return kind, A, extra


def _send_spec(MPI: Any, A: np.ndarray, counts: list[int], offsets: list[int]) -> tuple[Any, Any, Any]:
    """The send side of Scatterv for the rows of ``A``, straight from its memory.

    Returns ``(sendbuf, A_used, datatype_to_free)``. Rows that are contiguous
    but spaced (a view with a row step) go with a resized row datatype; any
    other layout is copied once into a C-ordered array.
    """
    base = mpi_type(MPI, A.dtype)
    n, dim = A.shape
    item = A.dtype.itemsize
    if A.flags.c_contiguous:
        return [A, [c * dim for c in counts], [o * dim for o in offsets[:-1]], base], A, None
    if n > 0 and dim > 0 and A.strides[1] == item and A.strides[0] >= dim * item and A.strides[0] % item == 0:
        row = base.Create_contiguous(dim)
        rowtype = row.Create_resized(0, A.strides[0]).Commit()
        row.Free()
        span = (n - 1) * A.strides[0] + dim * item
        memory = MPI.buffer.fromaddress(A.ctypes.data, span, readonly=not A.flags.writeable)
        return [memory, counts, offsets[:-1], rowtype], A, rowtype
    A = np.ascontiguousarray(A)
    return [A, [c * dim for c in counts], [o * dim for o in offsets[:-1]], base], A, None


def _rows_of(kind: str, U: Any, A: np.ndarray, start: int, stop: int, copy: bool) -> Any:
    """Rank 0's own part of ``U``."""
    if kind == "va":
        part = U[start:stop]
        return part.copy() if copy else part
    if kind == "pymor":
        return U[start:stop].copy()  # a pyMOR view would follow U when U is emptied
    part = A[start:stop]
    return part.copy() if copy else part


def _slicer(seq: Any) -> Any:
    """Something that slices into chunks: the sequence itself if it slices, else a list of it."""
    if isinstance(seq, (list, tuple, range, np.ndarray, str, bytes)):
        return seq
    return list(seq)


class _Command:
    __slots__ = ("pool", "what")

    def __init__(self, pool: "MPIPool", what: str) -> None:
        self.pool = pool
        self.what = what

    def __enter__(self) -> None:
        self.pool._enter(self.what)

    def __exit__(self, *exc: object) -> None:
        self.pool._exit()


class _PoolStandIn:
    """What a worker rank gets for an MPIPool a function refers to: its size, nothing to run."""

    def __init__(self, size: int) -> None:
        self._size = size

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<MPIPool of {self._size} workers, as seen from a worker rank>"

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"MPIPool.{name}: the pool can only be used on rank 0, not inside a function it runs")

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _PoolStandIn, (self._size,)


# --------------------------------------------------------------------------- #
# the pool                                                                     #
# --------------------------------------------------------------------------- #
class MPIPool:
    """A pool whose workers are the ranks of an MPI launch; rank 0 is worker 0.

    Start the program with ``mpiexec -n K python -m scatterpool.mpi
    script.py [args]``: rank 0 runs ``script.py``, the other ranks serve its
    pools until the script ends, and ``MPIPool()`` on rank 0 has ``K``
    workers. A program started without ``mpiexec`` (or with ``-n 1``) gets a
    pool of one worker; a program on several ranks that was not started by
    the launcher gets a ``RuntimeError`` that says how to start it.

    The pool keeps the contract of every scatterpool pool (``DESIGN.md``).
    How data moves:

    * ``push``: pickled once (arrays of 1 MB and more out of band, as raw
      buffers broadcast with ``Ibcast``), one message per rank; an immutable
      object is sent once and later pushes return counted handles.
    * ``scatter_array``: rows split by ``even_split``, moved with
      ``Scatterv`` from ``U``'s memory into each rank's new array; no pickle,
      no intermediate copy. Rank 0 keeps its rows (a copy, or a view with
      ``copy=False``, which also empties a VectorArray or pyMOR ``U``).
    * ``scatter_list``: one pickled chunk per rank.
    * ``apply`` / ``apply_only`` / ``map``: the function and the arguments
      pickled once per call (a function that cannot change is sent once per
      rank and named by an id afterwards; functions from the script, lambdas
      and closures go by value with cloudpickle), results sent back.

    Worker 0 (rank 0) runs its share in the caller's thread with the
    arguments themselves, as worker 0 of a ThreadPool; the other workers get
    unpickled copies.

    Args:
        num_workers: optional check: the number of ranks the program must
            run on (``RuntimeError`` naming the launch command otherwise).
        seed: seeds :func:`scatterpool.worker_rng` on each worker (the same
            streams as a ThreadPool of as many workers with the same seed).
        timeout: seconds a busy worker rank may go without a sign of life
            before it counts as lost (default 60, or the environment
            variable ``SCATTERPOOL_MPI_TIMEOUT``); see :class:`WorkerLostError`.
    """

    def __init__(self, num_workers: int | None = None, seed: int = 0, timeout: float | None = None) -> None:
        if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, int)):
            raise TypeError(f"num_workers must be an int or None, got {type(num_workers).__name__}")
        if num_workers is not None and num_workers <= 0:
            raise ValueError(f"MPIPool needs at least 1 worker, got {num_workers}")
        rt = _runtime.runtime(num_workers)
        if rt.rank != 0:
            raise RuntimeError("an MPIPool is made on rank 0; the other ranks serve it")
        if num_workers is not None and num_workers != rt.size:
            raise RuntimeError(
                f"MPIPool({num_workers}) expects {num_workers} workers, but this program runs on {rt.size} MPI "
                f"ranks; start it as `mpiexec -n {num_workers} python -m scatterpool.mpi script.py`"
            )
        if timeout is not None:
            if not timeout > 0:
                raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
            rt.timeout = float(timeout)
        self._rt = rt
        self._size = rt.size
        self._others = list(range(1, rt.size))
        self._closed = False
        self.seed = seed
        self._registry = _core.Registry(1)
        self.registry = self._registry
        self._uid = self._registry.uid
        self._scope0 = _core.worker_scope(self._uid, 0)  # entered and left by every call (one at a time)
        self._client = client = _get_client(rt)
        self._link = link = _Link(client, self._uid, rt.size)
        _context.register_seed(self._uid, seed)
        with self._command("MPIPool()"):
            client.links[self._uid] = link
            self._registry.set_erase_hook(link.erased)
            self._run_everywhere("open", lambda w: (seed,), "MPIPool()")
        client.pools.add(self)

    # ------------------------------------------------------------------ #
    # basics                                                              #
    # ------------------------------------------------------------------ #
    @property
    def uid(self) -> int:
        return self._uid

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"MPIPool({self._size}{', closed' if self._closed else ''})"

    def __enter__(self) -> "MPIPool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # A function that mentions the pool (say len(pool)) can still be sent:
        # the worker ranks get a stand-in that knows the pool's size only.
        return _PoolStandIn, (self._size,)

    def _registry_size(self) -> int:
        """The number of live remote objects on rank 0 (for tests of leaks)."""
        return len(self._registry)

    def _worker_registry_sizes(self) -> list[int]:
        """The number of objects each rank holds for this pool (for tests of leaks)."""
        with self._command("_worker_registry_sizes"):
            sizes = self._run_everywhere("sizes", lambda w: (), "a registry count")
        return [len(self._registry)] + [sizes[w] for w in range(1, self._size)]

    def _command(self, what: str) -> "_Command":
        return _Command(self, what)

    def _enter(self, what: str) -> None:
        """Starts a command: the pool is open, no other command runs in this thread, the ranks are in step."""
        if self._closed:
            raise PoolClosedError(f"{what}: this MPIPool is closed")
        rt = self._rt
        client = self._client
        rt.lock.acquire()
        if client.in_command:
            rt.lock.release()
            raise ReentrantCallError(
                f"{what}: the MPIPool is already running a call in this thread (a pool cannot be used "
                f"from inside a function it runs)"
            )
        client.in_command = True
        try:
            rt.check_usable()
            if rt.unfinished:
                client.finish_unfinished()
            if client.deferred_close:
                client.close_deferred()
        except BaseException:
            client.in_command = False
            rt.lock.release()
            raise

    def _exit(self) -> None:
        client = self._client
        rt = self._rt
        try:
            # objects garbage-collected during the command: tell the workers now
            if client.has_pending and rt.broken is None:
                client.flush_removals()
        finally:
            client.in_command = False
            rt.lock.release()

    def _run_everywhere(self, op: str, body: Callable[[int], tuple[Any, ...]], what: str) -> dict[int, Any]:
        """Sends a command to every worker rank and returns their replies' values."""
        rt = self._rt
        ranks = list(range(1, self._size))
        if not ranks:
            return {}
        seq = rt.next_seq()
        msgs = self._client.messages(self._link, seq, op, ranks, body)
        with rt.defer_interrupt:
            reqs = rt.send(msgs)
        self._complete(reqs, ranks, what)
        return self._check_replies(rt.collect(ranks, seq, what))

    def _complete(self, reqs: list[Any], ranks: Sequence[int], what: str) -> None:
        rt = self._rt
        try:
            rt.complete(reqs, ranks, what)
        except BaseException:
            if rt.broken is None:
                rt.unfinished.append((reqs, list(ranks)))
            raise

    def _results(self, replies: dict[int, bytes], local: tuple[bool, Any] | None) -> dict[int, Any]:
        """The values of the ranks that succeeded (fewer than the replies when some failed)."""
        values: dict[int, Any] = {}
        if local is not None and local[0]:
            values[0] = local[1]
        for w, buf in replies.items():
            ok, value = loads(_runtime.body(buf))
            if ok:
                values[w] = value
        return values

    def _error(
        self,
        values: dict[int, Any],
        replies: dict[int, bytes],
        local: tuple[bool, Any] | None,
        on_error: Callable[[int], None] | None = None,
    ) -> BaseException:
        """The lowest worker's exception, naming the others in its notes."""
        errors: dict[int, BaseException] = {}
        if local is not None and not local[0]:
            errors[0] = local[1]
        for w in sorted(replies):
            if w not in values:
                errors[w] = unpack_exception(loads(_runtime.body(replies[w]))[1], w)
                if on_error is not None:
                    on_error(w)
        first = min(errors)
        error = errors.pop(first)
        for w in sorted(errors):
            other = errors[w]
            add_note(error, f"worker {w} also raised {type(other).__name__}: {other}")
        return error

    def _check_replies(self, replies: dict[int, bytes]) -> dict[int, Any]:
        values = self._results(replies, None)
        if len(values) < len(replies):
            raise self._error(values, replies, None)
        return values

    # ------------------------------------------------------------------ #
    # close                                                               #
    # ------------------------------------------------------------------ #
    def close(self) -> None:
        """Frees every remote object of the pool on every rank. Safe to call twice.

        The worker ranks keep serving (other pools, or a new one) until the
        script ends; then the launcher stops them and every rank exits.
        """
        if self._closed:
            return
        self._closed = True
        self._client.pools.discard(self)
        rt = self._rt
        link = self._link
        if rt.lock.acquire(blocking=False) or rt.lock.acquire(timeout=5.0):
            try:
                if self._client.in_command:
                    # closed by a garbage collection inside a command: finish it later
                    self._client.deferred_close.append(link)
                    self._local_close()
                    return
                self._client.in_command = True
                try:
                    self._client.close_link(link)
                finally:
                    self._client.in_command = False
            finally:
                rt.lock.release()
        else:  # another thread holds the pool: close at its next command
            self._client.deferred_close.append(link)
        self._local_close()

    def _local_close(self) -> None:
        self._link.open = False
        self._registry.set_erase_hook(None)
        self._registry.clear()
        _context.forget_pool(self._uid)

    # ------------------------------------------------------------------ #
    # data                                                                #
    # ------------------------------------------------------------------ #
    def push(self, obj: Any) -> RemoteObject:
        """Gives every worker its own copy of ``obj`` (the unpickled object on the other ranks).

        An immutable object (:class:`~scatterpool.Immutable`, pyMOR's
        ``ImmutableObject``) is not copied and is sent once: pushing it again
        returns another counted handle to the object already there.
        """
        with self._command("push"):
            link = self._link
            shared = is_immutable(obj)
            key = ""
            if shared:
                key = shared_key(obj)
                handle = self._registry.acquire_shared(key)
                if handle is not None:
                    return handle
            if self._size == 1:
                if shared:
                    return self._put_shared(key, obj)
                return self._registry.put([self._copy_of(obj)])
            buffers: list[pickle.PickleBuffer] = []
            try:
                data = dumps(obj, buffers)
            except Exception as error:
                raise describe_unpicklable("push: the object", obj, error) from error
            if shared:
                handle = self._put_shared(key, obj)
            else:
                local = loads(data, buffers=[bytearray(b.raw()) for b in buffers])
                handle = self._registry.put([local])
            oid = handle.id
            # large pickles go by Ibcast too (a tree, not one message per rank from rank 0)
            raws: list[Any] = [b.raw() for b in buffers]
            inline: bytes | None = data
            if len(data) >= _BROADCAST:
                raws.insert(0, data)
                inline = None
            sizes = [r.nbytes if isinstance(r, memoryview) else len(r) for r in raws]
            rt = self._rt
            ranks = list(range(1, self._size))
            seq = rt.next_seq()
            body = (oid, inline, sizes)
            msgs = self._client.messages(link, seq, "push", ranks, lambda w: body)
            MPI = rt.MPI
            try:
                with rt.defer_interrupt:
                    reqs = rt.send(msgs)
                    reqs += [rt.comm.Ibcast([r, MPI.BYTE], root=0) for r in raws]
                self._complete(reqs, ranks, "push")
                self._check_replies(rt.collect(ranks, seq, "push"))
            except BaseException:
                handle.remove()
                raise
            return handle

    def _put_shared(self, key: str, obj: Any) -> RemoteObject:
        handle = self._registry.put_shared(key, obj)
        self._link.shared_ids[key] = handle.id
        self._link.shared_keys[handle.id] = key
        return handle

    @staticmethod
    def _copy_of(obj: Any) -> Any:
        buffers: list[pickle.PickleBuffer] = []
        try:
            data = dumps(obj, buffers)
        except Exception as error:
            raise describe_unpicklable("push: the object", obj, error) from error
        return loads(data, buffers=[bytearray(b.raw()) for b in buffers])

    def scatter_array(self, U: Any, copy: bool = True) -> RemoteObject:
        """Gives worker ``i`` rows ``offsets[i]:offsets[i+1]`` of ``U`` (``even_split``).

        ``U`` is a :class:`~scatterpool.VectorArray`, a 2-D NumPy array or a
        pyMOR VectorArray of float32, float64, complex64 or complex128; each
        worker gets its part as the same kind of array. The rows go with one
        buffer ``Scatterv`` from ``U``'s memory into each rank's new array.
        ``copy=True`` leaves ``U`` as it was; ``copy=False`` lets rank 0 keep a
        view of its rows and leaves a VectorArray or pyMOR ``U`` empty (a
        NumPy ``U`` cannot be emptied and is left alone).
        """
        with self._command("scatter_array"):
            kind, A, extra = _classify(U)
            n, dim = A.shape
            K = self._size
            offsets = _core.even_split(n, K)
            fill: tuple[np.ndarray, np.ndarray] | None = None
            if copy and kind != "pymor":
                # rank 0's copy is made while the other rows are on their way
                mine = np.empty((offsets[1], dim), dtype=A.dtype)
                fill = (mine, A[: offsets[1]])
                if kind == "va":
                    own: Any = VectorArray.from_numpy(mine, copy=False) if len(mine) else U[0:0].copy()
                else:
                    own = mine
            else:
                own = _rows_of(kind, U, A, offsets[0], offsets[1], copy)
            handle = self._registry.put([own])
            try:
                if K > 1:
                    self._scatter_rows(handle.id, kind, A, dim, offsets, extra, fill)
                elif fill is not None:
                    np.copyto(*fill)
            except BaseException:
                handle.remove()
                raise
            if not copy and kind != "np":
                del U[:]
            return handle

    def _scatter_rows(
        self,
        oid: int,
        kind: str,
        A: np.ndarray,
        dim: int,
        offsets: list[int],
        extra: Any,
        fill: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        rt = self._rt
        MPI = rt.MPI
        K = self._size
        counts = [offsets[i + 1] - offsets[i] for i in range(K)]
        ranks = list(range(1, K))
        sendbuf, A, rowtype = _send_spec(MPI, A, counts, offsets)
        try:
            seq = rt.next_seq()
            body = (oid, kind, A.dtype.name, dim, counts, extra)
            msgs = self._client.messages(self._link, seq, "scatter_array", ranks, lambda w: body)
            with rt.defer_interrupt:
                reqs = rt.send(msgs)
                reqs.append(rt.comm.Iscatterv(sendbuf, MPI.IN_PLACE, root=0))
            if fill is not None:
                # copy rank 0's rows in slices of about 1 MB, keeping the transfer going in between
                dst, src = fill
                step = max(1, (1 << 20) // max(1, dim * A.dtype.itemsize))
                Testall = MPI.Request.Testall
                done = False
                for start in range(0, len(dst), step):
                    np.copyto(dst[start : start + step], src[start : start + step])
                    if not done:
                        done = Testall(reqs)
            self._complete(reqs, ranks, "scatter_array")
        finally:
            if rowtype is not None and not rt.unfinished:
                rowtype.Free()
        self._check_replies(rt.collect(ranks, seq, "scatter_array"))

    def scatter_list(self, l: Sequence[Any]) -> RemoteObject:  # noqa: E741 (pyMOR's name)
        """Gives worker ``i`` the list ``l[offsets[i]:offsets[i+1]]`` (``even_split``), one pickle per rank."""
        with self._command("scatter_list"):
            items = list(l)
            K = self._size
            offsets = _core.even_split(len(items), K)
            chunks: dict[int, bytes] = {}
            for w in range(1, K):
                chunk = items[offsets[w] : offsets[w + 1]]
                try:
                    chunks[w] = dumps(chunk)
                except Exception as error:
                    raise self._culprit("scatter_list: item", chunk, offsets[w], error) from error
            handle = self._registry.put([items[offsets[0] : offsets[1]]])
            if K > 1:
                try:
                    self._run_everywhere("scatter_list", lambda w: (handle.id, chunks[w]), "scatter_list")
                except BaseException:
                    handle.remove()
                    raise
            return handle

    @staticmethod
    def _culprit(what: str, items: Sequence[Any], start: int, error: BaseException) -> SendError:
        for i, item in enumerate(items):
            try:
                dumps(item)
            except Exception as item_error:
                return describe_unpicklable(f"{what} {start + i}", item, item_error)
        return SendError(f"{what}s {start}.. cannot be sent to the MPI ranks ({type(error).__name__}: {error})")

    # ------------------------------------------------------------------ #
    # calls                                                               #
    # ------------------------------------------------------------------ #
    def apply(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        """Runs ``function(*args, **kwargs)`` once on every worker; the results in worker order.

        A RemoteObject keyword argument arrives as that worker's object; an
        immutable object that was pushed arrives as the pushed copy.
        """
        return self._call("apply", function, None, args, kwargs, None)

    def apply_only(self, function: Callable[..., Any], worker: int, *args: Any, **kwargs: Any) -> Any:
        """Runs ``function(*args, **kwargs)`` on worker ``worker``; returns its result."""
        if isinstance(worker, bool) or not isinstance(worker, (int, np.integer)):
            raise TypeError(f"apply_only: worker must be an int, got {type(worker).__name__}")
        worker = int(worker)
        if not 0 <= worker < self._size:
            raise IndexError(f"worker {worker} is not in the range 0..{self._size - 1} of this pool")
        return self._call("only", function, worker, args, kwargs, None)

    def map(self, function: Callable[..., Any], *seqs: Any, **kwargs: Any) -> list[Any]:
        """``function(*items, **kwargs)`` for the items of ``seqs`` taken together, in input order.

        The sequences (of equal length; any sequence, a range or an array
        too) are split by ``even_split`` into one chunk per worker.
        """
        if not seqs:
            raise ValueError("map needs at least one sequence, got none")
        seqs = tuple(_slicer(s) for s in seqs)
        lengths = [len(s) for s in seqs]
        if any(n != lengths[0] for n in lengths):
            raise ValueError(f"map: the sequences have different lengths ({', '.join(map(str, lengths))})")
        return self._call("map", function, None, (), kwargs, seqs)

    def _call(
        self,
        mode: str,
        f: Callable[..., Any],
        worker: int | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        seqs: tuple[Any, ...] | None,
    ) -> Any:
        """apply, apply_only and map: one message to each target rank, rank 0's share here, the replies."""
        name = _CALL_NAMES[mode]
        # as self._enter(name), inlined: this is the path every call takes
        if self._closed:
            raise PoolClosedError(f"{name}: this MPIPool is closed")
        rt = self._rt
        client = self._client
        rt.lock.acquire()
        if client.in_command or rt.finished or rt.broken is not None or rt.unfinished or client.deferred_close:
            rt.lock.release()
            self._enter(name)  # the general path: raises, or catches up first
        else:
            client.in_command = True
        try:
            K = self._size
            # RemoteObjects and pushed immutables travel as ids
            pos_refs: tuple[tuple[int, int], ...] = ()
            kw_refs: tuple[tuple[str, int], ...] = ()
            local_args: Any = args
            local_kwargs = kwargs
            if args or kwargs:
                args, kwargs, local_args, local_kwargs, pos_refs, kw_refs = self._references(args, kwargs)
            local_chunk: Any = None
            if seqs is not None:
                offsets = _core.even_split(len(seqs[0]), K)
                local_chunk = tuple(s[offsets[0] : offsets[1]] for s in seqs)
            if mode == "only":
                targets: list[int] = [worker] if worker else []  # type: ignore[list-item]
            else:
                targets = self._others

            reqs: list[Any] = []
            spec_all: tuple[Any, ...] | None = None  # what every target gets for f, if the same
            fspecs: dict[int, tuple[Any, ...]] = {}  # else, per target
            if targets:
                args_data = None
                if args or kwargs:
                    try:
                        args_data = dumps((tuple(args), kwargs))
                    except Exception as error:
                        raise self._argument_error(name, args, kwargs, error) from error
                functions = self._client.functions
                entry = functions.entry(f)
                if entry is None:
                    spec_all = (None, functions._pickle(f))
                elif entry.holders.issuperset(targets):
                    spec_all = (entry.fid,)
                else:
                    fspecs = {w: functions.spec(f, w, entry) for w in targets}
                body: Any
                if seqs is not None:
                    chunks = self._chunks(seqs, offsets, targets)

                    def body(w: int) -> tuple[Any, ...]:
                        return (mode, spec_all or fspecs[w], args_data, pos_refs, kw_refs, chunks[w])

                elif spec_all is not None:
                    body = (mode, spec_all, args_data, pos_refs, kw_refs, None)
                else:
                    bodies = {len(sp): (mode, sp, args_data, pos_refs, kw_refs, None) for sp in fspecs.values()}

                    def body(w: int) -> tuple[Any, ...]:
                        return bodies[len(fspecs[w])]

                seq = rt.next_seq()
                msgs = client.messages(self._link, seq, "call", targets, body)
                if max(map(len, msgs.values())) < _SMALL:
                    # small messages are copied out by MPI at once: an interrupt cannot leave one half sent
                    reqs = rt.send(msgs)
                else:
                    with rt.defer_interrupt:
                        reqs = rt.send(msgs)
            elif not callable(f):
                raise TypeError(f"the function to run must be callable, got {type(f).__name__}")

            local: tuple[bool, Any] | None = None
            if mode != "only" or worker == 0:
                try:
                    with self._scope0:
                        if local_chunk is None:
                            local = (True, f(*local_args, **local_kwargs))
                        else:
                            local = (True, run_call(f, mode, local_args, local_kwargs, local_chunk))
                except KeyboardInterrupt:
                    if reqs:
                        rt.unfinished.append((reqs, targets))
                    raise
                except BaseException as error:
                    local = (False, error)
            replies: dict[int, bytes] = {}
            if targets:
                if reqs:
                    self._complete(reqs, targets, name)
                replies = rt.collect(targets, seq, name)
            # the values in worker order, while every rank succeeded
            out: list[Any] = [None] * K
            failed = False
            if local is not None:
                failed = not local[0]
                out[0] = local[1]
            for w, buf in replies.items():
                ok, value = loads(_runtime.body(buf))
                if not ok:
                    failed = True
                    break
                out[w] = value
            if failed:
                values = self._results(replies, local)
                forget = self._client.functions.forget
                raise self._error(values, replies, local, lambda w: forget(w, spec_all or fspecs[w]))
            if mode == "apply":
                return out
            if mode == "only":
                return out[worker]  # type: ignore[index]
            return list(itertools.chain.from_iterable(out))
        finally:
            try:
                # objects garbage-collected during the call: tell the workers now
                if client.has_pending and rt.broken is None:
                    client.flush_removals()
            finally:
                client.in_command = False
                rt.lock.release()

    def _references(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, dict[str, Any], Any, dict[str, Any], tuple[tuple[int, int], ...], tuple[tuple[str, int], ...]]:
        """Swaps RemoteObject keywords and pushed immutables for ids.

        Returns what is sent (positional and keyword arguments without them),
        what rank 0's share gets (with rank 0's objects), and the ids.
        """
        registry = self._registry
        shared_ids = self._link.shared_ids
        pos_refs: list[tuple[int, int]] = []
        kw_refs: list[tuple[str, int]] = []
        plain_args: Any = args
        local_args: Any = args
        plain_kwargs = local_kwargs = kwargs
        if shared_ids and args:
            for i, a in enumerate(args):
                if is_immutable(a):
                    oid = shared_ids.get(shared_key(a))
                    if oid is not None:
                        pos_refs.append((i, oid))
            if pos_refs:
                plain_args = list(args)
                local_args = list(args)
                for i, oid in pos_refs:
                    plain_args[i] = None
                    local_args[i] = registry.get(0, oid)
        if kwargs:
            for k, v in kwargs.items():
                if isinstance(v, RemoteObject):
                    self._check_handle(v)
                    kw_refs.append((k, v.id))
                elif shared_ids and is_immutable(v):
                    oid = shared_ids.get(shared_key(v))
                    if oid is not None:
                        kw_refs.append((k, oid))
            if kw_refs:
                plain_kwargs = dict(kwargs)
                local_kwargs = dict(kwargs)
                for k, oid in kw_refs:
                    del plain_kwargs[k]
                    local_kwargs[k] = registry.get(0, oid)
        return plain_args, plain_kwargs, local_args, local_kwargs, tuple(pos_refs), tuple(kw_refs)

    def _chunks(self, seqs: tuple[Any, ...], offsets: list[int], targets: list[int]) -> dict[int, bytes]:
        chunks: dict[int, bytes] = {}
        for w in targets:
            chunk = tuple(s[offsets[w] : offsets[w + 1]] for s in seqs)
            try:
                chunks[w] = dumps(chunk)
            except Exception as error:
                raise self._culprit("map: item", list(zip(*chunk)), offsets[w], error) from error
        return chunks

    def _check_handle(self, handle: RemoteObject) -> None:
        if handle.removed:
            raise InvalidRemoteObjectError(f"remote object {handle.id} was removed")
        registry = handle.registry
        if registry is None or registry.uid != self._uid:
            raise InvalidRemoteObjectError(f"remote object {handle.id} belongs to another pool")

    @staticmethod
    def _argument_error(name: str, args: Sequence[Any], kwargs: dict[str, Any], error: BaseException) -> SendError:
        for i, a in enumerate(args):
            try:
                dumps(a)
            except Exception as arg_error:
                return describe_unpicklable(f"{name}: argument {i}", a, arg_error)
        for k, v in kwargs.items():
            try:
                dumps(v)
            except Exception as arg_error:
                return describe_unpicklable(f"{name}: keyword argument {k!r}", v, arg_error)
        return SendError(f"{name}: the arguments cannot be sent to the MPI ranks ({type(error).__name__}: {error})")

