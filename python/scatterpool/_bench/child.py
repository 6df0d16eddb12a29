"""One configuration in its own process: ``python -m scatterpool._bench.child NAME --out FILE [options]``.

The suite starts it (under ``mpiexec -n K python -m scatterpool.mpi -m scatterpool._bench.child``
for the MPI configurations) and reads the configuration's Record from FILE as JSON.
"""

from __future__ import annotations

import os

# BLAS on one thread, set before NumPy is imported, so that the rows measure the pools'
# parallelism and not BLAS's own threads (the suite sets it too; a direct run gets it here)
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from .options import Options  # noqa: E402
from .record import Record  # noqa: E402


def parse(argv: list[str] | None = None) -> tuple[str, str, str, Options]:
    ap = argparse.ArgumentParser(prog="python -m scatterpool._bench.child")
    ap.add_argument("module", help="the configuration's module in scatterpool._bench.configs")
    ap.add_argument("--name", help="the configuration's name in the suite (default: the module's)")
    ap.add_argument("--out", required=True, help="write the Record here as JSON")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int)
    ap.add_argument("--sizes", default="8,80,800", help="array sizes in MB")
    ap.add_argument("--pymor-script")
    a = ap.parse_args(argv)
    opts = Options.make(a.quick, a.repeat, [float(s) for s in a.sizes.split(",")], a.pymor_script)
    return a.name or a.module, a.module, a.out, opts


def main(argv: list[str] | None = None) -> int:
    name, module, out, opts = parse(argv)
    config = importlib.import_module(f"scatterpool._bench.configs.{module}")
    rec = Record(name)
    config.run(rec, opts)
    with open(out, "w") as fh:
        json.dump(rec.to_json(), fh)
    return 1 if rec.failures else 0


if __name__ == "__main__":
    sys.exit(main())
