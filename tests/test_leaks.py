"""Nothing leaks: many push/remove cycles (and calls, scatters, errors) leave memory flat.

Memory is the resident set size from /proc/self/statm, with a generous bound.
Reference counts of objects that the pool shares instead of copying are exact checks.
"""

from __future__ import annotations

import gc
import os
import sys

import numpy as np
import pytest

import scatterpool as sp
from conftest import HAS_THREADPOOL, NO_THREADPOOL, assert_no_leak, make_pool

MB = 1 << 20
BOUND = 20 * MB
PAGE = os.sysconf("SC_PAGE_SIZE")

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm")


def rss() -> int:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


@pytest.fixture(
    params=[
        pytest.param(("dummy", None), id="DummyPool"),
        pytest.param(
            ("thread", 2), id="ThreadPool-2", marks=pytest.mark.skipif(not HAS_THREADPOOL, reason=NO_THREADPOOL)
        ),
    ]
)
def lpool(request):
    p = make_pool(request.param)
    yield p
    assert_no_leak(p)
    p.close()


def flat(run, warmup, cycles):
    """Run ``warmup`` cycles, then ``cycles`` more; return the RSS growth of the second part."""
    run(warmup)
    before = rss()
    run(cycles)
    return rss() - before


class Tag(sp.Immutable):
    pass


def test_push_remove_100k(lpool):
    obj = {"v": np.zeros(128), "tag": "x"}  # ~1.2 kB per copy: 100k leaked copies would be >100 MB

    def run(n):
        push = lpool.push
        for _ in range(n):
            push(obj).remove()

    growth = flat(run, 5_000, 100_000)
    assert growth < BOUND, f"RSS grew by {growth / MB:.1f} MB over 100k push/remove cycles"
    assert_no_leak(lpool)


def test_push_gc(lpool):
    obj = {"v": np.zeros(128)}

    def run(n):
        push = lpool.push
        for _ in range(n):
            push(obj)  # the handle dies at once and is removed by garbage collection

    growth = flat(run, 3_000, 30_000)
    assert growth < BOUND, f"RSS grew by {growth / MB:.1f} MB"
    assert_no_leak(lpool)


def test_push_immutable_100k(lpool):
    imm = Tag()
    refs = sys.getrefcount(imm)

    def run(n):
        push = lpool.push
        for _ in range(n):
            a = push(imm)
            b = push(imm)
            a.remove()
            b.remove()

    growth = flat(run, 5_000, 50_000)
    assert growth < BOUND, f"RSS grew by {growth / MB:.1f} MB"
    assert sys.getrefcount(imm) == refs
    assert_no_leak(lpool)


def test_calls_with_remote_and_shared_args(lpool):
    shared = np.arange(10.0)
    shared.flags.writeable = False
    refs = sys.getrefcount(shared)
    ro = lpool.push({"k": 1})

    def run(n):
        apply, apply_only = lpool.apply, lpool.apply_only
        for _ in range(n):
            apply(lambda a, *, x: x["k"], shared, x=ro)
            apply_only(lambda a, *, x: x["k"], 0, shared, x=ro)

    growth = flat(run, 500, 5_000)
    assert growth < BOUND, f"RSS grew by {growth / MB:.1f} MB"
    res = lpool.map(lambda j, *, x, s: x["k"] + j, range(5_000), x=ro, s=shared)
    assert res == [1 + j for j in range(5_000)]
    del res
    ro.remove()
    gc.collect()
    assert sys.getrefcount(shared) == refs


def test_scatter_cycles(lpool):
    A = np.ones((1000, 16))
    B = np.ones((100, 100))  # 80 kB: 2k leaked copies would be 160 MB
    U = sp.VectorArray.from_numpy(np.ones((1000, 16)))
    refs = sys.getrefcount(A)
    lst = list(range(100))

    def run(n):
        for _ in range(n):
            lpool.scatter_array(A, copy=False).remove()
            lpool.scatter_array(B, copy=True).remove()
            lpool.scatter_list(lst).remove()
            V = U.copy()
            lpool.scatter_array(V, copy=False).remove()

    growth = flat(run, 200, 2_000)
    assert growth < BOUND, f"RSS grew by {growth / MB:.1f} MB"
    gc.collect()
    assert sys.getrefcount(A) == refs
    assert_no_leak(lpool)


def test_failing_calls(lpool):
    def f(*, x):
        raise ValueError("expected")

    ro = lpool.push({"v": np.zeros(64)})

    def run(n):
        for _ in range(n):
            try:
                lpool.apply(f, x=ro)
            except ValueError:
                pass

    growth = flat(run, 200, 2_000)
    assert growth < BOUND, f"RSS grew by {growth / MB:.1f} MB"
    ro.remove()
    assert_no_leak(lpool)


def test_vector_array_views():
    a = np.ones((100, 8))
    refs = sys.getrefcount(a)
    U = sp.VectorArray.from_numpy(a)

    def run(n, U=U):
        for i in range(n):
            V = U[i % 50 : i % 50 + 10]
            np.asarray(V)
            U[[1, 2]].to_numpy()

    growth = flat(run, 3_000, 30_000)
    assert growth < BOUND, f"RSS grew by {growth / MB:.1f} MB"
    del U, run  # run holds U as a default
    gc.collect()
    assert sys.getrefcount(a) == refs
