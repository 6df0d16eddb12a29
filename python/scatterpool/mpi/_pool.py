"""MPIPool: the front end's contract on the ranks of an MPI launch (rank 0 drives, rank 0 is worker 0).

The front end (:class:`~scatterpool.WorkerPool`) checks the arguments and
keeps the rules; this module is the transport: how objects, rows, chunks
and calls reach the worker ranks, through the process's :class:`Client`.
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from .. import _core
from .._arrays import ArrayParts
from .._base import WorkerPool, immutable_key
from .._core import InvalidRemoteObjectError, PoolClosedError, ReentrantCallError, RemoteObject
from .._immutable import items_shareable, worker_copies
from . import _runtime
from ._client import Client, Link, get_client, worker_errors
from ._delivery import DeliveryError
from ._protocol import (
    Call,
    CountObjects,
    FunctionRef,
    Open,
    PackedError,
    Push,
    ScatterChunk,
    ScatterRows,
    payload,
)
from ._rows import send_spec
from ._serial import SendError, describe_unpicklable, dumps, dumps_sharing, loads, unpack_exception
from ._worker import run_call

__all__ = ["MPIPool"]

_SMALL = 1 << 14  # bytes: a message MPI sends eagerly
_BROADCAST = 1 << 20  # bytes: a pushed pickle at least this big goes by Ibcast


class MPIPool(WorkerPool):
    """A pool whose workers are the ranks of an MPI launch; rank 0 is worker 0.

    Start the program with ``mpiexec -n K python -m scatterpool.mpi
    script.py [args]``: rank 0 runs ``script.py``, the other ranks serve its
    pools until the script ends, and ``MPIPool()`` on rank 0 has ``K``
    workers. A program started without ``mpiexec`` (or with ``-n 1``) gets a
    pool of one worker; a program on several ranks that was not started by
    the launcher gets a ``RuntimeError`` that says how to start it.

    The methods keep the contract of every :class:`~scatterpool.WorkerPool`.
    How data moves:

    * ``push``: pickled once (arrays of 1 MB and more out of band, as raw
      buffers broadcast with ``Ibcast``), one message per rank; an immutable
      object is sent once and later pushes return counted handles. Inside
      another pushed object or an argument, an immutable the workers hold
      that way is not sent again: each worker gets its own pushed copy.
    * ``scatter_array``: rows split by ``even_split``, moved with
      ``Scatterv`` from ``U``'s memory into each rank's new array; no pickle,
      no intermediate copy. Rank 0 keeps its rows (a copy, or a view with
      ``copy=False``).
    * ``scatter_list``: one pickled chunk per rank.
    * ``push`` and the scatters return once the data has left rank 0; a
      worker that cannot store it reports a :class:`~scatterpool.mpi.DeliveryError` at the
      pool's next call or ``close()``, and the handle is refused after.
    * ``apply`` / ``apply_only`` / ``map``: the function and the arguments
      pickled once per call (a function that cannot change is sent once per
      rank and named by an id afterwards; functions from the script, lambdas
      and closures go by value with cloudpickle), results sent back.

    Worker 0 (rank 0) runs its share in the caller's thread. With more than
    one rank it gets its own copy of the arguments (unpickled from the
    call's pickle, as every other rank does), unless every argument can be
    shared (immutable builtins, immutables, read-only arrays); a pool of one
    rank passes them as they are.

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
        rt, client = self._connect(num_workers)
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
        self.registry = _core.Registry(1)
        self._uid = self.registry.uid
        self._scope0 = _core.worker_scope(self._uid, 0)  # entered and left by every call (one at a time)
        self._client: Client = client
        self._link = Link(self._client, self._uid, rt.size)
        client.begin(self._link, "MPIPool()")
        try:
            client.links[self._uid] = self._link
            self.registry.set_erase_hook(self._link.erased)
            client.run(self._link, Open(seed), "MPIPool()")
        except BaseException:
            client.links.pop(self._uid, None)
            self._closed = True
            raise
        finally:
            client.end()
        client.pools.add(self)
        self._init_front_end(rt.size, seed)

    @classmethod
    def spawn(cls, num_workers: int, seed: int = 0, timeout: float | None = None) -> MPIPool:
        """A pool of ``num_workers`` workers without ``mpiexec``: this process and ``num_workers - 1`` spawned ones.

        For a notebook, an IDE or ``python script.py``, when the functions
        hold the GIL: the worker processes are started on this machine as
        an MPI job of their own, talk to this process as the ranks of a
        launch do, and stop at ``close()``, at this process's exit, or when
        this process dies. A worker process that dies breaks the pool
        (:class:`WorkerLostError`), not this process. See docs/processes.md.

        Raises:
            ImportError: mpi4py is not installed.
            RuntimeError: this program runs on several MPI ranks (use
                ``MPIPool()``), MPICH's ``mpiexec`` cannot be found, or a
                worker process could not start (its traceback in the message).
            TimeoutError: the workers did not report within ``timeout`` seconds
                (they are stopped).
        """
        from ._spawn import SpawnedMPIPool

        return SpawnedMPIPool(num_workers, seed=seed, timeout=timeout)

    def _connect(self, num_workers: int | None) -> tuple[_runtime.Runtime, Client]:
        """The ranks this pool runs on: those of the launch (a spawned pool has its own)."""
        rt = _runtime.runtime(num_workers)
        return rt, get_client(rt)

    # ------------------------------------------------------------------ #
    # basics                                                              #
    # ------------------------------------------------------------------ #
    @property
    def uid(self) -> int:
        return self._uid

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"MPIPool({self._size}{', closed' if self._closed else ''})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # A function that mentions the pool (say len(pool)) can still be sent:
        # the worker ranks get a stand-in that knows the pool's size only.
        return _PoolStandIn, (self._size,)

    def _check_open(self, what: str) -> None:
        # a call inside one of the pool's functions is refused by Client.begin, under the lock
        if self._closed:
            raise PoolClosedError(f"{what}: this MPIPool is closed")

    def _registry_size(self) -> int:
        return len(self.registry)

    def _worker_registry_sizes(self) -> list[int]:
        """The number of objects each rank holds for this pool (for tests of leaks)."""
        self._check_open("_worker_registry_sizes")
        client = self._client
        client.begin(self._link, "a registry count")
        try:
            sizes = client.run(self._link, CountObjects(), "a registry count")
        finally:
            client.end()
        return [len(self.registry)] + [sizes[w] for w in self._others]

    # ------------------------------------------------------------------ #
    # close                                                               #
    # ------------------------------------------------------------------ #
    def _close_transport(self) -> None:
        rt = self._rt
        client = self._client
        link = self._link
        if not (rt.lock.acquire(blocking=False) or rt.lock.acquire(timeout=5.0)):
            # another thread runs a command: the ranks learn at the next one
            self._forget(deferred=True)
            return
        try:
            if client.in_command:  # in this thread (the lock is reentrant)
                if client.running is link:
                    raise ReentrantCallError(
                        "close: the MPIPool is running a call in this thread (a pool cannot be closed from "
                        "inside a function it runs); it stays open"
                    )
                # inside another pool's command (or a garbage collection during one): the ranks learn later
                self._forget(deferred=True)
                return
            client.in_command = True
            client.running = link
            report: DeliveryError | None = None
            try:
                if link.unread and rt.broken is None:
                    try:
                        client.confirm_again(link, "close()")
                    except DeliveryError as error:  # raised once the pool is closed
                        report = error
                self._forget(deferred=False)
                client.close_link(link)
            finally:
                client.in_command = False
                client.running = None
            if report is not None:
                raise report
        finally:
            rt.lock.release()

    def _forget(self, deferred: bool) -> None:
        """Closes the pool on rank 0; with ``deferred``, the worker ranks are told at the next command."""
        self._closed = True
        self._client.pools.discard(self)
        self._link.open = False
        if deferred:
            self._client.deferred_close.append(self._link)
        self.registry.set_erase_hook(None)
        self.registry.clear()

    def _after_fork_in_child(self) -> None:
        # the child is not part of the MPI job: the pool refuses work there, and sends nothing
        self._closed = True
        self._link.open = False

    # ------------------------------------------------------------------ #
    # data                                                                #
    # ------------------------------------------------------------------ #
    def _push_shared(self, key: str, obj: Any) -> RemoteObject:
        return self._push(obj, key)

    def _push_copies(self, obj: Any) -> RemoteObject:
        return self._push(obj, None)

    def _push(self, obj: Any, key: str | None) -> RemoteObject:
        client = self._client
        client.begin(self._link, "push")
        try:
            if self._link.deliveries:
                client.make_room(self._link, "push")
            if key is not None:
                handle = self.registry.acquire_shared(key)
                if handle is not None:
                    return handle
            if key is not None and self._size == 1:
                return self._put_shared(key, obj)  # nothing to send
            buffers: list[pickle.PickleBuffer] = []
            try:
                data, refers = self._dumps(obj, buffers)
            except Exception as error:
                raise describe_unpicklable("push: the object", obj, error) from error
            if key is not None:
                handle = self._put_shared(key, obj)
            else:
                copied = loads(data, [bytearray(b.raw()) for b in buffers], self._held_object if refers else None)
                handle = self.registry.put([copied])
            if self._size > 1:
                try:
                    self._send_pushed(handle.id, data, buffers)
                except BaseException:
                    handle.remove()
                    raise
            return handle
        finally:
            client.end()

    def _dumps(self, obj: Any, buffers: list[pickle.PickleBuffer] | None = None) -> tuple[bytes, bool]:
        """Pickles what a command sends, the immutables the workers hold already as references to their copies.

        Also returns whether the pickle holds such references.
        """
        link = self._link
        if not link.shared_ids:
            return dumps(obj, buffers), False
        data, referenced = dumps_sharing(obj, link.shared_ids, buffers)
        if all(oid in link.shared_keys for oid in referenced):
            return data, bool(referenced)
        # one was erased while pickling (a handle collected): its removal goes with this command
        if buffers is not None:
            buffers.clear()
        return dumps(obj, buffers), False

    def _held_object(self, oid: int) -> Any:
        """Rank 0's object under ``oid`` (what a reference in a :meth:`_dumps` pickle stands for here)."""
        return self.registry.get(0, oid)

    def _put_shared(self, key: str, obj: Any) -> RemoteObject:
        handle = self.registry.put_shared(key, obj)
        self._link.shared_ids[key] = handle.id
        self._link.shared_keys[handle.id] = key
        return handle

    def _send_pushed(self, oid: int, data: bytes, buffers: list[pickle.PickleBuffer]) -> None:
        # large pickles go by Ibcast too (a tree, not one message per rank from rank 0)
        raws: list[Any] = [b.raw() for b in buffers]
        inline: bytes | None = data
        if len(data) >= _BROADCAST:
            raws.insert(0, data)
            inline = None
        sizes = [r.nbytes if isinstance(r, memoryview) else len(r) for r in raws]
        rt = self._rt
        client = self._client
        ranks = self._others
        seq = rt.next_seq()
        msgs = client.messages(self._link, seq, ranks, Push(oid, inline, sizes))
        MPI = rt.MPI
        if not raws and len(data) < _SMALL:
            # small messages are copied out by MPI at once, and a rank that got a push another missed
            # only ignores the removal of the handle that the interrupted push drops
            reqs = rt.send(msgs)
        else:
            with rt.defer_interrupt:
                reqs = rt.send(msgs)
                reqs += [rt.comm.Ibcast([r, MPI.BYTE], root=0) for r in raws]
        client.complete(reqs, ranks, "push")
        client.delivered(self._link, ranks)

    def _scatter_rows(self, parts: ArrayParts, copy: bool) -> RemoteObject:
        client = self._client
        client.begin(self._link, "scatter_array")
        try:
            if self._link.deliveries:
                client.make_room(self._link, "scatter_array")
            rows = parts.rows
            n, dim = rows.shape
            offsets = _core.even_split(n, self._size)
            fill: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None = None
            if copy and not parts.converted:
                # rank 0's copy is made while the other rows are on their way
                mine = _core.empty_array((offsets[1], dim), rows.dtype)  # warm memory when it can be
                fill = (mine, rows[: offsets[1]])
                own = parts.wrap(mine)
            else:  # a view: of U (copy=False), or of the converted copy that classify_array made
                own = parts.wrap(rows[: offsets[1]])
            handle = self.registry.put([own])
            try:
                if self._size > 1:
                    self._send_rows(handle.id, parts, offsets, fill)
                elif fill is not None:
                    np.copyto(*fill)
            except BaseException:
                handle.remove()
                raise
            return handle
        finally:
            client.end()

    def _send_rows(
        self,
        oid: int,
        parts: ArrayParts,
        offsets: list[int],
        fill: tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]] | None,
    ) -> None:
        rt = self._rt
        client = self._client
        MPI = rt.MPI
        dim = parts.rows.shape[1]
        counts = [offsets[i + 1] - offsets[i] for i in range(self._size)]
        ranks = self._others
        sendbuf, A, rowtype = send_spec(MPI, parts.rows, counts, offsets)
        try:
            seq = rt.next_seq()
            body = ScatterRows(oid, parts.kind, A.dtype.name, dim, counts, parts.space)
            msgs = client.messages(self._link, seq, ranks, body)
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
            client.complete(reqs, ranks, "scatter_array")
        finally:
            if rowtype is not None and not rt.unfinished:
                rowtype.Free()
        client.delivered(self._link, ranks)

    def _scatter_chunks(self, items: list[Any], offsets: list[int]) -> RemoteObject:
        client = self._client
        client.begin(self._link, "scatter_list")
        try:
            if self._link.deliveries:
                client.make_room(self._link, "scatter_list")
            pickles: dict[int, bytes] = {}
            for w in self._others:
                chunk = items[offsets[w] : offsets[w + 1]]
                try:
                    pickles[w] = dumps(chunk)
                except Exception as error:
                    raise _culprit("scatter_list: item", chunk, offsets[w], error) from error
            handle = self.registry.put([items[offsets[0] : offsets[1]]])
            if pickles:
                try:
                    chunks = {w: ScatterChunk(handle.id, p) for w, p in pickles.items()}
                    client.deliver(self._link, chunks, "scatter_list")
                except BaseException:
                    handle.remove()
                    raise
            return handle
        finally:
            client.end()

    # ------------------------------------------------------------------ #
    # calls                                                               #
    # ------------------------------------------------------------------ #
    def _call(
        self,
        kind: str,
        f: Callable[..., Any],
        worker: int | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        seqs: tuple[Any, ...] | None,
        length: int,
    ) -> Any:
        """apply, apply_only and map: one message to each target rank, rank 0's share here, the replies."""
        rt = self._rt
        client = self._client
        client.begin(self._link, kind)
        try:
            K = self._size
            link = self._link
            if kind == "apply_only":
                targets: list[int] = [worker] if worker else []
                if link.unconfirmed and not link.unconfirmed.issubset(targets):
                    client.confirm(link, kind, sorted(link.unconfirmed.difference(targets)))
            else:
                targets = self._others
            arguments = _Arguments(self, kind, args, kwargs, bool(targets)) if args or kwargs else _NO_ARGUMENTS
            offsets: list[int] = []
            own_chunk: tuple[Any, ...] = ()
            if seqs is not None:
                offsets = _core.even_split(length, K)
                own_chunk = self._own_chunk(seqs, offsets)

            reqs: list[Any] = []
            refs: dict[int, FunctionRef] | None = None
            if targets:
                body, refs = self._bodies(kind, f, targets, arguments, seqs, offsets)
                seq = rt.next_seq()
                msgs = client.messages(link, seq, targets, body)
                link.unread = True
                if max(map(len, msgs.values())) < _SMALL:
                    # small messages are copied out by MPI at once: an interrupt cannot leave one half sent
                    reqs = rt.send(msgs)
                else:
                    with rt.defer_interrupt:
                        reqs = rt.send(msgs)
            elif not callable(f):
                raise TypeError(f"the function to run must be callable, got {type(f).__name__}")

            errors: dict[int, BaseException] = {}
            out: list[Any] = [None] * K
            if kind != "apply_only" or worker == 0:
                try:
                    with self._scope0:
                        if seqs is None:
                            out[0] = f(*arguments.local_args, **arguments.local_kwargs)
                        else:
                            out[0] = run_call(f, kind, (), arguments.local_kwargs, own_chunk)
                except KeyboardInterrupt:
                    if reqs:
                        rt.unfinished.append((reqs, targets))
                    raise
                except BaseException as error:
                    errors[0] = error
            if targets:
                if reqs:
                    client.complete(reqs, targets, kind)
                for w, buf in rt.collect(targets, seq, kind).items():
                    ok, value = pickle.loads(payload(buf))
                    if ok:
                        out[w] = value
                    else:
                        errors[w] = unpack_exception(PackedError(*value), w)
                        if refs is not None:
                            client.functions.forget(w, refs[w])
                link.unread = False
                if link.unconfirmed:
                    link.confirmed(targets)
            if errors:
                raise worker_errors(errors, link)
            if kind == "apply":
                return out
            if kind == "apply_only":
                return out[worker]  # type: ignore[index]
            return list(itertools.chain.from_iterable(out))
        finally:
            client.end()

    def _bodies(
        self,
        kind: str,
        f: Callable[..., Any],
        targets: list[int],
        arguments: _Arguments,
        seqs: tuple[Any, ...] | None,
        offsets: list[int],
    ) -> tuple[Call | dict[int, Call], dict[int, FunctionRef] | None]:
        """What each target rank gets (one Call for all when they all get the same).

        Also returns, for the ranks that were sent a function to keep, what
        they were sent (a rank whose call failed may not keep it).
        """
        functions = self._client.functions
        entry = functions.entry(f)
        data, pos, kw = arguments.data, arguments.positional_refs, arguments.keyword_refs
        common: FunctionRef | None = None
        if entry is None:
            common = FunctionRef(None, functions.pickle_function(f))
        elif entry.holders.issuperset(targets):
            if seqs is None:  # the path of a repeated apply
                # tuple.__new__: a named tuple's own __new__ is a Python function, several times slower
                return tuple.__new__(Call, (kind, entry.fid, None, data, pos, kw, None)), None
            common = FunctionRef(entry.fid, None)
        if common is not None:
            refs = dict.fromkeys(targets, common)
            if seqs is None:
                return Call(kind, common.id, common.pickle, data, pos, kw, None), None
        else:
            refs = {w: functions.ref(f, w, entry) for w in targets}
        if seqs is not None:
            bodies = {
                w: Call(kind, refs[w].id, refs[w].pickle, data, pos, kw, self._chunk(seqs, offsets, w))
                for w in targets
            }
            return bodies, refs
        # the ranks that hold the function get its id, the others its pickle: two bodies at most
        by_ref: dict[FunctionRef, Call] = {}
        for ref in refs.values():
            if ref not in by_ref:
                by_ref[ref] = Call(kind, ref.id, ref.pickle, data, pos, kw, None)
        return {w: by_ref[refs[w]] for w in targets}, refs

    def _own_chunk(self, seqs: tuple[Any, ...], offsets: list[int]) -> tuple[Any, ...]:
        """Rank 0's items of a map: as they are on a pool of one rank, else as if sent (unless they may be shared)."""
        chunk = tuple(s[offsets[0] : offsets[1]] for s in seqs)
        if self._size == 1 or all(items_shareable(s) for s in chunk):
            return chunk
        try:
            data = dumps(chunk)
        except Exception as error:
            raise _culprit("map: item", list(zip(*chunk, strict=True)), offsets[0], error) from error
        copied: tuple[Any, ...] = loads(data)
        return copied

    @staticmethod
    def _chunk(seqs: tuple[Any, ...], offsets: list[int], w: int) -> bytes:
        chunk = tuple(s[offsets[w] : offsets[w + 1]] for s in seqs)
        try:
            return dumps(chunk)
        except Exception as error:
            raise _culprit("map: item", list(zip(*chunk, strict=True)), offsets[w], error) from error

    def _check_handle(self, handle: RemoteObject) -> None:
        if handle.removed:
            raise InvalidRemoteObjectError(f"remote object {handle.id} was removed")
        registry = handle.registry
        if registry is None or registry.uid != self._uid:
            raise InvalidRemoteObjectError(f"remote object {handle.id} belongs to another pool")
        if self._link.failed:
            self._check_delivered(handle.id)

    def _check_delivered(self, oid: int) -> None:
        """Refuses an object that a worker failed to store."""
        error = self._link.failed.get(oid)
        if error is not None:
            what = dict(error.failed)[oid]
            raise InvalidRemoteObjectError(
                f"remote object {oid} cannot be used: its {what} failed on worker {error.worker} (remove it)"
            ) from error


class _Arguments:
    """A call's arguments: what is sent (a pickle, and the ids of the workers' own objects) and what rank 0 gets.

    ``sent``: whether other ranks take part in the call.

    RemoteObjects (positional or keyword) and pushed immutables travel as
    ids. With more than one rank, rank 0 gets what the others get: the
    arguments unpickled from the call's pickle, so that no worker holds the
    caller's own objects and the arguments stay one object graph. When every
    argument can be shared (immutable builtins, immutables, read-only
    arrays) rank 0 gets them as they are; a pool of one rank passes them as
    they are.
    """

    __slots__ = ("data", "positional_refs", "keyword_refs", "local_args", "local_kwargs")

    def __init__(self, pool: MPIPool, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any], sent: bool) -> None:
        registry = pool.registry
        shared_ids = pool._link.shared_ids
        pos_refs: list[tuple[int, int]] = []
        kw_refs: list[tuple[str, int]] = []
        for i, a in enumerate(args):
            oid = _reference(pool, shared_ids, a)
            if oid is not None:
                pos_refs.append((i, oid))
        for k, v in kwargs.items():
            oid = _reference(pool, shared_ids, v)
            if oid is not None:
                kw_refs.append((k, oid))
        sent_args: Any = args
        sent_kwargs = kwargs
        if pos_refs:
            sent_args = list(args)
            for i, _ in pos_refs:
                sent_args[i] = None
            sent_args = tuple(sent_args)
        if kw_refs:
            sent_kwargs = dict(kwargs)
            for k, _ in kw_refs:
                del sent_kwargs[k]
        self.positional_refs = tuple(pos_refs)
        self.keyword_refs = tuple(kw_refs)
        self.data: bytes | None = None
        local_args: Any = args
        local_kwargs = kwargs
        if pool._size > 1 and (sent_args or sent_kwargs):
            # the core pools' rule of what workers may share; zero copies asked: only the answer is wanted
            shared = worker_copies((*sent_args, *sent_kwargs.values()), 0) is None
            if sent or not shared:
                try:
                    self.data, refers = pool._dumps((sent_args, sent_kwargs))
                except Exception as error:
                    raise _argument_error(kind, sent_args, sent_kwargs, error) from error
            if shared:
                local_args, local_kwargs = sent_args, sent_kwargs
            else:
                local_args, local_kwargs = loads(self.data, None, pool._held_object if refers else None)
        if pos_refs:
            local_args = list(local_args)
            for i, oid in pos_refs:
                local_args[i] = registry.get(0, oid)
        if kw_refs:
            local_kwargs = dict(local_kwargs)
            for k, oid in kw_refs:
                local_kwargs[k] = registry.get(0, oid)
        self.local_args = local_args
        self.local_kwargs = local_kwargs


class _NoArguments:
    """The arguments of a call without any."""

    data = None
    positional_refs: tuple[tuple[int, int], ...] = ()
    keyword_refs: tuple[tuple[str, int], ...] = ()
    local_args: tuple[Any, ...] = ()
    local_kwargs: Mapping[str, Any] = MappingProxyType({})


_NO_ARGUMENTS: Any = _NoArguments()


def _reference(pool: MPIPool, shared_ids: dict[str, int], value: Any) -> int | None:
    """The id under which the workers hold ``value`` already (a RemoteObject, a pushed immutable), or None."""
    if isinstance(value, RemoteObject):
        pool._check_handle(value)
        return value.id
    if shared_ids:
        key = immutable_key(value)
        if key is not None:
            oid = shared_ids.get(key)
            if oid is not None and pool._link.failed:
                pool._check_delivered(oid)
            return oid
    return None


def _culprit(what: str, items: Sequence[Any], start: int, error: BaseException) -> SendError:
    for i, item in enumerate(items):
        try:
            dumps(item)
        except Exception as item_error:
            return describe_unpicklable(f"{what} {start + i}", item, item_error)
    return SendError(f"{what}s {start}.. cannot be sent to the MPI ranks ({type(error).__name__}: {error})")


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
        raise ReentrantCallError(
            f"MPIPool.{name}: the pool can only be used on rank 0, not inside a function it runs"
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _PoolStandIn, (self._size,)
