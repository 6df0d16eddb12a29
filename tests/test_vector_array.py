"""VectorArray: rows are vectors; zero-copy to and from NumPy; views keep the buffer alive."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import scatterpool as sp

VA = sp.VectorArray
DTYPES = [np.float32, np.float64, np.complex64, np.complex128]
BAD_DTYPES = [np.int8, np.int32, np.int64, np.uint8, np.float16, np.bool_, object, "U3"]
if hasattr(np, "longdouble") and np.dtype(np.longdouble).itemsize > 8:
    BAD_DTYPES.append(np.longdouble)


def sample(n=5, dim=4, dtype=np.float64):
    a = np.arange(n * dim, dtype=np.float64).reshape(n, dim) + 1.0
    if np.issubdtype(np.dtype(dtype), np.complexfloating):
        a = a + 1j * (a + 0.5)
    return np.ascontiguousarray(a.astype(dtype))


def scribble():
    """Allocate and fill memory, so that a freed buffer would likely be overwritten."""
    junk = [np.full(1 << k, -7.0) for k in range(4, 20)]
    del junk
    gc.collect()


# ------------------------------------------------------------------ from_numpy
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_from_numpy_shares_memory_and_keeps_dtype(dtype):
    a = sample(dtype=dtype)
    U = VA.from_numpy(a)
    assert isinstance(U, VA)
    assert len(U) == 5 and U.dim == 4
    assert U.dtype == np.dtype(dtype)
    assert isinstance(U.dtype, np.dtype)
    b = U.to_numpy()
    assert b.shape == (5, 4) and b.dtype == np.dtype(dtype)
    assert np.shares_memory(b, a)
    assert np.shares_memory(np.asarray(U), a)
    np.testing.assert_array_equal(b, a)


def test_from_numpy_copy_false_is_default_and_writes_through():
    a = sample()
    U = VA.from_numpy(a)
    a[2, 1] = -42.0
    assert U.to_numpy()[2, 1] == -42.0
    np.asarray(U)[0, 0] = 99.0
    assert a[0, 0] == 99.0


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_from_numpy_copy_true_shares_nothing(dtype):
    a = sample(dtype=dtype)
    U = VA.from_numpy(a, copy=True)
    assert not np.shares_memory(U.to_numpy(), a)
    np.testing.assert_array_equal(U.to_numpy(), a)
    a[0, 0] = 1234
    assert U.to_numpy()[0, 0] != 1234


def test_from_numpy_1d_is_one_row():
    a = np.arange(6.0)
    U = VA.from_numpy(a)
    assert len(U) == 1 and U.dim == 6
    np.testing.assert_array_equal(U.to_numpy(), a[np.newaxis, :])
    assert np.shares_memory(U.to_numpy(), a)


def test_from_numpy_empty():
    U = VA.from_numpy(np.zeros((0, 3)))
    assert len(U) == 0 and U.dim == 3
    assert U.to_numpy().shape == (0, 3)


@pytest.mark.parametrize("dtype", BAD_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("copy", [False, True])
def test_from_numpy_other_dtypes_are_type_error(dtype, copy):
    a = np.zeros((3, 2), dtype=dtype)
    with pytest.raises(TypeError):
        VA.from_numpy(a, copy=copy)


def test_from_numpy_3d_is_refused():
    # the API defines 1-D and 2-D input only; a 3-D array is a shape error or a kind error
    with pytest.raises((TypeError, ValueError)):
        VA.from_numpy(np.zeros((2, 2, 2)))


@pytest.mark.parametrize("obj", [[[1.0, 2.0]], 3.0, None, "abc"], ids=repr)
def test_from_numpy_non_array_is_type_error(obj):
    with pytest.raises(TypeError):
        VA.from_numpy(obj)


@pytest.mark.parametrize(
    "make",
    [lambda a: a[:, ::2], lambda a: np.asfortranarray(a)],
    ids=["strided-columns", "fortran-order"],
)
def test_from_numpy_non_contiguous_rows(make):
    a = make(sample(6, 6))
    assert not a.flags.c_contiguous
    with pytest.raises(ValueError):
        VA.from_numpy(a, copy=False)
    U = VA.from_numpy(a, copy=True)
    np.testing.assert_array_equal(U.to_numpy(), a)


def test_from_numpy_evenly_spaced_rows_are_wrapped_without_copy():
    # every row is contiguous and the rows are evenly spaced, though not adjacent: a view of base
    base = sample(8, 3)
    a = base[::2]
    U = VA.from_numpy(a, copy=False)
    np.testing.assert_array_equal(U.to_numpy(), a)
    assert np.shares_memory(U.to_numpy(), base)
    U.to_numpy()[1, 0] = -1  # a write through the VectorArray lands in base's row 2
    assert base[2, 0] == -1


# ------------------------------------------------------------------ zeros, empty, copy
def test_zeros_default_dtype():
    U = VA.zeros(3, 4)
    assert len(U) == 3 and U.dim == 4
    assert U.dtype == np.dtype(np.float64)
    np.testing.assert_array_equal(U.to_numpy(), np.zeros((3, 4)))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_zeros_dtypes(dtype):
    U = VA.zeros(2, 5, dtype=dtype)
    assert U.dtype == np.dtype(dtype)
    assert U.to_numpy().dtype == np.dtype(dtype)
    assert not U.to_numpy().any()


def test_zeros_empty_shapes():
    assert len(VA.zeros(0, 7)) == 0 and VA.zeros(0, 7).dim == 7
    assert VA.zeros(3, 0).dim == 0 and len(VA.zeros(3, 0)) == 3


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool], ids=str)
def test_zeros_bad_dtype(dtype):
    with pytest.raises(TypeError):
        VA.zeros(2, 2, dtype=dtype)


def test_zeros_is_writable_and_owned():
    U = VA.zeros(2, 3)
    np.asarray(U)[1, 2] = 5.0
    assert U.to_numpy()[1, 2] == 5.0


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_copy_is_independent(dtype):
    a = sample(dtype=dtype)
    U = VA.from_numpy(a)
    C = U.copy()
    assert isinstance(C, VA)
    assert len(C) == len(U) and C.dim == U.dim and C.dtype == U.dtype
    assert not np.shares_memory(C.to_numpy(), a)
    np.testing.assert_array_equal(C.to_numpy(), a)
    np.asarray(C)[0, 0] = 77
    assert a[0, 0] != 77


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_empty(dtype):
    U = VA.from_numpy(sample(dtype=dtype))
    E = U.empty()
    assert isinstance(E, VA)
    assert len(E) == 0 and E.dim == U.dim and E.dtype == U.dtype
    assert len(U) == 5  # U itself is untouched


# ------------------------------------------------------------------ indexing
def test_int_index_is_one_row_view():
    a = sample()
    U = VA.from_numpy(a)
    for i in range(len(a)):
        V = U[i]
        assert isinstance(V, VA)
        assert len(V) == 1 and V.dim == 4
        np.testing.assert_array_equal(V.to_numpy(), a[i : i + 1])
        assert np.shares_memory(V.to_numpy(), a)


def test_negative_int_index():
    a = sample()
    U = VA.from_numpy(a)
    np.testing.assert_array_equal(U[-1].to_numpy(), a[-1:])
    np.testing.assert_array_equal(U[-5].to_numpy(), a[:1])


@pytest.mark.parametrize(
    "sl",
    [slice(1, 3), slice(0, 5), slice(None), slice(2, None), slice(None, -1), slice(-3, -1),
     slice(0, 5, 2), slice(1, None, 3), slice(3, 3), slice(4, 100), slice(100, 200)],
    ids=str,
)
def test_slice_is_view(sl):
    a = sample()
    U = VA.from_numpy(a)
    V = U[sl]
    assert isinstance(V, VA)
    np.testing.assert_array_equal(V.to_numpy(), a[sl])
    assert len(V) == len(a[sl]) and V.dim == 4
    if len(V):
        assert np.shares_memory(V.to_numpy(), a)
        np.asarray(V)[0, 0] = -1.0
        assert a[sl][0, 0] == -1.0


def test_negative_step_slice_values():
    a = sample()
    U = VA.from_numpy(a)
    np.testing.assert_array_equal(U[::-1].to_numpy(), a[::-1])
    np.testing.assert_array_equal(U[3:0:-2].to_numpy(), a[3:0:-2])


@pytest.mark.parametrize(
    "idx",
    [
        [0], [4, 0, 2], [1, 1], [-1, 0], [],
        np.array([3, 1]), np.array([], dtype=np.int64), np.array([-2], dtype=np.int32),
    ],
    ids=lambda x: repr(list(x)),
)
def test_fancy_index_is_copy(idx):
    a = sample()
    U = VA.from_numpy(a)
    V = U[idx]
    assert isinstance(V, VA)
    assert len(V) == len(idx) and V.dim == 4
    np.testing.assert_array_equal(V.to_numpy().reshape(-1, 4), a[np.asarray(idx, dtype=np.int64)])
    assert not np.shares_memory(V.to_numpy(), a)


@pytest.mark.parametrize("idx", [5, -6, 100, [0, 5], [-6], np.array([7])], ids=repr)
def test_index_out_of_range(idx):
    U = VA.from_numpy(sample())
    with pytest.raises(IndexError):
        U[idx]


def test_index_into_empty():
    U = VA.zeros(0, 3)
    with pytest.raises(IndexError):
        U[0]
    assert len(U[0:10]) == 0


# ------------------------------------------------------------------ del
@pytest.mark.parametrize(
    "idx",
    [0, 4, -1, -5, slice(1, 3), slice(None), slice(0, 5, 2), slice(10, 20), [0, 3], [4, 1, 2], [], [-1]],
    ids=repr,
)
def test_del(idx):
    a = sample()
    expected = np.delete(a.copy(), np.arange(len(a))[idx], axis=0)
    U = VA.from_numpy(a.copy())
    del U[idx]
    assert len(U) == len(expected) and U.dim == 4
    np.testing.assert_array_equal(U.to_numpy(), expected)


@pytest.mark.parametrize("idx", [5, -6, [0, 5]], ids=repr)
def test_del_out_of_range(idx):
    a = sample()
    U = VA.from_numpy(a.copy())
    with pytest.raises(IndexError):
        del U[idx]
    np.testing.assert_array_equal(U.to_numpy(), a)


# ------------------------------------------------------------------ append
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_append_copies_other(dtype):
    a, b = sample(3, 4, dtype), sample(2, 4, dtype) * 10
    U, V = VA.from_numpy(a.copy()), VA.from_numpy(b)
    U.append(V)
    assert len(U) == 5 and len(V) == 2
    np.testing.assert_array_equal(U.to_numpy(), np.vstack([a, b]))
    np.testing.assert_array_equal(V.to_numpy(), b)
    assert not np.shares_memory(U.to_numpy(), b)


def test_append_remove_from_other():
    a, b = sample(3, 4), sample(2, 4) * 10
    U, V = VA.from_numpy(a.copy()), VA.from_numpy(b.copy())
    U.append(V, remove_from_other=True)
    assert len(U) == 5 and len(V) == 0 and V.dim == 4
    np.testing.assert_array_equal(U.to_numpy(), np.vstack([a, b]))


def test_append_to_empty():
    b = sample(2, 4)
    U = VA.zeros(0, 4)
    U.append(VA.from_numpy(b))
    np.testing.assert_array_equal(U.to_numpy(), b)


def test_append_dim_mismatch_is_value_error():
    U = VA.zeros(2, 4)
    with pytest.raises(ValueError):
        U.append(VA.zeros(2, 3))
    assert len(U) == 2


def test_append_dtype_mismatch_is_type_error():
    U = VA.zeros(2, 4)
    with pytest.raises(TypeError):
        U.append(VA.zeros(2, 4, dtype=np.complex128))
    assert len(U) == 2


# ------------------------------------------------------------------ lifetimes
def test_view_outlives_original_and_numpy_source():
    a = sample(1000, 8)
    expected = a.copy()
    U = VA.from_numpy(a)
    V = U[10:20]
    W = U[[3, 5]]
    del U, a
    gc.collect()
    scribble()
    np.testing.assert_array_equal(V.to_numpy(), expected[10:20])
    np.testing.assert_array_equal(W.to_numpy(), expected[[3, 5]])


def test_numpy_view_outlives_vector_array():
    U = VA.zeros(500, 8)
    np.asarray(U)[:] = 3.5
    A = U.to_numpy()
    B = np.asarray(U[100:])
    del U
    gc.collect()
    scribble()
    assert A.shape == (500, 8) and (A == 3.5).all()
    assert B.shape == (400, 8) and (B == 3.5).all()
    A[0, 0] = 1.0  # still writable memory we own


def test_view_of_view_outlives_everything():
    a = sample(100, 4)
    expected = a[20:40][5:10].copy()
    U = VA.from_numpy(a)
    V = U[20:40][5:10]
    del U, a
    gc.collect()
    scribble()
    np.testing.assert_array_equal(V.to_numpy(), expected)


def test_views_stay_valid_after_append_and_del():
    a = sample(50, 4)
    expected = a.copy()
    U = VA.from_numpy(a.copy())
    V = U[0:10]
    A = U.to_numpy()
    for _ in range(5):  # force reallocation
        U.append(VA.zeros(1000, 4))
    del U[0:20]
    gc.collect()
    scribble()
    # U's rows came from a NumPy buffer that cannot grow: appending had to move them,
    # and the old views still see the old buffer, alive and unchanged
    np.testing.assert_array_equal(V.to_numpy(), expected[:10])
    np.testing.assert_array_equal(A, expected)
    assert len(U) == 50 + 5000 - 20
    np.testing.assert_array_equal(U.to_numpy()[:30], expected[20:])
    assert not U.to_numpy()[30:].any()


def test_asarray_is_zero_copy():
    U = VA.zeros(4, 3, dtype=np.complex64)
    A = np.asarray(U)
    B = U.to_numpy()
    assert A.dtype == np.complex64 and A.shape == (4, 3)
    assert np.shares_memory(A, B)
