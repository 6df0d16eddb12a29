"""An Immutable that counts how often this process pickles it (imported by shared_references.py on every rank)."""

import scatterpool as sp


class Counted(sp.Immutable):
    __slots__ = ("value",)
    pickled = 0

    def __init__(self, value):
        object.__setattr__(self, "value", value)

    def __reduce_ex__(self, protocol):
        Counted.pickled += 1
        return super().__reduce_ex__(protocol)
