"""scatterpool's pools for pyMOR's algorithms: change the import, nothing else.

pyMOR's algorithms that take a ``pool=`` (``rb_greedy``, ``ei_greedy``,
``interpolate_operators``, ``reduction_error_analysis``, ...) talk to it
through pyMOR's ``WorkerPool`` interface. Two things there differ from
scatterpool's own pools, and the pools of this module bridge them:

* pyMOR tells its own handles apart with
  ``isinstance(x, pymor.parallel.interface.RemoteObject)``; the pools here
  return :class:`RemoteObject`, a pyMOR ``RemoteObject`` that holds
  scatterpool's handle (its :attr:`~RemoteObject.handle`) and is accepted,
  like scatterpool's handle itself, wherever a pool of this module takes one;
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
scatterpool's pools with this face (``isinstance`` of both scatterpool's
class and pyMOR's ``WorkerPool``); :class:`PymorPool` gives it to any
scatterpool pool, and :func:`new_parallel_pool` is :func:`scatterpool.new_pool`
with it. Importing this module imports pyMOR (which imports mpi4py where it is
installed); scatterpool alone never does. ``MPIPool`` loads scatterpool's MPI
pool when it is first asked for.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from pymor.parallel.interface import RemoteObject as _PymorRemoteObject
from pymor.parallel.interface import WorkerPool as _PymorWorkerPool

from . import _core
from . import _pools
from ._default import choose_pool, make_chosen_pool

__all__ = ["DummyPool", "MPIPool", "PymorPool", "RemoteObject", "ThreadPool", "new_parallel_pool"]


class RemoteObject(_PymorRemoteObject):
    """A handle of a pyMOR-facing pool: pyMOR's ``RemoteObject`` around scatterpool's.

    scatterpool's handle type is the compiled core's own (the pools look it up
    by its exact type on every call), so it cannot be a subclass of pyMOR's;
    this handle holds it instead, and the pools of this module hand the held
    handle on. Removing this handle, leaving its ``with`` block, or dropping
    its last reference removes the held one.
    """

    def __init__(self, handle: _core.RemoteObject) -> None:
        self.handle = handle

    @property
    def removed(self) -> bool:  # type: ignore[override]
        """Whether ``remove()`` was called."""
        return self.handle.removed

    @property
    def id(self) -> int:
        """The object's id in its pool's registry."""
        return self.handle.id

    def remove(self) -> None:
        """Frees the object on every worker (an immutable one once its last handle is removed). Safe to call twice."""
        self.handle.remove()

    def _remove(self) -> None:
        self.handle.remove()

    def __del__(self) -> None:
        # pyMOR's RemoteObject removes itself here; the held handle does the same when it is collected
        pass

    def __repr__(self) -> str:
        return f"<scatterpool.pymor.RemoteObject {self.handle.id}{' (removed)' if self.handle.removed else ''}>"


def _held(value: Any) -> Any:
    return value.handle if isinstance(value, RemoteObject) else value


def _held_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    for value in kwargs.values():
        if isinstance(value, RemoteObject):
            return {k: _held(v) for k, v in kwargs.items()}
    return kwargs


def _held_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    for value in args:
        if isinstance(value, RemoteObject):
            return tuple(_held(v) for v in args)
    return args


class _PymorFacing:
    """The pyMOR face of a pool: handles are :class:`RemoteObject`, ``task_label`` is taken, not passed on.

    Comes before a pool class in the bases, so ``super()`` is the pool's own
    method (the core's C method for DummyPool and ThreadPool).
    """

    def push(self, obj: Any, /) -> RemoteObject:
        return RemoteObject(super().push(obj))  # type: ignore[misc]

    def scatter_array(self, U: Any, /, copy: bool = True) -> RemoteObject:
        return RemoteObject(super().scatter_array(U, copy=copy))  # type: ignore[misc]

    def scatter_list(self, l: Sequence[Any], /) -> RemoteObject:  # noqa: E741 (pyMOR's name)
        return RemoteObject(super().scatter_list(l))  # type: ignore[misc]

    def apply(self, function: Callable[..., Any], /, *args: Any, task_label: Any = None, **kwargs: Any) -> list[Any]:
        if args:
            args = _held_args(args)
        if kwargs:
            kwargs = _held_kwargs(kwargs)
        return super().apply(function, *args, **kwargs)  # type: ignore[misc, no-any-return]

    def apply_only(
        self, function: Callable[..., Any], worker: int, /, *args: Any, task_label: Any = None, **kwargs: Any
    ) -> Any:
        if args:
            args = _held_args(args)
        if kwargs:
            kwargs = _held_kwargs(kwargs)
        return super().apply_only(function, worker, *args, **kwargs)  # type: ignore[misc]

    def map(self, function: Callable[..., Any], /, *seqs: Any, task_label: Any = None, **kwargs: Any) -> list[Any]:
        if kwargs:
            kwargs = _held_kwargs(kwargs)
        return super().map(function, *_held_args(seqs), **kwargs)  # type: ignore[misc, no-any-return]


class DummyPool(_PymorFacing, _pools.DummyPool):
    """scatterpool's :class:`~scatterpool.DummyPool` with pyMOR's face (``bool(pool)`` is ``False``, as pyMOR's)."""

    def __repr__(self) -> str:
        return f"scatterpool.pymor.{super().__repr__()}"


class ThreadPool(_PymorFacing, _pools.ThreadPool):
    """scatterpool's :class:`~scatterpool.ThreadPool` with pyMOR's face (same arguments)."""

    def __repr__(self) -> str:
        return f"scatterpool.pymor.{super().__repr__()}"


class _Delegating:
    """Forwards a pool's interface to the pool it holds."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def push(self, obj: Any, /) -> Any:
        return self.pool.push(obj)

    def scatter_array(self, U: Any, /, copy: bool = True) -> Any:
        return self.pool.scatter_array(U, copy=copy)

    def scatter_list(self, l: Sequence[Any], /) -> Any:  # noqa: E741 (pyMOR's name)
        return self.pool.scatter_list(l)

    def apply(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> list[Any]:
        return self.pool.apply(function, *args, **kwargs)  # type: ignore[no-any-return]

    def apply_only(self, function: Callable[..., Any], worker: int, /, *args: Any, **kwargs: Any) -> Any:
        return self.pool.apply_only(function, worker, *args, **kwargs)

    def map(self, function: Callable[..., Any], /, *seqs: Any, **kwargs: Any) -> list[Any]:
        return self.pool.map(function, *seqs, **kwargs)  # type: ignore[no-any-return]


class PymorPool(_PymorFacing, _Delegating):
    """Any scatterpool pool with pyMOR's face: ``PymorPool(pool)``.

    The wrapper holds ``pool`` (its :attr:`pool`): its length, truth value,
    ``uid`` and ``closed`` are the pool's; ``close()`` and the end of a
    ``with`` block close the pool.
    """

    pool: Any

    def __len__(self) -> int:
        return len(self.pool)

    def __bool__(self) -> bool:
        return bool(self.pool)

    @property
    def uid(self) -> int:
        return self.pool.uid  # type: ignore[no-any-return]

    @property
    def closed(self) -> bool:
        return self.pool.closed  # type: ignore[no-any-return]

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> "PymorPool":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.pool.close()

    def __repr__(self) -> str:
        return f"PymorPool({self.pool!r})"


for _cls in (DummyPool, ThreadPool, PymorPool):
    _PymorWorkerPool.register(_cls)


def _mpi_pool_class() -> type:
    from .mpi import MPIPool as _MPIPool

    class MPIPool(_PymorFacing, _MPIPool):
        """``scatterpool.mpi.MPIPool`` with pyMOR's face (same arguments; start with ``python -m scatterpool.mpi``)."""

        def __repr__(self) -> str:
            return f"scatterpool.pymor.{super().__repr__()}"

    MPIPool.__module__ = __name__
    _PymorWorkerPool.register(MPIPool)
    return MPIPool


def __getattr__(name: str) -> Any:
    # MPIPool imports scatterpool.mpi's pool (and, once made, mpi4py) only when asked for
    if name == "MPIPool":
        cls = _mpi_pool_class()
        globals()["MPIPool"] = cls
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def new_parallel_pool(*, seed: int = 0) -> Any:
    """:func:`scatterpool.new_pool` with pyMOR's face: pyMOR's ``new_parallel_pool`` for scatterpool.

    An :class:`MPIPool` under ``mpiexec -n K python -m scatterpool.mpi`` with
    ``K > 1``, else a :class:`ThreadPool` of the CPUs this process may use;
    ``SCATTERPOOL_POOL=dummy|threads|threads:N|mpi`` overrides the choice.
    Unlike pyMOR's, every call makes a new pool (close it when done).

    Raises:
        ValueError: ``SCATTERPOOL_POOL`` holds another value (the message names the accepted ones).
    """

    def mpi_pool(seed: int) -> Any:
        return __getattr__("MPIPool")(seed=seed)

    return make_chosen_pool(choose_pool(), DummyPool, ThreadPool, mpi_pool, seed)
