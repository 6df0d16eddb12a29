"""The rules of a call on MPIPool (arguments, keyword names, handles, errors, close), at 1 to 4 ranks.

One launch per number of ranks runs ``scripts/call_rules.py``; each test
checks one line of its output against the contract.
"""

from __future__ import annotations

import ast
import functools

import pytest

from mpi_launch import Run, launch, require_mpi, script

require_mpi()

RANKS = [1, 2, 3, 4]


@functools.cache
def run(ranks: int) -> tuple[Run, dict[str, str]]:
    r = launch(ranks, [script("call_rules.py")], timeout=300)
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    return r, lines


def value(ranks: int, name: str) -> object:
    r, lines = run(ranks)
    assert r.returncode == 0, r.explain()
    assert name in lines, r.explain()
    assert not lines[name].startswith("!"), f"{name}: raised {lines[name][1:]}\n{r.explain()}"
    return ast.literal_eval(lines[name])


def error(ranks: int, name: str) -> str:
    r, lines = run(ranks)
    assert r.returncode == 0, r.explain()
    assert lines.get(name, "").startswith("!"), f"{name}: expected an exception\n{r.explain()}"
    return lines[name][1:]


@pytest.mark.parametrize("K", RANKS)
def test_caller_argument_is_copied_for_every_worker_of_a_pool_of_several(K):
    assert value(K, "APPLY_RESULTS") == [1] * K
    assert value(K, "APPLY_CALLER_BOX") == ([0] if K == 1 else [])
    assert value(K, "APPLY_ONLY_0_RESULT") == 1
    assert value(K, "APPLY_ONLY_0_CALLER_BOX") == ([0] if K == 1 else [])
    assert value(K, "MAP_RESULTS") == [1] * K
    assert value(K, "MAP_CALLER_BOX") == ([0] if K == 1 else [])


@pytest.mark.parametrize("K", RANKS)
def test_arguments_of_one_call_are_one_object_graph(K):
    assert value(K, "ONE_GRAPH_PER_CALL") == [1] * K


@pytest.mark.parametrize("K", RANKS)
def test_script_class_changed_between_calls_is_sent_again(K):
    assert value(K, "CLASS_BEFORE") == [2] * K
    assert value(K, "CLASS_AFTER") == [3] * K


@pytest.mark.parametrize("K", RANKS)
def test_big_endian_rows_arrive_in_native_order(K):
    offsets = [0]
    for w in range(K):
        offsets.append(offsets[-1] + 4 // K + (w < 4 % K))
    rows = [[2.0 * i, 2.0 * i + 1] for i in range(4)]
    assert value(K, "BIG_ENDIAN_ROWS") == [rows[offsets[w] : offsets[w + 1]] for w in range(K)]
    assert value(K, "BIG_ENDIAN_NATIVE") == [True] * K


@pytest.mark.parametrize("K", RANKS)
def test_close_inside_own_function_is_refused_and_pool_stays_open(K):
    assert error(K, "CLOSE_INSIDE").startswith("ReentrantCallError")
    assert error(K, "CLOSE_INSIDE_APPLY").startswith("ReentrantCallError")
    assert value(K, "OPEN_AFTER_CLOSE_INSIDE") == (False, list(range(K)))


@pytest.mark.parametrize("K", RANKS)
def test_keywords_named_after_pool_parameters_reach_the_function(K):
    assert value(K, "KEYWORD_FUNCTION") == [3] * K
    assert value(K, "KEYWORD_WORKER") == 5
    assert value(K, "KEYWORD_WORKER_LAST") == (5, 6)
    assert value(K, "KEYWORD_MAP") == [10, 11, 12]


@pytest.mark.parametrize("K", RANKS)
def test_positional_remote_object_arrives_as_the_workers_object(K):
    assert value(K, "POSITIONAL_REMOTE_APPLY") == [([w], 1) for w in range(K)]
    assert value(K, "POSITIONAL_REMOTE_ONLY") == [K - 1]
    message = error(K, "POSITIONAL_REMOTE_MAP")
    assert message.startswith("TypeError") and "keyword" in message


@pytest.mark.parametrize("K", RANKS)
def test_exception_whose_str_raises_reaches_the_caller_as_itself(K):
    also = [f"worker {w} also raised UnprintableError" for w in range(1, K)]
    assert value(K, "UNPRINTABLE_TYPE") == ("UnprintableError", also)
    assert value(K, "STILL_SERVING") == list(range(K))
