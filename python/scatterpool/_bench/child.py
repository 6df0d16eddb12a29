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
from dataclasses import dataclass, field  # noqa: E402

from .record import Record  # noqa: E402


@dataclass
class Options:
    """How much a configuration measures; --quick makes everything small."""

    quick: bool = False
    repeat: int = 7
    repeat_big: int = 5
    target_s: float = 0.05
    map_items: int = 100_000
    kernel_rows: int = 8000
    sizes_mb: list[float] = field(default_factory=lambda: [8, 80, 800])
    pymor_script: str | None = None

    @classmethod
    def make(cls, quick: bool, repeat: int | None, sizes_mb: list[float], pymor_script: str | None) -> "Options":
        if quick:
            return cls(True, repeat or 3, repeat or 3, 0.01, 10_000, 2000, sizes_mb, pymor_script)
        return cls(False, repeat or 7, repeat or 5, 0.05, 100_000, 8000, sizes_mb, pymor_script)

    def argv(self) -> list[str]:
        out = ["--repeat", str(self.repeat), "--sizes", ",".join(f"{s:g}" for s in self.sizes_mb)]
        if self.quick:
            out.append("--quick")
        if self.pymor_script:
            out += ["--pymor-script", self.pymor_script]
        return out


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
