"""Immutable objects, and the copies workers get of everything else."""

from __future__ import annotations

import copy
import itertools
import os
import threading
import types
from typing import Any

import numpy as np

__all__ = [
    "Immutable",
    "immutable_types",
    "is_immutable",
    "items_shareable",
    "push_values",
    "shared_key",
    "worker_copies",
]


def _new_token() -> int:
    return int.from_bytes(os.urandom(8), "little")


# A uid is this process's random token (high bits) and a counter (low bits):
# unique across processes and runs, so that an Immutable unpickled from
# elsewhere (or returned by an MPI rank) is never taken for one made here.
_UID_COUNTER_BITS = 64
_token = _new_token()
_counter = itertools.count(1)
_uid_lock = threading.Lock()


def _renew_token_in_child() -> None:
    # A forked child starts with its parent's token and counter: it needs its own.
    global _token, _counter, _uid_lock
    _token = _new_token()
    _counter = itertools.count(1)
    _uid_lock = threading.Lock()  # another thread may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_token_in_child)


def _next_uid() -> int:
    with _uid_lock:
        return (_token << _UID_COUNTER_BITS) | next(_counter)


class Immutable:
    """Base class of objects that never change after construction.

    A pool does not copy an ``Immutable``: pushing one sends it once, and
    pushing it again returns a counted handle to the copy already there; as
    an argument it is shared by the workers of a pool in this process. Each
    instance gets an integer ``uid`` when it is made, unique across processes
    and runs; a pickled and loaded ``Immutable`` keeps its ``uid`` (it is the
    same value).
    """

    __slots__ = ("uid", "_shared_key")
    uid: int
    _shared_key: str  # str(uid), made once: push looks it up on every call

    def __new__(cls, *args: Any, **kwargs: Any) -> Immutable:
        obj = super().__new__(cls)
        uid = _next_uid()
        object.__setattr__(obj, "uid", uid)
        object.__setattr__(obj, "_shared_key", str(uid))
        return obj

    def __copy__(self) -> Immutable:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Immutable:
        return self  # it never changes: a copy would be the same value


_SHARED_TYPES = frozenset(
    {int, float, complex, bool, str, bytes, type(None), range, type(Ellipsis), type(NotImplemented),
     types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type, slice}
)
# Whether instances of a type are immutable in the sense of scatterpool
# (Immutable, or pyMOR's ImmutableObject); answered once per type. The core's
# copy decision reads it too (its hot path shares the instances of a type
# found True here without calling back into Python).
immutable_types: dict[type, bool] = {}


def _is_immutable_type(cls: type) -> bool:
    known = immutable_types.get(cls)
    if known is None:
        known = issubclass(cls, Immutable) or any(
            base.__name__ == "ImmutableObject" and base.__module__ == "pymor.core.base" for base in cls.__mro__
        )
        immutable_types[cls] = known
    return known


def is_immutable(obj: object) -> bool:
    """Whether ``obj`` is an :class:`Immutable` or a pyMOR ``ImmutableObject``.

    pyMOR's class is recognised by name and module, so pyMOR need not be
    imported (or installed).
    """
    return _is_immutable_type(type(obj))


def _shareable(obj: object) -> bool:
    # Whether the workers of a pool may all get obj itself rather than copies: immutable builtins (and
    # tuples and frozensets of them), Immutables and pyMOR ImmutableObjects, read-only NumPy arrays of any
    # ndarray subclass.
    cls = type(obj)
    if cls in _SHARED_TYPES or _is_immutable_type(cls):
        return True
    if cls is tuple or cls is frozenset:
        return all(_shareable(item) for item in obj)  # type: ignore[attr-defined]
    if isinstance(obj, np.ndarray):  # subclasses too: a read-only np.memmap is shared
        return not obj.flags.writeable
    return False


def items_shareable(items: Any) -> bool:
    """Whether every item of a sequence (a chunk of a ``map``) may be shared, as for an argument.

    Decided by the items' types first (at C speed: a map's items are mostly
    numbers or strings), item by item only where a type alone does not say.
    """
    if type(items) is range:
        return True
    kinds = set(map(type, items))
    if all(k in _SHARED_TYPES or issubclass(k, np.generic) or _is_immutable_type(k) for k in kinds):
        return True
    return all(_shareable(item) for item in items)


def worker_copies(values: tuple[Any, ...], n: int) -> list[tuple[Any, ...]] | None:
    """The copies of one call's plain arguments that ``n`` workers get.

    ``None`` when every value may be shared (immutable builtins,
    :class:`Immutable` objects, read-only NumPy arrays); otherwise ``n``
    deep copies of ``values``, each made with one memo, so that the
    arguments of a call stay one object graph on each worker (two arguments
    that share a part still share it), as a pickle of the call keeps them.
    The shareable values are not copied, also where another argument holds
    them.
    """
    shared = [v for v in values if _shareable(v)]
    if len(shared) == len(values):
        return None
    try:
        return [copy.deepcopy(values, {id(v): v for v in shared}) for _ in range(n)]
    except Exception as error:
        raise TypeError(
            f"an argument cannot be copied for the workers ({type(error).__name__}: {error}); a pool of several "
            f"workers gives each its own copy of a mutable argument: make it an Immutable to share it, or "
            f"create it on the workers"
        ) from error


def shared_key(obj: object) -> str:
    """The registry key of an immutable object: ``str(obj.uid)``.

    :class:`Immutable` uids are unique across processes and pyMOR's begin
    with its session's UUID, so no two immutable objects share a key.
    """
    try:
        return obj._shared_key  # type: ignore[attr-defined, no-any-return]
    except AttributeError:  # pyMOR's ImmutableObject
        return str(obj.uid)  # type: ignore[attr-defined]


def push_values(obj: object, n: int) -> str | list[object]:
    """How a pool of ``n`` workers stores a pushed ``obj``.

    The registry key of an immutable object, which is sent once and counted;
    otherwise one deep copy per worker, so that what one worker changes no
    other sees.

    Raises:
        TypeError: ``obj`` cannot be copied (chained from the copy's error).
    """
    cls = type(obj)
    immutable = immutable_types.get(cls)  # inlined _is_immutable_type: push is a hot path
    if immutable is None:
        immutable = _is_immutable_type(cls)
    if immutable:
        try:
            return obj._shared_key  # type: ignore[attr-defined, no-any-return]
        except AttributeError:  # pyMOR's ImmutableObject
            return str(obj.uid)  # type: ignore[attr-defined]
    deepcopy = copy.deepcopy
    try:
        # a plain loop: a comprehension's own frame costs about as much as
        # the rest of push around a small object's copy
        copies = [deepcopy(obj)]
        for _ in range(n - 1):
            copies.append(deepcopy(obj))
        return copies
    except Exception as error:
        raise TypeError(
            f"push: this {cls.__name__} cannot be copied for the workers ({error}); make it an Immutable "
            f"to share it, or create it on the workers"
        ) from error
