"""The cache of large freed buffers: its Python API, and repeated scatters that reuse warm memory.

The tests on the ``pool`` fixture are contract tests: they run on every pool, MPI included (there
every rank has its own cache, asked with ``pool.apply``).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

import scatterpool as sp
from conftest import is_mpi
from scatterpool import _core
from scatterpool._buffer_cache import parse_byte_count

MiB = 1 << 20
DIM = 1000  # a row of float64 is 8000 bytes
ROWS_PER_PART = 150  # 1.2 MB: every part is large enough to be cached


def set_policy(max_bytes: int, idle_seconds: float) -> None:
    sp.set_buffer_cache(max_bytes, idle_seconds=idle_seconds)
    sp.trim_buffer_cache()


def part_copy(U):
    return np.array(U)


def process_stats(pool) -> list[sp.BufferCacheStats]:
    """The cache statistics of every process that holds a part: each rank on MPI, this one otherwise."""
    return list(pool.apply(sp.buffer_cache)) if is_mpi(pool) else [sp.buffer_cache()]


def numbered(n: int, start: float) -> np.ndarray:
    return np.arange(n * DIM, dtype=np.float64).reshape(n, DIM) + start


@pytest.fixture
def empty_caches(pool):
    """Every process's cache empty, with room and no idle trimming; the policy restored afterwards."""
    before = process_stats(pool)
    pool.apply(set_policy, 256 * MiB, math.inf)
    yield
    saved = before[0]
    pool.apply(set_policy, saved.max_bytes, saved.idle_seconds)


@pytest.fixture
def cache_here():
    """This process's cache empty, with room and no idle trimming; the policy restored afterwards."""
    before = sp.buffer_cache()
    set_policy(256 * MiB, math.inf)
    yield
    set_policy(before.max_bytes, before.idle_seconds)


# --------------------------------------------------------------------------- #
# repeated scatters, on every pool                                             #
# --------------------------------------------------------------------------- #
def test_a_repeated_scatter_reuses_the_parts_freed_before(pool, empty_caches):
    A = numbered(ROWS_PER_PART * len(pool), 1.0)
    pool.scatter_array(A, copy=True).remove()
    held = process_stats(pool)
    assert sum(s.held_buffers for s in held) == len(pool)  # one part per worker, all held
    assert sum(s.held_bytes for s in held) == A.nbytes

    with pool.scatter_array(A, copy=True) as again:
        after = process_stats(pool)
        assert sum(s.hits - h.hits for s, h in zip(after, held, strict=True)) == len(pool)
        assert sum(s.misses - h.misses for s, h in zip(after, held, strict=True)) == 0
        assert sum(s.held_bytes for s in after) == 0
        assert np.array_equal(np.concatenate(pool.apply(part_copy, U=again)), A)


def test_a_live_result_and_the_next_one_never_share_memory(pool, empty_caches):
    A, B, C = (numbered(ROWS_PER_PART * len(pool), start) for start in (1.0, 1e7, 2e7))
    first = pool.scatter_array(A, copy=True)
    second = pool.scatter_array(B, copy=True)  # first is alive: its buffers are not free
    assert np.array_equal(np.concatenate(pool.apply(part_copy, U=first)), A)
    assert np.array_equal(np.concatenate(pool.apply(part_copy, U=second)), B)
    first.remove()
    third = pool.scatter_array(C, copy=True)  # reuses first's buffers
    assert sum(s.held_bytes for s in process_stats(pool)) == 0
    assert np.array_equal(np.concatenate(pool.apply(part_copy, U=second)), B)
    assert np.array_equal(np.concatenate(pool.apply(part_copy, U=third)), C)
    second.remove()
    third.remove()


def test_a_cache_set_to_zero_holds_nothing(pool, empty_caches):
    A = numbered(ROWS_PER_PART * len(pool), 1.0)
    pool.scatter_array(A, copy=True).remove()
    assert sum(s.held_bytes for s in process_stats(pool)) == A.nbytes
    pool.apply(sp.set_buffer_cache, 0)
    before = process_stats(pool)
    assert [s.held_bytes for s in before] == [0] * len(before)
    with pool.scatter_array(A, copy=True) as again:
        assert np.array_equal(np.concatenate(pool.apply(part_copy, U=again)), A)
    after = process_stats(pool)
    assert [s.held_bytes for s in after] == [0] * len(after)
    assert [s.hits for s in after] == [s.hits for s in before]


# --------------------------------------------------------------------------- #
# the API in this process                                                      #
# --------------------------------------------------------------------------- #
def test_zeros_read_as_zeros_in_a_reused_buffer(cache_here):
    dirty = sp.VectorArray.from_numpy(np.full((ROWS_PER_PART, DIM), 7.0), copy=True)
    del dirty  # its buffer goes to the cache
    before = sp.buffer_cache()
    assert before.held_bytes == ROWS_PER_PART * DIM * 8
    zeros = sp.VectorArray.zeros(ROWS_PER_PART, DIM)
    assert sp.buffer_cache().hits == before.hits + 1
    assert not zeros.to_numpy().any()


def test_empty_array_memory_goes_back_to_the_cache(cache_here):
    a = _core.empty_array((3, MiB), np.uint8)
    assert a.shape == (3, MiB) and a.dtype == np.uint8 and a.flags.c_contiguous and a.flags.writeable
    a[:] = 5
    view = a[1]
    del a
    assert sp.buffer_cache().held_bytes == 0  # the view keeps the buffer alive
    assert (view == 5).all()
    del view
    assert sp.buffer_cache().held_bytes == 3 * MiB
    b = _core.empty_array((3 * MiB,), np.uint8)
    assert sp.buffer_cache().held_bytes == 0
    assert sp.buffer_cache().hits >= 1
    del b


def test_set_buffer_cache_caps_and_trim_frees(cache_here):
    a, b, c = (_core.empty_array((n * MiB,), np.uint8) for n in (2, 3, 4))
    del a, b, c  # given back in this order: a is the oldest held
    assert (sp.buffer_cache().held_bytes, sp.buffer_cache().held_buffers) == (9 * MiB, 3)
    sp.set_buffer_cache(7 * MiB)  # the oldest (2 MiB) goes
    assert sp.buffer_cache().held_bytes == 7 * MiB
    assert sp.buffer_cache().max_bytes == 7 * MiB
    sp.trim_buffer_cache(idle_seconds=3600)  # none held that long
    assert sp.buffer_cache().held_buffers == 2
    sp.trim_buffer_cache()
    assert sp.buffer_cache().held_bytes == 0
    sp.set_buffer_cache(idle_seconds=2.5)
    assert sp.buffer_cache().idle_seconds == 2.5
    assert sp.buffer_cache().max_bytes == 7 * MiB  # None leaves it


@pytest.mark.parametrize("call", [
    lambda: sp.set_buffer_cache(-1),
    lambda: sp.set_buffer_cache(idle_seconds=-1.0),
    lambda: sp.set_buffer_cache(idle_seconds=math.nan),
    lambda: sp.trim_buffer_cache(-1.0),
])
def test_negative_settings_are_refused(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize(("text", "expected"), [
    ("0", 0), ("1048576", MiB), ("512M", 512 * MiB), ("2g", 2 << 30), ("1.5G", 3 << 29), ("64 MiB", 64 * MiB),
    ("10k", 10 << 10),
])
def test_byte_counts(text, expected):
    assert parse_byte_count(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "lots", "5X", "1e9"])
def test_not_byte_counts(text):
    with pytest.raises(ValueError):
        parse_byte_count(text)


def _cap_in_subprocess(value: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SCATTERPOOL_BUFFER_CACHE=value)
    return subprocess.run([sys.executable, "-W", "always", "-c",
                           "import scatterpool; print(scatterpool.buffer_cache().max_bytes)"],
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_environment_variable_sets_the_cap_at_import():
    r = _cap_in_subprocess("64M")
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == 64 * MiB


def test_an_environment_variable_that_is_no_byte_count_warns_and_keeps_the_default():
    r = _cap_in_subprocess("plenty")
    assert r.returncode == 0, r.stderr
    assert "SCATTERPOOL_BUFFER_CACHE='plenty' is not a byte count" in r.stderr
    assert int(r.stdout) == os.sysconf("SC_PHYS_PAGES") // 8 * os.sysconf("SC_PAGE_SIZE")  # 1/8 of the memory
