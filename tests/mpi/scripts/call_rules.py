"""A class of the script changed between two calls: the next call sees the change on every rank.

The class lives in ``__main__``, so it goes by value (cloudpickle) and the
function cache must not reuse the pickle made before the change. Prints
``NAME repr(value)`` lines for the test to compare.
"""

import scatterpool as sp
from scatterpool.mpi import MPIPool


class Config:
    scale = 2


def scaled():
    return Config.scale, sp.worker_index()


with MPIPool() as pool:
    print("CLASS_BEFORE", repr(pool.apply(scaled)), flush=True)
    Config.scale = 3
    print("CLASS_AFTER", repr(pool.apply(scaled)), flush=True)
    Config.extra = "added"
    print("CLASS_ATTRIBUTE_ADDED", repr(pool.apply(lambda: getattr(Config, "extra", None))), flush=True)
