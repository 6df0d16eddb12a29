"""scatter_array against data size on DummyPool and ThreadPool(2), beside NumPy's copies.

float64 arrays of N x 1000 rows. ``copy=False`` (views) at every size in one interleaved
measurement: the cost should not grow with the size (target t(size) / t(8 MB) <= 1.2). ``copy=True``
per size, interleaved with the machine's limits: ``np.copyto`` into fresh memory (allocation, page
faults, copy, free: what a new copy costs) and into a warm buffer, on 1 and 2 threads, and pyMOR's
DummyPool ``scatter_array(copy=True)`` with its copy-on-write copy forced (its eager copy), where
installed. Our ``copy=True`` rows come twice: repeated scatters as a user's loop makes them (the
previous scatter's parts freed into the buffer cache just before, so the copies go into warm
memory; each row says what the cache held between scatters) and the same with the buffer cache
off (every part fresh memory). Targets: ThreadPool(2) repeated >= 3x a fresh single-threaded copy at
the largest size the buffer cache can hold (its cap is 1/8 of the memory), and >= 2x with the cache
off at the largest size; DummyPool not slower than pyMOR's eager copy at the largest size.
Every row includes ``remove()``; fresh copies are freed inside the timed statement.
"""

from __future__ import annotations

import concurrent.futures as cf
import gc
from typing import Any

import numpy as np

import scatterpool as sp

from .. import timing as T
from ..options import Options
from ..record import SIZE_PLOT_COPY, SIZE_PLOT_VIEW, Record, Target
from ..work import f, make_array, rows_of, size_label

POOLS = ("DummyPool", "ThreadPool(2)")


def _check(rec: Record, pool: Any, name: str, A: Any) -> None:
    with pool.scatter_array(A, copy=False) as ro:
        parts = pool.apply(f, obj=ro)
        rec.check(all(np.shares_memory(p, A) for p in parts) and np.array_equal(np.concatenate(parts), A),
                  f"{name}: scatter_array(copy=False) gives views of A, in order")
    with pool.scatter_array(A, copy=True) as ro:
        parts = pool.apply(f, obj=ro)
        rec.check(not any(np.shares_memory(p, A) for p in parts) and np.array_equal(np.concatenate(parts), A),
                  f"{name}: scatter_array(copy=True) gives equal copies, in order")
    del parts


def _views(rec: Record, opts: Options, pools: dict[str, Any], arrays: dict[float, Any]) -> None:
    timers, keys = [], []
    for name, pool in pools.items():
        for mb, A in arrays.items():
            timers.append(T.Timer(f"{name}: scatter_array(A {size_label(A.nbytes)}, copy=False) + remove()",
                                  "pool.scatter_array(A, copy=False).remove()", {"pool": pool, "A": A},
                                  target_s=opts.target_s))
            keys.append((name, mb))
    for (name, mb), r in zip(keys, T.measure_together(timers, opts.repeat), strict=True):
        rec.add(f"{name}:view:{mb}", r, pool=name, plot=SIZE_PLOT_VIEW, line=f"{name} copy=False",
                x=arrays[mb].nbytes)
    smallest = min(arrays)
    for name in pools:
        for mb, A in arrays.items():
            if mb != smallest:
                rec.compare(f"{name} copy=False {size_label(A.nbytes)} vs {size_label(arrays[smallest].nbytes)}",
                            f"{name}:view:{mb}", f"{name}:view:{smallest}", Target("ratio<=", 1.2))


def _pymor_forced_cow(A: Any) -> tuple[Any, Any] | None:
    """pyMOR's DummyPool and the same vectors as a NumpyVectorArray (columns of A.T: no copy)."""
    try:
        from pymor.parallel.dummy import DummyPool as PymorDummyPool
        from pymor.vectorarrays.numpy import NumpyVectorSpace
    except ImportError:
        return None
    return PymorDummyPool(), NumpyVectorSpace(A.shape[1]).from_numpy(A.T)


def _copies(rec: Record, opts: Options, pools: dict[str, Any], mb: float, A: Any, ex: cf.ThreadPoolExecutor,
            largest: bool, largest_cached: bool) -> None:
    big = A.nbytes >= 400e6
    m: dict[str, Any] = {"number": 1, "warmup": 1} if big else {"target_s": opts.target_s}
    halves = np.array_split(A, 2)
    buf = np.empty_like(A)
    buf.fill(0.0)                                       # the warm buffer: every page touched before
    bufs = np.array_split(buf, 2)

    def copyto_2thr(ex: cf.ThreadPoolExecutor = ex, bufs: list[Any] = bufs, halves: list[Any] = halves) -> None:
        for fu in [ex.submit(np.copyto, d, s) for d, s in zip(bufs, halves, strict=True)]:
            fu.result()

    def copy_2thr(ex: cf.ThreadPoolExecutor = ex, halves: list[Any] = halves) -> list[Any]:
        return [fu.result() for fu in [ex.submit(np.copy, p) for p in halves]]

    ns = {"A": A, "buf": buf, "copyto": np.copyto, "empty_like": np.empty_like, "copyto_2thr": copyto_2thr,
              "copy_2thr": copy_2thr}
    label = size_label(A.nbytes)
    anchors = [
        ("fresh1", "np.copyto into fresh memory, 1 thread", "d = empty_like(A); copyto(d, A); del d"),
        ("fresh2", "np.copy of halves into fresh memory, 2 threads", "copy_2thr()"),
        ("warm1", "np.copyto into a warm buffer, 1 thread", "copyto(buf, A)"),
        ("warm2", "np.copyto into a warm buffer, 2 threads", "copyto_2thr()"),
    ]
    timers = [T.Timer(f"{what} ({label})", stmt, ns, nbytes=A.nbytes, **m) for _, what, stmt in anchors]
    keys = [(key, what, "NumPy") for key, what, _ in anchors]
    cache_cap = sp.buffer_cache().max_bytes
    held: dict[str, list[int]] = {}
    for name, pool in pools.items():
        ours = {"pool": pool, "A": A}
        held[name] = []

        def warm_cache(n: int, pool: Any = pool) -> dict[str, Any]:
            if n:  # the scatter before: its parts' buffers go to the cache when removed
                pool.scatter_array(A, copy=True).remove()
            return {}

        def note_held(_ns: dict[str, Any], into: list[int] = held[name]) -> None:
            into.append(sp.buffer_cache().held_bytes)

        def cache_off(n: int) -> dict[str, Any]:
            if n:  # not when the Timer asks setup(0) for names
                sp.set_buffer_cache(0)
            return {}

        def cache_on(_ns: dict[str, Any]) -> None:
            sp.set_buffer_cache(cache_cap)

        timers.append(T.Timer(f"{name}: scatter_array(A {label}, copy=True) + remove(), repeated",
                              "pool.scatter_array(A, copy=True).remove()", ours, nbytes=A.nbytes,
                              setup=warm_cache, teardown=note_held, **m))
        keys.append((name, f"{name} copy=True", name))
        timers.append(T.Timer(f"{name}: scatter_array(A {label}, copy=True) + remove(), buffer cache off",
                              "pool.scatter_array(A, copy=True).remove()", ours, nbytes=A.nbytes,
                              setup=cache_off, teardown=cache_on, **m))
        keys.append((f"{name}:nocache", f"{name} copy=True, buffer cache off", name))
    pymor = _pymor_forced_cow(A)
    if pymor is not None:
        ppool, U = pymor
        ro = ppool.scatter_array(U, copy=True)
        rec.check(np.shares_memory(ro.obj.to_numpy(), A), f"pyMOR DummyPool: scatter_array({label}, copy=True) is lazy")
        ro.obj._copy_impl_if_multiple_refs()
        rec.check(not np.shares_memory(ro.obj.to_numpy(), A), f"pyMOR DummyPool: the forced copy of {label} copies")
        ro.remove()
        del ro
        # the copy pyMOR makes at the first in-place write (the call it makes there), forced right away
        timers.append(T.Timer(f"pyMOR DummyPool: scatter_array(U {label}, copy=True) + forced COW copy + remove()",
                              "ro = pool.scatter_array(U, copy=True); ro.obj._copy_impl_if_multiple_refs(); "
                              "ro.remove(); del ro", {"pool": ppool, "U": U}, nbytes=A.nbytes, **m))
        keys.append(("pymor", "pyMOR DummyPool copy=True (eager)", "pyMOR DummyPool"))
    results = T.measure_together(timers, opts.repeat_big if big else opts.repeat)
    for (key, line, pool_name), r in zip(keys, results, strict=True):
        if key in held:
            r.note = f"buffer cache between scatters: {size_label(held[key][-1])} of {size_label(cache_cap)}"
        rec.add(f"{key}:copy:{mb}", r, pool=pool_name, plot=SIZE_PLOT_COPY, line=line, x=A.nbytes,
                anchor_line=key not in pools and not key.endswith(":nocache"))
    rec.note(f"buffer cache between repeated scatters of {label} (cap {size_label(cache_cap)}): "
             + ", ".join(f"{name} {size_label(held[name][-1])}" for name in pools))
    del timers, ns, buf, bufs, halves, copyto_2thr, copy_2thr, pymor
    sp.trim_buffer_cache()  # the next size starts from an empty cache
    gc.collect()

    rec.compare(f"ThreadPool(2) copy=True {label}", f"ThreadPool(2):copy:{mb}", f"fresh1:copy:{mb}",
                Target("speedup>=", 3.0) if largest_cached else None)
    rec.compare(f"ThreadPool(2) copy=True {label}, buffer cache off", f"ThreadPool(2):nocache:copy:{mb}",
                f"fresh1:copy:{mb}", Target("speedup>=", 2.0) if largest else None)
    rec.compare(f"ThreadPool(2) copy=True {label} (info)", f"ThreadPool(2):copy:{mb}",
                f"warm2:copy:{mb}")
    rec.compare(f"DummyPool copy=True {label}, buffer cache off (info)", f"DummyPool:nocache:copy:{mb}",
                f"fresh1:copy:{mb}")
    if f"pymor:copy:{mb}" in rec.rows:
        rec.compare(f"DummyPool copy=True {label}", f"DummyPool:copy:{mb}", f"pymor:copy:{mb}",
                    Target("ratio<=", 1.0) if largest else None)
    else:
        rec.compare(f"DummyPool copy=True {label} (info)", f"DummyPool:copy:{mb}", f"fresh1:copy:{mb}")


def run(rec: Record, opts: Options) -> None:
    arrays = {mb: make_array(rows_of(mb)) for mb in opts.sizes_mb}
    pools = {"DummyPool": sp.DummyPool(), "ThreadPool(2)": sp.ThreadPool(2)}
    smallest = arrays[min(arrays)]
    cap = sp.buffer_cache().max_bytes
    cached = max((mb for mb, A in arrays.items() if A.nbytes <= cap), default=None)
    for name, pool in pools.items():
        _check(rec, pool, name, smallest)
    _views(rec, opts, pools, arrays)
    with cf.ThreadPoolExecutor(2) as ex:
        for mb in sorted(arrays):
            _copies(rec, opts, pools, mb, arrays[mb], ex, largest=mb == max(arrays), largest_cached=mb == cached)
    for pool in pools.values():
        pool.close()
    if _pymor_forced_cow(smallest[:1]) is None:
        rec.note("pyMOR not installed: no pyMOR DummyPool copy row (the bench extra brings pyMOR)")
