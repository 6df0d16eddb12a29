"""Messages that differ per rank go to their own rank, at as many ranks as the tests launch and more."""

from __future__ import annotations

import ast

import pytest

from mpi_launch import launch, require_mpi, script

require_mpi()


def split(n: int, k: int) -> list[list[int]]:
    """``even_split`` of ``range(n)`` into ``k`` parts, written out: the first ``n % k`` parts are one longer."""
    q, r = divmod(n, k)
    parts, start = [], 0
    for w in range(k):
        stop = start + q + (w < r)
        parts.append(list(range(start, stop)))
        start = stop
    return parts


@pytest.mark.parametrize("ranks", [4, 5, 8])
def test_each_rank_gets_its_own_chunk(ranks):
    r = launch(ranks, [script("per_rank.py")], timeout=300)
    assert r.returncode == 0, r.explain()
    got = {name: ast.literal_eval(value) for name, value in (line.split(" ", 1) for line in r.stdout.splitlines())}
    parts = split(10, ranks)
    owner = [w for w, part in enumerate(parts) for _ in part]
    assert got["WORKERS"] == ranks, r.explain()
    assert got["SCATTER_LIST"] == parts, r.explain()
    assert got["MAP"] == [(x, owner[x]) for x in range(10)], r.explain()
    assert got["MAP2"] == [(x, str(x), owner[x]) for x in range(10)], r.explain()
    assert got["MAP_AGAIN"] == [(x, owner[x]) for x in range(10)], r.explain()
    assert got["SCATTER_DICTS"] == split(3 * ranks, ranks), r.explain()
    assert got["APPLY_ONLY"] == list(range(ranks)), r.explain()
