"""How the arguments of apply, apply_only and map reach the workers, on every pool.

The rule: arguments behave as if sent with the call. A RemoteObject argument
(positional or keyword) arrives as that worker's object. On a pool of several
workers every worker running the call, worker 0 included, gets its own copy
of any other mutable argument, all of one worker's copies made as one object
graph (aliasing between arguments is kept, as a pickle of the call keeps it),
and the caller's object is never handed to a worker; immutable values,
immutables and read-only NumPy arrays may be shared. DummyPool and any pool of
one worker pass arguments as they are.

Checks of object identity within one process (what is shared, not copied)
are marked ``same_process``: skipped on pools whose workers live in other
processes (conftest.py).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import scatterpool as sp

IN_PROCESS_REASON = "object identity between the caller and its workers cannot hold across processes"


def several_workers(pool) -> bool:
    return len(pool) > 1


# --------------------------------------------------------------------------- #
# one call's arguments are one object graph                                    #
# --------------------------------------------------------------------------- #
def append_to_cache(model, cache):
    cache.append(1)
    return len(model["cache"])


def test_keyword_arguments_share_their_common_parts(pool):
    cache = []
    assert pool.apply(append_to_cache, model={"cache": cache}, cache=cache) == [1] * len(pool)


def test_positional_and_keyword_arguments_share_their_common_parts(pool):
    cache = []
    assert pool.apply(append_to_cache, {"cache": cache}, cache=cache) == [1] * len(pool)
    fresh = []
    assert pool.apply_only(append_to_cache, len(pool) - 1, {"cache": fresh}, cache=fresh) == 1


def test_the_same_object_twice_arrives_as_one_object(pool):
    x = [1, 2]
    assert pool.apply(lambda a, b: a is b, x, b=x) == [True] * len(pool)
    assert pool.apply_only(lambda a, b: a is b, 0, x, x) is True


def test_map_keyword_arguments_share_their_common_parts(pool):
    cache = []
    model = {"cache": cache}
    assert pool.map(lambda i, model, cache: model["cache"] is cache, range(7), model=model, cache=cache) == [True] * 7


# --------------------------------------------------------------------------- #
# every worker its own copy; the caller's object stays the caller's            #
# --------------------------------------------------------------------------- #
def append_worker_index(log):
    log.append(sp.worker_index())
    return list(log)


def test_apply_gives_every_worker_its_own_copy(pool):
    log = []
    results = pool.apply(append_worker_index, log)
    if several_workers(pool):
        assert results == [[w] for w in range(len(pool))]
        assert log == []  # worker 0 too got a copy
    else:
        assert results == [[0]]
        assert log == [0]  # passed as it is


def test_keyword_argument_copied_for_worker_zero_too(pool):
    log = []
    pool.apply(append_worker_index, log=log)
    assert log == ([] if several_workers(pool) else [0])


@pytest.mark.parametrize("where", ["first", "last"])
def test_apply_only_gives_its_worker_a_copy(pool, where):
    worker = 0 if where == "first" else len(pool) - 1
    log = []
    assert pool.apply_only(append_worker_index, worker, log) == [worker]
    assert log == ([] if several_workers(pool) else [worker])


def test_map_copies_its_keyword_arguments_for_every_worker(pool):
    log = []
    pool.map(lambda i, log: log.append(i), range(10), log=log)
    assert log == ([] if several_workers(pool) else list(range(10)))


def test_map_copies_its_items_for_every_worker(pool):
    items = [[] for _ in range(6)]
    pool.map(lambda item: item.append(1), items)
    assert items == ([[]] * 6 if several_workers(pool) else [[1]] * 6)


@pytest.mark.same_process(IN_PROCESS_REASON)
def test_one_worker_pool_passes_arguments_as_they_are(pool):
    x = {"a": [1]}
    expected = [not several_workers(pool)] * len(pool)
    assert pool.apply(lambda a, b: (a is x, b is x), x, b=x) == [(e, e) for e in expected]


# --------------------------------------------------------------------------- #
# what is shared, not copied                                                   #
# --------------------------------------------------------------------------- #
class ReadOnlySubclass(np.ndarray):
    pass


def read_only_arrays(tmp_path):
    A = np.arange(12.0).reshape(3, 4)
    A.flags.writeable = False
    path = tmp_path / "data.bin"
    np.arange(8.0).tofile(path)
    memmap = np.memmap(path, dtype=np.float64, mode="r")
    sub = np.arange(5.0).view(ReadOnlySubclass)
    sub.flags.writeable = False
    return {"ndarray": A, "memmap": memmap, "subclass": sub}


@pytest.mark.same_process(IN_PROCESS_REASON)
@pytest.mark.parametrize("kind", ["ndarray", "memmap", "subclass"])
def test_read_only_arrays_are_shared(pool, tmp_path, kind):
    A = read_only_arrays(tmp_path)[kind]
    assert pool.apply(lambda a, *, b: (a is A, b is A), A, b=A) == [(True, True)] * len(pool)
    assert pool.apply_only(lambda a: a is A, len(pool) - 1, A) is True
    assert pool.map(lambda i, a: a is A, range(5), a=A) == [True] * 5


@pytest.mark.same_process(IN_PROCESS_REASON)
def test_writable_arrays_are_copied_on_several_workers(pool):
    A = np.zeros(4)
    shares = pool.apply(lambda a: np.shares_memory(a, A), A)
    assert shares == [not several_workers(pool)] * len(pool)


@pytest.mark.same_process(IN_PROCESS_REASON)
def test_immutable_inside_a_copied_argument_is_shared(pool):
    class Params(sp.Immutable):
        pass

    p = Params()
    assert pool.apply(lambda d: d["p"] is p, {"p": p}) == [True] * len(pool)


# --------------------------------------------------------------------------- #
# RemoteObject arguments                                                       #
# --------------------------------------------------------------------------- #
def test_positional_remote_object_arrives_as_the_workers_object(pool):
    n = len(pool)
    offsets = sp.even_split(10, n)
    chunks = [list(range(10))[offsets[w] : offsets[w + 1]] for w in range(n)]
    with pool.scatter_list(list(range(10))) as ro:
        assert pool.apply(lambda part: part, ro) == chunks
        assert pool.apply(lambda part, *, same: part == same, ro, same=ro) == [True] * n
        assert pool.apply_only(lambda part: part, n - 1, ro) == chunks[n - 1]


@pytest.mark.parametrize("count", [1, 7, 15, 16, 40])
def test_remote_objects_among_many_arguments_arrive_as_the_workers_objects(pool, count):
    n = len(pool)
    with pool.scatter_list(list(range(n))) as ro:
        positional = [ro if i % 3 == 0 else i for i in range(count)]
        keywords = {f"k{i}": ro if i % 2 == 0 else i for i in range(count)}

        def collect(*args, **kwargs):
            return list(args), kwargs

        def seen_by(w):
            args = [[w] if i % 3 == 0 else i for i in range(count)]
            return args, {f"k{i}": [w] if i % 2 == 0 else i for i in range(count)}

        expected = [seen_by(w) for w in range(n)]
        assert pool.apply(collect, *positional, **keywords) == expected
        assert pool.apply_only(collect, n - 1, *positional, **keywords) == expected[n - 1]


def test_map_takes_a_remote_object_as_a_keyword_only(pool):
    with pool.push([1]) as ro:
        with pytest.raises(TypeError, match="keyword"):
            pool.map(lambda x: x, ro)
        assert pool.map(lambda i, x: x, range(3), x=ro) == [[1]] * 3


def test_remote_object_is_removed_when_its_pool_closes(pool):
    ro = pool.push([1])
    assert ro.removed is False
    pool.close()
    assert ro.removed is True


# --------------------------------------------------------------------------- #
# errors that must stay clear                                                  #
# --------------------------------------------------------------------------- #
class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("no string for this one")


def raise_unprintable():
    raise UnprintableError(sp.worker_index())


def test_unprintable_worker_errors_keep_the_notes(pool):
    with pytest.raises(UnprintableError) as ei:
        pool.apply(raise_unprintable)
    notes = getattr(ei.value, "__notes__", [])
    assert ei.value.args == (0,)
    assert [note.split(":")[0] for note in notes] == [
        f"worker {w} also raised UnprintableError" for w in range(1, len(pool))
    ]


def test_apply_only_names_a_huge_worker_number(pool):
    with pytest.raises(IndexError, match=str(10**30)):
        pool.apply_only(lambda: 1, 10**30)
    with pytest.raises(IndexError, match=str(-(10**30))):
        pool.apply_only(lambda: 1, -(10**30))


def test_push_of_an_object_that_cannot_be_copied_says_so(pool):
    with pytest.raises(TypeError, match=r"lock.* cannot be (copied|sent)") as ei:
        pool.push(threading.Lock())
    assert ei.value.__cause__ is not None
