"""What differs per rank reaches the right rank: scatter_list chunks, map chunks, per-rank arguments.

Prints one line per check as ``NAME value``; the test compares each value
with what ``even_split`` gives for the number of ranks.
"""

import scatterpool as sp
from scatterpool.mpi import MPIPool


def main():
    pool = MPIPool()
    K = len(pool)
    print("WORKERS", K)
    chunks = pool.scatter_list(list(range(10)))
    print("SCATTER_LIST", pool.apply(lambda part: part, part=chunks))
    chunks.remove()
    print("MAP", pool.map(lambda x: (x, sp.worker_index()), range(10)))
    print("MAP2", pool.map(lambda x, y: (x, y, sp.worker_index()), range(10), [str(i) for i in range(10)]))
    # the same script function again (its pickle is cached): chunks still per rank
    print("MAP_AGAIN", pool.map(lambda x: (x, sp.worker_index()), list(range(10))))
    rows = pool.scatter_list([{"row": i} for i in range(3 * K)])
    print("SCATTER_DICTS", pool.apply(lambda part: [d["row"] for d in part], part=rows))
    print("APPLY_ONLY", [pool.apply_only(sp.worker_index, w) for w in range(K)])
    pool.close()


main()
