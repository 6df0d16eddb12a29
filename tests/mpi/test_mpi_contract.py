"""The contract suite on MPIPool, run under ``mpiexec -n 1``, ``-n 2`` and ``-n 3``.

Each run starts ``mpi_contract.py`` (the contract of DESIGN.md as pytest
tests) on rank 0 of ``mpiexec -n K python -m scatterpool.mpi -m pytest``,
while ranks 1 .. K-1 serve the pools, and checks that the inner run passed.
"""

from __future__ import annotations

import re

import pytest

from mpi_launch import HERE, launch, require_mpi

require_mpi()


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_contract_under_mpiexec(ranks):
    r = launch(
        ranks,
        ["-m", "pytest", str(HERE / "mpi_contract.py"), "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        timeout=600,
    )
    assert r.returncode == 0, r.explain()
    summary = re.search(r"(\d+) passed", r.stdout)
    assert summary and int(summary.group(1)) >= 100, r.explain()
    assert " failed" not in r.stdout and " error" not in r.stdout, r.explain()
