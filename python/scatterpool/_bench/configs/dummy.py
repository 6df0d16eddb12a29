"""DummyPool's per-call cost beside pyMOR's DummyPool (where installed) and a bare Python call.

Both pools run the same functions on the same data; each row is timed interleaved with its pyMOR
counterpart. Targets: apply, apply_only ratio <= 0.5 against pyMOR; map, push, scatter_list <= 1.
"""

from __future__ import annotations

import copy as _copy
from typing import Any

import scatterpool as sp

from .. import timing as T
from ..options import Options
from ..record import Record, Target
from ..work import SMALL_DICT, f, g, h

N_MAP = 1000

ROWS = [  # key, label, statement, per-call items, target against pyMOR
    ("apply", "apply(f, obj=R)", "pool.apply(f, obj=R)", 1, 0.5),
    ("apply_only", "apply_only(f, 0, obj=R)", "pool.apply_only(f, 0, obj=R)", 1, 0.5),
    ("map", f"map(g, range({N_MAP})), per item", "pool.map(g, rng)", N_MAP, 1.0),
    ("map_kw", f"map(h, range({N_MAP}), obj=R), per item", "pool.map(h, rng, obj=R)", N_MAP, 1.0),
    ("push", "push(small dict) + remove()", "pool.push(d).remove()", 1, 1.0),
    ("push_imm", "push(immutable) + remove()", "pool.push(imm).remove()", 1, 1.0),
    ("scatter_list", "scatter_list(1000 ints) + remove()", "pool.scatter_list(lst).remove()", 1, 1.0),
]


class Params(sp.Immutable):
    """A user-defined immutable object: pushed once, shared."""


def _pymor_side() -> tuple[Any, type] | None:
    try:
        from pymor.core.base import ImmutableObject
        from pymor.parallel.dummy import DummyPool as PymorDummyPool
    except ImportError:
        return None

    class PymorParams(ImmutableObject):  # type: ignore[misc]
        pass

    return PymorDummyPool(), PymorParams


def run(rec: Record, opts: Options) -> None:
    sides: dict[str, tuple[Any, type]] = {"DummyPool": (sp.DummyPool(), Params)}
    theirs = _pymor_side()
    if theirs is not None:
        sides["pyMOR DummyPool"] = theirs
    ns = {}
    for side, (pool, Imm) in sides.items():
        R = pool.push(SMALL_DICT)
        imm, lst, rng = Imm(), list(range(1000)), range(N_MAP)
        got = pool.apply(f, obj=R)
        rec.check(got == [SMALL_DICT] and got[0] is not SMALL_DICT, f"{side}: apply(f, obj=R) gives a deep copy")
        rec.check(pool.map(h, rng, obj=R) == list(rng), f"{side}: map(h, range, obj=R)")
        with pool.push(imm) as ri:
            rec.check(pool.apply(f, obj=ri)[0] is imm, f"{side}: push(immutable) is not copied")
        ns[side] = {"pool": pool, "f": f, "g": g, "h": h, "R": R, "d": SMALL_DICT, "imm": imm, "lst": lst, "rng": rng}

    bare = T.Timer("bare Python call [f(*a, **k)]", "[f(*a, **k)]", {"f": f, "a": (), "k": {"obj": 1}},
                   target_s=opts.target_s)
    deep = T.Timer("copy.deepcopy(small dict)", "deepcopy(d)", {"deepcopy": _copy.deepcopy, "d": SMALL_DICT},
                   target_s=opts.target_s)
    # the plain-Python floor of a row is timed interleaved with it
    floors = {"apply": ("bare", bare), "push": ("deepcopy", deep)}
    for key, label, stmt, items, target in ROWS:
        timers = [T.Timer(f"{side}: {label}", stmt, ns[side], target_s=opts.target_s, per_call_items=items)
                  for side in sides]
        keys = [f"{side}:{key}" for side in sides]
        if key in floors:
            keys.append(floors[key][0])
            timers.append(floors[key][1])
        for k, r in zip(keys, T.measure_together(timers, opts.repeat), strict=True):
            rec.add(k, r, pool=k.split(":")[0] if ":" in k else "Python")
        if theirs is not None:
            rec.compare(f"DummyPool {label}", f"DummyPool:{key}", f"pyMOR DummyPool:{key}", Target("ratio<=", target))
    for side in sides:
        ns[side]["R"].remove()
    sides["DummyPool"][0].close()

    rec.add("empty_loop", T.measure_empty_loop(opts.repeat))
    rec.compare("DummyPool apply(f, obj=R) (info)", "DummyPool:apply", "bare")
    rec.compare("DummyPool push(small dict) + remove() (info)", "DummyPool:push", "deepcopy")
    if theirs is None:
        rec.note("pyMOR not installed: DummyPool's rows have no pyMOR anchor (the bench extra brings pyMOR)")
