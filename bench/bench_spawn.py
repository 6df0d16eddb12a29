"""MPIPool.spawn(2) on SciPy's differential evolution beside serial, ThreadPool(2), MPIPool under mpiexec,
ProcessPoolExecutor(2) and mpi4py's MPIPoolExecutor(2): ``python -m scatterpool bench --only spawn``.

Kept as an entry point for habit; the suite lives in the package (scatterpool._bench, this workload in
scatterpool._bench.configs.spawn_de) and takes the same options here (--quick, --json FILE, --repeat N, ...).
"""

import sys

from scatterpool.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "spawn", *sys.argv[1:]]))
