"""Faults under mpiexec: exceptions, unpicklable arguments, lost ranks.

A rank that dies must make rank 0 fail instead of hang. Two cases:

* MPICH's ``mpiexec`` (hydra) by default ends the whole job when a rank
  exits before ``MPI_Finalize``: rank 0 is killed and the job's status is
  not 0. The test checks that the job ends with a failing status.
* Under ``mpiexec -disable-auto-cleanup`` (or a launcher that leaves the
  other ranks running) rank 0 raises ``WorkerLostError``: within 0.2 s when
  the dead rank was on the same host (its pid is gone), otherwise after
  ``SCATTERPOOL_MPI_TIMEOUT`` seconds (default 60) without a sign of life.
  The launcher then ends the job with ``MPI_Abort``.

The tests check what happens; a hang is caught by each launch's timeout
(which kills the job and fails the test), not by measuring time.
"""

from __future__ import annotations

import pytest
from mpi_launch import launch, require_mpi, script

require_mpi()


@pytest.mark.parametrize("ranks", [2, 3])
def test_script_functions_exceptions_and_unpicklable_arguments(ranks):
    r = launch(ranks, [script("script_functions.py")], timeout=120)
    assert r.returncode == 0, r.explain()
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    for check in ("FUNCTION", "NESTED", "CLOSURE", "MAP", "CLASS", "RAISED", "TRACEBACK", "UNPICKLABLE",
                  "STILL_SERVING", "GLOBAL_ARRAY_UNCHANGED"):
        assert lines.get(check) == "True", f"{check}\n{r.explain()}"


def test_dead_rank_ends_the_job_under_default_mpiexec():
    r = launch(3, [script("lost_rank.py"), "exit"], timeout=60)
    assert r.returncode != 0, r.explain()
    assert "READY 3" in r.stdout, r.explain()


@pytest.mark.parametrize("ranks,when", [(2, "exit"), (3, "exit"), (3, "idle")])
def test_dead_rank_raises_on_rank_0_when_the_job_goes_on(ranks, when):
    r = launch(ranks, [script("lost_rank.py"), when], timeout=60, mpiexec_flags=["-disable-auto-cleanup"])
    # found by watching its pid (not by the 60 s timeout)
    assert f"LOST: MPI rank {ranks - 1} was lost" in r.stdout, r.explain()
    assert "its process (pid" in r.stdout and "has ended" in r.stdout, r.explain()
    assert "REFUSED: WorkerLostError" in r.stdout, r.explain()
    assert "END" in r.stdout, r.explain()
    assert r.returncode != 0, r.explain()  # MPI_Abort: MPI cannot finish without the lost rank


def test_dead_rank_found_by_the_timeout_when_its_pid_cannot_be_watched():
    r = launch(
        2,
        [script("lost_rank.py"), "exit"],
        timeout=90,
        mpiexec_flags=["-disable-auto-cleanup"],
        SCATTERPOOL_MPI_WATCH_PIDS="0",
        SCATTERPOOL_MPI_TIMEOUT="3",
    )
    assert "LOST: MPI rank 1 was lost" in r.stdout, r.explain()
    assert "no sign of life" in r.stdout and "the timeout is 3 s" in r.stdout, r.explain()
    assert "has ended" not in r.stdout, r.explain()  # not found by its pid
    assert r.returncode != 0, r.explain()


@pytest.mark.parametrize("mode", ["slow", "late"])
def test_slow_but_alive_rank_is_not_lost(mode):
    # "late": rank 0 was busy elsewhere for longer than the timeout before the call
    r = launch(2, [script("lost_rank.py"), mode], timeout=90, SCATTERPOOL_MPI_WATCH_PIDS="0",
               SCATTERPOOL_MPI_TIMEOUT="2")
    assert r.returncode == 0, r.explain()
    assert "SLOW done" in r.stdout and "LOST" not in r.stdout, r.explain()


# Along the tree of ranks (rank 0's children: 1, 2, 4, ...; rank 3's parent is 2, rank 7's is 6, whose
# parent is 4), a rank that is not a child of rank 0 is watched by its parent, which reports it lost.
@pytest.mark.parametrize(
    "ranks,when,lost,parent",
    [(4, "exit", 3, 2), (4, "apply", 3, 2), (4, "idle", 3, 2), (8, "exit", 7, 6), (8, "apply", 5, 4)],
)
def test_dead_rank_below_a_child_of_rank_0_raises_on_rank_0(ranks, when, lost, parent):
    r = launch(ranks, [script("lost_rank.py"), when, str(lost)], timeout=120,
               mpiexec_flags=["-disable-auto-cleanup"])
    assert f"LOST: MPI rank {lost} was lost" in r.stdout, r.explain()
    assert "its process (pid" in r.stdout and "has ended" in r.stdout, r.explain()
    assert f"found by rank {parent}" in r.stdout, r.explain()
    assert "REFUSED: WorkerLostError" in r.stdout, r.explain()
    assert "END" in r.stdout, r.explain()
    assert r.returncode != 0, r.explain()


@pytest.mark.parametrize("ranks,lost,parent", [(4, 3, 2), (8, 7, 6)])
def test_dead_rank_found_while_its_parent_runs_a_long_function(ranks, lost, parent):
    # the parent's function never returns: the parent's helper thread reports the dead child
    r = launch(ranks, [script("lost_rank.py"), "busy_parent", str(lost)], timeout=120,
               mpiexec_flags=["-disable-auto-cleanup"])
    assert f"LOST: MPI rank {lost} was lost" in r.stdout, r.explain()
    assert "has ended" in r.stdout and f"found by rank {parent}" in r.stdout, r.explain()
    assert "END" in r.stdout, r.explain()
    assert r.returncode != 0, r.explain()


@pytest.mark.parametrize("ranks,lost,parent", [(4, 3, 2), (8, 5, 4)])
def test_dead_rank_below_a_child_of_rank_0_found_in_a_scatter(ranks, lost, parent):
    # The rows go by a collective that the dead rank never joins: rank 0 waits in it while every live
    # rank has its part and is idle. The idle parent watches the dead rank's process (else rank 0 blamed
    # the silent parent after the whole timeout).
    r = launch(ranks, [script("lost_rank.py"), "scatter", str(lost)], timeout=120,
               mpiexec_flags=["-disable-auto-cleanup"])
    assert f"LOST: MPI rank {lost} was lost during scatter_array" in r.stdout, r.explain()
    assert "has ended" in r.stdout and f"found by rank {parent}" in r.stdout, r.explain()
    assert "REFUSED: WorkerLostError" in r.stdout, r.explain()
    assert "END" in r.stdout, r.explain()
    assert r.returncode != 0, r.explain()


def test_dead_rank_with_children_raises_on_rank_0():
    # rank 2 forwards to rank 3; rank 0 watches rank 2 itself
    r = launch(4, [script("lost_rank.py"), "apply", "2"], timeout=120, mpiexec_flags=["-disable-auto-cleanup"])
    assert "LOST: MPI rank 2 was lost" in r.stdout, r.explain()
    assert "has ended" in r.stdout, r.explain()
    assert "REFUSED: WorkerLostError" in r.stdout, r.explain()
    assert r.returncode != 0, r.explain()


def test_silent_rank_below_a_child_of_rank_0_found_by_the_timeout():
    r = launch(
        4,
        [script("lost_rank.py"), "exit", "3"],
        timeout=120,
        mpiexec_flags=["-disable-auto-cleanup"],
        SCATTERPOOL_MPI_WATCH_PIDS="0",
        SCATTERPOOL_MPI_TIMEOUT="3",
    )
    assert "LOST: MPI rank 3 was lost" in r.stdout, r.explain()
    assert "no sign of life" in r.stdout and "the timeout is 3 s" in r.stdout, r.explain()
    assert "found by rank 2" in r.stdout, r.explain()
    assert r.returncode != 0, r.explain()


@pytest.mark.parametrize("mode", ["slow", "late"])
def test_slow_rank_below_a_child_of_rank_0_is_not_lost(mode):
    # rank 3 sleeps longer than the timeout: its heartbeats reach rank 2, rank 2's (while it waits) rank 0
    r = launch(4, [script("lost_rank.py"), mode, "3"], timeout=120, SCATTERPOOL_MPI_WATCH_PIDS="0",
               SCATTERPOOL_MPI_TIMEOUT="2")
    assert r.returncode == 0, r.explain()
    assert "SLOW done" in r.stdout and "LOST" not in r.stdout, r.explain()
