"""Calls on MPIPool that only a script can show: classes of ``__main__`` sent by value, changed between calls.

The rules of a call that hold on every pool (argument copies, keyword names,
positional handles, close inside a call, byte order, exceptions) are contract
tests in tests/test_pools.py, tests/test_errors.py and tests/test_scatter_array.py,
run on MPIPool by test_mpi_contract.py.
"""

from __future__ import annotations

import ast

import pytest
from mpi_launch import launch, require_mpi, script

require_mpi()


@pytest.mark.parametrize("ranks", [2, 4])
def test_script_class_changed_between_calls_is_sent_again(ranks):
    r = launch(ranks, [script("call_rules.py")], timeout=300)
    assert r.returncode == 0, r.explain()
    got = {name: ast.literal_eval(value) for name, value in (line.split(" ", 1) for line in r.stdout.splitlines())}
    assert got["CLASS_BEFORE"] == [(2, w) for w in range(ranks)], r.explain()
    assert got["CLASS_AFTER"] == [(3, w) for w in range(ranks)], r.explain()
    assert got["CLASS_ATTRIBUTE_ADDED"] == ["added"] * ranks, r.explain()
