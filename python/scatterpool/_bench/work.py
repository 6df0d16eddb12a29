"""What the pools run in the benchmarks, and the arrays they move.

The functions are trivial on purpose (the rows measure the pools, not the work), except the two
kernels that release the GIL. They live in a module so that MPI ranks import them by name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DIM = 1000           # vector dimension of the scattered arrays: a row is 8000 bytes of float64
SMALL_DICT = {"a": 1, "b": 2.0, "c": "three"}


def f(obj: Any = None) -> Any:
    return obj


def g(x: Any) -> Any:
    return x


def h(x: Any, obj: Any = None) -> Any:
    return x


def gram(U: Any = None) -> Any:
    """Compute-bound, releases the GIL inside BLAS: U^T U of the worker's part."""
    return U.T @ U


def fro_norm(U: Any = None) -> float:
    """Memory-bound, releases the GIL inside BLAS: ||U||_F of the worker's part."""
    return float(np.linalg.norm(U))


def rows_of(mb: float) -> int:
    """Rows of DIM float64 values that make ``mb`` megabytes (1 MB = 1e6 bytes)."""
    return round(mb * 1e6 / (DIM * 8))


def make_array(n: int, dim: int = DIM) -> np.ndarray:
    """n x dim float64 with distinct values and every page touched."""
    A = np.empty((n, dim))
    A.reshape(-1)[:] = np.arange(n * dim, dtype=np.float64)
    return A


def size_label(nbytes: int) -> str:
    return f"{nbytes / 1e9:g} GB" if nbytes >= 1e9 else f"{nbytes / 1e6:g} MB"
