"""Extra training objectives beside the task loss, and the data streams they draw from.

The training step computes ``task loss + Σ weight_i(progress) · loss_i``. An objective
names the streams it needs (``"target"`` for unlabeled target-language text,
``"pairs"`` for translation pairs, ...); the loop draws one batch from each named stream
per step and hands everything to :meth:`Objective.compute`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch


@dataclass
class StepContext:
    """What an objective sees in one training step."""

    model: torch.nn.Module
    source_batch: dict[str, torch.Tensor]
    source_output: object
    """The model output on the labelled source batch (``logits``, ``embeddings``)."""
    streams: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    progress: float = 0.0
    """Fraction of training done, in [0, 1]."""
    cache: dict[str, object] = field(default_factory=dict)
    """Shared between objectives of one step, e.g. target embeddings computed once."""

    def embeddings(self, stream: str) -> torch.Tensor:
        """Pooled embeddings of one stream's batch, computed once per step and shared."""
        key = f"embeddings:{stream}"
        if key not in self.cache:
            batch = self.streams[stream]
            self.cache[key] = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).embeddings
        return self.cache[key]


class Objective(Protocol):
    """An auxiliary loss term."""

    name: str
    streams: tuple[str, ...]

    def weight(self, progress: float) -> float: ...

    def compute(self, context: StepContext) -> torch.Tensor: ...


WeightSchedule = Callable[[float], float]
