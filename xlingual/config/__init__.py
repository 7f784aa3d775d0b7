"""Typed recipe configuration: dataclasses that round-trip to YAML and JSON.

A recipe is a YAML file with one section per stage (model, lora, freeze, data, training, evaluation,
alignment, post-hoc steps, logging). :func:`load_recipe` reads it, applies dotted ``--set`` overrides, and
converts it into :class:`RecipeConfig`. Unknown keys and wrong types raise
:class:`~xlingual.errors.ConfigError` naming the key and the closest valid one, before any model or data is
touched.

    sections    model.py, data.py, training.py, evaluation.py, alignment.py, losses.py, recipe.py
    engine      conversion.py (plain data ⇄ sections), overrides.py (--set, strict YAML), loading.py
    registry    registry.py: the objectives a recipe may name; no import statement here reaches above the
                configuration (the built-ins are imported by name, on the first lookup)
"""

from __future__ import annotations

from .alignment import AlignmentConfig, PairsConfig, UnlabeledTargetConfig
from .conversion import check_template
from .data import CodeSwitchConfig, DataConfig, ExtraSourceConfig, PseudoLabeledConfig
from .evaluation import SIGNALS, EvaluationConfig, SelectionSignalsConfig
from .loading import load_recipe, load_recipe_dict
from .losses import LossConfig
from .model import FreezeConfig, LoraConfig, ModelConfig
from .overrides import apply_override, override_list
from .recipe import SIGNAL_SELECTION, RecipeConfig
from .training import (
    TRACKERS,
    AveragingConfig,
    InterpolationConfig,
    LoggingConfig,
    SelfTrainingConfig,
    TrainingConfig,
)

__all__ = [
    "SIGNALS", "SIGNAL_SELECTION", "TRACKERS", "AlignmentConfig", "AveragingConfig", "CodeSwitchConfig",
    "DataConfig", "EvaluationConfig", "ExtraSourceConfig", "FreezeConfig", "InterpolationConfig", "LoggingConfig",
    "LoraConfig", "LossConfig", "ModelConfig", "PairsConfig", "PseudoLabeledConfig", "RecipeConfig",
    "SelectionSignalsConfig", "SelfTrainingConfig", "TrainingConfig", "UnlabeledTargetConfig", "apply_override",
    "check_template", "load_recipe", "load_recipe_dict", "override_list",
]
