"""Tokenise once, then batch with dynamic padding, grouping similar lengths together.

Tweets range from a few to over a hundred tokens; padding every batch to the longest
tweet in a random batch wastes most of the compute. Length-grouped batching sorts
examples by length within large shuffled chunks and shuffles the resulting batches,
keeping the randomness SGD needs while cutting padding.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from .examples import Examples
from .truncation import encode

MEGABATCH_FACTOR = 50


@dataclass
class TokenizedExamples:
    """Token ids of each example (unpadded), plus the labels if any."""

    input_ids: list[list[int]]
    labels: list[int] | None
    language: str
    pad_token_id: int
    truncated: int = 0
    """How many texts were longer than ``max_length`` and cut (see :mod:`xlingual.data.truncation`)."""
    targets: list[list[float] | None] | None = None
    """Per example, a soft target distribution replacing its label in the loss, or None (see :class:`Examples`)."""
    weights: list[float] | None = None
    """Per example, its loss weight (``None``: all 1)."""
    epoch_input_ids: list[list[list[int]]] | None = None
    """Other token ids per epoch (epoch e reads entry e mod their number): code-switched views of the texts."""
    epoch_rows: list[list[int]] | None = None
    """Which examples each epoch trains on (see :attr:`Examples.epoch_rows`; ``None``: all of them)."""

    def rows_for_epoch(self, epoch: int) -> list[int] | None:
        """The examples epoch ``epoch`` trains on, or ``None`` for all of them."""
        if not self.epoch_rows:
            return None
        return self.epoch_rows[epoch % len(self.epoch_rows)]

    def ids_for_epoch(self, epoch: int) -> list[list[int]]:
        """The token ids epoch ``epoch`` trains on."""
        if not self.epoch_input_ids:
            return self.input_ids
        return self.epoch_input_ids[epoch % len(self.epoch_input_ids)]

    def batch(self, indices: Sequence[int], epoch: int = 0) -> dict[str, torch.Tensor]:
        """The padded training batch of ``indices``, with ``soft_targets``/``soft_mask`` and ``weights`` when the
        examples carry them."""
        ids = self.ids_for_epoch(epoch)
        batch = collate([ids[i] for i in indices], self.pad_token_id,
                        None if self.labels is None else [self.labels[i] for i in indices])
        if self.targets is not None:
            rows = [self.targets[i] for i in indices]
            width = len(next((row for row in rows if row is not None), ())) or 1  # filler rows are masked out
            batch["soft_mask"] = torch.tensor([row is not None for row in rows], dtype=torch.bool)
            batch["soft_targets"] = torch.tensor([row if row is not None else [1.0 / width] * width for row in rows],
                                                 dtype=torch.float)
        if self.weights is not None:
            batch["weights"] = torch.tensor([self.weights[i] for i in indices], dtype=torch.float)
        return batch

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def tokenize_examples(examples: Examples, tokenizer, max_length: int, text_prefix: str = "",
                      truncation: str = "head") -> TokenizedExamples:
    """Tokenise all texts in one fast batched call, cutting to ``max_length`` by ``truncation``
    (``head``, ``tail`` or ``head+tail``; the prefix and special tokens are kept)."""
    input_ids, truncated = encode(tokenizer, examples.texts, max_length, text_prefix, truncation)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    views = [encode(tokenizer, view, max_length, text_prefix, truncation)[0] for view in examples.views or ()]
    return TokenizedExamples(input_ids, examples.labels, examples.language, pad, truncated, examples.targets,
                             examples.weights, views or None, examples.epoch_rows)


def collate(
    batch_ids: Sequence[list[int]], pad_token_id: int, labels: Sequence[int] | None = None
) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest member (right padding) and build the attention mask."""
    width = max(len(ids) for ids in batch_ids)
    input_ids = torch.full((len(batch_ids), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch_ids), width), dtype=torch.long)
    for row, ids in enumerate(batch_ids):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if labels is not None:
        batch["labels"] = torch.tensor(list(labels), dtype=torch.long)
    return batch


def shuffled_batches(lengths: Sequence[int], batch_size: int, rng: random.Random,
                     group_by_length: bool = True) -> list[list[int]]:
    """One shuffled pass over ``range(len(lengths))`` cut into batches (the last may be short).

    With ``group_by_length``, chunks of ``MEGABATCH_FACTOR`` batches are sorted by length before
    cutting and the batch order is shuffled, so batches pad little yet come in random order.
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        chunk = batch_size * MEGABATCH_FACTOR
        order = [i for start in range(0, len(order), chunk)
                 for i in sorted(order[start:start + chunk], key=lambda i: -lengths[i])]
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def training_batches(
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    epoch: int,
    group_by_length: bool = True,
    num_shards: int = 1,
    shard: int = 0,
) -> list[list[int]]:
    """Index batches for one epoch, deterministic in ``(seed, epoch)``.

    With several processes each takes every ``num_shards``-th batch; the batch count is
    cut to a multiple of ``num_shards`` so that all processes step together.
    """
    batches = shuffled_batches(lengths, batch_size, random.Random(seed * 100_003 + epoch), group_by_length)
    usable = len(batches) - len(batches) % num_shards if num_shards > 1 else len(batches)
    return batches[shard:usable:num_shards]


def inference_batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None) -> Iterator[list[int]]:
    """Batches of indices sorted by length (longest first), so each batch pads little.

    ``max_tokens`` caps ``batch size × padded length`` to bound memory on long inputs.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batch: list[int] = []
    for index in order:
        width = lengths[batch[0]] if batch else lengths[index]
        if batch and (len(batch) >= batch_size or (max_tokens and (len(batch) + 1) * width > max_tokens)):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch
