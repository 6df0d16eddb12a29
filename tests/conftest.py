"""Shared fixtures for the scatterpool test suite.

The ``pool`` fixture runs every contract test on each kind of pool from the same
test code: ``DummyPool`` and ``ThreadPool`` with 1, 2, 3 and 7 workers (7 is more
workers than the CI machine has cores).  Each fixture pool is checked for leaked
remote objects and closed at teardown.
"""

from __future__ import annotations

import gc
import os

import pytest
from hypothesis import HealthCheck, settings

import scatterpool as sp

# --------------------------------------------------------------------------- #
# hypothesis: a fast, reproducible profile for CI, a thorough one on demand    #
# --------------------------------------------------------------------------- #
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_finish(session: pytest.Session) -> None:
    # What import and collection made lives for the whole session: moving it out
    # of the collector's sight makes the many gc.collect() calls of the leak
    # checks cheap (milliseconds instead of tens of milliseconds each).
    gc.collect()
    gc.freeze()


# --------------------------------------------------------------------------- #
# pools                                                                        #
# --------------------------------------------------------------------------- #
HAS_THREADPOOL = hasattr(sp, "ThreadPool")
NO_THREADPOOL = "scatterpool.ThreadPool is not implemented yet (issue 3)"
THREAD_COUNTS = (1, 2, 3, 7)


def make_pool(spec: tuple[str, int | None], seed: int = 0):
    """Build a pool from a spec ``("dummy", None)`` or ``("thread", n)``."""
    kind, n = spec
    if kind == "dummy":
        return sp.DummyPool(seed=seed)
    return sp.ThreadPool(n, seed=seed)


def registry_size(pool) -> int:
    """The number of remote objects currently alive in ``pool``.

    This is the single place that knows how a pool exposes its registry, so a
    change in the implementation's introspection hook is a one-line fix here.
    """
    return int(pool._registry_size())


def assert_no_leak(pool, expected: int = 0) -> None:
    """Collect garbage, then check that ``pool`` holds ``expected`` remote objects."""
    gc.collect()
    n = registry_size(pool)
    assert n == expected, f"{pool!r} holds {n} remote objects, expected {expected}"


def _pool_param(spec, id_, needs_threads):
    marks = [pytest.mark.skipif(not HAS_THREADPOOL, reason=NO_THREADPOOL)] if needs_threads else []
    return pytest.param(spec, id=id_, marks=marks)


POOL_SPECS = [_pool_param(("dummy", None), "DummyPool", False)] + [
    _pool_param(("thread", n), f"ThreadPool-{n}", True) for n in THREAD_COUNTS
]
THREAD_POOL_SPECS = [_pool_param(("thread", n), f"ThreadPool-{n}", True) for n in THREAD_COUNTS]


class _Factory:
    """Creates pools of one spec and closes every one of them at teardown."""

    def __init__(self, spec):
        self.spec = spec
        self.pools = []

    def __call__(self, seed: int = 0):
        p = make_pool(self.spec, seed=seed)
        self.pools.append(p)
        return p

    def close_all(self):
        for p in self.pools:
            try:
                p.close()
            except RuntimeError:  # closed by the test already
                pass
        self.pools.clear()


def _checked_pool(factory):
    p = factory()
    assert registry_size(p) == 0
    yield p
    # Teardown: nothing the test created may still live in the pool (handles in
    # reference cycles are collected first).  A pool the test closed itself is
    # exempt: closing frees everything, which is tested separately.
    try:
        n = registry_size(p)
        if n:
            gc.collect()
            n = registry_size(p)
    except RuntimeError:
        n = 0
    assert n == 0, f"test leaked {n} remote objects in {p!r}"


@pytest.fixture(params=POOL_SPECS)
def pool_spec(request):
    """The spec of the pool under test: ``("dummy", None)`` or ``("thread", n)``."""
    return request.param


@pytest.fixture
def pool_factory(pool_spec):
    """Makes further pools of the same kind as ``pool`` (e.g. to compare seeds)."""
    f = _Factory(pool_spec)
    yield f
    f.close_all()


@pytest.fixture
def pool(pool_factory):
    """A fresh pool of every kind; checked for leaks and closed at teardown."""
    yield from _checked_pool(pool_factory)


@pytest.fixture(params=THREAD_POOL_SPECS)
def thread_pool_spec(request):
    return request.param


@pytest.fixture
def thread_pool_factory(thread_pool_spec):
    f = _Factory(thread_pool_spec)
    yield f
    f.close_all()


@pytest.fixture
def thread_pool(thread_pool_factory):
    """A fresh ``ThreadPool`` of 1, 2, 3 and 7 workers; checked and closed at teardown."""
    yield from _checked_pool(thread_pool_factory)
