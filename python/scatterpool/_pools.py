"""The Python faces of the core pools: DummyPool and ThreadPool."""

from __future__ import annotations

import atexit
import os
import weakref
from typing import Any

import numpy as np

from . import _context, _core
from ._core import RemoteObject, VectorArray
from ._arrays import is_pymor_array
from ._immutable import push_values, worker_copies

__all__ = ["WorkerPool", "DummyPool", "ThreadPool", "dummy_pool"]

_core._set_hooks(worker_copies, push_values)
_SUPPORTED_DTYPES = frozenset(np.dtype(t) for t in (np.float32, np.float64, np.complex64, np.complex128))
_live_pools: "weakref.WeakSet[WorkerPool]" = weakref.WeakSet()


class WorkerPool(_core.Pool):
    """A pool of workers, each holding its own objects (pyMOR's ``WorkerPool`` interface).

    ``apply``, ``apply_only`` and ``map`` come from the core (see
    :class:`scatterpool._core.Pool`); this class adds what needs Python:
    deep copies, immutables, the NumPy side of ``scatter_array``.
    """

    def __init__(self, kind: str, num_workers: int = 1, spin_us: int = -1, seed: int = 0) -> None:
        super().__init__(kind, num_workers, spin_us)
        self._registry = self.registry
        self._num_workers = num_workers
        self.seed = seed
        _context.register_seed(self.uid, seed)
        _live_pools.add(self)

    def __bool__(self) -> bool:
        return True

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Close here, not in the C++ destructor: joining threads needs the
        # GIL released, which only the Python-level close() does.
        if self.__dict__.get("_registry") is None:
            return  # __init__ failed before the core pool existed
        try:
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        """Stops the workers and frees every remote object. Safe to call twice."""
        if not self.closed:
            super().close()
            _context.forget_pool(self.uid)

    def scatter_array(self, U: Any, copy: bool = True) -> RemoteObject:
        """Gives worker ``i`` rows ``offsets[i]:offsets[i+1]`` of ``U`` (``even_split``).

        ``U`` is a :class:`~scatterpool.VectorArray`, a 2-D NumPy array or a
        pyMOR ``VectorArray`` (vectors as its columns) of float32, float64,
        complex64 or complex128, and each worker gets its part as the same
        kind of array. ``copy=True`` leaves ``U`` as it was
        and gives each worker its own copy (on a ThreadPool each worker
        copies its own part, in parallel). ``copy=False`` copies nothing:
        each part is a view of ``U``'s buffer, which lives as long as any part
        does, and a ``VectorArray`` or pyMOR ``U`` is left empty (a NumPy ``U``
        cannot be emptied and is left alone).
        """
        self._check_open()
        if isinstance(U, VectorArray):
            parts = self._partition(U, copy)
            handle = self._registry.put(parts)
            if not copy:
                del U[:]
            return handle
        if isinstance(U, np.ndarray):
            if U.ndim != 2:
                raise TypeError(f"scatter_array needs a 2-D array (rows are vectors), got {U.ndim} dimensions")
            if U.dtype not in _SUPPORTED_DTYPES:
                raise TypeError(
                    f"scatter_array handles float32, float64, complex64 and complex128 arrays, not {U.dtype}"
                )
            if not copy:
                offsets = _core.even_split(U.shape[0], self._num_workers)
                return self._registry.put([U[offsets[i] : offsets[i + 1]] for i in range(self._num_workers)])
            parts = self._partition(VectorArray.from_numpy(U, copy=False), True)
            return self._registry.put([part.to_numpy() for part in parts])
        if is_pymor_array(U):
            return self._scatter_pymor(U, copy)
        raise TypeError(
            f"scatter_array takes a scatterpool.VectorArray, a 2-D numpy.ndarray or a pyMOR VectorArray, "
            f"got {type(U).__module__}.{type(U).__qualname__}"
        )

    def _scatter_pymor(self, U: Any, copy: bool) -> RemoteObject:
        # pyMOR keeps vectors as columns: to_numpy() is (dim, len), a view of U's memory for NumPy-based spaces.
        data = U.to_numpy()
        if data.dtype not in _SUPPORTED_DTYPES:
            raise TypeError(
                f"scatter_array handles float32, float64, complex64 and complex128 arrays, not {data.dtype}"
            )
        space = U.space
        if copy:
            rows = VectorArray.from_numpy(np.ascontiguousarray(data.T), copy=False)
            return self._registry.put([space.from_numpy(part.to_numpy().T) for part in self._partition(rows, True)])
        offsets = _core.even_split(data.shape[1], self._num_workers)
        handle = self._registry.put(
            [space.from_numpy(data[:, offsets[i] : offsets[i + 1]]) for i in range(self._num_workers)]
        )
        del U[:]  # pyMOR's delete builds a new (empty) array: the parts keep viewing the old memory
        return handle

    def _registry_size(self) -> int:
        """The number of live remote objects (for tests of leaks)."""
        return len(self._registry)


class DummyPool(WorkerPool):
    """One worker that runs every call in the caller's thread, as pyMOR's ``DummyPool``.

    ``bool(pool)`` is ``False``, so that pyMOR-style algorithms take their
    serial path. Arguments are passed as they are, without copies.
    """

    def __init__(self, seed: int = 0) -> None:
        super().__init__("dummy", 1, -1, seed)

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"DummyPool({'closed' if self.closed else 'open'})"


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ThreadPool(WorkerPool):
    """``num_workers`` workers on persistent C++ threads.

    Worker 0 is the calling thread, which runs its share of every call while
    the other threads run theirs; the GIL is released while the caller waits
    and taken by a worker only to call Python, so functions that release it
    (NumPy on large arrays) run in parallel. Each worker running at the same
    time as another gets its own deep copy of a mutable plain argument.

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
        super().__init__("threads", num_workers, spin_us, seed)

    def __repr__(self) -> str:
        return f"ThreadPool({len(self)}{', closed' if self.closed else ''})"


@atexit.register
def _close_live_pools() -> None:
    # Join the worker threads while the interpreter still runs (as
    # concurrent.futures does): a pool that was never closed must not hang exit.
    for pool in list(_live_pools):
        try:
            pool.close()
        except Exception:
            pass


def _abandon_thread_pools_in_child() -> None:
    # A forked child has only the thread that forked: a ThreadPool inherited
    # from the parent has no workers there. Close it without joining, so that
    # using it raises PoolClosedError instead of waiting forever.
    for pool in list(_live_pools):
        if isinstance(pool, ThreadPool):
            pool._abandon_after_fork()
            _context.forget_pool(pool.uid)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_abandon_thread_pools_in_child)

dummy_pool = DummyPool()
