"""The benchmark suite's timing: loops, repeats, interleaving, the load of other processes.

- A row times a statement in a loop: after a warm-up run, the loop runs ``repeat`` times, each
  repeat running the statement ``number`` times (chosen so that a repeat lasts about
  ``target_s``). Each repeat gives a time per call (or per item, for rows that process ``per``
  items per call); a row reports best / median / max over the repeats.
- GB/s = bytes moved per call / time per call / 1e9.
- Rows that are compared with each other are timed together, their repeats interleaved
  (ours, theirs, ours, theirs, ...), so that load from other processes hits both alike.
- Statements are source strings compiled into a loop like ``timeit``'s: the names they use are
  local variables of the loop function, so the timed region holds the statement and nothing else
  but the loop itself (about 5 ns per iteration, the "empty loop" row). Garbage collection is off
  while a repeat runs, as in ``timeit``.
- Work that must not be timed (building fresh inputs, freeing outputs) goes into ``setup`` /
  ``teardown`` callables that run outside the timed region, once per repeat.
- A configuration records the CPU used by *other* processes while it ran: busy time of all CPUs
  from /proc/stat minus the benchmark's own CPU time, as a fraction of all CPUs. Numbers from a
  configuration where others used much CPU are not comparable with quiet runs.
"""

from __future__ import annotations

import datetime as _dt
import gc
import itertools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_perf = time.perf_counter


# --------------------------------------------------------------------------------------------
# machine and load
# --------------------------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _mem_available_gib() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _cpu_seconds() -> tuple[float, float] | None:
    """(busy, steal) CPU time of the whole machine (all CPUs), in seconds, from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal ...
    v = [int(x) for x in fields[1:]] + [0] * 8
    hz = os.sysconf("SC_CLK_TCK")
    return (v[0] + v[1] + v[2] + v[5] + v[6]) / hz, v[7] / hz


class LoadMeter:
    """CPU used by other processes between start() and stop(), as a fraction of all CPUs, and the
    CPU time the hypervisor gave to others (steal), likewise."""

    def __init__(self, own_cpu: Callable[[], float] = time.process_time):
        # own_cpu: the CPU seconds of everything this benchmark runs (under MPI: the sum over the ranks)
        self._own_cpu = own_cpu

    def start(self) -> None:
        self._cpu0 = _cpu_seconds()
        self._own0 = self._own_cpu()
        self._wall0 = _perf()

    def stop(self) -> tuple[float, float] | None:
        cpu1 = _cpu_seconds()
        own1 = self._own_cpu()
        wall = _perf() - self._wall0
        if cpu1 is None or self._cpu0 is None or wall <= 0:
            return None
        total = wall * (os.cpu_count() or 1)
        others = (cpu1[0] - self._cpu0[0]) - (own1 - self._own0)
        steal = cpu1[1] - self._cpu0[1]
        return max(0.0, others / total), max(0.0, steal / total)


def machine_info() -> dict[str, object]:
    """The machine a run measured: date, Python, CPU, nproc, load average, available memory."""
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "executable": sys.executable,
        "cpu": _cpu_model(),
        "nproc": nproc(),
        "cpu_count": os.cpu_count(),
        "loadavg": _loadavg(),
        "mem_available_gib": _mem_available_gib(),
    }


def machine_header(title: str, versions: dict[str, str], extra: list[str] | None = None) -> None:
    """Print a run's header: date, Python, versions, nproc, CPU, load average, memory."""
    m = machine_info()
    print(f"# {title}  {m['date']}")
    vers = ", ".join(f"{k} {v}" for k, v in versions.items())
    print(f"python {m['python']} ({m['executable']}), {vers}")
    mem = m["mem_available_gib"]
    print(f"nproc {m['nproc']} (cpu_count {m['cpu_count']}), cpu \"{m['cpu']}\", loadavg at start {m['loadavg']}"
          + (f", MemAvailable {mem:.1f} GiB" if mem is not None else ""))
    for line in extra or []:
        print(line)
    sys.stdout.flush()


# --------------------------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    times: list[float]            # seconds per call (or per item), one per repeat
    per: str = "call"             # "call" or "item"
    nbytes: int | None = None     # bytes moved per call (for GB/s)
    items: int = 1                # items per call (for nbytes per item)
    note: str = ""

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def max(self) -> float:
        return max(self.times)

    @property
    def spread(self) -> float:
        """(max - best) / median: how far the repeats scattered."""
        return (self.max - self.best) / self.median if self.median > 0 else 0.0

    def gbps(self, t: float | None = None) -> float | None:
        """GB/s at time t per call (default: best)."""
        if self.nbytes is None:
            return None
        t = self.best if t is None else t
        per_call = t * self.items
        return self.nbytes / per_call / 1e9 if per_call > 0 else float("inf")


def _repeat_none(n: int) -> itertools.repeat[None]:
    return itertools.repeat(None, n)  # what timeit loops over: no int objects made per iteration


_TEMPLATE = """
def _inner(_n, {names}):
    _t0 = _perf()
    for _ in _itr(_n):
        {stmt}
    _t1 = _perf()
    return _t1 - _t0
"""


def _compile(stmt: str, names: list[str]) -> Callable[..., float]:
    src = _TEMPLATE.format(names=", ".join(names), stmt=stmt.strip().replace("\n", "\n        "))
    glb: dict[str, Any] = {"_perf": _perf, "_itr": _repeat_none}
    exec(compile(src, "<bench>", "exec"), glb)
    inner: Callable[..., float] = glb["_inner"]
    return inner


class Timer:
    """One row to time: ``stmt`` (a source string) with the names in ``ns``.

    ns: the names ``stmt`` uses (passed to the loop function as locals).
    number: calls per repeat; None chooses it so that a repeat takes about target_s.
    per_call_items: items processed by one call; times are then reported per item.
    nbytes: bytes moved by one call (for GB/s).
    setup(number) -> dict: runs before each repeat (untimed), its names are added to ns;
        setup(0) is called once first to learn the names, so it must be cheap for 0.
    teardown(ns): runs after each repeat (untimed), e.g. to free big outputs.
    repeat: this row's number of repeats, if not the one given to measure_together.
    """

    def __init__(self, name: str, stmt: str, ns: dict[str, Any] | None = None, *,
                 number: int | None = None, target_s: float = 0.05, warmup: int = 1,
                 per_call_items: int = 1, nbytes: int | None = None,
                 setup: Callable[[int], dict[str, Any]] | None = None,
                 teardown: Callable[[dict[str, Any]], None] | None = None, note: str = "",
                 repeat: int | None = None):
        self.name, self.note, self.repeat = name, note, repeat
        self.ns = dict(ns or {})
        self.setup, self.teardown = setup, teardown
        self.names = sorted(set(self.ns) | set(setup(0) if setup else {}))
        self.inner = _compile(stmt, self.names)
        self.number, self.target_s, self.warmup = number, target_s, warmup
        self.per_call_items, self.nbytes = per_call_items, nbytes

    def _run(self, n: int) -> float:
        local = dict(self.ns)
        if self.setup is not None:
            local.update(self.setup(n))
        args = [local[k] for k in self.names]
        gc_on = gc.isenabled()
        gc.disable()
        try:
            t = self.inner(n, *args)
        finally:
            if gc_on:
                gc.enable()
        del args
        if self.teardown is not None:
            self.teardown(local)
        local.clear()
        return t

    def prepare(self) -> None:
        """Choose the number of calls per repeat (if not given) and warm up."""
        warmup = self.warmup
        if self.number is None:
            n = 1
            while True:
                t = self._run(n)
                if t >= self.target_s or n >= 10**7:
                    break
                n = max(n * 2, int(n * self.target_s / max(t, 1e-9) * 1.1))
            self.number = n
            warmup = max(0, warmup - 1)
        for _ in range(warmup):
            self._run(self.number)

    def once(self) -> float:
        """One repeat: seconds per call (or per item)."""
        assert self.number is not None
        return self._run(self.number) / (self.number * self.per_call_items)

    def result(self, times: list[float]) -> Result:
        return Result(self.name, times, per="item" if self.per_call_items > 1 else "call",
                      nbytes=self.nbytes, items=self.per_call_items, note=self.note)


def measure_together(timers: list[Timer], repeat: int = 7) -> list[Result]:
    """Time several rows with their repeats interleaved (A B C A B C ...), so that a change of load
    on the shared machine during the run hits the rows that are compared alike."""
    for t in timers:
        t.prepare()
    times: list[list[float]] = [[] for _ in timers]
    wanted = [t.repeat or repeat for t in timers]
    for r in range(max(wanted)):
        for i, t in enumerate(timers):
            if r < wanted[i]:
                times[i].append(t.once())
    return [t.result(ts) for t, ts in zip(timers, times, strict=True)]


def measure(name: str, stmt: str, ns: dict[str, Any] | None = None, *, repeat: int = 7, **kw: object) -> Result:
    """Time one row (see Timer for the keywords) and return its Result."""
    return measure_together([Timer(name, stmt, ns, **kw)], repeat)[0]  # type: ignore[arg-type]


def measure_empty_loop(repeat: int = 7) -> Result:
    """The loop's own cost per iteration (for reading the smallest rows)."""
    return measure("empty loop (timing overhead, not subtracted)", "pass", {}, repeat=repeat, number=10**6)
