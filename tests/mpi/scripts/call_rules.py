"""The rules of a call on an MPIPool, checked from the script (rank 0) at any number of ranks.

Prints one line per check as ``NAME repr(value)``; the test compares each
with what the contract says for the number of ranks. A check that raises
prints ``NAME !ExceptionType: message`` instead.
"""

import numpy as np

import scatterpool as sp
from scatterpool.mpi import MPIPool


class Config:
    scale = 2


def scaled():
    return Config.scale


def append_index(box):
    box.append(sp.worker_index())
    return len(box)


def cache_model(model, cache):
    cache.append(1)
    return len(model["cache"])


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("this exception has no text")


def raise_unprintable():
    raise UnprintableError()


def check(name, compute):
    try:
        value = compute()
    except Exception as error:
        print(name, f"!{type(error).__name__}: {error}", flush=True)
    else:
        print(name, repr(value), flush=True)


def main():
    pool = MPIPool()
    K = len(pool)
    print("WORKERS", K, flush=True)

    # the caller's own mutable argument is never handed to a worker (unless the pool has one worker)
    box = []
    check("APPLY_RESULTS", lambda: pool.apply(append_index, box))
    check("APPLY_CALLER_BOX", lambda: box)
    box = []
    check("APPLY_ONLY_0_RESULT", lambda: pool.apply_only(append_index, 0, box=box))
    check("APPLY_ONLY_0_CALLER_BOX", lambda: box)
    box = []
    check("MAP_RESULTS", lambda: pool.map(lambda i, box: append_index(box), range(K), box=box))
    check("MAP_CALLER_BOX", lambda: box)
    cache = []
    check("ONE_GRAPH_PER_CALL", lambda: pool.apply(cache_model, model={"cache": cache}, cache=cache))

    # a class of the script that changed between two calls
    check("CLASS_BEFORE", lambda: pool.apply(scaled))
    Config.scale = 3
    check("CLASS_AFTER", lambda: pool.apply(scaled))

    # big-endian rows arrive in native order
    U = np.arange(8, dtype=">f8").reshape(4, 2)
    check("BIG_ENDIAN_ROWS", lambda: pool.apply(lambda part: part.tolist(), part=scattered(pool, U)))
    check("BIG_ENDIAN_NATIVE", lambda: pool.apply(lambda part: part.dtype.isnative, part=scattered(pool, U)))

    # close() from inside the pool's own function: refused, the pool stays open
    def close_pool():
        pool.close()

    check("CLOSE_INSIDE", lambda: pool.apply_only(close_pool, 0))
    check("CLOSE_INSIDE_APPLY", lambda: pool.apply(close_pool))
    check("OPEN_AFTER_CLOSE_INSIDE", lambda: (pool.closed, pool.apply(sp.worker_index)))
    if pool.closed:  # so that the checks below still run
        pool = MPIPool()

    # keyword arguments named after the pool's own parameters go to the function
    check("KEYWORD_FUNCTION", lambda: pool.apply(lambda function: function, function=3))
    check("KEYWORD_WORKER", lambda: pool.apply_only(lambda worker: worker, 0, worker=5))
    check("KEYWORD_WORKER_LAST", lambda: pool.apply_only(lambda worker, function: (worker, function), K - 1,
                                                         worker=5, function=6))
    check("KEYWORD_MAP", lambda: pool.map(lambda x, function: x + function, range(3), function=10))

    # a positional RemoteObject arrives as that worker's object, as a keyword one
    handle = pool.scatter_list(list(range(K)))
    check("POSITIONAL_REMOTE_APPLY", lambda: pool.apply(lambda part, extra: (part, extra), handle, 1))
    check("POSITIONAL_REMOTE_ONLY", lambda: pool.apply_only(lambda part: part, K - 1, handle))
    check("POSITIONAL_REMOTE_MAP", lambda: pool.map(lambda part: part, handle))
    handle.remove()

    # an exception whose __str__ raises reaches the caller as itself
    check("UNPRINTABLE_TYPE", lambda: raised(lambda: pool.apply(raise_unprintable)))
    check("STILL_SERVING", lambda: pool.apply(sp.worker_index))
    pool.close()


def scattered(pool, U):
    return pool.scatter_array(U)


def raised(call):
    try:
        call()
    except UnprintableError as error:
        return type(error).__name__, [n.split(":")[0] for n in getattr(error, "__notes__", []) if "also" in n]
    return "nothing raised"


main()
