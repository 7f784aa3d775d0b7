"""CORAL: match the second-order statistics of source and unlabeled target embeddings."""

from __future__ import annotations

import torch

from ..losses import CORALLoss
from .base import NoParams, Objective, StepContext
from .registry import register_objective


@register_objective
class CORALObjective(Objective):
    """CORAL between source and unlabeled target embeddings."""

    name = "coral"
    Params = NoParams
    parts = ("target",)
    target_resources = ("unlabeled-target",)

    def __init__(self, params=None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.loss = CORALLoss()

    def compute(self, context: StepContext) -> torch.Tensor:
        return self.loss(context.embeddings["source"], context.embeddings["target"])
