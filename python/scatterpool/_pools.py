"""DummyPool and ThreadPool: the core's pools behind the front end.

Their transport is the C++ core: the registry holds every worker's objects in
this process, and the C methods ``apply``, ``apply_only``, ``map``, ``push``
and ``scatter_list`` (first in the method resolution order) are the per-call
hot path.
"""

from __future__ import annotations

import os

import numpy as np

from . import _context, _core
from ._arrays import ArrayParts
from ._base import WorkerPool, merge_worker_errors
from ._core import RemoteObject, VectorArray
from ._immutable import immutable_types, push_values, worker_copies

__all__ = ["DummyPool", "ThreadPool", "dummy_pool"]

# the C methods keep the same rules by calling back into these
_core._set_hooks(worker_copies, push_values, merge_worker_errors, immutable_types)


class _CorePool(_core.Pool, WorkerPool):
    """The transport shared by DummyPool and ThreadPool: the core's registry and workers."""

    def _check_open(self, what: str = "") -> None:
        _core.Pool._check_open(self)  # the core's messages name no call

    def _close_transport(self) -> None:
        _core.Pool._close_workers(self)

    def _scatter_rows(self, parts: ArrayParts, copy: bool) -> RemoteObject:
        registry = self.registry
        if parts.kind == "va":
            return registry.put(self._partition(parts.source, copy))
        rows = parts.rows
        if not copy or parts.converted:
            # views of U (or of the converted copy, which is the parts' own memory)
            offsets = _core.even_split(rows.shape[0], len(self))
            return registry.put([parts.wrap(rows[offsets[i] : offsets[i + 1]]) for i in range(len(self))])
        try:
            pieces = self._partition(VectorArray.from_numpy(rows, copy=False), True)
        except ValueError:
            # a layout the core cannot view (Fortran order, a transpose, negative or zero strides):
            # one copy in C order, whose disjoint row ranges are then the workers' own parts
            pieces = self._partition(VectorArray.from_numpy(np.ascontiguousarray(rows), copy=False), False)
        return registry.put([parts.wrap(piece.to_numpy()) for piece in pieces])

    def _registry_size(self) -> int:
        return len(self.registry)


class DummyPool(_core.DummyPool, _CorePool):
    """One worker that runs every call in the caller's thread, as pyMOR's ``DummyPool``.

    ``bool(pool)`` is ``False``, so that pyMOR's algorithms take their serial
    path. Arguments are passed as they are, without copies.

    Args:
        seed: seeds :func:`~scatterpool.worker_rng`.
    """

    def __init__(self, seed: int = 0) -> None:
        _core.DummyPool.__init__(self)
        self._init_front_end(1, seed)

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"DummyPool({'closed' if self.closed else 'open'})"


class _SharedDummyPool(DummyPool):
    """The module's ``dummy_pool``: shared by everybody, so ``with`` and ``close()`` leave it open."""

    def __exit__(self, *exc_info: object) -> None:
        pass

    def close(self) -> None:
        """Does nothing: the shared pool lives as long as the process (remove its objects instead)."""

    def __repr__(self) -> str:
        return "dummy_pool"


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ThreadPool(_core.ThreadPool, _CorePool):
    """``num_workers`` workers on persistent C++ threads.

    Worker 0 is the calling thread, which runs its share of every call while
    the other threads run theirs; the GIL is released while the caller waits
    and taken by a worker only to call Python, so functions that release it
    (NumPy on large arrays) run in parallel.

    Args:
        num_workers: default: the CPUs this process may use.
        seed: seeds :func:`~scatterpool.worker_rng` on each worker.
        spin_us: how long idle threads poll for work before sleeping;
            default: 50 µs when the threads fit on the CPUs, else 0.

    After ``os.fork()`` the child has none of the pool's threads: there the
    pool is closed (calls raise :class:`PoolClosedError`); make a new one.
    """

    def __init__(self, num_workers: int | None = None, seed: int = 0, spin_us: int = -1) -> None:
        if num_workers is None:
            num_workers = _default_workers()
        if isinstance(num_workers, bool) or not isinstance(num_workers, int):
            raise TypeError(f"num_workers must be an int, got {type(num_workers).__name__}")
        if num_workers <= 0:
            raise ValueError(f"ThreadPool needs at least 1 worker, got {num_workers}")
        _core.ThreadPool.__init__(self, num_workers, spin_us)
        self._init_front_end(num_workers, seed)

    def _after_fork_in_child(self) -> None:
        self._abandon_after_fork()
        _context.forget_pool(self.uid)

    def __repr__(self) -> str:
        return f"ThreadPool({len(self)}{', closed' if self.closed else ''})"


dummy_pool: DummyPool = _SharedDummyPool()
"""A DummyPool shared by the whole process; ``with dummy_pool as pool:`` leaves it open."""
