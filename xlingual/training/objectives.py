"""Moved to :mod:`xlingual.objectives` (one module per objective, registered by name); kept for old imports."""

from __future__ import annotations

from ..objectives import Objective, SetupContext, StepContext, build_objectives, schedule_weight

__all__ = ["Objective", "SetupContext", "StepContext", "build_objectives", "schedule_weight"]
