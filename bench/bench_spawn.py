"""Process parallelism without mpiexec: SciPy's differential evolution on every kind of pool.

Run it as a plain script (it launches the mpiexec part itself)::

    python bench/bench_spawn.py             # about 1 minute on 2 cores
    python bench/bench_spawn.py --quick     # 15 generations
    options: --generations G  --rounds R (best of R, the pools in turn)  --json FILE

The workload: ``scipy.optimize.differential_evolution(objective, bounds,
workers=pool.map, updating="deferred")`` in 5 dimensions for 60 generations
(population 15 x 5 = 75, no early stop, no polish), where ``objective`` is
pure Python (about 2 ms of CPU in interpreted loops a call): it holds the
GIL, so threads cannot help and processes can. Each pool gets the same call:

* serial: ``workers=map`` (no pool);
* ``scatterpool.ThreadPool(2)``;
* ``MPIPool.spawn(2)``: this process and one spawned worker;
* ``MPIPool()`` under ``mpiexec -n 2 python -m scatterpool.mpi`` (a child
  launch of this script; its startup counts from the start of mpiexec);
* ``concurrent.futures.ProcessPoolExecutor(2)`` (fork; ``map`` with its
  default chunksize of 1, as a user passes ``workers=executor.map``);
* ``mpi4py.futures.MPIPoolExecutor(2)`` (2 spawned workers).

Every run must find the same optimum as the serial one (same ``x`` and
``fun``, bit for bit: the evaluations are the same numbers in the same
order). Reported: the time of the optimisation, its ratio to serial, and the
startup time of the pool (from the constructor to a pool that has run a
call). Targets: ``MPIPool.spawn(2)`` at most 0.55x serial and faster than
``ProcessPoolExecutor(2)``; a usable spawned pool within 1 s. The ratios
need two cores free: on a machine busy with other work (the load average is
printed at the start and the end) no pool can run two processes at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

BOUNDS = [(-5.0, 5.0)] * 5


def objective(x: Any) -> float:
    """A Rosenbrock valley summed over interpreted loops (about 2 ms of CPU): it holds the GIL throughout."""
    xs = [float(v) for v in x]
    total = 0.0
    for k in range(3000):
        shift = k * 1e-4
        for i in range(len(xs) - 1):
            a = xs[i] + shift
            b = xs[i + 1] - a * a
            total += 100.0 * b * b + (1.0 - a) * (1.0 - a)
    return total / 3000


def optimise(workers: Callable[..., Any], generations: int) -> list[Any]:
    from scipy.optimize import differential_evolution

    result = differential_evolution(
        objective,
        BOUNDS,
        workers=workers,
        updating="deferred",
        maxiter=generations,
        tol=0.0,
        atol=0.0,
        polish=False,
        seed=1234,
    )
    return [[float(v) for v in result.x], float(result.fun)]  # as it comes back through JSON


def timed(workers: Callable[..., Any], generations: int) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    result = optimise(workers, generations)
    return time.perf_counter() - start, result


def launched_part(generations: int) -> None:
    """Rank 0 of ``mpiexec -n 2 python -m scatterpool.mpi bench_spawn.py --launched G``."""
    from scatterpool.mpi import MPIPool

    pool = MPIPool()
    pool.apply(os.getpid)
    ready = time.time()
    seconds, result = timed(pool.map, generations)
    pool.close()
    print(json.dumps({"ready": ready, "seconds": seconds, "result": result, "size": len(pool)}), flush=True)


def run_launched(generations: int) -> dict[str, Any]:
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    args = [os.path.join(bindir, "mpiexec"), "-n", "2", sys.executable, "-m", "scatterpool.mpi"]
    args += [os.path.abspath(__file__), "--launched", str(generations)]
    start = time.time()
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800, check=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    return {"startup": report["ready"] - start, "seconds": report["seconds"], "result": report["result"]}


def keep(rows: dict[str, dict[str, Any]], name: str, startup: float | None, seconds: float, result: Any) -> None:
    """Records a run: the best time of a pool and the results of all its runs."""
    print(f"  {name:34s} {seconds:8.2f} s", flush=True)
    row = rows.setdefault(name, {"startup": startup, "seconds": seconds, "results": []})
    row["seconds"] = min(row["seconds"], seconds)
    if startup is not None:
        row["startup"] = min(row["startup"], startup)
    row["results"].append(result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generations", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="15 generations")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the pools in turn; the best time counts")
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--launched", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.launched is not None:
        launched_part(options.launched)
        return 0
    generations = 15 if options.quick else options.generations

    from concurrent.futures import ProcessPoolExecutor

    import mpi4py.futures

    import scatterpool as sp
    from scatterpool.mpi import MPIPool

    print(f"differential evolution: 5 dimensions, {generations} generations, population 75, pure-Python objective")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; best of {options.rounds} rounds\n")

    # Each pool is made, used and closed in turn (a pool left open can slow the others:
    # MPIPoolExecutor's manager thread takes the GIL of this process), and the rounds
    # interleave them, so that the load of other processes hits all of them alike.
    @contextlib.contextmanager
    def serial() -> Iterator[Callable[..., Any]]:
        yield map

    @contextlib.contextmanager
    def threads() -> Iterator[Callable[..., Any]]:
        with sp.ThreadPool(2) as pool:
            pool.apply(os.getpid)
            yield pool.map

    @contextlib.contextmanager
    def spawned() -> Iterator[Callable[..., Any]]:
        with MPIPool.spawn(2) as pool:
            pool.apply(os.getpid)
            yield pool.map

    @contextlib.contextmanager
    def processes() -> Iterator[Callable[..., Any]]:
        with ProcessPoolExecutor(2) as executor:
            list(executor.map(abs, [1, 2]))
            yield executor.map

    @contextlib.contextmanager
    def futures() -> Iterator[Callable[..., Any]]:
        with mpi4py.futures.MPIPoolExecutor(2) as executor:
            executor.bootup(wait=True)
            yield executor.map

    pools: dict[str, Callable[[], contextlib.AbstractContextManager[Callable[..., Any]]]] = {
        "serial (workers=map)": serial,
        "ThreadPool(2)": threads,
        "MPIPool.spawn(2)": spawned,
        "ProcessPoolExecutor(2)": processes,
        "mpi4py.futures.MPIPoolExecutor(2)": futures,
    }
    rows: dict[str, dict[str, Any]] = {}
    for r in range(options.rounds):
        print(f"round {r + 1}:", flush=True)
        for name, make in pools.items():
            t = time.perf_counter()
            with make() as workers:
                startup = None if name.startswith("serial") else time.perf_counter() - t
                seconds, result = timed(workers, generations)
            keep(rows, name, startup, seconds, result)
        launched = run_launched(generations)
        keep(rows, "MPIPool() under mpiexec -n 2", launched["startup"], launched["seconds"], launched["result"])

    print()
    for name, row in rows.items():
        start_text = "       -" if row["startup"] is None else f"{row['startup']:8.3f} s"
        print(f"{name:34s} {row['seconds']:8.2f} s   startup {start_text}")

    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    base = rows["serial (workers=map)"]
    print("\nratio to serial (lower is better):")
    reference = base["results"][0]
    for name, row in rows.items():
        same = all(result == reference for result in row["results"])
        print(f"  {name:34s} {row['seconds'] / base['seconds']:6.3f}x   same optimum: {'yes' if same else 'NO'}")
    spawn = rows["MPIPool.spawn(2)"]
    process = rows["ProcessPoolExecutor(2)"]
    ratio = spawn["seconds"] / base["seconds"]
    print(
        f"\ntargets: MPIPool.spawn(2) <= 0.55x serial: {ratio:.3f}x "
        f"({'met' if ratio <= 0.55 else 'MISSED'}); faster than ProcessPoolExecutor(2): "
        f"{spawn['seconds']:.2f} s vs {process['seconds']:.2f} s "
        f"({'met' if spawn['seconds'] < process['seconds'] else 'MISSED'}); usable within 1 s: "
        f"{spawn['startup']:.3f} s ({'met' if spawn['startup'] <= 1.0 else 'MISSED'})"
    )
    if options.json:
        with open(options.json, "w") as f:
            json.dump({"generations": generations, "rows": rows}, f, indent=1)
    return 0 if all(result == reference for row in rows.values() for result in row["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
