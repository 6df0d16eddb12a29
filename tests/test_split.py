"""even_split: k + 1 offsets with numpy.array_split's sizes (larger chunks first)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scatterpool as sp


def oracle(n: int, k: int) -> list[int]:
    """Offsets of numpy.array_split(range(n), k)."""
    sizes = [len(part) for part in np.array_split(np.arange(n), k)]
    return [0, *np.cumsum(sizes, dtype=np.int64).tolist()]


def exact(n: int, k: int) -> list[int]:
    """Offsets computed with Python integers, valid for any n."""
    q, r = divmod(n, k)
    return [i * q + min(i, r) for i in range(k + 1)]


def check_properties(offsets, n: int, k: int) -> None:
    assert isinstance(offsets, list)
    assert all(isinstance(o, int) for o in offsets)
    assert len(offsets) == k + 1
    assert offsets[0] == 0
    assert offsets[-1] == n
    sizes = [b - a for a, b in itertools.pairwise(offsets)]
    assert len(sizes) == k  # exactly k parts, even when n < k
    assert all(s >= 0 for s in sizes)
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)  # larger chunks first


@given(n=st.integers(0, 20_000), k=st.integers(1, 300))
def test_matches_array_split(n, k):
    offsets = sp.even_split(n, k)
    check_properties(offsets, n, k)
    assert offsets == oracle(n, k)


@given(k=st.integers(1, 200), data=st.data())
def test_fewer_items_than_parts(k, data):
    n = data.draw(st.integers(0, k))
    offsets = sp.even_split(n, k)
    check_properties(offsets, n, k)
    assert offsets == oracle(n, k)
    # the first n parts hold one item each, the rest are empty
    assert offsets == list(range(n + 1)) + [n] * (k - n)


@pytest.mark.parametrize(
    "n, k",
    [(0, 1), (0, 7), (1, 1), (1, 7), (5, 4), (7, 7), (8, 7), (10, 3), (100, 15)],
)
def test_small_cases(n, k):
    assert sp.even_split(n, k) == oracle(n, k) == exact(n, k)


def test_pymor_counterexample():
    # pyMOR's ceil(n/k) slicing gives 2,2,1,0 here; the even split gives 2,1,1,1
    assert sp.even_split(5, 4) == [0, 2, 3, 4, 5]


@pytest.mark.parametrize("n", [2**31 - 1, 2**31, 2**32 + 5, 2**53 + 1, 2**62 + 3, 2**63 - 2, 2**63 - 1])
@pytest.mark.parametrize("k", [1, 2, 3, 7, 1000])
def test_huge_n(n, k):
    offsets = sp.even_split(n, k)
    check_properties(offsets, n, k)
    assert offsets == exact(n, k)


def test_accepts_numpy_integers():
    assert sp.even_split(np.int64(10), np.int32(3)) == [0, 4, 7, 10]


@pytest.mark.parametrize("n", [0, 1, 10])
def test_k_zero_is_value_error(n):
    with pytest.raises(ValueError):
        sp.even_split(n, 0)


@pytest.mark.parametrize("n", [-1, -10, -(2**63)])
def test_negative_n_is_value_error(n):
    with pytest.raises(ValueError):
        sp.even_split(n, 3)


@pytest.mark.parametrize("k", [-1, -7])
def test_negative_k_is_value_error(k):
    with pytest.raises(ValueError):
        sp.even_split(10, k)


@pytest.mark.parametrize("args", [(5.0, 2), (5, 2.0), ("5", 2), (None, 2)])
def test_non_integer_is_type_error(args):
    with pytest.raises(TypeError):
        sp.even_split(*args)
