"""Translation-pair contrastive alignment: symmetric InfoNCE between English sentences and their translations.

The loss (a pure module, usable on its own) and its registered objective live together here.

Translation-pair contrastive loss: symmetric InfoNCE with in-batch negatives.

van den Oord et al., "Representation Learning with Contrastive Predictive Coding", 2018 (InfoNCE);
the symmetric in-batch form over parallel sentences follows Feng et al., "Language-agnostic BERT Sentence
Embedding" (LaBSE), ACL 2022.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from .base import Objective, StepContext
from .registry import register_objective


class TranslationInfoNCELoss(nn.Module):
    """``(CE(S, I) + CE(Sᵀ, I)) / 2`` with ``S_ij = cos(a_i, b_j) / τ`` and targets ``I = (0, 1, …, n−1)``.

    ``a[i]`` (English) and ``b[i]`` (its translation) are a positive pair; every other ``b[j]`` in
    the batch is a negative for ``a[i]`` and vice versa, so each language is pulled towards its
    translation and away from unrelated sentences. Computed in float32 with autocast disabled.
    """

    def __init__(self, temperature: float = 0.05):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}"

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        if a.dim() != 2 or a.shape != b.shape:
            raise ValueError(f"expected two [n, d] tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
        if a.shape[0] == 0:
            raise ValueError("InfoNCE needs at least one pair")
        with torch.autocast(device_type=a.device.type, enabled=False):
            logits = F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).T / self.temperature
            targets = torch.arange(a.shape[0], device=a.device)
            return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


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
