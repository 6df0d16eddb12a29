"""WorkerPool: the one front end of every pool.

The contract (docs/contract.md) is stated and checked here once; a pool adds
only its transport, the ``_``-methods listed at the end of
:class:`WorkerPool`, which say how objects, parts and calls reach its
workers. DummyPool and ThreadPool put the core's C methods for ``apply``,
``apply_only``, ``map``, ``push`` and ``scatter_list`` first in their method
resolution order (the per-call hot path); those keep the same rules, calling
back into :func:`merge_worker_errors` and the argument copier.
"""

from __future__ import annotations

import atexit
import operator
import os
import sys
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from . import _context, _core
from ._arrays import ArrayParts, classify_array
from ._core import RemoteObject
from ._immutable import is_immutable, shared_key

__all__ = ["WorkerPool", "check_worker", "immutable_key", "map_sequences", "merge_worker_errors"]

_T = TypeVar("_T")
_live_pools: weakref.WeakSet[WorkerPool] = weakref.WeakSet()

# Sequences map may slice as they are; anything else iterable is listed once.
_SLICEABLE = (list, tuple, range, str, bytes)


# --------------------------------------------------------------------------- #
# the rules every pool applies, once                                          #
# --------------------------------------------------------------------------- #
def check_worker(worker: object, num_workers: int) -> int:
    """``worker`` as an index of a pool of ``num_workers``; ``TypeError`` / ``IndexError`` otherwise."""
    if isinstance(worker, bool):
        raise TypeError("apply_only: worker must be an int, got bool")
    try:
        w = operator.index(worker)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"apply_only: worker must be an int, got {type(worker).__name__}") from None
    if not 0 <= w < num_workers:
        raise IndexError(f"worker {w} is not in the range 0..{num_workers - 1} of this pool")
    return w


def map_sequences(seqs: tuple[Any, ...]) -> tuple[tuple[Any, ...], int]:
    """The sequences of a ``map`` call, each sliceable, and their common length.

    ``ValueError`` for none, or for sequences of different lengths; an
    iterator or generator is read into a list once.
    """
    if not seqs:
        raise ValueError("map needs at least one sequence, got none")
    out = []
    for s in seqs:
        if isinstance(s, RemoteObject):
            raise TypeError(
                "map: the positional arguments are the sequences to map over; pass a RemoteObject as a "
                "keyword argument"
            )
        if not isinstance(s, _SLICEABLE) and not (hasattr(s, "__getitem__") and hasattr(s, "__len__")):
            try:
                s = list(s)
            except TypeError:
                raise TypeError(f"map: arguments must be sequences, got {type(s).__name__}") from None
        out.append(s)
    lengths = [len(s) for s in out]
    if any(n != lengths[0] for n in lengths):
        raise ValueError(f"map: the sequences have different lengths ({', '.join(map(str, lengths))})")
    return tuple(out), lengths[0]


def _describe(error: BaseException) -> str:
    try:
        return str(error)
    except Exception as str_error:  # an exception whose __str__ raises must not hide the others
        return f"<str() of the exception raised {type(str_error).__name__}>"


def _add_note(error: BaseException, note: str) -> None:
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:  # Python 3.10: the notes as 3.11 keeps them
        notes = getattr(error, "__notes__", None)
        if not isinstance(notes, list):
            notes = []
            try:
                error.__notes__ = notes  # type: ignore[attr-defined]
            except Exception:
                return
        notes.append(note)


def merge_worker_errors(errors: dict[int, BaseException]) -> BaseException:
    """The exception a call raises when workers failed: the lowest worker's, naming the others in its notes."""
    first = min(errors)
    error = errors[first]
    for w in sorted(errors):
        if w != first:
            other = errors[w]
            _add_note(error, f"worker {w} also raised {type(other).__name__}: {_describe(other)}")
    return error


def immutable_key(obj: object) -> str | None:
    """The registry key under which an immutable object is shared, or ``None`` for a plain object."""
    return shared_key(obj) if is_immutable(obj) else None


# --------------------------------------------------------------------------- #
# the front end                                                                #
# --------------------------------------------------------------------------- #
class WorkerPool:
    """A pool of workers, each holding its own objects: pyMOR's ``WorkerPool`` interface.

    Every pool (:class:`~scatterpool.DummyPool`, :class:`~scatterpool.ThreadPool`,
    ``scatterpool.mpi.MPIPool``) is a ``WorkerPool`` and keeps the contract
    written in ``docs/contract.md``: data is distributed by
    :func:`~scatterpool.even_split`, results come back in worker or input
    order, a worker's exception reaches the caller, and a closed pool refuses
    work with :class:`~scatterpool.PoolClosedError`. A pool is a context
    manager; ``close()`` is idempotent.
    """

    # set by _init_front_end
    _num_workers: int
    seed: int

    def _init_front_end(self, num_workers: int, seed: int) -> None:
        """Called by a pool's ``__init__`` once its transport works."""
        self._num_workers = num_workers
        self.seed = seed
        _context.register_seed(self.uid, seed)
        _live_pools.add(self)

    # -- lifecycle ----------------------------------------------------------
    def __len__(self) -> int:
        """The number of workers."""
        return self._num_workers

    def __bool__(self) -> bool:
        """``True``; ``False`` for DummyPool, so that pyMOR's algorithms take their serial path."""
        return True

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if "_num_workers" not in self.__dict__:
            return  # __init__ failed before the pool worked
        try:
            self.close()
        except Exception as error:  # a garbage collection goes on; what closing reported is not lost
            sys.stderr.write(f"scatterpool: closing {self!r} when it was dropped: {type(error).__name__}: {error}\n")

    def close(self) -> None:
        """Stops the workers and frees every remote object on every worker. Safe to call twice.

        Raises:
            ReentrantCallError: when called from inside a function the pool runs (the pool stays open).
        """
        if self.closed:
            return
        try:
            self._close_transport()
        finally:
            self._forget_if_closed()

    def _forget_if_closed(self) -> None:
        # closed also when closing reported an error; not after ReentrantCallError
        if self.closed:
            _context.forget_pool(self.uid)
            _live_pools.discard(self)

    # -- data ---------------------------------------------------------------
    def push(self, obj: Any, /) -> RemoteObject:
        """Gives every worker its own copy of ``obj``.

        An immutable object (:class:`~scatterpool.Immutable`, pyMOR's
        ``ImmutableObject``) is not copied and is sent once: pushing it again
        returns another counted handle to the object already there, which
        lives until its last handle is removed.

        On ``MPIPool`` the push returns once the object has left rank 0,
        without waiting for the workers: a worker that cannot store it (its
        unpickling raises there) makes the pool's next call or ``close()``
        raise ``scatterpool.mpi.DeliveryError`` naming this push, and the
        handle raises ``InvalidRemoteObjectError`` when used from then on.

        Returns:
            A :class:`~scatterpool.RemoteObject`; passed as an argument of
            ``apply``/``apply_only``/``map`` it arrives as that worker's copy.

        Raises:
            TypeError: the object cannot be copied (or pickled, for MPI).
            PoolClosedError: the pool is closed.
        """
        self._check_open("push")
        key = immutable_key(obj)
        if key is not None:
            return self._push_shared(key, obj)
        return self._push_copies(obj)

    def scatter_array(self, U: Any, /, copy: bool = True) -> RemoteObject:
        """Gives worker ``i`` rows ``offsets[i]:offsets[i+1]`` of ``U``, ``offsets = even_split(len(U), len(pool))``.

        Args:
            U: a :class:`~scatterpool.VectorArray`, a 2-D NumPy array (rows
                are vectors) or a pyMOR ``VectorArray`` (vectors are its
                columns) of float32, float64, complex64 or complex128; each
                worker gets its part as the same kind of array. An array in
                non-native byte order arrives converted to native order.
            copy: ``True`` leaves ``U`` as it was and gives each worker its
                own copy (on a ThreadPool each worker copies its own part, in
                parallel); any memory layout is accepted. ``False`` copies
                nothing where memory is shared: each part is a view of ``U``'s
                buffer, which lives as long as any part does, and a
                ``VectorArray`` or pyMOR ``U`` is left empty (a NumPy ``U``
                cannot be emptied and is left alone).

        Raises:
            TypeError: ``U`` is of another kind, not 2-D, or of another dtype
                (:class:`~scatterpool.DTypeError`); with ``copy=False``, in
                non-native byte order.
            PoolClosedError: the pool is closed.
        """
        self._check_open("scatter_array")
        parts = classify_array(U, copy)
        handle = self._scatter_rows(parts, copy)
        if not copy:
            parts.empty_source()
        return handle

    def scatter_list(self, l: Sequence[Any], /) -> RemoteObject:  # noqa: E741 (pyMOR's name)
        """Gives worker ``i`` the list ``l[offsets[i]:offsets[i+1]]``, ``offsets = even_split(len(l), len(pool))``.

        Raises:
            TypeError: ``l`` is not a sequence (or, for MPI, an item cannot be pickled).
            PoolClosedError: the pool is closed.
        """
        self._check_open("scatter_list")
        try:
            items = list(l)
        except TypeError:
            raise TypeError(
                f"scatter_list takes a sequence (a list, tuple, range, ...), got {type(l).__name__}"
            ) from None
        return self._scatter_chunks(items, _core.even_split(len(items), len(self)))

    # -- calls --------------------------------------------------------------
    def apply(self, function: Callable[..., _T], /, *args: Any, **kwargs: Any) -> list[_T]:
        """Runs ``function(*args, **kwargs)`` once on every worker.

        A :class:`~scatterpool.RemoteObject` argument (keyword or positional)
        arrives as that worker's object, and a pushed immutable object as the
        pushed copy. Any other argument behaves as if sent with the call: on a
        pool of one worker it is passed as it is; on a pool of several each
        worker gets its own copy (immutable builtins, immutables and read-only
        NumPy arrays are shared), and the caller's object is never handed to a
        worker. Inside ``function``, :func:`~scatterpool.worker_index` says
        which worker runs it.

        Returns:
            The results in worker order.

        Raises:
            The exception ``function`` raised, with its traceback; when several
            workers raised, the lowest worker's, the others named in its notes.
            InvalidRemoteObjectError: a RemoteObject argument was removed or belongs to another pool.
            PoolClosedError: the pool is closed.
            ReentrantCallError: called from inside a function the pool runs.
        """
        self._check_open("apply")
        return self._call("apply", function, None, args, kwargs, None, 0)  # type: ignore[no-any-return]

    def apply_only(self, function: Callable[..., _T], worker: int, /, *args: Any, **kwargs: Any) -> _T:
        """Runs ``function(*args, **kwargs)`` on worker ``worker`` alone (arguments as in :meth:`apply`).

        Returns:
            Its result.

        Raises:
            TypeError: ``worker`` is not an int.
            IndexError: ``worker`` is not in ``0..len(pool)-1``.
            Otherwise as :meth:`apply`.
        """
        self._check_open("apply_only")
        w = check_worker(worker, len(self))
        return self._call("apply_only", function, w, args, kwargs, None, 0)  # type: ignore[no-any-return]

    def map(self, function: Callable[..., _T], /, *seqs: Any, **kwargs: Any) -> list[_T]:
        """``function(*items, **kwargs)`` for the items of ``seqs`` taken together.

        The sequences (equal lengths; any sequence, iterator or generator)
        are split by :func:`~scatterpool.even_split` into one chunk per
        worker; keyword arguments as in :meth:`apply`.

        Returns:
            The results in the order of the input.

        Raises:
            ValueError: no sequence, or sequences of different lengths.
            TypeError: an argument is not a sequence (a RemoteObject goes as a keyword).
            Otherwise as :meth:`apply`: with several failing items, the lowest worker's exception.
        """
        self._check_open("map")
        sequences, length = map_sequences(seqs)
        return self._call("map", function, None, (), kwargs, sequences, length)  # type: ignore[no-any-return]

    # -- the transport: what a pool provides -------------------------------
    @property
    def uid(self) -> int:
        """Unique among the pools of this process."""
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        """Whether the pool was closed."""
        raise NotImplementedError

    def _check_open(self, what: str) -> None:
        """Raises PoolClosedError when closed, ReentrantCallError inside one of the pool's functions."""
        raise NotImplementedError

    def _push_shared(self, key: str, obj: Any) -> RemoteObject:
        """Shares an immutable ``obj`` under ``key``: sent once, counted."""
        raise NotImplementedError

    def _push_copies(self, obj: Any) -> RemoteObject:
        """Gives every worker a copy of ``obj``."""
        raise NotImplementedError

    def _scatter_rows(self, parts: ArrayParts, copy: bool) -> RemoteObject:
        """Gives worker ``i`` rows ``offsets[i]:offsets[i+1]`` of ``parts.rows``, as ``parts.wrap`` makes them."""
        raise NotImplementedError

    def _scatter_chunks(self, items: list[Any], offsets: list[int]) -> RemoteObject:
        """Gives worker ``i`` the list ``items[offsets[i]:offsets[i+1]]``."""
        raise NotImplementedError

    def _call(
        self,
        kind: str,
        function: Callable[..., Any],
        worker: int | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        seqs: tuple[Any, ...] | None,
        length: int,
    ) -> Any:
        """Runs an ``apply``, ``apply_only`` (on ``worker``) or ``map`` (over ``seqs`` of ``length``) call."""
        raise NotImplementedError

    def _close_transport(self) -> None:
        """Stops the workers and frees every remote object (called once, by close())."""
        raise NotImplementedError

    def _after_fork_in_child(self) -> None:
        """In a forked child: make the inherited pool refuse work (its workers are not there)."""

    def _registry_size(self) -> int:
        """The number of live remote objects (for tests of leaks)."""
        raise NotImplementedError


@atexit.register
def _close_live_pools() -> None:
    # Join the workers while the interpreter still runs (as concurrent.futures
    # does): a pool that was never closed must not hang exit.
    for pool in list(_live_pools):
        try:
            pool.close()
        except Exception as error:  # exit goes on; what closing reported is not lost
            sys.stderr.write(f"scatterpool: closing {pool!r} at exit: {type(error).__name__}: {error}\n")


def _abandon_pools_in_child() -> None:
    for pool in list(_live_pools):
        pool._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_abandon_pools_in_child)
