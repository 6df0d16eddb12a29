"""MPIPool beside raw mpi4py and pyMOR's MPIPool (where installed), on the ranks of one launch.

- scatter_array of N x 1000 float64 per size, ``copy=True`` and ``copy=False``, timed on rank 0
  until every rank stored its part (``remove()`` not timed), interleaved with raw ``Scatterv``
  into a receive buffer allocated once and reused (the target's anchor: ratio <= 1.25, i.e. at
  least 0.8x its GB/s, at the smallest and the largest size) and into a fresh buffer per call.
  ``copy=True`` is repeated as a user's loop repeats it (the parts removed before the next scatter
  go to each rank's buffer cache, and the next parts reuse them; the notes say what the caches
  held), and again with the buffer cache off on every rank (fresh receive buffers);
- the apply(f) round trip beside raw bcast + f + gather (ratio <= 1.5) and map per item;
- pyMOR's MPIPool: scatter_array (copy=True; lazy on the sending side only) at every size, apply
  and map per item (target: ours <= 0.5x pyMOR's map).
"""

from __future__ import annotations

import gc
import time
from typing import Any

import numpy as np

import scatterpool as sp
from scatterpool.mpi import MPIPool

from ..mpi_roles import (
    ARRAYS,
    drop_receive_buffers,
    process_time_all,
    pymor_rows,
    raw_scatterv,
    restore_mpi4py_pickle,
)
from ..options import Options
from ..record import SIZE_PLOT_COPY, SIZE_PLOT_VIEW, Record, Target
from ..work import DIM, g, make_array, rows_of, size_label
from .mpi_ranks import dispatch, loop


def ours_scatter(pool: Any, n: int, copy: bool) -> float:
    A = ARRAYS[n]
    gc.collect()
    t0 = time.perf_counter()
    R = pool.scatter_array(A, copy=copy)
    t = time.perf_counter() - t0
    R.remove()
    return t


def cache_cap() -> int:
    return sp.buffer_cache().max_bytes


def restore_cache_cap(caps: list[int]) -> None:
    sp.set_buffer_cache(caps[sp.worker_index()])


def cache_held(pool: Any) -> str:
    """What every rank's buffer cache holds, as text."""
    stats = pool.apply(sp.buffer_cache)
    return ", ".join(f"rank {r}: {size_label(st.held_bytes)} in {st.held_buffers}" for r, st in enumerate(stats))


def check_scatter(rec: Record, pool: Any, n: int, copy: bool) -> None:
    A = ARRAYS[n]
    offs = sp.even_split(n, len(pool))
    with pool.scatter_array(A, copy=copy) as R:
        got = pool.apply(lambda U: (U.shape, float(U.sum())), U=R)
    rec.check(all(got[w][0] == (offs[w + 1] - offs[w], DIM) for w in range(len(pool)))
              and bool(np.isclose(sum(x[1] for x in got), A.sum())),
              f"MPIPool: scatter_array({size_label(A.nbytes)}, copy={copy}) gives each rank its rows")


def scatter(rec: Record, opts: Options, pool: Any) -> dict[int, int]:
    k = len(pool)
    reps = {}
    for mb in sorted(opts.sizes_mb):
        n = rows_of(mb)
        ARRAYS[n] = make_array(n)
        nbytes = ARRAYS[n].nbytes
        reps[n] = opts.repeat_big if nbytes >= 400e6 else opts.repeat
        label = size_label(nbytes)
        _, ok = pool.apply(raw_scatterv, n, 1, False, 1)[0]       # warm-up, and checks
        rec.check(ok, f"raw Scatterv {label}")
        for copy in (True, False):
            check_scatter(rec, pool, n, copy)
        rows: dict[str, list[float]] = {"reused": [], "fresh": [], "copy": [], "nocache": [], "view": []}
        caps = pool.apply(cache_cap)
        held = ""
        for _ in range(reps[n]):
            rows["reused"] += pool.apply(raw_scatterv, n, 1, False, 0)[0][0]
            rows["fresh"] += pool.apply(raw_scatterv, n, 1, True, 0)[0][0]
            rows["copy"].append(ours_scatter(pool, n, True))
            held = cache_held(pool)  # between two repeated scatters
            pool.apply(sp.set_buffer_cache, 0)
            rows["nocache"].append(ours_scatter(pool, n, True))
            pool.apply(restore_cache_cap, caps)
            ours_scatter(pool, n, True)  # the scatter before the next repeated one
            rows["view"].append(ours_scatter(pool, n, False))
        common: dict[str, Any] = {"x": nbytes, "nbytes": nbytes}
        rec.add_times(f"reused:{mb}", f"raw mpi4py Scatterv, reused buffer ({label}, {k} ranks)", rows["reused"],
                      pool="mpi4py", plot=SIZE_PLOT_COPY, line=f"raw Scatterv, reused buffer ({k} ranks)",
                      anchor_line=True, **common)
        rec.add_times(f"fresh:{mb}", f"raw mpi4py Scatterv, fresh buffer ({label}, {k} ranks)", rows["fresh"],
                      pool="mpi4py", plot=SIZE_PLOT_COPY, line=f"raw Scatterv, fresh buffer ({k} ranks)",
                      anchor_line=True, **common)
        rec.add_times(f"copy:{mb}", f"MPIPool ({k} ranks): scatter_array(A {label})", rows["copy"],
                      pool=f"MPIPool({k})", plot=SIZE_PLOT_COPY, line=f"MPIPool({k}) copy=True", **common)
        rec.add_times(f"nocache:{mb}", f"MPIPool ({k} ranks): scatter_array(A {label}), buffer cache off",
                      rows["nocache"], pool=f"MPIPool({k})", plot=SIZE_PLOT_COPY,
                      line=f"MPIPool({k}) copy=True, buffer cache off", **common)
        rec.note(f"buffer caches between repeated scatters of {label}: {held}")
        rec.add_times(f"view:{mb}", f"MPIPool ({k} ranks): scatter_array(A {label}, copy=False)", rows["view"],
                      pool=f"MPIPool({k})", plot=SIZE_PLOT_VIEW, line=f"MPIPool({k}) copy=False", **common)
        ends = mb in (min(opts.sizes_mb), max(opts.sizes_mb))
        rec.compare(f"MPIPool ({k} ranks) copy=True {label}", f"copy:{mb}", f"reused:{mb}",
                    Target("ratio<=", 1.25) if ends else None)
        rec.compare(f"MPIPool ({k} ranks) copy=True {label} (info)", f"copy:{mb}", f"fresh:{mb}")
        rec.compare(f"MPIPool ({k} ranks) copy=True {label}, buffer cache off (info)", f"nocache:{mb}",
                    f"reused:{mb}")
        rec.compare(f"MPIPool ({k} ranks) copy=False {label} (info)", f"view:{mb}", f"reused:{mb}")
        pool.apply(drop_receive_buffers)
        pool.apply(sp.trim_buffer_cache)  # the next size starts from empty caches
        gc.collect()
    return reps


def small(rec: Record, opts: Options, pool: Any) -> None:
    k = len(pool)
    items = 1000
    loops = 20 if opts.quick else 100
    per_item = []
    pool.map(g, range(items))
    for _ in range(opts.repeat):
        per_item.append(loop(lambda: pool.map(g, range(items)), loops) / items)
    rec.check(pool.map(g, range(items)) == list(range(items)), f"MPIPool ({k} ranks): map result in input order")
    rec.add_times("map", f"MPIPool ({k} ranks): map(g, range({items})), per item", per_item, per="item",
                  pool=f"MPIPool({k})")


def pymor(rec: Record, opts: Options, pool: Any, reps: dict[int, int]) -> None:
    k = len(pool)
    calls = 50 if opts.quick else 1000
    # pyMOR pickles the array, several copies of it at once on rank 0: at 4 GB that exceeds this machine's memory
    sizes = sorted(opts.sizes_mb)[:1] if opts.quick else [mb for mb in sorted(opts.sizes_mb) if mb <= 800]
    out = pool.apply(pymor_rows, [rows_of(mb) for mb in sizes], reps, calls, 5 if opts.quick else 100,
                     opts.repeat)[0]
    for what, ok in out["checks"]:
        rec.check(ok, what)
    for mb in sizes:
        n = rows_of(mb)
        label = size_label(n * DIM * 8)
        rec.add_times(f"pymor_scatter:{mb}", f"pyMOR MPIPool ({k} ranks): scatter_array(U {label}, copy=True)",
                      out["scatter"][n], nbytes=n * DIM * 8, pool="pyMOR MPIPool", plot=SIZE_PLOT_COPY,
                      line=f"pyMOR MPIPool copy=True ({k} ranks)", x=n * DIM * 8, anchor_line=True)
        rec.compare(f"MPIPool ({k} ranks) copy=True {label} vs pyMOR", f"copy:{mb}", f"pymor_scatter:{mb}")
    rec.add_times("pymor_apply", f"pyMOR MPIPool ({k} ranks): apply(f)", out["small"]["apply"],
                  pool="pyMOR MPIPool")
    rec.add_times("pymor_map", f"pyMOR MPIPool ({k} ranks): map(g, list of 1000), per item", out["small"]["map"],
                  per="item", pool="pyMOR MPIPool")
    rec.compare(f"MPIPool ({k} ranks) apply(f) vs pyMOR", f"apply{k}", "pymor_apply")
    rec.compare(f"MPIPool ({k} ranks) map per item vs pyMOR", "map", "pymor_map", Target("ratio<=", 0.5))


def have_pymor() -> bool:
    try:
        import pymor.tools.mpi  # noqa: F401  (imports pyMOR, which swaps mpi4py's pickle for its own ...)
    except ImportError:
        return False
    restore_mpi4py_pickle()  # ... which the raw rows must not use
    return True


def run(rec: Record, opts: Options) -> None:
    with MPIPool() as pool:
        rec.measure_load_with(lambda: process_time_all(pool))
        with_pymor = have_pymor()
        reps = scatter(rec, opts, pool)
        dispatch(rec, opts, pool)
        small(rec, opts, pool)
        if with_pymor:
            pymor(rec, opts, pool, reps)
        else:
            rec.note("pyMOR not installed: no pyMOR MPIPool rows (the bench extra brings pyMOR)")
        rec.stop_load()
    ARRAYS.clear()
