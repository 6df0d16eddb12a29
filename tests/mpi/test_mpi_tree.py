"""Commands and replies along the tree of ranks, at 1 to 8 ranks (more ranks than cores from 3 on).

``scripts/tree_calls.py`` runs every kind of call (apply, apply_only, map,
scatter_list, scatter_array, push, remove, errors, per-rank bodies, sys.path)
and checks what each worker returns; from 4 ranks on some workers are not
children of rank 0, so their commands and replies pass through other ranks.
It also counts rank 0's messages for one apply: one per child of rank 0
each way (ceil(log2 K)), not one per worker.
"""

from __future__ import annotations

import math

import pytest
from mpi_launch import launch, require_mpi, script

require_mpi()


@pytest.mark.parametrize("ranks", [1, 2, 3, 4, 5, 6, 7, 8])
def test_calls_along_the_tree(ranks):
    r = launch(ranks, [script("tree_calls.py")], timeout=240)
    assert r.returncode == 0, r.explain()
    assert "FAIL" not in r.stdout, r.explain()
    assert "DONE" in r.stdout, r.explain()
    for name in ("apply", "apply_only", "map", "scatter_list", "scatter_array", "push", "remove", "errors",
                 "apply_after_apply_only", "sys_path", "messages_per_apply", "messages_logarithmic"):
        assert f"OK {name}\n" in r.stdout, f"{name}\n{r.explain()}"
    sent, received, children = (int(x) for x in r.stdout.split("MESSAGES ", 1)[1].split()[:3])
    assert children == math.ceil(math.log2(ranks)), r.explain()
    assert sent == received == children, r.explain()
    if ranks >= 4:
        assert sent + received < 2 * (ranks - 1), r.explain()  # not one message per worker each way
