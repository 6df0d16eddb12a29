"""scatterpool on MPI: :class:`MPIPool`, the same pool across the ranks of an MPI launch.

Start a program with::

    mpiexec -n K python -m scatterpool.mpi script.py [args]

Rank 0 runs ``script.py``; ranks 1 .. K-1 serve its pools until the script
ends (then every rank exits with the script's status). In the script,
``MPIPool()`` has ``K`` workers, and rank 0 is worker 0 (as in pyMOR). Code
written for ``DummyPool`` or ``ThreadPool`` runs unchanged with the pool's
constructor swapped.

Two channels, as in mpi4py: array rows (``scatter_array`` of a scatterpool
``VectorArray``, a 2-D NumPy array or a pyMOR ``VectorArray``) move as raw
buffers with ``Scatterv``, straight from the array's memory; everything else
(pushed objects, lists, functions, arguments, results) is pickled, with
cloudpickle for what only exists in the script (its functions, lambdas,
closures, classes).

Faults: an exception on any rank is raised on rank 0 as itself (or as
:class:`RemoteError` naming its type when it cannot be rebuilt), with the
remote traceback text as its ``__cause__`` and a note naming the worker; the
pool stays usable. An argument that does not pickle raises :class:`SendError`
(a ``TypeError``) before anything is sent. ``push``, ``scatter_list`` and
``scatter_array`` do not wait for the workers: a worker that cannot store
what it was sent (its unpickling raises there) makes the pool's next command
that hears from it (a call, ``close()``) raise :class:`DeliveryError` naming
that push, and the handle is refused from then on. A rank that dies makes
rank 0 raise :class:`WorkerLostError` instead of hanging:

* within 0.2 s when its process was on the same host as the rank that
  watches it (each rank watches the pids of the ranks it waits for;
  ``SCATTERPOOL_MPI_WATCH_PIDS=0`` turns that off, say for ranks in other
  pid namespaces under the same host name);
* otherwise after ``timeout`` seconds without a sign of life, counted from
  the start of the wait: 60 by default, ``MPIPool(timeout=...)`` or the
  environment variable ``SCATTERPOOL_MPI_TIMEOUT``. A busy worker sends a
  sign of life every 0.25 s from a helper thread, which needs the GIL: a
  function that holds the GIL longer than the timeout looks lost.

Commands and replies travel along a binomial tree of the ranks (rank 0 sends
and receives ``ceil(log2 K)`` messages per call of K ranks), so a rank is
watched by its parent in the tree: a rank lost below one of rank 0's
children is reported up by its parent, and the error names it and the rank
that found it.

MPI cannot carry on without a rank, so the launcher then ends the job with
``MPI_Abort`` (exit status not 0). Note that MPICH's ``mpiexec`` itself ends
the whole job as soon as a rank exits early, unless it runs with
``-disable-auto-cleanup``; then rank 0 is killed rather than raising.
Ctrl-C interrupts rank 0 (the workers ignore it and finish what they run);
the pool stays usable.

Needs ``pip install 'scatterpool[mpi]'`` (mpi4py, the mpich wheel with its
``mpiexec``, cloudpickle).
"""

from __future__ import annotations

from typing import Any

from ._delivery import DeliveryError
from ._runtime import WorkerLostError
from ._serial import RemoteError, RemoteTraceback, SendError

__all__ = ["DeliveryError", "MPIPool", "RemoteError", "RemoteTraceback", "SendError", "WorkerLostError", "launched"]


def launched() -> bool:
    """Whether this process was started by ``python -m scatterpool.mpi``."""
    from . import _runtime

    rt = _runtime.current()
    return rt is not None and rt.launched


def __getattr__(name: str) -> Any:
    # MPIPool needs the compiled core; importing scatterpool.mpi alone does not.
    if name == "MPIPool":
        from ._pool import MPIPool

        return MPIPool
    raise AttributeError(f"module 'scatterpool.mpi' has no attribute {name!r}")
