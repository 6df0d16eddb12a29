"""Every row of the contract's error table, on every pool (MPIPool included, see conftest.py); after each
error the pool still works and nothing leaked."""

from __future__ import annotations

import gc
import re
import traceback

import numpy as np
import pytest

import scatterpool as sp
from conftest import HAS_THREADPOOL, NO_THREADPOOL, Box, assert_no_leak

VA = sp.VectorArray


def numbers(text):
    return [int(m) for m in re.findall(r"-?\d+", text)]


def assert_pool_works(pool):
    """The pool answers correctly after an error, and holds no remote object."""
    n = len(pool)
    assert pool.apply(sp.worker_index) == list(range(n))
    assert pool.apply_only(sp.worker_index, n - 1) == n - 1
    assert pool.map(lambda x: x + 1, range(2 * n + 1)) == list(range(1, 2 * n + 2))
    with pool.push(Box([1])) as ro:
        assert pool.apply(lambda x: x.items, x=ro) == [[1]] * n
    assert_no_leak(pool)


def call(pool, method, f, **kwargs):
    if method == "apply":
        return pool.apply(f, **kwargs)
    if method == "apply_only":
        return pool.apply_only(f, len(pool) - 1, **kwargs)
    return pool.map(f, range(5), **kwargs)


METHODS = ["apply", "apply_only", "map"]


# --------------------------------------------------------------------------- #
# map: sequences of different lengths, or none                                 #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "seqs",
    [
        ([0] * 5, [0] * 11),
        (range(5), np.arange(11)),
        ((0,) * 5, [0] * 5, [0] * 11),
        ([], [0] * 11),
    ],
    ids=["lists", "range-ndarray", "three", "empty-first"],
)
def test_map_unequal_lengths(pool, seqs):
    calls = []
    with pool.push(Box()) as ro, pytest.raises(ValueError) as ei:
        pool.map(lambda *a, x: calls.append(a), *seqs, x=ro)
    found = numbers(str(ei.value))
    for length in {len(s) for s in seqs}:
        assert length in found, f"length {length} not named in: {ei.value}"
    assert calls == []  # refused before anything ran
    del ei
    assert_pool_works(pool)


def test_map_without_sequences(pool):
    calls = []
    with pytest.raises(ValueError):
        pool.map(lambda: calls.append(1))
    with pytest.raises(ValueError):
        pool.map(lambda **kw: calls.append(1), x=1)
    assert calls == []
    assert_pool_works(pool)


# --------------------------------------------------------------------------- #
# apply_only: worker out of range, or not an integer                           #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("which", ["len", "len+5", "-1", "-len-1", "huge"])
def test_apply_only_out_of_range(pool, which):
    n = len(pool)
    worker = {"len": n, "len+5": n + 5, "-1": -1, "-len-1": -n - 1, "huge": 2**40}[which]
    calls = []
    with pytest.raises(IndexError) as ei:
        pool.apply_only(lambda: calls.append(1), worker)
    found = numbers(str(ei.value))
    assert 0 in found and (n - 1 in found or n in found), f"range not named in: {ei.value}"
    assert worker in found, f"the worker asked for is not named as given in: {ei.value}"
    assert calls == []
    del ei
    assert_pool_works(pool)


@pytest.mark.parametrize("worker", [1.0, 0.5, "0", None, [0], np.float64(0)], ids=repr)
def test_apply_only_worker_not_an_integer(pool, worker):
    calls = []
    with pytest.raises(TypeError):
        pool.apply_only(lambda: calls.append(1), worker)
    assert calls == []
    assert_pool_works(pool)


# --------------------------------------------------------------------------- #
# arrays of unsupported kinds or dtypes                                        #
# --------------------------------------------------------------------------- #
BAD_ARRAYS = [
    np.zeros((3, 2), dtype=np.int64),
    np.zeros((3, 2), dtype=np.int32),
    np.zeros((3, 2), dtype=np.float16),
    np.zeros((3, 2), dtype=bool),
    np.zeros((3, 2), dtype=object),
    np.zeros((3, 2), dtype="U2"),
    [[1.0, 2.0], [3.0, 4.0]],
    ((1.0, 2.0),),
    "abc",
    3.0,
    None,
    {"a": 1},
]


@pytest.mark.parametrize("copy_", [True, False], ids=["copy", "nocopy"])
@pytest.mark.parametrize("bad", BAD_ARRAYS, ids=lambda b: getattr(getattr(b, "dtype", None), "name", type(b).__name__))
def test_scatter_array_unsupported(pool, bad, copy_):
    with pytest.raises(TypeError):
        pool.scatter_array(bad, copy=copy_)
    assert_pool_works(pool)


@pytest.mark.parametrize("copy_", [True, False], ids=["copy", "nocopy"])
def test_scatter_array_3d(pool, copy_):
    with pytest.raises((TypeError, ValueError)):
        pool.scatter_array(np.zeros((4, 2, 2)), copy=copy_)
    assert_pool_works(pool)


# --------------------------------------------------------------------------- #
# a removed RemoteObject, or one from another pool                             #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("method", METHODS)
def test_removed_remote_object(pool, method):
    ro = pool.push(Box())
    good = pool.push(Box())
    ro.remove()
    calls = []
    with pytest.raises(ValueError, match=r"(?i)removed"):
        call(pool, method, lambda *a, **kw: calls.append(1), x=good, y=ro)
    assert calls == []
    good.remove()
    assert_pool_works(pool)


@pytest.mark.parametrize("other_kind", ["same-kind", "DummyPool"])
@pytest.mark.parametrize("method", METHODS)
def test_remote_object_from_another_pool(pool, pool_factory, method, other_kind):
    other = pool_factory() if other_kind == "same-kind" else sp.DummyPool()
    try:
        foreign = other.push(Box())
        calls = []
        with pytest.raises(ValueError, match=r"(?i)pool"):
            call(pool, method, lambda *a, **kw: calls.append(1), y=foreign)
        assert calls == []
        foreign.remove()
        assert_no_leak(other)
    finally:
        other.close()
    assert_pool_works(pool)


# --------------------------------------------------------------------------- #
# a closed pool                                                                #
# --------------------------------------------------------------------------- #
def test_pool_closed_error_is_a_runtime_error():
    assert issubclass(sp.PoolClosedError, RuntimeError)


CLOSED_CALLS = {
    "push": lambda p, f: p.push(Box()),
    "push-immutable": lambda p, f: p.push(sp.Immutable()),
    "scatter_array": lambda p, f: p.scatter_array(np.zeros((3, 2))),
    "scatter_list": lambda p, f: p.scatter_list([1, 2, 3]),
    "apply": lambda p, f: p.apply(f),
    "apply_only": lambda p, f: p.apply_only(f, 0),
    "map": lambda p, f: p.map(f, range(3)),
}


@pytest.mark.parametrize("how", ["close", "with"])
@pytest.mark.parametrize("name", list(CLOSED_CALLS))
def test_closed_pool_refuses(pool_factory, name, how):
    p = pool_factory()
    if how == "close":
        p.close()
    else:
        with p:
            pass
    calls = []
    with pytest.raises(sp.PoolClosedError, match=r"(?i)closed") as ei:
        CLOSED_CALLS[name](p, lambda *a: calls.append(1))
    assert isinstance(ei.value, RuntimeError)
    assert calls == []


def test_closed_pool_does_not_empty_vector_array(pool_factory):
    p = pool_factory()
    p.close()
    U = VA.from_numpy(np.ones((6, 2)))
    with pytest.raises(sp.PoolClosedError):
        p.scatter_array(U, copy=False)
    assert len(U) == 6  # nothing lost


def test_closed_pool_refuses_remote_object_kwargs(pool_factory):
    p = pool_factory()
    ro = p.push(Box())
    p.close()
    with pytest.raises(RuntimeError, match=r"(?i)closed"):
        p.apply(lambda x: x, x=ro)
    del ro
    gc.collect()


# --------------------------------------------------------------------------- #
# ThreadPool sizes                                                             #
# --------------------------------------------------------------------------- #
@pytest.mark.skipif(not HAS_THREADPOOL, reason=NO_THREADPOOL)
@pytest.mark.parametrize("n", [0, -1, -8])
def test_threadpool_bad_size(n):
    with pytest.raises(ValueError):
        sp.ThreadPool(n)


# --------------------------------------------------------------------------- #
# f raises on a worker                                                         #
# --------------------------------------------------------------------------- #
class WorkerError(Exception):
    # args is (where,), so that a pickle (an MPI rank's exception sent to rank 0) rebuilds it as it was
    def __init__(self, where):
        super().__init__(where)
        self.where = where

    def __str__(self):
        return f"boom-{self.where}-token"


def failing_f(fail_on, kind=WorkerError, **kwargs):
    w = sp.worker_index()
    if w in fail_on:
        raise (kind if isinstance(kind, type) else kind[w])(w)
    return w


def assert_traceback_names(exc, function_name):
    """The traceback the user sees names the function that raised: in its frames, or (from another process)
    in the remote traceback text chained as the cause."""
    text = "".join(traceback.format_exception(exc))
    assert f"in {function_name}\n" in text, text


def notes_of(exc):
    return getattr(exc, "__notes__", None) or []


def assert_named_in_notes(exc, token, worker):
    notes = notes_of(exc)
    assert any(token in note or (re.search(rf"\b{worker}\b", note) and type(exc).__name__ in note) for note in notes), (
        f"the exception of worker {worker} is not named in the notes {notes!r}"
    )


@pytest.mark.parametrize("target", ["first", "last"])
def test_exception_from_one_worker(pool, target):
    n = len(pool)
    w = 0 if target == "first" else n - 1
    with pool.push(Box()) as ro, pytest.raises(WorkerError) as ei:
        pool.apply(failing_f, {w}, x=ro)
    e = ei.value
    assert type(e) is WorkerError and e.where == w and str(e) == f"boom-{w}-token"
    assert_traceback_names(e, "failing_f")
    del e, ei
    assert_pool_works(pool)


def test_exception_from_several_workers_lowest_wins(pool):
    n = len(pool)
    failing = set(range(1, n)) if n > 2 else set(range(n))
    lowest = min(failing)
    with pytest.raises(WorkerError) as ei:
        pool.apply(failing_f, failing)
    e = ei.value
    assert e.where == lowest
    assert_traceback_names(e, "failing_f")
    for w in failing - {lowest}:
        assert_named_in_notes(e, f"boom-{w}-token", w)
    del e, ei
    assert_pool_works(pool)


def test_exception_types_differ_per_worker(pool):
    n = len(pool)
    kinds = {w: (KeyError, TypeError, ZeroDivisionError)[w % 3] for w in range(n)}
    with pytest.raises(Exception) as ei:
        pool.apply(failing_f, set(range(n)), kinds)
    assert type(ei.value) is KeyError  # worker 0's
    assert ei.value.args == (0,)
    for w in range(1, n):
        assert any(kinds[w].__name__ in note for note in notes_of(ei.value)), notes_of(ei.value)
    del ei
    assert_pool_works(pool)


def test_exception_in_apply_only(pool):
    n = len(pool)
    with pytest.raises(WorkerError) as ei:
        pool.apply_only(failing_f, n - 1, {n - 1})
    assert ei.value.where == n - 1
    assert_traceback_names(ei.value, "failing_f")
    del ei
    assert_pool_works(pool)


def test_exception_in_map(pool):
    n_items, k = 40, len(pool)
    sizes = [len(c) for c in np.array_split(np.arange(n_items), k)]
    ends = np.cumsum(sizes).tolist()
    bad = {e - 1 for e in ends}  # the last item of every chunk fails
    def item_f(j, *, L):
        if j in bad:
            raise WorkerError(j)
        return j

    with pool.scatter_list(list(range(n_items))) as ro, pytest.raises(WorkerError) as ei:
        pool.map(item_f, range(n_items), L=ro)
    assert ei.value.where == ends[0] - 1  # worker 0's failing item
    assert_traceback_names(ei.value, "item_f")
    assert_pool_works(pool)
    for w, e in enumerate(ends[1:], start=1):
        assert_named_in_notes(ei.value, f"boom-{e - 1}-token", w)


def test_many_failures_in_a_row(pool):
    for i in range(50):
        with pytest.raises(WorkerError):
            pool.apply(failing_f, {i % len(pool)}, x=Box())
    assert_pool_works(pool)


def test_base_exception_subclass_from_worker(pool):
    class Abort(BaseException):
        pass

    last = len(pool) - 1

    def f():
        if sp.worker_index() == last:
            raise Abort("stop")
        return 1

    with pytest.raises(Abort):
        pool.apply(f)
    assert_pool_works(pool)


# --------------------------------------------------------------------------- #
# copying fails                                                                #
# --------------------------------------------------------------------------- #
class CopyError(Exception):
    pass


class Uncopyable:
    """Refuses both ways of copying it to a worker: a deep copy (a ThreadPool's) and a pickle (MPI's)."""

    def __deepcopy__(self, memo):
        raise CopyError("cannot copy me")

    def __reduce_ex__(self, protocol):
        raise CopyError("cannot pickle me")


class CopiesOnce:
    def __init__(self):
        self.copies = 0

    def __deepcopy__(self, memo):
        self.copies += 1
        if self.copies > 1:
            raise CopyError("only one copy")
        return CopiesOnce()


def _copy_failure(excinfo):
    """A failed deep copy surfaces as the copier's exception or as a TypeError caused by it."""
    e = excinfo.value
    assert isinstance(e, CopyError) or isinstance(e.__cause__, CopyError), repr(e)


def test_push_uncopyable(pool):
    with pytest.raises((CopyError, TypeError)) as ei:
        pool.push(Uncopyable())
    _copy_failure(ei)
    del ei
    assert_pool_works(pool)


@pytest.mark.same_process("the caller makes one deep copy per worker; MPI pickles once for all ranks")
def test_push_fails_half_way(pool):
    obj = CopiesOnce()
    if len(pool) == 1:
        with pool.push(obj) as ro:  # the one copy succeeds
            assert pool.apply(lambda x: (type(x) is CopiesOnce, x is obj), x=ro) == [(True, False)]
        assert obj.copies == 1
    else:
        with pytest.raises((CopyError, TypeError)) as ei:
            pool.push(obj)
        _copy_failure(ei)
        del ei
    assert_pool_works(pool)  # no partially pushed object left behind


def test_uncopyable_plain_argument(pool):
    arg = Uncopyable()
    if len(pool) == 1:
        # one worker: arguments are passed as they are, nothing is copied
        assert pool.apply(lambda a: a is arg, arg) == [True]
        assert pool.apply_only(lambda a: a is arg, 0, arg) is True
    else:
        calls = []
        with pytest.raises((CopyError, TypeError)) as ei:
            pool.apply(lambda a: calls.append(1), arg)
        _copy_failure(ei)
        assert calls == []  # refused before anything ran
        del ei
    assert_pool_works(pool)


# --------------------------------------------------------------------------- #
# the pool used inside a function it runs                                      #
# --------------------------------------------------------------------------- #
REENTRANT_CALLS = {
    "apply": lambda p: p.apply(sp.worker_index),
    "apply_only": lambda p: p.apply_only(sp.worker_index, 0),
    "map": lambda p: p.map(abs, [1, 2]),
    "push": lambda p: p.push(Box()),
    "scatter_list": lambda p: p.scatter_list([1, 2]),
    "close": lambda p: p.close(),
}


@pytest.mark.parametrize("where", ["worker-0", "every-worker"])
@pytest.mark.parametrize("name", list(REENTRANT_CALLS))
def test_pool_used_inside_its_own_function(pool, name, where):
    # worker 0 runs in the caller's thread (and on MPI in the caller's process); with every worker, worker 0's
    # error is the one raised
    def inner():
        REENTRANT_CALLS[name](pool)

    with pytest.raises(sp.ReentrantCallError):
        if where == "worker-0":
            pool.apply_only(inner, 0)
        else:
            pool.apply(inner)
    assert not pool.closed
    assert_pool_works(pool)
