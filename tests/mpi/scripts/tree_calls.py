"""Every kind of call on the ranks of a launch, which exchange their commands and replies along a tree.

Run under ``mpiexec -n K python -m scatterpool.mpi``; prints one line per
check: ``OK <name>`` or ``FAIL <name> <what came instead>``, then ``MESSAGES
<sent> <received> <children>`` (rank 0's messages for one apply) and
``DONE``. The checks use what each worker returns: the ranks below rank 0's
children answer only through the tree.
"""

import math
import sys

import numpy as np

import scatterpool as sp
from scatterpool.mpi import MPIPool, _runtime


def check(name, got, expected):
    if got == expected:
        print("OK", name, flush=True)
    else:
        print("FAIL", name, repr(got)[:500], "expected", repr(expected)[:500], flush=True)


def rank_and_index():
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank(), sp.worker_index()


def square(x):
    return x * x


def raise_on(workers):
    def f():
        w = sp.worker_index()
        if w in workers:
            raise ValueError(f"failed on worker {w}")
        return w

    return f


pool = MPIPool()
K = len(pool)
rt = _runtime.current()
everyone = list(range(K))

check("apply", pool.apply(rank_and_index), [(w, w) for w in everyone])
check("apply_only", [pool.apply_only(rank_and_index, w) for w in everyone], [(w, w) for w in everyone])
check("apply_arguments", pool.apply(lambda a, b=0: a + b + sp.worker_index(), 10, b=5), [15 + w for w in everyone])
check("map", pool.map(square, range(101)), [x * x for x in range(101)])
check("map_two_sequences", pool.map(lambda a, b: a - b, range(37), range(37, 74)), [-37] * 37)

# a function sent to one rank first: the others get its pickle, that rank its id (per-rank bodies)
def offset(x):
    return x + 1000

check("apply_only_then_apply", pool.apply_only(offset, K - 1, 1), 1001)
check("apply_after_apply_only", pool.apply(offset, 2), [1002] * K)

items = list(range(3 * K + 1))
chunks = pool.scatter_list(items)
offsets = sp.even_split(len(items), K)
check("scatter_list", pool.apply(lambda c: list(c), chunks), [items[offsets[w] : offsets[w + 1]] for w in everyone])

U = np.arange(7 * K * 3, dtype=float).reshape(7 * K, 3)
rows = pool.scatter_array(U)
row_offsets = sp.even_split(len(U), K)
check(
    "scatter_array",
    pool.apply(lambda a: float(np.asarray(a).sum()), rows),
    [float(U[row_offsets[w] : row_offsets[w + 1]].sum()) for w in everyone],
)

small = pool.push({"a": 3})
big = pool.push(np.arange(300_000, dtype=float))  # 2.4 MB: out of band, by Ibcast
check("push", pool.apply(lambda d, v: d["a"] + float(v.sum()), small, big), [3 + float(np.arange(300_000).sum())] * K)

before = pool._worker_registry_sizes()
for handle in (small, big, chunks, rows):
    handle.remove()
after = pool._worker_registry_sizes()
check("remove", [b - a for b, a in zip(before, after, strict=True)], [4] * K)

try:
    pool.apply(raise_on({K - 1, K // 2}))
    check("errors", "no exception", "ValueError")
except ValueError as error:
    lowest = min({K - 1, K // 2})
    notes = " ".join(getattr(error, "__notes__", []))
    check("errors", (str(error), all(f"worker {w} also raised" in notes for w in {K - 1, K // 2} - {lowest})),
          (f"failed on worker {lowest}", True))
check("after_errors", pool.apply(sp.worker_index), everyone)

sys.path.append("/tree-calls-path")
check("sys_path", pool.apply(lambda: "/tree-calls-path" in sys.path), [True] * K)
sys.path.remove("/tree-calls-path")

pool.apply(sp.worker_index)  # warm: every rank holds the function
sent, received = rt.sent, rt.received
pool.apply(sp.worker_index)
sent, received = rt.sent - sent, rt.received - received
children = len(rt.tree.children)
print("MESSAGES", sent, received, children, flush=True)
check("messages_per_apply", (sent, received), (children, children))
check("messages_logarithmic", sent + received <= 2 * math.ceil(math.log2(K)) if K > 1 else sent + received == 0, True)

pool.close()
print("DONE", flush=True)
