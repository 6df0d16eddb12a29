"""The tree along which commands fan out from rank 0 and replies come back to it.

The ranks ``0 .. K-1`` form a binomial tree rooted at rank 0: the parent of
rank ``r > 0`` is ``r`` with its lowest set bit cleared; the children of
``r`` are ``r + m`` for the powers of two ``m`` below the lowest set bit of
``r`` (for rank 0: below ``K``), the largest first, and the subtree of child
``c = r + m`` is the contiguous range ``c .. c + m - 1`` (cut at ``K``).
Rank 0 has ``ceil(log2 K)`` children and the tree is at most ``ceil(log2 K)``
levels deep, so rank 0 sends and receives ``ceil(log2 K)`` messages per command
instead of ``2 (K - 1)``. At ``K <= 3`` every worker is a child of rank 0
and a leaf: the messages are those of a flat fan-out, byte for byte.

What a rank sends to a child:

* to a leaf child, the child's own command message, unchanged (its
  sequence number, then the command's pickle: see ``_protocol``);
* to a child with a subtree, a *frame*: a header (``HEADER``: its form,
  whether the command is answered, rank 0's timeout, so that every rank
  judges its children as rank 0 would) and either
  - ``UNIFORM``: one message for every rank of the subtree. This is the
    common case (a call whose bytes are the same everywhere): a rank keeps
    a view of the message and forwards the frame it received, unchanged,
    to its children with subtrees, and the message to its leaf children;
  - ``TABLE``: the ranks of the subtree that take part, each with the index
    of its message among the distinct messages that follow (per-rank
    extras, map chunks, scatter_list chunks; ranks given the same message
    share it). A rank splits the table by child; a child whose ranks all
    get one message gets a ``UNIFORM`` frame.

Replies (:func:`merged_reply`): a rank that forwarded a command waits for
one message from each child it forwarded to, and sends its parent one
message: the sequence number with ``MERGED`` set, then ``(rank, length)``
entries, each followed by the rank's reply as that rank sent it. Entries of
a child's merged reply are copied along as they are, never unpickled (one
copy of each reply per level: large results cost their bytes once per level
on the way, in ``ceil(log2 K)`` messages at rank 0). A rank that forwarded
nothing replies with its own reply message, as a leaf does.

Why point-to-point messages along a tree rather than MPI's non-blocking
collectives (which use trees themselves): a command may differ per rank
and may go to some ranks only (``apply_only``, removals), which a broadcast
cannot say; and a collective with a dead rank leaves the others waiting
without telling which rank is missing, while here each rank waits for its
children by name and can watch each of them (see ``_runtime``).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ENTRY", "HEADER", "MERGED", "REPLIES", "TABLE", "UNIFORM", "Tree", "merged_reply", "open_frame",
    "unpack_merged",
]

HEADER = struct.Struct("<BBd")  # form, flags, timeout (seconds)
UNIFORM = 0
TABLE = 1
REPLIES = 1  # flag: the ranks answer the command
_U32 = struct.Struct("<I")
ENTRY = struct.Struct("<IQ")  # one reply in a merged reply: the rank, the length of its message
MERGED = 1 << 63  # set in the sequence number of a merged reply


class Tree:
    """One rank's place in the binomial tree of ``size`` ranks rooted at rank 0."""

    __slots__ = ("size", "rank", "parent", "end", "children", "ends", "leaves", "all_leaves", "depth")

    def __init__(self, size: int, rank: int) -> None:
        self.size = size
        self.rank = rank
        self.parent = rank & (rank - 1)  # the lowest set bit cleared (rank 0: itself)
        below = rank & -rank if rank else 1 << (size - 1).bit_length()
        self.end = min(rank + below, size)  # this rank's subtree: rank .. end - 1
        m = below >> 1
        children: list[int] = []
        while m:
            if rank + m < size:
                children.append(rank + m)
            m >>= 1
        self.children = children
        # the subtree of child c = rank + m: ranks c .. ends[c] - 1
        self.ends = {c: min(c + (c - rank), size) for c in children}
        self.leaves = {c for c in children if self.ends[c] == c + 1}
        self.all_leaves = len(self.leaves) == len(children)
        # the most set bits of a rank below size: log2(size) for a power of two, else ceil(log2 size) - 1
        self.depth = (size - 1).bit_length() - (1 if size & (size - 1) else 0)

    def child_of(self, w: int) -> int:
        """The child of this rank whose subtree holds rank ``w`` (a rank below this one)."""
        return self.rank + (1 << ((w - self.rank).bit_length() - 1))

    def covering(self, ranks: Any) -> list[int]:
        """The children whose subtrees hold some of ``ranks`` (ranks below this one)."""
        if len(ranks) >= self.end - self.rank - 1:
            return self.children
        found = {self.child_of(w) for w in ranks if w != self.rank}
        return [c for c in self.children if c in found]

    def forward(self, frame: Any, message: Any) -> list[tuple[int, Any]]:
        """What this rank sends to each child for a ``UNIFORM`` frame from its parent: that frame, or its message."""
        leaves = self.leaves
        return [(c, message if c in leaves else frame) for c in self.children]

    def frames(self, messages: Mapping[int, Any], flags: int, timeout: float) -> list[tuple[int, Any]]:
        """What this rank sends to each child for ``messages`` (rank -> message, for ranks below this one)."""
        out: list[tuple[int, Any]] = []
        if not messages:
            return out
        first = next(iter(messages.values()))
        if len(messages) == self.end - self.rank - 1 and all(m is first for m in messages.values()):
            frame: bytes | None = None
            for c in self.children:
                if c in self.leaves:
                    out.append((c, first))
                else:
                    if frame is None:
                        frame = HEADER.pack(UNIFORM, flags, timeout) + first
                    out.append((c, frame))
            return out
        by_child: dict[int, list[tuple[int, Any]]] = {}
        child_of = self.child_of
        for w, message in messages.items():
            by_child.setdefault(child_of(w), []).append((w, message))
        for c in self.children:
            entries = by_child.get(c)
            if not entries:
                continue
            if c in self.leaves:
                out.append((c, entries[0][1]))
            else:
                out.append((c, _subframe(entries, self.ends[c] - c, flags, timeout)))
        return out


def _subframe(entries: list[tuple[int, Any]], span: int, flags: int, timeout: float) -> bytes:
    """The frame for a subtree of ``span`` ranks of which ``entries`` (rank, message) take part."""
    index: dict[int, int] = {}
    blobs: list[Any] = []
    pairs: list[int] = []
    for w, message in entries:
        i = index.get(id(message))
        if i is None:
            i = index[id(message)] = len(blobs)
            blobs.append(message)
        pairs += (w, i)
    if len(blobs) == 1 and len(entries) == span:
        return b"".join((HEADER.pack(UNIFORM, flags, timeout), blobs[0]))
    lengths = [len(b) for b in blobs]
    head = (
        HEADER.pack(TABLE, flags, timeout)
        + _U32.pack(len(entries))
        + struct.pack(f"<{len(pairs)}I", *pairs)
        + _U32.pack(len(blobs))
        + struct.pack(f"<{len(blobs)}Q", *lengths)
    )
    return b"".join([head, *blobs])


def open_frame(frame: Any) -> tuple[int, float, dict[int, memoryview] | memoryview]:
    """``(flags, timeout, content)`` of a frame: its one message (UNIFORM), or rank -> message (TABLE)."""
    form, flags, timeout = HEADER.unpack_from(frame)
    view = memoryview(frame)
    if form == UNIFORM:
        return flags, timeout, view[HEADER.size :]
    offset = HEADER.size
    (n,) = _U32.unpack_from(view, offset)
    pairs = struct.unpack_from(f"<{2 * n}I", view, offset + 4)
    offset += 4 + 8 * n
    (m,) = _U32.unpack_from(view, offset)
    lengths = struct.unpack_from(f"<{m}Q", view, offset + 4)
    offset += 4 + 8 * m
    blobs = []
    for length in lengths:
        blobs.append(view[offset : offset + length])
        offset += length
    return flags, timeout, {pairs[i]: blobs[pairs[i + 1]] for i in range(0, 2 * n, 2)}


def merged_reply(head: bytes, own: tuple[int, Any] | None, received: list[tuple[int, Any]], seq: int) -> bytes:
    """One message for the parent: this rank's reply (if any) and those received from its children.

    ``received``: (child, message) pairs; a child's plain reply (sequence
    number ``seq``) becomes an entry, a child's merged reply is appended
    without its sequence number.
    """
    parts: list[Any] = [head]
    if own is not None:
        parts += (ENTRY.pack(own[0], len(own[1])), own[1])
    unpack = struct.Struct("<Q").unpack_from
    for child, message in received:
        if unpack(message)[0] == seq:
            parts += (ENTRY.pack(child, len(message)), message)
        else:
            parts.append(memoryview(message)[8:])
    return b"".join(parts)


def unpack_merged(message: Any, into: dict[int, Any]) -> None:
    """Adds the replies of a merged reply to ``into`` (rank -> that rank's reply message, a view)."""
    view = memoryview(message)
    offset = 8
    end = len(view)
    unpack = ENTRY.unpack_from
    size = ENTRY.size
    while offset < end:
        w, length = unpack(view, offset)
        offset += size
        into[w] = view[offset : offset + length]
        offset += length
