"""An immutable the workers hold (pushed, counted by uid) is not sent again inside other objects.

Pushed inside a mutable object, or inside an argument of a call, it is
pickled as a reference to the workers' own copy: rank 0 pickles it once,
and each worker finds the very object it holds.
"""

from __future__ import annotations

import ast

import pytest
from mpi_launch import launch, require_mpi, script

require_mpi()


@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_a_pushed_immutable_is_not_sent_again_inside_other_objects(ranks):
    r = launch(ranks, [script("shared_references.py")], timeout=300)
    assert r.returncode == 0, r.explain()
    got = dict(line.split(" ", 1) for line in r.stdout.splitlines())
    sent_once = 1 if ranks > 1 else 0  # a pool of one rank sends nothing
    assert int(got["PICKLED_BY_PUSH"]) == sent_once, r.explain()
    assert ast.literal_eval(got["PUSHED_INSIDE"]) == [[1, 2, 3]] * ranks, r.explain()
    assert ast.literal_eval(got["ARGUMENT_INSIDE"]) == [[1, 2, 3]] * ranks, r.explain()
    assert int(got["PICKLED_AFTER"]) == sent_once, r.explain()
    # once no longer held, it goes whole again (and keeps its uid, as an unpickled Immutable does)
    assert ast.literal_eval(got["NOT_HELD"]) == [([1, 2, 3], True)] * ranks, r.explain()
    assert int(got["PICKLED_NOT_HELD"]) == 2 * sent_once, r.explain()
    assert ast.literal_eval(got["LEFT"]) == [0] * ranks, r.explain()
