"""Endless batch streams for objectives: unlabeled target text and translation pairs.

Each stream reshuffles with its own seeded RNG when it runs out, so the labelled
source batches and the auxiliary batches stay reproducible independently, and its
position is part of the resumable training state.
"""

from __future__ import annotations

import random
from typing import Protocol

import torch

from ..data.batching import TokenizedExamples, collate


class Stream(Protocol):
    """An endless source of batches for an objective."""

    def next_batch(self) -> dict[str, torch.Tensor]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def _rng_state(value) -> tuple:
    version, internal, gauss = value
    return version, tuple(internal), gauss


class _ShuffledIndex:
    def __init__(self, size: int, batch_size: int, seed: int) -> None:
        self.size = size
        self.batch_size = min(batch_size, size)
        self.rng = random.Random(seed)
        self.order: list[int] = []

    def take(self) -> list[int]:
        if len(self.order) < self.batch_size:
            fresh = list(range(self.size))
            self.rng.shuffle(fresh)
            self.order.extend(fresh)
        taken, self.order = self.order[: self.batch_size], self.order[self.batch_size:]
        return taken

    def state_dict(self) -> dict:
        return {"rng": self.rng.getstate(), "order": list(self.order)}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate(_rng_state(state["rng"]))
        self.order = list(state["order"])


class TextStream:
    """Batches of unlabeled texts from one or more languages (labels are never part of them).

    ``language_ids`` gives each row's language as its index in ``languages``.
    """

    def __init__(self, parts: list[TokenizedExamples], batch_size: int, seed: int) -> None:
        self.input_ids = [ids for part in parts for ids in part.input_ids]
        if not self.input_ids:
            raise ValueError("an unlabeled stream needs at least one text")
        self.language_ids = [index for index, part in enumerate(parts) for _ in part.input_ids]
        self.languages = [part.language for part in parts]
        self.pad_token_id = parts[0].pad_token_id
        self.index = _ShuffledIndex(len(self.input_ids), batch_size, seed)

    def next_batch(self) -> dict[str, torch.Tensor]:
        indices = self.index.take()
        batch = collate([self.input_ids[i] for i in indices], self.pad_token_id)
        batch["language_ids"] = torch.tensor([self.language_ids[i] for i in indices], dtype=torch.long)
        return batch

    def state_dict(self) -> dict:
        return self.index.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.index.load_state_dict(state)


class PairStream:
    """Batches of translation pairs: ``input_ids`` (English) and ``translation_input_ids``."""

    def __init__(self, sources: list[TokenizedExamples], translations: list[TokenizedExamples], batch_size: int,
                 seed: int) -> None:
        self.source = [ids for part in sources for ids in part.input_ids]
        self.translation = [ids for part in translations for ids in part.input_ids]
        if not self.source or len(self.source) != len(self.translation):
            raise ValueError("a pair stream needs aligned, non-empty sides")
        self.pad_token_id = sources[0].pad_token_id
        self.index = _ShuffledIndex(len(self.source), batch_size, seed)

    def next_batch(self) -> dict[str, torch.Tensor]:
        indices = self.index.take()
        batch = collate([self.source[i] for i in indices], self.pad_token_id)
        other = collate([self.translation[i] for i in indices], self.pad_token_id)
        batch["translation_input_ids"] = other["input_ids"]
        batch["translation_attention_mask"] = other["attention_mask"]
        return batch

    def state_dict(self) -> dict:
        return self.index.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.index.load_state_dict(state)
