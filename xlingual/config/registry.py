"""The objective registry: one declaration per alignment objective, everything else derived from it.

The registry lives with the configuration because recipes are checked against it: a recipe names an
objective, and this module finds it by that name. It imports nothing above the configuration; the
built-in objectives register themselves (:func:`xlingual.objectives.register_objective`) when
``xlingual.objectives`` is imported, which the first lookup does by name.

An objective class declares its ``name``, its own ``Params`` dataclass, the stream ``parts`` it reads
and the ``target_resources`` it implies, and is registered with
:func:`~xlingual.objectives.register_objective` (the way peft registers its methods). Recipe parsing
and validation, the stream rules (``alignment.losses[i]: 'coral' needs alignment.unlabeled_target``),
:func:`build_objectives` and
:func:`xlingual.protocol.target_resources` all read this registry, so a new built-in objective is one
module in ``xlingual/objectives/`` and a user's own objective needs no edit to xlingual at all.

This module imports no torch, so reading a recipe stays fast; the built-in objectives (every module of
``xlingual.objectives``) are imported the first time a name is looked up.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any

from ..errors import ConfigError, did_you_mean

STREAM_SECTIONS = {"target": "unlabeled_target", "pairs": "pairs"}
"""Stream name → the ``alignment`` section that loads it."""
STREAM_RESOURCES = {"target": "unlabeled-target", "pairs": "parallel"}
"""Stream name → the target-side resource a run reading it uses (recorded in results.json)."""
TARGET_RESOURCES = ("unlabeled-target", "parallel", "target-labels")
"""Target-side resources an objective may declare, in the order results.json lists them."""

OBJECTIVES_PACKAGE = "xlingual.objectives"
"""Where the built-in objectives live; imported by name on the first lookup."""
_REGISTRY: dict[str, type] = {}
_BUILTINS_LOADED = False
_NOT_OBJECTIVES = {"registry", "base", "soft_label_kl", "gradient_reversal"}


def _load_builtins() -> None:
    """Import every module of ``xlingual.objectives``: each registers its objective on import."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    package = importlib.import_module(OBJECTIVES_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in _NOT_OBJECTIVES and not module.name.startswith("_"):
            importlib.import_module(f"{OBJECTIVES_PACKAGE}.{module.name}")


def streams_of(parts: tuple[str, ...]) -> tuple[str, ...]:
    """The streams behind embedding parts: ``pairs_translation`` comes from the ``pairs`` stream."""
    return tuple(sorted({part.split("_")[0] for part in parts} - {"source"}))


def check_declaration(cls: type) -> None:
    """Refuse a class whose declaration is incomplete or inconsistent (a bug in the objective, not user input)."""
    where = f"objective {cls.__module__}.{cls.__qualname__}"
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise TypeError(f"{where}: declare a class attribute name = '<recipe name>' (letters, digits, - and _)")
    params = getattr(cls, "Params", None)
    if not (isinstance(params, type) and dataclasses.is_dataclass(params)):
        raise TypeError(f"{where}: Params must be a dataclass of the objective's settings")
    clash = {f.name for f in dataclasses.fields(params)} & {"name", "weight", "schedule", "warmup_ratio", "params"}
    if clash:
        raise TypeError(f"{where}: Params may not redefine the common loss keys {sorted(clash)}")
    if not any("target_resources" in vars(klass) for klass in cls.__mro__[:-1] if klass.__name__ != "Objective"):
        raise TypeError(f"{where}: declare target_resources, the target-side data the objective trains with "
                        "(() when it uses none); it is recorded in results.json and guards comparisons")
    resources = cls.target_resources
    if not isinstance(resources, tuple) or any(r not in TARGET_RESOURCES for r in resources):
        raise TypeError(f"{where}: target_resources must be a tuple drawn from {TARGET_RESOURCES}, got {resources!r}")
    unknown = [p for p in cls.parts if p.split("_")[0] not in ("source", *STREAM_SECTIONS)]
    if unknown:
        raise TypeError(f"{where}: unknown parts {unknown}; parts are source, target, pairs, pairs_translation")
    for stream in streams_of(cls.parts):
        if STREAM_RESOURCES[stream] not in resources:
            raise TypeError(f"{where}: reads the '{stream}' stream, so target_resources must include "
                            f"'{STREAM_RESOURCES[stream]}'")


def registered_objectives() -> dict[str, type]:
    """Every registered objective class by name, built-ins included."""
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


def get_objective(name: Any, where: str = "alignment.losses[].name") -> type:
    """The class registered as ``name``; an unknown name is a ConfigError with a did-you-mean."""
    _load_builtins()
    if isinstance(name, str) and name in _REGISTRY:
        return _REGISTRY[name]
    names = sorted(_REGISTRY)
    raise ConfigError(f"{where}: unknown objective {name!r}{did_you_mean(name, names)}; registered objectives: "
                      f"{', '.join(names)} (a custom one is registered with @xlingual.register_objective)")


def missing_stream_sections(cls: type, alignment: Any) -> list[str]:
    """The ``alignment`` sections an objective needs that the recipe leaves unset."""
    return [STREAM_SECTIONS[s] for s in streams_of(cls.parts) if getattr(alignment, STREAM_SECTIONS[s]) is None]


def ordered_resources(resources: set[str]) -> list[str]:
    """Target resources in their canonical order, as results.json lists them."""
    return [r for r in TARGET_RESOURCES if r in resources]
