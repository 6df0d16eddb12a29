"""Messages per MPIPool.apply(f) along the tree of ranks at K = 2 .. 16, and a cost model for K = 1024.

Launches ``mpiexec -n K`` (oversubscribed on this machine from K > nproc) for each K, running
``scatterpool._bench.tree_probe``: rank 0 counts the command and reply messages it (and the busiest
rank) handles per ``apply``, beside the flat fan-out's 2 (K - 1). At K = 2 it also measures the
figures of the cost model: the apply round trip (one level of the tree), rank 0's CPU time per small
message sent and received, and per reply decoded.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from typing import Any

from .. import timing as T
from ..options import Options
from ..record import Record

BIG = 1024  # the K of the cost model


def launch(k: int, calls: int, repeat: int, costs: bool) -> dict[str, Any]:
    mpiexec = shutil.which("mpiexec") or os.path.join(os.path.dirname(sys.executable), "mpiexec")
    cmd = [mpiexec, "-n", str(k), sys.executable, "-m", "scatterpool.mpi", "-m", "scatterpool._bench.tree_probe",
           str(calls), str(repeat), *(["--costs"] if costs else [])]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    for line in proc.stdout.splitlines():
        if line.startswith("TREE "):
            out: dict[str, Any] = json.loads(line[5:])
            return out
    raise RuntimeError(f"{' '.join(cmd)}: exit status {proc.returncode}, no result:\n{proc.stderr[-2000:]}")


def run(rec: Record, opts: Options) -> None:
    rec.measure_load_with(lambda: time.process_time() + sum(os.times()[2:4]))  # this process and its launches
    ks = (2, 4, 8, 16) if opts.quick else (2, 3, 4, 6, 8, 12, 16)
    calls = 100 if opts.quick else 1000
    found: dict[int, dict[str, Any]] = {}
    for k in ks:
        over = k > T.nproc()
        # oversubscribed launches take milliseconds per call: fewer calls
        found[k] = r = launch(k, calls if not over else max(10, calls // 20), opts.repeat, costs=k == 2)
        d = math.ceil(math.log2(k))
        sent, received = r["rank0"]
        rec.check(sent == received == d, f"{k} ranks: rank 0 sends and receives ceil(log2 {k}) = {d} messages "
                                         f"per apply (got {sent:g} and {received:g})")
        rec.note(f"K = {k:2d}: rank 0 sends {sent:g} + receives {received:g} messages per apply "
                 f"(flat fan-out: {k - 1} + {k - 1}); the busiest rank handles {r['busiest']:g}; "
                 f"depth {r['depth']}; apply(f) {r['apply'] * 1e6:.0f} us"
                 + (" (oversubscribed: more ranks than CPUs)" if over else ""))
    base = found[2]
    level = base["apply"]
    message = base["send"] + base["recv"]
    decode = base["decode"]
    d = math.ceil(math.log2(BIG))
    # tree: each of the d levels on the way down and up adds a round trip like K = 2's, and the rank on
    # the way sends to and receives from at most d children; flat: rank 0 alone sends K - 1 commands and
    # receives K - 1 replies one after another, plus one round trip. Both decode K - 1 replies on rank 0.
    tree = d * (level + d * message) + (BIG - 1) * decode
    flat = level + (BIG - 1) * message + (BIG - 1) * decode
    rec.add_times("tree_model", f"model, K = {BIG}: apply(f) along the tree ({d} levels)", [tree],
                  pool="MPIPool", line="tree")
    rec.add_times("flat_model", f"model, K = {BIG}: apply(f) by a flat fan-out", [flat], pool="MPIPool",
                  line="flat")
    rec.compare(f"apply(f) at K = {BIG} ranks, modelled from the K = 2 figures", "tree_model", "flat_model")
    rec.note(
        f"cost model for K = {BIG} (figures measured here at K = 2): one level L = {level * 1e6:.1f} us (the "
        f"apply round trip: a hop down, the worker's share, a hop up), rank 0's CPU per small message "
        f"c = {base['send'] * 1e6:.2f} us sent + {base['recv'] * 1e6:.2f} us received, per reply decoded "
        f"{decode * 1e6:.2f} us. tree: depth {d} x (L + {d} children x c) + {BIG - 1} decodes = "
        f"{tree * 1e3:.2f} ms; flat: L + {BIG - 1} x c (rank 0 sends {BIG - 1} commands and receives "
        f"{BIG - 1} replies in turn) + {BIG - 1} decodes = {flat * 1e3:.2f} ms. Assumed: one rank per core "
        f"(no oversubscription), small messages (eager, latency-bound), a level's latency on a network like "
        f"this host's shared memory, replies small enough that merging them on the way (one copy per "
        f"level) costs less than their messages; the decodes on rank 0 are the same both ways. Without them: "
        f"tree {(tree - (BIG - 1) * decode) * 1e3:.2f} ms, flat {(flat - (BIG - 1) * decode) * 1e3:.2f} ms."
    )
