"""new_pool: the pool a program gets when it does not choose one.

The choice follows how the program was started: under ``mpiexec -n K python
-m scatterpool.mpi script.py`` with ``K > 1`` the ranks are there to be used,
so an ``MPIPool``; otherwise a ``ThreadPool`` of the CPUs this process may
use. The environment variable ``SCATTERPOOL_POOL`` overrides the choice
without touching the program (a batch script, a test run, a notebook that
wants processes: ``mpi-spawn:N``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["ENVIRONMENT_VARIABLE", "PoolChoice", "choose_pool", "new_pool"]

ENVIRONMENT_VARIABLE = "SCATTERPOOL_POOL"
ACCEPTED = "dummy, threads, threads:N (N a number of workers >= 1), mpi, mpi-spawn:N"


class PoolChoice(NamedTuple):
    """Which pool to make: ``kind`` ``"dummy"``, ``"threads"``, ``"mpi"`` or ``"mpi-spawn"``; ``num_workers``."""

    kind: str
    num_workers: int | None = None


def _launched_ranks() -> int:
    """The number of ranks of a ``python -m scatterpool.mpi`` launch; 0 when not launched so.

    Asks the launcher's runtime, which exists only when the launcher made it:
    a program not started by it never imports mpi4py here.
    """
    from .mpi import _runtime

    rt = _runtime.current()
    if rt is None or not rt.launched:
        return 0
    return rt.size


def _parse(value: str) -> PoolChoice:
    spec = value.strip().lower()
    if spec in ("dummy", "threads", "mpi"):
        return PoolChoice(spec)
    for kind in ("threads", "mpi-spawn"):
        if spec.startswith(kind + ":"):
            count = spec[len(kind) + 1 :].strip()
            if count.isdecimal() and int(count) >= 1:
                return PoolChoice(kind, int(count))
    raise ValueError(f"{ENVIRONMENT_VARIABLE}={value!r} is not a pool; accepted values: {ACCEPTED}")


def choose_pool(environ: os._Environ[str] | dict[str, str] | None = None) -> PoolChoice:
    """The pool :func:`new_pool` makes, from ``SCATTERPOOL_POOL`` and the way the program was started.

    Raises:
        ValueError: ``SCATTERPOOL_POOL`` is set to something else than the accepted values.
    """
    value = (os.environ if environ is None else environ).get(ENVIRONMENT_VARIABLE, "")
    if value.strip():
        return _parse(value)
    if _launched_ranks() > 1:
        return PoolChoice("mpi")
    return PoolChoice("threads")


def make_chosen_pool(
    choice: PoolChoice,
    dummy: Callable[..., Any],
    threads: Callable[..., Any],
    mpi: Callable[..., Any],
    seed: int,
    mpi_spawn: Callable[..., Any] | None = None,
) -> Any:
    """Makes the pool of ``choice`` with the given constructors (scatterpool's own, or pyMOR-facing ones).

    ``mpi_spawn(num_workers, seed=seed)`` makes the ``mpi-spawn:N`` pool; without it that choice is a ValueError.
    """
    if choice.kind == "dummy":
        return dummy(seed=seed)
    if choice.kind == "threads":
        return threads(choice.num_workers, seed=seed)
    if choice.kind == "mpi-spawn":
        if mpi_spawn is None:
            raise ValueError(f"{ENVIRONMENT_VARIABLE}=mpi-spawn:N is not available for these pools")
        return mpi_spawn(choice.num_workers, seed=seed)
    return mpi(seed=seed)


def new_pool(*, seed: int = 0) -> Any:
    """A pool for this program: ``MPIPool`` under an MPI launch of several ranks, else a ``ThreadPool``.

    * Started as ``mpiexec -n K python -m scatterpool.mpi script.py`` with
      ``K > 1``: an ``MPIPool`` of the ``K`` ranks.
    * Otherwise: a ``ThreadPool`` with one worker per CPU this process may
      use (its CPU affinity).
    * The environment variable ``SCATTERPOOL_POOL`` overrides this:
      ``dummy`` (a :class:`~scatterpool.DummyPool`), ``threads`` (as the
      default), ``threads:N`` (``N`` workers), ``mpi`` (an ``MPIPool``,
      one worker when not launched on several ranks) or ``mpi-spawn:N``
      (``MPIPool.spawn(N)``: this process and ``N - 1`` spawned worker
      processes, no ``mpiexec`` needed).

    Args:
        seed: seeds :func:`~scatterpool.worker_rng` on each worker.

    Raises:
        ValueError: ``SCATTERPOOL_POOL`` holds another value (the message names the accepted ones).
    """
    from ._pools import DummyPool, ThreadPool

    def mpi_pool(seed: int) -> Any:
        from .mpi._pool import MPIPool

        return MPIPool(seed=seed)

    def mpi_spawn_pool(num_workers: int, seed: int) -> Any:
        from .mpi._pool import MPIPool

        return MPIPool.spawn(num_workers, seed=seed)

    return make_chosen_pool(choose_pool(), DummyPool, ThreadPool, mpi_pool, seed, mpi_spawn_pool)
