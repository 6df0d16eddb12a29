"""scatterpool.new_pool: the default pool, and the SCATTERPOOL_POOL override."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import scatterpool as sp

sys.path.insert(0, str(Path(__file__).resolve().parent / "mpi"))
from mpi_launch import environment, launch, require_mpi


def cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@pytest.fixture
def no_override(monkeypatch):
    monkeypatch.delenv("SCATTERPOOL_POOL", raising=False)


def test_default_is_a_threadpool_of_the_usable_cpus(no_override):
    with sp.new_pool() as pool:
        assert type(pool) is sp.ThreadPool
        assert len(pool) == cpus()
        assert pool.apply(sp.worker_index) == list(range(cpus()))


@pytest.mark.parametrize(
    "value, kind, workers",
    [
        ("dummy", sp.DummyPool, 1),
        ("threads", sp.ThreadPool, cpus()),
        ("threads:3", sp.ThreadPool, 3),
        ("threads:1", sp.ThreadPool, 1),
        (" Threads:2 ", sp.ThreadPool, 2),
    ],
)
def test_environment_variable_chooses_the_pool(monkeypatch, value, kind, workers):
    monkeypatch.setenv("SCATTERPOOL_POOL", value)
    with sp.new_pool() as pool:
        assert type(pool) is kind
        assert len(pool) == workers
        assert pool.map(abs, range(-5, 0)) == [5, 4, 3, 2, 1]


def test_empty_environment_variable_is_the_default(monkeypatch):
    monkeypatch.setenv("SCATTERPOOL_POOL", "")
    with sp.new_pool() as pool:
        assert type(pool) is sp.ThreadPool
        assert len(pool) == cpus()


def test_seed_reaches_the_workers(monkeypatch):
    monkeypatch.setenv("SCATTERPOOL_POOL", "threads:2")

    def draw():
        return sp.worker_rng().integers(1 << 30)

    with sp.new_pool(seed=7) as a, sp.ThreadPool(2, seed=7) as b:
        assert a.apply(draw) == b.apply(draw)


@pytest.mark.parametrize(
    "value", ["process", "thread", "threads:0", "threads:-1", "threads:x", "threads:", "dummy:2", "mpi:2"]
)
def test_bad_value_is_an_error_naming_the_accepted_ones(monkeypatch, value):
    monkeypatch.setenv("SCATTERPOOL_POOL", value)
    with pytest.raises(ValueError) as info:
        sp.new_pool()
    message = str(info.value)
    assert repr(value) in message
    assert "SCATTERPOOL_POOL" in message
    for accepted in ("dummy", "threads", "threads:N", "mpi"):
        assert accepted in message


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment(**env),
    )


def test_default_does_not_import_mpi4py():
    code = """
        import sys
        import scatterpool
        pool = scatterpool.new_pool()
        print(type(pool).__name__, "mpi4py" in sys.modules)
        pool.close()
    """
    env = environment()
    env.pop("SCATTERPOOL_POOL", None)
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, env=env
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ThreadPool", "False"]


def test_mpi_without_a_launch_is_a_pool_of_one_rank():
    require_mpi()
    r = run_python(
        """
        import scatterpool
        from scatterpool.mpi import MPIPool
        with scatterpool.new_pool() as pool:
            print(type(pool) is MPIPool, len(pool), pool.apply(abs, -3))
        """,
        SCATTERPOOL_POOL="mpi",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "1", "[3]"]


SCRIPT = """
import scatterpool
from scatterpool.mpi import MPIPool

with scatterpool.new_pool() as pool:
    print("POOL", type(pool).__name__, isinstance(pool, MPIPool), len(pool), pool.apply(scatterpool.worker_index))
"""


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "default_pool.py"
    path.write_text(SCRIPT)
    return str(path)


def pool_line(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("POOL"))


def test_under_an_mpi_launch_of_two_ranks_it_is_an_mpipool(script):
    require_mpi()
    env = {"SCATTERPOOL_POOL": ""}
    r = launch(2, [script], timeout=120, **env)
    assert r.returncode == 0, r.explain()
    assert pool_line(r.stdout) == "POOL MPIPool True 2 [0, 1]", r.explain()


def test_under_an_mpi_launch_of_one_rank_it_is_a_threadpool(script):
    require_mpi()
    r = launch(1, [script], timeout=120, SCATTERPOOL_POOL="")
    assert r.returncode == 0, r.explain()
    assert pool_line(r.stdout).startswith("POOL ThreadPool False "), r.explain()


def test_environment_variable_overrides_an_mpi_launch(script):
    require_mpi()
    r = launch(2, [script], timeout=120, SCATTERPOOL_POOL="threads:3")
    assert r.returncode == 0, r.explain()
    assert pool_line(r.stdout) == "POOL ThreadPool False 3 [0, 1, 2]", r.explain()
