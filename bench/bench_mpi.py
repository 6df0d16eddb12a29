"""MPIPool's rows (scatter beside raw Scatterv and pyMOR's MPIPool; apply at 1 to 4 ranks; mpiexec started
by the suite): ``python -m scatterpool bench --only mpi``.

Kept as an entry point for habit; the suite lives in the package (scatterpool._bench) and takes the
same options here (--quick, --json FILE, --plots DIR, --repeat N, --sizes MB,...).
"""

import sys

from scatterpool.__main__ import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--only", "mpi", *sys.argv[1:]]))
