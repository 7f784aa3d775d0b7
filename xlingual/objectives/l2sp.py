"""L2-SP (Li, Grandvalet & Davoine, ICML 2018, "Explicit Inductive Bias for Transfer Learning with
Convolutional Networks"): keep the fine-tuned encoder near its pretrained weights,

    Ω(θ) = Σ_{i ∈ trainable encoder weights} ‖θ_i − θ⁰_i‖²,

which in cross-lingual transfer protects what the pretrained encoder shares across languages from
being overwritten by English-only gradients. θ⁰ is copied when the run sets the objective up (the
model's pretrained weights); the head is not penalised (it starts random). It reads no stream and
uses no target-language data.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..losses.l2sp import l2_sp
from .base import Objective, SetupContext, StepContext
from .registry import register_objective


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
