"""The messages between rank 0 and the worker ranks: commands, their bodies, replies.

A command is rank 0's sequence number for it (8 bytes, little endian: ``SEQ``)
followed by a pickle of a :class:`Command`: the pool it is for, the
housekeeping that rides along (:class:`Extras`) and a body, one structure per
kind of command (:class:`Open` ... :class:`Confirm`). Each worker rank answers
every command with a reply (the same sequence number, then a pickle of a
:class:`Reply`) but :class:`Remove`, :class:`Quit` and the deliveries
(:class:`Push`, :class:`ScatterRows`, :class:`ScatterChunk`), whose failures
the pool's next reply reports (see ``_delivery``). Commands and replies pass
along the tree of ranks unchanged, inside the frames and merged replies of
``_tree``.

The structures are named tuples. On the wire each travels as a plain tuple
(a body with a small code for its kind), because pickling a class instance
costs several times more than a tuple, and a small call costs little more
than its pickles; :func:`command_parts` and :func:`decode_reply` give the
fields their names back.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, NamedTuple

__all__ = [
    "DELIVERIES", "SEQ", "Body", "Call", "Close", "Command", "Confirm", "CountObjects", "Extras", "FunctionRef", "Open",
    "OK_NONE", "PackedError", "Push", "Quit", "Remove", "Reply", "ScatterChunk", "ScatterRows", "command_parts",
    "command_pickle", "decode_reply", "payload", "reply_pickle",
]

PROTOCOL = 5
SEQ = struct.Struct("<Q")  # every message starts with its command's sequence number


class Extras(NamedTuple):
    """Housekeeping sent along with a command, for the command's rank."""

    removals: tuple[int, ...]  # ids of the pool's objects that rank 0 removed
    dropped: tuple[int, ...]  # ids of functions the rank may forget
    path: list[str] | None  # rank 0's sys.path, when the rank does not have it yet


# --------------------------------------------------------------------------- #
# bodies: one per kind of command                                              #
# --------------------------------------------------------------------------- #
class Open(NamedTuple):
    """A new pool: the rank makes its registry and seeds its worker_rng."""

    seed: int


class Close(NamedTuple):
    """The pool is closed: the rank frees its objects."""


class Remove(NamedTuple):
    """Nothing but the extras (removed objects); no reply."""


class Quit(NamedTuple):
    """The script ended: the worker loop stops; no reply."""


class CountObjects(NamedTuple):
    """The number of objects the rank holds for the pool (for tests of leaks)."""


class Push(NamedTuple):
    """Keep an object under ``oid``: its pickle, and its out-of-band buffers that follow by ``Ibcast``.

    ``pickle`` is None when the pickle is large and comes by ``Ibcast`` too, first.
    """

    oid: int
    pickle: bytes | None
    buffer_sizes: list[int]


class ScatterRows(NamedTuple):
    """Receive rows of a ``scatter_array`` by ``Iscatterv`` and keep them under ``oid``.

    ``counts[rank]`` rows of ``dim`` elements of ``dtype``, kept as the
    ``kind`` of array rank 0 scattered (``space`` makes pyMOR's).
    """

    oid: int
    kind: str
    dtype: str
    dim: int
    counts: list[int]
    space: Any


class ScatterChunk(NamedTuple):
    """Keep the list pickled in ``items`` under ``oid`` (a ``scatter_list`` chunk)."""

    oid: int
    items: bytes


class Call(NamedTuple):
    """Run a function: ``kind`` is ``"apply"``, ``"apply_only"`` or ``"map"``.

    The function is ``function_id`` alone when the rank holds it, or its
    ``function`` pickle (kept under ``function_id`` unless that is None).
    ``args`` is the pickle of ``(args, kwargs)`` (None: no arguments);
    ``positional_refs`` and ``keyword_refs`` are ``(position or name,
    object id)`` pairs: arguments that are the rank's own objects; ``chunk``
    is the pickle of a map's sequences' chunk for this rank.
    """

    kind: str
    function_id: int | None
    function: bytes | None
    args: bytes | None
    positional_refs: tuple[tuple[int, int], ...]
    keyword_refs: tuple[tuple[str, int], ...]
    chunk: bytes | None


class Confirm(NamedTuple):
    """Nothing to run: the reply says whether the pool's deliveries so far were stored.

    ``again``: report every failed delivery the rank still holds, also those
    reported before (rank 0 may not have read the reply that carried them).
    """

    again: bool


Body = Open | Close | Remove | Quit | CountObjects | Push | ScatterRows | ScatterChunk | Call | Confirm
_KINDS: tuple[type, ...] = (Open, Close, Remove, Quit, CountObjects, Push, ScatterRows, ScatterChunk, Call, Confirm)
DELIVERIES: tuple[type, ...] = (Push, ScatterRows, ScatterChunk)  # no reply
_CODE = {kind: code for code, kind in enumerate(_KINDS)}


class Command(NamedTuple):
    pool: int  # the pool's uid (0: none)
    extras: Extras | None
    body: Body


class FunctionRef(NamedTuple):
    """How a function reaches one rank (the two function fields of a :class:`Call`)."""

    id: int | None
    pickle: bytes | None


class PackedError(NamedTuple):
    """An exception as a worker sends it: its pickle if it has one that loads, its type's name, text, traceback."""

    pickle: bytes | None
    type_name: str
    message: str
    traceback: str


class Reply(NamedTuple):
    """A command's outcome: ``ok`` and the value, or not ``ok`` and a :class:`PackedError`."""

    ok: bool
    value: Any


# --------------------------------------------------------------------------- #
# the wire                                                                     #
# --------------------------------------------------------------------------- #
def payload(buf: bytes | bytearray) -> Any:
    """The part of a message after its sequence number (a copy when small, else a view)."""
    return buf[8:] if len(buf) < 65536 else memoryview(buf)[8:]


def command_pickle(pool: int, extras: Extras | None, body: Body) -> bytes:
    """The pickle of a command (without its sequence number)."""
    return pickle.dumps((pool, extras if extras is None else tuple(extras), _CODE[type(body)], tuple(body)), PROTOCOL)


def command_parts(buf: bytes | bytearray) -> tuple[int, int, Extras | None, Body]:
    """``(seq, pool, extras, body)`` of a message from rank 0: the fields of its :class:`Command`."""
    pool, extras, code, fields = pickle.loads(payload(buf))
    if extras is not None:
        extras = tuple.__new__(Extras, extras)
    return SEQ.unpack_from(buf)[0], pool, extras, tuple.__new__(_KINDS[code], fields)


def reply_pickle(ok: bool, value: Any, dumps: Any = None) -> bytes:
    """The pickle of the :class:`Reply` ``(ok, value)``, without its sequence number.

    ``dumps(obj)`` pickles when given (cloudpickle for what refers to the script).
    """
    wire = (ok, value) if ok else (ok, tuple(value))
    return dumps(wire) if dumps is not None else pickle.dumps(wire, PROTOCOL)


def decode_reply(buf: bytes | bytearray) -> Reply:
    ok, value = pickle.loads(payload(buf))
    if not ok:
        value = tuple.__new__(PackedError, value)
    return tuple.__new__(Reply, (ok, value))


OK_NONE = reply_pickle(True, None)  # the reply of a function that returns None, pickled once
