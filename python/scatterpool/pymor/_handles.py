"""RemoteObject: pyMOR's handle type around scatterpool's handle."""

from __future__ import annotations

from typing import Any

from pymor.parallel.interface import RemoteObject as _PymorRemoteObject

from .. import _core

__all__ = ["RemoteObject", "held_args", "held_kwargs"]


class RemoteObject(_PymorRemoteObject):  # type: ignore[misc]  # pyMOR has no type information
    """A handle of a pyMOR-facing pool: pyMOR's ``RemoteObject`` around scatterpool's.

    scatterpool's handle type is the compiled core's own (the pools look it up
    by its exact type on every call), so it cannot be a subclass of pyMOR's;
    this handle holds it instead (:attr:`handle`), and the pools of
    :mod:`scatterpool.pymor` hand the held handle on. Removing this handle,
    leaving its ``with`` block, or dropping its last reference removes the
    held one.
    """

    def __init__(self, handle: _core.RemoteObject) -> None:
        self.handle = handle

    @property
    def removed(self) -> bool:
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
        # pyMOR's RemoteObject calls remove() here; the held handle frees the
        # object itself when it is collected (also at interpreter exit, where
        # a remove() could fail)
        pass

    def __repr__(self) -> str:
        return f"<scatterpool.pymor.RemoteObject {self.handle.id}{' (removed)' if self.handle.removed else ''}>"


def _held(value: Any) -> Any:
    return value.handle if isinstance(value, RemoteObject) else value


def held_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with each :class:`RemoteObject` replaced by scatterpool's handle it holds (``kwargs`` if none)."""
    for value in kwargs.values():
        if isinstance(value, RemoteObject):
            return {k: _held(v) for k, v in kwargs.items()}
    return kwargs


def held_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args`` with each :class:`RemoteObject` replaced by scatterpool's handle it holds (``args`` if none)."""
    for value in args:
        if isinstance(value, RemoteObject):
            return tuple(_held(v) for v in args)
    return args
