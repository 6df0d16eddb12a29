"""``python -m scatterpool bench``: a tiny run prints the table and writes every field (no time asserted)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scatterpool._bench import suite
from scatterpool._bench.record import WORKERS_PLOT
from scatterpool._bench.timing import nproc


def run_bench(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "scatterpool", "bench", "--quick", "--repeat", "1",
                           "--json", str(out), *args], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out) as fh:
        return proc, json.load(fh)


def test_quick_run_prints_the_table_and_writes_every_figure(tmp_path):
    proc, data = run_bench(tmp_path, "--only", "dummy,workers")
    assert "| config " in proc.stdout and "| anchor (same run) " in proc.stdout
    assert "| dummy " in proc.stdout and "| workers " in proc.stdout
    assert set(data) >= {"machine", "versions", "argv", "quick", "sizes_mb", "skipped", "table", "configs"}
    assert set(data["configs"]) == {"dummy", "workers"}
    for rec in data["configs"].values():
        assert rec["status"] == "ok" and rec["checks_failed"] == []
        assert set(rec) >= {"seconds", "other_cpu", "rows", "comparisons", "command"}
        for row in rec["rows"].values():
            assert len(row["times"]) >= 1 and row["per"] in ("call", "item")
    for entry in data["table"]:
        assert set(entry) >= {"config", "operation", "median", "spread", "anchor", "anchor_median", "ratio",
                              "target", "met"}
    workers = [row for row in data["configs"]["workers"]["rows"].values() if row.get("plot") == WORKERS_PLOT]
    assert sorted({row["x"] for row in workers}) == [1, 2, 4, 8]
    assert all(row["oversubscribed"] == (row["x"] > nproc()) for row in workers)


def test_plots_are_drawn(tmp_path):
    pytest.importorskip("matplotlib")
    proc, _ = run_bench(tmp_path, "--only", "workers", "--plots", str(tmp_path / "plots"))
    assert (tmp_path / "plots" / "dispatch_workers.png").stat().st_size > 0
    assert "wrote " + str(tmp_path / "plots" / "dispatch_workers.png") in proc.stdout


def test_mpi_configuration_is_launched_by_the_suite(tmp_path):
    pytest.importorskip("mpi4py")
    _, data = run_bench(tmp_path, "--only", "mpi-1")
    rec = data["configs"]["mpi-1"]
    assert rec["status"] == "ok" and rec["ranks"] == 1
    assert rec["command"][1:3] == ["-n", "1"] and "scatterpool.mpi" in rec["command"]
    assert [e["operation"] for e in data["table"]] == ["MPIPool (1 ranks) apply(f)"]


def test_a_missing_extra_skips_its_configurations_with_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setattr(suite, "installed", lambda name: name not in ("distributed", "mpi4py"))
    run, skipped = suite.select(None, True, None)
    assert "dask" not in [c.name for c in run] and not any(c.mpi() for c in run)
    assert [line for line in skipped if "dask.distributed" in line] == [
        "skipped dask: dask.distributed is not installed (the bench extra brings it: "
        "pip install 'scatterpool[bench]')"]
    assert [line for line in skipped if "mpi4py" in line] == [
        "skipped mpi-2, mpi-1, mpi-3, mpi-4, mpi-tree, spawn: mpi4py is not installed (the mpi extra brings it: "
        "pip install 'scatterpool[mpi]')"]


def test_mpi_tree_counts_messages_per_call_and_models_a_thousand_ranks(tmp_path):
    pytest.importorskip("mpi4py")
    _, data = run_bench(tmp_path, "--only", "mpi-tree")
    rec = data["configs"]["mpi-tree"]
    assert rec["status"] == "ok" and rec["checks_failed"] == [] and rec["checks_passed"] == 4
    notes = "\n".join(rec["notes"])
    for k, d in ((2, 1), (4, 2), (8, 3), (16, 4)):  # ceil(log2 K) each way, beside 2 (K - 1)
        assert f"K = {k:2d}: rank 0 sends {d} + receives {d} messages per apply (flat fan-out: {k - 1} + {k - 1})" \
            in notes
    assert "cost model for K = 1024" in notes and "depth 10" in notes
    assert [e["operation"] for e in data["table"]] == ["apply(f) at K = 1024 ranks, modelled from the K = 2 figures"]
