"""Knowledge distillation to a teacher's class distribution (Hinton, Vinyals & Dean 2015)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def temper(probabilities: torch.Tensor, temperature: float) -> torch.Tensor:
    """q_T ∝ q^(1/T): the distribution softmax(z/T) of the logits z = log q (T > 1 flattens, T < 1 sharpens)."""
    log_q = probabilities.float().clamp_min(1e-12).log() / temperature
    return torch.softmax(log_q, dim=-1)


class SoftLabelKLLoss(nn.Module):
    """Per row, T² · KL(q_T ‖ softmax(z/T)) = T² · Σ_c q_T,c (log q_T,c − log softmax(z/T)_c).

    ``q`` is the teacher's probability vector (tempered to q_T as in :func:`temper`), ``z`` the student's logits.
    The T² keeps the gradient's scale comparable to cross-entropy on hard labels when T changes. It is 0 exactly
    when the student's tempered distribution equals the teacher's; the teacher side carries no gradient.
    ``reduction``: ``none`` (one value per row), ``mean`` or ``sum``."""

    def __init__(self, temperature: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"reduction must be none, mean or sum, got {reduction!r}")
        self.temperature, self.reduction = float(temperature), reduction

    def forward(self, logits: torch.Tensor, teacher_probabilities: torch.Tensor) -> torch.Tensor:
        if logits.shape != teacher_probabilities.shape:
            raise ValueError(f"student logits {tuple(logits.shape)} and teacher probabilities "
                             f"{tuple(teacher_probabilities.shape)} differ in shape")
        t = self.temperature
        target = temper(teacher_probabilities.detach().to(logits.device), t)
        log_student = F.log_softmax(logits.float() / t, dim=-1)
        per_row = (target * (target.clamp_min(1e-12).log() - log_student)).sum(dim=-1) * t * t
        if self.reduction == "none":
            return per_row
        return per_row.sum() if self.reduction == "sum" else per_row.mean()
