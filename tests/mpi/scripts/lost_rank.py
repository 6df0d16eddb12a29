"""A worker rank dies (or goes silent) in the middle of a call: rank 0 must fail, not hang.

usage: lost_rank.py exit|slow|idle|late
  exit: the last rank calls os._exit(3) inside apply_only
  slow: the last rank sleeps longer than the timeout, but is alive: no error
  idle: the last rank dies between two calls; the next call finds out
  late: rank 0 does other work for longer than the timeout, then a slow call: no error
"""

import os
import sys
import threading
import time

from scatterpool.mpi import MPIPool, WorkerLostError

mode = sys.argv[1]
pool = MPIPool()
last = len(pool) - 1
print("READY", len(pool), flush=True)
t0 = time.monotonic()
try:
    if mode == "exit":
        pool.apply_only(lambda: os._exit(3), last)
    elif mode == "slow":
        print("SLOW", pool.apply_only(lambda: (time.sleep(4.0), "done")[1], last), flush=True)
    elif mode == "late":
        time.sleep(3.0)
        print("SLOW", pool.apply_only(lambda: (time.sleep(1.0), "done")[1], last), flush=True)
    elif mode == "idle":
        pool.apply_only(lambda: threading.Timer(0.3, os._exit, (3,)).start(), last)
        time.sleep(1.5)
        t0 = time.monotonic()
        pool.apply(lambda: 1)
except WorkerLostError as error:
    print(f"LOST after {time.monotonic() - t0:.2f} s: {error}", flush=True)
    try:
        pool.apply(lambda: 1)
    except RuntimeError as again:
        print(f"REFUSED: {type(again).__name__}: {again}", flush=True)
print("END", flush=True)
