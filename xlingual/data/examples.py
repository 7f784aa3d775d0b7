"""The in-memory form every reader returns: texts, class ids and where they came from."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import DataError


@dataclass
class Examples:
    """One language and split of one dataset. ``labels`` is ``None`` for unlabeled text."""

    texts: list[str]
    labels: list[int] | None
    language: str
    split: str
    origin: str
    """Human-readable description of the files or dataset, for errors and results.json."""
    indices: list[int] | None = None
    """Positions in the split these examples were taken from, when they are a part of it (a dev hold-out)."""
    targets: list[list[float] | None] | None = None
    """Per example, a class distribution to train towards instead of its label (soft pseudo-labels), or None."""
    weights: list[float] | None = None
    """Per example, its training loss weight (``None``: all 1)."""
    views: list[list[str]] | None = None
    """Other versions of ``texts`` to train on, one per epoch (epoch e reads view e mod their number): the
    code-switched copies of :mod:`xlingual.data.code_switch`."""
    epoch_rows: list[list[int]] | None = None
    """Which examples each epoch trains on (epoch e reads entry e mod their number; ``None``: all of them): the
    per-epoch draws of ``data.pseudo_labeled.per_epoch``. Every entry has the same length, so epochs are equal."""

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self.texts):
            raise DataError(f"{self.origin}: {len(self.texts)} texts but {len(self.labels)} labels")
        for name in ("targets", "weights"):
            values = getattr(self, name)
            if values is not None and len(values) != len(self.texts):
                raise DataError(f"{self.origin}: {len(self.texts)} texts but {len(values)} {name}")
        if self.views is not None and any(len(view) != len(self.texts) for view in self.views):
            raise DataError(f"{self.origin}: a view's length differs from the {len(self.texts)} texts")
        if self.epoch_rows is not None and any(r < 0 or r >= len(self.texts) for rows in self.epoch_rows for r in rows):
            raise DataError(f"{self.origin}: an epoch's rows reach past the {len(self.texts)} texts")

    def __len__(self) -> int:
        return len(self.texts)

    def subsample(self, limit: int | None, seed: int = 0) -> Examples:
        """A fixed random subset of at most ``limit`` examples (same subset for every training seed)."""
        if limit is None or limit >= len(self):
            return self
        order = sorted(random.Random(seed).sample(range(len(self)), limit))
        return self.select(order, self.split, f"{self.origin}[:{limit}]")

    def balanced_subsample(self, limit: int | None, seed: int = 0) -> Examples:
        """A fixed random subset with the classes as equal as their sizes allow (at most ``limit``; ``None``:
        every class cut to the smallest one's size). Water-filling from the smallest class up, so a class too
        small for an equal share gives the rest to the others. Separates "more data" from "another label
        distribution" when the extra data's classes are skewed."""
        if self.labels is None:
            raise ValueError("a class-balanced subset needs labels")
        by_class: dict[int, list[int]] = {}
        for position, label in enumerate(self.labels):
            by_class.setdefault(label, []).append(position)
        if not by_class:
            return self
        classes = sorted(by_class, key=lambda c: (len(by_class[c]), c))
        remaining = len(classes) * len(by_class[classes[0]]) if limit is None else min(limit, len(self))
        rng, chosen = random.Random(seed), []
        for i, label in enumerate(classes):
            take = min(len(by_class[label]), remaining // (len(classes) - i))
            chosen += rng.sample(by_class[label], take)
            remaining -= take
        return self.select(sorted(chosen), self.split, f"{self.origin}[balanced:{len(chosen)}]")

    def select(self, positions: Sequence[int], split: str, origin: str) -> Examples:
        """The examples at ``positions`` (their positions in the full split are kept in ``indices``)."""
        if self.epoch_rows is not None:
            raise ValueError("select before drawing per epoch: the draws name positions of these examples")
        labels = [self.labels[i] for i in positions] if self.labels is not None else None
        indices = [self.indices[i] for i in positions] if self.indices is not None else list(positions)
        targets = [self.targets[i] for i in positions] if self.targets is not None else None
        weights = [self.weights[i] for i in positions] if self.weights is not None else None
        views = [[view[i] for i in positions] for view in self.views] if self.views is not None else None
        return Examples([self.texts[i] for i in positions], labels, self.language, split, origin, indices, targets,
                        weights, views)

    def concatenate(self, other: Examples) -> Examples:
        """These examples followed by ``other``'s (same language; both labelled or both not)."""
        if (self.labels is None) != (other.labels is None):
            raise ValueError("cannot concatenate labelled and unlabeled examples")
        labels = None if self.labels is None else [*self.labels, *other.labels]
        targets = (None if self.targets is None and other.targets is None
                   else [*(self.targets or [None] * len(self)), *(other.targets or [None] * len(other))])
        weights = (None if self.weights is None and other.weights is None
                   else [*(self.weights or [1.0] * len(self)), *(other.weights or [1.0] * len(other))])
        views = None
        if self.views is not None or other.views is not None:
            count = max(len(self.views or ()), len(other.views or ()))
            views = [[*(self.views[e % len(self.views)] if self.views else self.texts),
                      *(other.views[e % len(other.views)] if other.views else other.texts)] for e in range(count)]
        epoch_rows = None
        if self.epoch_rows is not None or other.epoch_rows is not None:
            count = max(len(self.epoch_rows or ()), len(other.epoch_rows or ()))
            epoch_rows = [[*self.rows_for_epoch(e), *(len(self) + r for r in other.rows_for_epoch(e))]
                          for e in range(count)]
        return Examples([*self.texts, *other.texts], labels, self.language, self.split,
                        f"{self.origin} + {other.origin}", targets=targets, weights=weights, views=views,
                        epoch_rows=epoch_rows)

    def rows_for_epoch(self, epoch: int) -> list[int]:
        """The positions epoch ``epoch`` trains on."""
        if not self.epoch_rows:
            return list(range(len(self)))
        return self.epoch_rows[epoch % len(self.epoch_rows)]

    def drawn_per_epoch(self, per_epoch: int | None, epochs: int, seed: str) -> Examples:
        """These examples with ``per_epoch`` of them drawn for each of ``epochs`` epochs: consecutive slices of
        one shuffle seeded by ``seed`` (wrapping around), so no text repeats before the whole pool has been seen.
        Unchanged when ``per_epoch`` is ``None`` or covers them all."""
        if per_epoch is None or per_epoch >= len(self):
            return self
        order = list(range(len(self)))
        random.Random(seed).shuffle(order)
        rows = [sorted(order[(e * per_epoch + i) % len(order)] for i in range(per_epoch)) for e in range(epochs)]
        return dataclasses.replace(self, epoch_rows=rows)

    def without_labels(self) -> Examples:
        """Drop the labels, so unlabeled-target streams cannot leak them into training."""
        return Examples(list(self.texts), None, self.language, self.split, self.origin, self.indices)


def content_fingerprint(texts: Sequence[str], label_names: Sequence[str]) -> str:
    """SHA-256 over the ordered (text, label name) pairs: identifies a test set by content, not by path.

    ``compare`` uses it to tell whether two runs were scored on the same examples even when one
    run named the folder ``../shared/data`` and another an absolute path.
    """
    digest = hashlib.sha256()
    for text, label in zip(texts, label_names, strict=True):
        digest.update(text.encode("utf-8"))
        digest.update(b"\t")
        digest.update(label.encode("utf-8"))
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


def check_text(text: str, where: str) -> str:
    """Reject empty or whitespace-only texts with an error naming the file and line."""
    if not text.strip():
        raise DataError(f"{where}: the text is empty or whitespace only")
    return text
