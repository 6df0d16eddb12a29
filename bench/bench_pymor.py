"""pyMOR's own algorithms on scatterpool.pymor's pools and on pyMOR's MPIPool, against pool=None.

Run it as a plain script (it starts the MPI runs itself)::

    python bench/bench_pymor.py              # the 2x2 thermal block at diameter 1/100: about 5 minutes
    python bench/bench_pymor.py --quick      # diameter 1/40, 3 extensions: about a minute
    options: --diameter D  --extensions E  --samples S (per parameter; S**4 training parameters)
             --no-mpi (only the ThreadPool)  --json FILE

The workload: pyMOR's 2x2 thermal block, discretized with P1 finite elements
(``discretize_stationary_cg``; diameter 1/100: 20,201 dofs), a
``CoerciveRBReductor`` with the H1-0 product, 81 training parameters
(``sample_uniformly(3)``) and

* ``rb_greedy(use_error_estimator=False, max_extensions=6)``: every
  evaluation solves the full model for every training parameter on the
  workers (the pushed model and the pushed reductor);
* ``reduction_error_analysis`` of the resulting ROM on the training
  parameters, with the error estimator and the H1-0 error, every basis size:
  one ``map`` of full solves and reductions.

Each pool is timed in its own launch against ``pool=None`` timed in the same
launch (the machine is shared: absolute times drift between launches), and
reported as the ratio pool / serial:

* here: ``scatterpool.pymor.ThreadPool(2)``;
* ``mpiexec -n 2 python -m scatterpool.mpi bench/bench_pymor.py --role scatterpool-mpi``:
  ``scatterpool.pymor.MPIPool`` (2 ranks);
* ``mpiexec -n 2 python -m pymor.tools.mpi bench/bench_pymor.py --role pymor-mpi``:
  pyMOR's own ``pymor.parallel.mpi.MPIPool`` (2 ranks).

Every parallel run is checked against the serial one (the same greedy
parameters and errors; the same error table).

Beside the wall times, each line gives rank 0's CPU time of the run with
the pool against that of the serial run ("rank-0 CPU"): on MPI that is
rank 0's share of the work plus its serial part, a figure a loaded machine
hardly moves (the wall ratio is meaningless there); on threads it counts
both threads. Note on pyMOR's own ``MPIPool``: while its rank 0 runs the
``pool=None`` timing, its other rank waits in pyMOR's event loop inside a
blocking MPI call, which polls at full speed and takes a CPU: on a machine
of 2 CPUs that slows the serial timing of that launch, and flatters its ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROLES = ("threads", "scatterpool-mpi", "pymor-mpi")
POOL_NAMES = {
    "threads": "scatterpool.pymor.ThreadPool(2)",
    "scatterpool-mpi": "scatterpool.pymor.MPIPool (2 ranks)",
    "pymor-mpi": "pyMOR's MPIPool (2 ranks)",
}
JSON_PREFIX = "BENCH-PYMOR-JSON "


def workload(diameter: float, samples: int):
    from pymor.analyticalproblems.thermalblock import thermal_block_problem
    from pymor.core.logger import set_log_levels
    from pymor.discretizers.builtin import discretize_stationary_cg
    from pymor.parameters.functionals import ExpressionParameterFunctional

    set_log_levels({"pymor": "WARN"})
    problem = thermal_block_problem((2, 2))
    fom, _ = discretize_stationary_cg(problem, diameter=diameter)
    coercivity = ExpressionParameterFunctional("min(diffusion)", fom.parameters)
    training_set = problem.parameter_space.sample_uniformly(samples)
    return fom, coercivity, training_set


def new_reductor(fom, coercivity):
    from pymor.reductors.coercive import CoerciveRBReductor

    return CoerciveRBReductor(fom, product=fom.h1_0_semi_product, coercivity_estimator=coercivity)


class Timer:
    """Wall time and this process's CPU time of a block."""

    def __enter__(self):
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info):
        self.wall = time.perf_counter() - self.start
        self.cpu = time.process_time() - self.cpu_start


def run_greedy(fom, coercivity, training_set, extensions, pool):
    from pymor.algorithms.greedy import rb_greedy

    reductor = new_reductor(fom, coercivity)
    with Timer() as t:
        data = rb_greedy(fom, reductor, training_set, use_error_estimator=False, max_extensions=extensions, pool=pool)
    return t, data, reductor


def run_analysis(fom, rom, reductor, test_mus, pool):
    from pymor.algorithms.error import reduction_error_analysis

    with Timer() as t:
        result = reduction_error_analysis(
            rom, fom, reductor, test_mus, error_estimator=True, error_norms=(fom.h1_0_semi_norm,), pool=pool
        )
    return t, result


def same_greedy(a, b) -> bool:
    mus_a, mus_b = a["max_err_mus"], b["max_err_mus"]
    return (
        len(mus_a) == len(mus_b)
        and all(np.array_equal(x["diffusion"], y["diffusion"]) for x, y in zip(mus_a, mus_b, strict=True))
        and np.allclose(a["max_errs"], b["max_errs"], rtol=1e-10)
    )


def same_analysis(a, b) -> bool:
    return all(np.allclose(a[k], b[k], rtol=1e-10) for k in ("errors", "error_estimates", "norms"))


def measure(pool, opts) -> dict:
    """Times both workloads with pool=None, then with ``pool``, in this process."""
    fom, coercivity, training_set = workload(opts.diameter, opts.samples)
    out: dict = {"dofs": fom.solution_space.dim, "training": len(training_set), "workers": len(pool)}
    out["load_start"] = os.getloadavg()[0]
    serial_t, serial, reductor = run_greedy(fom, coercivity, training_set, opts.extensions, None)
    parallel_t, parallel, _ = run_greedy(fom, coercivity, training_set, opts.extensions, pool)
    out["rb_greedy"] = times(serial_t, parallel_t, same_greedy(serial, parallel))
    out["extensions"] = serial["extensions"]
    rom = serial["rom"]
    serial_t, serial_result = run_analysis(fom, rom, reductor, training_set, None)
    parallel_t, parallel_result = run_analysis(fom, rom, reductor, training_set, pool)
    out["reduction_error_analysis"] = times(serial_t, parallel_t, same_analysis(serial_result, parallel_result))
    out["load_end"] = os.getloadavg()[0]
    return out


def times(serial: Timer, parallel: Timer, same: bool) -> dict:
    return {
        "serial": serial.wall,
        "pool": parallel.wall,
        "serial_cpu": serial.cpu,
        "pool_cpu": parallel.cpu,
        "same": same,
    }


def role(name: str, opts) -> None:
    """One launch: the pool of ``name`` against pool=None, printed as one JSON line."""
    if name == "threads":
        from scatterpool.pymor import ThreadPool

        with ThreadPool(2) as pool:
            result = measure(pool, opts)
    elif name == "scatterpool-mpi":
        from scatterpool.pymor import MPIPool

        with MPIPool() as pool:
            result = measure(pool, opts)
    else:
        from pymor.parallel.mpi import MPIPool as PymorMPIPool

        pool = PymorMPIPool()
        result = measure(pool, opts)
    print(JSON_PREFIX + json.dumps({"role": name, **result}), flush=True)


def launch(name: str, opts) -> dict | None:
    if name == "threads":
        args = [sys.executable, __file__]
    else:
        mpiexec = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        launcher = "scatterpool.mpi" if name == "scatterpool-mpi" else "pymor.tools.mpi"
        args = [mpiexec, "-n", "2", sys.executable, "-m", launcher, os.path.abspath(__file__)]
    args += [
        "--role",
        name,
        "--diameter",
        repr(opts.diameter),
        "--extensions",
        str(opts.extensions),
        "--samples",
        str(opts.samples),
    ]
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith(JSON_PREFIX):
            return json.loads(line[len(JSON_PREFIX) :])  # type: ignore[no-any-return]
    print(f"{POOL_NAMES[name]}: the run failed (exit status {proc.returncode})\n{proc.stderr[-3000:]}")
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--diameter", type=float, default=1 / 100)
    parser.add_argument("--extensions", type=int, default=6)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="diameter 1/40, 3 extensions")
    parser.add_argument("--no-mpi", action="store_true", help="only the ThreadPool")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--role", choices=ROLES, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.quick:
        opts.diameter, opts.extensions = 1 / 40, 3
    if opts.role is not None:
        role(opts.role, opts)
        return

    import datetime
    import platform

    import pymor

    import scatterpool

    start = time.perf_counter()
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    print(f"# bench_pymor: pyMOR's algorithms, time with a pool / time with pool=None in the same launch  {now}")
    print(
        f"python {platform.python_version()}, scatterpool {scatterpool.__version__}, pymor {pymor.__version__}, "
        f"numpy {np.__version__}; {len(os.sched_getaffinity(0))} CPUs, loadavg at start "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} (a loaded machine makes the ratios meaningless)"
    )
    print(
        f"2x2 thermal block, diameter {opts.diameter:g}, {opts.samples}**4 training parameters, "
        f"{opts.extensions} extensions"
    )
    sys.stdout.flush()
    results = []
    for name in ROLES if not opts.no_mpi else ("threads",):
        r = launch(name, opts)
        if r is None:
            continue
        results.append(r)
        print(
            f"\n{POOL_NAMES[name]}  ({r['dofs']} dofs, {r['training']} training parameters, "
            f"{r['extensions']} extensions; loadavg {r['load_start']:.1f} .. {r['load_end']:.1f})"
        )
        for work in ("rb_greedy", "reduction_error_analysis"):
            w = r[work]
            print(
                f"  {work:26s} pool=None {w['serial']:7.2f} s   pool {w['pool']:7.2f} s   "
                f"ratio {w['pool'] / w['serial']:.2f}x   rank-0 CPU {w['pool_cpu'] / w['serial_cpu']:.2f}x   "
                f"{'same results' if w['same'] else 'RESULTS DIFFER'}"
            )
        sys.stdout.flush()
    if opts.json:
        with open(opts.json, "w") as fh:
            json.dump(results, fh, indent=1)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
