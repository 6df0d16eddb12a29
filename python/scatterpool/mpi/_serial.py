"""How objects, functions and exceptions travel between MPI ranks.

* Data: the standard pickle (protocol 5). Large contiguous buffers (NumPy
  arrays) can be taken out of band and sent as raw memory. Only when plain
  pickle cannot rebuild an object on another rank (it refers to the script,
  ``__main__``, which the worker ranks do not run, or to a lambda or a local
  function) is it pickled with cloudpickle, which sends such functions and
  classes by value. Array data stays out of cloudpickle's way either way.
* Immutable objects the workers hold already (pushed, counted by ``uid``)
  inside a pushed object or an argument: sent as a reference to the
  workers' own copy, not pickled again (see :func:`dumps_sharing`).
* Functions: sent once per call, or only once per rank when the function's
  pickled form cannot change between calls (see :class:`FunctionCache`).
* Exceptions: the exception object when it pickles, else its type name and
  message, always with the remote traceback text.
"""

from __future__ import annotations

import io
import pickle
import threading
import traceback
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from .._immutable import immutable_types, is_immutable, shared_key
from ._protocol import FunctionRef, PackedError

__all__ = [
    "SendError", "dumps", "dumps_sharing", "loads", "FunctionCache", "pack_exception", "unpack_exception", "RemoteError"
]

PROTOCOL = 5
_MAIN = b"__main__"


class SendError(TypeError):
    """An argument or object cannot be pickled to be sent to the MPI ranks."""


class RemoteError(RuntimeError):
    """An exception on a worker rank that could not be rebuilt on rank 0 as itself."""


class RemoteTraceback(Exception):
    """The traceback text of an exception raised on another MPI rank (set as ``__cause__``)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


_cloudpickle: Any = None


def _cloud() -> Any:
    global _cloudpickle
    if _cloudpickle is None:
        try:
            import cloudpickle
        except ImportError as error:
            raise ImportError(
                "scatterpool.mpi sends functions defined in the script, lambdas and closures with "
                "cloudpickle: pip install cloudpickle (part of scatterpool[mpi])"
            ) from error
        _cloudpickle = cloudpickle
    return _cloudpickle


def dumps(obj: Any, buffers: list[pickle.PickleBuffer] | None = None, out_of_band: int = 1 << 20) -> bytes:
    """Pickles ``obj`` so that any rank can load it.

    With ``buffers`` given, each contiguous buffer of at least ``out_of_band``
    bytes is appended to it instead of being copied into the pickle.
    """
    callback = None if buffers is None else _keep_large(buffers, out_of_band)

    start = len(buffers) if buffers is not None else 0
    try:
        data = pickle.dumps(obj, PROTOCOL, buffer_callback=callback)
        if _MAIN not in data:
            return data
    except Exception:
        pass
    # Refers to __main__, a lambda or a local object: the other ranks need it by value.
    if buffers is not None:
        del buffers[start:]
    by_value: bytes = _cloud().dumps(obj, protocol=PROTOCOL, buffer_callback=callback)
    return by_value


class _SharingPickler(pickle.Pickler):
    """Pickles each immutable object found in ``shared_ids`` (by its key) as a reference to the workers' copy.

    ``reducer_override`` is the hook the C pickler calls for instances of
    non-builtin types only (not for numbers, strings, lists, dicts ...), so a
    big plain payload costs nothing extra. One instance per thread is reused
    (a new pickler costs more than a small call's whole pickle).
    """

    shared_ids: dict[str, int]
    referenced: list[int]
    buffers: list[pickle.PickleBuffer] | None

    def __init__(self, out: io.BytesIO) -> None:
        super().__init__(out, PROTOCOL, buffer_callback=self._in_band)
        self.out = out

    def _in_band(self, buf: pickle.PickleBuffer) -> bool:
        if self.buffers is not None and buf.raw().nbytes >= 1 << 20:
            self.buffers.append(buf)
            return False
        return True

    def reducer_override(self, obj: Any) -> Any:
        immutable = immutable_types.get(type(obj))
        if immutable is None:
            immutable = is_immutable(obj)
        if immutable:
            oid = self.shared_ids.get(shared_key(obj))
            if oid is not None:
                self.referenced.append(oid)
                return _shared_object, (oid,)
        return NotImplemented


_resolving = threading.local()  # .resolve: object id -> the object this process holds under it
_picklers = threading.local()  # .pickler: this thread's _SharingPickler


def _shared_object(oid: int) -> Any:
    resolve = getattr(_resolving, "resolve", None)
    if resolve is None:
        raise pickle.UnpicklingError(
            f"this pickle refers to object {oid} that a pool's workers hold; only the pool can load it"
        )
    return resolve(oid)


def dumps_sharing(
    obj: Any, shared_ids: dict[str, int], buffers: list[pickle.PickleBuffer] | None = None
) -> tuple[bytes, list[int]]:
    """:func:`dumps`, with the immutables the workers hold already (``shared_ids``: key -> object id) by reference.

    Returns the pickle and the ids it refers to; :func:`loads` with a
    ``resolve`` for those ids loads it. An object that refers to the script
    (pickled by cloudpickle) is pickled whole, without references.
    """
    if not shared_ids:
        return dumps(obj, buffers), []
    pickler: _SharingPickler | None = getattr(_picklers, "pickler", None)
    if pickler is None:
        pickler = _picklers.pickler = _SharingPickler(io.BytesIO())
    out = pickler.out
    out.seek(0)
    out.truncate()
    pickler.clear_memo()
    pickler.shared_ids, pickler.referenced, pickler.buffers = shared_ids, [], buffers
    start = len(buffers) if buffers is not None else 0
    try:
        pickler.dump(obj)
        data = out.getvalue()
        if _MAIN not in data:
            return data, pickler.referenced
    except Exception:
        pass
    finally:
        pickler.shared_ids, pickler.buffers = {}, None
        if out.tell() > 1 << 20:  # not kept: a big call's memory
            del _picklers.pickler
    if buffers is not None:
        del buffers[start:]
    return dumps(obj, buffers), []


def _keep_large(out: list[pickle.PickleBuffer], out_of_band: int) -> Callable[[pickle.PickleBuffer], bool]:
    def keep_large(buf: pickle.PickleBuffer) -> bool:
        if buf.raw().nbytes >= out_of_band:
            out.append(buf)
            return False
        return True

    return keep_large


def loads(data: Any, buffers: Any = None, resolve: Callable[[int], Any] | None = None) -> Any:
    """Unpickles ``data``; ``resolve(oid)`` gives the objects a :func:`dumps_sharing` pickle refers to."""
    if resolve is None:
        return pickle.loads(data, buffers=buffers)
    previous = getattr(_resolving, "resolve", None)
    _resolving.resolve = resolve
    try:
        return pickle.loads(data, buffers=buffers)
    finally:
        _resolving.resolve = previous


def describe_unpicklable(what: str, obj: Any, error: BaseException) -> SendError:
    if isinstance(obj, (types.FunctionType, types.MethodType)):
        name = f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', '?')}"
        return SendError(
            f"{what} {name} cannot be sent to the MPI ranks: pickling it (with what it refers to) failed: "
            f"{type(error).__name__}: {error}"
        )
    return SendError(
        f"{what}, a {type(obj).__module__}.{type(obj).__qualname__}, cannot be sent to the MPI ranks: it does "
        f"not pickle ({type(error).__name__}: {error}). Make it picklable, or create it inside the function "
        f"the workers run."
    )


# --------------------------------------------------------------------------- #
# functions                                                                    #
# --------------------------------------------------------------------------- #
_LEAF_TYPES = frozenset(
    {int, float, complex, bool, str, bytes, type(None), range, slice, type(Ellipsis), types.ModuleType,
     types.BuiltinFunctionType, types.BuiltinMethodType}
)
_MISSING = object()
_code_names: dict[types.CodeType, tuple[str, ...]] = {}


def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """The names ``code`` (and the code nested in it) may look up in its globals."""
    names = _code_names.get(code)
    if names is None:
        found: list[str] = []
        stack = [code]
        while stack:
            c = stack.pop()
            found.extend(c.co_names)
            stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
        names = tuple(dict.fromkeys(found))
        if len(_code_names) > 4096:
            _code_names.clear()
        _code_names[code] = names
    return names


def _by_reference(f: Any) -> bool:
    """Whether plain pickle sends ``f`` (a function or a class) by name (importable, not from the script)."""
    module = getattr(f, "__module__", None)
    qualname = getattr(f, "__qualname__", "")
    return module is not None and module != "__main__" and "<" not in qualname


def _pin(f: types.FunctionType, pinned: list[Any], checks: list[tuple[Any, ...]], depth: int) -> bool:
    """Collects everything cloudpickle would copy into ``f``'s pickle.

    Returns False when any of it may change without its identity changing
    (a list, a dict, an array ...): such a function is pickled again on
    every call. ``pinned`` gets the objects (a cache entry keeps them alive,
    so that no identity in its key can be reused by another object);
    ``checks`` gets where each was found, to see cheaply on the next call
    that nothing was rebound.
    """
    if depth > 4 or f.__dict__ or f.__kwdefaults__:
        return False
    checks.append((1, f, "__code__", f.__code__))
    checks.append((1, f, "__defaults__", f.__defaults__))
    pinned.append(f.__code__)
    g = f.__globals__
    for name in _global_names(f.__code__):
        value = g.get(name, _MISSING)
        checks.append((0, g, name, value))
        if value is _MISSING:
            continue  # a builtin, or an attribute name
        pinned.append(value)
        if not _settled(value, pinned, checks, depth):
            return False
    for value in f.__defaults__ or ():
        pinned.append(value)
        if not _settled(value, pinned, checks, depth):
            return False
    for cell in f.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell (a name not bound yet)
            return False
        checks.append((2, cell, None, value))
        pinned.append(value)
        if not _settled(value, pinned, checks, depth):
            return False
    return True


def _settled(value: Any, pinned: list[Any], checks: list[tuple[Any, ...]], depth: int) -> bool:
    cls = type(value)
    if cls in _LEAF_TYPES:
        return True
    if isinstance(value, type):
        # A class of the script goes by value, with its attributes as they are now, and
        # they can change without the class's identity changing: not settled.
        return _by_reference(value)
    if cls is tuple or cls is frozenset:
        return all(_settled(v, pinned, checks, depth) for v in value)
    if cls is types.FunctionType:
        if _by_reference(value):
            return True
        if any(v is value for v in pinned[:-1]):  # recursion
            return True
        return _pin(value, pinned, checks, depth + 1)
    return _is_immutable(value)


def _unchanged(checks: tuple[tuple[Any, ...], ...]) -> bool:
    for kind, where, name, expected in checks:
        if kind == 0:
            if where.get(name, _MISSING) is not expected:
                return False
        elif kind == 1:
            if getattr(where, name) is not expected:
                return False
        else:
            try:
                if where.cell_contents is not expected:
                    return False
            except ValueError:
                return False
    return True


def _is_immutable(value: Any) -> bool:
    from .._immutable import is_immutable

    return is_immutable(value)


class _Entry:
    __slots__ = ("fid", "data", "pinned", "holders", "alive")

    def __init__(self, fid: int, data: bytes, pinned: list[Any]) -> None:
        self.fid = fid
        self.data = data
        self.pinned = pinned
        self.holders: set[int] = set()
        self.alive = True


class FunctionCache:
    """Pickled functions on rank 0, and which rank already holds which.

    A function whose pickle depends only on objects that cannot change in
    place (code, modules, classes, numbers, strings, other such functions)
    is pickled once and sent once to each rank, which keeps it under an id;
    later calls send the id. The cache key holds the identities of all those
    objects, so rebinding a global or a closure variable makes a new entry.
    Anything else (a function reading a global list or a class of the
    script, a bound method, a ``functools.partial``) is pickled with every
    call. A function object
    seen before costs one check per name it uses.
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.entries: OrderedDict[Any, _Entry] = OrderedDict()
        self.fast: dict[Any, tuple[_Entry, tuple[tuple[Any, ...], ...]]] = {}
        self.next_id = 0
        self.dropped: dict[int, list[int]] = {}  # rank -> ids it may forget

    def entry(self, f: Any) -> _Entry | None:
        """The cache entry of ``f``, or None if ``f`` must be pickled with every call."""
        try:
            hit = self.fast.get(f)
        except TypeError:  # unhashable callable
            return None
        if hit is not None and hit[0].alive and _unchanged(hit[1]):
            return hit[0]
        cls = type(f)
        checks: list[tuple[Any, ...]] = []
        if (cls is types.FunctionType or cls is types.BuiltinFunctionType) and _by_reference(f):
            key: Any = (f,)
            pinned: list[Any] = [f]
        elif cls is types.FunctionType:
            pinned = []
            if not _pin(f, pinned, checks, 0):
                return None
            key = (f.__code__, id(f.__globals__), *map(id, pinned))
        else:
            return None
        found = self.entries.get(key)
        if found is None:
            entry = _Entry(self.next_id, self.pickle_function(f), pinned)
            self.next_id += 1
            self.entries[key] = entry
            if len(self.entries) > self.size:
                _, old = self.entries.popitem(last=False)
                old.alive = False
                for r in old.holders:
                    self.dropped.setdefault(r, []).append(old.fid)
        else:
            entry = found
            self.entries.move_to_end(key)
        if len(self.fast) >= 4 * self.size:
            self.fast.clear()
        self.fast[f] = (entry, tuple(checks))
        return entry

    def ref(self, f: Any, rank: int, entry: _Entry | None = None) -> FunctionRef:
        """What rank ``rank`` gets for ``f``: its id (held there), its id and pickle (to keep), or its pickle."""
        if entry is None:
            return FunctionRef(None, self.pickle_function(f))
        if rank in entry.holders:
            return FunctionRef(entry.fid, None)
        entry.holders.add(rank)
        return FunctionRef(entry.fid, entry.data)

    def forget(self, rank: int, ref: FunctionRef) -> None:
        """Rank ``rank`` may not hold ``ref``'s function (its call failed): send it in full next time."""
        if ref.id is not None and ref.pickle is not None:
            for entry in self.entries.values():
                if entry.fid == ref.id:
                    entry.holders.discard(rank)

    def take_dropped(self, rank: int) -> list[int]:
        if not self.dropped:
            return []
        return self.dropped.pop(rank, [])

    @staticmethod
    def pickle_function(f: Any) -> bytes:
        if not callable(f):
            raise TypeError(f"the function to run must be callable, got {type(f).__name__}")
        try:
            return dumps(f)
        except Exception as error:
            raise describe_unpicklable("the function", f, error) from error


class FunctionStore:
    """A worker rank's functions, by the ids rank 0 gave them."""

    def __init__(self) -> None:
        self.functions: dict[int, Callable[..., Any]] = {}

    def resolve(self, fid: int | None, data: bytes | None) -> Callable[..., Any]:
        if data is None:
            return self.functions[fid]  # type: ignore[index]
        f: Callable[..., Any] = loads(data)
        if fid is not None:
            self.functions[fid] = f
        return f

    def drop(self, ids: Iterable[int]) -> None:
        for fid in ids:
            self.functions.pop(fid, None)


# --------------------------------------------------------------------------- #
# exceptions                                                                   #
# --------------------------------------------------------------------------- #
def pack_exception(error: BaseException) -> PackedError:
    """What a worker sends back for an exception: itself if it pickles, its type, message and traceback."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    cls = type(error)
    try:
        message = str(error)
    except Exception:
        message = "<unprintable>"
    tb = error.__traceback__
    try:
        error.__traceback__ = None  # frames do not pickle, and need not
        data: bytes | None = dumps(error)
        loads(data)  # it must also come back (a custom __init__ may not)
    except Exception:
        data = None
    finally:
        error.__traceback__ = tb
    return PackedError(data, f"{cls.__module__}.{cls.__qualname__}", message, text)


def unpack_exception(packed: PackedError, worker: int) -> BaseException:
    """The exception a worker raised, as it came, with its remote traceback as cause."""
    data, type_name, message, text = packed
    error: BaseException | None = None
    if data is not None:
        try:
            error = loads(data)
        except Exception:
            error = None
    if not isinstance(error, BaseException):
        error = RemoteError(f"{type_name}: {message}")
    error.__cause__ = RemoteTraceback(f'\n"""\n{text}"""')
    add_note(error, f"raised on worker {worker} (MPI rank {worker}); its traceback is above")
    return error


def add_note(error: BaseException, note: str) -> None:
    """``error.add_note(note)``, also before Python 3.11."""
    try:
        if hasattr(error, "add_note"):
            error.add_note(note)
        else:  # pragma: no cover - Python < 3.11
            notes = getattr(error, "__notes__", None)
            if not isinstance(notes, list):
                notes = []
                error.__notes__ = notes  # type: ignore[attr-defined]
            notes.append(note)
    except Exception:  # pragma: no cover - an exception that refuses attributes
        pass
