"""ThreadPool(2) beside dask.distributed in process: ``Client(processes=False)``, one worker, 2 threads.

Rows, each interleaved with ours: ``client.scatter(A)`` (the default ``hash=True`` tokenizes the
data, as a user's call would; in process nothing is serialized) beside ``scatter_array(A,
copy=False)`` and ``copy=True``; the round trip ``client.submit(f, pure=False).result()`` beside
``apply_only(f, 1)``; a map per item ``client.gather(client.map(g, r, pure=False))`` beside
``pool.map(g, r)``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import numpy as np

import scatterpool as sp

from .. import timing as T
from ..options import Options
from ..record import SIZE_PLOT_VIEW, Record
from ..work import f, g, make_array, rows_of, size_label


def run(rec: Record, opts: Options) -> None:
    # dask is optional and partly typed: its client is used as Any
    Client: Any = importlib.import_module("dask.distributed").Client
    logging.getLogger("distributed").setLevel(logging.ERROR)
    n_map = 100 if opts.quick else 1000                 # dask takes milliseconds per item
    rng = range(n_map)
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client, \
            sp.ThreadPool(2) as pool:
        rec.check(client.submit(f, 3, pure=False).result() == 3, "dask: submit round trip")
        rec.check(client.gather(client.map(g, rng, pure=False)) == list(rng), "dask: map result in order")
        ns = {"client": client, "pool": pool, "f": f, "g": g, "rng": rng}
        kw: dict[str, Any] = {"target_s": opts.target_s}
        timers = [
            T.Timer("dask Client(processes=False): submit(f, pure=False).result()",
                    "client.submit(f, pure=False).result()", ns, **kw),
            T.Timer("ThreadPool(2): apply_only(f, 1)", "pool.apply_only(f, 1)", ns, **kw),
            T.Timer(f"dask: gather(map(g, range({n_map}), pure=False)), per item",
                    "client.gather(client.map(g, rng, pure=False))", ns, per_call_items=n_map, number=1),
            T.Timer(f"ThreadPool(2): map(g, range({n_map})), per item", "pool.map(g, rng)", ns,
                    per_call_items=n_map, **kw),
        ]
        keys = ["dask_submit", "only1", "dask_map", "map"]
        for key, r in zip(keys, T.measure_together(timers, opts.repeat), strict=True):
            rec.add(key, r, pool="dask" if key.startswith("dask") else "ThreadPool(2)")
        rec.compare("ThreadPool(2) apply_only(f, 1) vs dask submit round trip", "only1", "dask_submit")
        rec.compare("ThreadPool(2) map per item vs dask map", "map", "dask_map")

        # dask's scatter hashes the data: the smallest sizes only
        for mb in sorted(opts.sizes_mb)[:1 if opts.quick else 2]:
            A = make_array(rows_of(mb))
            label = size_label(A.nbytes)
            fut = client.scatter(A)
            rec.check(np.array_equal(fut.result(), A), f"dask: scatter({label}) gives A back")
            del fut
            ns = {"client": client, "pool": pool, "A": A}
            timers = [
                T.Timer(f"dask: client.scatter(A {label})  (hash=True, the default)", "client.scatter(A)", ns, **kw),
                T.Timer(f"ThreadPool(2): scatter_array(A {label}, copy=False) + remove()",
                        "pool.scatter_array(A, copy=False).remove()", ns, **kw),
                T.Timer(f"ThreadPool(2): scatter_array(A {label}, copy=True) + remove()",
                        "pool.scatter_array(A, copy=True).remove()", ns, nbytes=A.nbytes, **kw),
            ]
            dask_r, view_r, copy_r = T.measure_together(timers, opts.repeat)
            rec.add(f"dask_scatter:{mb}", dask_r, pool="dask", plot=SIZE_PLOT_VIEW, line="dask client.scatter",
                    x=A.nbytes, anchor_line=True)
            rec.add(f"view:{mb}", view_r, pool="ThreadPool(2)")
            rec.add(f"copy:{mb}", copy_r, pool="ThreadPool(2)")
            rec.compare(f"ThreadPool(2) copy=False {label} vs dask scatter", f"view:{mb}", f"dask_scatter:{mb}")
            rec.compare(f"ThreadPool(2) copy=True {label} vs dask scatter", f"copy:{mb}", f"dask_scatter:{mb}")
            del A, ns, timers
