"""DANN: a language discriminator behind gradient reversal (Ganin et al., JMLR 2016).

The reversal coefficient λ(p) = 2/(1+exp(-10p)) − 1 ramps up inside the gradient-reversal layer, so
``schedule: dann`` on this loss would apply the ramp a second time (λ² on the encoder's gradient):
it is refused. The discriminator's accuracy is logged (``dann_accuracy``, as tllib does): near chance
(1 / number of domains) means the encoder has made the languages indistinguishable.

The loss (a pure module, usable on its own) and its registered objective live together here.

Domain-adversarial loss (DANN): Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 2016.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import LossConfig
from ..errors import ConfigError
from .base import Objective, SetupContext, StepContext
from .gradient_reversal import GradientReversal, dann_coefficient
from .registry import register_objective


class DomainAdversarialLoss(nn.Module):
    """Cross-entropy ``CE(D(R_λ(h)), domain)`` of a domain discriminator ``D`` behind gradient reversal ``R_λ``.

    ``D`` is ``Linear(hidden_size, discriminator_hidden) → ReLU → Dropout → Linear(·, num_domains)``.
    One backward pass trains ``D`` to tell the domains apart and, through the reversed gradient
    (scaled by ``coefficient``, see :func:`~xlingual.objectives.gradient_reversal.dann_coefficient`),
    pushes the encoder towards embeddings it cannot tell apart. ``num_domains=2`` is the classic
    source-vs-target setting; more domains make ``D`` a multi-class classifier over languages.
    The discriminator's parameters belong to this module, so they must go to the optimiser.
    """

    def __init__(self, hidden_size: int, num_domains: int = 2, discriminator_hidden: int = 256,
                 dropout: float = 0.1):
        super().__init__()
        if num_domains < 2:
            raise ValueError(f"num_domains must be at least 2, got {num_domains}")
        self.num_domains = num_domains
        self.reversal = GradientReversal()
        self.discriminator = nn.Sequential(
            nn.Linear(hidden_size, discriminator_hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(discriminator_hidden, num_domains),
        )

    def _logits(self, embeddings: Tensor) -> Tensor:
        # The encoder may run in bf16 without autocast; match the discriminator's dtype.
        return self.discriminator(embeddings.to(self.discriminator[0].weight.dtype))

    def forward(self, embeddings: Tensor, domain_labels: Tensor, coefficient: float = 1.0,
                return_logits: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """The loss; with ``return_logits`` also the logits (for the accuracy, without a second pass)."""
        if embeddings.dim() != 2 or domain_labels.shape != embeddings.shape[:1]:
            raise ValueError(f"expected embeddings [n, d] and domain_labels [n], got {tuple(embeddings.shape)} "
                             f"and {tuple(domain_labels.shape)}")
        self.reversal.coefficient = float(coefficient)
        logits = self._logits(self.reversal(embeddings))
        loss = F.cross_entropy(logits.float(), domain_labels)
        return (loss, logits) if return_logits else loss

    @torch.no_grad()
    def accuracy(self, embeddings: Tensor, domain_labels: Tensor) -> float:
        """Discriminator accuracy (dropout off), for logging: near chance means the domains are aligned."""
        if embeddings.shape[0] == 0:
            return float("nan")
        was_training = self.discriminator.training
        self.discriminator.eval()
        try:
            predictions = self._logits(embeddings).argmax(dim=-1)
        finally:
            self.discriminator.train(was_training)
        return (predictions == domain_labels).float().mean().item()


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
