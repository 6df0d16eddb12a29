"""The launcher: exit statuses, pools outside a launch, and a ThreadPool program run on MPI.

Launches go up to 8 ranks, more than the CI machine's cores: MPICH's mpiexec
oversubscribes without a flag.
"""

from __future__ import annotations

import sys

import pytest
from mpi_launch import environment, launch, mpiexec, require_mpi, run, script

require_mpi()


@pytest.mark.parametrize("ranks", [1, 2, 3, 4, 5, 8])
def test_clean_exit_status_zero(ranks):
    r = launch(ranks, [script("exits.py"), "end"], timeout=120)
    assert r.returncode == 0, r.explain()
    assert "TOTAL 30.0" in r.stdout and "END" in r.stdout, r.explain()


@pytest.mark.parametrize("ranks", [3, 8])
def test_unclosed_pool_still_exits_zero(ranks):
    r = launch(ranks, [script("exits.py"), "unclosed"], timeout=120)
    assert r.returncode == 0, r.explain()
    assert "END" in r.stdout
    assert "Traceback" not in r.stderr, r.explain()


def test_failed_push_that_no_command_reported_is_written_at_the_end():
    r = launch(2, [script("exits.py"), "failed-push"], timeout=120)
    assert r.returncode == 0, r.explain()
    assert "END" in r.stdout, r.explain()
    assert "DeliveryError: push of remote object" in r.stderr, r.explain()
    assert "refuses to unpickle on a worker rank" in r.stderr, r.explain()


@pytest.mark.parametrize("ranks", [2, 5])
def test_closed_pool_then_a_new_one(ranks):
    r = launch(ranks, [script("exits.py"), "closed-early"], timeout=120)
    assert r.returncode == 0, r.explain()
    assert f"AGAIN {list(range(ranks))}" in r.stdout, r.explain()


def test_uncaught_exception_exits_one_with_traceback():
    r = launch(2, [script("exits.py"), "raise"], timeout=120)
    assert r.returncode == 1, r.explain()
    assert "ValueError: the script failed on purpose" in r.stderr, r.explain()
    assert "END" not in r.stdout


def test_sys_exit_status_is_kept():
    r = launch(2, [script("exits.py"), "sysexit", "3"], timeout=120)
    assert r.returncode == 3, r.explain()


def test_usage_without_a_script():
    r = launch(1, [], timeout=60)
    assert r.returncode == 2 and "usage" in r.stderr, r.explain()


def test_plain_mpiexec_without_launcher_gives_clear_error():
    r = run([mpiexec(), "-n", "2", sys.executable, script("not_launched.py")], 120, environment())
    assert r.returncode != 0, r.explain()
    assert "python -m scatterpool.mpi" in r.stderr and "RuntimeError" in r.stderr, r.explain()


def test_single_rank_without_mpiexec():
    r = run([sys.executable, script("not_launched.py")], 120, environment())
    assert r.returncode == 0, r.explain()
    assert "LEN 1 [2]" in r.stdout, r.explain()
    r = run([sys.executable, "-m", "scatterpool.mpi", script("not_launched.py")], 120, environment())
    assert r.returncode == 0 and "LEN 1 [2]" in r.stdout, r.explain()


def test_expecting_more_workers_than_ranks_is_an_error():
    r = run([sys.executable, script("not_launched.py"), "3"], 120, environment())
    assert r.returncode != 0, r.explain()
    assert "mpiexec -n 3 python -m scatterpool.mpi" in r.stderr, r.explain()


def test_threadpool_program_runs_on_mpi_with_only_the_constructor_changed():
    threads = run([sys.executable, script("swap.py"), "thread"], 120, environment())
    assert threads.returncode == 0, threads.explain()
    mpi = launch(2, [script("swap.py"), "mpi"], timeout=120)
    assert mpi.returncode == 0, mpi.explain()
    assert mpi.stdout.splitlines() == threads.stdout.splitlines(), (threads.explain(), mpi.explain())
