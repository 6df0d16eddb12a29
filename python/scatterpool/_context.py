"""Which worker runs the calling function, and its random number generator."""

from __future__ import annotations

import numpy as np

from . import _core

__all__ = ["worker_index", "worker_rng"]

_seeds: dict[int, int] = {}  # pool uid -> seed
_rngs: dict[tuple[int, int], np.random.Generator] = {}


def worker_index() -> int:
    """The index of the worker that runs the calling function.

    Raises ``RuntimeError`` outside a function run by a pool.
    """
    return _core.worker_index()


def worker_rng() -> np.random.Generator:
    """This worker's random number generator.

    Generators differ between the workers of a pool, and repeat from run to
    run for the same pool seed (worker ``i`` draws from
    ``SeedSequence(seed, spawn_key=(i,))``). Raises ``RuntimeError`` outside
    a function run by a pool.
    """
    key = (_core.worker_pool_uid(), _core.worker_index())
    rng = _rngs.get(key)
    if rng is None:
        seed = _seeds.get(key[0], 0)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(key[1],)))
        _rngs[key] = rng
    return rng


def register_seed(pool_uid: int, seed: int) -> None:
    """Seeds the generators of the workers of pool ``pool_uid``."""
    _seeds[pool_uid] = seed


def forget_pool(pool_uid: int) -> None:
    """Drops the generators of a closed pool."""
    _seeds.pop(pool_uid, None)
    for key in [k for k in _rngs if k[0] == pool_uid]:
        del _rngs[key]
