"""The cache of large freed buffers: its policy, its statistics, and ``SCATTERPOOL_BUFFER_CACHE``.

The core allocates the parts of ``scatter_array(copy=True)`` (and MPIPool's
receive buffers) from one allocator. When the last owner of a buffer of 1 MiB
or more lets go, the buffer is held for reuse instead of given back to the
operating system, so that scattering an array of the same size again copies
into memory whose pages are already mapped (a copy into fresh memory pays a
page fault per page, about as much as the copy itself). The policy:

- a cap on the bytes held, by default 1/8 of the physical memory; a freed
  buffer that does not fit evicts the oldest held ones, and ``0`` turns the
  cache off;
- a held buffer serves requests from 8/9 of its size up to its size (at most
  1/8 of it unused), best fit first; ``zero`` requests are cleared;
- a buffer held 10 s without reuse is freed at the next cache operation (an
  allocation or a free of a large buffer), or by :func:`trim_buffer_cache`.

Each process has its own cache: on an MPIPool every rank holds its own parts'
buffers (``pool.apply(scatterpool.buffer_cache)`` reports them all).
"""

from __future__ import annotations

import os
import re
import warnings
from typing import NamedTuple

from . import _core

__all__ = ["BufferCacheStats", "buffer_cache", "set_buffer_cache", "trim_buffer_cache"]

ENVIRONMENT_VARIABLE = "SCATTERPOOL_BUFFER_CACHE"

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class BufferCacheStats(NamedTuple):
    """What the buffer cache of this process holds and how it has served."""

    held_bytes: int
    """Bytes held for reuse (never more than ``max_bytes``)."""
    held_buffers: int
    """Number of buffers held."""
    max_bytes: int
    """The cap on ``held_bytes`` (0: the cache is off)."""
    idle_seconds: float
    """A buffer held this long without reuse is freed."""
    hits: int
    """Allocations of 1 MiB or more served by a held buffer."""
    misses: int
    """Allocations of 1 MiB or more that found none."""


def buffer_cache() -> BufferCacheStats:
    """The statistics of this process's cache of large freed buffers (see :func:`set_buffer_cache`)."""
    return BufferCacheStats(**_core.buffer_cache_stats())


def set_buffer_cache(max_bytes: int | None = None, *, idle_seconds: float | None = None) -> None:
    """Sets the policy of this process's cache of large freed buffers.

    Args:
        max_bytes: the cap on the bytes held; the oldest held buffers are freed
            down to it at once. ``0`` turns the cache off and frees everything
            it holds. ``None`` leaves it as it is. The default cap is 1/8 of the
            physical memory, or the environment variable
            ``SCATTERPOOL_BUFFER_CACHE`` (bytes, or with a suffix ``k``, ``M``,
            ``G``: powers of 1024) read once at import.
        idle_seconds: a held buffer not reused for this long is freed at the
            next operation of the cache (10 by default; ``math.inf``: never).

    Raises:
        ValueError: a negative value.
    """
    _core.set_buffer_cache(max_bytes, idle_seconds)


def trim_buffer_cache(idle_seconds: float = 0.0) -> None:
    """Frees the buffers the cache has held for ``idle_seconds`` or longer (by default all of them).

    Raises:
        ValueError: a negative ``idle_seconds``.
    """
    _core.trim_buffer_cache(idle_seconds)


def parse_byte_count(text: str) -> int:
    """``"1073741824"``, ``"512M"``, ``"1.5g"`` as bytes; ValueError for anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if match is None:
        raise ValueError(f"not a byte count: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def apply_environment() -> None:
    """Sets the cap from ``SCATTERPOOL_BUFFER_CACHE`` if it is set (a warning if it is not a byte count)."""
    text = os.environ.get(ENVIRONMENT_VARIABLE)
    if text is None:
        return
    try:
        max_bytes = parse_byte_count(text)
    except ValueError:
        warnings.warn(
            f"{ENVIRONMENT_VARIABLE}={text!r} is not a byte count (such as 0, 1073741824, 512M or 2G): "
            f"the buffer cache keeps its default cap of {buffer_cache().max_bytes} bytes",
            RuntimeWarning,
            stacklevel=2,
        )
        return
    set_buffer_cache(max_bytes)
