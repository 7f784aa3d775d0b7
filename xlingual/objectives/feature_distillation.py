"""Feature distillation to the frozen pretrained encoder: keep the sentence embeddings where the
multilingual pretraining put them (as in representation-preserving fine-tuning; cf. LwF, Li & Hoiem 2017),

    L = mean_i (1 − cos(f_θ(x_i), f_θ⁰(x_i)))      (or the mean squared difference, ``metric: mse``),

on the source batch (``distill_source``) or on unlabeled target-language text (``distill_target``,
which also keeps the source term). The teacher f_θ⁰ is a frozen copy of the model made at setup; its
embedding of each distinct text is computed once (no dropout) and cached, so after the first pass over
the data the teacher costs nothing.

The loss (a pure module, usable on its own) and its registered objective live together here.

Feature distillation: how far the current sentence embeddings moved from a frozen teacher's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from .base import Objective, SetupContext, StepContext
from .registry import register_objective


def feature_distillation(student: torch.Tensor, teacher: torch.Tensor, metric: str = "cosine") -> torch.Tensor:
    """Mean over rows of 1 − cos(s_i, t_i) (``cosine``) or of ‖s_i − t_i‖² / d (``mse``).

    0 when the student reproduces the teacher's embeddings; the teacher side carries no gradient."""
    if student.shape != teacher.shape:
        raise ValueError(f"student and teacher embeddings differ in shape: {tuple(student.shape)} vs "
                         f"{tuple(teacher.shape)}")
    teacher = teacher.detach().to(student.device, student.dtype)
    if metric == "cosine":
        return (1 - F.cosine_similarity(student.float(), teacher.float(), dim=1)).mean()
    if metric == "mse":
        return (student.float() - teacher.float()).pow(2).mean()
    raise ValueError(f"unknown distillation metric {metric!r}; use cosine or mse")


@dataclass
class DistillationParams:
    metric: Literal["cosine", "mse"] = "cosine"


class _Distillation(Objective):
    """Shared machinery: the frozen teacher and its per-text embedding cache."""

    Params = DistillationParams
    distilled: tuple[str, ...] = ("source",)

    def setup(self, context: SetupContext) -> None:
        teacher = copy.deepcopy(context.model).eval()
        for parameter in teacher.parameters():
            parameter.requires_grad_(False)
        self.__dict__["teacher"] = teacher  # not a submodule: outside state_dict, optimiser and .to()
        self.cache: dict[tuple[int, ...], torch.Tensor] = {}

    def teacher_embeddings(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The teacher's embedding of every row, computing only rows not seen before."""
        ids, mask = batch["input_ids"], batch["attention_mask"]
        keys = [tuple(row[: int(n)].tolist()) for row, n in zip(ids.cpu(), mask.sum(dim=1).cpu(), strict=True)]
        missing = [i for i, key in enumerate(keys) if key not in self.cache]
        if missing:
            teacher = self.teacher.to(ids.device)
            with torch.no_grad():
                rows = teacher.embed(ids[missing], mask[missing]).float().cpu()
            for i, row in zip(missing, rows, strict=True):
                self.cache[keys[i]] = row
        return torch.stack([self.cache[key] for key in keys]).to(ids.device)

    def compute(self, context: StepContext) -> torch.Tensor:
        terms = [feature_distillation(context.embeddings[part], self.teacher_embeddings(context.batches[part]),
                                      self.params.metric) for part in self.distilled]
        return sum(terms) / len(terms)


@register_objective
class SourceDistillationObjective(_Distillation):
    """1 − cos to the pretrained encoder's embeddings of the source (English) training batch."""

    name = "distill_source"
    parts = ()
    target_resources = ()
    distilled = ("source",)


@register_objective
class TargetDistillationObjective(_Distillation):
    """1 − cos to the pretrained encoder's embeddings, on the source batch and on unlabeled target text."""

    name = "distill_target"
    parts = ("target",)
    target_resources = ("unlabeled-target",)
    distilled = ("source", "target")
