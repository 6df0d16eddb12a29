"""The pyMOR face of a pool: handles that are pyMOR's too, ``task_label`` taken and not passed on.

:class:`PymorFacing` comes before a pool class in the bases of a pyMOR-facing
pool, so that ``super()`` is the pool's own method (the core's C method for
DummyPool and ThreadPool); :class:`PymorPool` puts the same face on a pool it
holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ._handles import RemoteObject

__all__ = ["PymorFacing", "PymorPool"]


_adopt = RemoteObject.adopt


class PymorFacing:
    """Handles are :class:`~scatterpool.pymor.RemoteObject`; ``task_label`` (pyMOR's progress bar label) is dropped.

    The pool's own handle moves into the pyMOR-facing one (``RemoteObject.adopt``);
    handles go to the pool as they are (they are scatterpool's handles).
    """

    def push(self, obj: Any, /) -> RemoteObject:
        return _adopt(super().push(obj))  # type: ignore[misc]

    def scatter_array(self, U: Any, /, copy: bool = True) -> RemoteObject:
        return _adopt(super().scatter_array(U, copy=copy))  # type: ignore[misc]

    def scatter_list(self, l: Sequence[Any], /) -> RemoteObject:  # noqa: E741 (pyMOR's name)
        return _adopt(super().scatter_list(l))  # type: ignore[misc]

    def apply(self, function: Callable[..., Any], /, *args: Any, task_label: Any = None, **kwargs: Any) -> list[Any]:
        return super().apply(function, *args, **kwargs)  # type: ignore[misc, no-any-return]

    def apply_only(
        self, function: Callable[..., Any], worker: int, /, *args: Any, task_label: Any = None, **kwargs: Any
    ) -> Any:
        return super().apply_only(function, worker, *args, **kwargs)  # type: ignore[misc]

    def map(self, function: Callable[..., Any], /, *seqs: Any, task_label: Any = None, **kwargs: Any) -> list[Any]:
        return super().map(function, *seqs, **kwargs)  # type: ignore[misc, no-any-return]


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


class PymorPool(PymorFacing, _Delegating):
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

    def __enter__(self) -> PymorPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.pool.close()

    def __repr__(self) -> str:
        return f"PymorPool({self.pool!r})"
