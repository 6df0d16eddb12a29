"""RemoteObjectManager: removes many remote objects at once."""

from __future__ import annotations

from typing import TypeVar

from ._core import RemoteObject

__all__ = ["RemoteObjectManager"]

R = TypeVar("R", bound=RemoteObject)


class RemoteObjectManager:
    """Collects RemoteObjects and removes them all when its ``with`` block ends.

    >>> with RemoteObjectManager() as rom:
    ...     U = rom.manage(pool.scatter_array(A))   # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._objects: list[RemoteObject] = []

    def __enter__(self) -> RemoteObjectManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove_objects()

    def manage(self, remote_object: R) -> R:
        """Takes ``remote_object`` into care and returns it."""
        if not isinstance(remote_object, RemoteObject):
            raise TypeError(f"manage takes a RemoteObject, got {type(remote_object).__name__}")
        self._objects.append(remote_object)
        return remote_object

    def remove_objects(self) -> None:
        """Removes every managed object (each on every worker)."""
        objects, self._objects = self._objects, []
        for remote_object in objects:
            remote_object.remove()
