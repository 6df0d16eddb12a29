"""scatterpool.pymor: pyMOR's own algorithms on scatterpool's pools give what they give serially.

pyMOR takes its serial path when ``bool(pool)`` is False (as for every
DummyPool), so the algorithms run here on truthy pools that count their
calls, and each test checks from the counts that the pool did the work.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymor", reason="pyMOR is not installed: pip install 'scatterpool[pymor]' to run the pyMOR tests")

import pymor.parallel.interface as pymor_interface
from pymor.algorithms.ei import ei_greedy, interpolate_operators
from pymor.algorithms.error import reduction_error_analysis
from pymor.algorithms.greedy import rb_greedy
from pymor.analyticalproblems.burgers import burgers_problem_2d
from pymor.analyticalproblems.thermalblock import thermal_block_problem
from pymor.core.base import ImmutableObject
from pymor.core.logger import set_log_levels
from pymor.discretizers.builtin import discretize_instationary_fv, discretize_stationary_cg
from pymor.operators.numpy import NumpyMatrixOperator
from pymor.parameters.functionals import ExpressionParameterFunctional
from pymor.reductors.coercive import CoerciveRBReductor

import scatterpool as sp
import scatterpool.pymor as spm

set_log_levels({"pymor": "WARN"})  # pyMOR logs every step of its algorithms at INFO


# --------------------------------------------------------------------------- #
# truthy pools that count their calls                                          #
# --------------------------------------------------------------------------- #
def counting(cls):
    class Counting(cls):
        """``cls`` that counts its calls and is truthy (pyMOR's algorithms take the parallel path)."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.calls = Counter()

        def __bool__(self):
            return True

        def push(self, obj, /):
            self.calls["push"] += 1
            return super().push(obj)

        def scatter_array(self, U, /, copy=True):
            self.calls["scatter_array"] += 1
            return super().scatter_array(U, copy=copy)

        def scatter_list(self, l, /):  # noqa: E741
            self.calls["scatter_list"] += 1
            return super().scatter_list(l)

        def apply(self, function, /, *args, **kwargs):
            self.calls["apply"] += 1
            return super().apply(function, *args, **kwargs)

        def apply_only(self, function, worker, /, *args, **kwargs):
            self.calls["apply_only"] += 1
            return super().apply_only(function, worker, *args, **kwargs)

        def map(self, function, /, *seqs, **kwargs):
            self.calls["map"] += 1
            return super().map(function, *seqs, **kwargs)

    Counting.__name__ = f"Counting{cls.__name__}"
    return Counting


CountingDummyPool = counting(spm.DummyPool)
CountingThreadPool = counting(spm.ThreadPool)
CountingPymorPool = counting(spm.PymorPool)

POOLS = {
    "dummy": lambda: CountingDummyPool(),
    "threads2": lambda: CountingThreadPool(2),
    "threads3": lambda: CountingThreadPool(3),
    "wrapped-threads2": lambda: CountingPymorPool(sp.ThreadPool(2)),
}


def registry_size(pool):
    return pool.pool._registry_size() if isinstance(pool, spm.PymorPool) else pool._registry_size()


@pytest.fixture(params=list(POOLS))
def pool(request):
    p = POOLS[request.param]()
    yield p
    p.close()


# --------------------------------------------------------------------------- #
# pyMOR's thermal block, coarse enough to be quick                             #
# --------------------------------------------------------------------------- #
def make_thermal_block():
    problem = thermal_block_problem((2, 2))
    fom, _ = discretize_stationary_cg(problem, diameter=1 / 6)
    coercivity = ExpressionParameterFunctional("min(diffusion)", fom.parameters)
    training_set = problem.parameter_space.sample_uniformly(2)
    test_mus = problem.parameter_space.sample_uniformly(3)[5::19]  # 5 parameters spread over the space
    return fom, coercivity, training_set, test_mus


@pytest.fixture(scope="module")
def thermal_block():
    return make_thermal_block()


def reductor_of(fom, coercivity):
    return CoerciveRBReductor(fom, product=fom.h1_0_semi_product, coercivity_estimator=coercivity)


def greedy(thermal_block, pool, use_error_estimator):
    fom, coercivity, training_set, _ = thermal_block
    return rb_greedy(
        fom,
        reductor_of(fom, coercivity),
        training_set,
        use_error_estimator=use_error_estimator,
        max_extensions=3,
        pool=pool,
    )


def assert_same_mus(a, b):
    assert len(a) == len(b)
    for mu_a, mu_b in zip(a, b, strict=True):
        assert mu_a.keys() == mu_b.keys()
        for key in mu_a:
            np.testing.assert_array_equal(mu_a[key], mu_b[key])


@pytest.mark.parametrize("use_error_estimator", [True, False], ids=["estimator", "true-error"])
def test_rb_greedy_selects_the_serial_parameters(thermal_block, pool, use_error_estimator):
    serial = greedy(thermal_block, None, use_error_estimator)
    parallel = greedy(thermal_block, pool, use_error_estimator)

    assert parallel["extensions"] == serial["extensions"] == 3
    assert_same_mus(parallel["max_err_mus"], serial["max_err_mus"])
    np.testing.assert_allclose(parallel["max_errs"], serial["max_errs"], rtol=1e-12)
    # the training set went to the workers once; every error evaluation ran there
    assert pool.calls["scatter_list"] == 1
    assert pool.calls["apply"] == len(serial["max_errs"])  # one evaluation of the training set per error
    if not use_error_estimator:
        # the model, the error norm and the first reductor, then the reductor after each extension
        assert pool.calls["push"] == 3 + serial["extensions"]
    assert registry_size(pool) == 0


def snapshots(fom, mus):
    U = fom.solution_space.empty()
    for mu in mus:
        U.append(fom.solve(mu))
    return U


def test_ei_greedy_with_more_workers_than_fit_ceil_sized_chunks(thermal_block):
    # 5 vectors on 4 workers: chunks of ceil(5/4) = 2 would leave a worker empty; the even split gives 2,1,1,1
    fom, _, training_set, _ = thermal_block
    U = snapshots(fom, training_set[:5])
    assert len(U) == 5
    dofs, basis, data = ei_greedy(U, max_interpolation_dofs=4)
    with CountingThreadPool(4) as pool:
        pdofs, pbasis, pdata = ei_greedy(U, max_interpolation_dofs=4, pool=pool)
        assert pool.calls["scatter_array"] == 1
        assert pool.calls["apply"] >= 1 and pool.calls["apply_only"] >= 1
        assert pool._registry_size() == 0
    np.testing.assert_array_equal(pdofs, dofs)
    np.testing.assert_allclose(pbasis.to_numpy(), basis.to_numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(pdata["errors"], data["errors"], rtol=1e-10)
    assert len(U) == 5  # ei_greedy copies (copy=True)


def test_ei_greedy_on_every_pool(thermal_block, pool):
    fom, _, training_set, _ = thermal_block
    U = snapshots(fom, training_set[:7])
    dofs, _, data = ei_greedy(U, max_interpolation_dofs=5)
    pdofs, _, pdata = ei_greedy(U, max_interpolation_dofs=5, pool=pool)
    np.testing.assert_array_equal(pdofs, dofs)
    np.testing.assert_allclose(pdata["errors"], data["errors"], rtol=1e-10)
    assert pool.calls["scatter_array"] == 1


def make_burgers():
    problem = burgers_problem_2d()
    fom, _ = discretize_instationary_fv(problem, diameter=1 / 10, nt=10)
    assert not fom.operator.linear
    return fom, problem.parameter_space.sample_uniformly(4)


@pytest.fixture(scope="module")
def burgers():
    return make_burgers()


def test_interpolate_operators_on_a_nonlinear_operator(burgers, pool):
    fom, mus = burgers
    options = {"error_norm": fom.l2_norm, "product": fom.l2_product, "max_interpolation_dofs": 8}
    eim, data = interpolate_operators(fom, ["operator"], mus, **options)
    peim, pdata = interpolate_operators(fom, ["operator"], mus, **options, pool=pool)
    np.testing.assert_array_equal(pdata["dofs"], data["dofs"])
    np.testing.assert_allclose(pdata["errors"], data["errors"], rtol=1e-10)
    np.testing.assert_allclose(peim.solve(mus[2]).to_numpy(), eim.solve(mus[2]).to_numpy(), rtol=1e-10)
    # the evaluations were built on the workers (one map into a pushed array), then the greedy ran there
    assert pool.calls["map"] == 1 and pool.calls["push"] >= 1
    assert pool.calls["apply"] >= 1 and pool.calls["apply_only"] >= 1
    assert registry_size(pool) == 0


ERROR_ANALYSIS_KEYS = ("errors", "norms", "error_estimates", "effectivities", "max_errors", "max_error_estimates")


def assert_same_analysis(parallel, serial):
    for key in ERROR_ANALYSIS_KEYS:
        np.testing.assert_allclose(parallel[key], serial[key], rtol=1e-12, err_msg=key)
    assert_same_mus(parallel["max_error_mus"].ravel(), serial["max_error_mus"].ravel())


def test_reduction_error_analysis_equals_serial(thermal_block, pool):
    fom, coercivity, training_set, test_mus = thermal_block
    reductor = reductor_of(fom, coercivity)
    reductor.extend_basis(snapshots(fom, training_set[:3]))
    rom = reductor.reduce()
    options = {"basis_sizes": 3, "error_estimator": True, "error_norms": (fom.h1_0_semi_norm,)}
    serial = reduction_error_analysis(rom, fom, reductor, test_mus, **options)
    parallel = reduction_error_analysis(rom, fom, reductor, test_mus, **options, pool=pool)
    assert_same_analysis(parallel, serial)
    assert pool.calls["map"] == 1


def analysis_after_extend_basis(thermal_block, pool):
    fom, coercivity, training_set, test_mus = thermal_block
    reductor = reductor_of(fom, coercivity)
    reductor.extend_basis(snapshots(fom, training_set[:2]))
    rom = reductor.reduce()
    # the reductor's caches are stale now: for 3 basis vectors each worker projects again, with its
    # copy of the reductor (and, on other processes, of the product's solver)
    reductor.extend_basis(snapshots(fom, training_set[5:6]))
    return reduction_error_analysis(
        rom,
        fom,
        reductor,
        test_mus,
        basis_sizes=[1, 3],
        error_estimator=True,
        error_norms=(fom.h1_0_semi_norm,),
        pool=pool,
    )


def test_reduction_error_analysis_right_after_extend_basis(thermal_block):
    serial = analysis_after_extend_basis(thermal_block, None)
    with CountingThreadPool(2) as pool:
        parallel = analysis_after_extend_basis(thermal_block, pool)
        assert pool.calls["map"] == 1
    assert_same_analysis(parallel, serial)


# --------------------------------------------------------------------------- #
# on an MPIPool of two ranks                                                   #
# --------------------------------------------------------------------------- #
def run_on_mpi_pool():
    """The algorithms above on scatterpool.pymor's MPIPool, each against serial (run under the launcher)."""
    thermal_block = make_thermal_block()
    fom, _, training_set, _ = thermal_block
    with counting(spm.MPIPool)() as pool:
        print("POOL", len(pool), bool(pool))
        for use_error_estimator in (True, False):
            serial = greedy(thermal_block, None, use_error_estimator)
            parallel = greedy(thermal_block, pool, use_error_estimator)
            assert_same_mus(parallel["max_err_mus"], serial["max_err_mus"])
            np.testing.assert_allclose(parallel["max_errs"], serial["max_errs"], rtol=1e-12)
            print("SAME rb_greedy", use_error_estimator, len(serial["max_errs"]))
        U = snapshots(fom, training_set[:5])
        dofs, _, data = ei_greedy(U, max_interpolation_dofs=4)
        pdofs, _, pdata = ei_greedy(U, max_interpolation_dofs=4, pool=pool)
        np.testing.assert_array_equal(pdofs, dofs)
        np.testing.assert_allclose(pdata["errors"], data["errors"], rtol=1e-10)
        print("SAME ei_greedy")
        serial = analysis_after_extend_basis(thermal_block, None)
        assert_same_analysis(analysis_after_extend_basis(thermal_block, pool), serial)
        print("SAME reduction_error_analysis")
        burgers_fom, burgers_mus = make_burgers()
        options = {"error_norm": burgers_fom.l2_norm, "product": burgers_fom.l2_product, "max_interpolation_dofs": 8}
        _, data = interpolate_operators(burgers_fom, ["operator"], burgers_mus, **options)
        _, pdata = interpolate_operators(burgers_fom, ["operator"], burgers_mus, **options, pool=pool)
        np.testing.assert_array_equal(pdata["dofs"], data["dofs"])
        np.testing.assert_allclose(pdata["errors"], data["errors"], rtol=1e-10)
        print("SAME interpolate_operators")
        print("CALLS", " ".join(f"{k}={v}" for k, v in sorted(pool.calls.items())))
        print("LEFT", pool._worker_registry_sizes())

        # an immutable: sent once, counted; the ranks' copies are equal by value (pyMOR gives an
        # unpickled ImmutableObject a new uid)
        operator = NumpyMatrixOperator(np.arange(4.0).reshape(2, 2))
        first, second = pool.push(operator), pool.push(operator)
        print("PUSHED TWICE", pool._worker_registry_sizes())
        first.remove()
        print("REMOVED ONE", pool._worker_registry_sizes())
        held = pool.apply(lambda op=None: (op.matrix.tolist(), op.uid), op=second)
        print("SAME VALUE", all(matrix == operator.matrix.tolist() for matrix, _ in held), held[0][1] == operator.uid)
        second.remove()
        dropped = pool.push(operator)
        del dropped
        gc.collect()
        print("LEFT", pool._worker_registry_sizes())

        # rb_greedy pushes the model, then with every extension the reductor that holds it: the model
        # inside is not sent again, each rank's reductor holds that rank's pushed model
        reductor = reductor_of(fom, thermal_block[1])
        pushed_fom, pushed_reductor = pool.push(fom), pool.push(reductor)
        held = pool.apply(lambda r=None, m=None: r.fom is m, r=pushed_reductor, m=pushed_fom)
        print("SHARED INSIDE", held)
        pushed_fom.remove()
        pushed_reductor.remove()
        print("LEFT", pool._worker_registry_sizes())
    with spm.new_parallel_pool() as default:
        print("DEFAULT", type(default) is spm.MPIPool, isinstance(default, pymor_interface.WorkerPool), len(default))
        handles = [default.push([1]), default.scatter_list([1, 2]), default.scatter_array(np.zeros((2, 2)))]
        kinds = {(isinstance(h, sp.RemoteObject), isinstance(h, pymor_interface.RemoteObject)) for h in handles}
        print("HANDLES", kinds, default._worker_registry_sizes())
        print("TAKEN", default.apply(lambda a, b=None: (a, b), handles[0], b=handles[1]))
        handles[0].remove()
        handles[0].remove()
        with handles[1]:
            pass
        del handles
        gc.collect()
        print("LEFT", default._worker_registry_sizes())


MPI_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from test_pymor_pools import run_on_mpi_pool
run_on_mpi_pool()
"""


def test_pymor_algorithms_on_an_mpipool_of_two_ranks(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parent / "mpi"))
    from mpi_launch import launch, require_mpi

    require_mpi()
    script = tmp_path / "pymor_on_mpi.py"
    script.write_text(MPI_SCRIPT.format(tests=str(Path(__file__).resolve().parent)))
    r = launch(2, [str(script)], timeout=300, SCATTERPOOL_POOL="")
    assert r.returncode == 0, r.explain()
    tags = ("POOL", "SAME", "CALLS", "LEFT", "PUSHED", "REMOVED", "SHARED", "DEFAULT", "HANDLES", "TAKEN")
    lines = [line for line in r.stdout.splitlines() if line.split(" ")[0] in tags]
    assert lines[:6] == [
        "POOL 2 True",
        "SAME rb_greedy True 3",
        "SAME rb_greedy False 3",
        "SAME ei_greedy",
        "SAME reduction_error_analysis",
        "SAME interpolate_operators",
    ], r.explain()
    assert lines[7] == "LEFT [0, 0]", r.explain()
    assert lines[8:] == [
        "PUSHED TWICE [1, 1]",
        "REMOVED ONE [1, 1]",
        "SAME VALUE True True",
        "LEFT [0, 0]",
        "SHARED INSIDE [True, True]",
        "LEFT [0, 0]",
        "DEFAULT True True 2",
        "HANDLES {(True, True)} [3, 3]",
        "TAKEN [([1], [1]), ([1], [2])]",
        "LEFT [0, 0]",
    ], r.explain()
    calls = dict(item.split("=") for item in lines[6].split()[1:])
    # rb_greedy: one scatter_list per run and an apply per evaluation (and pushes without the estimator);
    # ei_greedy: one scatter_array, apply and apply_only per interpolation DOF; the analysis: one map;
    # interpolate_operators: one map into a pushed array, then the greedy on it
    assert calls["scatter_list"] == "2" and calls["scatter_array"] == "1" and calls["map"] == "2", r.explain()
    assert int(calls["apply"]) >= 6 and int(calls["apply_only"]) >= 4 and int(calls["push"]) >= 6, r.explain()


# --------------------------------------------------------------------------- #
# the interface pyMOR relies on                                                #
# --------------------------------------------------------------------------- #
PYMOR_POOLS = [spm.DummyPool, lambda: spm.ThreadPool(2), lambda: spm.PymorPool(sp.ThreadPool(2))]


def handles_of_every_kind(pool):
    return [pool.push([1]), pool.scatter_list([1, 2, 3]), pool.scatter_array(np.zeros((3, 2)))]


@pytest.mark.parametrize("make", PYMOR_POOLS)
def test_handles_are_scatterpool_and_pymor_remote_objects(make):
    with make() as pool:
        assert isinstance(pool, pymor_interface.WorkerPool)
        handles = handles_of_every_kind(pool)
        assert registry_size(pool) == 3  # each object once: the pool's own handle moved into the pyMOR-facing one
        for h in handles:
            assert type(h) is spm.RemoteObject
            assert isinstance(h, sp.RemoteObject) and isinstance(h, pymor_interface.RemoteObject)
            assert not h.removed
        # taken as they are, positional and keyword
        results = pool.apply(lambda a, b=None: (a, b), handles[0], b=handles[1])
        assert [a for a, _ in results] == [[1]] * len(pool)
        assert [x for _, part in results for x in part] == [1, 2, 3]
        assert pool.map(lambda x, obj=None: [*obj, x], [2, 3], obj=handles[0]) == [[1, 2], [1, 3]]
        for h in handles:
            h.remove()


@pytest.mark.parametrize("make", PYMOR_POOLS)
def test_handles_free_their_object_exactly_once(make):
    with make() as pool:
        removed_twice, in_a_with_block, dropped, in_a_cycle = (pool.push([i]) for i in range(4))
        assert registry_size(pool) == 4
        removed_twice.remove()
        removed_twice.remove()
        assert removed_twice.removed and registry_size(pool) == 3
        with in_a_with_block as h:
            assert h is in_a_with_block
        assert in_a_with_block.removed and registry_size(pool) == 2
        in_a_with_block.remove()
        del dropped
        assert registry_size(pool) == 1
        in_a_cycle.myself = in_a_cycle  # pyMOR's handles have a __dict__, so they can be in a cycle
        del in_a_cycle
        gc.collect()
        assert registry_size(pool) == 0
        # removed handles dropped later free nothing more
        kept = pool.push([5])
        del removed_twice, h
        gc.collect()
        assert registry_size(pool) == 1 and not kept.removed


def test_a_handle_is_made_by_a_pool_not_by_its_class():
    with pytest.raises(TypeError, match="made by a pool"):
        spm.RemoteObject()


def test_pools_are_scatterpool_pools():
    with spm.DummyPool() as d, spm.ThreadPool(2) as t:
        assert isinstance(d, sp.DummyPool) and not d
        assert isinstance(t, sp.ThreadPool) and t and len(t) == 2
        assert isinstance(t, sp.WorkerPool)


def keywords(**kwargs):
    return sorted(kwargs)


@pytest.mark.parametrize("make", [spm.DummyPool, lambda: spm.ThreadPool(3), lambda: spm.PymorPool(sp.ThreadPool(2))])
def test_task_label_is_not_passed_to_the_function(make):
    with make() as pool:
        n = len(pool)
        assert pool.apply(keywords, a=1, task_label="label") == [["a"]] * n
        assert pool.apply_only(keywords, n - 1, b=2, task_label="label") == ["b"]
        assert pool.map(lambda x, **kw: (x, sorted(kw)), [1, 2, 3], c=3, task_label="label") == [
            (1, ["c"]),
            (2, ["c"]),
            (3, ["c"]),
        ]


def test_remote_objects_arrive_as_the_workers_objects():
    with spm.ThreadPool(3) as pool:
        parts = pool.scatter_list(list(range(7)))
        box = pool.push({"n": 0})
        assert pool.apply(lambda part=None: part, part=parts) == [[0, 1, 2], [3, 4], [5, 6]]
        assert pool.apply_only(lambda part=None: part, 2, part=parts, task_label="x") == [5, 6]
        assert pool.map(lambda i, b=None: b["n"] + i, range(4), b=box) == [0, 1, 2, 3]
        # per-worker copies: what one worker changes, no other sees
        pool.apply(lambda b=None: b.update(n=sp.worker_index()), b=box)
        assert pool.apply(lambda b=None: b["n"], b=box) == [0, 1, 2]
        parts.remove()
        box.remove()
        with pytest.raises(sp.InvalidRemoteObjectError):
            pool.apply(lambda part=None: part, part=parts)


def test_a_handle_of_another_pool_is_refused():
    with spm.ThreadPool(2) as a, spm.ThreadPool(2) as b:
        h = a.push(1)
        with pytest.raises(sp.InvalidRemoteObjectError):
            b.apply(lambda x=None: x, x=h)
        h.remove()


# --------------------------------------------------------------------------- #
# immutables: sent once per uid, counted                                       #
# --------------------------------------------------------------------------- #
class Parameters(ImmutableObject):
    def __init__(self, values):
        self.values = tuple(values)


@pytest.mark.parametrize("make", [spm.DummyPool, lambda: spm.ThreadPool(3), lambda: spm.PymorPool(sp.ThreadPool(2))])
def test_immutable_push_push_remove_use_remove(make):
    obj = Parameters([1.0, 2.0])
    with make() as pool:
        first = pool.push(obj)
        second = pool.push(obj)
        assert registry_size(pool) == 1  # sent once
        assert first.id == second.id
        first.remove()
        assert first.removed and not second.removed
        assert registry_size(pool) == 1
        # every worker has the object itself (an immutable is shared, not copied)
        assert pool.apply(lambda p=None: p is obj, p=second) == [True] * len(pool)
        assert pool.map(lambda i, p=None: p.values[i], [0, 1], p=second) == [1.0, 2.0]
        second.remove()
        assert registry_size(pool) == 0
        with pytest.raises(sp.InvalidRemoteObjectError):
            pool.apply(lambda p=None: p, p=second)


@pytest.mark.parametrize("make", [spm.DummyPool, lambda: spm.ThreadPool(2)])
def test_immutable_handle_dropped_without_remove_is_freed(make):
    obj = Parameters([3.0])
    with make() as pool:
        kept = pool.push(obj)
        dropped = pool.push(obj)
        del dropped
        gc.collect()
        assert registry_size(pool) == 1
        assert pool.apply(lambda p=None: p.values, p=kept) == [(3.0,)] * len(pool)
        del kept
        gc.collect()
        assert registry_size(pool) == 0


def test_a_plain_handle_dropped_without_remove_is_freed():
    with spm.ThreadPool(2) as pool:
        handles = [pool.push([i]) for i in range(5)] + [pool.scatter_list(range(5))]
        assert pool._registry_size() == 6
        del handles
        gc.collect()
        assert pool._registry_size() == 0


# --------------------------------------------------------------------------- #
# pyMOR objects that travel to other processes                                 #
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("pickler", ["pickle", "cloudpickle"])
def test_a_pickled_product_still_solves(thermal_block, pickler):
    # pyMOR 2026.1.1 pickles its sparse solver with a None that shadows the class's factorization cache
    dumps_loads = pytest.importorskip(pickler)
    fom, _, training_set, _ = thermal_block
    U = fom.solve(training_set[3])
    product = fom.h1_0_semi_product
    clone = dumps_loads.loads(dumps_loads.dumps(product))
    np.testing.assert_allclose(clone.apply_inverse(U).to_numpy(), product.apply_inverse(U).to_numpy(), rtol=1e-12)


# --------------------------------------------------------------------------- #
# imports and the default pool                                                 #
# --------------------------------------------------------------------------- #
def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    import os

    environ = dict(os.environ)
    environ.pop("SCATTERPOOL_POOL", None)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120, env=environ
    )


def test_scatterpool_alone_does_not_import_pymor_and_this_module_not_the_mpi_pool():
    r = run_python(
        """
        import sys
        import numpy as np
        import scatterpool
        with scatterpool.ThreadPool(2) as pool:
            pool.scatter_array(np.ones((4, 3))).remove()
            pool.map(abs, [-1, -2])
        print("pymor" in sys.modules)
        import scatterpool.pymor
        with scatterpool.pymor.new_parallel_pool() as pool:
            pool.map(abs, [-1, -2], task_label="x")
        # pyMOR itself imports mpi4py where it is installed; scatterpool's MPI pool waits until asked for
        print("pymor" in sys.modules, "scatterpool.mpi._pool" in sys.modules)
        scatterpool.pymor.MPIPool
        print("scatterpool.mpi._pool" in sys.modules)
        """
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True", "False", "True"]


def test_without_pymor_the_import_error_says_what_to_install():
    r = run_python(
        """
        import sys
        sys.modules["pymor"] = None  # as if pyMOR were not installed
        import scatterpool
        try:
            import scatterpool.pymor
        except ImportError as error:
            print(error)
        """
    )
    assert r.returncode == 0, r.stderr
    assert "needs pyMOR: pip install 'scatterpool[pymor]'" in r.stdout


@pytest.mark.parametrize(
    "value, kind, workers", [("", spm.ThreadPool, None), ("dummy", spm.DummyPool, 1), ("threads:3", spm.ThreadPool, 3)]
)
def test_new_parallel_pool(monkeypatch, value, kind, workers):
    monkeypatch.setenv("SCATTERPOOL_POOL", value)
    with spm.new_parallel_pool() as pool:
        assert type(pool) is kind
        if workers is not None:
            assert len(pool) == workers
        assert isinstance(pool.push(1), pymor_interface.RemoteObject)


def test_new_parallel_pool_bad_value(monkeypatch):
    monkeypatch.setenv("SCATTERPOOL_POOL", "processes")
    with pytest.raises(ValueError, match="dummy, threads, threads:N"):
        spm.new_parallel_pool()
