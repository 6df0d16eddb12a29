"""MPIPool.apply(f) round trip beside raw mpi4py bcast + f + gather, on the ranks of one launch.

The suite launches it under ``mpiexec -n K`` for K = 1 .. 4; launches with more ranks than CPUs
are marked oversubscribed. Each loop of ours follows a loop of the raw round trip (interleaved).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from scatterpool.mpi import MPIPool

from .. import timing as T
from ..mpi_roles import process_time_all, raw_round_trip
from ..options import Options
from ..record import WORKERS_PLOT, Record, Target
from ..work import f


def loop(fn: Callable[[], Any], k: int) -> float:
    """Seconds per call of k calls."""
    t0 = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - t0) / k


def dispatch(rec: Record, opts: Options, pool: Any) -> None:
    k = len(pool)
    calls = 50 if opts.quick else 1000
    raw, ours = [], []
    rec.check(pool.apply(f, 7) == [7] * k, f"MPIPool ({k} ranks): apply(f) returns one result per rank")
    pool.apply(raw_round_trip, calls, 1)                       # warm-up
    loop(lambda: pool.apply(f), calls)
    for _ in range(opts.repeat):
        raw.append(pool.apply(raw_round_trip, calls, 1)[0][0])
        ours.append(loop(lambda: pool.apply(f), calls))
    over = k > T.nproc()
    tags: dict[str, Any] = {"plot": WORKERS_PLOT, "x": k, "oversubscribed": over}
    rec.add_times(f"raw_rt{k}", f"raw mpi4py bcast + f + gather ({k} ranks)", raw, pool="mpi4py",
                  line="raw mpi4py bcast + gather", anchor_line=True, **tags)
    rec.add_times(f"apply{k}", f"MPIPool ({k} ranks): apply(f)", ours, pool=f"MPIPool({k})",
                  line="MPIPool apply(f)", **tags)
    rec.compare(f"MPIPool ({k} ranks) apply(f)" + (" (oversubscribed)" if over else ""), f"apply{k}",
                f"raw_rt{k}", Target("ratio<=", 1.3))


def run(rec: Record, opts: Options) -> None:
    with MPIPool() as pool:
        rec.measure_load_with(lambda: process_time_all(pool))
        dispatch(rec, opts, pool)
        rec.stop_load()
