"""The suite: which configurations the installed extras allow, one process each, the table, the JSON.

``python -m scatterpool bench [--quick] [--only NAMES] [--json FILE] [--plots DIR]``. Each
configuration runs in a process of its own (the MPI ones under ``mpiexec -n K python -m
scatterpool.mpi``, with this interpreter's folder first on PATH), writes what it measured as JSON,
and the suite prints one table of every comparison.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from . import report
from .options import Options
from .timing import machine_info, nproc

QUICK_SIZES_MB = [8.0, 80.0]
FULL_SIZES_MB = [8.0, 80.0, 800.0]
HUGE_MB = 4000.0
HUGE_NEEDS_GIB = 16.0          # the 4 GB array, a warm buffer and a copy of it, with room to spare

EXTRAS = {  # importable name -> (what it is, the extra that brings it)
    "distributed": ("dask.distributed", "bench"),
    "mpi4py": ("mpi4py", "mpi"),
    "pymor": ("pyMOR", "bench"),
    "matplotlib": ("matplotlib", "bench"),
    "scipy": ("SciPy", "bench"),
}


@dataclass
class Config:
    name: str
    module: str                 # in scatterpool._bench.configs
    about: str
    needs: tuple[str, ...] = ()  # importable names (keys of EXTRAS)
    ranks: int = 0               # > 0: an MPI launch with this many ranks
    quick: bool = True           # part of --quick

    def mpi(self) -> bool:
        return self.ranks > 0


CONFIGS = [
    Config("dummy", "dummy", "DummyPool per call beside pyMOR's DummyPool and a bare Python call"),
    Config("threads", "threads", "ThreadPool(2) beside ThreadPoolExecutor(2): dispatch, map; kernels on 1 and 2"),
    Config("workers", "workers", "ThreadPool(k).apply(f), k = 1, 2, 4, 8, beside ThreadPoolExecutor(k)"),
    Config("sizes", "sizes", "scatter_array against data size on DummyPool, ThreadPool(2), beside np.copyto"),
    Config("dask", "dask_client", "ThreadPool(2) beside dask Client(processes=False)", needs=("distributed",)),
    Config("mpi-2", "mpi_pool", "MPIPool (2 ranks) beside raw mpi4py and pyMOR's MPIPool", ("mpi4py",), 2),
    *[Config(f"mpi-{k}", "mpi_ranks", f"MPIPool ({k} ranks).apply(f) beside raw bcast + gather", ("mpi4py",), k)
      for k in (1, 3, 4)],
    Config("mpi-tree", "mpi_tree", "messages per MPIPool.apply along the tree at K = 2..16, cost model for K = 1024",
           ("mpi4py",)),
    Config("spawn", "spawn_de", "MPIPool.spawn(2) on SciPy's differential evolution (pure Python) beside serial, "
           "threads, mpiexec, ProcessPoolExecutor, MPIPoolExecutor",
           needs=("mpi4py", "scipy")),
    Config("pymor-e2e", "pymor_e2e", "pyMOR's rb_greedy and error analysis (bench/bench_pymor.py)",
           needs=("pymor",), quick=False),
]


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def versions() -> dict[str, str]:
    out = {}
    for dist in ("scatterpool", "numpy", "pymor", "dask", "distributed", "mpi4py", "mpich", "matplotlib"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def mpiexec_path() -> str | None:
    """mpiexec, looked up with this interpreter's folder first (the mpich wheel puts it there)."""
    return shutil.which("mpiexec", path=_path())


def _path() -> str:
    return os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")


def find_pymor_script(given: str | None) -> str | None:
    """bench/bench_pymor.py of the source tree: given, next to an editable install, or under the cwd."""
    if given:
        return given if os.path.exists(given) else None
    import scatterpool

    for root in (Path(scatterpool.__file__).resolve().parents[2], Path.cwd()):
        candidate = root / "bench" / "bench_pymor.py"
        if candidate.exists():
            return str(candidate)
    return None


def select(only: list[str] | None, quick: bool, pymor_script: str | None) -> tuple[list[Config], list[str]]:
    """The configurations to run, and one line for each group skipped (with the extra that brings it)."""
    chosen = [c for c in CONFIGS if (only is None and (c.quick or not quick))
              or (only is not None and any(c.name == o or c.name.startswith(o + "-") for o in only))]
    if only is not None:
        unknown = [o for o in only if not any(c.name == o or c.name.startswith(o + "-") for c in CONFIGS)]
        if unknown:
            raise SystemExit(f"unknown configuration(s) {', '.join(unknown)}; --list shows them")
    skipped: dict[str, list[str]] = {}
    run = []
    mpiexec = mpiexec_path()
    for c in chosen:
        missing = [n for n in c.needs if not installed(n)]
        if missing:
            what, extra = EXTRAS[missing[0]]
            why = f"{what} is not installed (the {extra} extra brings it: pip install 'scatterpool[{extra}]')"
        elif (c.mpi() or "mpi4py" in c.needs) and mpiexec is None:  # mpi-tree launches mpiexec itself
            why = "mpiexec is not on PATH (the mpi extra brings the mpich wheel's: pip install 'scatterpool[mpi]')"
        elif c.name == "pymor-e2e" and not installed("scatterpool.pymor"):
            why = "scatterpool.pymor is not in this build of scatterpool"
        elif c.name == "pymor-e2e" and pymor_script is None:
            why = "bench/bench_pymor.py is not found (it is in the source tree; give --pymor-script PATH)"
        else:
            run.append(c)
            continue
        skipped.setdefault(why, []).append(c.name)
    if quick and only is None:
        slow = [c.name for c in CONFIGS if not c.quick]
        skipped.setdefault("not part of --quick (about a minute or more; run it without --quick or with --only)",
                           []).extend(slow)
    return run, [f"skipped {', '.join(names)}: {why}" for why, names in skipped.items()]


def command(c: Config, out: str, opts: Options) -> list[str]:
    child = ["-m", "scatterpool._bench.child", c.module, "--name", c.name, "--out", out, *opts.argv()]
    if c.mpi():
        return [mpiexec_path() or "mpiexec", "-n", str(c.ranks), sys.executable, "-m", "scatterpool.mpi", *child]
    return [sys.executable, *child]


def run_config(c: Config, opts: Options, timeout: float) -> dict[str, Any]:
    env = dict(os.environ, PATH=_path(), PYTHONUNBUFFERED="1")
    for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        env.setdefault(v, "1")
    with tempfile.TemporaryDirectory(prefix="scatterpool-bench-") as tmp:
        out = os.path.join(tmp, "record.json")
        cmd = command(c, out, opts)
        started = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"config": c.name, "status": "failed", "error": f"no result within {timeout:.0f} s",
                    "command": cmd}
        wall = time.perf_counter() - started
        if not os.path.exists(out):
            tail = (proc.stderr or proc.stdout)[-3000:]
            return {"config": c.name, "status": "failed", "command": cmd,
                    "error": f"exit status {proc.returncode}, no result; its output ends with:\n{tail}"}
        with open(out) as fh:
            rec: dict[str, Any] = json.load(fh)
    rec.update(status="ok", command=cmd, wall_seconds=wall, ranks=c.ranks or None)
    return rec


def main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.list:
        for c in CONFIGS:
            print(f"{c.name:10s} {c.about}" + ("" if c.quick else "  (not part of --quick)"))
        return 0
    mem = cast("float | None", machine_info()["mem_available_gib"])
    if args.sizes:
        sizes = [float(s) for s in args.sizes.split(",")]
    elif args.quick:
        sizes = list(QUICK_SIZES_MB)
    else:
        sizes = FULL_SIZES_MB + ([HUGE_MB] if mem is not None and mem >= HUGE_NEEDS_GIB else [])
    only = [o.strip() for o in args.only.split(",")] if args.only else None
    pymor_script = find_pymor_script(args.pymor_script)
    opts = Options.make(args.quick, args.repeat, sizes, pymor_script)
    configs, skipped = select(only, args.quick, pymor_script)
    plots = args.plots
    if plots and not installed("matplotlib"):
        skipped.append("skipped --plots: matplotlib is not installed (the bench extra brings it: "
                       "pip install 'scatterpool[bench]')")
        plots = None

    info = machine_info()
    vers = versions()
    print(f"# scatterpool bench{' --quick' if args.quick else ''}  {info['date']}")
    print(f"python {info['python']}, " + ", ".join(f"{k} {v}" for k, v in vers.items() if v != "not installed"))
    print(f"nproc {info['nproc']}, cpu \"{info['cpu']}\", loadavg at start {info['loadavg']}"
          + (f", MemAvailable {mem:.1f} GiB" if mem is not None else ""))
    print(f"array sizes {', '.join(f'{s:g}' for s in sizes)} MB"
          + ("" if HUGE_MB in sizes or args.quick or args.sizes else
             f" (4 GB left out: it needs {HUGE_NEEDS_GIB:g} GiB available)")
          + f"; repeats {opts.repeat} ({opts.repeat_big} for copies of 400 MB and more); BLAS on 1 thread")
    for line in skipped:
        print(line)
    sys.stdout.flush()

    results: dict[str, dict[str, Any]] = {}
    timeout = 300.0 if args.quick else 3600.0
    for i, c in enumerate(configs, 1):
        print(f"... [{i}/{len(configs)}] {c.name}: {c.about}", file=sys.stderr, flush=True)
        results[c.name] = run_config(c, opts, timeout)

    entries = report.table_rows({n: r for n, r in results.items() if r["status"] == "ok"})
    print()
    print("ratio = ours / anchor at the median (below 1: ours takes less time); spread = (max - best) / median "
          "over the repeats; both sides of a line timed interleaved in the same process")
    print()
    report.print_table(entries)
    print()
    report.print_config_lines(results)
    targets = [e for e in entries if e["met"] is not None]
    failed_checks = sum(len(r.get("checks_failed", [])) for r in results.values())
    failed_configs = [n for n, r in results.items() if r["status"] != "ok"]
    print(f"\ntargets: {sum(e['met'] for e in targets)} met, {sum(not e['met'] for e in targets)} missed; "
          f"correctness checks failed: {failed_checks}; configurations failed: {len(failed_configs)}; "
          f"loadavg at end {machine_info()['loadavg']}; {time.perf_counter() - started:.0f} s")

    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "versions": vers, "argv": sys.argv, "quick": args.quick,
                       "sizes_mb": sizes, "skipped": skipped, "table": entries, "configs": results}, fh, indent=1)
        print(f"wrote {args.json}")
    if plots:
        from .plots import draw

        for path in draw(results, plots, nproc()):
            print(f"wrote {path}")
    return 1 if failed_checks or failed_configs else 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="small sizes and few repeats: under a minute on 2 cores")
    p.add_argument("--only", help="comma-separated configurations to run (mpi: every mpi-K); --list shows them")
    p.add_argument("--list", action="store_true", help="list the configurations and exit")
    p.add_argument("--json", metavar="FILE", help="write every figure (all repeats of every row) to FILE")
    p.add_argument("--plots", metavar="DIR", help="draw the scaling figures as PNG files into DIR (matplotlib)")
    p.add_argument("--repeat", type=int, help="repeats per row (default 7, 5 for big copies; --quick 3)")
    p.add_argument("--sizes", help="array sizes in MB, comma-separated (default 8,80,800 and 4000 where memory "
                                   "allows; --quick 8,80)")
    p.add_argument("--pymor-script", help="bench/bench_pymor.py of the source tree, if not found by itself")
