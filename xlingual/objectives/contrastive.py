"""Translation-pair contrastive alignment: symmetric InfoNCE between English sentences and their translations."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..losses import TranslationInfoNCELoss
from .base import Objective, StepContext
from .registry import register_objective


@dataclass
class ContrastiveParams:
    temperature: float = 0.05
    """InfoNCE temperature."""

    def validate(self, where: str) -> None:
        if self.temperature <= 0:
            raise ConfigError(f"{where}.temperature: must be positive, got {self.temperature}")


@register_objective
class ContrastiveObjective(Objective):
    """Symmetric InfoNCE between English sentences and their translations (in-batch negatives)."""

    name = "contrastive"
    Params = ContrastiveParams
    parts = ("pairs", "pairs_translation")
    target_resources = ("parallel",)

    def __init__(self, params=None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.loss = TranslationInfoNCELoss(self.params.temperature)

    def compute(self, context: StepContext) -> torch.Tensor:
        return self.loss(context.embeddings["pairs"], context.embeddings["pairs_translation"])
