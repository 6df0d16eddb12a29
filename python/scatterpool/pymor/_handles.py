"""RemoteObject: a handle that is scatterpool's and pyMOR's at once."""

from __future__ import annotations

from pymor.parallel.interface import RemoteObject as _PymorRemoteObject

from .. import _core

__all__ = ["RemoteObject"]


class RemoteObject(_core.RemoteObject, _PymorRemoteObject):  # type: ignore[misc]  # pyMOR has no type information
    """A handle of a pyMOR-facing pool: scatterpool's :class:`~scatterpool.RemoteObject` and pyMOR's ``RemoteObject``.

    Every pool takes it wherever it takes scatterpool's handles, with nothing
    to unwrap; pyMOR's algorithms recognise it as their own. ``remove()``,
    ``removed``, ``id``, ``registry`` and the ``with`` block are scatterpool's
    (they come first in the method order): removing it twice, or removing it
    and dropping it, frees the object once. The pools make it with
    ``RemoteObject.adopt(handle)`` from their own fresh handle (the object
    moves into it, uncopied and counted once); calling the class raises
    ``TypeError``.
    """

    def _remove(self) -> None:
        # pyMOR's abstract hook; scatterpool's remove() is the one called
        self.remove()

    def __del__(self) -> None:
        # pyMOR's RemoteObject calls remove() here; scatterpool's handle frees
        # the object itself when it is collected (also at interpreter exit,
        # where a call into Python could fail)
        pass

    def __repr__(self) -> str:
        return f"<scatterpool.pymor.RemoteObject {self.id}{' (removed)' if self.removed else ''}>"
