"""Gradient reversal layer and its warm-up schedule (Ganin & Lempitsky, ICML 2015; Ganin et al., JMLR 2016).

The layer lets a domain discriminator and the encoder share one backward pass: the discriminator
minimises the domain loss while the encoder, receiving the negated gradient, maximises it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn


class GradientReversalFunction(torch.autograd.Function):
    """``R(x) = x`` forward, ``∂R/∂x = −λ I`` backward."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, coefficient: float) -> Tensor:
        ctx.coefficient = float(coefficient)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor, None]:
        return grad_output * -ctx.coefficient, None


class GradientReversal(nn.Module):
    """Module form of :class:`GradientReversalFunction`; ``coefficient`` (λ) may be changed between steps."""

    def __init__(self, coefficient: float = 1.0):
        super().__init__()
        self.coefficient = float(coefficient)

    def extra_repr(self) -> str:
        return f"coefficient={self.coefficient}"

    def forward(self, x: Tensor) -> Tensor:
        return GradientReversalFunction.apply(x, self.coefficient)


def dann_coefficient(progress: float, gamma: float = 10.0) -> float:
    """DANN schedule ``λ(p) = 2 / (1 + exp(−γ p)) − 1`` for training progress ``p`` in [0, 1].

    Starts at 0 so the noisy early discriminator does not disturb the encoder, and approaches 1.
    Evaluated as the identical ``tanh(γ p / 2)``, which cannot overflow.
    """
    return math.tanh(gamma * progress / 2)
