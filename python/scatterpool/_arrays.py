"""Recognising the kinds of arrays that scatter_array takes, without importing them."""

from __future__ import annotations

from typing import Any

__all__ = ["is_pymor_array"]


def is_pymor_array(U: Any) -> bool:
    """Whether ``U`` is a pyMOR ``VectorArray`` (recognised by name and module; pyMOR need not be installed)."""
    return any(
        c.__name__ == "VectorArray" and c.__module__ == "pymor.vectorarrays.interface" for c in type(U).__mro__
    )
