"""Registering an objective: the decorator that checks a class's declaration and files it under its name.

The lookup side (:func:`get_objective`, :func:`registered_objectives`) lives in :mod:`xlingual.config.registry`,
which recipes are checked against without importing any objective.
"""

from __future__ import annotations

from ..config.registry import _REGISTRY, _load_builtins, check_declaration
from .base import Objective


def register_objective(cls: type | None = None, *, replace: bool = False):
    """Class decorator: make an :class:`~xlingual.objectives.Objective` usable by its ``name`` in recipes.

    Registering a second class under a taken name is an error unless ``replace=True``; defining the same
    class again (a notebook cell run twice) replaces it quietly."""

    def decorate(klass: type) -> type:
        if not (isinstance(klass, type) and issubclass(klass, Objective)):
            raise TypeError(f"register_objective: {klass!r} is not a subclass of xlingual.objectives.Objective")
        check_declaration(klass)
        if klass.name not in _REGISTRY:
            _load_builtins()  # a user's name must not shadow a built-in that is simply not imported yet
        taken = _REGISTRY.get(klass.name)
        same = taken is not None and (taken.__module__, taken.__qualname__) == (klass.__module__, klass.__qualname__)
        if taken is not None and not (replace or same):
            raise ValueError(f"objective name '{klass.name}' is already registered by "
                             f"{taken.__module__}.{taken.__qualname__}; choose another name or pass replace=True")
        _REGISTRY[klass.name] = klass
        return klass

    return decorate(cls) if cls is not None else decorate


def unregister_objective(name: str) -> None:
    """Remove a registered objective (for tests and notebooks)."""
    _REGISTRY.pop(name, None)


