"""A pushed immutable inside another pushed object or an argument: not pickled again, the workers' own copy arrives.

Prints ``NAME repr(value)`` lines for the test to compare; ``PICKLED`` is how
often rank 0 pickled the immutable so far.
"""

from counted_immutable import Counted

import scatterpool as sp
from scatterpool.mpi import MPIPool


def same_inside(d=None, x=None):
    return d["x"] is x and d["again"] is x and d["x"].value


with MPIPool() as pool:
    x = Counted([1, 2, 3])
    held = pool.push(x)
    print("PICKLED_BY_PUSH", Counted.pickled, flush=True)
    inside = pool.push({"x": x, "again": x, "n": 1})
    print("PUSHED_INSIDE", repr(pool.apply(same_inside, d=inside, x=held)), flush=True)
    print("ARGUMENT_INSIDE", repr(pool.apply(same_inside, d={"x": x, "again": x}, x=held)), flush=True)
    print("PICKLED_AFTER", Counted.pickled, flush=True)
    inside.remove()
    held.remove()
    results = pool.apply(lambda d=None: (d["x"].value, d["x"].uid), d={"x": x})
    print("NOT_HELD", repr([(value, uid == x.uid) for value, uid in results]), flush=True)
    print("PICKLED_NOT_HELD", Counted.pickled, flush=True)
    print("LEFT", repr(pool._worker_registry_sizes()), flush=True)
    print("WORKERS", len(pool), sp.__name__, flush=True)
