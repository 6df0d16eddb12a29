"""Checks that only MPIPool has: what crosses process boundaries, and how.

Not collected by a plain ``pytest`` run (the name does not start with
``test_``): ``test_mpi_contract.py`` runs it together with the contract suite
under ``mpiexec -n K python -m scatterpool.mpi -m pytest ... --scatterpool-pool=mpi``,
where the ``pool`` fixture (conftest.py) is an MPIPool of K workers. The
contract itself (what every pool does) is in tests/test_pools.py and
tests/test_errors.py; here: the launch, large pushes by broadcast, pickles
counted, functions and classes sent by value, unpicklable arguments and
results, exceptions that do not unpickle, processes apart.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
import traceback

import numpy as np
import pytest

import scatterpool as sp
from conftest import Box, assert_no_leak, identity, worker_registry_sizes
from scatterpool.mpi import DeliveryError, MPIPool, RemoteError, RemoteTraceback, SendError


# --------------------------------------------------------------------------- #
# helpers (module level: the workers import them by name)                      #
# --------------------------------------------------------------------------- #
class Counted(sp.Immutable):
    """An Immutable that counts how often rank 0 pickles it."""

    pickled = 0

    def __init__(self, value):
        super().__init__()
        self.value = value

    def __reduce_ex__(self, protocol):
        if _rank() == 0:
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


def _unpickled_on_rank_0_only():
    if _rank() != 0:
        raise ValueError("this object refuses to unpickle on a worker rank")
    return "stored"


class StoredOnRank0Only:
    """Pickles everywhere; its unpickling raises on every rank but rank 0."""

    def __reduce__(self):
        return _unpickled_on_rank_0_only, ()


def rank_and_index():
    return _rank(), sp.worker_index()


def _raise_on(worker_set):
    def f():
        w = sp.worker_index()
        if w in worker_set:
            raise ValueError(f"failed on worker {w}")
        return w

    return f


# --------------------------------------------------------------------------- #
# the launch                                                                   #
# --------------------------------------------------------------------------- #
@pytest.mark.distribution
def test_workers_are_the_ranks_in_separate_processes(pool):
    k = len(pool)
    assert sp.mpi.launched()
    assert pool.apply(rank_and_index) == [(w, w) for w in range(k)]
    assert len(set(pool.apply(os.getpid))) == k
    assert pool.apply_only(os.getpid, 0) == os.getpid()


def test_expected_size_is_checked(pool):
    k = len(pool)
    with pytest.raises(RuntimeError, match="mpiexec -n"):
        MPIPool(k + 1)
    with MPIPool(k) as p:
        assert len(p) == k


def test_a_new_pool_after_one_was_dropped(pool):
    p = MPIPool()
    ro = p.push(list(range(10)))
    uid = p.uid
    del p
    ro.remove()
    with MPIPool() as q:  # the old one is gone on every rank, the ranks serve a new one
        assert q.uid != uid
        assert worker_registry_sizes(q) == [0] * len(q)
        assert q.apply(sp.worker_index) == list(range(len(q)))


def test_same_streams_as_a_threadpool_of_as_many_workers(pool):
    with MPIPool(seed=7) as m, sp.ThreadPool(len(m), seed=7) as t:
        assert m.apply(lambda: float(sp.worker_rng().random())) == t.apply(lambda: float(sp.worker_rng().random()))


# --------------------------------------------------------------------------- #
# pushes: pickled once, large ones broadcast                                   #
# --------------------------------------------------------------------------- #
def test_push_big_array_goes_out_of_band(pool):
    k = len(pool)
    a = np.arange(400_000, dtype=np.float64).reshape(1000, 400)  # 3.2 MB: sent as a raw buffer
    ro = pool.push({"a": a, "tag": "x"})
    res = pool.apply(lambda d: (float(d["a"].sum()), d["a"].flags.writeable, d["tag"]), d=ro)
    assert res == [(float(a.sum()), True, "x")] * k
    pool.apply(lambda d: d["a"].fill(sp.worker_index()), d=ro)  # each rank's array is its own
    assert pool.apply(lambda d: float(d["a"][0, 0]), d=ro) == [float(w) for w in range(k)]
    assert a[0, 0] == 0.0 and a[1, 0] == 400.0
    ro.remove()


def test_push_big_pickle_goes_by_broadcast(pool):
    big = {"rows": [list(range(1000, 1100)) for _ in range(5000)], "box": Box([1])}
    assert len(pickle.dumps(big)) > (1 << 20)
    ro = pool.push(big)
    got = pool.apply(lambda d: (len(d["rows"]), sum(d["rows"][-1]), d["box"].items), d=ro)
    assert got == [(5000, sum(range(1000, 1100)), [1])] * len(pool)
    ro.remove()


def test_push_immutable_pickled_once(pool):
    k = len(pool)
    Counted.pickled = 0
    imm = Counted(3)
    ro1, ro2 = pool.push(imm), pool.push(imm)
    assert Counted.pickled == (1 if k > 1 else 0)
    assert worker_registry_sizes(pool) == [1] * k
    assert pool.apply_only(lambda a: a is imm, 0, a=ro1) is True  # rank 0 keeps the object itself
    ro1.remove()
    assert worker_registry_sizes(pool) == [1] * k  # still held by ro2
    ro2.remove()
    assert_no_leak(pool)


def test_pushed_immutable_as_plain_argument_is_not_sent_again(pool):
    Counted.pickled = 0
    imm = Counted(9)
    with pool.push(imm) as ro:
        before = Counted.pickled
        assert pool.apply(lambda x, *, r: x is r, imm, r=ro) == [True] * len(pool)
        assert pool.map(lambda i, *, y, r: y is r, range(10), y=imm, r=ro) == [True] * 10
        assert Counted.pickled == before


@pytest.mark.distribution
def test_registry_stays_in_step_under_many_objects(pool):
    handles = [pool.push(i) for i in range(50)]
    handles += [pool.scatter_list(range(i)) for i in range(20)]
    del handles[::2]
    assert_no_leak(pool, 35)
    del handles
    assert_no_leak(pool)


# --------------------------------------------------------------------------- #
# functions, classes and sys.path sent from rank 0                             #
# --------------------------------------------------------------------------- #
def test_functions_by_name_by_value_and_closures(pool):
    k = len(pool)
    scale = 3

    def local(x):
        return x * scale + sp.worker_index()

    assert pool.apply(local, 2) == [6 + w for w in range(k)]
    scale = 4  # a rebound closure variable is seen by the next call
    assert pool.apply(local, 2) == [8 + w for w in range(k)]
    table = [1]

    def reads_list():
        return list(table)

    assert pool.apply(reads_list) == [[1]] * k
    table.append(2)  # changed in place: the function is sent again
    assert pool.apply(reads_list) == [[1, 2]] * k
    assert pool.apply(lambda: len(pool)) == [k] * k  # the pool itself: a stand-in on the other ranks


def test_classes_defined_on_the_fly(pool):
    class Local:
        def __init__(self, v):
            self.v = v

    with pool.push(Local(5)) as ro:
        got = pool.apply(lambda o: o, o=ro)
    assert all(isinstance(o, Local) and o.v == 5 for o in got)


def test_sys_path_follows_rank_0(pool, tmp_path):
    (tmp_path / "sp_mpi_helper_mod.py").write_text("def triple(x):\n    return 3 * x\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import sp_mpi_helper_mod

        assert pool.apply(sp_mpi_helper_mod.triple, 2) == [6] * len(pool)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("sp_mpi_helper_mod")


def test_calls_from_several_threads_of_rank_0(pool):
    k = len(pool)
    results = []

    def run(i):
        for _ in range(20):
            results.append(pool.apply(identity, i) == [i] * k)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 60


# --------------------------------------------------------------------------- #
# what does not cross: exceptions, arguments and results that do not pickle   #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("where", ["last", "all"])
def test_exception_from_another_rank_carries_its_traceback_text(pool, where):
    k = len(pool)
    failing = {"last": {k - 1}, "all": set(range(k))}[where]
    if k == 1:
        failing = {0}
    with pytest.raises(ValueError, match=f"failed on worker {min(failing)}") as info:
        pool.apply(_raise_on(failing))
    err = info.value
    if min(failing) > 0:
        assert isinstance(err.__cause__, RemoteTraceback)
        assert "in f" in str(err.__cause__) and "ValueError" in str(err.__cause__)
        assert any(f"rank {min(failing)}" in n for n in err.__notes__)
    else:
        assert "in f\n" in "".join(traceback.format_exception(err))
    assert pool.apply(sp.worker_index) == list(range(k))


def test_exception_that_does_not_unpickle_becomes_remote_error(pool):
    k = len(pool)
    if k == 1:
        with pytest.raises(NeedsTwo):  # nothing is pickled on one rank
            pool.apply_only(raise_needs_two, 0)
    else:
        with pytest.raises(RemoteError, match="NeedsTwo") as info:
            pool.apply_only(raise_needs_two, k - 1)
        assert "1 and 2" in str(info.value)
    assert pool.apply(lambda: 3) == [3] * k


def test_unpicklable_argument_gives_send_error(pool):
    k = len(pool)
    if k == 1:
        assert pool.apply(lambda u: type(u).__name__, Unpicklable()) == ["Unpicklable"]  # nothing is pickled
    else:
        with pytest.raises(SendError, match="argument 0") as info:
            pool.apply(identity, Unpicklable())
        assert isinstance(info.value, TypeError)
        with pytest.raises(SendError, match="keyword argument 'lock'"):
            pool.apply(lambda lock: 1, lock=threading.Lock())
        with pytest.raises(SendError, match="item 1"):
            pool.scatter_list([1, threading.Lock(), 3][: max(2, k)])
        with pytest.raises(SendError, match="item"):
            pool.map(identity, [threading.Lock()] * (k + 1))
    with pytest.raises(SendError):
        pool.push(threading.Lock())
    assert pool.apply(sp.worker_index) == list(range(k))
    assert_no_leak(pool)


def test_unpicklable_result_gives_clear_error(pool):
    k = len(pool)
    if k == 1:
        assert type(pool.apply_only(threading.Lock, 0)) is type(threading.Lock())  # nothing is pickled
    else:
        with pytest.raises(TypeError, match="result on worker"):
            pool.apply_only(threading.Lock, k - 1)
    assert pool.apply(sp.worker_index) == list(range(k))


# --------------------------------------------------------------------------- #
# deliveries without a reply: push and scatter_list report at the next command #
# --------------------------------------------------------------------------- #
def test_failed_push_surfaces_at_the_next_call_naming_it(pool):
    k = len(pool)
    h = pool.push(StoredOnRank0Only())
    if k == 1:  # nothing is unpickled on another rank
        assert pool.apply(identity, h) == ["stored"]
    else:
        with pytest.raises(DeliveryError, match=f"push of remote object {h.id} failed on worker 1") as info:
            pool.apply(sp.worker_index)
        assert info.value.failed == ((h.id, "push"),)
        assert "refuses to unpickle on a worker rank" in str(info.value)
        assert "refuses to unpickle on a worker rank" in str(info.value.__cause__)  # the worker's traceback
        with pytest.raises(sp.InvalidRemoteObjectError, match=f"remote object {h.id} cannot be used: its push failed"):
            pool.apply(identity, h)
        assert pool.apply(sp.worker_index) == list(range(k))  # reported once; the pool works on
    h.remove()
    assert_no_leak(pool)


def test_call_with_a_failed_push_before_it_was_reported(pool):
    k = len(pool)
    h = pool.push(StoredOnRank0Only())
    if k == 1:
        assert pool.apply(identity, h) == ["stored"]
    else:
        with pytest.raises(DeliveryError, match=f"push of remote object {h.id}"):
            pool.apply(identity, h)
        with pytest.raises(sp.InvalidRemoteObjectError, match=f"remote object {h.id} cannot be used"):
            pool.map(lambda x, obj: x, [1, 2], obj=h)
    h.remove()
    assert pool.apply(sp.worker_index) == list(range(k))
    assert_no_leak(pool)


def test_failed_scatter_list_surfaces_at_apply_only_on_rank_0(pool):
    k = len(pool)
    L = pool.scatter_list([StoredOnRank0Only() for _ in range(k)])
    if k == 1:
        assert pool.apply_only(len, 0, L) == 1
    else:
        with pytest.raises(DeliveryError, match=f"scatter_list of remote object {L.id} failed on worker 1") as info:
            pool.apply_only(sp.worker_index, 0)
        assert all(f"worker {w} also raised DeliveryError" in "".join(info.value.__notes__) for w in range(2, k))
        assert pool.apply_only(sp.worker_index, k - 1) == k - 1
    L.remove()
    assert_no_leak(pool)


def _interrupted_on_worker_0():
    if sp.worker_index() == 0:
        raise KeyboardInterrupt
    return sp.worker_index()


def test_failed_push_reported_to_an_interrupted_call_is_not_lost(pool):
    k = len(pool)
    h = pool.push(StoredOnRank0Only())
    with pytest.raises(KeyboardInterrupt):
        pool.apply(_interrupted_on_worker_0)  # rank 0 stops before it reads the workers' replies
    if k == 1:
        assert pool.apply(identity, h) == ["stored"]
    else:
        with pytest.raises(DeliveryError, match=f"push of remote object {h.id} failed on worker 1"):
            pool.apply(sp.worker_index)
        assert pool.apply(sp.worker_index) == list(range(k))
    h.remove()
    assert_no_leak(pool)


def test_failed_push_surfaces_at_close(pool):
    k = len(pool)
    other = MPIPool()
    h = other.push(StoredOnRank0Only())
    if k == 1:
        other.close()
    else:
        with pytest.raises(DeliveryError, match=f"push of remote object {h.id} failed on worker 1"):
            other.close()
    assert other.closed and h.removed
    with pytest.raises(sp.PoolClosedError):
        other.apply(sp.worker_index)
    assert pool.apply(sp.worker_index) == list(range(k))


def test_many_pushes_without_a_call_all_arrive(pool):
    k = len(pool)
    handles = [pool.push({"i": i}) for i in range(1000)]
    assert worker_registry_sizes(pool) == [1000] * k
    picked = handles[::100]
    assert pool.apply(lambda *objs: [o["i"] for o in objs], *picked) == [list(range(0, 1000, 100))] * k
    for h in handles:
        h.remove()
    assert_no_leak(pool)
