"""Alignment objectives: loss terms added to the task loss, each declared once and registered by name.

Built-ins (``coral``, ``mmd``, ``dann``, ``contrastive``, ``l2sp``, ``distill_source``/``distill_target``,
``consistency``) are the modules of this package, each holding its pure loss beside the registered objective;
adding one is adding a module here. A user's own objective is a subclass of :class:`Objective` decorated with
:func:`register_objective`, usable by name in a recipe or passed as an instance to
``xlingual.train(..., objectives=[...])``.
"""

from __future__ import annotations

from ..config.registry import (
    STREAM_RESOURCES,
    STREAM_SECTIONS,
    TARGET_RESOURCES,
    get_objective,
    registered_objectives,
)
from .base import NoParams, Objective, SetupContext, StepContext, build_objectives, schedule_weight
from .registry import register_objective, unregister_objective

__all__ = [
    "STREAM_RESOURCES", "STREAM_SECTIONS", "TARGET_RESOURCES", "NoParams", "Objective", "SetupContext",
    "StepContext", "build_objectives", "get_objective", "register_objective", "registered_objectives",
    "schedule_weight", "unregister_objective",
]
