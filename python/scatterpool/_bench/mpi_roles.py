"""What every MPI rank runs for the raw mpi4py and pyMOR anchors, sent to the ranks by ``pool.apply``.

The raw rows run the same timed loop on all ranks of ``MPI.COMM_WORLD``; for pyMOR, rank 0 drives
``pymor.parallel.mpi.MPIPool`` while the other ranks run pyMOR's event loop until rank 0 calls
``pymor.tools.mpi.quit()``. Rank 0's array is kept in this module (``ARRAYS``) so that it is not
pickled into the calls.
"""

from __future__ import annotations

import gc
import itertools
import time
from typing import Any

import numpy as np

import scatterpool as sp

from .work import DIM, f, g

ARRAYS: dict[int, np.ndarray[Any, Any]] = {}      # rank 0: rows -> the array to scatter
RECEIVE_BUFFERS: dict[int, np.ndarray[Any, Any]] = {}  # every rank: rows -> the reused receive buffer


def length(U: Any) -> int:
    return len(U)


def raw_scatterv(n: int, reps: int, fresh: bool, warm: int) -> tuple[list[float], bool | None]:
    """All ranks: raw Scatterv of rank 0's n x DIM rows, into a reused or a fresh receive buffer."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    size, rank = comm.Get_size(), comm.Get_rank()
    offsets = sp.even_split(n, size)
    counts = [(b - a) * DIM for a, b in itertools.pairwise(offsets)]
    displs = [a * DIM for a in offsets[:-1]]
    sendbuf = [ARRAYS[n], counts, displs, MPI.DOUBLE] if rank == 0 else None
    # "reused": one buffer for every call of the run, as an application that owns its buffer keeps it
    recv = np.empty(counts[rank]) if fresh else RECEIVE_BUFFERS.setdefault(n, np.empty(counts[rank]))
    times = []
    for i in range(reps + warm):
        if fresh:
            recv = np.empty(counts[rank])
        comm.Barrier()
        t0 = time.perf_counter()
        comm.Scatterv(sendbuf, recv, root=0)
        comm.Barrier()
        if i >= warm:
            times.append(time.perf_counter() - t0)
    total: float | None = comm.reduce(float(recv.sum()), root=0)
    return times, (bool(np.isclose(total, ARRAYS[n].sum())) if total is not None else None)


def drop_receive_buffers() -> None:
    """All ranks: let go of the reused receive buffers (at the end of a size)."""
    RECEIVE_BUFFERS.clear()


def raw_round_trip(k: int, loops: int) -> list[float]:
    """All ranks: the raw "apply" round trip, bcast(command) + f() + gather(result); per call."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    cmd = {"op": "apply", "args": (), "kwargs": {}}
    per_call = []
    for _ in range(loops):
        comm.Barrier()
        t0 = time.perf_counter()
        for _ in range(k):
            c = comm.bcast(cmd if rank == 0 else None, root=0)
            comm.gather(f(c), root=0)
        per_call.append((time.perf_counter() - t0) / k)
    return per_call


def restore_mpi4py_pickle() -> None:
    """pyMOR swaps mpi4py's pickle for its own when imported; the raw rows use mpi4py's."""
    import pickle

    from mpi4py import MPI

    MPI.pickle.__init__(pickle.dumps, pickle.loads, pickle.HIGHEST_PROTOCOL)  # type: ignore[misc]


def pymor_rows(sizes_rows: list[int], reps: dict[int, int], small_k: int, map_k: int,
               loops: int) -> dict[str, Any] | None:
    """Rank 0 times pyMOR's MPIPool (scatter_array per size, apply, map); the others serve it."""
    import pymor.core.pickle
    from mpi4py import MPI
    from pymor.tools import mpi

    MPI.pickle.__init__(pymor.core.pickle.dumps, pymor.core.pickle.loads,  # type: ignore[misc]
                        pymor.core.pickle.PROTOCOL)
    rank = MPI.COMM_WORLD.Get_rank()
    try:
        if rank != 0:
            mpi.event_loop()
            return None
        mpi.finished = False
        from pymor.parallel.mpi import MPIPool as PymorMPIPool
        from pymor.vectorarrays.numpy import NumpyVectorSpace

        out: dict[str, Any] = {"scatter": {}, "small": {}, "checks": []}
        pool = PymorMPIPool()
        for n in sizes_rows:
            U = NumpyVectorSpace(DIM).from_numpy(ARRAYS[n].T)
            times = []
            for i in range(reps[n] + 1):
                gc.collect()
                t0 = time.perf_counter()
                R = pool.scatter_array(U, copy=True)
                t = time.perf_counter() - t0
                if i == 0:
                    lengths = pool.apply(length, U=R)
                    out["checks"].append((f"pyMOR MPIPool scatter_array of {n} rows", sum(lengths) == n))
                del R
                if i:
                    times.append(t)
            out["scatter"][n] = times
            del U

        def loop(fn: Any, k: int) -> list[float]:
            per = []
            for i in range(loops + 1):
                t0 = time.perf_counter()
                for _ in range(k):
                    fn()
                if i:
                    per.append((time.perf_counter() - t0) / k)
            return per

        items = list(range(1000))
        out["small"]["apply"] = loop(lambda: pool.apply(f), small_k)
        out["small"]["map"] = [t / len(items) for t in loop(lambda: pool.map(g, items), map_k)]
        out["checks"].append(("pyMOR MPIPool map", pool.map(g, items) == items))
        pool = None  # its remote objects go before pyMOR's event loop ends
        gc.collect()
        return out
    finally:
        if rank == 0:
            mpi.quit()
        restore_mpi4py_pickle()


def process_time_all(pool: Any) -> float:
    """CPU seconds of every rank's process (the benchmark's own CPU, for the load of others)."""
    return float(sum(pool.apply(time.process_time)))
