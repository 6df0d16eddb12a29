"""Immutable objects, and the copies workers get of everything else."""

from __future__ import annotations

import copy
import itertools
import threading
import types
from typing import Any

import numpy as np

__all__ = ["Immutable", "is_immutable", "push_values", "shared_key", "worker_copies"]

_uids = itertools.count(1)
_uid_lock = threading.Lock()


class Immutable:
    """Base class of objects that never change after construction.

    A pool does not copy an ``Immutable``: pushing one sends it once, and
    pushing it again returns a counted handle to the copy already there. Each
    instance gets a unique integer ``uid`` when it is made.
    """

    __slots__ = ("uid",)
    uid: int

    def __new__(cls, *args: Any, **kwargs: Any) -> "Immutable":
        obj = super().__new__(cls)
        with _uid_lock:
            uid = next(_uids)
        object.__setattr__(obj, "uid", uid)
        return obj


_SHARED_TYPES = frozenset(
    {int, float, complex, bool, str, bytes, type(None), range, type(Ellipsis), type(NotImplemented),
     types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type, slice}
)
# Whether instances of a type are immutable in the sense of scatterpool
# (Immutable, or pyMOR's ImmutableObject); answered once per type.
_immutable_type_cache: dict[type, bool] = {}


def _is_immutable_type(cls: type) -> bool:
    known = _immutable_type_cache.get(cls)
    if known is None:
        known = issubclass(cls, Immutable) or any(
            base.__name__ == "ImmutableObject" and base.__module__ == "pymor.core.base" for base in cls.__mro__
        )
        _immutable_type_cache[cls] = known
    return known


def is_immutable(obj: object) -> bool:
    """Whether ``obj`` is an :class:`Immutable` or a pyMOR ``ImmutableObject``.

    pyMOR's class is recognised by name and module, so pyMOR need not be
    imported (or installed).
    """
    return _is_immutable_type(type(obj))


def _shareable(obj: object) -> bool:
    cls = type(obj)
    if cls in _SHARED_TYPES or _is_immutable_type(cls):
        return True
    if cls is tuple or cls is frozenset:
        return all(_shareable(item) for item in obj)  # type: ignore[attr-defined]
    if cls is np.ndarray:
        return not obj.flags.writeable  # type: ignore[attr-defined]
    return False


def worker_copies(obj: object, n: int) -> list[object] | None:
    """The arguments ``n`` workers running at once get for ``obj``.

    ``None`` when they may share it (immutable builtins, ``Immutable``
    objects, read-only NumPy arrays); otherwise ``obj`` for worker 0 and a
    deep copy for each other worker, so that a function that mutates its
    argument (pyMOR's reductors cache in place) cannot race with itself.
    """
    if _shareable(obj):
        return None
    try:
        return [obj] + [copy.deepcopy(obj) for _ in range(n - 1)]
    except Exception as error:
        raise TypeError(
            f"a ThreadPool gives each worker its own deep copy of a mutable argument, and this "
            f"{type(obj).__name__} cannot be copied ({error}); push it once and pass the RemoteObject, "
            f"or make it an Immutable"
        ) from error


def shared_key(obj: object) -> str:
    """The registry key of an immutable object: ``str(obj.uid)``.

    :class:`Immutable` uids are decimal numbers and pyMOR's begin with its
    session's UUID, so no two immutable objects share a key.
    """
    return str(obj.uid)  # type: ignore[attr-defined]


def push_values(obj: object, n: int) -> str | list[object]:
    """How a pool of ``n`` workers stores a pushed ``obj``.

    The registry key of an immutable object, which is sent once and counted;
    otherwise one deep copy per worker, so that what one worker changes no
    other sees.
    """
    cls = type(obj)
    immutable = _immutable_type_cache.get(cls)  # inlined _is_immutable_type: push is a hot path
    if immutable is None:
        immutable = _is_immutable_type(cls)
    if immutable:
        return str(obj.uid)  # type: ignore[attr-defined]
    deepcopy = copy.deepcopy
    return [deepcopy(obj) for _ in range(n)]
