"""scatterpool's pools for pyMOR's algorithms: change the import, nothing else.

pyMOR's algorithms that take a ``pool=`` (``rb_greedy``, ``ei_greedy``,
``interpolate_operators``, ``reduction_error_analysis``, ...) talk to it
through pyMOR's ``WorkerPool`` interface. Two things there differ from
scatterpool's own pools, and the pools of this module bridge them:

* pyMOR tells its own handles apart with
  ``isinstance(x, pymor.parallel.interface.RemoteObject)``; the pools here
  return :class:`RemoteObject`, a subclass of both scatterpool's
  :class:`~scatterpool.RemoteObject` and pyMOR's ``RemoteObject``: pyMOR
  recognises it, and every pool takes it as it takes its own handles;
* pyMOR passes ``task_label=`` (the label of a progress bar) to ``map``;
  ``apply``, ``apply_only`` and ``map`` here take it and do not pass it on
  to the function.

Everything else is scatterpool's contract: the even split, per-worker copies
of mutable arguments on threads, immutable objects (pyMOR's
``ImmutableObject``: models, operators) sent once per ``uid`` and counted,
a handle dropped without ``remove()`` freed. ::

    from scatterpool.pymor import ThreadPool      # instead of pymor.parallel's pools

    with ThreadPool(2) as pool:
        data = rb_greedy(fom, reductor, training_set, pool=pool, max_extensions=10)

:class:`DummyPool`, :class:`ThreadPool` and :class:`MPIPool` are
scatterpool's pools with this face (instances of both scatterpool's class
and pyMOR's ``WorkerPool``); :class:`PymorPool` gives it to any scatterpool
pool, and :func:`new_parallel_pool` is :func:`scatterpool.new_pool` with it.

Importing this module imports pyMOR (which imports mpi4py where it is
installed) and registers the pickling fixes of :mod:`scatterpool.pymor._pickling`
for pyMOR objects that travel to other processes; scatterpool alone never
imports pyMOR. ``MPIPool`` loads scatterpool's MPI pool when it is first
asked for.
"""

from __future__ import annotations

from typing import Any

try:
    from pymor.parallel.interface import WorkerPool as _PymorWorkerPool
except ImportError as _error:
    raise ImportError(
        "scatterpool.pymor makes scatterpool's pools usable by pyMOR's algorithms and needs pyMOR: "
        "pip install 'scatterpool[pymor]'"
    ) from _error

from .. import _pools
from .._default import choose_pool, make_chosen_pool
from . import _pickling
from ._face import PymorFacing as _PymorFacing
from ._face import PymorPool
from ._handles import RemoteObject

__all__ = ["DummyPool", "MPIPool", "PymorPool", "RemoteObject", "ThreadPool", "new_parallel_pool"]

_pickling.register()


class DummyPool(_PymorFacing, _pools.DummyPool):
    """scatterpool's :class:`~scatterpool.DummyPool` with pyMOR's face (``bool(pool)`` is ``False``, as pyMOR's)."""

    def __repr__(self) -> str:
        return f"scatterpool.pymor.{super().__repr__()}"


class ThreadPool(_PymorFacing, _pools.ThreadPool):
    """scatterpool's :class:`~scatterpool.ThreadPool` with pyMOR's face (same arguments)."""

    def __repr__(self) -> str:
        return f"scatterpool.pymor.{super().__repr__()}"


for _cls in (DummyPool, ThreadPool, PymorPool):
    _PymorWorkerPool.register(_cls)


def _mpi_pool_class() -> type:
    from ..mpi import _pool

    # typed as Any: the face's positional-only signatures are checked against the other pools
    mpi_pool: Any = _pool.MPIPool

    class MPIPool(_PymorFacing, mpi_pool):  # type: ignore[misc]
        """``scatterpool.mpi.MPIPool`` with pyMOR's face (same arguments; start with ``python -m scatterpool.mpi``)."""

        def __repr__(self) -> str:
            return f"scatterpool.pymor.{super().__repr__()}"

        @classmethod
        def spawn(cls, num_workers: int, seed: int = 0, timeout: float | None = None) -> Any:
            """``scatterpool.mpi.MPIPool.spawn`` with pyMOR's face: workers started by this process, no mpiexec."""
            return _spawned_pool_class()(num_workers, seed=seed, timeout=timeout)

    MPIPool.__module__ = __name__
    MPIPool.__qualname__ = "MPIPool"
    _PymorWorkerPool.register(MPIPool)
    return MPIPool


def _spawned_pool_class() -> type:
    from ..mpi import _spawn

    spawned: Any = _spawn.SpawnedMPIPool

    class SpawnedMPIPool(_PymorFacing, spawned):  # type: ignore[misc]
        def __repr__(self) -> str:
            return f"scatterpool.pymor.{super().__repr__()}"

    SpawnedMPIPool.__module__ = __name__
    _PymorWorkerPool.register(SpawnedMPIPool)
    return SpawnedMPIPool


def __getattr__(name: str) -> Any:
    # MPIPool loads scatterpool.mpi's pool only when asked for
    if name == "MPIPool":
        cls = _mpi_pool_class()
        globals()["MPIPool"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def new_parallel_pool(*, seed: int = 0) -> Any:
    """:func:`scatterpool.new_pool` with pyMOR's face: pyMOR's ``new_parallel_pool`` for scatterpool.

    An :class:`MPIPool` under ``mpiexec -n K python -m scatterpool.mpi`` with
    ``K > 1``, else a :class:`ThreadPool` of the CPUs this process may use;
    ``SCATTERPOOL_POOL=dummy|threads|threads:N|mpi|mpi-spawn:N`` overrides the
    choice (``mpi-spawn:N``: ``MPIPool.spawn(N)``, with pyMOR's face).
    Unlike pyMOR's, every call makes a new pool (close it when done).

    Raises:
        ValueError: ``SCATTERPOOL_POOL`` holds another value (the message names the accepted ones).
    """

    def mpi_pool(seed: int) -> Any:
        return __getattr__("MPIPool")(seed=seed)

    def mpi_spawn_pool(num_workers: int, seed: int) -> Any:
        return __getattr__("MPIPool").spawn(num_workers, seed=seed)

    return make_chosen_pool(choose_pool(), DummyPool, ThreadPool, mpi_pool, seed, mpi_spawn_pool)
