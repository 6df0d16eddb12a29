"""scatterpool.ThreadPool against concurrent.futures.ThreadPoolExecutor and plain NumPy.

    python bench/bench_threads.py            # full run (about 2-3 minutes, up to 2.4 GB of memory)
    python bench/bench_threads.py --quick    # smoke test: small sizes, few repeats (< 20 s)

BLAS is limited to one thread (OPENBLAS_NUM_THREADS=1 and friends, set before NumPy is imported,
unless already set), so that the GIL-releasing kernel rows measure the pool's parallelism and not
BLAS's own threads. See bench/README.md for what each row measures.
"""

from __future__ import annotations

import os

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import concurrent.futures as cf  # noqa: E402
import gc  # noqa: E402
import inspect  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing as T  # noqa: E402

try:
    import scatterpool as sp
except ImportError as e:  # the package is not built / installed
    sp = None
    SP_ERROR = f"{e}" + (f" (cause: {e.__cause__})" if e.__cause__ else "")
else:
    if not hasattr(sp, "ThreadPool"):
        SP_ERROR = f"scatterpool {getattr(sp, '__version__', '?')} has no ThreadPool yet"
        sp = None


# ---- functions the workers run ----------------------------------------------------------------

def f(obj=None):
    return obj


def g(x):
    return x


def ident(obj=None):
    return obj


def gram(U=None):
    """Compute-bound, releases the GIL inside BLAS: U^T U of the worker's part."""
    return U.T @ U


def fro_norm(U=None):
    """Memory-bound, releases the GIL inside BLAS (ddot over the contiguous part): ||U||_F."""
    return float(np.linalg.norm(U))


def run_chunk(fn, r):
    return [fn(x) for x in r]


def tpe_chunked_map(ex, fn, seq, k=2):
    """What a user writes by hand: split into k contiguous chunks, one future each, concatenate."""
    n = len(seq)
    q, r = divmod(n, k)
    futs = []
    start = 0
    for i in range(k):
        stop = start + q + (1 if i < r else 0)
        futs.append(ex.submit(run_chunk, fn, seq[start:stop]))
        start = stop
    out = []
    for fu in futs:
        out.extend(fu.result())
    return out


def tpe_apply(ex, fn, k=2):
    """The apply pattern on an executor: one submit per worker, wait for all, results in order."""
    return [fu.result() for fu in [ex.submit(fn) for _ in range(k)]]


def make_array(n, dim):
    A = np.empty((n, dim))
    A.reshape(-1)[:] = np.arange(n * dim, dtype=np.float64)   # distinct values, every page touched
    return A


def spin_keyword():
    """The name of ThreadPool's spin-time keyword, if it has one (the lead's choice; found by name)."""
    if sp is None:
        return None
    try:
        params = inspect.signature(sp.ThreadPool).parameters
    except (TypeError, ValueError):
        return None
    for name in params:
        if "spin" in name.lower():
            return name
    return None


# ---- sections ---------------------------------------------------------------------------------

def section_dispatch(cfg, check, comps, ex):
    sec = T.Section("1 dispatch round trip: apply, apply_only (2 workers)")
    kw = dict(target_s=cfg.target_s)
    res = {}
    with sec:
        check(tpe_apply(ex, f) == [None, None], "TPE: apply pattern returns both results")
        tns = dict(ex=ex, f=f, tpe_apply=tpe_apply)
        t_apply = T.Timer("TPE(2): [fu.result() for fu in [submit(f), submit(f)]]  (apply pattern)",
                          "tpe_apply(ex, f)", tns, **kw)
        t_only = T.Timer("TPE(2): submit(f).result()  (apply_only pattern)", "ex.submit(f).result()", tns, **kw)
        if sp is None:
            res["tpe_apply"], res["tpe_only"] = sec.together([t_apply, t_only], cfg.repeat)
        else:
            with sp.ThreadPool(2) as pool:
                R = pool.push({"a": 1})
                check(len(pool) == 2 and bool(pool), "ours: len(ThreadPool(2)) == 2, bool True")
                check(pool.apply(f) == [None, None], "ours: apply(f) returns one result per worker")
                check(pool.apply(sp.worker_index) == [0, 1], "ours: apply runs on workers 0 and 1")
                check(pool.apply_only(sp.worker_index, 1) == 1, "ours: apply_only(f, 1) runs on worker 1")
                check(pool.apply(f, obj=R) == [{"a": 1}] * 2, "ours: apply(f, obj=R) maps the RemoteObject")
                ns = dict(pool=pool, f=f, R=R)
                (res["tpe_apply"], res["apply"], res["apply_R"]) = sec.together([
                    t_apply,
                    T.Timer("ours ThreadPool(2): apply(f)", "pool.apply(f)", ns, **kw),
                    T.Timer("ours ThreadPool(2): apply(f, obj=R)  [R = push(dict)]", "pool.apply(f, obj=R)", ns, **kw),
                ], cfg.repeat)
                (res["tpe_only"], res["only1"], res["only0"]) = sec.together([
                    t_only,
                    T.Timer("ours ThreadPool(2): apply_only(f, 1)  (worker 1, the other thread)",
                            "pool.apply_only(f, 1)", ns, **kw),
                    T.Timer("ours ThreadPool(2): apply_only(f, 0)  (worker 0, the calling thread)",
                            "pool.apply_only(f, 0)", ns, **kw),
                ], cfg.repeat)
                R.remove()
            spin = spin_keyword()
            if spin is not None:
                # spin off vs the default, one pool after the other (two live pools would compete for the CPUs)
                default = inspect.signature(sp.ThreadPool).parameters[spin].default
                res["spin_default"] = default
                for tag, kwargs in [("nospin", {spin: 0}), ("spin", {})]:
                    what = f"{spin}=0, no spin" if tag == "nospin" else f"{spin} default {default!r}"
                    with sp.ThreadPool(2, **kwargs) as pool:
                        check(pool.apply(f) == [None, None], f"ours: ThreadPool(2, {what}).apply(f)")
                        ns = dict(pool=pool, f=f)
                        res["apply_" + tag], res["only1_" + tag] = sec.together([
                            T.Timer(f"ours ThreadPool(2) [{what}]: apply(f)", "pool.apply(f)", ns, **kw),
                            T.Timer(f"ours ThreadPool(2) [{what}]: apply_only(f, 1)", "pool.apply_only(f, 1)", ns, **kw),
                        ], cfg.repeat)
        sec.add(T.measure_empty_loop(cfg.repeat))
    if sp is not None:
        comps.append(T.Comparison("apply(f)", res["apply"], res["tpe_apply"], T.Target("ratio<=", 0.25),
                                  theirs_label="TPE(2) submit x2 + wait both"))
        comps.append(T.Comparison("apply_only(f, 1)", res["only1"], res["tpe_only"], T.Target("ratio<=", 0.25),
                                  theirs_label="TPE(2) submit + result"))
        comps.append(T.Comparison("apply_only(f, 0) (info)", res["only0"], res["tpe_only"],
                                  theirs_label="TPE(2) submit + result"))
        if "apply_nospin" in res:
            comps.append(T.Comparison("apply(f), default spin (info)", res["apply_spin"], res["apply_nospin"],
                                      theirs_label="same, spin 0"))
            comps.append(T.Comparison("apply_only(f, 1), default spin (info)", res["only1_spin"],
                                      res["only1_nospin"], theirs_label="same, spin 0"))


def section_map(cfg, check, comps, ex):
    n = cfg.map_items
    sec = T.Section(f"2 map of a trivial function over range({n}), per item")
    kw = dict(target_s=cfg.target_s, per_call_items=n)
    res = {}
    rng = range(n)
    expect = list(rng)
    with sec:
        check(list(ex.map(g, rng)) == expect, "TPE: executor.map result")
        check(tpe_chunked_map(ex, g, rng) == expect, "TPE: hand-chunked map result")
        ns = dict(ex=ex, g=g, rng=rng, tpe_chunked_map=tpe_chunked_map)
        timers = [
            T.Timer(f"serial [g(x) for x in range({n})]", "[g(x) for x in rng]", ns, **kw),
            T.Timer(f"TPE(2): hand-chunked map, 2 futures over {n} items", "tpe_chunked_map(ex, g, rng)", ns, **kw),
            T.Timer(f"TPE(2): list(executor.map(g, range({n})))", "list(ex.map(g, rng))", ns, per_call_items=n,
                    number=1, warmup=1, repeat=cfg.repeat_big),
        ]
        keys = ["serial", "tpe_chunked", "tpe_map"]
        pool = None
        if sp is not None:
            pool = sp.ThreadPool(2)
            check(pool.map(g, rng) == expect, "ours: map result in input order")
            check(pool.map(g, np.arange(7)) == list(np.arange(7)), "ours: map over a NumPy array")
            timers.append(T.Timer(f"ours ThreadPool(2): map(g, range({n}))", "pool.map(g, rng)",
                                  dict(pool=pool, g=g, rng=rng), **kw))
            keys.append("ours")
        for key, r in zip(keys, sec.together(timers, cfg.repeat)):
            res[key] = r
        if pool is not None:
            pool.close()
    if sp is not None:
        comps.append(T.Comparison("map per item", res["ours"], res["serial"], T.Target("ratio<=", 3.0),
                                  theirs_label="serial list comprehension"))
        comps.append(T.Comparison("map per item (info)", res["ours"], res["tpe_map"],
                                  theirs_label="TPE(2) executor.map"))
        comps.append(T.Comparison("map per item (info)", res["ours"], res["tpe_chunked"],
                                  theirs_label="TPE(2) hand-chunked"))


def check_parts(check, parts, A, shared, what):
    off = np.cumsum([0] + [len(p) for p in np.array_split(np.empty(len(A)), len(parts))])
    ok = len(parts) == 2
    for i, p in enumerate(parts):
        arr = np.asarray(p)
        ok = ok and arr.shape == (off[i + 1] - off[i], A.shape[1]) and np.array_equal(arr, A[off[i]:off[i + 1]])
        ok = ok and bool(np.shares_memory(arr, A)) == shared
    check(ok, what)


def section_scatter(cfg, check, comps, ex):
    dim = 1000
    sizes = [(cfg.small_rows, "small"), (cfg.big_rows, "big")]
    kw = dict(target_s=cfg.target_s)
    res = {}

    def mb(n):
        return f"{n * dim * 8 / 1e6:.0f} MB"

    small_mb, big_mb = mb(cfg.small_rows), mb(cfg.big_rows)
    if sp is not None:
        sec = T.Section(f"3 ThreadPool(2).scatter_array(copy=False) + remove(): {small_mb} vs {big_mb}")
        with sec, sp.ThreadPool(2) as pool:
            # both sizes in one interleaved measurement: the target is their ratio
            timers, keys = [], []
            for n, tag in sizes:
                A = make_array(n, dim)
                label = f"{n}x{dim} f64, {mb(n)}"
                with pool.scatter_array(A, copy=False) as ro:
                    check_parts(check, pool.apply(ident, obj=ro), A, True,
                                f"ours: scatter_array(ndarray {label}, copy=False): views, array_split rows")
                U = sp.VectorArray.from_numpy(A)
                with pool.scatter_array(U, copy=False) as ro:
                    parts = pool.apply(ident, obj=ro)
                    check(all(isinstance(p, sp.VectorArray) for p in parts) and len(U) == 0,
                          f"ours: scatter_array(VectorArray {label}, copy=False) gives VectorArrays, empties U")
                    check_parts(check, parts, A, True, f"ours: scatter_array(VectorArray {label}, copy=False): views")
                    del parts
                del U

                def fresh(number, A=A):
                    return {"it": iter([sp.VectorArray.from_numpy(A) for _ in range(number)])}

                timers += [
                    T.Timer(f"ours: scatter_array(ndarray {label}, copy=False) + remove()",
                            "pool.scatter_array(A, copy=False).remove()", dict(pool=pool, A=A), **kw),
                    T.Timer(f"ours: scatter_array(VectorArray {label}, copy=False) + remove()",
                            "pool.scatter_array(next(it), copy=False).remove()", dict(pool=pool), setup=fresh,
                            note="fresh view per call made outside the timing; includes a next() on a list iterator",
                            **kw),
                ]
                keys += [("nd", tag), ("va", tag)]
                del A
            for key, r in zip(keys, sec.together(timers, cfg.repeat)):
                res[key] = r
            del timers, fresh
            gc.collect()
        for key, who in [("nd", "ndarray"), ("va", "VectorArray")]:
            comps.append(T.Comparison(f"copy=False {who}: t({big_mb}) / t({small_mb})", res[key, "big"],
                                      res[key, "small"], T.Target("ratio<=", 1.2), theirs_label=f"same at {small_mb}"))


def section_copy(cfg, check, comps, ex):
    dim = 1000
    kw_big = dict(number=1, warmup=1)
    res = {}

    def mb(n):
        return f"{n * dim * 8 / 1e6:.0f} MB"

    n = cfg.big_rows
    sec = T.Section(f"4 copies of {mb(n)} ({n}x{dim} f64) in GB/s")
    with sec:
        A = make_array(n, dim)
        nbytes = A.nbytes
        halves = np.array_split(A, 2)
        buf = np.empty_like(A)
        buf.fill(0.0)                                   # the warm buffer: every page touched before
        bufs = np.array_split(buf, 2)

        def copyto_2thr(ex=ex, bufs=bufs, halves=halves):
            futs = [ex.submit(np.copyto, d, s) for d, s in zip(bufs, halves)]
            for fu in futs:
                fu.result()

        def copy_2thr(ex=ex, halves=halves):
            return [fu.result() for fu in [ex.submit(np.copy, p) for p in halves]]

        ns = dict(A=A, np=np, buf=buf, copyto=np.copyto, copyto_2thr=copyto_2thr, copy_2thr=copy_2thr)
        timers = [
            T.Timer("A.copy()  (single-threaded fresh copy: alloc + page faults + copy)", "A.copy()", ns,
                    nbytes=nbytes, **kw_big),
            T.Timer("[p.copy() for p in np.array_split(A, 2)]  (1 thread)",
                    "[p.copy() for p in np.array_split(A, 2)]", ns, nbytes=nbytes, **kw_big),
            T.Timer("TPE(2): each thread np.copy(half)  (2 threads, fresh)", "copy_2thr()", ns, nbytes=nbytes, **kw_big),
            T.Timer("np.copyto(buf, A), buf warm  (1 thread)", "copyto(buf, A)", ns, nbytes=nbytes, **kw_big),
            T.Timer("TPE(2): np.copyto of halves into warm buf  (2 threads)", "copyto_2thr()", ns, nbytes=nbytes,
                    **kw_big),
        ]
        keys = ["fresh1", "split_copy", "fresh2", "warm1", "warm2"]
        pool = U = None
        if sp is not None:
            pool = sp.ThreadPool(2)
            with pool.scatter_array(A, copy=True) as ro:
                check_parts(check, pool.apply(ident, obj=ro), A, False,
                            f"ours: scatter_array(ndarray {mb(n)}, copy=True): equal copies, array_split rows")
            U = sp.VectorArray.from_numpy(A)
            with pool.scatter_array(U, copy=True) as ro:
                parts = pool.apply(ident, obj=ro)
                check(all(isinstance(p, sp.VectorArray) for p in parts) and len(U) == n,
                      f"ours: scatter_array(VectorArray {mb(n)}, copy=True) gives VectorArrays, keeps U")
                check_parts(check, parts, A, False, f"ours: scatter_array(VectorArray {mb(n)}, copy=True): copies")
                del parts
            pns = dict(pool=pool, A=A, U=U)
            timers += [
                T.Timer("ours ThreadPool(2): scatter_array(ndarray, copy=True) + remove()",
                        "pool.scatter_array(A, copy=True).remove()", pns, nbytes=nbytes, **kw_big),
                T.Timer("ours ThreadPool(2): scatter_array(VectorArray, copy=True) + remove()",
                        "pool.scatter_array(U, copy=True).remove()", pns, nbytes=nbytes, **kw_big),
            ]
            keys += ["ours", "ours_va"]
        for key, r in zip(keys, sec.together(timers, cfg.repeat_big)):
            res[key] = r
        if pool is not None:
            pool.close()
        del A, U, halves, buf, bufs, ns, timers
        gc.collect()
    if sp is not None:
        for key, who in [("ours", "ndarray"), ("ours_va", "VectorArray")]:
            comps.append(T.Comparison(f"copy=True {who} {mb(n)}", res[key], res["fresh1"], T.Target("speedup>=", 2.0),
                                      theirs_label="A.copy() single-threaded fresh copy"))
        for ref, lab in [("split_copy", "[p.copy() for p in array_split(A, 2)]"),
                         ("fresh2", "TPE(2) fresh copy of halves"),
                         ("warm1", "np.copyto warm buffer, 1 thread"), ("warm2", "np.copyto warm buffer, 2 threads")]:
            comps.append(T.Comparison(f"copy=True ndarray {mb(n)} (info)", res["ours"], res[ref], theirs_label=lab))


def section_kernel(cfg, check, comps, ex):
    if sp is None:
        return
    n, dim = cfg.kernel_rows, cfg.kernel_dim
    sec = T.Section(f"5 GIL-releasing NumPy kernels on the scattered parts of a {n}x{dim} f64 array "
                    f"(BLAS threads: {os.environ.get('OPENBLAS_NUM_THREADS')})")
    kw = dict(target_s=cfg.target_s * 2)
    A = make_array(n, dim)
    A /= A.size                                       # keep U^T U well inside float range
    G = A.T @ A
    nrm = float(np.linalg.norm(A))
    with sec:
        pools = {k: sp.ThreadPool(k) for k in (1, 2)}
        ros = {}
        timers = []
        for k, pool in pools.items():
            ro = ros[k] = pool.scatter_array(A, copy=True)
            grams = pool.apply(gram, U=ro)
            check(len(grams) == k and np.allclose(sum(grams), G), f"ours: ThreadPool({k}) Gram blocks sum to A^T A")
            norms = pool.apply(fro_norm, U=ro)
            check(np.isclose(np.sqrt(sum(x * x for x in norms)), nrm), f"ours: ThreadPool({k}) norms")
        for name, fn, stmt, nb in [("gram", gram, "pool.apply(gram, U=ro)", None),
                                   ("norm", fro_norm, "pool.apply(fro_norm, U=ro)", A.nbytes)]:
            what = "[U^T U per part]" if name == "gram" else "[np.linalg.norm per part]"
            for k, pool in pools.items():
                timers.append(T.Timer(f"ours ThreadPool({k}): {stmt}  {what}", stmt,
                                      {"pool": pool, name if name == "gram" else "fro_norm": fn, "ro": ros[k]},
                                      nbytes=nb, **kw))
        r = sec.together(timers, cfg.repeat)
        for ro in ros.values():
            ro.remove()
        for pool in pools.values():
            pool.close()
    del A
    gc.collect()
    comps.append(T.Comparison("kernel U^T U, 2 workers", r[1], r[0], T.Target("speedup>=", 1.8),
                              theirs_label="same, ThreadPool(1)"))
    comps.append(T.Comparison("kernel np.linalg.norm, 2 workers (memory-bound)", r[3], r[2],
                              T.Target("speedup>=", 1.8), theirs_label="same, ThreadPool(1)"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (smoke test, < 20 s)")
    ap.add_argument("--repeat", type=int, default=None, help="repeats per row (default 7; --quick 3)")
    ap.add_argument("--sections", type=lambda v: {int(x) for x in v.split(",")}, default={1, 2, 3, 4, 5},
                    help="comma-separated section numbers to run (default all: 1 dispatch, 2 map, "
                         "3 copy=False, 4 copies, 5 kernels)")
    args = ap.parse_args(argv)

    class cfg:
        repeat = args.repeat or (3 if args.quick else 7)
        repeat_big = args.repeat or (3 if args.quick else 5)
        target_s = 0.01 if args.quick else 0.05
        map_items = 10_000 if args.quick else 100_000
        small_rows = 1000                                  # 1000 x 1000 f64 = 8 MB
        big_rows = 10_000 if args.quick else 100_000       # 80 MB (quick) / 800 MB
        kernel_rows = 2000 if args.quick else 8000
        kernel_dim = 500

    t0 = time.perf_counter()
    versions = {"numpy": np.__version__,
                "scatterpool": getattr(sp, "__version__", "?") if sp is not None else "NOT USABLE"}
    extra = [f"mode: {'quick' if args.quick else 'full'}, repeats {cfg.repeat} (big rows {cfg.repeat_big}), "
             f"map over {cfg.map_items} items, big array {cfg.big_rows}x1000 f64",
             "BLAS threads: " + ", ".join(f"{v}={os.environ.get(v)}" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"))]
    spin = spin_keyword()
    if sp is None:
        extra.append(f"scatterpool not usable ({SP_ERROR}): the reference rows only")
    else:
        extra.append(f"ThreadPool spin keyword: {spin or 'none found'}")
    T.machine_header("scatterpool bench_threads: ThreadPool vs ThreadPoolExecutor and NumPy", versions, extra)

    check = T.Checks()
    comps: list[T.Comparison] = []
    with cf.ThreadPoolExecutor(2) as ex:
        for num, fn in enumerate([section_dispatch, section_map, section_scatter, section_copy, section_kernel],
                                 start=1):
            if num in args.sections:
                fn(cfg, check, comps, ex)
    if comps:
        T.print_comparisons("ratios ours / theirs at the median, and the targets", comps)
    rc = check.report()
    T.footer(t0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
