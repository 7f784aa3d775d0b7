"""Endless batch streams for objectives: unlabeled target text, translation pairs, ...

Each stream reshuffles with its own seeded RNG when it runs out, so the labelled
source batches and the auxiliary batches stay reproducible independently.
"""

from __future__ import annotations

import random
from typing import Protocol

import torch

from ..data.batching import TokenizedExamples, collate


class Stream(Protocol):
    """An endless source of batches for an objective."""

    def next_batch(self) -> dict[str, torch.Tensor]: ...


class TextStream:
    """Batches of unlabeled texts (labels are never part of them)."""

    def __init__(self, data: TokenizedExamples | list[TokenizedExamples], batch_size: int, seed: int) -> None:
        parts = data if isinstance(data, list) else [data]
        self.input_ids = [ids for part in parts for ids in part.input_ids]
        self.languages = [index for index, part in enumerate(parts) for _ in part.input_ids]
        if not self.input_ids:
            raise ValueError("an unlabeled stream needs at least one text")
        self.pad_token_id = parts[0].pad_token_id
        self.batch_size = min(batch_size, len(self.input_ids))
        self.rng = random.Random(seed)
        self.order: list[int] = []

    def _take(self) -> list[int]:
        if len(self.order) < self.batch_size:
            fresh = list(range(len(self.input_ids)))
            self.rng.shuffle(fresh)
            self.order.extend(fresh)
        taken, self.order = self.order[: self.batch_size], self.order[self.batch_size:]
        return taken

    def next_batch(self) -> dict[str, torch.Tensor]:
        indices = self._take()
        batch = collate([self.input_ids[i] for i in indices], self.pad_token_id)
        batch["language_ids"] = torch.tensor([self.languages[i] for i in indices], dtype=torch.long)
        return batch

    def state_dict(self) -> dict:
        return {"rng": self.rng.getstate(), "order": list(self.order)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate(state["rng"])
        self.order = list(state["order"])
