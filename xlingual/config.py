"""Typed recipe configuration: dataclasses that round-trip to YAML and JSON.

A recipe is a YAML file with one section per stage (model, lora, freeze, data,
training, evaluation). :func:`load_recipe` reads it, applies dotted ``--set``
overrides, and converts it into :class:`RecipeConfig`. Unknown keys and wrong types
raise :class:`~xlingual.errors.ConfigError` naming the key and the closest valid one,
before any model or data is touched.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import string
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .data.labels import LabelScheme
from .data.umsab import UMSAB_LANGUAGES
from .errors import ConfigError, did_you_mean
from .languages import normalize_language

SIGNAL_SELECTION = {"retrieval": "retrieval", "target-confidence": "confidence", "target-entropy": "entropy",
                    "target-agreement": "agreement"}
"""``training.select_best_on`` values that select by a label-free signal → the signal."""


@dataclass
class ModelConfig:
    """Which encoder to adapt and how a sentence becomes one vector."""

    name: str = "bert-base-multilingual-cased"
    """Hub id or local folder of any Hugging Face encoder (loaded with ``AutoModel``)."""
    revision: str | None = None
    pooling: Literal["mean", "cls", "max"] = "mean"
    max_length: int = 128
    text_prefix: str = ""
    """Prepended to every input, e.g. ``"query: "`` for the e5 family, which was trained with it."""
    head_dropout: float = 0.1
    trust_remote_code: bool = False
    """Run code shipped with a hub model. Off unless a recipe turns it on; recorded in results."""

    def validate(self) -> None:
        if not self.name:
            raise ConfigError("model.name: must name a hub id or a local model folder")
        if self.max_length < 2:
            raise ConfigError(f"model.max_length: must be at least 2, got {self.max_length}")
        if not 0.0 <= self.head_dropout < 1.0:
            raise ConfigError(f"model.head_dropout: must be in [0, 1), got {self.head_dropout}")


@dataclass
class LoraConfig:
    """LoRA adapters (peft) on the encoder; only adapters and the head train."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.1
    target_modules: list[str] | None = None
    """Module names to adapt; ``None`` uses peft's default for the architecture."""
    bias: Literal["none", "all", "lora_only"] = "none"

    def validate(self) -> None:
        if self.r < 1:
            raise ConfigError(f"lora.r: must be a positive integer, got {self.r}")
        if self.alpha <= 0:
            raise ConfigError(f"lora.alpha: must be positive, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"lora.dropout: must be in [0, 1), got {self.dropout}")
        if self.target_modules is not None and not self.target_modules:
            raise ConfigError("lora.target_modules: must list at least one module, or be null for the default")


@dataclass
class FreezeConfig:
    """Which encoder parameters stay fixed during full fine-tuning."""

    embeddings: bool = False
    """Keep the embedding layer fixed: a known aid to cross-lingual transfer, and much faster."""
    layers: int = 0
    """Freeze the lowest k transformer layers."""
    encoder: bool = False
    """Freeze the whole encoder and train the head only (linear-probe baseline)."""

    def validate(self) -> None:
        if self.layers < 0:
            raise ConfigError(f"freeze.layers: must be >= 0, got {self.layers}")


@dataclass
class ExtraSourceConfig:
    """More labelled source-language training data appended to the train split, recorded in the protocol as
    extra source data (runs using it belong beside the standard table, not in it)."""

    root: str = "../shared/data/tweeteval_en_extra"
    """A folder with ``<split>_text.txt`` and line-aligned ``<split>_labels.txt``, or one CSV/TSV/JSONL file
    with ``data.text_column`` and ``data.label_column``. Labels go through the data's label scheme."""
    split: str = "train"
    max_examples: int | None = None
    """A fixed random subset (the same for every seed), e.g. to measure transfer against source data size."""
    class_balanced: bool = False
    """Draw the subset with equal counts per class (as far as each class has examples; ``max_examples: null``
    cuts every class to the smallest), so more data does not also bring another label distribution."""

    def validate(self) -> None:
        if not self.root:
            raise ConfigError("data.extra_source.root: must name a folder or file")
        _check_positive(self, "data.extra_source", ("max_examples",))


@dataclass
class PseudoLabeledConfig:
    """Target-language texts labelled by a teacher (``xlingual pseudo-label``'s output folder), trained on beside
    the source labels; recorded in the protocol as ``pseudo-labels`` with the teachers' fingerprints."""

    root: str = ""
    """The folder ``xlingual pseudo-label`` wrote: ``<language>/train_{text,labels}.txt`` and manifest.json."""
    languages: list[str] | None = None
    """Which of its languages to train on (default: every language folder in it)."""
    targets: Literal["hard", "soft"] = "hard"
    """``hard``: the teacher's label, cross-entropy like a human label. ``soft``: the teacher's whole distribution
    (tempered by ``temperature``), KL divergence as in knowledge distillation (Hinton et al. 2015): a text the
    teacher is unsure of still teaches how unsure it is."""
    temperature: float = 1.0
    """Soft targets: the teacher's and the student's distributions are both tempered by T, and the loss scaled by
    T² (Hinton et al.); 1 keeps the teacher's own probabilities."""
    weight: float = 1.0
    """Each pseudo-labelled text's loss weight relative to a source-labelled text's."""

    def validate(self) -> None:
        where = "data.pseudo_labeled"
        if not self.root:
            raise ConfigError(f"{where}.root: must name the folder 'xlingual pseudo-label' wrote")
        if self.targets not in ("hard", "soft"):
            raise ConfigError(f"{where}.targets: expected 'hard' or 'soft', got {self.targets!r}")
        for key in ("temperature", "weight"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
                raise ConfigError(f"{where}.{key}: must be a positive number, got {value!r}")
        if self.temperature != 1.0 and self.targets == "hard":
            raise ConfigError(f"{where}.temperature: tempers soft targets only; set targets: soft, or drop it")


@dataclass
class CodeSwitchConfig:
    """Code-switching of the English training text with bilingual word lists (CoSDA-ML, Qin et al. 2020): in each
    epoch a fresh draw replaces words by a translation in a randomly chosen target language, so the classifier
    sees target-language words in English contexts it has labels for."""

    dictionaries: str = "../shared/data/dictionaries/en-{code}.txt"
    """Word lists, one ``english<TAB>translation`` a line (MUSE layout): a path template with ``{code}`` (ISO 639-1)
    or ``{language}``."""
    languages: list[str] | None = None
    """Languages to switch into (default: every target language whose word list exists; the others are listed)."""
    fraction: float = 0.5
    """Chance that a word the word lists cover is replaced (CoSDA-ML's word ratio); the fraction of all words
    replaced is measured and recorded."""
    seed: int | None = None
    """Seed of the draws (default: ``training.seed``)."""

    def validate(self) -> None:
        where = "data.code_switch"
        if not isinstance(self.dictionaries, str) or not ("{code}" in self.dictionaries
                                                          or "{language}" in self.dictionaries):
            raise ConfigError(f"{where}.dictionaries: a path template with {{code}} or {{language}}, got "
                              f"{self.dictionaries!r}")
        check_template(self.dictionaries, f"{where}.dictionaries", ("code", "language"))
        value = self.fraction
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(f"{where}.fraction: must be a number in [0, 1], got {value!r}")
        if self.languages is not None:
            if not self.languages:
                raise ConfigError(f"{where}.languages: the list is empty; drop the key to use every target language")
            self.languages = [normalize_language(lang, field=f"{where}.languages") for lang in self.languages]


@dataclass
class DataConfig:
    """Where the labelled data lives and which languages to train and test on."""

    format: Literal["umsab", "csv", "tsv", "jsonl", "hub"] = "umsab"
    root: str = "data/umsab"
    """umsab: the folder holding ``<language>/{split}_{text,labels}.txt``.
    csv/tsv/jsonl: a path template with ``{language}`` and ``{split}`` (or one file with a
    ``language_column``). hub: the dataset id."""
    hub_config: str | None = "{language}"
    """hub: config name template; ``None`` when the dataset has one config and a language column."""
    text_column: str = "text"
    label_column: str = "label"
    language_column: str | None = None
    source_language: str = "english"
    target_languages: list[str] = field(default_factory=lambda: [lang for lang in UMSAB_LANGUAGES if lang != "english"])
    label_scheme: str = "sentiment3"
    """Built-in scheme (sentiment3, binary, stars5_to_sentiment3, stars5_to_binary) or ``custom``."""
    label_names: list[str] | None = None
    """Class names for ``label_scheme: custom`` (raw labels are the names or their indices)."""
    label_map: dict[str, str] | None = None
    """Extra raw label → class name mappings, e.g. ``{P: positive, N: negative, NEU: neutral}``."""
    drop_labels: list[str] | None = None
    """Raw labels whose examples are skipped (e.g. ``NONE``)."""
    train_split: str = "train"
    dev_split: str = "val"
    test_split: str = "test"
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    """Cap per language and split, for quick checks; ``None`` uses everything."""
    split_column: str | None = None
    """csv/tsv/jsonl: a column naming each row's split, for files that hold several splits."""
    language_names: dict[str, str] | None = None
    """The dataset's own name of a language where it is not the canonical name or an ISO code: its
    folder (umsab), ``{language}`` in a path template, language-column value or hub config, e.g.
    ``{japanese: jp}``. Results use the canonical name."""
    dev_fraction: float | None = None
    """No dev split? Hold out this fraction of the train split as dev: stratified by label, seeded by
    ``dev_seed``, the same for every training seed; the indices go to the run folder (dev_holdout.json)."""
    dev_size: int | None = None
    """Like ``dev_fraction``, as a number of examples per language."""
    dev_seed: int = 0
    dev_root: str | None = None
    """The dev split from elsewhere: a folder (umsab), a path template (csv/tsv/jsonl) or a dataset id (hub)."""
    truncation: Literal["head", "tail", "head+tail"] = "head"
    """Which tokens of a text longer than ``model.max_length`` are kept: the first ones, the last ones, or
    both (a quarter of the budget from the start, three quarters from the end; Sun et al. 2019)."""

    extra_source: ExtraSourceConfig | None = None
    """More labelled source-language data appended to the train split (recorded as extra source data)."""
    pseudo_labeled: PseudoLabeledConfig | None = None
    """Teacher-labelled target text trained on beside the source labels (another protocol: ``pseudo-labels``)."""
    code_switch: CodeSwitchConfig | None = None
    """English training text code-switched with bilingual word lists (protocol resource ``bilingual-dictionary``)."""

    def validate(self) -> None:
        if self.extra_source is not None:
            self.extra_source.validate()
        if self.pseudo_labeled is not None:
            self.pseudo_labeled.validate()
        if self.code_switch is not None:
            self.code_switch.validate()
        from .data.language_names import canonical_names, to_canonical

        self.language_names = canonical_names(self.language_names) or None
        self.source_language = to_canonical(self.source_language, self.language_names, field="data.source_language")
        if not self.target_languages:
            raise ConfigError("data.target_languages: the list is empty; name at least one language to evaluate")
        self.target_languages = [to_canonical(lang, self.language_names, field="data.target_languages")
                                 for lang in self.target_languages]
        if len(set(self.target_languages)) != len(self.target_languages):
            raise ConfigError(f"data.target_languages: a language is listed twice: {self.target_languages}")
        if self.source_language in self.target_languages:
            raise ConfigError(
                f"data.target_languages: '{self.source_language}' is the source language; it is always "
                "evaluated, list only target languages"
            )
        if not self.root:
            raise ConfigError("data.root: must name a data folder, file template or hub id")
        if self.format in ("csv", "tsv", "jsonl"):
            check_template(self.root, "data.root", ("language", "split"))
        if self.format == "hub" and self.hub_config:
            check_template(self.hub_config, "data.hub_config", ("language", "iso"))
        for name in ("max_train_examples", "max_eval_examples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"data.{name}: must be a positive integer or null, got {value}")
        self._validate_dev()
        if self.train_split == self.test_split:
            raise ConfigError(f"data.train_split: '{self.train_split}' is also data.test_split; training on the "
                              "test split would leak it")
        # unknown scheme, custom without names, label_map to a class the scheme lacks: caught before any data is read
        LabelScheme.build(self.label_scheme, self.label_names, self.label_map, self.drop_labels)

    def _validate_dev(self) -> None:
        chosen = [name for name in ("dev_fraction", "dev_size", "dev_root") if getattr(self, name) is not None]
        if len(chosen) > 1:
            raise ConfigError(f"data.{chosen[1]}: set only one of data.dev_fraction, data.dev_size, data.dev_root "
                              f"(also set: data.{chosen[0]})")
        if self.dev_fraction is not None and not 0.0 < self.dev_fraction < 1.0:
            raise ConfigError(f"data.dev_fraction: must be between 0 and 1 (e.g. 0.1), got {self.dev_fraction}")
        if self.dev_size is not None and self.dev_size < 1:
            raise ConfigError(f"data.dev_size: must be a positive integer, got {self.dev_size}")
        if not 0 <= self.dev_seed < 2**32:
            raise ConfigError(f"data.dev_seed: must be in [0, 2**32), got {self.dev_seed}")
        if self.dev_root is not None and not self.dev_root:
            raise ConfigError("data.dev_root: must name a folder, file template or dataset id (or be null)")
        if self.dev_root and self.format in ("csv", "tsv", "jsonl"):
            check_template(self.dev_root, "data.dev_root", ("language", "split"))

    @property
    def languages(self) -> list[str]:
        """Source language first, then targets."""
        return [self.source_language, *self.target_languages]


@dataclass
class TrainingConfig:
    """Optimisation: AdamW with linear warm-up and decay, on ``accelerate``."""

    epochs: float = 3.0
    batch_size: int = 32
    learning_rate: float = 3e-5
    head_learning_rate: float | None = None
    """Learning rate of the classification head; ``None`` uses ``learning_rate``."""
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    gradient_accumulation_steps: int = 1
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    gradient_checkpointing: bool = False
    """Recompute the encoder's layer activations in the backward pass instead of storing them: less
    memory (activations dominate on CPU, LoRA included) for about one extra forward per step."""
    seed: int = 42
    group_by_length: bool = True
    """Batch tweets of similar length together to cut padding (shuffled at the batch level)."""
    select_best_on: Literal["source-dev", "last", "target-dev", "retrieval", "target-confidence",
                            "target-entropy", "target-agreement"] = "source-dev"
    """Model selection: best epoch on the English dev split (default), the last epoch, or
    ``target-dev`` (oracle selection on target-language dev labels, marked in the results), or a label-free
    signal from ``selection_signals`` (``retrieval``, ``target-confidence``, ``target-entropy``,
    ``target-agreement``)."""
    eval_every_epoch: bool = True
    logging_steps: int = 10
    checkpoint_steps: int = 0
    """Save a resumable checkpoint every N optimizer steps (0: only at epoch ends)."""
    lp_ft: bool = False
    """LP-FT (Kumar et al., ICLR 2022): fit the head as a linear probe on the frozen encoder's cached
    source features first, then fine-tune from that head instead of a random one."""

    def validate(self) -> None:
        if self.epochs <= 0:
            raise ConfigError(f"training.epochs: must be positive, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"training.batch_size: must be at least 1, got {self.batch_size}")
        if self.learning_rate <= 0:
            raise ConfigError(f"training.learning_rate: must be positive, got {self.learning_rate}")
        if self.head_learning_rate is not None and self.head_learning_rate <= 0:
            raise ConfigError(f"training.head_learning_rate: must be positive, got {self.head_learning_rate}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"training.warmup_ratio: must be in [0, 1), got {self.warmup_ratio}")
        if self.weight_decay < 0:
            raise ConfigError(f"training.weight_decay: must be >= 0, got {self.weight_decay}")
        if self.gradient_accumulation_steps < 1:
            raise ConfigError(
                f"training.gradient_accumulation_steps: must be at least 1, got {self.gradient_accumulation_steps}"
            )
        if self.logging_steps < 1:
            raise ConfigError(f"training.logging_steps: must be at least 1, got {self.logging_steps}")
        if self.checkpoint_steps < 0:
            raise ConfigError(f"training.checkpoint_steps: must be >= 0, got {self.checkpoint_steps}")
        if self.max_grad_norm < 0:
            raise ConfigError(f"training.max_grad_norm: must be >= 0 (0 turns clipping off), got {self.max_grad_norm}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"training.seed: must be in [0, 2**32), got {self.seed}")


@dataclass
class EvaluationConfig:
    """What to evaluate after training."""

    splits: list[str] = field(default_factory=lambda: ["test"])
    """Role names (``test``, ``dev``) or literal split names to evaluate in every language."""
    batch_size: int = 128
    save_predictions: bool = True
    prior_correction: str | None = None
    """Transductive label-prior correction (Saerens et al. 2002): the split of each target language whose
    *text* (labels dropped) re-estimates the class priors by EM, e.g. ``train``; ``null``: off. The posteriors
    are calibrated on labelled source dev first (bias-corrected temperature scaling, Alexandari et al. 2020)."""

    def validate(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"evaluation.batch_size: must be at least 1, got {self.batch_size}")
        if self.prior_correction is not None and self.prior_correction in ("test", *self.splits):
            raise ConfigError(f"evaluation.prior_correction: '{self.prior_correction}' is an evaluated split; "
                              "estimate priors on other target text, e.g. train")
        if not self.splits:
            raise ConfigError("evaluation.splits: name at least one split, e.g. [test]")


@dataclass
class UnlabeledTargetConfig:
    """Unlabeled target-language text: read with labels dropped at load time."""

    languages: list[str] | None = None
    """Default: ``data.target_languages``."""
    split: str = "train"
    """A split of the recipe's data source (role name or literal); the test split is refused."""
    root: str | None = None
    """Instead of the data source: a text file template with ``{language}``, one sentence per line."""
    max_examples: int | None = None
    batch_size: int | None = None
    """Default: ``training.batch_size``."""

    def validate(self) -> None:
        where = "alignment.unlabeled_target"
        if self.languages:
            self.languages = [normalize_language(lang, field=f"{where}.languages") for lang in self.languages]
        if self.root is not None:
            check_template(self.root, f"{where}.root", ("language",))
        _check_positive(self, where, ("max_examples", "batch_size"))


@dataclass
class PairsConfig:
    """Translation pairs (English ↔ target) for contrastive alignment."""

    root: str = "../shared/data/tatoeba"
    """A Tatoeba-style folder (``tatoeba.spa-eng.{spa,eng}``), a TSV file, a TSV template with
    ``{language}``, or with ``format: hub`` a hub dataset id."""
    format: str = "auto"
    """``auto`` (folder, TSV file or template, from ``root``) or ``hub``."""
    hub_config: str | None = None
    """Hub only: config name template, e.g. ``eng-{iso3}`` (placeholders {language}, {iso}, {iso3})."""
    split: str = "train"
    """Hub only: the split to read."""
    languages: list[str] | None = None
    """Default: ``data.target_languages`` that have pairs."""
    max_pairs: int | None = None
    batch_size: int | None = None

    def validate(self) -> None:
        where = "alignment.pairs"
        if not self.root:
            raise ConfigError(f"{where}.root: must name a pair folder, TSV file, template or hub dataset id")
        if self.format not in ("auto", "hub"):
            raise ConfigError(f"{where}.format: '{self.format}' is not one of auto, hub"
                              f"{did_you_mean(self.format, ['auto', 'hub'])}")
        if self.languages:
            self.languages = [normalize_language(lang, field=f"{where}.languages") for lang in self.languages]
        if self.format == "auto" and ("{language}" in self.root or "{iso3}" in self.root):
            check_template(self.root, f"{where}.root", ("language", "iso3"))
        if self.hub_config:
            check_template(self.hub_config, f"{where}.hub_config", ("language", "iso", "iso3"))
        _check_positive(self, where, ("max_pairs", "batch_size"))


@dataclass
class LossConfig:
    """One alignment loss term: ``weight(progress) · loss``; ``name`` picks a registered objective
    (:mod:`xlingual.objectives`), whose own settings (``params``) are written beside ``name`` in a recipe."""

    name: str
    weight: float = 1.0
    schedule: Literal["constant", "linear", "dann"] = "constant"
    """constant; linear warm-up over ``warmup_ratio`` of training; or DANN's 2/(1+exp(-10p)) − 1."""
    warmup_ratio: float = 0.1
    params: Any = None
    """The objective's ``Params`` dataclass (a mapping or ``None`` for its defaults is converted)."""

    def validate(self, where: str) -> LossConfig:
        """Check the term and convert ``params`` to the objective's dataclass; returns a normalised copy."""
        from .objectives.registry import get_objective

        cls = get_objective(self.name, f"{where}.name")
        if isinstance(self.params, cls.Params):
            params = copy.deepcopy(self.params)
        elif self.params is None or isinstance(self.params, dict):
            params = _convert(cls.Params, dict(self.params or {}), where)
        else:
            raise ConfigError(f"{where}.params: expected {cls.Params.__name__} or a mapping of its settings, got "
                              f"{type(self.params).__name__}")
        checked = _convert(LossConfig, {"name": self.name, "weight": self.weight, "schedule": self.schedule,
                                        "warmup_ratio": self.warmup_ratio}, where)
        checked.params = params
        if checked.weight < 0:
            raise ConfigError(f"{where}.weight: must be >= 0, got {checked.weight}")
        if not 0.0 <= checked.warmup_ratio <= 1.0:
            raise ConfigError(f"{where}.warmup_ratio: must be in [0, 1], got {checked.warmup_ratio}")
        cls.check(checked, where)
        return checked

    def to_dict(self) -> dict[str, Any]:
        """Flat, as in a recipe: the common keys, then the objective's settings."""
        params = self.params if not dataclasses.is_dataclass(self.params) else dataclasses.asdict(self.params)
        return {"name": self.name, "weight": self.weight, "schedule": self.schedule,
                "warmup_ratio": self.warmup_ratio, **(params or {})}


def _convert_loss(value: Any, key: str) -> LossConfig:
    """A recipe's loss mapping: the common keys, and the objective's settings flat beside them (or under ``params``)."""
    from .objectives.registry import get_objective

    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a mapping of settings such as {{name: ...}}, got "
                          f"{type(value).__name__} {value!r}")
    if "name" not in value:
        raise ConfigError(f"{key}.name: missing; every loss names a registered objective")
    cls = get_objective(value["name"], f"{key}.name")
    common = [f.name for f in dataclasses.fields(LossConfig) if f.name != "params"]
    own = [f.name for f in dataclasses.fields(cls.Params)]
    nested = value.get("params")
    if nested is not None and not isinstance(nested, dict):
        raise ConfigError(f"{key}.params: expected a mapping, got {type(nested).__name__} {nested!r}")
    for name in value:
        if name not in (*common, *own, "params"):
            raise ConfigError(f"unknown key '{key}.{name}'{did_you_mean(name, [*common, *own])}; valid keys for "
                              f"'{cls.name}': {', '.join([*common, *own])}")
    params = {**{k: v for k, v in value.items() if k in own}, **(nested or {})}
    hints = typing.get_type_hints(LossConfig)
    loss = LossConfig(**{k: _convert(hints[k], value[k], f"{key}.{k}") for k in common if k in value})
    loss.params = _convert(cls.Params, params, key)
    return loss


@dataclass
class SelfTrainingConfig:
    """Self-training: pseudo-label unlabeled target text after the English phase, then train on it too."""

    rounds: int = 1
    threshold: float = 0.9
    class_balanced: bool = True
    max_per_class: int | None = None
    epochs: float = 1.0
    """Epochs over source + pseudo-labelled data in each round."""
    keep_alignment_losses: bool = True
    """Keep ``alignment.losses`` on in the rounds; off, a round trains on source + pseudo-labels with the
    task loss alone and skips the losses' extra forward passes (one per stream they read)."""

    def validate(self) -> None:
        if self.rounds < 1:
            raise ConfigError(f"self_training.rounds: must be at least 1, got {self.rounds}")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"self_training.threshold: must be in (0, 1), got {self.threshold}")
        if self.epochs <= 0:
            raise ConfigError(f"self_training.epochs: must be positive, got {self.epochs}")
        _check_positive(self, "self_training", ("max_per_class",))


@dataclass
class AveragingConfig:
    """Checkpoint averaging inside a run (Schmidt, Vulić & Glavaš, ACL 2023): a uniform running
    average of the trainable weights at snapshot points, scored on the selection split beside the
    single checkpoints. LoRA runs average the adapters and the head (their trainable weights)."""

    every_steps: int = 0
    """Take a snapshot every N optimiser steps; 0: at the end of every epoch."""
    start: float = 0.0
    """Fraction of training before which snapshots are skipped (e.g. 0.1 to skip the warm-up)."""
    save: Literal["averaged", "selected"] = "averaged"
    """Which model the run saves and evaluates: the average, or the checkpoint ``select_best_on`` chose."""
    keep_snapshots: bool = False
    """Also write each snapshot's trainable weights to ``snapshots/`` (for soups and later analysis)."""

    def validate(self) -> None:
        if self.every_steps < 0:
            raise ConfigError(f"averaging.every_steps: must be >= 0 (0: every epoch end), got {self.every_steps}")
        if not 0.0 <= self.start < 1.0:
            raise ConfigError(f"averaging.start: must be in [0, 1), got {self.start}")


@dataclass
class InterpolationConfig:
    """WiSE-FT after training (Wortsman et al., CVPR 2022): θ(α) = (1 − α)·θ_pretrained + α·θ_fine-tuned on the
    encoder, α chosen on the selection split (1 is always a candidate). LoRA adapters are merged first, so the
    saved checkpoint is a full one."""

    alphas: list[float] = field(default_factory=lambda: [0.2, 0.4, 0.6, 0.8])
    head: Literal["refit", "kept"] = "refit"
    """refit: a linear probe on the source train features under each θ(α); kept: the fine-tuned head."""

    def validate(self) -> None:
        if not self.alphas or any(not 0.0 <= a <= 1.0 for a in self.alphas):
            raise ConfigError(f"interpolation.alphas: must be values in [0, 1], got {self.alphas}")


@dataclass
class SelectionSignalsConfig:
    """Label-free signals scored after every epoch beside the selection split (xlingual.evaluation.signals):
    recorded per epoch in results.json, and usable by ``training.select_best_on``."""

    signals: list[str] = field(default_factory=lambda: ["retrieval", "confidence", "entropy", "agreement"])
    unlabeled_split: str = "train"
    """The split of each target language whose text (labels dropped at load time) the signals read."""
    max_examples: int | None = 300
    """Texts per language (a fixed random subset), to keep the per-epoch cost small."""
    pairs: PairsConfig | None = None
    """Translation pairs for ``retrieval`` (as ``alignment.pairs``); without them retrieval is skipped."""

    def validate(self) -> None:
        from .evaluation.signals import SIGNALS

        for signal in self.signals:
            if signal not in SIGNALS:
                raise ConfigError(f"selection_signals.signals: unknown signal '{signal}'"
                                  f"{did_you_mean(signal, SIGNALS)}; choose from {', '.join(SIGNALS)}")
        if self.unlabeled_split == "test":
            raise ConfigError("selection_signals.unlabeled_split: 'test' would select the model on test text")
        if self.pairs is not None:
            self.pairs.validate()
        _check_positive(self, "selection_signals", ("max_examples",))


TRACKERS = ("tensorboard", "mlflow", "wandb", "trackio", "comet_ml", "aim", "clearml", "dvclive", "swanlab")
"""accelerate's experiment trackers, by the names ``Accelerator(log_with=...)`` takes."""


@dataclass
class LoggingConfig:
    """Experiment trackers (accelerate's tracker API, as the stock Trainer's ``report_to``). The run's own
    ``logs/train_log.jsonl`` is always written; trackers get the same records as well."""

    report_to: list[str] = field(default_factory=lambda: ["none"])
    """Tracker names (``tensorboard``, ``mlflow``, ``wandb``, ``trackio``, …), ``all`` (every installed one) or
    ``none`` (the default)."""
    project: str | None = None
    """Project (TensorBoard folder, MLflow experiment, W&B project); ``None``: the recipe's name."""

    def validate(self) -> None:
        for name in self.report_to:
            if name not in (*TRACKERS, "all", "none"):
                raise ConfigError(f"logging.report_to: unknown tracker '{name}'{did_you_mean(name, TRACKERS)}; "
                                  f"choose from {', '.join(TRACKERS)}, all or none")
        if len(self.report_to) > 1 and {"none", "all"} & set(self.report_to):
            raise ConfigError(f"logging.report_to: 'none' and 'all' stand alone, got {self.report_to}")
        if self.project is not None and (not self.project.strip() or any(c in self.project for c in "/\\\0")
                                         or self.project in (".", "..")):
            raise ConfigError(f"logging.project: {self.project!r} must be a plain name (no path separators, not . "
                              "or ..; null for the recipe's name): TensorBoard makes a folder of it in the run")

    @property
    def trackers(self) -> list[str]:
        """The named trackers (``all`` is resolved when the run starts, from what is installed)."""
        return [] if self.report_to == ["none"] else list(self.report_to)


@dataclass
class AlignmentConfig:
    """Embedding alignment: the extra data streams and the loss terms that use them."""

    unlabeled_target: UnlabeledTargetConfig | None = None
    pairs: PairsConfig | None = None
    losses: list[LossConfig] = field(default_factory=list)

    def validate(self) -> None:
        for stream in (self.unlabeled_target, self.pairs):
            if stream is not None:
                stream.validate()
        names = [loss.name for loss in self.losses]
        if len(set(names)) != len(names):
            raise ConfigError(f"alignment.losses: a loss is listed twice: {names}")
        self.losses = [loss.validate(f"alignment.losses[{index}]") for index, loss in enumerate(self.losses)]
        for index, loss in enumerate(self.losses):
            self.check_streams(loss.name, f"alignment.losses[{index}]")

    def check_streams(self, name: str, where: str) -> None:
        """Refuse an objective whose data streams the recipe does not load (the rule comes from its declaration)."""
        from .objectives.registry import get_objective, missing_stream_sections

        missing = missing_stream_sections(get_objective(name, f"{where}.name"), self)
        if missing:
            raise ConfigError(f"{where}: '{name}' needs alignment.{missing[0]} to be set")


@dataclass
class RecipeConfig:
    """A whole recipe: everything needed to reproduce a run."""

    name: str = "recipe"
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig | None = None
    """LoRA settings; ``null`` (the default) means full fine-tuning."""
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    self_training: SelfTrainingConfig | None = None
    """Pseudo-label target text after the English phase (needs alignment.unlabeled_target)."""
    averaging: AveragingConfig | None = None
    """Checkpoint averaging inside the run; ``null`` (the default) keeps the selected checkpoint."""
    interpolation: InterpolationConfig | None = None
    """Interpolate the trained encoder toward the pretrained one after training (WiSE-FT)."""
    selection_signals: SelectionSignalsConfig | None = None
    """Label-free target-side signals scored every epoch (and selectable by ``training.select_best_on``)."""
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    """Experiment trackers (``report_to``) beside the run's own JSONL log."""
    output_dir: str = "runs/{name}-seed{seed}"
    """Run folder; ``{name}`` and ``{seed}`` are filled in."""

    def validate(self) -> RecipeConfig:
        """Check every value (types, ranges, names) and return a normalised copy (languages in their full
        names, loss settings as their objective's dataclass); raises :class:`ConfigError`. ``self`` is not changed."""
        recipe = _convert(RecipeConfig, _plain(self), "")
        recipe._validate_in_place()
        return recipe

    def _validate_in_place(self) -> None:
        for section in (self.model, self.lora, self.freeze, self.data, self.training, self.evaluation,
                        self.alignment, self.self_training, self.averaging, self.interpolation,
                        self.selection_signals, self.logging):
            if section is not None:
                section.validate()
        if self.lora is not None and (self.freeze.layers or self.freeze.encoder):
            raise ConfigError("freeze: with lora the encoder is already frozen; remove freeze.layers/freeze.encoder")
        signal = SIGNAL_SELECTION.get(self.training.select_best_on)
        if signal is not None:
            signals = self.selection_signals
            if signals is None or signal not in signals.signals:
                raise ConfigError(f"training.select_best_on: '{self.training.select_best_on}' needs "
                                  f"selection_signals.signals to include '{signal}'")
            if signal == "retrieval" and signals.pairs is None:
                raise ConfigError("training.select_best_on: 'retrieval' needs selection_signals.pairs")
        if self.interpolation is not None and self.training.select_best_on == "last":
            raise ConfigError("interpolation: chooses α on the selection split; training.select_best_on is 'last'")
        if not self.name or any(sep in self.name for sep in ("/", "\\", "\0")) or self.name in (".", ".."):
            raise ConfigError(f"name: {self.name!r} must be a plain name (no path separators, not . or ..); "
                              "it names the run folder inside output_dir")
        if not self.output_dir or "\0" in self.output_dir:
            raise ConfigError(f"output_dir: must name a folder, got {self.output_dir!r}")
        check_template(self.output_dir, "output_dir", ("name", "seed"))
        if self.self_training is not None and self.alignment.unlabeled_target is None:
            raise ConfigError("self_training: needs alignment.unlabeled_target (the text to pseudo-label)")
        if self.alignment.unlabeled_target and self.alignment.unlabeled_target.split == self.data.test_split:
            raise ConfigError(f"alignment.unlabeled_target.split: '{self.data.test_split}' is the test split; "
                              "training on test text (even unlabeled) would leak it")

    @property
    def method(self) -> str:
        """``lora``, ``head`` (linear probe) or ``full``."""
        if self.lora is not None:
            return "lora"
        return "head" if self.freeze.encoder else "full"

    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir.format(name=self.name, seed=self.training.seed))

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecipeConfig:
        """Build and validate a recipe from plain data (as parsed from YAML or JSON)."""
        recipe = _convert(cls, data, "")
        recipe._validate_in_place()
        return recipe


# --------------------------------------------------------------------------- checks


def check_template(template: str, key: str, fields: tuple[str, ...]) -> None:
    """Refuse a path template with unbalanced braces or a ``{placeholder}`` other than ``fields``."""
    allowed = ", ".join("{" + name + "}" for name in fields)
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"{key}: invalid template {template!r} ({exc}); placeholders allowed: {allowed}") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in fields or spec or conversion:
            raise ConfigError(
                f"{key}: unknown placeholder {{{name}}} in {template!r}{did_you_mean(name, fields)}; "
                f"placeholders allowed: {allowed} (write {{{{ and }}}} for literal braces)"
            )


def _check_positive(section: Any, where: str, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(section, name)
        if value is not None and value < 1:
            raise ConfigError(f"{where}.{name}: must be a positive integer or null, got {value}")


# --------------------------------------------------------------------------- parsing


def _plain(value: Any) -> Any:
    """A config object as plain data (what YAML holds): dataclasses as mappings, losses flat."""
    if isinstance(value, LossConfig):
        return _plain(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _convert(tp: Any, value: Any, key: str) -> Any:
    """Convert ``value`` to type ``tp`` or raise a ConfigError naming ``key``."""
    where = key or "recipe"
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, key)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if value is None:
        raise ConfigError(f"{where}: must not be null")
    if tp is LossConfig and not isinstance(value, LossConfig):
        return _convert_loss(value, where)
    if dataclasses.is_dataclass(tp):
        names = [f.name for f in dataclasses.fields(tp)]
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping of settings such as {{{names[0]}: ...}}, got "
                              f"{type(value).__name__} {value!r}")
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for name, sub in value.items():
            sub_key = f"{key}.{name}" if key else str(name)
            if name not in names:
                prefix = f"{key}." if key else ""
                suggestion = did_you_mean(name, names)
                hint = suggestion.replace("'", f"'{prefix}", 1) if suggestion else ""
                raise ConfigError(f"unknown key '{sub_key}'{hint}; valid keys here: {', '.join(names)}")
            kwargs[name] = _convert(hints[name], sub, sub_key)
        return tp(**kwargs)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if isinstance(value, bool):  # YAML 1.1 reads a bare no/off/yes/on as a bool: take the word back
            words = [w for w in (("no", "off", "false") if not value else ("yes", "on", "true")) if w in allowed]
            value = words[0] if words else value
        if value not in allowed:
            raise ConfigError(
                f"{where}: '{value}' is not one of {', '.join(map(str, allowed))}{did_you_mean(value, allowed)}"
            )
        return value
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list such as [a, b], got {type(value).__name__} {value!r}")
        return [_convert(item_type, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        key_type, item_type = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping such as {{key: value}}, got {type(value).__name__} "
                              f"{value!r}")
        return {_convert(key_type, k, where): _convert(item_type, v, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str, float)):
            raise ConfigError(f"{where}: expected an integer, got {type(value).__name__} {value!r}")
        try:
            as_float = float(value)
            if not as_float.is_integer():
                raise ValueError
            return int(as_float)
        except (ValueError, OverflowError):
            raise ConfigError(f"{where}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"{where}: expected a number, got {type(value).__name__} {value!r}")
        try:
            result = float(value)
        except (ValueError, OverflowError):
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        if result != result or result in (float("inf"), float("-inf")):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return result
    if tp is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{where}: expected a string, got {type(value).__name__} {value!r}")
        return str(value)
    raise TypeError(f"unsupported config type {tp!r} at {where}")  # a bug in xlingual, not user input


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (not the last one wins)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hashable = key in seen
            except TypeError:  # an unhashable key: construct_mapping reports it
                break
            if hashable:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def _yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects


def _yaml_problem(exc: yaml.YAMLError) -> tuple[str, Any]:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return problem, mark


# What PyYAML (and json) raise, besides YAMLError, for well-formed text with an impossible value: a date such as
# 2020-13-45, ``!!bool maybe``, ``!!int``, ``!!timestamp`` with no value (AttributeError inside PyYAML), an
# integer of 5000 digits, nesting too deep to parse.
_YAML_VALUE_ERRORS = (ValueError, LookupError, TypeError, ArithmeticError, RecursionError, AttributeError)


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    duplicate = next((key for key in keys if keys.count(key) > 1), None)
    if duplicate is not None:
        raise _DuplicateJsonKey(f"duplicate key '{duplicate}'")
    return dict(pairs)


class _DuplicateJsonKey(ValueError):
    pass


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``section.key=value`` override in place; the value is parsed as YAML."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected KEY=VALUE, e.g. training.learning_rate=2e-5")
    dotted, raw = assignment.split("=", 1)
    parts = [p for p in dotted.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {assignment!r}: the key is empty")
    try:
        value = _yaml_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:  # e.g. data.drop_labels=[NONE: an unclosed list is a mistake, not text
        problem, mark = _yaml_problem(exc)
        where = f" at character {mark.column + 1}" if mark is not None and mark.line == 0 else ""
        raise ConfigError(f"--set {dotted.strip()}: invalid YAML value {raw!r}{where}: {problem} (quote text "
                          f"that is not YAML, e.g. {dotted.strip()}='\"...\"')") from None
    except _YAML_VALUE_ERRORS:  # e.g. 2020-13-45, a YAML date with no such month: keep the text
        value = raw
    if isinstance(value, dict) and not raw.lstrip().startswith("{"):
        # "query: " parses as the mapping {query: None}; a mapping on the command line needs braces,
        # so this was meant as text (e5's text_prefix) and is kept verbatim, trailing space included
        value = raw
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def override_list(overrides: str | Sequence[str] | None) -> list[str]:
    """``--set`` overrides as a list: one string is one override (not a sequence of characters)."""
    if overrides is None:
        return []
    if isinstance(overrides, str):
        return [overrides]
    items = list(overrides)
    for item in items:
        if not isinstance(item, str):
            raise ConfigError(f"overrides: each must be a 'KEY=VALUE' string, got {type(item).__name__} {item!r}")
    return items


def load_recipe_dict(path: str | Path | None, overrides: str | Sequence[str] = ()) -> dict[str, Any]:
    """Read a recipe file into plain data and apply overrides (no type checks yet)."""
    overrides = override_list(overrides)
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"recipe {path} is a folder; give a recipe YAML file (see recipes/)")
        if not path.is_file():
            raise ConfigError(f"recipe file not found: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        try:
            loaded = _yaml_load(text) if path.suffix != ".json" else json.loads(text, object_pairs_hook=_json_object)
        except yaml.YAMLError as exc:
            problem, mark = _yaml_problem(exc)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{path}:{where} invalid YAML: {problem}") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: line {exc.lineno} invalid JSON: {exc.msg}") from None
        except _DuplicateJsonKey as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from None
        except _YAML_VALUE_ERRORS as exc:
            raise ConfigError(f"{path}: invalid value in the recipe ({type(exc).__name__}: {exc})") from None
        if loaded is None or loaded == {}:
            raise ConfigError(f"{path}: the recipe is empty; start from one in recipes/ (every setting at its "
                              "default is rarely what you want)")
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a recipe must be a mapping of sections, got {type(loaded).__name__}")
        data = loaded
        data.setdefault("name", path.stem)
    for assignment in overrides:
        apply_override(data, assignment)
    return data


def load_recipe(path: str | Path | None, overrides: str | Sequence[str] = ()) -> RecipeConfig:
    """Load a recipe YAML/JSON file, apply ``--set`` overrides, and validate it. One override may be given as a
    string (``"training.epochs=3"``), several as a list."""
    data = load_recipe_dict(path, overrides)
    try:
        return RecipeConfig.from_dict(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path else str(exc)) from None
