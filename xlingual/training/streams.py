"""Endless batch streams for objectives: unlabeled target text and translation pairs.

Each stream reshuffles with its own seeded RNG when it runs out, so the labelled
source batches and the auxiliary batches stay reproducible independently, and its
position is part of the resumable training state.
"""

from __future__ import annotations

import random
from typing import Protocol

import torch

from ..data.batching import TokenizedExamples, collate, shuffled_batches


class Stream(Protocol):
    """An endless source of batches for an objective."""

    def next_batch(self) -> dict[str, torch.Tensor]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


def _rng_state(value) -> tuple:
    version, internal, gauss = value
    return version, tuple(internal), gauss


class _ShuffledIndex:
    """Endless seeded batches of indices, length-grouped like the source batches
    (:func:`~xlingual.data.batching.shuffled_batches`): tweets vary a lot in length, and a random
    batch pads to its longest member. ``batches`` holds the rest of the pass, next batch last (saved next-first)."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int) -> None:
        self.lengths = lengths
        self.batch_size = min(batch_size, len(lengths))
        self.rng = random.Random(seed)
        self.batches: list[list[int]] = []

    def take(self) -> list[int]:
        if not self.batches:  # a new pass; a short last batch is dropped so every batch is full
            batches = shuffled_batches(self.lengths, self.batch_size, self.rng)
            self.batches = [batch for batch in reversed(batches) if len(batch) == self.batch_size]
        return self.batches.pop()

    def state_dict(self) -> dict:
        return {"rng": self.rng.getstate(), "batches": [list(batch) for batch in reversed(self.batches)]}

    def load_state_dict(self, state: dict) -> None:
        self.rng.setstate(_rng_state(state["rng"]))
        # a state saved before length grouping has a flat "order" instead: start a fresh pass
        self.batches = [list(batch) for batch in reversed(state.get("batches", []))]


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
        self.index = _ShuffledIndex([len(ids) for ids in self.input_ids], batch_size, seed)

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
        self.index = _ShuffledIndex([max(len(a), len(b)) for a, b in zip(self.source, self.translation, strict=True)],
                                    batch_size, seed)

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
