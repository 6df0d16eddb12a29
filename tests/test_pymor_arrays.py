"""scatter_array of a pyMOR VectorArray (vectors as columns), on every pool kind.

A stand-in with pyMOR's class name, module and the few methods scatter_array
uses keeps the test independent of pyMOR; with pyMOR installed (the bench
extra) the real NumpyVectorArray is checked too.
"""

import numpy as np
import pytest

import scatterpool as sp


def _make_standin():
    class VectorArray:  # named and placed as pyMOR's interface class
        pass

    VectorArray.__module__ = "pymor.vectorarrays.interface"
    VectorArray.__qualname__ = "VectorArray"

    class Space:
        def __init__(self, dim):
            self.dim = dim

        def from_numpy(self, data):
            assert data.shape[0] == self.dim
            return NumpyLike(self, data)

    class NumpyLike(VectorArray):
        def __init__(self, space, data):
            self.space, self._array = space, data

        def __len__(self):
            return self._array.shape[1]

        def to_numpy(self):
            return self._array

        def __delitem__(self, ind):
            # as pyMOR: the remaining vectors go to a new array, memory is not written
            keep = sorted(set(range(len(self))) - set(range(len(self))[ind]))
            self._array = self._array[:, keep]

    return Space


Space = _make_standin()


def pymor_like(n, dim, dtype=np.float64):
    data = np.asfortranarray(np.arange(n * dim, dtype=dtype).reshape(dim, n))
    return Space(dim).from_numpy(data), data


@pytest.mark.parametrize("n", [0, 1, 5, 11])
def test_scatter_pymor_copy(pool, n):
    U, data = pymor_like(n, 3)
    before = data.copy()
    offsets = sp.even_split(n, len(pool))
    with pool.scatter_array(U, copy=True) as ro:
        parts = pool.apply(lambda V: (type(V).__name__, V.to_numpy().copy(), np.shares_memory(V.to_numpy(), data)),
                           V=ro)
    for i, (kind, part, shared) in enumerate(parts):
        assert kind == "NumpyLike" and not shared
        np.testing.assert_array_equal(part, before[:, offsets[i] : offsets[i + 1]])
    assert len(U) == n  # copy=True leaves U as it was
    np.testing.assert_array_equal(U.to_numpy(), before)


@pytest.mark.parametrize("n", [0, 1, 5, 11])
def test_scatter_pymor_no_copy_shares_memory_and_empties_U(pool, n):
    U, data = pymor_like(n, 3)
    before = data.copy()
    offsets = sp.even_split(n, len(pool))
    with pool.scatter_array(U, copy=False) as ro:
        got = pool.apply(lambda V: (V.to_numpy().copy(), n == 0 or np.shares_memory(V.to_numpy(), data)), V=ro)
        assert len(U) == 0
    for i, (part, shared) in enumerate(got):
        assert shared or offsets[i] == offsets[i + 1]
        np.testing.assert_array_equal(part, before[:, offsets[i] : offsets[i + 1]])


def test_scatter_pymor_unsupported_dtype(pool):
    U, _ = pymor_like(4, 2, dtype=np.int64)
    with pytest.raises(TypeError):
        pool.scatter_array(U)


def test_scatter_real_pymor_array(pool):
    pytest.importorskip("pymor", reason="pyMOR comes with the bench extra")
    from pymor.vectorarrays.numpy import NumpyVectorSpace

    A = np.random.default_rng(0).standard_normal((11, 4))  # 11 vectors of dimension 4
    U = NumpyVectorSpace(4).from_numpy(A.T.copy())
    offsets = sp.even_split(11, len(pool))
    with pool.scatter_array(U, copy=True) as ro:
        parts = pool.apply(lambda V: V.to_numpy().T.copy(), V=ro)
    for i, part in enumerate(parts):
        np.testing.assert_allclose(part, A[offsets[i] : offsets[i + 1]])
    with pool.scatter_array(U, copy=False) as ro:
        lengths = pool.apply(lambda V: len(V), V=ro)
    assert lengths == [offsets[i + 1] - offsets[i] for i in range(len(pool))] and len(U) == 0
