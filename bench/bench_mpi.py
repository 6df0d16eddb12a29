"""scatterpool.mpi.MPIPool beside raw mpi4py and pyMOR's MPIPool, in one MPI run.

Run it under the launcher, with 2 or 3 ranks::

    mpiexec -n 2 python -m scatterpool.mpi bench/bench_mpi.py            # about 2-4 minutes
    mpiexec -n 2 python -m scatterpool.mpi bench/bench_mpi.py --quick    # 8 MB only, few repeats
    options: --sizes 8,80,800 (MB)  --rounds R  --json FILE  --no-pymor

Everything is measured in the same run, side by side, because the machine
is shared and absolute numbers drift. The other tools run on the same ranks
by way of the pool itself: ``pool.apply(role)`` makes every rank run
``role``; for raw mpi4py all ranks run the same timed loop on
``MPI.COMM_WORLD``; for pyMOR, rank 0 drives ``pymor.parallel.mpi.MPIPool``
while ranks > 0 run pyMOR's event loop (``pymor.tools.mpi.event_loop``)
until rank 0 calls ``pymor.tools.mpi.quit()``.

What is timed:

* scatter of a float64 array of N x 1000 (N = 1,000 / 10,000 / 100,000:
  8 / 80 / 800 MB, 1 MB = 1e6 B), GB/s = array bytes / time:
  - raw ``Scatterv`` into a receive buffer allocated once and reused (the
    machine's ceiling), and into a fresh ``np.empty`` per call (what a scatter
    that hands out new arrays must do: the pages are touched for the first
    time). Timed on rank 0 as ``Barrier; t0; Scatterv; Barrier; t1``;
    rank 0 keeps its share (copied into its receive buffer).
  - raw pickle ``comm.scatter(np.array_split(A, size))``.
  - ``MPIPool.scatter_array(A)`` (copy=True, the default: rank 0 copies its
    rows, the others get theirs by ``Scatterv`` into new arrays) and
    ``copy=False`` (rank 0 keeps a view), timed on rank 0 (the call ends
    when every rank stored its part), ``remove()`` not timed.
  - pyMOR ``MPIPool.scatter_array(U)`` with ``U = NumpyVectorSpace(1000).from_numpy(A.T)``.
* small calls, per call (median over loops of 1000 calls, 100 for map):
  raw ``bcast(cmd); f(); gather(result)`` on all ranks, beside
  ``MPIPool.apply(f)`` (``f`` defined in this script, and ``os.getpid``)
  and pyMOR's ``apply``; ``map(f, range(1000))`` beside pyMOR's
  ``map(f, list(range(1000)))`` (pyMOR's fails on a range); ``push``,
  ``apply_only``, ``scatter_list`` as information.

Ratios: scatter = ours GB/s / raw GB/s (target >= 0.8 against raw
Scatterv); apply and map = ours time / theirs time (targets <= 1.5 against
raw bcast+gather, <= 0.5 against pyMOR's map).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import scatterpool as sp
from scatterpool.mpi import MPIPool

DIM = 1000
SIZES_MB = {8: 1_000, 80: 10_000, 800: 100_000}
REPEATS = {8: 15, 80: 7, 800: 5}
SMALL_K = 1000  # calls per loop
MAP_K = 100
LOOPS = 7


# --------------------------------------------------------------------------- #
# functions every rank may run (defined here: they travel with cloudpickle)    #
# --------------------------------------------------------------------------- #
def noop(*args, **kwargs):
    return None


def ident(x):
    return x


def length(U):
    return len(U)


def _main_array():
    """Rank 0's test array, found at run time (a global would be pickled into the functions)."""
    return getattr(sys.modules["__main__"], "_A", None)


def raw_scatter_role(n, reps, fresh, warm=True):
    """All ranks: raw mpi4py Scatterv of rows 0..n of A (rank 0) into each rank's buffer."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    size, rank = comm.Get_size(), comm.Get_rank()
    counts = [c * DIM for c in np.diff(sp.even_split(n, size))]
    displs = [o * DIM for o in sp.even_split(n, size)[:-1]]
    A = _main_array()[:n] if rank == 0 else None
    sendbuf = [A, counts, displs, MPI.DOUBLE] if rank == 0 else None
    recv = np.empty(counts[rank] // DIM * DIM)
    times = []
    for i in range(reps + warm):
        if fresh:
            recv = np.empty(counts[rank] // DIM * DIM)
        comm.Barrier()
        t0 = time.perf_counter()
        comm.Scatterv(sendbuf, recv, root=0)
        comm.Barrier()
        if i or not warm:
            times.append(time.perf_counter() - t0)
    total = comm.reduce(float(recv.sum()), root=0)
    ok = bool(np.isclose(total, A.sum())) if rank == 0 else None
    return times, ok


def raw_pickle_scatter_role(n, reps):
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    A = _main_array()[:n] if rank == 0 else None
    times = []
    part = None
    for i in range(reps + 1):
        comm.Barrier()
        t0 = time.perf_counter()
        part = comm.scatter(np.array_split(A, comm.Get_size()) if rank == 0 else None, root=0)
        comm.Barrier()
        if i:
            times.append(time.perf_counter() - t0)
        del part
    return times


def raw_small_role(k, loops):
    """All ranks: a raw "apply" round trip, bcast(cmd) + f() + gather(result)."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    cmd = {"op": "apply", "args": (), "kwargs": {}}
    per_call = []
    for loop in range(max(1, loops + (loops > 0))):  # loops=0: one loop, no warm-up
        comm.Barrier()
        t0 = time.perf_counter()
        for _ in range(k):
            c = comm.bcast(cmd if rank == 0 else None, root=0)
            r = noop(c)
            comm.gather(r, root=0)
        if loop or loops == 0:
            per_call.append((time.perf_counter() - t0) / k)
    return per_call


def restore_mpi4py_pickle():
    """pyMOR swaps mpi4py's pickle for its own when imported; the raw rows use mpi4py's."""
    import pickle

    from mpi4py import MPI

    MPI.pickle.__init__(pickle.dumps, pickle.loads, pickle.HIGHEST_PROTOCOL)


def pymor_role(sizes, reps_of, small_k, map_k, loops, check):
    """Rank 0 times pyMOR's MPIPool; ranks > 0 run pyMOR's event loop meanwhile."""
    from mpi4py import MPI

    import pymor.core.pickle
    from pymor.tools import mpi

    # pyMOR's own pickle for pyMOR's calls (the raw rows got mpi4py's back)
    MPI.pickle.__init__(pymor.core.pickle.dumps, pymor.core.pickle.loads, pymor.core.pickle.PROTOCOL)
    rank = MPI.COMM_WORLD.Get_rank()
    try:
        if rank != 0:
            mpi.event_loop()
            return None
        mpi.finished = False
        from pymor.parallel.mpi import MPIPool as PymorMPIPool
        from pymor.vectorarrays.numpy import NumpyVectorSpace

        out = {"scatter": {}, "small": {}}
        pool = PymorMPIPool()
        A = _main_array()
        for mb in sizes:
            n = SIZES_MB[mb]
            U = NumpyVectorSpace(DIM).from_numpy(A[:n].T)
            times = []
            for i in range(reps_of[mb] + 1):
                t0 = time.perf_counter()
                R = pool.scatter_array(U, copy=True)
                t = time.perf_counter() - t0
                if i == 1 and check:
                    lens = pool.apply(length, U=R)
                    out.setdefault("check", []).append(sum(lens) == n)
                del R
                if i:
                    times.append(t)
            out["scatter"][mb] = times
            del U
            gc.collect()

        def loop(fn, k):
            per = []
            for i in range(loops + 1):
                t0 = time.perf_counter()
                for _ in range(k):
                    fn()
                if i:
                    per.append((time.perf_counter() - t0) / k)
            return per

        out["small"]["apply(f)"] = loop(lambda: pool.apply(noop), small_k)
        out["small"]["apply(os.getpid)"] = loop(lambda: pool.apply(os.getpid), small_k)
        last = len(pool) - 1
        out["small"]["apply_only(f, last)"] = loop(lambda: pool.apply_only(noop, last), small_k)
        items = list(range(1000))
        out["small"]["map(f, 1000 items)"] = loop(lambda: pool.map(ident, items), map_k)
        if check:
            out.setdefault("check", []).append(pool.map(ident, items) == items)

        def push_loop():
            per = []
            for i in range(loops + 1):
                t0 = time.perf_counter()
                rs = [pool.push({"a": 1, "b": 2.0}) for _ in range(small_k)]
                pool.apply(noop)
                if i:
                    per.append((time.perf_counter() - t0) / small_k)
                del rs
            return per

        out["small"]["push(small dict)"] = push_loop()
        out["small"]["scatter_list(1000 items)"] = loop(lambda: pool.scatter_list(items), map_k)
        pool = None  # its remote objects go before pyMOR's event loop ends
        gc.collect()
        return out
    finally:
        if rank == 0:
            mpi.quit()
        restore_mpi4py_pickle()


# --------------------------------------------------------------------------- #
# rank 0: our pool                                                             #
# --------------------------------------------------------------------------- #
def loop_on(fn, k, loops):
    """Per-call times of ``loops`` loops of ``k`` calls, after one warm-up loop (none with loops=0)."""
    per = []
    for i in range(max(1, loops + (loops > 0))):
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        if i or loops == 0:
            per.append((time.perf_counter() - t0) / k)
    return per


def ours_scatter(pool, n, reps, copy, check, warm=True):
    A = _main_array()[:n]
    times = []
    ok = True
    for i in range(reps + warm):
        gc.collect()
        t0 = time.perf_counter()
        R = pool.scatter_array(A, copy=copy)
        t = time.perf_counter() - t0
        if i == 1 and check:
            offs = sp.even_split(n, len(pool))
            got = pool.apply(lambda U: (U.shape, float(U.sum())), U=R)
            ok = all(got[w][0] == (offs[w + 1] - offs[w], DIM) for w in range(len(pool)))
            ok = ok and bool(np.isclose(sum(g[1] for g in got), A.sum()))
        R.remove()
        del R
        if i or not warm:
            times.append(t)
    return times, ok


def ours_small(pool, k, map_k, loops):
    """Our small calls, each loop right after a loop of the raw round trip (interleaved: fair under noise)."""
    out: dict[str, list[float]] = {}
    items = list(range(1000))
    last = len(pool) - 1

    def push_loop():
        t0 = time.perf_counter()
        rs = [pool.push({"a": 1, "b": 2.0}) for _ in range(k)]
        pool.apply(noop)
        t = (time.perf_counter() - t0) / k
        del rs
        return t

    def scatter_list_loop():
        t0 = time.perf_counter()
        for _ in range(map_k):
            pool.scatter_list(items).remove()
        return (time.perf_counter() - t0) / map_k

    rows = {
        "raw bcast+f+gather": lambda: pool.apply(raw_small_role, k, 0)[0][0],
        "MPIPool.apply(f)": lambda: loop_on(lambda: pool.apply(noop), k, 0)[0],
        "MPIPool.apply(os.getpid)": lambda: loop_on(lambda: pool.apply(os.getpid), k, 0)[0],
        "MPIPool.apply_only(f, last)": lambda: loop_on(lambda: pool.apply_only(noop, last), k, 0)[0],
        "MPIPool.map(f, 1000 items)": lambda: loop_on(lambda: pool.map(ident, range(1000)), map_k, 0)[0],
        "MPIPool.map(f, list of 1000)": lambda: loop_on(lambda: pool.map(ident, items), map_k, 0)[0],
        "MPIPool.push(small dict)": push_loop,
        "MPIPool.scatter_list(1000 items)": scatter_list_loop,
    }
    for name, fn in rows.items():  # warm-up
        fn()
    for _ in range(loops):
        for name, fn in rows.items():
            out.setdefault(name, []).append(fn())
    return out


# --------------------------------------------------------------------------- #
# report                                                                       #
# --------------------------------------------------------------------------- #
def stats(values):
    return min(values), statistics.median(values), max(values)


def fmt_time(s):
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


def _loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def _other_cpu():
    """Busy CPU seconds of the whole machine from /proc/stat (for the load of other processes)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="8,80,800", help="array sizes in MB (8, 80, 800)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole suite; medians of round medians")
    parser.add_argument("--quick", action="store_true", help="8 MB only, 3 repeats, short loops")
    parser.add_argument("--no-pymor", action="store_true", help="skip pyMOR's MPIPool")
    parser.add_argument("--json", help="write the raw times to this file")
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(",")]
    reps_of = dict(REPEATS)
    small_k, map_k, loops = SMALL_K, MAP_K, LOOPS
    if opts.quick:
        sizes = [8]
        reps_of = {mb: 3 for mb in reps_of}
        small_k, map_k, loops = 200, 20, 3
    for mb in sizes:
        if mb not in SIZES_MB:
            parser.error(f"sizes are 8, 80 or 800 MB, got {mb}")

    pool = MPIPool()
    K = len(pool)
    if K < 2:
        print("bench_mpi: run it on 2 or 3 ranks: mpiexec -n 2 python -m scatterpool.mpi bench/bench_mpi.py")
    have_pymor = not opts.no_pymor
    if have_pymor:
        try:
            import pymor.tools.mpi  # noqa: F401  (imports pyMOR, which swaps mpi4py's pickle for its own ...)
        except ImportError:
            have_pymor = False
            print("pyMOR is not installed (pip install pymor): its columns are left out")
    from mpi4py import MPI

    restore_mpi4py_pickle()  # ... which the raw rows must not use

    versions = {"numpy": np.__version__, "scatterpool": sp.__version__, "mpi4py": __import__("mpi4py").__version__}
    if have_pymor:
        versions["pymor"] = __import__("pymor").__version__
    print(f"# bench_mpi  {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}")
    print(f"python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"MPI: {MPI.Get_library_version().splitlines()[0].strip()}; {K} ranks; nproc {os.cpu_count()}; "
          f"loadavg at start {_loadavg()}")
    print("times: best / median / max; GB/s at the median time; ratio = ours / theirs (time), "
          "or ours / theirs (GB/s) for scatters")
    sys.stdout.flush()

    global _A
    nmax = max(SIZES_MB[mb] for mb in sizes)
    _A = np.random.default_rng(0).random((nmax, DIM))
    sys.modules["__main__"]._A = _A

    checks: list[tuple[str, bool]] = []
    rounds = []
    t_start = time.perf_counter()
    for r in range(opts.rounds):
        cpu0, wall0, own0 = _other_cpu(), time.perf_counter(), sum(pool.apply(time.process_time))
        res: dict = {"scatter": {}, "small": {}}
        for mb in sizes:
            n = SIZES_MB[mb]
            reps = reps_of[mb]
            print(f"... round {r + 1}: scatter {mb} MB", file=sys.stderr, flush=True)
            row = res["scatter"][mb] = {}
            # warm-up, and the correctness checks (outside the timed calls)
            times, ok = pool.apply(raw_scatter_role, n, 1, False)[0]
            checks.append((f"raw Scatterv {mb} MB", ok))
            for copy in (True, False):
                times, ok = ours_scatter(pool, n, 1, copy, r == 0)
                checks.append((f"scatter_array(copy={copy}) {mb} MB", ok))
            # the timed calls, interleaved: each tool gets the same share of the noise
            names = ("raw Scatterv (reused buffer)", "raw Scatterv (fresh buffer)", "MPIPool.scatter_array",
                     "MPIPool.scatter_array(copy=False)")
            for name in names:
                row[name] = []
            for _ in range(reps):
                row[names[0]] += pool.apply(raw_scatter_role, n, 1, False, False)[0][0]
                row[names[1]] += pool.apply(raw_scatter_role, n, 1, True, False)[0][0]
                row[names[2]] += ours_scatter(pool, n, 1, True, False, False)[0]
                row[names[3]] += ours_scatter(pool, n, 1, False, False, False)[0]
            row["raw pickle scatter"] = pool.apply(raw_pickle_scatter_role, n, min(reps, 3))[0]
            gc.collect()
        print(f"... round {r + 1}: small calls", file=sys.stderr, flush=True)
        res["small"].update(ours_small(pool, small_k, map_k, loops))
        if have_pymor:
            print(f"... round {r + 1}: pyMOR", file=sys.stderr, flush=True)
            out = pool.apply(pymor_role, sizes, reps_of, small_k, map_k, loops, r == 0)[0]
            for mb in sizes:
                res["scatter"][mb]["pyMOR MPIPool.scatter_array"] = out["scatter"][mb]
            res["small"].update({"pyMOR " + k: v for k, v in out["small"].items()})
            checks.extend((f"pyMOR check {i}", ok) for i, ok in enumerate(out.get("check", [])))
        cpu1, wall1, own1 = _other_cpu(), time.perf_counter(), sum(pool.apply(time.process_time))
        if cpu0 is not None and cpu1 is not None:
            others = max(0.0, (cpu1 - cpu0) - (own1 - own0)) / ((wall1 - wall0) * (os.cpu_count() or 1))
            res["other_load"] = others
        rounds.append(res)

    def combine(get):
        per_round = [get(res) for res in rounds]
        if len(per_round) == 1:
            return per_round[0]
        meds = [statistics.median(v) for v in per_round]
        return [min(min(v) for v in per_round), statistics.median(meds), max(max(v) for v in per_round)]

    print()
    for mb in sizes:
        n = SIZES_MB[mb]
        nbytes = n * DIM * 8
        print(f"### scatter of {mb} MB ({n} x {DIM} float64) over {K} ranks")
        print()
        print("| method | GB/s (median) | best / median / max time |")
        print("|---|---:|---|")
        for name in rounds[0]["scatter"][mb]:
            lo, med, hi = stats(combine(lambda res: res["scatter"][mb][name]))
            print(f"| {name} | {nbytes / med / 1e9:.2f} | {fmt_time(lo)} / {fmt_time(med)} / {fmt_time(hi)} |")
        print()
    print(f"### small calls over {K} ranks (per call; map and scatter_list per call of 1000 items)")
    print()
    print("| operation | median | best / max |")
    print("|---|---:|---|")
    for name in rounds[0]["small"]:
        lo, med, hi = stats(combine(lambda res: res["small"][name]))
        print(f"| {name} | {fmt_time(med)} | {fmt_time(lo)} / {fmt_time(hi)} |")
    print()

    # ratios and targets
    def med(get):
        return statistics.median(combine(get))

    lines = []
    for mb in sizes:
        ours = med(lambda res: res["scatter"][mb]["MPIPool.scatter_array"])
        for other in ("raw Scatterv (reused buffer)", "raw Scatterv (fresh buffer)", "raw pickle scatter",
                      "pyMOR MPIPool.scatter_array"):
            if other not in rounds[0]["scatter"][mb]:
                continue
            theirs = med(lambda res: res["scatter"][mb][other])
            ratio = theirs / ours  # GB/s ours / GB/s theirs
            target = ""
            if mb == 800 and other.startswith("raw Scatterv"):
                target = ">= 0.8" + (" met" if ratio >= 0.8 else " MISSED")
            lines.append((f"scatter_array {mb} MB vs {other}", f"{ratio:.2f}x (GB/s ours/theirs)", target))
        ours_nc = med(lambda res: res["scatter"][mb]["MPIPool.scatter_array(copy=False)"])
        raw = med(lambda res: res["scatter"][mb]["raw Scatterv (reused buffer)"])
        lines.append((f"scatter_array(copy=False) {mb} MB vs raw Scatterv (reused buffer)",
                      f"{raw / ours_nc:.2f}x (GB/s ours/theirs)", ""))
    raw_rt = med(lambda res: res["small"]["raw bcast+f+gather"])
    for name in ("MPIPool.apply(f)", "MPIPool.apply(os.getpid)"):
        ratio = med(lambda res: res["small"][name]) / raw_rt
        lines.append((f"{name} vs raw bcast+f+gather", f"{ratio:.2f} (time ours/theirs)",
                      "<= 1.5" + (" met" if ratio <= 1.5 else " MISSED")))
    if have_pymor:
        for ours_name, theirs_name, target in (
            ("MPIPool.map(f, 1000 items)", "pyMOR map(f, 1000 items)", 0.5),
            ("MPIPool.map(f, list of 1000)", "pyMOR map(f, 1000 items)", None),
            ("MPIPool.apply(f)", "pyMOR apply(f)", None),
            ("MPIPool.apply(os.getpid)", "pyMOR apply(os.getpid)", None),
            ("MPIPool.apply_only(f, last)", "pyMOR apply_only(f, last)", None),
            ("MPIPool.push(small dict)", "pyMOR push(small dict)", None),
            ("MPIPool.scatter_list(1000 items)", "pyMOR scatter_list(1000 items)", None),
        ):
            ratio = med(lambda res: res["small"][ours_name]) / med(lambda res: res["small"][theirs_name])
            t = "" if target is None else f"<= {target}" + (" met" if ratio <= target else " MISSED")
            lines.append((f"{ours_name} vs {theirs_name}", f"{ratio:.2f} (time ours/theirs)", t))
    print("### ratios")
    print()
    print("| comparison | ratio | target |")
    print("|---|---:|---|")
    for a, b, c in lines:
        print(f"| {a} | {b} | {c} |")
    print()
    loads = [res.get("other_load") for res in rounds if res.get("other_load") is not None]
    if loads:
        print(f"CPU used by other processes while the rounds ran (share of all CPUs): "
              f"{', '.join(f'{x:.0%}' for x in loads)}; above ~10% the numbers are not comparable with a quiet run")
    failed = [name for name, ok in checks if not ok]
    print(f"correctness checks: {len(checks) - len(failed)} passed, {len(failed)} failed"
          + (": " + ", ".join(failed) if failed else ""))
    print(f"loadavg at end {_loadavg()}, runtime {time.perf_counter() - t_start:.0f} s")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"ranks": K, "sizes": sizes, "rounds": rounds}, f, default=str)
    pool.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
