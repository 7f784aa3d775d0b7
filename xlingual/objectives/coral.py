"""CORAL: match the second-order statistics of source and unlabeled target embeddings.

The loss (a pure module, usable on its own) and its registered objective live together here.

Deep CORAL: match the second-order statistics of source and target embeddings.

Sun & Saenko, "Deep CORAL: Correlation Alignment for Deep Domain Adaptation", ECCV workshops 2016.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import NoParams, Objective, StepContext
from .registry import register_objective


def _covariance(features: Tensor) -> Tensor:
    """Unbiased feature covariance ``(X - mean)ᵀ (X - mean) / (n - 1)`` of an ``[n, d]`` matrix."""
    centered = features - features.mean(dim=0, keepdim=True)
    return centered.T @ centered / (features.shape[0] - 1)


class CORALLoss(nn.Module):
    """CORAL loss ``‖C_S − C_T‖²_F / (4 d²)`` between source and target feature covariances.

    ``C_S`` and ``C_T`` are the unbiased (divide by ``n − 1``) ``d × d`` covariances of the
    source ``[n, d]`` and target ``[m, d]`` batches; ``n`` and ``m`` may differ. The loss is
    computed in float32 with autocast disabled: in half precision the centred outer products
    lose most of their digits, and the ``1/(4 d²)`` scale makes the result tiny.
    """

    def forward(self, source: Tensor, target: Tensor) -> Tensor:
        if source.dim() != 2 or target.dim() != 2 or source.shape[1] != target.shape[1]:
            raise ValueError(f"CORAL expects [n, d] and [m, d] tensors, got {tuple(source.shape)} and "
                             f"{tuple(target.shape)}")
        if source.shape[0] < 2 or target.shape[0] < 2:
            raise ValueError("CORAL needs at least two rows on each side to estimate a covariance")
        d = source.shape[1]
        with torch.autocast(device_type=source.device.type, enabled=False):
            difference = _covariance(source.float()) - _covariance(target.float())
            return difference.pow(2).sum() / (4 * d * d)


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
