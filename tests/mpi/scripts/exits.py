"""How the script ends decides the exit status of the job.

usage: exits.py end|unclosed|raise|sysexit N|closed-early|failed-push
"""

import sys

import numpy as np

import scatterpool as sp
from scatterpool.mpi import MPIPool


def _unpickled_on_rank_0_only():
    from mpi4py import MPI

    if MPI.COMM_WORLD.Get_rank() != 0:
        raise ValueError("this object refuses to unpickle on a worker rank")


class StoredOnRank0Only:
    def __reduce__(self):
        return _unpickled_on_rank_0_only, ()


mode = sys.argv[1]
pool = MPIPool()
R = pool.scatter_array(np.ones((10, 3)))
total = sum(pool.apply(lambda U: float(U.sum()), U=R))
print("TOTAL", total, flush=True)
if mode == "end":
    R.remove()
    pool.close()
elif mode == "closed-early":
    pool.close()
    with MPIPool() as again:  # the worker ranks still serve
        print("AGAIN", again.apply(sp.worker_index), flush=True)
elif mode == "raise":
    raise ValueError("the script failed on purpose")
elif mode == "sysexit":
    sys.exit(int(sys.argv[2]))
elif mode == "failed-push":  # no command after it: the launcher's close reports it
    bad = pool.push(StoredOnRank0Only())
# "unclosed", "failed-push": the launcher closes the pool and stops the workers
print("END", flush=True)
