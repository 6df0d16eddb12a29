"""scatter_array on every pool: memory layouts, byte order, and the shared dummy_pool.

Contract tests (the ``pool`` fixture): they run on every pool, MPI included.
"""

from __future__ import annotations

import numpy as np
import pytest

import scatterpool as sp


def _offsets(n: int, k: int) -> list[int]:
    return list(sp.even_split(n, k))


def _base(n: int = 7, dim: int = 3) -> np.ndarray:
    return np.arange(n * dim, dtype=np.float64).reshape(n, dim) + 1.0


def _fortran() -> np.ndarray:
    return np.asfortranarray(_base())


def _transposed() -> np.ndarray:
    return np.ascontiguousarray(_base().T).T  # rows are columns of a C array


def _reversed() -> np.ndarray:
    return _base()[::-1]


def _broadcast() -> np.ndarray:
    return np.broadcast_to(np.arange(3.0), (7, 3))  # every row the same memory, read-only


def _every_other_column() -> np.ndarray:
    return _base(7, 6)[:, ::2]


LAYOUTS = {
    "fortran": _fortran,
    "transposed": _transposed,
    "reversed": _reversed,
    "broadcast": _broadcast,
    "strided-columns": _every_other_column,
}


def _read_and_zero(U):
    """A worker's part as it arrived, then written over (a copy must take the write alone)."""
    seen = np.array(U, copy=True)
    U[...] = 0
    return seen


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_scatter_array_copy_takes_any_layout(pool, layout):
    A = LAYOUTS[layout]()
    expected = A.copy()
    h = pool.scatter_array(A, copy=True)
    parts = pool.apply(_read_and_zero, U=h)
    h.remove()
    off = _offsets(len(expected), len(pool))
    for w, part in enumerate(parts):
        np.testing.assert_array_equal(part, expected[off[w] : off[w + 1]])
    np.testing.assert_array_equal(A, expected)  # the workers wrote into their own copies


@pytest.mark.parametrize("layout", ["fortran", "transposed", "reversed", "strided-columns"])
def test_scatter_numpy_no_copy_takes_any_layout(pool, layout):
    A = LAYOUTS[layout]()
    expected = A.copy()
    h = pool.scatter_array(A, copy=False)
    parts = pool.apply(lambda U: np.array(U, copy=True), U=h)
    h.remove()
    off = _offsets(len(expected), len(pool))
    for w, part in enumerate(parts):
        np.testing.assert_array_equal(part, expected[off[w] : off[w + 1]])


@pytest.mark.parametrize("dtype", [">f8", ">f4", ">c16", ">c8"])
def test_scatter_array_converts_non_native_byte_order(pool, dtype):
    A = (np.arange(12).reshape(6, 2) + 1).astype(dtype)
    native = A.astype(A.dtype.newbyteorder("="))
    h = pool.scatter_array(A, copy=True)
    parts = pool.apply(lambda U: (np.array(U, copy=True), U.dtype.isnative), U=h)
    h.remove()
    off = _offsets(6, len(pool))
    for w, (part, isnative) in enumerate(parts):
        assert isnative
        assert part.dtype == native.dtype
        np.testing.assert_array_equal(part, native[off[w] : off[w + 1]])


def test_scatter_array_without_copy_refuses_non_native_byte_order(pool):
    A = np.arange(8, dtype=">f8").reshape(4, 2)
    with pytest.raises(sp.DTypeError, match="byte order"):
        pool.scatter_array(A, copy=False)
    assert pool.apply(lambda: 1) == [1] * len(pool)


def test_scatter_array_unsupported_dtype_is_a_dtype_error(pool):
    with pytest.raises(sp.DTypeError, match="float32, float64, complex64 and complex128"):
        pool.scatter_array(np.zeros((4, 2), dtype=np.int64))
    assert issubclass(sp.DTypeError, TypeError)


def test_with_shared_dummy_pool_leaves_it_open():
    for _ in range(2):
        with sp.dummy_pool as pool:
            assert pool.apply(lambda: 7) == [7]
    assert not sp.dummy_pool.closed
    assert sp.dummy_pool.apply(lambda: 8) == [8]


def _keywords(**kwargs):
    return sorted(kwargs.items())


def test_keywords_named_like_the_pools_parameters_reach_the_function(pool):
    assert pool.apply(_keywords, function=3, worker=4, args=5) == [[("args", 5), ("function", 3), ("worker", 4)]] * len(
        pool
    )
    assert pool.apply_only(_keywords, len(pool) - 1, worker=5, function=6) == [("function", 6), ("worker", 5)]
    assert pool.map(lambda x, **kw: (x, sorted(kw.items())), [1, 2], function=7, seqs=8) == [
        (1, [("function", 7), ("seqs", 8)]),
        (2, [("function", 7), ("seqs", 8)]),
    ]
