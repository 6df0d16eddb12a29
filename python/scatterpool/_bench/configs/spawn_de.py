"""Process parallelism without mpiexec: SciPy's differential evolution on every kind of pool of 2 workers.

The workload: ``scipy.optimize.differential_evolution(objective, bounds, workers=pool.map,
updating="deferred")`` in 5 dimensions for 60 generations (15 with ``--quick``; population
15 x 5 = 75, no early stop, no polish), where ``objective`` is pure Python (about 2 ms of CPU in
interpreted loops a call): it holds the GIL, so threads cannot help and processes can. The same
call on

* serial: ``workers=map`` (no pool), the anchor;
* ``scatterpool.ThreadPool(2)``;
* ``MPIPool.spawn(2)``: this process and one spawned worker;
* ``MPIPool()`` under ``mpiexec -n 2 python -m scatterpool.mpi`` (a child launch of this module;
  its startup counts from the start of mpiexec);
* ``concurrent.futures.ProcessPoolExecutor(2)`` (``map`` with its default chunksize of 1, as a
  user passes ``workers=executor.map``);
* ``mpi4py.futures.MPIPoolExecutor(2)`` (2 spawned workers).

Every run must find the serial optimum (same ``x`` and ``fun``, bit for bit: the evaluations are
the same numbers in the same order). The pools take turns, round after round, so that the load of
other processes hits all of them alike; each pool is made, used and closed in its turn (an open
``MPIPoolExecutor``'s manager thread takes this process's GIL). Rows: the optimisation per pool
(one time per round) and the startup of each pool (constructor to a pool that has run a call).
Targets: ``MPIPool.spawn(2)`` at most 0.55x serial and faster than ``ProcessPoolExecutor(2)``; a
usable spawned pool within 1 s. The ratios need two free cores.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..options import Options
from ..record import Record, Target

BOUNDS = [(-5.0, 5.0)] * 5
STARTUP_BUDGET = 1.0  # seconds to a usable MPIPool.spawn(2)


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
    """The optimum ``[x, fun]`` as plain floats (as it comes back through JSON from the launched run)."""
    from scipy.optimize import differential_evolution  # type: ignore[import-untyped]

    result = differential_evolution(
        objective, BOUNDS, workers=workers, updating="deferred", maxiter=generations,
        tol=0.0, atol=0.0, polish=False, seed=1234,
    )
    return [[float(v) for v in result.x], float(result.fun)]


def timed(workers: Callable[..., Any], generations: int) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    result = optimise(workers, generations)
    return time.perf_counter() - start, result


@contextlib.contextmanager
def serial() -> Iterator[Callable[..., Any]]:
    yield map


@contextlib.contextmanager
def threads() -> Iterator[Callable[..., Any]]:
    import scatterpool as sp

    with sp.ThreadPool(2) as pool:
        pool.apply(os.getpid)
        yield pool.map


@contextlib.contextmanager
def spawned() -> Iterator[Callable[..., Any]]:
    from scatterpool.mpi import MPIPool

    with MPIPool.spawn(2) as pool:
        pool.apply(os.getpid)
        yield pool.map


@contextlib.contextmanager
def processes() -> Iterator[Callable[..., Any]]:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as executor:
        list(executor.map(abs, [1, 2]))
        yield executor.map


@contextlib.contextmanager
def futures() -> Iterator[Callable[..., Any]]:
    import mpi4py.futures

    with mpi4py.futures.MPIPoolExecutor(2) as executor:
        executor.bootup(wait=True)
        yield executor.map


POOLS: dict[str, tuple[str, Callable[[], contextlib.AbstractContextManager[Callable[..., Any]]]]] = {
    "serial": ("serial (workers=map)", serial),
    "threads": ("ThreadPool(2)", threads),
    "spawn": ("MPIPool.spawn(2)", spawned),
    "processes": ("ProcessPoolExecutor(2)", processes),
    "futures": ("mpi4py.futures.MPIPoolExecutor(2)", futures),
}
LAUNCHED = "MPIPool() under mpiexec -n 2"


def launched_part(generations: int) -> None:
    """Rank 0 of ``mpiexec -n 2 python -m scatterpool.mpi -m scatterpool._bench.configs.spawn_de G``."""
    from scatterpool.mpi import MPIPool

    pool = MPIPool()
    pool.apply(os.getpid)
    ready = time.time()
    seconds, result = timed(pool.map, generations)
    pool.close()
    print(json.dumps({"ready": ready, "seconds": seconds, "result": result}), flush=True)


def run_launched(generations: int) -> tuple[float, float, list[Any]]:
    """Startup, seconds and optimum of the launched run."""
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
    args = [os.path.join(bindir, "mpiexec"), "-n", "2", sys.executable, "-m", "scatterpool.mpi",
            "-m", __name__, str(generations)]
    start = time.time()
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800, check=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    return report["ready"] - start, report["seconds"], report["result"]


def run(rec: Record, opts: Options) -> None:
    generations = 15 if opts.quick else 60
    rounds = 1 if opts.quick else min(opts.repeat, 3)
    seconds: dict[str, list[float]] = {key: [] for key in [*POOLS, "launched"]}
    startups: dict[str, list[float]] = {key: [] for key in [*POOLS, "launched"] if key != "serial"}
    results: dict[str, list[Any]] = {key: [] for key in seconds}
    for _ in range(rounds):
        for key, (_, make) in POOLS.items():
            t = time.perf_counter()
            with make() as workers:
                if key != "serial":
                    startups[key].append(time.perf_counter() - t)
                took, result = timed(workers, generations)
            seconds[key].append(took)
            results[key].append(result)
        startup, took, result = run_launched(generations)
        startups["launched"].append(startup)
        seconds["launched"].append(took)
        results["launched"].append(result)

    names = {key: name for key, (name, _) in POOLS.items()} | {"launched": LAUNCHED}
    what = f"differential evolution ({generations} generations)"
    reference = results["serial"][0]
    for key, name in names.items():
        rec.check(all(r == reference for r in results[key]), f"{name}: the serial optimum")
        rec.add_times(key, f"{what}: {name}", seconds[key], per="run", pool=name)
        if key in startups:
            rec.add_times(f"startup:{key}", f"{name} startup", startups[key], per="start", pool=name)
    for key, name in names.items():
        if key != "serial":
            target = Target("ratio<=", 0.55) if key == "spawn" else None
            rec.compare(f"{what} on {name}", key, "serial", target)
    rec.compare(f"{what} on MPIPool.spawn(2), against ProcessPoolExecutor(2)", "spawn", "processes",
                Target("ratio<=", 1.0))
    rec.add_times("budget", f"the budget of {STARTUP_BUDGET:g} s (a constant)", [STARTUP_BUDGET], per="start",
                  pool="budget")
    rec.compare("startup of MPIPool.spawn(2), to a pool that has run a call", "startup:spawn", "budget",
                Target("ratio<=", 1.0))
    for key in ("processes", "futures", "launched"):
        rec.compare(f"startup of MPIPool.spawn(2), against {names[key]}", "startup:spawn", f"startup:{key}")
    rec.note(f"spawn: {rounds} round(s) of the pools in turn; SciPy's differential evolution, {generations} "
             f"generations; the ratios need two free cores")


if __name__ == "__main__":
    launched_part(int(sys.argv[1]))
