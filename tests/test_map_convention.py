"""The map-pool convention: libraries that take any object with ``map(f, iterable)``.

SciPy's ``workers=pool.map``, emcee's and dynesty's ``pool=``, schwimmbad:
they call ``map`` with an iterator or generator, expect a list in input order,
and close the pool with ``close()`` or ``with``. Contract tests (``pool``
fixture): they run on every pool.
"""

from __future__ import annotations

import numpy as np
import pytest

scipy_optimize = pytest.importorskip("scipy.optimize", reason="SciPy comes with the test extra")
scipy_integrate = pytest.importorskip("scipy.integrate", reason="SciPy comes with the test extra")


def square(x):
    return x * x


def rosenbrock(x):
    # a Python-level objective, as the users of workers=pool.map write them
    return float(sum(100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(len(x) - 1)))


def smooth(t):
    return np.array([np.exp(-t * t), np.cos(t) ** 2])


def test_map_over_a_generator(pool):
    assert pool.map(square, (i for i in range(11))) == [i * i for i in range(11)]


def test_map_over_an_iterator_and_a_map_object(pool):
    assert pool.map(square, iter([3, 1, 2])) == [9, 1, 4]
    assert pool.map(square, map(int, "4021")) == [16, 0, 4, 1]


def test_map_over_an_empty_iterator(pool):
    assert pool.map(square, iter(())) == []


def test_map_over_fewer_items_than_workers(pool):
    assert pool.map(square, iter([5])) == [25]


def test_differential_evolution_with_workers_pool_map(pool):
    bounds = [(-2.0, 2.0)] * 3
    options = {"seed": 3, "maxiter": 15, "popsize": 6, "tol": 0, "polish": False, "updating": "deferred"}
    serial = scipy_optimize.differential_evolution(rosenbrock, bounds, workers=map, **options)
    pooled = scipy_optimize.differential_evolution(rosenbrock, bounds, workers=pool.map, **options)
    np.testing.assert_array_equal(pooled.x, serial.x)
    assert pooled.fun == serial.fun
    assert pooled.nfev == serial.nfev


def test_quad_vec_with_workers_pool_map(pool):
    serial, _ = scipy_integrate.quad_vec(smooth, 0.0, 3.0, workers=map)
    pooled, pooled_error = scipy_integrate.quad_vec(smooth, 0.0, 3.0, workers=pool.map)
    np.testing.assert_allclose(pooled, serial, rtol=0, atol=1e-13)
    assert pooled_error <= 1e-8


def test_pool_closes_as_map_pools_do(pool_factory):
    with pool_factory() as pool:
        assert pool.map(square, iter(range(3))) == [0, 1, 4]
    assert pool.closed
    pool.close()  # twice is fine
