"""MPIPool in a program started without the launcher (plain mpiexec, or plain python)."""

import sys

from scatterpool.mpi import MPIPool

expected = int(sys.argv[1]) if len(sys.argv) > 1 else None
pool = MPIPool(expected)
print("LEN", len(pool), pool.apply(lambda x: x + 1, 1), flush=True)
pool.close()
