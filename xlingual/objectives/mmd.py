"""Multi-kernel MMD between source and unlabeled target embeddings (DAN)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..errors import ConfigError
from ..losses import MMDLoss
from .base import Objective, StepContext
from .registry import register_objective


@dataclass
class MMDParams:
    kernel_multipliers: list[float] = field(default_factory=lambda: [0.25, 0.5, 1.0, 2.0, 4.0])
    """Gaussian bandwidths as multiples of the median heuristic."""
    unbiased: bool = False
    """Unbiased estimate (drops the diagonal terms)."""

    def validate(self, where: str) -> None:
        if not self.kernel_multipliers or any(m <= 0 for m in self.kernel_multipliers):
            raise ConfigError(f"{where}.kernel_multipliers: must be positive numbers")


@register_objective
class MMDObjective(Objective):
    """Multi-kernel MMD between source and unlabeled target embeddings."""

    name = "mmd"
    Params = MMDParams
    parts = ("target",)
    target_resources = ("unlabeled-target",)

    def __init__(self, params=None, **kwargs) -> None:
        super().__init__(params, **kwargs)
        self.loss = MMDLoss(self.params.kernel_multipliers, unbiased=self.params.unbiased)

    def compute(self, context: StepContext) -> torch.Tensor:
        return self.loss(context.embeddings["source"], context.embeddings["target"])
