"""Embedding-alignment losses that pull target-language embeddings towards the source language.

Distribution matching without pairs (:class:`CORALLoss`, :class:`MMDLoss`), adversarial domain
confusion (:class:`DomainAdversarialLoss`), and translation-pair contrastive alignment
(:class:`TranslationInfoNCELoss`); distillation to a teacher's class distribution
(:class:`SoftLabelKLLoss`, for soft pseudo-labels). ``LOSSES`` maps the recipe names to the classes.
"""

from __future__ import annotations

from torch import nn

from xlingual.losses.contrastive import TranslationInfoNCELoss
from xlingual.losses.coral import CORALLoss
from xlingual.losses.domain_adversarial import DomainAdversarialLoss
from xlingual.losses.gradient_reversal import GradientReversal, GradientReversalFunction, dann_coefficient
from xlingual.losses.mmd import MMDLoss
from xlingual.losses.soft_label_kl import SoftLabelKLLoss, temper

LOSSES: dict[str, type[nn.Module]] = {
    "coral": CORALLoss,
    "mmd": MMDLoss,
    "dann": DomainAdversarialLoss,
    "contrastive": TranslationInfoNCELoss,
}

__all__ = [
    "LOSSES",
    "CORALLoss",
    "DomainAdversarialLoss",
    "GradientReversal",
    "GradientReversalFunction",
    "MMDLoss",
    "SoftLabelKLLoss",
    "TranslationInfoNCELoss",
    "dann_coefficient",
    "temper",
]
