"""Alignment objectives beside the task loss, built from the recipe's ``alignment.losses``.

The training step computes ``task loss + Σ weight_i(progress) · loss_i``. Every batch of a
step (the labelled source batch and one batch per stream an objective names: ``target``
for unlabeled target-language text, ``pairs``/``pairs_translation`` for the two sides of
translation pairs) goes through the encoder; an objective then reads the pooled embeddings
of the parts it needs from :class:`StepContext`. In one process each part has its own forward
pass (padding only to its own longest row); under DistributedDataParallel the parts share one
concatenated forward, as DDP expects one forward per backward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ..config import LossConfig
from ..losses import CORALLoss, DomainAdversarialLoss, MMDLoss, TranslationInfoNCELoss
from ..losses.gradient_reversal import dann_coefficient


@dataclass
class StepContext:
    """What an objective sees in one training step."""

    embeddings: dict[str, torch.Tensor]
    """Pooled embeddings per part: ``source``, and ``target``, ``pairs``, ``pairs_translation`` when drawn."""
    batches: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    """The stream batches, for extra fields such as ``language_ids``."""
    progress: float = 0.0
    """Fraction of training done, in [0, 1]."""


def schedule_weight(config: LossConfig, progress: float) -> float:
    """The loss weight at ``progress``: constant, linear warm-up, or DANN's 2/(1+exp(-10p)) − 1."""
    if config.schedule == "linear":
        return config.weight * (min(1.0, progress / config.warmup_ratio) if config.warmup_ratio > 0 else 1.0)
    if config.schedule == "dann":
        return config.weight * dann_coefficient(progress)
    return config.weight


class Objective(nn.Module):
    """An auxiliary loss term; subclasses say which stream parts they read."""

    parts: tuple[str, ...] = ()

    def __init__(self, config: LossConfig) -> None:
        super().__init__()
        self.config = config
        self.name = config.name

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(sorted({part.split("_")[0] for part in self.parts}))

    def weight(self, progress: float) -> float:
        return schedule_weight(self.config, progress)

    def compute(self, context: StepContext) -> torch.Tensor:
        raise NotImplementedError


class CORALObjective(Objective):
    """CORAL between source and unlabeled target embeddings."""

    parts = ("target",)

    def __init__(self, config: LossConfig) -> None:
        super().__init__(config)
        self.loss = CORALLoss()

    def compute(self, context: StepContext) -> torch.Tensor:
        return self.loss(context.embeddings["source"], context.embeddings["target"])


class MMDObjective(Objective):
    """Multi-kernel MMD between source and unlabeled target embeddings."""

    parts = ("target",)

    def __init__(self, config: LossConfig) -> None:
        super().__init__(config)
        self.loss = MMDLoss(config.kernel_multipliers, unbiased=config.unbiased)

    def compute(self, context: StepContext) -> torch.Tensor:
        return self.loss(context.embeddings["source"], context.embeddings["target"])


class DomainAdversarialObjective(Objective):
    """DANN: a language discriminator behind gradient reversal (λ follows 2/(1+exp(-10p)) − 1)."""

    parts = ("target",)

    def __init__(self, config: LossConfig, hidden_size: int, num_target_languages: int) -> None:
        super().__init__(config)
        self.num_domains = 2 if config.domains == "binary" else 1 + num_target_languages
        self.loss = DomainAdversarialLoss(hidden_size, self.num_domains, config.discriminator_hidden)

    def compute(self, context: StepContext) -> torch.Tensor:
        source, target = context.embeddings["source"], context.embeddings["target"]
        target_domain = (torch.ones(len(target), dtype=torch.long, device=target.device) if self.num_domains == 2
                         else context.batches["target"]["language_ids"].to(target.device) + 1)
        labels = torch.cat([torch.zeros(len(source), dtype=torch.long, device=source.device), target_domain])
        return self.loss(torch.cat([source, target]), labels, coefficient=dann_coefficient(context.progress))


class ContrastiveObjective(Objective):
    """Symmetric InfoNCE between English sentences and their translations (in-batch negatives)."""

    parts = ("pairs", "pairs_translation")

    def __init__(self, config: LossConfig) -> None:
        super().__init__(config)
        self.loss = TranslationInfoNCELoss(config.temperature)

    def compute(self, context: StepContext) -> torch.Tensor:
        return self.loss(context.embeddings["pairs"], context.embeddings["pairs_translation"])


def build_objectives(configs: Sequence[LossConfig], hidden_size: int, num_target_languages: int) -> list[Objective]:
    """One objective per configured loss, in recipe order."""
    objectives: list[Objective] = []
    for config in configs:
        if config.name == "coral":
            objectives.append(CORALObjective(config))
        elif config.name == "mmd":
            objectives.append(MMDObjective(config))
        elif config.name == "dann":
            objectives.append(DomainAdversarialObjective(config, hidden_size, num_target_languages))
        else:
            objectives.append(ContrastiveObjective(config))
    return objectives
