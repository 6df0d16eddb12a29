"""The contract every pool keeps, run on every pool from the same code.

The ``pool`` fixture (conftest.py) gives DummyPool and ThreadPools here, and an
MPIPool when pytest runs under mpiexec with ``--scatterpool-pool=mpi``: the
functions sent to the workers are module-level (imported there by name) or
lambdas and closures (sent by value). Checks that need the workers in the
caller's process are marked ``same_process``.
"""

from __future__ import annotations

import gc
import itertools
import sys
import types
import uuid
import weakref

import numpy as np
import pytest

import scatterpool as sp
from conftest import Box, assert_no_leak, identity, registry_size

VA = sp.VectorArray


# --------------------------------------------------------------------------- #
# helpers                                                                      #
# --------------------------------------------------------------------------- #
class Params(sp.Immutable):
    def __init__(self, value):
        super().__init__()
        self.value = value


class NoCopy(sp.Immutable):
    """An Immutable that fails loudly if anybody copies or pickles it."""

    def __init__(self, value):
        super().__init__()
        self.value = value

    def __copy__(self):
        raise AssertionError("an Immutable was copied")

    def __deepcopy__(self, memo):
        raise AssertionError("an Immutable was deep-copied")

    def __reduce_ex__(self, protocol):
        raise AssertionError("an Immutable was pickled")


def _make_pymor_standin():
    """A class that looks like pyMOR's ``pymor.core.base.ImmutableObject``."""
    counter = itertools.count()
    prefix = f"{uuid.uuid4()}_"

    class ImmutableObject:
        # as pyMOR's BasicObject: a lazily made string uid, a session UUID4 and a counter
        @property
        def uid(self):
            try:
                return self.__dict__["_uid"]
            except KeyError:
                self.__dict__["_uid"] = prefix + str(next(counter))
                return self.__dict__["_uid"]

    ImmutableObject.__module__ = "pymor.core.base"
    ImmutableObject.__qualname__ = "ImmutableObject"
    return ImmutableObject


PymorImmutableObject = _make_pymor_standin()


class PymorModel(PymorImmutableObject):
    """A user's subclass of (the stand-in for) pyMOR's ImmutableObject; never to be copied."""

    def __init__(self, value):
        self.value = value

    def __deepcopy__(self, memo):
        raise AssertionError("a pyMOR ImmutableObject was deep-copied")

    def __copy__(self):
        raise AssertionError("a pyMOR ImmutableObject was copied")


class _OtherImmutableObject:
    pass


_OtherImmutableObject.__name__ = _OtherImmutableObject.__qualname__ = "ImmutableObject"
_OtherImmutableObject.__module__ = "otherlib.base"


@pytest.fixture
def pymor_standin(monkeypatch):
    """Make ``pymor.core.base.ImmutableObject`` importable as the stand-in (pyMOR not installed)."""
    if "pymor.core.base" not in sys.modules:
        pymor = types.ModuleType("pymor")
        core = types.ModuleType("pymor.core")
        base = types.ModuleType("pymor.core.base")
        pymor.__path__ = []
        core.__path__ = []
        pymor.core = core
        core.base = base
        base.ImmutableObject = PymorImmutableObject
        monkeypatch.setitem(sys.modules, "pymor", pymor)
        monkeypatch.setitem(sys.modules, "pymor.core", core)
        monkeypatch.setitem(sys.modules, "pymor.core.base", base)
    return PymorImmutableObject


def offsets(n, k):
    """Independent oracle for the even split: numpy.array_split's chunk boundaries."""
    sizes = [len(c) for c in np.array_split(np.arange(n), k)]
    return [0, *np.cumsum(sizes).tolist()]


def chunk_of(n, k):
    """chunk_of(n, k)[j] is the worker whose chunk holds item j."""
    offs = offsets(n, k)
    return [w for w in range(k) for _ in range(offs[w], offs[w + 1])]


def rows(n, dim=3, dtype=np.float64):
    a = np.arange(n * dim, dtype=np.float64).reshape(n, dim) + 1.0
    if np.issubdtype(np.dtype(dtype), np.complexfloating):
        a = a - 2j * a
    return np.ascontiguousarray(a.astype(dtype))


def scribble():
    junk = [np.full(1 << k, -7.0) for k in range(4, 20)]
    del junk
    gc.collect()


# Weak references to the workers' own objects, kept where the workers run (a
# module global of this module in each worker's process), so that a test can
# ask every worker, MPI ranks included, whether its objects were freed.
_WATCHED: dict[tuple[str, int], list[weakref.ref]] = {}


def _watch(*, x, key):
    objects = x if type(x) is list else [x]  # a scattered list: its items (a list has no weak references)
    _WATCHED[key, sp.worker_index()] = [weakref.ref(o) for o in objects]
    return len(objects)


def _count_alive(*, key):
    gc.collect()
    return sum(r() is not None for r in _WATCHED[key, sp.worker_index()])


class WorkerObjects:
    """What each worker holds for a RemoteObject, watched by weak references on the workers."""

    def __init__(self, pool, ro):
        self.key = uuid.uuid4().hex
        self.watched = pool.apply(_watch, x=ro, key=self.key)

    def alive(self, pool):
        """How many of the watched objects live on each worker; asked through ``pool`` (any open pool of the
        same kind and size: the one that held them may be closed)."""
        return pool.apply(_count_alive, key=self.key)

    def assert_alive(self, pool):
        assert self.alive(pool) == self.watched

    def assert_freed(self, pool):
        assert self.alive(pool) == [0] * len(self.watched)


# --------------------------------------------------------------------------- #
# len and bool                                                                 #
# --------------------------------------------------------------------------- #
def test_len_and_bool(pool, pool_spec):
    kind, n = pool_spec
    if kind == "dummy":
        assert isinstance(pool, sp.DummyPool)
        assert len(pool) == 1
        assert bool(pool) is False
        assert not pool
    else:
        assert type(pool).__name__ == {"thread": "ThreadPool", "mpi": "MPIPool"}[kind]
        assert len(pool) == n
        assert bool(pool) is True
    assert isinstance(pool, sp.WorkerPool)


def test_module_level_dummy_pool():
    p = sp.dummy_pool
    assert isinstance(p, sp.DummyPool)
    assert len(p) == 1 and not p
    before = registry_size(p)
    with p.push(Box([1])) as ro:
        assert p.apply(lambda x: x.items, x=ro) == [[1]]
    assert_no_leak(p, before)


# --------------------------------------------------------------------------- #
# push: a deep copy per worker                                                 #
# --------------------------------------------------------------------------- #
def test_push_returns_live_remote_object(pool):
    ro = pool.push(Box([1]))
    assert isinstance(ro, sp.RemoteObject)
    assert ro.removed is False
    assert registry_size(pool) > 0
    ro.remove()
    assert ro.removed is True
    assert_no_leak(pool)


def test_push_gives_each_worker_a_deep_copy(pool):
    obj = Box([1, [2, 3]])
    ro = pool.push(obj)
    copies = pool.apply(identity, x=ro)
    assert len(copies) == len(pool)
    assert len({id(c) for c in copies}) == len(pool)
    for c in copies:
        assert isinstance(c, Box)
        assert c is not obj
        assert c.items == [1, [2, 3]]
        assert c.items is not obj.items
        assert c.items[1] is not obj.items[1]
    for a, b in itertools.combinations(copies, 2):
        assert a.items is not b.items and a.items[1] is not b.items[1]
    del copies
    ro.remove()


def test_push_worker_mutations_are_private(pool):
    obj = Box()
    ro = pool.push(obj)
    pool.apply(lambda x: x.items.append(sp.worker_index()), x=ro)
    n = len(pool)
    assert pool.apply(lambda x: list(x.items), x=ro) == [[i] for i in range(n)]
    assert obj.items == []
    # the caller's later changes are not seen either
    obj.items.append("caller")
    assert pool.apply(lambda x: list(x.items), x=ro) == [[i] for i in range(n)]
    # a change on one worker only
    pool.apply_only(lambda x: x.items.append("last"), n - 1, x=ro)
    seen = pool.apply(lambda x: list(x.items), x=ro)
    assert seen[:-1] == [[i] for i in range(n - 1)]
    assert seen[-1] == [n - 1, "last"]
    ro.remove()


@pytest.mark.parametrize("obj", [42, "text", (1, 2), None, 3.5, {"a": [1]}, [1, 2, 3]], ids=repr)
def test_push_any_value(pool, obj):
    with pool.push(obj) as ro:
        assert pool.apply(lambda x: x, x=ro) == [obj] * len(pool)


# --------------------------------------------------------------------------- #
# immutables: not copied, sent once, counted handles                           #
# --------------------------------------------------------------------------- #
def test_immutable_uid():
    a, b, c = Params(1), Params(1), sp.Immutable()
    for x in (a, b, c):
        assert isinstance(x.uid, int)
    assert len({a.uid, b.uid, c.uid}) == 3
    assert a.uid == a.uid


@pytest.mark.same_process("identity with the caller's object; NoCopy refuses the pickle that a send needs")
def test_push_immutable_is_not_copied(pool):
    imm = NoCopy(5)
    ro = pool.push(imm)
    assert pool.apply(lambda x: x is imm, x=ro) == [True] * len(pool)
    ro.remove()


def test_push_same_immutable_twice_is_sent_once_and_counted(pool):
    imm = Params(3)
    ro1 = pool.push(imm)
    size = registry_size(pool)
    assert size > 0
    ro2 = pool.push(imm)
    assert ro2 is not ro1
    assert registry_size(pool) == size  # the copy already there is reused
    assert pool.apply(lambda a, b: (a is b, a.value), a=ro1, b=ro2) == [(True, 3)] * len(pool)
    ro1.remove()
    assert ro1.removed and not ro2.removed
    assert registry_size(pool) == size  # still held by ro2
    assert pool.apply(lambda b: b.value, b=ro2) == [3] * len(pool)
    ro2.remove()
    assert_no_leak(pool)


def test_immutable_lives_until_last_handle(pool):
    imm = Params("x")
    ref = weakref.ref(imm)
    handles = [pool.push(imm) for _ in range(3)]
    del imm
    for h in handles[:-1]:
        h.remove()
        gc.collect()
        assert ref() is not None
        assert pool.apply(lambda b: b.value, b=handles[-1]) == ["x"] * len(pool)
    handles[-1].remove()
    gc.collect()
    assert ref() is None
    assert_no_leak(pool)


def test_immutable_handles_removed_by_gc(pool):
    imm = Params(7)
    ro1, ro2 = pool.push(imm), pool.push(imm)
    del ro1
    gc.collect()
    assert pool.apply(lambda b: b.value, b=ro2) == [7] * len(pool)
    del ro2
    assert_no_leak(pool)


def test_distinct_immutables_are_distinct(pool):
    a, b = Params(1), Params(1)
    ra, rb = pool.push(a), pool.push(b)
    assert pool.apply(lambda x, y: (x is y, x.value, y.value), x=ra, y=rb) == [(False, 1, 1)] * len(pool)
    ra.remove()
    assert pool.apply(lambda y: y.value, y=rb) == [1] * len(pool)
    rb.remove()


def test_pushed_immutable_as_plain_argument_is_the_pushed_copy(pool):
    imm = Params(9)
    with pool.push(imm) as ro:
        assert pool.apply(lambda x, *, y, r: (x is r, y is r), imm, y=imm, r=ro) == [(True, True)] * len(pool)
        assert pool.map(lambda i, *, y, r: y is r, range(10), y=imm, r=ro) == [True] * 10
        assert pool.apply_only(lambda y, r: y is r, len(pool) - 1, y=imm, r=ro) is True


@pytest.mark.same_process("a pushed immutable is the caller's object itself; NoCopy refuses the pickle a send needs")
def test_pushed_immutable_as_plain_argument_is_not_copied(pool):
    imm = NoCopy(9)
    with pool.push(imm):
        assert pool.apply(lambda x, *, y: (x is imm, y is imm), imm, y=imm) == [(True, True)] * len(pool)
        assert pool.map(lambda i, *, y: y is imm, range(10), y=imm) == [True] * 10
        assert pool.apply_only(lambda y: y is imm, len(pool) - 1, y=imm) is True


@pytest.mark.same_process("identity with the caller's object; NoCopy refuses the pickle that a send needs")
def test_unpushed_immutable_as_plain_argument_is_shared(pool):
    imm = NoCopy(9)
    assert pool.apply(lambda x, *, y: (x is imm, y is imm), imm, y=imm) == [(True, True)] * len(pool)


def test_pymor_immutable_object_is_recognised(pool, pymor_standin):
    model = PymorModel(11)
    assert type(model).__mro__[1].__module__ == "pymor.core.base"
    ro1 = pool.push(model)
    size = registry_size(pool)
    ro2 = pool.push(model)
    assert registry_size(pool) == size
    assert pool.apply(lambda a, b: (a is b, a.value), a=ro1, b=ro2) == [(True, 11)] * len(pool)
    ro1.remove()
    assert pool.apply(lambda b: b.value, b=ro2) == [11] * len(pool)
    ro2.remove()
    assert_no_leak(pool)


@pytest.mark.same_process("identity with the caller's object")
def test_pymor_immutable_object_is_not_copied(pool, pymor_standin):
    model = PymorModel(11)
    with pool.push(model) as ro:
        assert pool.apply(lambda a: a is model, a=ro) == [True] * len(pool)
    # as a plain argument it is shared, not copied
    assert pool.apply(lambda x, *, y: (x is model, y is model), model, y=model) == [(True, True)] * len(pool)


@pytest.mark.same_process("the pyMOR stand-in module exists only in the caller's process")
def test_pymor_immutable_base_class_itself(pool, pymor_standin):
    obj = pymor_standin()
    ro = pool.push(obj)
    assert pool.apply(lambda a: a is obj, a=ro) == [True] * len(pool)
    ro.remove()


def test_class_named_immutableobject_elsewhere_is_copied(pool):
    obj = _OtherImmutableObject()
    with pool.push(obj) as ro:
        assert pool.apply(lambda a: a is obj, a=ro) == [False] * len(pool)


# --------------------------------------------------------------------------- #
# scatter_array                                                                #
# --------------------------------------------------------------------------- #
# sizes 0, 1, fewer items than workers, more; every dtype, but not every dtype at every size
SCATTER_CASES = [
    pytest.param(n, dtype, id=f"{n}-{np.dtype(dtype).name}")
    for n in (0, 1, 2, 5, 103)
    for dtype in (np.float64, np.complex64)
] + [pytest.param(103, dtype, id=f"103-{np.dtype(dtype).name}") for dtype in (np.float32, np.complex128)]


@pytest.mark.distribution
@pytest.mark.parametrize("n, dtype", SCATTER_CASES)
def test_scatter_numpy_no_copy(pool, n, dtype):
    A = rows(n, 3, dtype)
    before = A.copy()
    ro = pool.scatter_array(A, copy=False)
    assert isinstance(ro, sp.RemoteObject)
    offs = offsets(n, len(pool))
    parts = pool.apply(lambda U: U, U=ro)
    for i, p in enumerate(parts):
        assert type(p) is np.ndarray
        assert p.dtype == np.dtype(dtype)
        assert p.shape == (offs[i + 1] - offs[i], 3)
        np.testing.assert_array_equal(p, before[offs[i] : offs[i + 1]])
    # a NumPy U cannot be emptied and is left alone
    assert A.shape == (n, 3)
    np.testing.assert_array_equal(A, before)
    # the parts outlive the caller's array
    del A, parts
    gc.collect()
    scribble()
    got = pool.apply(lambda U: U.copy(), U=ro)
    for i, p in enumerate(got):
        np.testing.assert_array_equal(p, before[offs[i] : offs[i + 1]])
    ro.remove()


@pytest.mark.distribution
@pytest.mark.parametrize("n, dtype", SCATTER_CASES)
def test_scatter_numpy_copy(pool, n, dtype):
    A = rows(n, 3, dtype)
    before = A.copy()
    ro = pool.scatter_array(A, copy=True)
    offs = offsets(n, len(pool))
    parts = pool.apply(lambda U: U, U=ro)
    for i, p in enumerate(parts):
        assert type(p) is np.ndarray
        assert p.dtype == np.dtype(dtype)
        assert p.shape == (offs[i + 1] - offs[i], 3)
        np.testing.assert_array_equal(p, before[offs[i] : offs[i + 1]])
        assert not np.shares_memory(p, A)
    for p, q in itertools.combinations(parts, 2):
        assert not np.shares_memory(p, q)
    np.testing.assert_array_equal(A, before)
    A[...] = 0
    for i, p in enumerate(pool.apply(lambda U: U, U=ro)):
        np.testing.assert_array_equal(p, before[offs[i] : offs[i + 1]])
    ro.remove()


@pytest.mark.same_process("the workers' parts are views of the caller's memory")
@pytest.mark.parametrize("n", [1, 2, 5, 103])
def test_scatter_without_copy_parts_are_views_of_U(pool, n):
    A = rows(n)
    with pool.scatter_array(A, copy=False) as ro:
        for p in pool.apply(lambda U: U, U=ro):
            assert len(p) == 0 or np.shares_memory(p, A)
    U = VA.from_numpy(rows(n))
    B = U.to_numpy()
    with pool.scatter_array(U, copy=False) as ro:
        for p in pool.apply(lambda V: V.to_numpy(), V=ro):
            assert len(p) == 0 or np.shares_memory(p, B)


def test_scatter_array_default_is_copy(pool):
    A = rows(20)
    with pool.scatter_array(A) as ro:
        for p in pool.apply(lambda U: U, U=ro):
            assert not np.shares_memory(p, A)
    assert A.shape == (20, 3)


@pytest.mark.distribution
@pytest.mark.parametrize("n, dtype", SCATTER_CASES)
def test_scatter_vector_array_no_copy(pool, n, dtype):
    expected = rows(n, 3, dtype)
    U = VA.from_numpy(expected.copy())
    B = U.to_numpy()  # a handle on U's buffer
    ro = pool.scatter_array(U, copy=False)
    # U is emptied, its space (dim, dtype) kept
    assert len(U) == 0
    assert U.dim == 3 and U.dtype == np.dtype(dtype)
    offs = offsets(n, len(pool))
    parts = pool.apply(lambda V: V, V=ro)
    for i, p in enumerate(parts):
        assert isinstance(p, VA)
        assert len(p) == offs[i + 1] - offs[i]
        assert p.dim == 3 and p.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(p.to_numpy(), expected[offs[i] : offs[i + 1]])
    # the buffer lives as long as any part does
    del U, B, parts
    gc.collect()
    scribble()
    got = pool.apply(lambda V: V.to_numpy().copy(), V=ro)
    for i, p in enumerate(got):
        np.testing.assert_array_equal(p.reshape(-1, 3), expected[offs[i] : offs[i + 1]])
    ro.remove()


@pytest.mark.distribution
@pytest.mark.parametrize("n, dtype", SCATTER_CASES)
def test_scatter_vector_array_copy(pool, n, dtype):
    expected = rows(n, 3, dtype)
    U = VA.from_numpy(expected.copy())
    B = U.to_numpy()
    ro = pool.scatter_array(U, copy=True)
    assert len(U) == n
    np.testing.assert_array_equal(U.to_numpy(), expected)
    offs = offsets(n, len(pool))
    parts = pool.apply(lambda V: V, V=ro)
    for i, p in enumerate(parts):
        assert isinstance(p, VA)
        assert len(p) == offs[i + 1] - offs[i] and p.dim == 3 and p.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(p.to_numpy(), expected[offs[i] : offs[i + 1]])
        assert not np.shares_memory(p.to_numpy(), B)
    for p, q in itertools.combinations(parts, 2):
        assert not np.shares_memory(p.to_numpy(), q.to_numpy())
    B[...] = 0
    for i, p in enumerate(pool.apply(lambda V: V.to_numpy().copy(), V=ro)):
        np.testing.assert_array_equal(p.reshape(-1, 3), expected[offs[i] : offs[i + 1]])
    ro.remove()


def test_scatter_vector_array_worker_writes_stay_on_worker(pool):
    U = VA.from_numpy(rows(30))
    with pool.scatter_array(U, copy=True) as ro:
        pool.apply(lambda V: np.asarray(V).__setitem__(Ellipsis, sp.worker_index()), V=ro)
        offs = offsets(30, len(pool))
        got = pool.apply(lambda V: V.to_numpy().copy(), V=ro)
        for i, p in enumerate(got):
            assert p.shape[0] == offs[i + 1] - offs[i]
            assert (p == i).all()
        np.testing.assert_array_equal(U.to_numpy(), rows(30))


# --------------------------------------------------------------------------- #
# scatter_list                                                                 #
# --------------------------------------------------------------------------- #
@pytest.mark.distribution
@pytest.mark.parametrize("n", [0, 1, 2, 5, 103])
def test_scatter_list(pool, n):
    items = [(i, f"item{i}") for i in range(n)]
    original = list(items)
    ro = pool.scatter_list(items)
    assert isinstance(ro, sp.RemoteObject)
    offs = offsets(n, len(pool))
    parts = pool.apply(lambda L: L, L=ro)
    for i, p in enumerate(parts):
        assert type(p) is list
        assert p == original[offs[i] : offs[i + 1]]
        assert p is not items
    # workers own their lists: appending there does not touch the caller's
    pool.apply(lambda L: L.append("extra"), L=ro)
    assert items == original
    assert pool.apply(lambda L: L[-1], L=ro) == ["extra"] * len(pool)
    ro.remove()


# --------------------------------------------------------------------------- #
# apply, apply_only, map                                                       #
# --------------------------------------------------------------------------- #
@pytest.mark.distribution
def test_apply_results_in_worker_order(pool):
    res = pool.apply(sp.worker_index)
    assert type(res) is list
    assert res == list(range(len(pool)))


def test_apply_args_and_remote_kwargs(pool):
    n = len(pool)
    d = pool.push({"a": 1})
    per_worker = pool.scatter_list([f"w{i}" for i in range(n)])
    res = pool.apply(
        lambda p, q, *, d, w, r=None: (p, q, d["a"], w, r), 1, "two", d=d, w=per_worker, r=3.5
    )
    assert res == [(1, "two", 1, [f"w{i}"], 3.5) for i in range(n)]
    d.remove()
    per_worker.remove()


def test_apply_without_arguments(pool):
    assert pool.apply(lambda: "ok") == ["ok"] * len(pool)


@pytest.mark.distribution
def test_apply_only(pool):
    n = len(pool)
    per_worker = pool.scatter_list(list(range(n)))
    for w in range(n):
        res = pool.apply_only(lambda a, *, L, k: (sp.worker_index(), a, L, k), w, "a", L=per_worker, k=7)
        assert res == (w, "a", [w], 7)
    assert pool.apply_only(sp.worker_index, np.int64(n - 1)) == n - 1
    per_worker.remove()


MAP_LENGTHS = [0, 1, 2, 6, 1000, "fewer", "equal", "one-more"]


def map_length(pool, n_items):
    k = len(pool)
    return {"fewer": max(k - 1, 0), "equal": k, "one-more": k + 1}.get(n_items, n_items)


@pytest.mark.distribution
@pytest.mark.parametrize("n_items", MAP_LENGTHS)
def test_map_results_in_input_order(pool, n_items):
    n = map_length(pool, n_items)
    res = pool.map(lambda x: (x * x, sp.worker_index()), range(n))
    assert type(res) is list
    assert [r for r, _ in res] == [x * x for x in range(n)]
    assert [w for _, w in res] == chunk_of(n, len(pool))


@pytest.mark.same_process("counts the calls in a list of the caller's")
@pytest.mark.parametrize("n_items", MAP_LENGTHS)
def test_map_calls_f_once_per_item(pool, n_items):
    n = map_length(pool, n_items)
    calls = []
    pool.map(calls.append, range(n))
    assert sorted(calls) == list(range(n))


@pytest.mark.distribution
def test_map_runs_one_even_chunk_per_worker(pool):
    k = len(pool)
    for n in (0, 1, k - 1, k, k + 1, 2 * k + 1, 50):
        assert pool.map(lambda _: sp.worker_index(), range(n)) == chunk_of(n, k)


@pytest.mark.parametrize(
    "seq",
    [list(range(17)), tuple(range(17)), range(17), np.arange(17), np.arange(17.0), range(3, 40, 2)],
    ids=["list", "tuple", "range", "ndarray-int", "ndarray-float", "range-step"],
)
def test_map_over_sequence_kinds(pool, seq):
    res = pool.map(lambda x: x * 2 + 1, seq)
    assert list(res) == [x * 2 + 1 for x in seq]


def test_map_over_rows_of_2d_array(pool):
    A = rows(23, 4)
    res = pool.map(lambda r: float(r.sum()), A)
    assert res == [float(r.sum()) for r in A]


@pytest.mark.distribution
def test_map_multiple_sequences(pool):
    a = list(range(25))
    b = tuple(f"s{i}" for i in range(25))
    c = np.arange(25) * 10
    res = pool.map(lambda x, y, z: (x, y, int(z)), a, b, c)
    assert res == [(x, y, int(z)) for x, y, z in zip(a, b, c, strict=True)]


@pytest.mark.distribution
def test_map_remote_and_plain_kwargs(pool):
    k = len(pool)
    per_worker = pool.scatter_list(list(range(k)))
    d = pool.push({"offset": 1000})
    n = 40
    res = pool.map(lambda j, *, L, D, c: (j, L[0], j + D["offset"] + c), range(n), L=per_worker, D=d, c=5)
    owner = chunk_of(n, k)
    assert res == [(j, owner[j], j + 1005) for j in range(n)]
    per_worker.remove()
    d.remove()


# --------------------------------------------------------------------------- #
# plain arguments: passed as is on DummyPool, per-worker copies on ThreadPool  #
# --------------------------------------------------------------------------- #
def test_mutable_plain_args_are_not_shared_between_workers(pool):
    arg, kw = {"seen": []}, {"seen": []}

    def f(a, *, k):
        a["seen"].append(sp.worker_index())
        k["seen"].append(sp.worker_index())
        return a, k

    res = pool.apply(f, arg, k=kw)
    n = len(pool)
    for i, (a, k) in enumerate(res):
        assert a["seen"] == [i], "a worker saw another worker's change of a positional argument"
        assert k["seen"] == [i], "a worker saw another worker's change of a keyword argument"
    assert len({id(a) for a, _ in res}) == n
    assert len({id(a["seen"]) for a, _ in res}) == n  # deep, not shallow, copies
    # what the caller's own objects see: tests/test_arguments.py


@pytest.mark.distribution
def test_mutable_plain_args_in_map_are_not_shared_between_chunks(pool):
    n, k = 60, len(pool)
    owner = chunk_of(n, k)

    def f(x, *, acc):
        acc.append(x)
        return list(acc)

    res = pool.map(f, range(n), acc=[])
    for j, seen in enumerate(res):
        assert seen[-1] == j
        assert all(owner[x] == owner[j] for x in seen), f"item {j} saw items of another worker: {seen}"
        assert seen == sorted(seen)


def test_mutable_plain_args_in_apply_only(pool):
    arg = Box()
    res = pool.apply_only(lambda b: (b.items.append(1), b)[1], len(pool) - 1, arg)
    assert res.items == [1]


def test_writable_numpy_args_are_per_worker(pool):
    a = np.zeros(100)

    def f(x):
        x[0] = sp.worker_index() + 1
        return x

    res = pool.apply(f, a)
    for i, x in enumerate(res):
        assert x[0] == i + 1
    for x, y in itertools.combinations(res, 2):
        assert not np.shares_memory(x, y)


@pytest.mark.same_process("shared memory between the workers and the caller")
def test_readonly_numpy_args_are_shared(pool):
    a = np.arange(1000.0)
    a.flags.writeable = False
    for x, y in pool.apply(lambda x, *, y: (x, y), a, y=a):
        assert np.shares_memory(x, a) and np.shares_memory(y, a)
    assert pool.map(lambda i, *, y: np.shares_memory(y, a), range(10), y=a) == [True] * 10
    assert np.shares_memory(pool.apply_only(lambda y: y, len(pool) - 1, y=a), a)


@pytest.mark.same_process("identity with the caller's objects")
def test_immutable_builtins_are_shared(pool):
    t = (1, "a", 2.5, frozenset({1, 2}), (3, 4))
    s = "x" * 1000
    big = 10**40
    res = pool.apply(lambda *args, **kw: (args, kw), t, s, big, key=t)
    for args, kw in res:
        assert args[0] is t and args[1] is s and args[2] is big and kw["key"] is t


# --------------------------------------------------------------------------- #
# worker_index and worker_rng                                                  #
# --------------------------------------------------------------------------- #
@pytest.mark.distribution
def test_worker_index(pool):
    n = len(pool)
    assert pool.apply(sp.worker_index) == list(range(n))
    for w in range(n):
        assert pool.apply_only(sp.worker_index, w) == w


def test_worker_index_outside_worker_raises(pool):
    with pytest.raises(RuntimeError):
        sp.worker_index()
    pool.apply(sp.worker_index)
    with pytest.raises(RuntimeError):  # the caller is no worker once the call is over
        sp.worker_index()


def _draw():
    rng = sp.worker_rng()
    assert isinstance(rng, np.random.Generator)
    return rng.random(8)


def test_worker_rng_differs_between_workers(pool):
    draws = pool.apply(_draw)
    assert len(draws) == len(pool)
    for a, b in itertools.combinations(draws, 2):
        assert not np.array_equal(a, b)


def test_worker_rng_is_reproducible(pool, pool_factory):
    first = [pool.apply(_draw), pool.apply(_draw), pool.apply_only(_draw, len(pool) - 1)]
    again = pool_factory(seed=0)
    second = [again.apply(_draw), again.apply(_draw), again.apply_only(_draw, len(again) - 1)]
    np.testing.assert_array_equal(np.array(first[0]), np.array(second[0]))
    np.testing.assert_array_equal(np.array(first[1]), np.array(second[1]))
    np.testing.assert_array_equal(first[2], second[2])
    assert not np.array_equal(np.array(first[0]), np.array(first[1]))  # the stream advances
    other = pool_factory(seed=1)
    assert not np.array_equal(np.array(other.apply(_draw)), np.array(first[0]))


# --------------------------------------------------------------------------- #
# RemoteObject                                                                 #
# --------------------------------------------------------------------------- #
def test_remove_frees_and_may_be_called_twice(pool):
    ro = pool.push(Box([1]))
    held = WorkerObjects(pool, ro)
    held.assert_alive(pool)
    ro.remove()
    assert ro.removed
    held.assert_freed(pool)
    ro.remove()
    assert ro.removed
    assert_no_leak(pool)


def test_remote_object_context_manager(pool):
    with pool.push(Box([2])) as ro:
        assert isinstance(ro, sp.RemoteObject)
        assert not ro.removed
        held = WorkerObjects(pool, ro)
        assert pool.apply(lambda x: x.items, x=ro) == [[2]] * len(pool)
    assert ro.removed
    held.assert_freed(pool)
    assert_no_leak(pool)


def test_remote_object_context_manager_on_exception(pool):
    with pytest.raises(ZeroDivisionError), pool.push(Box()) as ro:
        1 / 0  # noqa: B018  (the exception leaving the with block is the point)
    assert ro.removed
    assert_no_leak(pool)


def test_garbage_collected_handle_is_removed(pool):
    ro = pool.push(Box([3]))
    held = WorkerObjects(pool, ro)
    assert registry_size(pool) > 0
    del ro
    gc.collect()
    assert registry_size(pool) == 0
    held.assert_freed(pool)


def test_handle_in_reference_cycle_is_removed(pool):
    holder = Box()
    holder.items.append(holder)
    holder.ro = pool.scatter_list(list(range(10)))
    del holder
    assert_no_leak(pool)


class TaggedHandle(sp.RemoteObject):
    """A subclass of the handle type, as a library's own handle type is (scatterpool.pymor's)."""


def test_a_handle_adopted_by_a_subclass_is_taken_and_freed_once(pool):
    fresh = pool.push(Box([4]))
    ro = TaggedHandle.adopt(fresh)
    assert type(ro) is TaggedHandle and isinstance(ro, sp.RemoteObject)
    assert fresh.removed and not ro.removed  # the object moved: not copied, not counted twice
    assert registry_size(pool) == 1
    del fresh
    gc.collect()
    assert registry_size(pool) == 1
    assert pool.apply(lambda x, y=None: x.items + y.items, ro, y=ro) == [[4, 4]] * len(pool)
    assert pool.map(lambda i, x=None: x.items[0] + i, [0, 1], x=ro) == [4, 5]
    ro.tag = "a subclass instance has a __dict__"
    ro.myself = ro
    with ro:
        pass
    assert ro.removed
    ro.remove()
    del ro
    gc.collect()
    assert_no_leak(pool)


def test_a_handle_subclass_is_not_made_directly():
    with pytest.raises(TypeError, match="made by a pool"):
        TaggedHandle()
    with pytest.raises(TypeError, match="takes a RemoteObject"):
        TaggedHandle.adopt(object())


def test_gc_of_handle_while_f_runs_on_dummy_pool():
    # On a DummyPool f runs in the caller's thread, so the collection inside f
    # removes the handle during the call. (On ThreadPool this runs in a
    # subprocess in test_threads.py: it could deadlock.)
    with sp.DummyPool() as pool:
        holder = Box()
        holder.items.append(holder)
        holder.ro = pool.push(Box([1]))
        held = WorkerObjects(pool, holder.ro)
        del holder
        gc.disable()
        try:
            assert pool.apply(lambda: gc.collect() > 0) == [True]
        finally:
            gc.enable()
        assert_no_leak(pool)
        held.assert_freed(pool)


def test_dropping_pool_then_handle_frees_objects(pool_factory):
    p = pool_factory()
    ro = p.push(Box([1]))
    held = WorkerObjects(p, ro)
    del p
    gc.collect()
    probe = pool_factory()
    held.assert_alive(probe)  # the handle still needs them
    del ro
    gc.collect()
    held.assert_freed(probe)


def test_remote_object_manager(pool):
    imm = Params(1)
    with sp.RemoteObjectManager() as m:
        ro1 = pool.push(Box())
        assert m.manage(ro1) is ro1
        ro2 = m.manage(pool.scatter_list([1, 2, 3]))
        ro3 = m.manage(pool.push(imm))
        ro4 = m.manage(pool.push(imm))
        ro5 = m.manage(pool.scatter_array(rows(5)))
        handles = [ro1, ro2, ro3, ro4, ro5]
        assert not any(h.removed for h in handles)
        assert pool.apply(lambda a, b: a is b, a=ro3, b=ro4) == [True] * len(pool)
    assert all(h.removed for h in handles)
    assert_no_leak(pool)


def test_remote_object_manager_remove_objects(pool):
    m = sp.RemoteObjectManager()
    first = [m.manage(pool.push(Box())) for _ in range(3)]
    m.remove_objects()
    assert all(h.removed for h in first)
    assert_no_leak(pool)
    second = m.manage(pool.push(Box()))  # the manager is usable again
    first[0].remove()  # removing twice is fine
    m.remove_objects()
    assert second.removed
    assert_no_leak(pool)


def test_remote_object_manager_on_exception_and_removed_handles(pool):
    with pytest.raises(KeyError), sp.RemoteObjectManager() as m:
        a = m.manage(pool.push(Box()))
        b = m.manage(pool.push(Box()))
        b.remove()  # already removed when the block ends: no error
        raise KeyError("boom")
    assert a.removed and b.removed
    assert_no_leak(pool)


# --------------------------------------------------------------------------- #
# the pool's own lifetime                                                      #
# --------------------------------------------------------------------------- #
def test_pool_context_manager(pool_factory):
    p = pool_factory()
    with p as q:
        assert q is p
        ro = q.push(Box([1]))
        held = WorkerObjects(q, ro)
        assert q.apply(lambda x: x.items, x=ro) == [[1]] * len(q)
    with pytest.raises(sp.PoolClosedError):
        p.apply(sp.worker_index)
    held.assert_freed(pool_factory())
    del ro
    gc.collect()  # a handle of a closed pool goes away quietly


def test_close_frees_every_remote_object(pool_factory):
    p = pool_factory()
    box = p.push(Box([1]))
    lst = p.scatter_list([Box([i]) for i in range(7)])
    imm = Params(5)
    imm_handles = [p.push(imm), p.push(imm)]
    del imm
    arr = p.scatter_array(rows(9), copy=True)
    held = [WorkerObjects(p, h) for h in (box, lst, imm_handles[0], arr)]
    for h in held:
        h.assert_alive(p)
    p.close()
    probe = pool_factory()
    for h in held:
        h.assert_freed(probe)
    # handles of a closed pool may still be removed or dropped without noise
    box.remove()
    del box, lst, imm_handles, arr
    gc.collect()


def test_closed_pool_refuses_work(pool_factory):
    p = pool_factory()
    p.close()
    with pytest.raises(sp.PoolClosedError, match="closed"):
        p.apply(sp.worker_index)
