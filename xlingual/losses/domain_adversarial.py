"""Domain-adversarial loss (DANN): Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR 2016."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from xlingual.losses.gradient_reversal import GradientReversal


class DomainAdversarialLoss(nn.Module):
    """Cross-entropy ``CE(D(R_λ(h)), domain)`` of a domain discriminator ``D`` behind gradient reversal ``R_λ``.

    ``D`` is ``Linear(hidden_size, discriminator_hidden) → ReLU → Dropout → Linear(·, num_domains)``.
    One backward pass trains ``D`` to tell the domains apart and, through the reversed gradient
    (scaled by ``coefficient``, see :func:`~xlingual.losses.gradient_reversal.dann_coefficient`),
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
