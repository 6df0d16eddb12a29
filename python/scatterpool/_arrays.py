"""The kinds of arrays that scatter_array takes, and the one rule for their dtypes and byte order.

Every pool classifies ``U`` here, so that a scatterpool ``VectorArray``, a
2-D NumPy array and a pyMOR ``VectorArray`` are accepted (and refused) alike
everywhere; a pool then moves ``ArrayParts.rows`` its own way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _core
from ._core import DTypeError, VectorArray

__all__ = ["ArrayParts", "DTYPE_NAMES", "SUPPORTED_DTYPES", "classify_array", "is_pymor_array"]

SUPPORTED_DTYPES: frozenset[np.dtype[Any]] = frozenset(np.dtype(name) for name in _core.DTYPES)
"""The element types the core moves (native byte order)."""

DTYPE_NAMES = ", ".join(_core.DTYPES[:-1]) + " and " + _core.DTYPES[-1]


def is_pymor_array(U: Any) -> bool:
    """Whether ``U`` is a pyMOR ``VectorArray`` (recognised by name and module; pyMOR need not be installed)."""
    return any(
        c.__name__ == "VectorArray" and c.__module__ == "pymor.vectorarrays.interface" for c in type(U).__mro__
    )


class ArrayParts:
    """``U`` as scatter_array sees it: its kind, and its vectors as the rows of a 2-D NumPy array.

    ``rows`` is a view of ``U``'s memory unless ``converted`` (``U`` was in
    non-native byte order and ``rows`` is a converted copy).
    """

    __slots__ = ("kind", "source", "rows", "space", "converted")

    def __init__(self, kind: str, source: Any, rows: np.ndarray[Any, Any], space: Any, converted: bool) -> None:
        self.kind = kind  # "va" (scatterpool VectorArray), "np" (NumPy) or "pymor"
        self.source = source
        self.rows = rows
        self.space = space  # pyMOR: U.space, which makes the parts
        self.converted = converted

    def wrap(self, part: np.ndarray[Any, Any]) -> Any:
        """A worker's rows as the kind of array ``U`` is."""
        if self.kind == "np":
            return part
        if self.kind == "pymor":
            return self.space.from_numpy(part.T)  # pyMOR keeps vectors as columns
        return VectorArray.from_numpy(part, copy=False)

    def empty_source(self) -> None:
        """After ``copy=False``: a VectorArray or pyMOR ``U`` is left empty (a NumPy array cannot be)."""
        if self.kind != "np":
            del self.source[:]


def _native_rows(rows: np.ndarray[Any, Any], copy: bool) -> tuple[np.ndarray[Any, Any], bool]:
    dtype = rows.dtype
    if dtype in SUPPORTED_DTYPES:
        return rows, False
    if not dtype.isnative and dtype.newbyteorder("=") in SUPPORTED_DTYPES:
        if copy:
            return rows.astype(dtype.newbyteorder("=")), True
        raise DTypeError(
            f"scatter_array(copy=False) shares U's memory, and U's elements are in non-native byte order "
            f"({dtype.str}): pass copy=True (the parts are then converted) or convert U first with "
            f"U.astype(U.dtype.newbyteorder('='))"
        )
    raise DTypeError(f"scatter_array moves {DTYPE_NAMES} arrays, not {dtype}")


def classify_array(U: Any, copy: bool) -> ArrayParts:
    """The :class:`ArrayParts` of ``U``; ``TypeError`` (``DTypeError`` for the dtype) if no pool can scatter it."""
    if isinstance(U, VectorArray):
        return ArrayParts("va", U, U.to_numpy(), None, False)
    if isinstance(U, np.ndarray):
        if U.ndim != 2:
            raise TypeError(f"scatter_array needs a 2-D array (rows are vectors), got {U.ndim} dimensions")
        rows, converted = _native_rows(U, copy)
        return ArrayParts("np", U, rows, None, converted)
    if is_pymor_array(U):
        rows, converted = _native_rows(U.to_numpy().T, copy)  # to_numpy() is (dim, len)
        return ArrayParts("pymor", U, rows, U.space, converted)
    raise TypeError(
        f"scatter_array takes a scatterpool.VectorArray, a 2-D numpy.ndarray or a pyMOR VectorArray, "
        f"got {type(U).__module__}.{type(U).__qualname__}"
    )
