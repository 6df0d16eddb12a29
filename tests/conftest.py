"""Shared fixtures for the scatterpool test suite.

The ``pool`` fixture runs every contract test on each kind of pool from the same
test code: ``DummyPool`` and ``ThreadPool`` with 1, 2, 3 and 7 workers (7 is more
workers than the CI machine has cores) in a plain run, and ``MPIPool`` on all
ranks of the launch in a run started with ``--scatterpool-pool=mpi`` under

    mpiexec -n K python -m scatterpool.mpi -m pytest tests/test_pools.py ... --scatterpool-pool=mpi

(``tests/mpi/test_mpi_contract.py`` starts those runs).  Each fixture pool is
checked for leaked remote objects (on every worker) and closed at teardown.

Markers:

* ``same_process(reason)``: a check that only holds when the workers share the
  caller's process (object identity with the caller's objects, shared memory,
  ThreadPool-only behaviour); skipped on MPIPool with its reason.
* ``distribution``: checks of which worker gets which part (scatter_list,
  scatter_array, map chunks, apply order, apply_only per worker); the MPI runs
  at 4 ranks and more run only these.
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
# objects the tests send to workers (module level: importable by name on      #
# every worker, MPI ranks included)                                            #
# --------------------------------------------------------------------------- #
class Box:
    """A mutable, weak-referenceable object with nested state."""

    def __init__(self, items=None):
        self.items = [] if items is None else items


def identity(x):
    return x


# --------------------------------------------------------------------------- #
# pools                                                                        #
# --------------------------------------------------------------------------- #
HAS_THREADPOOL = hasattr(sp, "ThreadPool")
NO_THREADPOOL = "scatterpool.ThreadPool is not available in this build"
THREAD_COUNTS = (1, 2, 3, 7)
POOL_OPTION = "--scatterpool-pool"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        POOL_OPTION,
        choices=("local", "mpi"),
        default="local",
        help="the pools the contract tests run on: 'local' (DummyPool and ThreadPools, the default) or 'mpi' "
        "(MPIPool on every rank; start pytest under `mpiexec -n K python -m scatterpool.mpi -m pytest`)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "same_process(reason): holds only when the workers share the caller's process; skipped on MPIPool",
    )
    config.addinivalue_line(
        "markers", "distribution: which worker gets which part; the only checks of the MPI runs at 4 ranks and more"
    )


def on_mpi(config: pytest.Config) -> bool:
    return config.getoption(POOL_OPTION) == "mpi"


def mpi_size() -> int:
    from mpi4py import MPI

    return MPI.COMM_WORLD.Get_size()


def make_pool(spec: tuple[str, int | None], seed: int = 0):
    """Build a pool from a spec ``("dummy", None)``, ``("thread", n)`` or ``("mpi", n)``."""
    kind, n = spec
    if kind == "dummy":
        return sp.DummyPool(seed=seed)
    if kind == "mpi":
        from scatterpool.mpi import MPIPool

        return MPIPool(n, seed=seed)
    return sp.ThreadPool(n, seed=seed)


def is_mpi(pool) -> bool:
    return hasattr(pool, "_worker_registry_sizes")


def registry_size(pool) -> int:
    """The number of remote objects currently alive in ``pool`` (in the caller's process).

    This is the single place that knows how a pool exposes its registry, so a
    change in the implementation's introspection hook is a one-line fix here.
    """
    return int(pool._registry_size())


def worker_registry_sizes(pool) -> list[int]:
    """The number of remote objects each worker holds: the caller's registry, and on MPI every rank's."""
    if is_mpi(pool):
        return [int(n) for n in pool._worker_registry_sizes()]
    return [registry_size(pool)]


def assert_no_leak(pool, expected: int = 0) -> None:
    """Collect garbage, then check that ``pool`` holds ``expected`` remote objects (on MPI: on every rank)."""
    gc.collect()
    n = registry_size(pool)
    assert n == expected, f"{pool!r} holds {n} remote objects, expected {expected}"
    if is_mpi(pool):
        sizes = worker_registry_sizes(pool)
        assert sizes == [expected] * len(pool), f"the workers of {pool!r} hold {sizes} remote objects"


def _pool_param(spec, id_, needs_threads):
    marks = [pytest.mark.skipif(not HAS_THREADPOOL, reason=NO_THREADPOOL)] if needs_threads else []
    return pytest.param(spec, id=id_, marks=marks)


LOCAL_POOL_SPECS = [_pool_param(("dummy", None), "DummyPool", False)] + [
    _pool_param(("thread", n), f"ThreadPool-{n}", True) for n in THREAD_COUNTS
]
THREAD_POOL_SPECS = [_pool_param(("thread", n), f"ThreadPool-{n}", True) for n in THREAD_COUNTS]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # The pools a contract test runs on: chosen here rather than by fixture
    # params, because they depend on the command line.
    if "pool_spec" in metafunc.fixturenames:
        if on_mpi(metafunc.config):
            k = mpi_size()
            specs = [pytest.param(("mpi", k), id=f"MPIPool-{k}")]
        else:
            specs = LOCAL_POOL_SPECS
        metafunc.parametrize("pool_spec", specs)
    if "thread_pool_spec" in metafunc.fixturenames:
        metafunc.parametrize("thread_pool_spec", THREAD_POOL_SPECS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not on_mpi(config):
        return
    # Under mpiexec only the tests on the `pool` run: the others test nothing
    # about MPIPool and run in the plain run already.
    kept, dropped = [], []
    for item in items:
        uses_pool = "pool_spec" in getattr(item, "fixturenames", ())
        (kept if uses_pool else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    for item in items:
        marker = item.get_closest_marker("same_process")
        if marker is not None:
            reason = marker.args[0] if marker.args else marker.kwargs["reason"]
            item.add_marker(pytest.mark.skip(reason=f"MPIPool, workers in other processes: {reason}"))


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
            p.close()  # closing twice is allowed
        self.pools.clear()


def _checked_pool(factory):
    p = factory()
    assert registry_size(p) == 0
    yield p
    # Teardown: nothing the test created may still live in the pool (handles in
    # reference cycles are collected first).  A pool the test closed itself is
    # exempt: closing frees everything, which is tested separately.
    if not p.closed:
        assert_no_leak(p)


@pytest.fixture
def pool_spec(request):
    """The spec of the pool under test: ``("dummy", None)``, ``("thread", n)`` or ``("mpi", n)``."""
    return request.param


@pytest.fixture
def pool_factory(pool_spec):
    """Makes further pools of the same kind as ``pool`` (e.g. to compare seeds)."""
    f = _Factory(pool_spec)
    yield f
    f.close_all()


@pytest.fixture
def pool(pool_factory):
    """A fresh pool of every kind; checked for leaks (on every worker) and closed at teardown."""
    yield from _checked_pool(pool_factory)


@pytest.fixture
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
