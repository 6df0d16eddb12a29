"""What one configuration measured: rows, comparisons with their anchors, checks, the load.

A configuration runs in its own process and hands its ``Record`` to the suite as JSON. A row is one
measured operation (all its repeats); a comparison puts a row beside its anchor (the row measured
in the same process that a user would pick instead, or the machine's limit) with an optional target
on the ratio ``ours / anchor`` of the medians. Rows that belong to a scaling series carry
``plot`` (which figure), ``line`` (which curve) and ``x`` (bytes or workers).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .timing import LoadMeter, Result

SIZE_PLOT_COPY = "scatter_array copy=True against data size"
SIZE_PLOT_VIEW = "scatter_array copy=False against data size"
WORKERS_PLOT = "apply(f) round trip against worker count"


@dataclass
class Target:
    """kind "ratio<=": ours / anchor at the median <= value; "speedup>=": anchor / ours >= value."""

    kind: str
    value: float

    def text(self) -> str:
        return f"ratio <= {self.value:g}" if self.kind == "ratio<=" else f"speed-up >= {self.value:g}x"

    def met(self, ratio: float) -> bool:
        if self.kind == "ratio<=":
            return ratio <= self.value
        return ratio > 0 and 1.0 / ratio >= self.value


class Record:
    """Rows, comparisons and checks of one configuration, and the CPU others used while it ran."""

    def __init__(self, config: str, own_cpu: Callable[[], float] = time.process_time):
        self.config = config
        self.rows: dict[str, dict[str, Any]] = {}
        self.comparisons: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.passed = 0
        self.notes: list[str] = []
        self._meter = LoadMeter(own_cpu)
        self._meter.start()
        self._load: tuple[float, float] | None = None
        self._started = time.perf_counter()

    def measure_load_with(self, own_cpu: Callable[[], float]) -> None:
        """Count ``own_cpu()`` as the benchmark's own CPU from now on (MPI: the sum over the ranks)."""
        self._meter = LoadMeter(own_cpu)
        self._meter.start()

    def stop_load(self) -> None:
        """End the load measurement (before the pools that own_cpu asks are closed)."""
        if self._load is None:
            self._load = self._meter.stop() or (float("nan"), float("nan"))

    def add(self, key: str, result: Result, **tags: Any) -> Result:
        """Keep ``result`` as row ``key``; tags: pool, plot, line, x, anchor_line (bool), oversubscribed."""
        self.rows[key] = {
            "name": result.name + (f"  [{result.note}]" if result.note else ""),
            "times": list(result.times),
            "per": result.per,
            "nbytes": result.nbytes,
            "items": result.items,
            **tags,
        }
        return result

    def add_times(self, key: str, name: str, times: list[float], *, per: str = "call",
                  nbytes: int | None = None, **tags: Any) -> Result:
        return self.add(key, Result(name, list(times), per=per, nbytes=nbytes), **tags)

    def result(self, key: str) -> Result:
        row = self.rows[key]
        return Result(row["name"], row["times"], per=row["per"], nbytes=row["nbytes"], items=row["items"])

    def compare(self, op: str, ours: str, anchor: str, target: Target | None = None) -> None:
        """Row ``ours`` beside row ``anchor`` under the operation name ``op`` (a table line)."""
        if ours in self.rows and anchor in self.rows:
            self.comparisons.append({"op": op, "ours": ours, "anchor": anchor,
                                     "target": None if target is None else {"kind": target.kind,
                                                                            "value": target.value}})

    def check(self, cond: bool, what: str) -> None:
        """A correctness check made outside the timed loops."""
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)
            print(f"CHECK FAILED: {what}", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def to_json(self) -> dict[str, Any]:
        self.stop_load()
        load = self._load
        return {
            "config": self.config,
            "seconds": time.perf_counter() - self._started,
            "other_cpu": None if load is None or load[0] != load[0] else load[0],
            "steal": None if load is None or load[1] != load[1] else load[1],
            "rows": self.rows,
            "comparisons": self.comparisons,
            "checks_passed": self.passed,
            "checks_failed": self.failures,
            "notes": self.notes,
        }
