"""Functions, lambdas, closures and classes that exist only in the script (__main__).

Plain pickle cannot send them to the other ranks; they go by value.
Prints one line per check; the test compares them.
"""

import os
import threading
import traceback

import numpy as np

import scatterpool as sp
from scatterpool.mpi import MPIPool, SendError

OFFSET = 100


class Point:
    def __init__(self, x):
        self.x = x

    def moved(self, d):
        return Point(self.x + d)


class ScriptError(Exception):
    pass


def plus_offset(x):
    return x + OFFSET + sp.worker_index()


def helper(x):
    return 2 * x


def uses_helper(x):
    return helper(x) + 1


def fails_on_last(n):
    if sp.worker_index() == n - 1:
        raise ScriptError(f"script function failed on worker {sp.worker_index()}")
    return "ok"


def main():
    pool = MPIPool()
    K = len(pool)
    print("FUNCTION", pool.apply(plus_offset, 1) == [101 + w for w in range(K)])
    print("NESTED", pool.apply(uses_helper, 5) == [11] * K)
    factor = 7
    print("CLOSURE", pool.apply(lambda: factor * sp.worker_index()) == [7 * w for w in range(K)])
    print("MAP", pool.map(lambda x: x * factor, range(9)) == [7 * x for x in range(9)])
    p = pool.push(Point(1))
    moved = pool.apply(lambda p: p.moved(sp.worker_index()), p=p)
    print("CLASS", all(isinstance(m, Point) for m in moved) and [m.x for m in moved] == [1 + w for w in range(K)])
    p.remove()
    try:
        pool.apply(fails_on_last, K)
        print("RAISED", False)
    except ScriptError as error:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        print("RAISED", type(error) is ScriptError and f"worker {K - 1}" in str(error))
        print("TRACEBACK", "fails_on_last" in text and "ScriptError" in text)
    try:
        pool.apply(lambda lock: 1, lock=threading.Lock())
        print("UNPICKLABLE", K == 1)
    except SendError as error:
        print("UNPICKLABLE", "keyword argument 'lock'" in str(error))
    serving = len(set(pool.apply(lambda: os.getpid()))) == K and pool.apply(sp.worker_index) == list(range(K))
    print("STILL_SERVING", serving)
    a = np.arange(12.0).reshape(4, 3)
    print("GLOBAL_ARRAY_UNCHANGED", pool.apply(lambda: float(a.sum())) == [66.0] * K)
    pool.close()


main()
