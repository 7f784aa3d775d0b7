"""DANN: a language discriminator behind gradient reversal (Ganin et al., JMLR 2016).

The reversal coefficient λ(p) = 2/(1+exp(-10p)) − 1 ramps up inside the gradient-reversal layer, so
``schedule: dann`` on this loss would apply the ramp a second time (λ² on the encoder's gradient):
it is refused. The discriminator's accuracy is logged (``dann_accuracy``, as tllib does): near chance
(1 / number of domains) means the encoder has made the languages indistinguishable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from ..config import LossConfig
from ..errors import ConfigError
from ..losses import DomainAdversarialLoss
from ..losses.gradient_reversal import dann_coefficient
from .base import Objective, SetupContext, StepContext
from .registry import register_objective


@dataclass
class DANNParams:
    domains: Literal["binary", "languages"] = "binary"
    """Source vs target, or one class per language."""
    discriminator_hidden: int = 256
    discriminator_learning_rate: float | None = None
    """Default: the head's learning rate."""

    def validate(self, where: str) -> None:
        if self.domains not in ("binary", "languages"):
            raise ConfigError(f"{where}.domains: '{self.domains}' is not one of binary, languages")
        if self.discriminator_hidden < 1:
            raise ConfigError(f"{where}.discriminator_hidden: must be at least 1, got {self.discriminator_hidden}")
        if self.discriminator_learning_rate is not None and self.discriminator_learning_rate <= 0:
            raise ConfigError(
                f"{where}.discriminator_learning_rate: must be positive or null, got {self.discriminator_learning_rate}"
            )


@register_objective
class DomainAdversarialObjective(Objective):
    """DANN: a language discriminator behind gradient reversal (λ follows 2/(1+exp(-10p)) − 1)."""

    name = "dann"
    Params = DANNParams
    parts = ("target",)
    target_resources = ("unlabeled-target",)

    @classmethod
    def check(cls, config: LossConfig, where: str) -> None:
        super().check(config, where)
        if config.schedule == "dann":
            raise ConfigError(f"{where}.schedule: 'dann' would ramp the dann loss twice: its gradient-reversal layer "
                              "already scales the encoder's gradient by 2/(1+exp(-10p)) − 1; use schedule: constant")

    def setup(self, context: SetupContext) -> None:
        self.num_domains = 2 if self.params.domains == "binary" else 1 + len(context.target_languages)
        self.loss = DomainAdversarialLoss(context.hidden_size, self.num_domains, self.params.discriminator_hidden)

    @property
    def learning_rate(self) -> float | None:
        return self.params.discriminator_learning_rate

    def compute(self, context: StepContext) -> torch.Tensor:
        source, target = context.embeddings["source"], context.embeddings["target"]
        target_domain = (torch.ones(len(target), dtype=torch.long, device=target.device) if self.num_domains == 2
                         else context.batches["target"]["language_ids"].to(target.device) + 1)
        labels = torch.cat([torch.zeros(len(source), dtype=torch.long, device=source.device), target_domain])
        loss, logits = self.loss(torch.cat([source, target]), labels, coefficient=dann_coefficient(context.progress),
                                 return_logits=True)
        context.log(f"{self.name}_accuracy", (logits.detach().argmax(dim=-1) == labels).float().mean().item())
        return loss
