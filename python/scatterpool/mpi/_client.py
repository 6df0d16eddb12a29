"""Rank 0's side of the worker ranks: one :class:`Client` per process, one :class:`Link` per pool.

The client turns commands into messages (:meth:`Client.messages`), runs one
command at a time (:meth:`Client.begin` / :meth:`Client.end`), collects the
replies, and keeps what the worker ranks must learn along the way: objects
removed on rank 0, functions they may forget, a changed ``sys.path``, pools
closed while a command ran. A delivery (push, a scatter) gets no reply of
its own: the link keeps which ranks have not answered since, and the pool's
next reply from them says whether it was stored (see ``_delivery``).
"""

from __future__ import annotations

import sys
import warnings
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._base import merge_worker_errors
from .._core import ReentrantCallError
from . import _runtime
from ._delivery import DeliveryError
from ._protocol import (
    SEQ,
    Body,
    Call,
    Close,
    Confirm,
    Extras,
    Quit,
    Remove,
    Reply,
    command_pickle,
    decode_reply,
)
from ._serial import FunctionCache, add_note, unpack_exception

if TYPE_CHECKING:
    from ._pool import MPIPool

__all__ = ["Client", "Link", "get_client", "shutdown"]

_RECENT = 256  # pickles of recent calls kept for a repeated call
# Deliveries sent without a reply before rank 0 waits for the workers to
# confirm them: small messages pile up in the workers' MPI queues otherwise.
_UNCONFIRMED_DELIVERIES = 256


class Link:
    """One pool as the worker ranks know it: its uid, and removals not sent yet.

    The registry's erase hook calls :meth:`erased`; the link holds no
    reference to the pool, so that a pool can be garbage-collected.
    """

    def __init__(self, client: Client, uid: int, size: int) -> None:
        self.client = client
        self.uid = uid
        self.pending: list[list[int]] = [[] for _ in range(size)]
        self.shared_ids: dict[str, int] = {}  # registry key of an immutable -> object id
        self.shared_keys: dict[int, str] = {}  # object id -> registry key
        self.open = True
        self.failed: dict[int, DeliveryError] = {}  # object id -> why a worker could not store it
        self.unconfirmed: set[int] = set()  # ranks sent deliveries that no reply of theirs confirmed yet
        self.deliveries = 0  # deliveries sent since every rank last confirmed
        # replies were sent to rank 0 that it did not read (an interrupt): they may have reported failures
        self.unread = False

    def confirmed(self, ranks: Sequence[int]) -> None:
        """``ranks`` replied to a command: the deliveries sent to them before it are accounted for."""
        self.unconfirmed.difference_update(ranks)
        if not self.unconfirmed:
            self.deliveries = 0

    def note_failed(self, error: DeliveryError) -> None:
        for oid, _ in error.failed:
            self.failed[oid] = error

    def take(self, w: int) -> tuple[int, ...]:
        ids = self.pending[w]
        if not ids:
            return ()
        self.pending[w] = []
        return tuple(ids)

    def erased(self, oid: int) -> None:
        if self.failed:
            self.failed.pop(oid, None)
        key = self.shared_keys.pop(oid, None)
        if key is not None:
            self.shared_ids.pop(key, None)
        if not self.open:
            return
        for w in range(1, len(self.pending)):
            self.pending[w].append(oid)
        client = self.client
        client.has_pending = True
        rt = client.rt
        # Tell the workers now, unless this runs inside a command (a garbage
        # collection during a send): then the command's end or the next
        # message carries it.
        if rt.lock.acquire(blocking=False):
            try:
                if not client.in_command and rt.broken is None:
                    client.in_command = True
                    try:
                        client.flush_removals()
                    finally:
                        client.in_command = False
            except Exception:  # an erase hook must not raise; the next command sends the removal
                pass
            finally:
                rt.lock.release()


class Client:
    """What rank 0 knows about the worker ranks, shared by all its pools."""

    def __init__(self, rt: _runtime.Runtime) -> None:
        self.rt = rt
        self.functions = FunctionCache()
        self.in_command = False  # a command runs (in the thread that holds rt.lock)
        self.running: Link | None = None  # the pool whose command runs
        self.links: dict[int, Link] = {}  # open pools, by uid
        self.pools: weakref.WeakSet[MPIPool] = weakref.WeakSet()
        self.path: list[str] | None = None
        self.path_version = 0
        self.path_known = [0] * rt.size
        self.path_everywhere = False
        self.deferred_close: list[Link] = []
        self.has_pending = False  # removals not sent yet
        self.recent: dict[Any, bytes] = {}  # pickles of recent calls, by (pool, body)

    # ------------------------------------------------------------------ #
    # one command at a time                                               #
    # ------------------------------------------------------------------ #
    def begin(self, link: Link, what: str) -> None:
        """Starts a command of ``link``'s pool: no other command runs in this thread, the ranks are in step."""
        rt = self.rt
        rt.lock.acquire()
        if not (
            self.in_command or rt.finished or rt.broken is not None or rt.unfinished or self.deferred_close
            or link.unread
        ):
            self.in_command = True  # the path of every call
            self.running = link
            return
        if self.in_command:
            rt.lock.release()
            raise ReentrantCallError(
                f"{what}: the MPIPool is already running a call in this thread (a pool cannot be used "
                f"from inside a function it runs)"
            )
        self.in_command = True
        self.running = link
        try:
            rt.check_usable()
            if rt.unfinished:
                self.finish_unfinished()
            if self.deferred_close:
                self.close_deferred()
            if link.unread:
                self.confirm_again(link, what)
        except BaseException:
            self.in_command = False
            self.running = None
            rt.lock.release()
            raise

    def end(self) -> None:
        rt = self.rt
        try:
            # objects garbage-collected during the command: tell the workers now
            if self.has_pending and rt.broken is None:
                self.flush_removals()
        finally:
            self.in_command = False
            self.running = None
            rt.lock.release()

    # ------------------------------------------------------------------ #
    # messages                                                            #
    # ------------------------------------------------------------------ #
    def refresh_path(self) -> bool:
        """Notes a change of ``sys.path``; True when every rank has the current one."""
        if sys.path != self.path:
            self.path = list(sys.path)
            self.path_version += 1
            self.path_everywhere = False
        return self.path_everywhere

    def path_for(self, w: int) -> list[str] | None:
        if self.path_known[w] == self.path_version:
            return None
        self.path_known[w] = self.path_version
        if all(v == self.path_version for v in self.path_known[1:]):
            self.path_everywhere = True
        return list(self.path or ())

    def messages(
        self, link: Link | None, seq: int, ranks: Sequence[int], body: Body | Mapping[int, Body]
    ) -> dict[int, bytes]:
        """One message per rank: ``seq``, then the pickle of the command.

        ``body`` is the same for every rank, or a dict from rank to body.
        Ranks given the same body object share one pickle (the dict keeps
        every body alive while it is known by its id); a call repeated with
        the same function and arguments reuses the last pickle.
        """
        uid = link.uid if link is not None else 0
        head = SEQ.pack(seq)
        if self.refresh_path() and not self.has_pending and not self.functions.dropped and isinstance(body, tuple):
            cacheable = (
                type(body) is Call
                and body.function is None
                and (body.args is None or len(body.args) < 256)
                and body.chunk is None
            )
            if cacheable:
                data = self.recent.get((uid, body))
                if data is None:
                    data = command_pickle(uid, None, body)
                    if len(self.recent) >= _RECENT:
                        self.recent.clear()
                    self.recent[(uid, body)] = data
            else:
                data = command_pickle(uid, None, body)
            return dict.fromkeys(ranks, head + data)
        out: dict[int, bytes] = {}
        shared: dict[tuple[Any, ...], bytes] = {}
        for w in ranks:
            removals = link.take(w) if link is not None else ()
            dropped = tuple(self.functions.take_dropped(w))
            path = self.path_for(w)
            b = body if isinstance(body, tuple) else body[w]
            same = (removals, dropped, path is not None, id(b))
            data = shared.get(same)
            if data is None:
                extras = Extras(removals, dropped, path) if removals or dropped or path is not None else None
                data = head + command_pickle(uid, extras, b)
                shared[same] = data
            out[w] = data
        return out

    # ------------------------------------------------------------------ #
    # sending and collecting                                              #
    # ------------------------------------------------------------------ #
    def complete(self, reqs: list[Any], ranks: Sequence[int], what: str) -> None:
        """Drives sends and collectives to completion; an interrupted one is finished before the next command."""
        rt = self.rt
        try:
            rt.complete(reqs, ranks, what)
        except BaseException:
            if rt.broken is None:
                rt.unfinished.append((reqs, list(ranks)))
            raise

    def replies(self, ranks: Sequence[int], seq: int, what: str) -> dict[int, Reply]:
        """The replies of ``ranks`` to command ``seq``."""
        return {w: decode_reply(buf) for w, buf in self.rt.collect(ranks, seq, what).items()}

    def run(
        self, link: Link, body: Body | Mapping[int, Body], what: str, ranks: Sequence[int] | None = None
    ) -> dict[int, Any]:
        """Sends a command to ``ranks`` (every worker rank); their values, or the lowest failed rank's exception."""
        rt = self.rt
        if ranks is None:
            ranks = list(range(1, rt.size))
        if not ranks:
            return {}
        seq = rt.next_seq()
        msgs = self.messages(link, seq, ranks, body)
        link.unread = True
        with rt.defer_interrupt:
            reqs = rt.send(msgs)
        self.complete(reqs, ranks, what)
        replies = self.replies(ranks, seq, what)
        link.unread = False
        link.confirmed(ranks)
        return values_or_raise(replies, link)

    def deliver(self, link: Link, body: Body | Mapping[int, Body], what: str) -> None:
        """Sends a delivery to every worker rank, without waiting for a reply."""
        rt = self.rt
        ranks = list(range(1, rt.size))
        seq = rt.next_seq()
        msgs = self.messages(link, seq, ranks, body)
        with rt.defer_interrupt:
            reqs = rt.send(msgs)
        self.complete(reqs, ranks, what)
        self.delivered(link, ranks)

    def delivered(self, link: Link, ranks: Sequence[int]) -> None:
        """A delivery went to ``ranks``: their next reply on this pool confirms it."""
        link.unconfirmed.update(ranks)
        link.deliveries += 1

    def confirm(self, link: Link, what: str, ranks: Sequence[int] | None = None) -> None:
        """Waits for ``ranks`` (every rank not confirmed yet) to confirm the pool's deliveries; raises a failed one."""
        if ranks is None:
            ranks = sorted(link.unconfirmed)
        self.run(link, Confirm(False), what, ranks)

    def confirm_again(self, link: Link, what: str) -> None:
        """After replies rank 0 did not read: every rank reports its failed deliveries again; raises the new ones."""
        known = set(link.failed)
        try:
            self.run(link, Confirm(True), what, list(range(1, self.rt.size)))
        except DeliveryError:
            if not set(link.failed) <= known:
                raise

    def make_room(self, link: Link, what: str) -> None:
        """Before a delivery: the workers confirm what they were sent once that is much."""
        if link.deliveries >= _UNCONFIRMED_DELIVERIES:
            self.confirm(link, what)

    def flush_removals(self) -> None:
        """Tells the workers about objects removed on rank 0 (no reply)."""
        rt = self.rt
        self.has_pending = False
        if rt.broken is not None or rt.finished or rt.size == 1:
            return
        for link in list(self.links.values()):
            ranks = [w for w in range(1, rt.size) if link.pending[w]]
            if not ranks:
                continue
            seq = rt.next_seq()
            body = dict.fromkeys(ranks, Remove())  # per rank: each carries its own removals
            with rt.defer_interrupt:
                reqs = rt.send(self.messages(link, seq, ranks, body), replies=False)
            rt.complete(reqs, ranks, "a removal")

    def close_link(self, link: Link) -> None:
        """Frees a closed pool's objects on the worker ranks."""
        link.open = False
        self.links.pop(link.uid, None)
        rt = self.rt
        if rt.broken is not None or rt.finished or rt.size == 1:
            return
        ranks = list(range(1, rt.size))
        seq = rt.next_seq()
        msgs = self.messages(link, seq, ranks, dict.fromkeys(ranks, Close()))
        with rt.defer_interrupt:
            reqs = rt.send(msgs)
        self.complete(reqs, ranks, "close()")
        values_or_raise(self.replies(ranks, seq, "close()"), link)

    def close_deferred(self) -> None:
        while self.deferred_close:
            try:
                self.close_link(self.deferred_close.pop())
            except DeliveryError as error:  # a pool closed by another thread or the garbage collector
                warnings.warn(f"closing an MPIPool: {error}", RuntimeWarning, stacklevel=2)

    def finish_unfinished(self) -> None:
        rt = self.rt
        while rt.unfinished:
            reqs, ranks = rt.unfinished[0]
            rt.complete(reqs, ranks, "the completion of an interrupted call")
            rt.unfinished.pop(0)

    def quit(self) -> None:
        """Stops the worker ranks (no reply)."""
        rt = self.rt
        ranks = list(range(1, rt.size))
        reqs = rt.send(self.messages(None, rt.next_seq(), ranks, dict.fromkeys(ranks, Quit())), replies=False)
        rt.finished = True
        rt.complete(reqs, ranks, "the shutdown")


def values_or_raise(replies: Mapping[int, Reply], link: Link | None = None) -> dict[int, Any]:
    """The values of the replies; if some rank failed, its exception (the lowest rank's, naming the others)."""
    errors = {w: unpack_exception(reply.value, w) for w, reply in replies.items() if not reply.ok}
    if errors:
        raise worker_errors(errors, link)
    return {w: reply.value for w, reply in replies.items()}


def worker_errors(errors: dict[int, BaseException], link: Link | None) -> BaseException:
    """The exception of a command that failed on workers: a failed delivery first (the command did not run there).

    The link notes the failed deliveries, so that their handles are refused.
    """
    failed: dict[int, BaseException] = {w: e for w, e in errors.items() if isinstance(e, DeliveryError)}
    if not failed:
        return merge_worker_errors(errors)
    if link is not None:
        for e in failed.values():
            link.note_failed(e)  # type: ignore[arg-type]
    error = merge_worker_errors(failed)
    for w in sorted(errors):
        if w not in failed:
            add_note(error, f"worker {w} also raised {type(errors[w]).__name__}: {errors[w]}")
    return error


_client: Client | None = None


def get_client(rt: _runtime.Runtime) -> Client:
    global _client
    if _client is None:
        _client = Client(rt)
    return _client


def shutdown() -> None:
    """Closes every open pool and stops the worker ranks (the launcher's last word on rank 0)."""
    rt = _runtime.current()
    if rt is None or rt.rank != 0:
        return
    client = get_client(rt)
    for pool in list(client.pools):
        try:
            pool.close()
        except Exception as error:  # the launcher ends the job next; a pool that fails to close must not stop that
            sys.stderr.write(f"scatterpool.mpi: closing {pool!r} at the end: {type(error).__name__}: {error}\n")
    if rt.broken is not None or rt.size == 1:
        return
    with rt.lock:
        try:
            client.close_deferred()
        except Exception:  # as above; a lost rank leaves rt.broken set, and the launcher aborts
            pass
        if rt.broken is None:
            client.quit()
