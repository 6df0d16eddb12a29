"""``python -m scatterpool demo``: a small real workload on every pool; ``bench``: the benchmark suite."""

from __future__ import annotations

import argparse
import sys
import time
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

import scatterpool as sp

Array = NDArray[np.float64]


class _Outcome(NamedTuple):
    """What one pool computed, and how long each step took (seconds)."""

    timings: dict[str, float]
    norms: Array
    gram: Array
    response: Array


def _norms(U: Array) -> Array:
    norms: Array = np.sqrt(np.einsum("ij,ij->i", U, U))
    return norms


def _gram(U: Array) -> Array:
    gram: Array = U.T @ U
    return gram


def _damped_response(omega: float, *, system: dict[str, Array]) -> float:
    # |H(i omega)| of a damped oscillator chain: one point of a parameter sweep.
    k, c = system["stiffness"], system["damping"]
    return float(np.abs(1.0 / (k - omega**2 + 1j * c * omega)).sum())


def _run(pool: sp.WorkerPool, A: Array, omegas: Array) -> _Outcome:
    timings: dict[str, float] = {}
    t = time.perf_counter()
    U = pool.scatter_array(A, copy=False)
    timings["scatter_array copy=False"] = time.perf_counter() - t

    t = time.perf_counter()
    Uc = pool.scatter_array(A, copy=True)
    timings["scatter_array copy=True"] = time.perf_counter() - t

    t = time.perf_counter()
    norms = np.concatenate(pool.apply(lambda U: _norms(U), U=U))
    timings["norms (apply)"] = time.perf_counter() - t

    t = time.perf_counter()
    G: Array = sum(pool.apply(lambda U: _gram(U), U=Uc), np.zeros((A.shape[1], A.shape[1])))
    timings["Gram matrix (apply + sum)"] = time.perf_counter() - t

    system = pool.push({"stiffness": np.linspace(1.0, 2.0, 200), "damping": np.full(200, 0.05)})
    t = time.perf_counter()
    response = pool.map(_damped_response, omegas, system=system)
    timings["parameter sweep (map)"] = time.perf_counter() - t

    for remote in (U, Uc, system):
        remote.remove()
    assert pool._registry_size() == 0
    return _Outcome(timings, norms, G, np.asarray(response, dtype=np.float64))


def demo(rows: int, dim: int, points: int) -> int:
    rng = np.random.default_rng(0)
    print(f"scatterpool {sp.__version__} demo: {rows} x {dim} float64 array ({rows * dim * 8 / 1e6:.0f} MB), "
          f"{points}-point parameter sweep")
    A = rng.standard_normal((rows, dim))
    omegas = np.linspace(0.5, 2.0, points)
    reference_norms = _norms(A)
    reference_gram = _gram(A)
    results: dict[str, _Outcome] = {}
    with sp.ThreadPool() as threads:
        for name, pool in (("DummyPool", sp.dummy_pool), (f"ThreadPool({len(threads)})", threads)):
            out = _run(pool, A, omegas)
            ok = np.allclose(out.norms, reference_norms) and np.allclose(out.gram, reference_gram)
            results[name] = out
            print(f"\n{name}: results {'match' if ok else 'DO NOT match'} the serial NumPy computation")
            if not ok:
                return 1
            for what, seconds in out.timings.items():
                print(f"  {what:<28} {seconds * 1e3:9.2f} ms")
    first, second = results.values()
    if not np.allclose(first.response, second.response):
        print("the parameter sweeps differ between pools")
        return 1
    peak = omegas[int(np.argmax(first.response))]
    print(f"\nlargest vector norm {first.norms.max():.4f}, trace of the Gram matrix {np.trace(first.gram):.1f}, "
          f"sweep peak at omega = {peak:.4f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scatterpool")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("demo", help="scatter an array, compute norms and a Gram matrix, run a parameter sweep")
    d.add_argument("--rows", type=int, default=1_000_000)
    d.add_argument("--dim", type=int, default=50)
    d.add_argument("--points", type=int, default=2000)
    b = sub.add_parser("bench", help="time every pool beside what users would pick instead, in one run")
    from ._bench.suite import add_arguments

    add_arguments(b)
    args = parser.parse_args(argv)
    if args.command == "bench":
        from ._bench.suite import main as bench

        return bench(args)
    return demo(args.rows, args.dim, args.points)


if __name__ == "__main__":
    sys.exit(main())
