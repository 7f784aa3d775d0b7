"""L2-SP (Li, Grandvalet & Davoine, ICML 2018, "Explicit Inductive Bias for Transfer Learning with
Convolutional Networks"): keep the fine-tuned encoder near its pretrained weights,

    Ω(θ) = Σ_{i ∈ trainable encoder weights} ‖θ_i − θ⁰_i‖²,

which in cross-lingual transfer protects what the pretrained encoder shares across languages from
being overwritten by English-only gradients. θ⁰ is copied when the run sets the objective up (the
model's pretrained weights); the head is not penalised (it starts random). It reads no stream and
uses no target-language data.

The loss (a pure module, usable on its own) and its registered objective live together here.

L2-SP: squared distance of the weights to their pretrained starting point.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from .base import Objective, SetupContext, StepContext
from .registry import register_objective


def l2_sp(parameters: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Ω(θ) = Σ_i ‖θ_i − θ⁰_i‖² over ``(current, reference)`` pairs (Li, Grandvalet & Davoine, ICML 2018).

    The penalty is 0 at the start of fine-tuning and pulls every weight back toward the pretrained
    one in proportion to how far it moved (its gradient is 2(θ − θ⁰))."""
    total = None
    for current, reference in parameters:
        term = (current.float() - reference.to(current.device, torch.float32)).pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("L2-SP needs at least one parameter")
    return total


@dataclass
class L2SPParams:
    prefix: str = "encoder."
    """Penalise the trainable parameters whose names start with this (the encoder; LoRA: the adapters)."""


@register_objective
class L2SPObjective(Objective):
    """‖θ − θ_pretrained‖² over the trainable encoder weights (0 at the start of training)."""

    name = "l2sp"
    Params = L2SPParams
    parts = ()
    target_resources = ()

    def setup(self, context: SetupContext) -> None:
        # Plain tensors, not buffers: the reference is the model's own starting point, rebuilt by setup on
        # resume, so it must not enter the resumable state or be moved by .to() with the objective.
        self.reference = {name: p.detach().clone() for name, p in context.model.named_parameters()
                          if p.requires_grad and name.startswith(self.params.prefix)}
        if not self.reference:
            raise ValueError(f"l2sp: no trainable parameter starts with '{self.params.prefix}'")

    def compute(self, context: StepContext) -> torch.Tensor:
        parameters = dict(context.model.named_parameters())
        return l2_sp((parameters[name], reference) for name, reference in self.reference.items())
