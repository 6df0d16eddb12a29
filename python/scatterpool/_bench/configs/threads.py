"""ThreadPool(2) beside concurrent.futures.ThreadPoolExecutor(2) and plain Python: dispatch, map, kernels.

Targets: apply and apply_only(f, 1) ratio <= 0.25 against the executor's pattern; map per item <= 3x
the serial list comprehension; a GIL-releasing kernel on 2 workers >= 1.8x the throughput of 1
(the memory-bound one is limited by the machine's memory bandwidth on 2 threads).
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

import scatterpool as sp

from .. import timing as T
from ..options import Options
from ..record import Record, Target
from ..work import f, fro_norm, g, gram, make_array


def tpe_apply(ex: cf.ThreadPoolExecutor, fn: Callable[[], Any], k: int = 2) -> list[Any]:
    """The apply pattern on an executor: one submit per worker, wait for all, results in order."""
    return [fu.result() for fu in [ex.submit(fn) for _ in range(k)]]


def run_chunk(fn: Callable[[Any], Any], r: Any) -> list[Any]:
    return [fn(x) for x in r]


def tpe_chunked_map(ex: cf.ThreadPoolExecutor, fn: Callable[[Any], Any], seq: Any, k: int = 2) -> list[Any]:
    """What a user writes by hand: k contiguous chunks, one future each, concatenated."""
    offsets = sp.even_split(len(seq), k)
    out: list[Any] = []
    for fu in [ex.submit(run_chunk, fn, seq[a:b]) for a, b in itertools.pairwise(offsets)]:
        out.extend(fu.result())
    return out


def _dispatch(rec: Record, opts: Options, ex: cf.ThreadPoolExecutor) -> None:
    kw: dict[str, Any] = {"target_s": opts.target_s}
    with sp.ThreadPool(2) as pool:
        rec.check(pool.apply(sp.worker_index) == [0, 1], "ThreadPool(2): apply runs on workers 0 and 1")
        rec.check(tpe_apply(ex, f) == [None, None], "ThreadPoolExecutor(2): apply pattern")
        ns = {"pool": pool, "ex": ex, "f": f, "tpe_apply": tpe_apply}
        keys = ["tpe_apply", "apply", "tpe_only", "only1", "only0"]
        timers = [
            T.Timer("ThreadPoolExecutor(2): [fu.result() for fu in [submit(f), submit(f)]]", "tpe_apply(ex, f)",
                    ns, **kw),
            T.Timer("ThreadPool(2): apply(f)", "pool.apply(f)", ns, **kw),
            T.Timer("ThreadPoolExecutor(2): submit(f).result()", "ex.submit(f).result()", ns, **kw),
            T.Timer("ThreadPool(2): apply_only(f, 1)  (the other thread)", "pool.apply_only(f, 1)", ns, **kw),
            T.Timer("ThreadPool(2): apply_only(f, 0)  (the calling thread)", "pool.apply_only(f, 0)", ns, **kw),
        ]
        for key, r in zip(keys, T.measure_together(timers, opts.repeat), strict=True):
            rec.add(key, r, pool="ThreadPoolExecutor(2)" if key.startswith("tpe") else "ThreadPool(2)")
    rec.compare("ThreadPool(2) apply(f)", "apply", "tpe_apply", Target("ratio<=", 0.25))
    rec.compare("ThreadPool(2) apply_only(f, 1)", "only1", "tpe_only", Target("ratio<=", 0.25))
    rec.compare("ThreadPool(2) apply_only(f, 0) (info)", "only0", "tpe_only")


def _map(rec: Record, opts: Options, ex: cf.ThreadPoolExecutor) -> None:
    n = opts.map_items
    rng = range(n)
    kw: dict[str, Any] = {"target_s": opts.target_s, "per_call_items": n}
    with sp.ThreadPool(2) as pool:
        rec.check(pool.map(g, rng) == list(rng), "ThreadPool(2): map result in input order")
        rec.check(tpe_chunked_map(ex, g, rng) == list(rng), "ThreadPoolExecutor(2): hand-chunked map")
        ns = {"pool": pool, "ex": ex, "g": g, "rng": rng, "tpe_chunked_map": tpe_chunked_map}
        keys = ["serial", "tpe_chunked", "tpe_map", "map"]
        timers = [
            T.Timer(f"serial [g(x) for x in range({n})], per item", "[g(x) for x in rng]", ns, **kw),
            T.Timer("ThreadPoolExecutor(2): hand-chunked map, 2 futures, per item", "tpe_chunked_map(ex, g, rng)",
                    ns, **kw),
            T.Timer("ThreadPoolExecutor(2): list(executor.map(g, r)), per item", "list(ex.map(g, rng))", ns,
                    per_call_items=n, number=1, warmup=1),
            T.Timer(f"ThreadPool(2): map(g, range({n})), per item", "pool.map(g, rng)", ns, **kw),
        ]
        for key, r in zip(keys, T.measure_together(timers, opts.repeat), strict=True):
            rec.add(key, r)
    rec.compare("ThreadPool(2) map per item", "map", "serial", Target("ratio<=", 3.0))
    rec.compare("ThreadPool(2) map per item (info)", "map", "tpe_map")
    rec.compare("ThreadPool(2) map per item (info)", "map", "tpe_chunked")


def _kernels(rec: Record, opts: Options) -> None:
    A = make_array(opts.kernel_rows, 500)
    A /= A.size                                        # keeps U^T U well inside float range
    G, nrm = A.T @ A, float(np.linalg.norm(A))
    pools = {k: sp.ThreadPool(k) for k in (1, 2)}
    parts = {k: pool.scatter_array(A, copy=True) for k, pool in pools.items()}
    timers, keys = [], []
    for k, pool in pools.items():
        rec.check(np.allclose(sum(pool.apply(gram, U=parts[k])), G), f"ThreadPool({k}): Gram blocks sum to A^T A")
        rec.check(bool(np.isclose(np.sqrt(sum(x * x for x in pool.apply(fro_norm, U=parts[k]))), nrm)),
                  f"ThreadPool({k}): norms")
    for name, fn, nbytes in (("gram", gram, None), ("norm", fro_norm, A.nbytes)):
        for k, pool in pools.items():
            stmt = f"pool.apply({fn.__name__}, U=ro)"
            timers.append(T.Timer(f"ThreadPool({k}): {stmt}", stmt, {"pool": pool, fn.__name__: fn, "ro": parts[k]},
                                  nbytes=nbytes, target_s=2 * opts.target_s))
            keys.append(f"{name}{k}")
    for key, r in zip(keys, T.measure_together(timers, opts.repeat), strict=True):
        rec.add(key, r)
    for k, pool in pools.items():
        parts[k].remove()
        pool.close()
    rec.compare(f"kernel U^T U on {opts.kernel_rows}x500, 2 workers", "gram2", "gram1", Target("speedup>=", 1.8))
    rec.compare(f"kernel np.linalg.norm on {opts.kernel_rows}x500, 2 workers (memory-bound)", "norm2", "norm1",
                Target("speedup>=", 1.8))


def run(rec: Record, opts: Options) -> None:
    with cf.ThreadPoolExecutor(2) as ex:
        _dispatch(rec, opts, ex)
        _map(rec, opts, ex)
    _kernels(rec, opts)
