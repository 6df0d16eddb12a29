"""How the rows of a ``scatter_array`` move: one ``Scatterv`` from rank 0's memory into each rank's new array.

The element type is the MPI type of the array's (native) NumPy dtype; which
dtypes are accepted is decided once, by the front end's ``classify_array``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["mpi_type", "send_spec"]


def mpi_type(MPI: Any, dtype: np.dtype[Any]) -> Any:
    """The predefined MPI type of a native NumPy element type (float64: ``MPI.DOUBLE``, ...)."""
    return MPI.Datatype.fromcode(dtype.char)


def send_spec(MPI: Any, A: np.ndarray[Any, Any], counts: list[int], offsets: list[int]) -> tuple[Any, Any, Any]:
    """The send side of Scatterv for the rows of ``A``, straight from its memory.

    Returns ``(sendbuf, A_used, datatype_to_free)``. Rows that are contiguous
    but spaced (a view with a row step) go with a resized row datatype; any
    other layout is copied once into a C-ordered array.
    """
    base = mpi_type(MPI, A.dtype)
    n, dim = A.shape
    item = A.dtype.itemsize
    if A.flags.c_contiguous:
        return [A, [c * dim for c in counts], [o * dim for o in offsets[:-1]], base], A, None
    if n > 0 and dim > 0 and A.strides[1] == item and A.strides[0] >= dim * item and A.strides[0] % item == 0:
        row = base.Create_contiguous(dim)
        rowtype = row.Create_resized(0, A.strides[0]).Commit()
        row.Free()
        span = (n - 1) * A.strides[0] + dim * item
        memory = MPI.buffer.fromaddress(A.ctypes.data, span, readonly=not A.flags.writeable)
        return [memory, counts, offsets[:-1], rowtype], A, rowtype
    A = np.ascontiguousarray(A)
    return [A, [c * dim for c in counts], [o * dim for o in offsets[:-1]], base], A, None
