"""One launch of the mpi-tree configuration: messages per ``apply`` along the tree of K ranks, and their cost.

Run as ``mpiexec -n K python -m scatterpool.mpi -m scatterpool._bench.tree_probe CALLS REPEAT [--costs]``;
rank 0 prints one line ``TREE {json}``: the command and reply messages rank 0 (and the busiest rank)
handled per ``apply(f)``, the depth of the tree, the median time per ``apply(f)`` and, with
``--costs`` (2 ranks), rank 0's CPU time per small message sent and received with raw mpi4py and per
reply decoded.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

from scatterpool.mpi import MPIPool, _runtime
from scatterpool.mpi._protocol import SEQ, decode_reply, reply_pickle

from .work import f

TAG = 99  # on MPI.COMM_WORLD; the pool talks on its own duplicate of it


def counters() -> tuple[int, int]:
    rt = _runtime.current()
    assert rt is not None
    return rt.sent, rt.received


def message_costs(batches: int, batch: int = 32) -> tuple[float, float]:
    """Ranks 0 and 1: rank 0's seconds per eager ``Send`` of a 100-byte message, and per probe + receive of one.

    In batches small enough for MPI's eager buffers (as in a fan-out, where each rank gets one message):
    rank 0 times sending a batch, rank 1 receives it; rank 1 sends a batch, rank 0 times receiving it.
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    data = bytes(100)
    buf = bytearray(100)
    status = MPI.Status()
    send = recv = 0.0
    for _ in range(batches):
        comm.Barrier()
        if rank == 0:
            t0 = time.perf_counter()
            for _ in range(batch):
                comm.Send(data, 1, TAG)
            send += time.perf_counter() - t0
        elif rank == 1:
            for _ in range(batch):
                comm.Recv(buf, 0, TAG)
            for _ in range(batch):
                comm.Send(data, 0, TAG)
        comm.Barrier()  # rank 1 has received the batch and sent its own
        if rank == 0:
            t0 = time.perf_counter()
            for _ in range(batch):
                msg = comm.improbe(1, TAG, status)
                while msg is None:
                    msg = comm.improbe(1, TAG, status)
                msg.Recv(bytearray(status.Get_count(MPI.BYTE)))
            recv += time.perf_counter() - t0
    return send / (batches * batch), recv / (batches * batch)


def decode_cost(n: int) -> float:
    """Seconds per decoded reply of ``apply(f)`` (rank 0 decodes one per worker, tree or not)."""
    message = SEQ.pack(1) + reply_pickle(True, None)
    t0 = time.perf_counter()
    for _ in range(n):
        decode_reply(message)
    return (time.perf_counter() - t0) / n


def main(argv: list[str]) -> None:
    calls, repeat = int(argv[0]), int(argv[1])
    costs = "--costs" in argv
    with MPIPool() as pool:
        k = len(pool)
        pool.apply(f)
        # a rank reads its counters in the middle of a call (after forwarding it, before its replies come):
        # between two such reads lie as many whole calls as the calls started in between, the second read's too
        before = pool.apply(counters)
        for _ in range(9):
            pool.apply(f)
        after = pool.apply(counters)
        per_rank = [((a[0] - b[0]) / 10, (a[1] - b[1]) / 10) for a, b in zip(after, before, strict=True)]
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            for _ in range(calls):
                pool.apply(f)
            times.append((time.perf_counter() - t0) / calls)
        out: dict[str, Any] = {
            "ranks": k,
            "depth": _runtime.current().tree.depth,  # type: ignore[union-attr]
            "rank0": per_rank[0],
            # a worker also receives the command from its parent and sends its reply to it
            "busiest": max(s + r + (2 if w else 0) for w, (s, r) in enumerate(per_rank)),
            "apply": statistics.median(times),
        }
        if costs and k >= 2:
            sends, recvs = [], []
            for _ in range(repeat):
                s, r = pool.apply(message_costs, 60)[0]
                sends.append(s)
                recvs.append(r)
            out["send"] = statistics.median(sends)
            out["recv"] = statistics.median(recvs)
            out["decode"] = statistics.median(decode_cost(20000) for _ in range(repeat))
    print("TREE " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
