"""Deliveries without a reply: ``push``, ``scatter_list`` and ``scatter_array`` return once their data left rank 0.

Storing what was delivered cannot go wrong on a worker rank but for the
object itself (its unpickling raises there, say, or its class is not
importable there), so rank 0 does not wait for an acknowledgement of each
delivery: a worker that fails to store one keeps the failure for the pool
(:class:`FailedDeliveries`) and answers the pool's next command that has a
reply (a call, a count, ``close()``, a confirmation) with a
:class:`DeliveryError` naming the delivery, instead of running that command.
Rank 0 then raises it and refuses the handle of that delivery from then on.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DeliveryError", "FailedDeliveries"]


class DeliveryError(RuntimeError):
    """An object sent by ``push``, ``scatter_list`` or ``scatter_array`` could not be stored on a worker rank.

    Raised by the next command on the same pool that hears from that worker
    (``apply``, ``apply_only``, ``map``, ``close()``, ...), since those
    deliveries do not wait for the workers. ``failed`` holds ``(object id,
    what)`` for each delivery this worker failed to store since it last
    reported; their handles cannot be used any more (remove them). The
    cause (``__cause__``) carries the worker's traceback.
    """

    def __init__(self, message: str, worker: int, failed: tuple[tuple[int, str], ...]) -> None:
        super().__init__(message)
        self.worker = worker
        self.failed = failed

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return DeliveryError, (self.args[0], self.worker, self.failed)


class FailedDeliveries:
    """A worker rank's deliveries that failed and were not reported yet, per pool."""

    __slots__ = ("rank", "by_pool", "held")

    def __init__(self, rank: int) -> None:
        self.rank = rank
        self.by_pool: dict[int, list[tuple[int, str, BaseException]]] = {}  # not reported yet
        self.held: dict[int, dict[int, tuple[str, BaseException]]] = {}  # until rank 0 removes the object

    def __bool__(self) -> bool:
        return bool(self.held)

    def add(self, uid: int, oid: int, what: str, error: BaseException) -> None:
        self.by_pool.setdefault(uid, []).append((oid, what, error))
        self.held.setdefault(uid, {})[oid] = (what, error)

    def release(self, uid: int, oid: int) -> None:
        held = self.held.get(uid)
        if held is not None and held.pop(oid, None) is not None and not held:
            del self.held[uid]

    def take(self, uid: int, again: bool = False) -> DeliveryError | None:
        """The error that reports the pool's failed deliveries (they count as reported), or None.

        ``again``: every failure still held, also those reported before.
        """
        failures = self.by_pool.pop(uid, None)
        if again:
            failures = [(o, w, e) for o, (w, e) in self.held.get(uid, {}).items()]
        if not failures:
            return None
        oid, what, error = failures[0]
        message = (
            f"{what} of remote object {oid} failed on worker {self.rank} ({type(error).__name__}: {error}): "
            f"the object is not there and its handle cannot be used (remove it)"
        )
        if len(failures) > 1:
            others = ", ".join(f"{w} of remote object {o}" for o, w, _ in failures[1:])
            message += f"; also failed there: {others}"
        report = DeliveryError(message, self.rank, tuple((o, w) for o, w, _ in failures))
        report.__cause__ = error  # its traceback goes to rank 0 in the remote traceback's text
        return report

    def forget_pool(self, uid: int) -> None:
        self.by_pool.pop(uid, None)
        self.held.pop(uid, None)
