"""scatterpool.DummyPool against pyMOR's DummyPool, side by side in one run.

    python bench/bench_dummy.py            # full run (about 2-3 minutes, up to 2.4 GB of memory)
    python bench/bench_dummy.py --quick    # smoke test: small sizes, few repeats (< 20 s)

pyMOR comes from PyPI through the project's `bench` extra (`pip install ".[bench]"`). Either side
may be missing: the script then measures the other one and says so. See bench/README.md for what
each row measures.
"""

from __future__ import annotations

import argparse
import copy as _copy
import gc
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing as T  # noqa: E402

try:
    import scatterpool as sp
except ImportError as e:  # the package is not built / installed
    sp = None
    SP_ERROR = f"{e}" + (f" (cause: {e.__cause__})" if e.__cause__ else "")

try:
    from pymor.core.base import ImmutableObject
    from pymor.parallel.dummy import DummyPool as PymorDummyPool
    from pymor.vectorarrays.numpy import NumpyVectorSpace
    import pymor
except ImportError as e:
    pymor = None
    PYMOR_ERROR = str(e)


# ---- the functions the pools run (trivial on purpose: the rows measure the pools) ----------

def f(obj=None):
    return obj


def g(x):
    return x


def h(x, obj=None):
    return x


def ident(obj=None):
    return obj


def got_kw(x, obj=None):
    return obj


SMALL_DICT = {"a": 1, "b": 2.0, "c": "three"}   # a small config-like dict


if sp is not None:
    class SpParams(sp.Immutable):
        """A user-defined immutable object (scatterpool side)."""

if pymor is not None:
    class PymorParams(ImmutableObject):
        """A user-defined immutable object (pyMOR side)."""


def pymor_array(A):
    """pyMOR vectors of the same data: pyMOR 2026.1's NumpyVectorSpace.from_numpy takes (dim, len)
    (vectors are columns, Fortran order); A is (len, dim) row-major, so A.T is that layout, shared."""
    return NumpyVectorSpace(A.shape[1]).from_numpy(A.T)


def make_array(n, dim):
    A = np.empty((n, dim))
    A.reshape(-1)[:] = np.arange(n * dim, dtype=np.float64)   # distinct values, every page touched
    return A


# ---- sections -------------------------------------------------------------------------------

def section_calls(cfg, check, comps):
    sec = T.Section("1 per-call overhead: apply, apply_only, map, push, scatter_list")
    kw = dict(target_s=cfg.target_s)
    n_map = 1000
    res = {}
    with sec:
        sides = {}
        if sp is not None:
            sides["ours"] = (sp.DummyPool(), SpParams)
        if pymor is not None:
            sides["pyMOR"] = (PymorDummyPool(), PymorParams)
        ns = {}
        for side, (pool, Imm) in sides.items():
            R = pool.push(SMALL_DICT)
            imm = Imm()
            lst = list(range(1000))
            rng = range(n_map)
            # correctness, once, outside the timed loops
            got = pool.apply(f, obj=R)
            check(got == [SMALL_DICT] and got[0] is not SMALL_DICT, f"{side}: apply(f, obj=R) gives the pushed deep copy")
            check(pool.apply_only(f, 0, obj=R) == SMALL_DICT, f"{side}: apply_only(f, 0, obj=R)")
            check(pool.map(g, rng) == list(rng), f"{side}: map(g, range({n_map}))")
            check(pool.map(h, rng, obj=R) == list(rng), f"{side}: map(h, range({n_map}), obj=R)")
            check(pool.map(got_kw, range(3), obj=R) == [SMALL_DICT] * 3, f"{side}: map maps the RemoteObject kwarg")
            with pool.push(imm) as ri:
                check(pool.apply(ident, obj=ri)[0] is imm, f"{side}: push(immutable) is not copied")
            with pool.scatter_list(lst) as rl:
                check(pool.apply(ident, obj=rl) == [lst], f"{side}: scatter_list gives the one worker the whole list")
            ns[side] = dict(pool=pool, f=f, g=g, h=h, R=R, d=SMALL_DICT, imm=imm, lst=lst, rng=rng)

        rows = [
            ("apply", "apply(f, obj=R)  [R = push(dict)]", "pool.apply(f, obj=R)", {}),
            ("apply_only", "apply_only(f, 0, obj=R)", "pool.apply_only(f, 0, obj=R)", {}),
            ("map", f"map(g, range({n_map})), per item", "pool.map(g, rng)", {"per_call_items": n_map}),
            ("map_kw", f"map(h, range({n_map}), obj=R), per item", "pool.map(h, rng, obj=R)", {"per_call_items": n_map}),
            ("push", "push(small dict) + remove()", "pool.push(d).remove()", {}),
            ("push_imm", "push({imm}) + remove()", "pool.push(imm).remove()", {}),
            ("scatter_list", "scatter_list(list of 1000 ints) + remove()", "pool.scatter_list(lst).remove()", {}),
        ]
        for key, label, stmt, extra in rows:
            timers = [T.Timer(f"{side}: " + label.format(imm="Immutable" if side == "ours" else "ImmutableObject"),
                              stmt, ns[side], **kw, **extra) for side in sides]
            for side, r in zip(sides, sec.together(timers, cfg.repeat)):
                res[side, key] = r
        for side in sides:
            ns[side]["R"].remove()
            if side == "ours":
                ns[side]["pool"].close()
        ns.clear()
        res["bare"] = sec.add(T.measure("reference: [f(*a, **k)]  (a=(), k={obj: 1})", "[f(*a, **k)]",
                                        dict(f=f, a=(), k={"obj": 1}), repeat=cfg.repeat, **kw))
        sec.add(T.measure("reference: copy.deepcopy(small dict)", "deepcopy(d)",
                          dict(deepcopy=_copy.deepcopy, d=SMALL_DICT), repeat=cfg.repeat, **kw))
        sec.add(T.measure_empty_loop(cfg.repeat))

    if sp is not None and pymor is not None:
        for key, label, tgt in [("apply", "apply(f, obj=R)", 0.5), ("apply_only", "apply_only(f, 0, obj=R)", 0.5),
                                ("map", "map per item", 1.0), ("map_kw", "map per item, obj=R", 1.0),
                                ("push", "push(dict) + remove", 1.0), ("push_imm", "push(Immutable) + remove", 1.0),
                                ("scatter_list", "scatter_list(1000) + remove", 1.0)]:
            comps.append(T.Comparison(label, res["ours", key], res["pyMOR", key], T.Target("ratio<=", tgt),
                                      theirs_label="pyMOR DummyPool"))
    if sp is not None:
        comps.append(T.Comparison("apply(f, obj=R) (info)", res["ours", "apply"], res["bare"],
                                  theirs_label="bare [f(*a, **k)]"))


def section_nocopy(cfg, check, comps):
    dim = 1000
    sizes = [(cfg.small_rows, "small"), (cfg.big_rows, "big")]
    kw = dict(target_s=cfg.target_s)
    res = {}

    def mb(n):
        return f"{n * dim * 8 / 1e6:.0f} MB"

    small_mb, big_mb = mb(cfg.small_rows), mb(cfg.big_rows)

    sec = T.Section(f"2 scatter_array(copy=False) + remove(): {small_mb} vs {big_mb}")
    with sec:
        # both sizes in one interleaved measurement: the target is their ratio
        timers, keys, pools = [], [], []
        for n, tag in sizes:
            A = make_array(n, dim)
            label = f"{n}x{dim} f64, {mb(n)}"
            if sp is not None:
                pool = sp.DummyPool()
                pools.append(pool)
                # correctness, once
                with pool.scatter_array(A, copy=False) as ro:
                    part = pool.apply(ident, obj=ro)[0]
                    check(isinstance(part, np.ndarray) and part.shape == A.shape and np.shares_memory(part, A),
                          f"ours: scatter_array(ndarray {label}, copy=False) is a view of A")
                    del part
                U = sp.VectorArray.from_numpy(A)
                with pool.scatter_array(U, copy=False) as ro:
                    part = pool.apply(ident, obj=ro)[0]
                    check(isinstance(part, sp.VectorArray) and len(part) == n
                          and np.shares_memory(np.asarray(part), A) and len(U) == 0,
                          f"ours: scatter_array(VectorArray {label}, copy=False) is a view and empties U")
                    del part
                del U
                timers.append(T.Timer(f"ours: scatter_array(ndarray {label}, copy=False) + remove()",
                                      "pool.scatter_array(A, copy=False).remove()", dict(pool=pool, A=A), **kw))
                keys.append(("ours_nd", tag))

                # copy=False empties a VectorArray U: every call gets a fresh zero-copy VectorArray of A,
                # made before the timed loop; the loop walks over them.
                def fresh(number, A=A):
                    return {"it": iter([sp.VectorArray.from_numpy(A) for _ in range(number)])}

                timers.append(T.Timer(
                    f"ours: scatter_array(VectorArray {label}, copy=False) + remove()",
                    "pool.scatter_array(next(it), copy=False).remove()", dict(pool=pool), setup=fresh,
                    note="fresh view per call made outside the timing; includes a next() on a list iterator", **kw))
                keys.append(("ours_va", tag))
            if pymor is not None:
                pool = PymorDummyPool()
                U = pymor_array(A)
                check(len(U) == n and U.dim == dim and np.shares_memory(U.to_numpy(), A),
                      f"pyMOR: NumpyVectorArray of {label} shares A's memory")
                ro = pool.scatter_array(U, copy=False)
                check(ro.obj is U, f"pyMOR: scatter_array({label}, copy=False) hands U over")
                ro.remove()
                timers.append(T.Timer(f"pyMOR: scatter_array(U {label}, copy=False) + remove()",
                                      "pool.scatter_array(U, copy=False).remove()", dict(pool=pool, U=U), **kw))
                keys.append(("pymor", tag))
                del U, ro
            del A
        for key, r in zip(keys, sec.together(timers, cfg.repeat)):
            res[key] = r
        for pool in pools:
            pool.close()
        del timers, pools
        gc.collect()
    for key, who in [("ours_nd", "ours ndarray"), ("ours_va", "ours VectorArray"), ("pymor", "pyMOR (info)")]:
        if (key, "big") in res:
            comps.append(T.Comparison(f"{who}: copy=False t({big_mb}) / t({small_mb})", res[key, "big"],
                                      res[key, "small"], T.Target("ratio<=", 1.2) if key != "pymor" else None,
                                      theirs_label=f"same at {small_mb}"))


def section_copy(cfg, check, comps):
    dim = 1000
    sizes = [(cfg.small_rows, "small"), (cfg.big_rows, "big")]
    kw = dict(target_s=cfg.target_s)
    kw_big = dict(number=1, warmup=1)
    res = {}

    def mb(n):
        return f"{n * dim * 8 / 1e6:.0f} MB"

    small_mb, big_mb = mb(cfg.small_rows), mb(cfg.big_rows)

    sec = T.Section("3 scatter_array(copy=True) + remove(): copies in GB/s")
    with sec:
        for n, tag in sizes:
            A = make_array(n, dim)
            nbytes = A.nbytes
            label = f"{n}x{dim} f64, {mb(n)}"
            m = kw_big if tag == "big" else kw
            timers, keys, pools = [], [], []
            if sp is not None:
                pool = sp.DummyPool()
                pools.append(pool)
                with pool.scatter_array(A, copy=True) as ro:
                    part = pool.apply(ident, obj=ro)[0]
                    check(isinstance(part, np.ndarray) and not np.shares_memory(part, A)
                          and np.array_equal(part, A), f"ours: scatter_array(ndarray {label}, copy=True) is an equal copy")
                    del part
                U = sp.VectorArray.from_numpy(A)
                with pool.scatter_array(U, copy=True) as ro:
                    part = pool.apply(ident, obj=ro)[0]
                    check(isinstance(part, sp.VectorArray) and len(U) == n and not np.shares_memory(np.asarray(part), A)
                          and np.array_equal(np.asarray(part), A),
                          f"ours: scatter_array(VectorArray {label}, copy=True) is an equal copy, U kept")
                    del part
                timers.append(T.Timer(f"ours: scatter_array(ndarray {label}, copy=True) + remove()",
                                      "pool.scatter_array(A, copy=True).remove()", dict(pool=pool, A=A),
                                      nbytes=nbytes, **m))
                keys.append("ours_copy")
                timers.append(T.Timer(f"ours: scatter_array(VectorArray {label}, copy=True) + remove()",
                                      "pool.scatter_array(U, copy=True).remove()", dict(pool=pool, U=U),
                                      nbytes=nbytes, **m))
                keys.append("ours_copy_va")
                del U
            timers.append(T.Timer(f"np.copyto(d, A) into a fresh d = np.empty_like(A), then del d  ({mb(n)})",
                                  "d = empty_like(A); copyto(d, A); del d",
                                  dict(A=A, empty_like=np.empty_like, copyto=np.copyto), nbytes=nbytes, **m))
            keys.append("copyto")
            if pymor is not None:
                pool = PymorDummyPool()
                U = pymor_array(A)
                ro = pool.scatter_array(U, copy=True)
                check(np.shares_memory(ro.obj.to_numpy(), A), f"pyMOR: scatter_array({label}, copy=True) is lazy (COW)")
                ro.obj._copy_impl_if_multiple_refs()
                check(not np.shares_memory(ro.obj.to_numpy(), A) and np.array_equal(ro.obj.to_numpy(), A.T),
                      f"pyMOR: the forced COW copy of {label} is an equal copy")
                ro.remove()
                del ro
                ns = dict(pool=pool, U=U)
                timers.append(T.Timer(
                    f"pyMOR: scatter_array(U {label}, copy=True) + remove()", "pool.scatter_array(U, copy=True).remove()",
                    ns, nbytes=nbytes, note="lazy copy-on-write: copies nothing, GB/s nominal", **kw))
                keys.append("pymor_lazy")
                # the copy pyMOR makes at the first in-place write, forced right away (the same call it makes there)
                timers.append(T.Timer(
                    f"pyMOR: scatter_array(U {label}, copy=True) + forced COW copy + remove()",
                    "ro = pool.scatter_array(U, copy=True); ro.obj._copy_impl_if_multiple_refs(); ro.remove(); del ro",
                    ns, nbytes=nbytes, note="pyMOR's eager copy", **m))
                keys.append("pymor_forced")
                timers.append(T.Timer(f"pyMOR: U.copy(deep=True)  ({mb(n)}, eager copy)", "U.copy(deep=True)", ns,
                                      nbytes=nbytes, **m))
                keys.append("pymor_deep")
                del U, ns
            rep = cfg.repeat_big if tag == "big" else cfg.repeat
            for key, r in zip(keys, sec.together(timers, rep)):
                res[key, tag] = r
            for pool in pools:
                pool.close()
            del A, timers, pools
            gc.collect()

    for tag, size in [("big", big_mb), ("small", small_mb)]:
        if ("ours_copy", tag) in res and ("pymor_forced", tag) in res:
            tgt = T.Target("ratio<=", 1.0) if tag == "big" else None
            comps.append(T.Comparison(f"copy=True ndarray {size}", res["ours_copy", tag], res["pymor_forced", tag],
                                      tgt, theirs_label="pyMOR scatter_array(copy=True) + forced COW copy (eager)"))
            comps.append(T.Comparison(f"copy=True VectorArray {size}", res["ours_copy_va", tag],
                                      res["pymor_forced", tag], tgt,
                                      theirs_label="pyMOR scatter_array(copy=True) + forced COW copy (eager)"))
    if ("ours_copy", "big") in res:
        comps.append(T.Comparison(f"copy=True ndarray {big_mb} (info)", res["ours_copy", "big"], res["copyto", "big"],
                                  theirs_label="np.copyto into a fresh array"))
        if ("pymor_deep", "big") in res:
            comps.append(T.Comparison(f"copy=True ndarray {big_mb} (info)", res["ours_copy", "big"],
                                      res["pymor_deep", "big"], theirs_label="pyMOR U.copy(deep=True)"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (smoke test, < 20 s)")
    ap.add_argument("--repeat", type=int, default=None, help="repeats per row (default 7; --quick 3)")
    ap.add_argument("--sections", type=lambda v: {int(x) for x in v.split(",")}, default={1, 2, 3},
                    help="comma-separated section numbers to run (default 1,2,3: per-call, copy=False, copy=True)")
    args = ap.parse_args(argv)

    class cfg:
        repeat = args.repeat or (3 if args.quick else 7)
        repeat_big = args.repeat or (3 if args.quick else 5)
        target_s = 0.01 if args.quick else 0.05
        small_rows = 1000                                  # 1000 x 1000 f64 = 8 MB
        big_rows = 10_000 if args.quick else 100_000       # 80 MB (quick) / 800 MB

    t0 = time.perf_counter()
    versions = {"numpy": np.__version__,
                "scatterpool": getattr(sp, "__version__", "?") if sp is not None else "NOT IMPORTABLE",
                "pymor": pymor.__version__ if pymor is not None else "NOT INSTALLED"}
    extra = [f"mode: {'quick' if args.quick else 'full'}, repeats {cfg.repeat} (big copies {cfg.repeat_big}), "
             f"big array {cfg.big_rows}x1000 f64"]
    if sp is None:
        extra.append(f"scatterpool not importable ({SP_ERROR}): pyMOR side only")
    if pymor is None:
        extra.append(f"pyMOR not installed ({PYMOR_ERROR}): install the bench extra, pip install '.[bench]'; ours only")
    T.machine_header("scatterpool bench_dummy: DummyPool vs pyMOR DummyPool", versions, extra)

    check = T.Checks()
    comps: list[T.Comparison] = []
    for num, fn in enumerate([section_calls, section_nocopy, section_copy], start=1):
        if num in args.sections:
            fn(cfg, check, comps)
    if comps:
        T.print_comparisons("ratios ours / theirs at the median, and the targets", comps)
        print("\nNote: pyMOR's scatter_array(copy=True) is copy-on-write and copies nothing at call time;"
              " the copy=True targets compare against the copy it makes at the first write, forced right"
              " after the call (its eager copy).")
    rc = check.report()
    T.footer(t0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
