"""Pickling of the pyMOR objects that pyMOR itself pickles so that they break on the other side.

``ScipySpSolveSolver`` (pyMOR 2026.1.1) keeps its sparse LU factorizations in a
cache on the class, and its ``__getstate__`` writes ``_factorizations = None``
into the pickled state. Unpickled, that ``None`` becomes an instance attribute
that shadows the class's cache, and the first solve fails with
``AttributeError: 'NoneType' object has no attribute 'get'``. Every model,
operator, product or reductor that holds such a solver and travels to another
process (an ``MPIPool``'s ``push``, or an argument of ``apply``/``map``) fails
there: ``reduction_error_analysis`` with a reductor's product, for one.

:func:`register` adds a reducer for that class to ``copyreg``'s dispatch
table, which the pickler of the MPI calls (and cloudpickle) consult before
the class's own ``__reduce_ex__``: the state is pyMOR's, less the shadowing
``None``, so the unpickled solver uses the class's cache. It is gated on the
behaviour, not on a version number: the reducer is registered only when a
solver, pickled with pyMOR's own methods, comes back with the shadowing
``None`` (checked once, when :mod:`scatterpool.pymor` is imported); a pyMOR
that pickles it right is left alone. ``copyreg`` is process-wide, so pyMOR's
own pools in the same process benefit too. Copies (``copy.deepcopy``) are
not concerned: pyMOR's immutable objects copy as themselves.
"""

from __future__ import annotations

import copyreg
import pickle
from typing import Any

__all__ = ["register", "registered"]

_SHADOWING_ATTRIBUTE = "_factorizations"
_MISSING = object()
registered: list[type] = []  # the classes this module gave a reducer


def _reduce_without_shadowing_cache(solver: Any) -> Any:
    func, args, state, *rest = solver.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    if isinstance(state, dict) and state.get(_SHADOWING_ATTRIBUTE, _MISSING) is None:
        state = {k: v for k, v in state.items() if k != _SHADOWING_ATTRIBUTE}
    return (func, args, state, *rest)


def _pickles_a_shadowing_none(cls: type) -> bool:
    """Whether an instance of ``cls``, pickled by pyMOR's own methods, comes back with the cache shadowed."""
    if cls in copyreg.dispatch_table or _SHADOWING_ATTRIBUTE not in vars(cls):
        return False
    clone = pickle.loads(pickle.dumps(cls(), pickle.HIGHEST_PROTOCOL))
    return vars(clone).get(_SHADOWING_ATTRIBUTE, _MISSING) is None


def register() -> None:
    """Registers the reducer for each pyMOR class that needs it (see the module's documentation)."""
    try:
        from pymor.bindings.scipy import ScipySpSolveSolver
    except ImportError:  # a pyMOR without it has nothing to fix here
        return
    if _pickles_a_shadowing_none(ScipySpSolveSolver):
        copyreg.pickle(ScipySpSolveSolver, _reduce_without_shadowing_cache)
        registered.append(ScipySpSolveSolver)
