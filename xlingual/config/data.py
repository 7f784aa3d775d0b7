"""The data section: datasets, languages, label schemes, extra source text, pseudo-labels, code-switching."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import ConfigError
from ..labels import LabelScheme
from ..languages import UMSAB_LANGUAGES, canonical_names, normalize_language, to_canonical
from .conversion import Section, _check_positive, check_template


@dataclass
class ExtraSourceConfig(Section):
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

    def _normalize(self) -> None:
        if not self.root:
            raise ConfigError("data.extra_source.root: must name a folder or file")
        _check_positive(self, "data.extra_source", ("max_examples",))


@dataclass
class PseudoLabeledConfig(Section):
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
    per_epoch: int | None = None
    """Train each epoch on this many of a language's pseudo-labelled texts, the next ones of one seeded shuffle
    (default: all of them every epoch). A large pool (``--rule all-soft`` keeps every text) then costs what a
    small one does, and the epochs still reach different texts before any repeats. (A ``self_training`` round
    starts again at the first draw, and ``lp_ft``'s head fit reads every text.)"""

    def _normalize(self) -> None:
        where = "data.pseudo_labeled"
        if not self.root:
            raise ConfigError(f"{where}.root: must name the folder 'xlingual pseudo-label' wrote")
        if self.targets not in ("hard", "soft"):
            raise ConfigError(f"{where}.targets: expected 'hard' or 'soft', got {self.targets!r}")
        for key in ("temperature", "weight"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
                raise ConfigError(f"{where}.{key}: must be a positive number, got {value!r}")
        if self.per_epoch is not None and (isinstance(self.per_epoch, bool) or not isinstance(self.per_epoch, int)
                                           or self.per_epoch < 1):
            raise ConfigError(f"{where}.per_epoch: must be a positive whole number of texts, got {self.per_epoch!r}")
        if self.temperature != 1.0 and self.targets == "hard":
            raise ConfigError(f"{where}.temperature: tempers soft targets only; set targets: soft, or drop it")


@dataclass
class CodeSwitchConfig(Section):
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

    def _normalize(self) -> None:
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
class DataConfig(Section):
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

    def _normalize(self) -> None:
        if self.extra_source is not None:
            self.extra_source._normalize()
        if self.pseudo_labeled is not None:
            self.pseudo_labeled._normalize()
        if self.code_switch is not None:
            self.code_switch._normalize()
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
