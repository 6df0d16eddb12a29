"""scatterpool: distribute data and work over a pool of workers.

Push an object to every worker once, scatter an array of vectors or a list
evenly over the workers (without copying where memory is shared), run
functions on the distributed data and collect the results. The interface is
pyMOR's ``WorkerPool``; the same code runs on :class:`DummyPool` (in
process), :class:`ThreadPool` (persistent C++ threads) and
``scatterpool.mpi.MPIPool`` (MPI).
"""

from __future__ import annotations

import os as _os

try:
    from . import _core  # noqa: F401 (the check that the compiled core is there)
except ImportError as _error:  # pragma: no cover - only without a build
    raise ImportError(
        "scatterpool's compiled core (scatterpool._core) is missing: install the package with "
        "`pip install .` rather than importing it from the source tree"
    ) from _error

from ._base import WorkerPool
from ._buffer_cache import BufferCacheStats, buffer_cache, set_buffer_cache, trim_buffer_cache
from ._buffer_cache import apply_environment as _apply_buffer_cache_environment
from ._context import worker_index, worker_rng
from ._core import (
    DTypeError,
    InvalidRemoteObjectError,
    PoolClosedError,
    ReentrantCallError,
    RemoteObject,
    VectorArray,
    even_split,
)
from ._default import new_pool
from ._immutable import Immutable, is_immutable
from ._manager import RemoteObjectManager
from ._pools import DummyPool, ThreadPool, dummy_pool

__version__ = "0.1.0"

_apply_buffer_cache_environment()  # read once, here

__all__ = [
    "BufferCacheStats",
    "DTypeError",
    "DummyPool",
    "Immutable",
    "InvalidRemoteObjectError",
    "PoolClosedError",
    "ReentrantCallError",
    "RemoteObject",
    "RemoteObjectManager",
    "ThreadPool",
    "VectorArray",
    "WorkerPool",
    "buffer_cache",
    "dummy_pool",
    "even_split",
    "get_cmake_dir",
    "get_include",
    "is_immutable",
    "new_pool",
    "set_buffer_cache",
    "trim_buffer_cache",
    "worker_index",
    "worker_rng",
]


def get_include() -> str:
    """The folder with scatterpool's C++ headers (``<scatterpool/scatterpool.hpp>``).

    Cython finds ``cimport scatterpool`` (``scatterpool/__init__.pxd``) through ``sys.path``.
    """
    return _os.path.join(_os.path.dirname(__file__), "include")


def get_cmake_dir() -> str:
    """The folder with scatterpool's CMake package (for ``find_package(scatterpool)``)."""
    return _os.path.join(_os.path.dirname(__file__), "lib", "cmake", "scatterpool")
