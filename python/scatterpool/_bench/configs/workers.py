"""apply(f) round trip against the number of threads: ThreadPool(k) beside ThreadPoolExecutor(k).

For k = 1, 2, 4, 8 one pool at a time (idle threads of another pool would compete for the CPUs),
timed interleaved with the executor's apply pattern (k submits, wait for all) and a bare Python
call. Worker counts above the CPUs this process may use are marked oversubscribed.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any

import scatterpool as sp

from .. import timing as T
from ..options import Options
from ..record import WORKERS_PLOT, Record
from ..work import f
from .threads import tpe_apply

COUNTS = (1, 2, 4, 8)


def run(rec: Record, opts: Options) -> None:
    cpus = T.nproc()
    for k in COUNTS:
        over = k > cpus
        with sp.ThreadPool(k) as pool, cf.ThreadPoolExecutor(k) as ex:
            rec.check(pool.apply(sp.worker_index) == list(range(k)), f"ThreadPool({k}): apply on every worker")
            ns = {"pool": pool, "ex": ex, "f": f, "k": k, "tpe_apply": tpe_apply, "a": (), "kw": {}}
            timers = [
                T.Timer(f"ThreadPool({k}): apply(f)", "pool.apply(f)", ns, target_s=opts.target_s),
                T.Timer(f"ThreadPoolExecutor({k}): {k} x submit(f), wait all", "tpe_apply(ex, f, k)", ns,
                        target_s=opts.target_s),
                T.Timer(f"bare Python calls [f(*a, **kw) for _ in range({k})]", "[f(*a, **kw) for _ in range(k)]",
                        ns, target_s=opts.target_s),
            ]
            ours, tpe, bare = T.measure_together(timers, opts.repeat)
        tags: dict[str, Any] = {"plot": WORKERS_PLOT, "x": k, "oversubscribed": over}
        rec.add(f"apply{k}", ours, pool=f"ThreadPool({k})", line="ThreadPool apply(f)", **tags)
        rec.add(f"tpe{k}", tpe, pool=f"ThreadPoolExecutor({k})", line="ThreadPoolExecutor submit x k + wait",
                anchor_line=True, **tags)
        rec.add(f"bare{k}", bare, pool="Python", line="bare Python call x k", anchor_line=True, **tags)
        mark = " (oversubscribed)" if over else ""
        rec.compare(f"ThreadPool({k}) apply(f){mark}", f"apply{k}", f"tpe{k}")
