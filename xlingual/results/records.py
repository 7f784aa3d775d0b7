"""The records inside results.json, one dataclass each: what the training loop, a soup, an interpolation, the
truncation report, the recorded paths and the protocol's parts hold. Each writes back exactly what it read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .schema import OPTIONAL, Record


@dataclass
class TrainingRecord(Record):
    """``training``: the training loop's progress, throughput and selection history, and what the runner adds
    after it (self-training, LP-FT, interpolation, parameters, objectives, warnings). Soups and evaluations
    have none of it (an empty record, ``{}``). A field that is ``None`` is not written."""

    global_step: int | None = field(default=None, metadata=OPTIONAL)
    total_steps: int | None = field(default=None, metadata=OPTIONAL)
    epoch: int | None = field(default=None, metadata=OPTIONAL)
    batch_in_epoch: int | None = field(default=None, metadata=OPTIONAL)
    batches_done: int | None = field(default=None, metadata=OPTIONAL)
    best_score: float | None = field(default=None, metadata=OPTIONAL)
    best_epoch: int | None = field(default=None, metadata=OPTIONAL)
    history: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    """Per epoch: the selection scores (and label-free signals), and whether it was the best so far."""
    samples: int | None = field(default=None, metadata=OPTIONAL)
    tokens: int | None = field(default=None, metadata=OPTIONAL)
    padded_tokens: int | None = field(default=None, metadata=OPTIONAL)
    auxiliary_samples: int | None = field(default=None, metadata=OPTIONAL)
    train_seconds: float | None = field(default=None, metadata=OPTIONAL)
    selection_seconds: float | None = field(default=None, metadata=OPTIONAL)
    checkpoint_seconds: float | None = field(default=None, metadata=OPTIONAL)
    resumed_from_step: int | None = field(default=None, metadata=OPTIONAL)
    averaging: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    """Checkpoint averaging: snapshots averaged, the average's selection score, which model was kept."""
    train_samples_per_second: float | None = field(default=None, metadata=OPTIONAL)
    train_tokens_per_second: float | None = field(default=None, metadata=OPTIONAL)
    padding_fraction: float | None = field(default=None, metadata=OPTIONAL)
    batches_per_epoch: int | None = field(default=None, metadata=OPTIONAL)
    self_training: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    """``self_training:`` rounds: per language, how many pseudo-labels were kept, per class and how confident."""
    lp_ft: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    interpolation: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    """``interpolation:`` (WiSE-FT inside the run): the α values, their selection scores, the one chosen."""
    parameters: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    objectives: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    """Each trained objective described (name, weight, its Params), as ``Objective.describe`` gives it."""
    prediction_mix_warning: dict[str, dict[str, float]] | None = field(default=None, metadata=OPTIONAL)
    """Target languages whose predictions are mostly one class (a likely collapse), with their class shares."""


@dataclass
class SoupRecord(Record):
    """``soup``: how ``xlingual soup`` averaged its ingredients."""

    kind: str | None = field(default=None, metadata=OPTIONAL)
    """``uniform`` or ``greedy``."""
    ingredients: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    """Each ingredient (a run or a snapshot file), whether it was kept, and (greedy) the dev scores that decided."""
    kept: list[str] | None = field(default=None, metadata=OPTIONAL)
    source_dev_macro_f1: float | None = field(default=None, metadata=OPTIONAL)
    seeds: list[int] | None = field(default=None, metadata=OPTIONAL)
    """The seeds of the runs kept, when there are several."""


@dataclass
class InterpolationRecord(Record):
    """``interpolation``: ``xlingual interpolate`` (WiSE-FT toward the pretrained encoder)."""

    alphas: list[float] | None = field(default=None, metadata=OPTIONAL)
    head: str | None = field(default=None, metadata=OPTIONAL)
    """``refit`` (the head refitted on source train at each α) or ``kept``."""
    source_dev_macro_f1: dict[str, float] | None = field(default=None, metadata=OPTIONAL)
    """α → source-dev macro-F1."""
    chosen_alpha: float | None = field(default=None, metadata=OPTIONAL)
    chosen_on: str | None = field(default=None, metadata=OPTIONAL)
    """``source-dev``: α is never chosen on target data."""
    analysis: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    """``--analysis``: every split scored at every α (never used to choose)."""


@dataclass
class TruncationRecord(Record):
    """``truncation``: how texts were cut to ``max_length``, and per split and language how many were."""

    strategy: str | None = field(default=None, metadata=OPTIONAL)
    max_length: int | None = field(default=None, metadata=OPTIONAL)
    warn_above_fraction: float | None = field(default=None, metadata=OPTIONAL)
    splits: dict[str, dict[str, dict[str, Any]]] | None = field(default=None, metadata=OPTIONAL)
    """split → language → ``n``, ``truncated``, ``fraction``."""


@dataclass
class PathsRecord(Record):
    """``paths`` (also the run's paths.json): every local path of the recipe, as typed and resolved."""

    cwd: str | None = field(default=None, metadata=OPTIONAL)
    """Where the run started: relative paths resolve against it."""
    paths: dict[str, dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    """Recipe key → ``typed`` and ``resolved``."""


@dataclass
class OverlapRecord(Record):
    """``train_eval_overlap``: training texts that also appear verbatim in the evaluation data."""

    count: int | None = field(default=None, metadata=OPTIONAL)
    train_examples: int | None = field(default=None, metadata=OPTIONAL)


@dataclass
class CostRecord(Record):
    """``protocol.cost``: compute in training-run equivalents (:mod:`xlingual.cost`)."""

    runs: float | None = field(default=None, metadata=OPTIONAL)
    """Every distinct training behind the model, counted once."""
    own_training: float | None = field(default=None, metadata=OPTIONAL)
    teachers: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    """A student's teachers: each run and its own cost."""
    made_from: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    """A soup's or interpolation's ingredients: each run and its own cost."""


@dataclass
class AveragingProtocolRecord(Record):
    """``protocol.checkpoint_averaging``: the recipe's ``averaging`` section as the run used it."""

    every_steps: int | None = field(default=None, metadata=OPTIONAL)
    start: float | None = field(default=None, metadata=OPTIONAL)
    saved: str | None = field(default=None, metadata=OPTIONAL)


@dataclass
class ExtraSourceRecord(Record):
    """``protocol.extra_source_data``: more source-language training data (``data.extra_source``)."""

    files: str | None = field(default=None, metadata=OPTIONAL)
    train_examples: int | None = field(default=None, metadata=OPTIONAL)
    class_balanced: bool | None = field(default=None, metadata=OPTIONAL)
    train_label_counts: dict[str, int] | None = field(default=None, metadata=OPTIONAL)
    target_language_texts: dict[str, int] | None = field(default=None, metadata=OPTIONAL)
    """Extra source texts found in each target language's data."""


@dataclass
class PseudoLabelsRecord(Record):
    """``protocol.pseudo_labels``: the teacher-labelled target text a student trained on (``data.pseudo_labeled``),
    and how far the student's predicted class mix moved from its teachers'."""

    root: str | None = field(default=None, metadata=OPTIONAL)
    teachers: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    """Each teacher run and its weights' fingerprint."""
    rule: str | None = field(default=None, metadata=OPTIONAL)
    k: int | None = field(default=None, metadata=OPTIONAL)
    threshold: float | None = field(default=None, metadata=OPTIONAL)
    kept: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    targets: str | None = field(default=None, metadata=OPTIONAL)
    temperature: float | None = field(default=None, metadata=OPTIONAL)
    weight: float | None = field(default=None, metadata=OPTIONAL)
    per_epoch: int | None = field(default=None, metadata=OPTIONAL)
    """Texts per language drawn for each epoch (``data.pseudo_labeled.per_epoch``; absent: all, every epoch)."""
    class_mix_split: str | None = field(default=None, metadata=OPTIONAL)
    class_mix_shift: dict[str, dict[str, float]] | None = field(default=None, metadata=OPTIONAL)
    class_mix_warning: list[str] | None = field(default=None, metadata=OPTIONAL)


@dataclass
class CodeSwitchRecord(Record):
    """``protocol.code_switch``: the word lists (sha256), the languages, and how much was replaced into which."""

    languages: list[str] | None = field(default=None, metadata=OPTIONAL)
    without_word_list: list[str] | None = field(default=None, metadata=OPTIONAL)
    files: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    fraction: float | None = field(default=None, metadata=OPTIONAL)
    seed: int | None = field(default=None, metadata=OPTIONAL)
    epochs: int | None = field(default=None, metadata=OPTIONAL)
    texts: int | None = field(default=None, metadata=OPTIONAL)
    words: int | None = field(default=None, metadata=OPTIONAL)
    coverage: float | None = field(default=None, metadata=OPTIONAL)
    replaced_of_words: float | None = field(default=None, metadata=OPTIONAL)
    replaced_of_covered: float | None = field(default=None, metadata=OPTIONAL)
    replaced_into: dict[str, int] | None = field(default=None, metadata=OPTIONAL)


@dataclass
class DevHoldoutRecord(Record):
    """``protocol.dev_holdout``: the file with the held-out positions and, per language, its settings."""

    file: str | None = field(default=None, metadata=OPTIONAL)
    languages: dict[str, dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
