"""Feature distillation: how far the current sentence embeddings moved from a frozen teacher's."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
