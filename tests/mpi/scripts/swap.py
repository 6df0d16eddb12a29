"""The same program on a ThreadPool and on an MPIPool: only the constructor differs.

usage: swap.py thread|mpi
"""

import sys

import numpy as np

import scatterpool as sp


class Model(sp.Immutable):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale


def local_norms(U, model):
    return [float(model.scale * np.linalg.norm(u)) for u in U]


def main():
    if sys.argv[1] == "thread":
        pool = sp.ThreadPool(2, seed=3)
    else:
        from scatterpool.mpi import MPIPool

        pool = MPIPool(seed=3)
    with pool:
        A = np.arange(40.0).reshape(10, 4)
        U = pool.scatter_array(sp.VectorArray.from_numpy(A))
        model = Model(2.0)
        remote_model = pool.push(model)
        norms = [x for part in pool.apply(local_norms, U=U, model=remote_model) for x in part]
        squares = pool.map(lambda x, *, model: model.scale * x * x, range(7), model=model)
        chunks = pool.apply(lambda L: L, L=pool.scatter_list(list("abcdefg")))
        draws = pool.apply(lambda: round(float(sp.worker_rng().random()), 12))
        index = pool.apply(sp.worker_index)
        with sp.RemoteObjectManager() as rom:
            r = rom.manage(pool.push({"count": 0}))
            pool.apply(lambda d: d.__setitem__("count", d["count"] + 1), d=r)
            counts = pool.apply(lambda d: d["count"], d=r)
        print("NORMS", [round(x, 9) for x in norms])
        print("SQUARES", squares)
        print("CHUNKS", chunks)
        print("DRAWS", draws)
        print("INDEX", index)
        print("COUNTS", counts)


if __name__ == "__main__":
    main()
