"""Multi-kernel MMD between source and unlabeled target embeddings (DAN).

The loss (a pure module, usable on its own) and its registered objective live together here.

Multi-kernel Gaussian maximum mean discrepancy between source and target embeddings.

Gretton et al., "A Kernel Two-Sample Test", JMLR 2012; used as an adaptation loss with a sum of
Gaussian kernels by Long et al., "Learning Transferable Features with Deep Adaptation Networks" (DAN), ICML 2015.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from .base import Objective, StepContext
from .registry import register_objective


class MMDLoss(nn.Module):
    """Squared MMD ``E k(x, x') + E k(y, y') − 2 E k(x, y)`` with a sum of Gaussian kernels.

    ``k(a, b) = Σ_u exp(−‖a − b‖² / (u · h))`` over the ``kernel_multipliers`` ``u``, where the
    bandwidth ``h`` is the median heuristic: the median pairwise squared distance over the pooled
    sample ``[x; y]`` (detached, so the bandwidth does not become something to optimise). A range of
    bandwidths around the median keeps the loss informative whether the two samples are far apart
    or already close.

    The biased estimate (``unbiased=False``, the DAN default) averages over all pairs including the
    diagonal of ``K_xx`` and ``K_yy``; it is never negative but is biased upward by ``O(1/n)``. The
    unbiased estimate drops the diagonal terms (``Σ_{i≠j} k(x_i, x_j) / (n(n−1))``), averages to 0 when
    both samples come from one distribution, and can be slightly negative. ``n`` and ``m`` may differ.
    Computed in float32 with autocast disabled: squared distances by norm expansion are unusable in half precision.
    """

    def __init__(self, kernel_multipliers: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0), unbiased: bool = False):
        super().__init__()
        if not kernel_multipliers or any(u <= 0 for u in kernel_multipliers):
            raise ValueError(f"kernel_multipliers must be non-empty and positive, got {kernel_multipliers!r}")
        self.kernel_multipliers = tuple(float(u) for u in kernel_multipliers)
        self.unbiased = unbiased

    def extra_repr(self) -> str:
        return f"kernel_multipliers={self.kernel_multipliers}, unbiased={self.unbiased}"

    def forward(self, source: Tensor, target: Tensor) -> Tensor:
        if source.dim() != 2 or target.dim() != 2 or source.shape[1] != target.shape[1]:
            raise ValueError(f"MMD expects [n, d] and [m, d] tensors, got {tuple(source.shape)} and "
                             f"{tuple(target.shape)}")
        n, m = source.shape[0], target.shape[0]
        minimum = 2 if self.unbiased else 1
        if n < minimum or m < minimum:
            raise ValueError(f"{'unbiased' if self.unbiased else 'biased'} MMD needs at least {minimum} rows per side")
        with torch.autocast(device_type=source.device.type, enabled=False):
            pooled = torch.cat([source.float(), target.float()])
            squared_norms = pooled.pow(2).sum(dim=1)
            distances = (squared_norms[:, None] + squared_norms[None, :] - 2 * pooled @ pooled.T).clamp_min(0)
            diagonal = torch.eye(n + m, dtype=torch.bool, device=pooled.device)
            distances = distances.masked_fill(diagonal, 0.0)
            off_diagonal = distances.detach()[~diagonal]
            median = off_diagonal.median() if off_diagonal.numel() else distances.new_tensor(1.0)
            median = median.clamp_min(torch.finfo(torch.float32).eps)
            kernel = sum(torch.exp(-distances / (u * median)) for u in self.kernel_multipliers)
            k_xx, k_yy, k_xy = kernel[:n, :n], kernel[n:, n:], kernel[:n, n:]
            if self.unbiased:
                xx = (k_xx.sum() - k_xx.diagonal().sum()) / (n * (n - 1))
                yy = (k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
            else:
                xx, yy = k_xx.mean(), k_yy.mean()
            return xx + yy - 2 * k_xy.mean()


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
