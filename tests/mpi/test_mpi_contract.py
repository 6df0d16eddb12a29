"""The contract suite on MPIPool: the shared contract tests, run under mpiexec by this test run.

Each test launches

    mpiexec -n K python -m scatterpool.mpi -m pytest tests/test_pools.py tests/test_errors.py ...
        tests/mpi/mpi_only_checks.py --scatterpool-pool=mpi

Rank 0 runs pytest, whose ``pool`` fixture then yields an ``MPIPool`` of K
workers, while ranks 1 .. K-1 serve it (the test modules are importable there:
rank 0's ``sys.path`` goes with the calls). At 1, 2, 3 and 8 ranks the whole
suite runs, with the MPI-only checks of ``mpi_only_checks.py`` (at 8 ranks the
commands and replies of most workers pass through other workers: the tree of
ranks is three levels deep); at 4 and 5 ranks (more ranks than the machine has
cores) the checks marked ``distribution``, which decide what each worker gets.
The inner run must pass and run tests.
"""

from __future__ import annotations

import re

import pytest
from mpi_launch import HERE, ROOT, launch, require_mpi

require_mpi()

TESTS = ROOT / "tests"
# the files of contract tests (on the `pool` fixture); one that is not there yet is left out
CONTRACT_FILES = [
    TESTS / name
    for name in (
        "test_pools.py",
        "test_errors.py",
        "test_arguments.py",
        "test_immutable.py",
        "test_scatter_array.py",
        "test_map_convention.py",
        "test_buffer_cache.py",
    )
]
MPI_ONLY_CHECKS = HERE / "mpi_only_checks.py"


def contract_files() -> list[str]:
    return [str(path) for path in CONTRACT_FILES if path.exists()]


def run_inner_pytest(ranks: int, files: list[str], *options: str):
    r = launch(
        ranks,
        ["-m", "pytest", *files, "--scatterpool-pool=mpi", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
         *options],
        timeout=300,  # a hang; the runs take seconds
    )
    assert r.returncode == 0, r.explain()
    summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 0, f"the inner run ran no test\n{r.explain()}"
    assert not re.search(r"\d+ (failed|errors?)\b", summary), r.explain()
    return r


@pytest.mark.parametrize("ranks", [1, 2, 3, 8])
def test_contract_suite_on_mpipool(ranks):
    run_inner_pytest(ranks, [*contract_files(), str(MPI_ONLY_CHECKS)])


@pytest.mark.parametrize("ranks", [4, 5])
def test_distribution_on_more_ranks_than_cores(ranks):
    run_inner_pytest(ranks, [*contract_files(), str(MPI_ONLY_CHECKS)], "-m", "distribution")
