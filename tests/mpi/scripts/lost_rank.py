"""A worker rank dies (or goes silent) in the middle of a call: rank 0 must fail, not hang.

usage: lost_rank.py exit|apply|slow|idle|late [rank]
  rank: the rank that dies or is slow (default: the last one)
  exit: the rank calls os._exit(3) inside apply_only
  apply: the rank calls os._exit(3) inside an apply that every rank runs
  busy_parent: as apply, while the rank's parent in the tree of ranks runs a function that never returns
  slow: the last rank sleeps longer than the timeout, but is alive: no error
  idle: the last rank exits between two calls (on a signal from rank 0); the next call finds out
  late: rank 0 does other work for longer than the timeout, then a slow call: no error
  scatter: as idle, but the next command is a scatter_array of 8 MB (rows by a collective), then a call
"""

import os
import signal
import sys
import threading
import time

import numpy as np

import scatterpool as sp
from scatterpool.mpi import MPIPool, WorkerLostError


def exit_on_signal():
    signal.signal(signal.SIGUSR1, lambda signum, frame: os._exit(3))
    return os.getpid()


def wait_until_gone(pid):
    """Returns once process ``pid`` has ended (a zombie counts as ended): the rank is dead before the next call."""
    while True:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except (FileNotFoundError, ProcessLookupError):  # gone before the open, or between the open and the read
            return
        if stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] in (b"Z", b"X", b"x"):
            return
        time.sleep(0.01)


def exit_on(rank):
    def f():
        if sp.worker_index() == rank:
            os._exit(3)
        return rank

    return f


def exit_under_busy_parent(rank):
    parent = rank & (rank - 1)  # its parent in the tree of ranks

    def f():
        w = sp.worker_index()
        if w == rank:
            os._exit(3)
        if w == parent:
            threading.Event().wait()  # busy until the job ends
        return w

    return f


mode = sys.argv[1]
pool = MPIPool()
last = int(sys.argv[2]) if len(sys.argv) > 2 else len(pool) - 1
print("READY", len(pool), flush=True)
try:
    if mode == "exit":
        pool.apply_only(lambda: os._exit(3), last)
    elif mode == "apply":
        pool.apply(exit_on(last))
    elif mode == "busy_parent":
        pool.apply(exit_under_busy_parent(last))
    elif mode == "slow":
        print("SLOW", pool.apply_only(lambda: (time.sleep(4.0), "done")[1], last), flush=True)
    elif mode == "late":
        time.sleep(3.0)
        print("SLOW", pool.apply_only(lambda: (time.sleep(1.0), "done")[1], last), flush=True)
    elif mode == "idle":
        # the rank exits when rank 0 tells it to, after its reply (an exit, not a kill: a rank
        # killed by a signal makes mpiexec end the whole job)
        pid = pool.apply_only(exit_on_signal, last)
        os.kill(pid, signal.SIGUSR1)
        wait_until_gone(pid)
        pool.apply(lambda: 1)
    elif mode == "scatter":
        pid = pool.apply_only(exit_on_signal, last)
        os.kill(pid, signal.SIGUSR1)
        wait_until_gone(pid)
        R = pool.scatter_array(np.ones((1000, 1000)))
        pool.apply(lambda U: U.shape, U=R)
except WorkerLostError as error:
    print(f"LOST: {error}", flush=True)
    try:
        pool.apply(lambda: 1)
    except RuntimeError as again:
        print(f"REFUSED: {type(again).__name__}: {again}", flush=True)
print("END", flush=True)
