"""Read everything a run trains and evaluates on, before any model loads, so data errors come first.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..config import RecipeConfig
from ..data.code_switch import code_switched_views, load_code_switcher
from ..data.examples import Examples, check_text
from ..data.holdout import holdout_record
from ..data.loading import (
    check_drop_labels,
    check_extra_source_language,
    holds_out_dev,
    label_scheme,
    load_examples,
    load_extra_source,
    load_pseudo_labeled,
    split_role,
)
from ..data.pairs import TranslationPairs, load_pairs
from ..data.textfile import read_lines
from ..errors import DataError
from ..languages import normalize_language

logger = logging.getLogger(__name__)


def train_eval_overlap(train: Examples, evaluation: dict[str, dict[str, Examples]]) -> int:
    """How many training texts also appear (verbatim) in the evaluation data."""
    test_texts = {text for split in evaluation.values() for ex in split.values() for text in ex.texts}
    return sum(text in test_texts for text in train.texts)


def load_run_data(
    recipe: RecipeConfig, warn: bool = True
) -> tuple[Examples, dict[str, Examples], dict[str, dict[str, Examples]], dict[str, int], dict | None]:
    """Read every split the run needs before any model loads, so data errors come first; the last items count
    the extra source texts found in target-language data and record the code-switching (for the protocol)."""
    data = recipe.data
    scheme = label_scheme(data)
    train = load_examples(data, data.source_language, "train", scheme=scheme)
    extra = load_extra_source(data, scheme)
    extra_overlap: dict[str, int] = {}
    if extra is not None:  # target-language text passing as extra English: refused (a little of it: counted)
        extra_overlap = check_extra_source_language(data, extra, warn)
        train = train.concatenate(extra)
    train, code_switch = code_switch_source(recipe, train)  # the source rows only, before any target text joins
    train = with_pseudo_labels(recipe, train, scheme)  # teacher-labelled target text (protocol: pseudo-labels)
    selection_languages = {"target-dev": data.target_languages, "last": []}.get(recipe.training.select_best_on,
                                                                                 [data.source_language])
    selection = {lang: load_examples(data, lang, "dev", scheme=scheme) for lang in selection_languages}
    evaluation = {split: {lang: load_examples(data, lang, split, scheme=scheme) for lang in data.languages}
                  for split in recipe.evaluation.splits}
    check_drop_labels(data, scheme, [train.origin, *(ex.origin for ex in selection.values())])
    overlap = train_eval_overlap(train, evaluation)
    if overlap and warn:
        logger.warning("%d training texts also appear in the evaluation data (%s)", overlap, train.origin)
    return train, selection, evaluation, extra_overlap, code_switch


def with_pseudo_labels(recipe: RecipeConfig, train: Examples, scheme=None) -> Examples:
    """``data.pseudo_labeled``: the source examples followed by each language's teacher-labelled texts, with
    ``per_epoch`` of them drawn for each epoch when it is set (seeded by the training seed and the language)."""
    config = recipe.data.pseudo_labeled
    epochs = max(1, math.ceil(recipe.training.epochs))
    for language, pseudo in load_pseudo_labeled(recipe.data, scheme).items():
        train = train.concatenate(pseudo.drawn_per_epoch(config.per_epoch, epochs,
                                                         f"pseudo-labels:{recipe.training.seed}:{language}"))
    return train


def code_switch_source(recipe: RecipeConfig, train: Examples) -> tuple[Examples, dict | None]:
    """``data.code_switch``: the source examples with one code-switched view per epoch, and the protocol record."""
    config = recipe.data.code_switch
    if config is None:
        return train, None
    switcher, record = load_code_switcher(config, recipe.data.target_languages, recipe.training.seed)
    views, counts = code_switched_views(train, switcher, max(1, math.ceil(recipe.training.epochs)))
    return dataclasses.replace(train, views=views), {**record, **counts}


def load_streams_data(recipe: RecipeConfig) -> tuple[dict[str, Examples], dict[str, TranslationPairs]]:
    """Unlabeled target text (labels dropped at load time) and translation pairs the recipe asks for."""
    data, alignment = recipe.data, recipe.alignment
    unlabeled: dict[str, Examples] = {}
    if alignment.unlabeled_target is not None:
        config = alignment.unlabeled_target
        for language in config.languages or data.target_languages:
            language = normalize_language(language, field="alignment.unlabeled_target.languages")
            if config.root is not None:
                path = Path(config.root.format(language=language))
                texts = [check_text(t, f"{path}:{i}") for i, t in enumerate(read_lines(path), start=1)]
                examples = Examples(texts, None, language, "unlabeled", str(path))
            else:
                examples = load_examples(data, language, config.split, labelled=False)
            unlabeled[language] = examples.subsample(config.max_examples)
    pairs: dict[str, TranslationPairs] = {}
    if alignment.pairs is not None:
        config = alignment.pairs
        explicit = config.languages is not None
        problems = []
        for language in config.languages or data.target_languages:
            try:
                pairs[normalize_language(language)] = load_pairs(
                    config.root, language, data.source_language, config.format, config.hub_config,
                    config.split).head(config.max_pairs)
            except DataError as exc:
                if explicit:
                    raise
                problems.append(str(exc))
        if not pairs:
            raise DataError(f"alignment.pairs: no translation pairs found in {config.root} for "
                            f"{', '.join(data.target_languages)} (first problem: {problems[0] if problems else '-'})")
    return unlabeled, pairs


def load_signal_data(recipe: RecipeConfig) -> tuple[dict[str, Examples], dict[str, TranslationPairs]]:
    """Target text (labels dropped) and translation pairs for the label-free selection signals, if configured."""
    config = recipe.selection_signals
    if config is None:
        return {}, {}
    data = recipe.data
    unlabeled = {}
    if {"confidence", "entropy", "agreement"} & set(config.signals):
        unlabeled = {lang: load_examples(data, lang, config.unlabeled_split, labelled=False).subsample(
            config.max_examples) for lang in data.target_languages}
    pairs = {}
    if "retrieval" in config.signals and config.pairs is not None:
        p = config.pairs
        for language in p.languages or data.target_languages:
            language = normalize_language(language, field="selection_signals.pairs.languages")
            pairs[language] = load_pairs(p.root, language, data.source_language, p.format, p.hub_config,
                                         p.split).head(p.max_pairs or config.max_examples)
    return unlabeled, pairs


def dev_holdouts(recipe: RecipeConfig, selection: dict[str, Examples],
                 evaluation: dict[str, dict[str, Examples]]) -> dict[str, dict]:
    """Per language, the record of its dev hold-out (``data.dev_fraction``/``dev_size``), if the run used one."""
    data = recipe.data
    if not holds_out_dev(data):
        return {}
    names = list(label_scheme(data).names)
    dev_sets = dict(selection)
    for split, by_language in evaluation.items():
        if split_role(data, split) == "dev":
            dev_sets.update(by_language)
    return {lang: holdout_record(ex, data.train_split, data.dev_fraction, data.dev_size, data.dev_seed, names)
            for lang, ex in dev_sets.items()}


@dataclass
class RunData:
    """Everything a run trains and evaluates on, read before any model loads (from files or from memory)."""

    train: Examples
    selection: dict[str, Examples]
    evaluation: dict[str, dict[str, Examples]]
    """split → language → examples."""
    unlabeled: dict[str, Examples] = field(default_factory=dict)
    pairs: dict[str, TranslationPairs] = field(default_factory=dict)
    extra_source_overlap: dict[str, int] = field(default_factory=dict)
    """Extra source texts found in each target language's data (``data.extra_source``), for the protocol."""
    code_switch: dict | None = None
    """What ``data.code_switch`` replaced (:func:`code_switch_source`), for the protocol."""

    @classmethod
    def from_recipe(cls, recipe: RecipeConfig, warn: bool = True) -> RunData:
        train, selection, evaluation, extra_overlap, code_switch = load_run_data(recipe, warn=warn)
        unlabeled, pairs = load_streams_data(recipe)
        return cls(train, selection, evaluation, unlabeled, pairs, extra_overlap, code_switch)
