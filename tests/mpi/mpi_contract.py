"""The contract of DESIGN.md, checked on an MPIPool from inside an MPI launch.

Not collected by a plain ``pytest`` run (the name does not start with
``test_``): ``test_mpi_contract.py`` runs it on rank 0 of

    mpiexec -n K python -m scatterpool.mpi -m pytest tests/mpi/mpi_contract.py

for K = 1, 2, 3, while the other ranks serve the pool. The functions sent to
the workers are defined here (sent by name: the workers import this module,
rank 0's ``sys.path`` goes with the calls), as lambdas and as closures (sent
by value with cloudpickle).
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
import threading
import traceback
import weakref

import numpy as np
import pytest

import scatterpool as sp
from scatterpool.mpi import MPIPool, RemoteError, SendError

VA = sp.VectorArray
DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
SIZES = [0, 1, 2, 5, 103]


# --------------------------------------------------------------------------- #
# helpers (module level: the workers import them by name)                      #
# --------------------------------------------------------------------------- #
class Box:
    def __init__(self, items=None):
        self.items = [] if items is None else items


class Params(sp.Immutable):
    def __init__(self, value):
        super().__init__()
        self.value = value


class Counted(sp.Immutable):
    """An Immutable that counts how often rank 0 pickles it."""

    pickled = 0

    def __init__(self, value):
        super().__init__()
        self.value = value

    def __reduce_ex__(self, protocol):
        if sp.mpi.launched() and _rank() == 0:
            Counted.pickled += 1
        return object.__reduce_ex__(self, protocol)


class NeedsTwo(Exception):
    """An exception whose __init__ needs two arguments: it does not unpickle as itself."""

    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")


def raise_needs_two():
    raise NeedsTwo(1, 2)


class Unpicklable:
    def __reduce__(self):
        raise TypeError("Unpicklable refuses to be pickled")


def _rank():
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_rank()


def identity(x):
    return x


def rank_and_index():
    return _rank(), sp.worker_index()


def offsets(n, k):
    sizes = [len(c) for c in np.array_split(np.arange(n), k)]
    return [0, *np.cumsum(sizes).tolist()]


def rows(n, dim=3, dtype=np.float64):
    a = np.arange(n * dim, dtype=np.float64).reshape(n, dim) + 1.0
    if np.issubdtype(np.dtype(dtype), np.complexfloating):
        a = a - 2j * a
    return np.ascontiguousarray(a.astype(dtype))


def describe(U):
    """What a worker holds after scatter_array: its kind, rows and whether it may be written."""
    if isinstance(U, VA):
        return "VectorArray", U.to_numpy().copy(), U.dtype
    if isinstance(U, np.ndarray):
        return "ndarray", U.copy(), U.dtype
    return type(U).__name__, U.to_numpy().T.copy(), U.to_numpy().dtype


def worker_sizes(pool):
    gc.collect()
    return pool._worker_registry_sizes()


def assert_empty(pool):
    assert worker_sizes(pool) == [0] * len(pool)


@pytest.fixture
def pool():
    p = MPIPool()
    assert_empty(p)
    yield p
    gc.collect()
    if not p.closed:
        assert worker_sizes(p) == [0] * len(p), "the test left remote objects behind"
        p.close()


@pytest.fixture
def K():
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_size()


# --------------------------------------------------------------------------- #
# the launch                                                                   #
# --------------------------------------------------------------------------- #
def test_launched_and_len(pool, K):
    assert sp.mpi.launched()
    assert len(pool) == K
    assert bool(pool) is True
    assert pool.apply(rank_and_index) == [(w, w) for w in range(K)]


def test_expected_size_is_checked(K):
    with pytest.raises(RuntimeError, match="mpiexec -n"):
        MPIPool(K + 1)
    with MPIPool(K) as p:
        assert len(p) == K


def test_several_pools_at_once(K):
    with MPIPool(seed=1) as a, MPIPool(seed=2) as b:
        ra, rb = a.push("a"), b.push("b")
        assert a.apply(identity, x=ra) == ["a"] * K
        assert b.apply(identity, x=rb) == ["b"] * K
        with pytest.raises(ValueError, match="another pool"):
            a.apply(identity, x=rb)
        ra.remove()
        rb.remove()


# --------------------------------------------------------------------------- #
# push                                                                         #
# --------------------------------------------------------------------------- #
def test_push_gives_each_worker_its_own_copy(pool, K):
    obj = Box([1, [2, 3]])
    ro = pool.push(obj)
    assert isinstance(ro, sp.RemoteObject) and not ro.removed
    pool.apply(lambda x: x.items.append(sp.worker_index()), x=ro)
    assert pool.apply(lambda x: x.items, x=ro) == [[1, [2, 3], w] for w in range(K)]
    assert obj.items == [1, [2, 3]]  # rank 0's copy is a copy too
    obj.items.append("later")
    assert pool.apply(lambda x: len(x.items), x=ro) == [3] * K
    pool.apply_only(lambda x: x.items.append("last"), K - 1, x=ro)
    assert pool.apply(lambda x: x.items[-1], x=ro)[-1] == "last"
    ro.remove()


@pytest.mark.parametrize("obj", [42, "text", (1, 2), None, 3.5, {"a": [1]}, [1, 2, 3]], ids=repr)
def test_push_any_value(pool, obj, K):
    with pool.push(obj) as ro:
        assert pool.apply(lambda x: x, x=ro) == [obj] * K


def test_push_big_array_goes_out_of_band(pool, K):
    a = np.arange(400_000, dtype=np.float64).reshape(1000, 400)  # 3.2 MB: sent as a raw buffer
    ro = pool.push({"a": a, "tag": "x"})
    res = pool.apply(lambda d: (float(d["a"].sum()), d["a"].flags.writeable, d["tag"]), d=ro)
    assert res == [(float(a.sum()), True, "x")] * K
    # each worker's array is its own
    pool.apply(lambda d: d["a"].fill(sp.worker_index()), d=ro)
    assert pool.apply(lambda d: float(d["a"][0, 0]), d=ro) == [float(w) for w in range(K)]
    assert a[0, 0] == 0.0 and a[1, 0] == 400.0
    ro.remove()


def test_push_immutable_sent_once_and_counted(pool, K):
    Counted.pickled = 0
    imm = Counted(3)
    ro1 = pool.push(imm)
    ro2 = pool.push(imm)
    assert ro2 is not ro1
    assert Counted.pickled == (1 if K > 1 else 0)
    assert pool._registry_size() == 1
    assert worker_sizes(pool) == [1] * K
    # rank 0 keeps the object itself (not copied), the others the one they unpickled
    assert pool.apply(lambda a, b: (a is b, a.value), a=ro1, b=ro2) == [(True, 3)] * K
    assert pool.apply_only(lambda a: a is imm, 0, a=ro1) is True
    ro1.remove()
    assert worker_sizes(pool) == [1] * K  # still held by ro2
    assert pool.apply(lambda b: b.value, b=ro2) == [3] * K
    ro2.remove()
    assert_empty(pool)


def test_immutable_lives_until_last_handle_and_gc(pool, K):
    imm = Params("x")
    handles = [pool.push(imm) for _ in range(3)]
    for h in handles[:-1]:
        h.remove()
        assert pool.apply(lambda b: b.value, b=handles[-1]) == ["x"] * K
    del h, handles
    assert_empty(pool)
    r1, r2 = pool.push(imm), pool.push(imm)
    del r1
    assert pool.apply(lambda b: b.value, b=r2) == ["x"] * K
    del r2
    assert_empty(pool)


def test_pushed_immutable_as_plain_argument_is_the_pushed_copy(pool, K):
    Counted.pickled = 0
    imm = Counted(9)
    with pool.push(imm) as ro:
        before = Counted.pickled
        same = pool.apply(lambda x, *, y, r: (x is r, y is r), imm, y=imm, r=ro)
        assert same == [(True, True)] * K
        assert pool.map(lambda i, *, y, r: y is r, range(10), y=imm, r=ro) == [True] * 10
        assert pool.apply_only(lambda y, r: y is r, K - 1, y=imm, r=ro) is True
        assert Counted.pickled == before  # not sent again


# --------------------------------------------------------------------------- #
# scatter_array                                                                #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("copy", [True, False], ids=["copy", "nocopy"])
def test_scatter_numpy(pool, K, n, dtype, copy):
    A = rows(n, 4, dtype)
    A0 = A.copy()
    ro = pool.scatter_array(A, copy=copy)
    offs = offsets(n, K)
    got = pool.apply(describe, U=ro)
    for w, (kind, part, dt) in enumerate(got):
        assert kind == "ndarray"
        assert dt == np.dtype(dtype)
        assert np.array_equal(part, A0[offs[w] : offs[w + 1]])
    mine = pool.apply_only(lambda U: U, 0, U=ro)
    if copy or n == 0:
        assert not np.shares_memory(mine, A) or n == 0
    else:
        assert offs[1] == 0 or np.shares_memory(mine, A)
    assert np.array_equal(A, A0)  # a NumPy U is never emptied
    # workers write their own parts
    pool.apply(lambda U: U.fill(7), U=ro)
    if copy:
        assert np.array_equal(A, A0)
    ro.remove()


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("copy", [True, False], ids=["copy", "nocopy"])
def test_scatter_vector_array(pool, K, n, dtype, copy):
    A0 = rows(n, 3, dtype)
    U = VA.from_numpy(A0, copy=True) if n else VA.zeros(0, 3, dtype=dtype)
    ro = pool.scatter_array(U, copy=copy)
    offs = offsets(n, K)
    for w, (kind, part, dt) in enumerate(pool.apply(describe, U=ro)):
        assert kind == "VectorArray"
        assert dt == np.dtype(dtype)
        assert np.array_equal(part, A0[offs[w] : offs[w + 1]])
    if copy:
        assert len(U) == n and np.array_equal(U.to_numpy(), A0)
    else:
        assert len(U) == 0  # emptied
    ro.remove()


def test_scatter_strided_and_fortran_arrays(pool, K):
    base = rows(20, 6)
    for A in (base[::3], base[:, ::2], np.asfortranarray(base), base[::-1]):
        ro = pool.scatter_array(A)
        offs = offsets(len(A), K)
        got = pool.apply(lambda U: U.copy(), U=ro)
        for w in range(K):
            assert np.array_equal(got[w], A[offs[w] : offs[w + 1]])
        ro.remove()
    V = VA.from_numpy(base)[::2]
    ro = pool.scatter_array(V)
    got = np.concatenate(pool.apply(lambda U: U.to_numpy().copy(), U=ro))
    assert np.array_equal(got, base[::2])
    ro.remove()


def test_scatter_pymor_array(pool, K):
    pytest.importorskip("pymor", reason="pyMOR is not installed")
    from pymor.vectorarrays.numpy import NumpyVectorSpace

    A = rows(11, 4)
    space = NumpyVectorSpace(4)
    U = space.from_numpy(A.T)
    ro = pool.scatter_array(U)
    offs = offsets(11, K)
    got = pool.apply(lambda U: (U.space.dim, len(U), U.to_numpy().T.copy()), U=ro)
    for w, (dim, n, part) in enumerate(got):
        assert dim == 4 and n == offs[w + 1] - offs[w]
        assert np.array_equal(part, A[offs[w] : offs[w + 1]])
    assert len(U) == 11
    ro.remove()
    ro = pool.scatter_array(U, copy=False)
    assert len(U) == 0
    assert sum(pool.apply(lambda U: len(U), U=ro)) == 11
    ro.remove()


def test_scatter_array_errors(pool):
    with pytest.raises(TypeError):
        pool.scatter_array(np.ones((3, 2), dtype=np.int64))
    with pytest.raises(TypeError):
        pool.scatter_array(np.ones(3))
    with pytest.raises(TypeError):
        pool.scatter_array([[1.0, 2.0]])
    assert pool.apply(lambda: 1) == [1] * len(pool)


# --------------------------------------------------------------------------- #
# scatter_list                                                                 #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("n", [0, 1, 2, 5, 103])
def test_scatter_list(pool, K, n):
    items = [Box([i]) for i in range(n)]
    ro = pool.scatter_list(items)
    offs = offsets(n, K)
    got = pool.apply(lambda L: (type(L).__name__, [b.items[0] for b in L]), L=ro)
    assert got == [("list", list(range(offs[w], offs[w + 1]))) for w in range(K)]
    ro.remove()
    ro = pool.scatter_list(range(n))  # any iterable
    assert pool.apply(lambda L: L, L=ro) == [list(range(offs[w], offs[w + 1])) for w in range(K)]
    ro.remove()


# --------------------------------------------------------------------------- #
# apply, apply_only, map                                                       #
# --------------------------------------------------------------------------- #
def test_apply_args_kwargs_and_remote(pool, K):
    ro = pool.push({"k": 10})
    res = pool.apply(lambda a, b=0, *, d, c=1: (a, b, c, d["k"], sp.worker_index()), 1, 2, c=3, d=ro)
    assert res == [(1, 2, 3, 10, w) for w in range(K)]
    assert pool.apply(os.getpid) == pool.apply(lambda: os.getpid())
    assert len(set(pool.apply(os.getpid))) == K
    ro.remove()


def test_functions_by_name_by_value_and_closures(pool, K):
    assert pool.apply(rank_and_index) == [(w, w) for w in range(K)]
    scale = 3

    def local(x):
        return x * scale + sp.worker_index()

    assert pool.apply(local, 2) == [6 + w for w in range(K)]
    scale = 4  # a rebound closure variable is seen by the next call
    assert pool.apply(local, 2) == [8 + w for w in range(K)]
    table = [1]

    def reads_list():
        return list(table)

    assert pool.apply(reads_list) == [[1]] * K
    table.append(2)  # changed in place: the function is sent again
    assert pool.apply(reads_list) == [[1, 2]] * K
    # a function that mentions the pool itself (a stand-in on the workers)
    assert pool.apply(lambda: len(pool)) == [K] * K


def test_apply_only(pool, K):
    for w in range(K):
        assert pool.apply_only(rank_and_index, w) == (w, w)
        assert pool.apply_only(lambda x: x + sp.worker_index(), w, 10) == 10 + w
    assert pool.apply_only(rank_and_index, np.int64(K - 1)) == (K - 1, K - 1)


@pytest.mark.parametrize("n", [0, 1, 2, 6, 1000])
def test_map_in_input_order_and_chunks(pool, K, n):
    assert pool.map(lambda x: x * 2, range(n)) == [2 * x for x in range(n)]
    owners = pool.map(lambda x: sp.worker_index(), range(n))
    offs = offsets(n, K)
    assert owners == [w for w in range(K) for _ in range(offs[w], offs[w + 1])]


def test_map_over_sequence_kinds(pool):
    expected = [0, 1, 4, 9, 16]
    for seq in ([0, 1, 2, 3, 4], (0, 1, 2, 3, 4), range(5), np.arange(5), (i for i in range(5))):
        assert [int(v) for v in pool.map(lambda x: x * x, seq)] == expected
    assert pool.map(lambda r: float(r.sum()), np.ones((7, 3))) == [3.0] * 7
    assert pool.map(lambda a, b: a + b, "abc", ["x", "y", "z"]) == ["ax", "by", "cz"]


def test_map_kwargs(pool, K):
    ro = pool.push(100)
    assert pool.map(lambda x, *, base, extra: x + base + extra, range(5), base=ro, extra=1) == [
        101, 102, 103, 104, 105
    ]
    ro.remove()


def test_plain_arguments_are_copies(pool, K):
    box = Box([0])
    res = pool.apply(lambda b: (b.items.append(sp.worker_index()), list(b.items))[1], box)
    # with several workers every worker gets a copy, worker 0 too; with one, the argument itself
    assert res == [[0, w] for w in range(K)]
    assert box.items == ([0, 0] if K == 1 else [0])


def test_worker_index_and_rng(pool, K):
    with pytest.raises(RuntimeError):
        sp.worker_index()
    assert pool.apply(sp.worker_index) == list(range(K))
    draws = pool.apply(lambda: float(sp.worker_rng().random()))
    assert len(set(draws)) == K
    with MPIPool(seed=5) as a, MPIPool(seed=5) as b:
        da = a.apply(lambda: sp.worker_rng().integers(1 << 30, size=3).tolist())
        db = b.apply(lambda: sp.worker_rng().integers(1 << 30, size=3).tolist())
        assert da == db
    # the same streams as a ThreadPool of as many workers with the same seed
    with MPIPool(seed=7) as m, sp.ThreadPool(K, seed=7) as t:
        assert m.apply(lambda: float(sp.worker_rng().random())) == t.apply(lambda: float(sp.worker_rng().random()))


# --------------------------------------------------------------------------- #
# remote objects and the pool's life                                           #
# --------------------------------------------------------------------------- #
def test_remove_twice_context_manager_and_gc(pool, K):
    ro = pool.push([1])
    assert worker_sizes(pool) == [1] * K
    ro.remove()
    ro.remove()
    assert ro.removed
    assert_empty(pool)
    with pytest.raises(ValueError, match="removed"):
        pool.apply(identity, x=ro)
    with pool.push([2]) as ro2:
        assert worker_sizes(pool) == [1] * K
    assert ro2.removed
    try:
        with pool.push([3]) as ro3:
            raise KeyError("boom")
    except KeyError:
        pass
    assert ro3.removed
    ro4 = pool.scatter_array(rows(10))
    del ro4
    assert_empty(pool)
    # a handle in a reference cycle
    holder = {"ro": pool.push([4])}
    holder["self"] = holder
    del holder
    assert_empty(pool)


def test_remote_object_manager(pool, K):
    with sp.RemoteObjectManager() as rom:
        a = rom.manage(pool.push([1]))
        b = rom.manage(pool.scatter_list(range(10)))
        assert worker_sizes(pool) == [2] * K
    assert a.removed and b.removed
    assert_empty(pool)


def test_pool_context_manager_close_and_refusal(K):
    with MPIPool() as p:
        ro = p.push([1])
        ro2 = p.scatter_array(rows(5))
    assert p.closed
    assert p._registry_size() == 0
    p.close()  # twice is fine
    ro.remove()  # a handle of a closed pool may still be removed
    del ro2
    for call in (
        lambda: p.push(1),
        lambda: p.scatter_array(rows(3)),
        lambda: p.scatter_list([1]),
        lambda: p.apply(identity, 1),
        lambda: p.apply_only(identity, 0, 1),
        lambda: p.map(identity, [1]),
    ):
        with pytest.raises(RuntimeError, match="closed"):
            call()
        with pytest.raises(sp.PoolClosedError):
            call()
    # the worker ranks still serve a new pool
    with MPIPool() as q:
        assert q.apply(sp.worker_index) == list(range(K))


def test_garbage_collected_pool_frees_its_objects(K):
    p = MPIPool()
    ro = p.push(list(range(10)))
    uid = p.uid
    del p
    gc.collect()
    ro.remove()
    with MPIPool() as q:  # a new pool works; the old one is gone on every rank
        assert q.uid != uid
        assert q.apply(lambda: 1) == [1] * K


# --------------------------------------------------------------------------- #
# errors: DESIGN.md's table, and the pool keeps working                        #
# --------------------------------------------------------------------------- #
def test_error_table(pool, K):
    with pytest.raises(ValueError, match=r"3, 4"):
        pool.map(identity, [1, 2, 3], [1, 2, 3, 4])
    with pytest.raises(ValueError):
        pool.map(identity)
    with pytest.raises(IndexError, match=rf"0\.\.{K - 1}"):
        pool.apply_only(identity, K, 1)
    with pytest.raises(IndexError):
        pool.apply_only(identity, -1, 1)
    with pytest.raises(TypeError):
        pool.apply_only(identity, "0", 1)
    with pytest.raises(TypeError):
        pool.apply_only(identity, True, 1)
    with MPIPool() as other:
        foreign = other.push(1)
        with pytest.raises(ValueError, match="another pool"):
            pool.apply(identity, x=foreign)
        foreign.remove()
    with pytest.raises(ValueError):
        MPIPool(0)
    assert pool.apply(lambda: 2) == [2] * K


def _raise_on(worker_set, exc_type=ValueError):
    def f():
        w = sp.worker_index()
        if w in worker_set:
            raise exc_type(f"failed on worker {w}")
        return w

    return f


@pytest.mark.parametrize("where", ["last", "all", "zero"])
def test_exception_on_any_rank(pool, K, where):
    failing = {"last": {K - 1}, "all": set(range(K)), "zero": {0}}[where]
    with pytest.raises(ValueError, match=f"failed on worker {min(failing)}") as info:
        pool.apply(_raise_on(failing))
    err = info.value
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    assert f"failed on worker {min(failing)}" in text
    if min(failing) > 0:
        # the remote traceback text names the function that raised
        assert isinstance(err.__cause__, sp.mpi.RemoteTraceback)
        assert "in f" in str(err.__cause__) and "ValueError" in str(err.__cause__)
        assert any(f"rank {min(failing)}" in n for n in err.__notes__)
    others = sorted(failing - {min(failing)})
    for w in others:
        assert any(f"worker {w} also raised ValueError" in n for n in err.__notes__)
    # the pool still works
    assert pool.apply(sp.worker_index) == list(range(K))


def test_exception_types_come_through(pool, K):
    for exc in (KeyError, ZeroDivisionError, RuntimeError, SystemExit):
        with pytest.raises(exc):
            pool.apply_only(_raise_on({K - 1}, exc), K - 1)
    with pytest.raises(KeyError):
        pool.map(lambda x: {}[x], range(5))
    if K > 1:
        with pytest.raises(RemoteError, match="NeedsTwo") as info:
            pool.apply_only(raise_needs_two, K - 1)
        assert "1 and 2" in str(info.value)
    assert pool.apply(lambda: 3) == [3] * K


def test_unpicklable_argument_gives_clear_error(pool, K):
    if K == 1:
        pytest.skip("nothing is pickled on a single rank")
    with pytest.raises(SendError, match="argument 0") as info:
        pool.apply(identity, Unpicklable())
    assert isinstance(info.value, TypeError)
    with pytest.raises(SendError, match="keyword argument 'lock'"):
        pool.apply(lambda lock: 1, lock=threading.Lock())
    with pytest.raises(SendError):
        pool.push(threading.Lock())
    with pytest.raises(SendError, match="item 1"):
        pool.scatter_list([1, threading.Lock(), 3][: max(2, K)])
    with pytest.raises(SendError, match="item"):
        pool.map(identity, [threading.Lock()] * (K + 1))
    # the workers keep serving
    assert pool.apply(sp.worker_index) == list(range(K))
    assert_empty(pool)


def test_unpicklable_result_gives_clear_error(pool, K):
    if K == 1:
        pytest.skip("nothing is pickled on a single rank")
    with pytest.raises(TypeError, match="result on worker"):
        pool.apply_only(lambda: threading.Lock(), K - 1)
    assert pool.apply(sp.worker_index) == list(range(K))


def test_calling_the_pool_from_its_own_function(pool):
    with pytest.raises(RuntimeError):
        pool.apply_only(lambda: pool.apply(identity, 1), 0)
    assert pool.apply(lambda: 1) == [1] * len(pool)


def test_calls_from_several_threads(pool, K):
    results = []

    def run(i):
        for _ in range(20):
            results.append(pool.apply(lambda x: x, i) == [i] * K)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 60


def test_classes_and_results_defined_on_the_fly(pool, K):
    class Local:
        def __init__(self, v):
            self.v = v

    ro = pool.push(Local(5))
    got = pool.apply(lambda o: o, o=ro)
    assert all(isinstance(o, Local) and o.v == 5 for o in got)
    ro.remove()


def test_registry_stays_in_step_under_many_objects(pool, K):
    handles = [pool.push(i) for i in range(50)]
    handles += [pool.scatter_list(range(i)) for i in range(20)]
    del handles[::2]
    gc.collect()
    assert worker_sizes(pool) == [35] * K
    del handles
    assert_empty(pool)


def test_sys_path_follows_rank_0(pool, K, tmp_path):
    (tmp_path / "sp_mpi_helper_mod.py").write_text("def triple(x):\n    return 3 * x\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import sp_mpi_helper_mod

        assert pool.apply(sp_mpi_helper_mod.triple, 2) == [6] * K
    finally:
        sys.path.remove(str(tmp_path))


def test_weakref_to_pool_objects(pool):
    # a pool can be weakly referenced (pyMOR keeps weak references to pools)
    assert weakref.ref(pool)() is pool


def test_pymor_immutable_object_is_sent_once(pool, K):
    pytest.importorskip("pymor", reason="pyMOR is not installed")
    from pymor.vectorarrays.numpy import NumpyVectorSpace

    space = NumpyVectorSpace(5)  # an ImmutableObject, with a string uid
    r1 = pool.push(space)
    r2 = pool.push(space)
    assert pool._registry_size() == 1 and worker_sizes(pool) == [1] * K
    assert pool.apply(lambda a, b, c: (a is b, b is c, a.dim), space, b=r1, c=r2) == [(True, True, 5)] * K
    r1.remove()
    r2.remove()
    assert_empty(pool)


def test_push_big_pickle_goes_by_broadcast(pool, K):
    big = {"rows": [list(range(1000, 1100)) for _ in range(5000)], "box": Box([1])}  # a pickle of more than 1 MB
    assert len(pickle.dumps(big)) > (1 << 20)
    ro = pool.push(big)
    got = pool.apply(lambda d: (len(d["rows"]), sum(d["rows"][-1]), d["box"].items), d=ro)
    assert got == [(5000, sum(range(1000, 1100)), [1])] * K
    ro.remove()
