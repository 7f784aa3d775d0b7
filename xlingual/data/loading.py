"""One entry point for labelled and unlabeled data, whatever the format in the recipe."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections import Counter
from pathlib import Path

from ..config import DataConfig
from ..errors import ConfigError, DataError, did_you_mean
from ..io import read_json
from ..labels import LabelScheme
from ..languages import normalize_language, to_canonical
from .examples import Examples
from .holdout import split_holdout
from .hub import read_hub
from .tabular import read_tabular
from .textfile import read_lines
from .umsab import read_text_label_files, read_umsab

logger = logging.getLogger(__name__)

SPLIT_ROLES = ("train", "dev", "test")


def label_scheme(config: DataConfig) -> LabelScheme:
    """The label scheme a data config describes."""
    return LabelScheme.build(config.label_scheme, config.label_names, config.label_map, config.drop_labels)


def split_name(config: DataConfig, split: str) -> str:
    """Map a role (``train``/``dev``/``test``) to the dataset's split name; other names pass through."""
    return {"train": config.train_split, "dev": config.dev_split, "test": config.test_split}.get(split, split)


def split_role(config: DataConfig, split: str) -> str | None:
    """``train``/``dev``/``test`` for a role or the dataset's name of one (``val`` → ``dev``); else ``None``."""
    if split in SPLIT_ROLES:
        return split
    return {config.train_split: "train", config.dev_split: "dev", config.test_split: "test"}.get(split)


def holds_out_dev(config: DataConfig) -> bool:
    """Whether the dev split is carved out of the train split (``data.dev_fraction`` / ``data.dev_size``)."""
    return config.dev_fraction is not None or config.dev_size is not None


def read_split(config: DataConfig, language: str, name: str, scheme: LabelScheme | None) -> Examples:
    """One language and split exactly as the dataset has it (no hold-out, no cap)."""
    names = config.language_names
    if config.format == "umsab":
        return read_umsab(config.root, language, name, scheme, names)
    if config.format == "hub":
        return read_hub(config.root, language, name, scheme, config.hub_config, config.text_column,
                        config.label_column, config.language_column, language_names=names)
    return read_tabular(config.root, config.format, language, name, scheme, config.text_column,
                        config.label_column, config.language_column, config.split_column, names)


def load_examples(config: DataConfig, language: str, split: str, *, labelled: bool = True,
                  scheme: LabelScheme | None = None) -> Examples:
    """Read one language and split. ``labelled=False`` never reads labels (unlabeled streams).
    ``scheme`` (built from ``config`` when not given) records which ``drop_labels`` the data had.

    The dev split comes from ``data.dev_root`` when set, or is held out of the labelled train split with
    ``data.dev_fraction``/``dev_size`` (which then leaves the train split without those examples; an
    unlabeled stream reads the whole train split, as its labels are never read).
    """
    language = to_canonical(language, config.language_names)
    scheme = (scheme or label_scheme(config)) if labelled else None
    role = split_role(config, split)
    if role == "dev" and config.dev_root:
        config = dataclasses.replace(config, root=config.dev_root)
    if holds_out_dev(config) and labelled and role in ("train", "dev"):
        full = read_split(config, language, config.train_split, scheme)
        train, dev = split_holdout(full, config.dev_fraction, config.dev_size, config.dev_seed)
        if role == "dev":  # once per language (the train role draws the same hold-out)
            _warn_missing_classes(full, dev, scheme, config)
        examples = dev if role == "dev" else train
    else:
        try:
            examples = read_split(config, language, split_name(config, split), scheme)
        except DataError as exc:
            if role != "dev" or config.dev_root:
                raise
            raise DataError(f"{exc}. No dev split? Set data.dev_fraction (e.g. 0.1: a stratified hold-out of the "
                            "train split) or data.dev_root (dev data elsewhere), or training.select_best_on: last"
                            ) from None
    if not examples.texts:
        raise DataError(f"{examples.origin}: no examples")
    limit = config.max_train_examples if role == "train" or split == "train" else config.max_eval_examples
    return examples.subsample(limit)


def _warn_missing_classes(full: Examples, dev: Examples, scheme: LabelScheme, config: DataConfig) -> None:
    """A stratified hold-out too small for every class leaves one out of dev: model selection never sees it."""
    in_train, in_dev = Counter(full.labels or ()), Counter(dev.labels or ())
    missing = [scheme.names[c] for c in sorted(in_train) if not in_dev[c]]
    if missing:
        setting = f"data.dev_size={config.dev_size}" if config.dev_size is not None \
            else f"data.dev_fraction={config.dev_fraction}"
        counts = ", ".join(f"{scheme.names[c]}: {in_dev[c]}" for c in sorted(in_train))
        logger.warning("%s holds out %d of %d examples of %s, and its dev part has no %s example (%s): model "
                       "selection cannot see %s; raise the hold-out or give a dev split", setting, len(dev),
                       len(full), full.origin, " or ".join(repr(m) for m in missing), counts,
                       "that class" if len(missing) == 1 else "those classes")


def load_extra_source(config: DataConfig, scheme: LabelScheme | None = None) -> Examples | None:
    """``data.extra_source``: labelled source-language examples from a text/labels file pair or one table."""
    extra = config.extra_source
    if extra is None:
        return None
    root = Path(extra.root)
    scheme = scheme or label_scheme(config)
    if root.is_dir():
        examples = read_text_label_files(root, extra.split, scheme, config.source_language)
    elif root.is_file():
        formats = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}
        if root.suffix.lower() not in formats:
            raise DataError(f"data.extra_source.root: {root} is not a .csv, .tsv or .jsonl file, nor a folder")
        examples = read_tabular(str(root), formats[root.suffix.lower()], config.source_language, extra.split,
                                scheme, config.text_column, config.label_column, language_column=None)
    else:
        raise DataError(f"data.extra_source.root: {root} not found")
    if not examples.texts:
        raise DataError(f"{examples.origin}: no examples")
    if extra.class_balanced:
        return _balanced(examples, extra.max_examples, scheme)
    return examples.subsample(extra.max_examples)


def target_language_overlap(config: DataConfig, texts: list[str]) -> dict[str, int]:
    """How many of ``texts`` occur verbatim in each target language's train, dev or test data (files the recipe
    reads; a hub dataset is not fetched for this). Extra source data is meant to be source-language text."""
    wanted, found = set(texts), {}
    if config.format == "hub" or not wanted:
        return found
    names = dict.fromkeys(split_name(config, split) for split in ("train", "dev", "test"))
    for language in config.target_languages:
        seen: set[str] = set()
        for name in names:  # whole splits: the recipe's caps (max_train_examples...) would hide most of them
            try:
                seen.update(read_split(config, to_canonical(language, config.language_names), name, None).texts)
            except DataError:  # a split the data does not have
                continue
        count = sum(text in seen for text in wanted)
        if count:
            found[language] = count
    return found


def check_extra_source_language(config: DataConfig, extra: Examples, warn: bool = True) -> dict[str, int]:
    """Refuse extra "source" data that is target-language data (most of it found in a target language's
    splits), warn about a few such texts; returns the counts per language for the protocol record."""
    found = target_language_overlap(config, extra.texts)
    distinct = len(set(extra.texts))
    for language, count in found.items():
        if count >= 0.1 * distinct:
            raise DataError(f"data.extra_source.root: {count} of {distinct} distinct texts of {extra.origin} are "
                            f"{language} data of this recipe (its train, dev or test split): extra source data "
                            f"must be labelled {config.source_language} text. Labelled target-language text is "
                            "another protocol, not zero-shot transfer; point data.extra_source.root at "
                            f"{config.source_language} data")
    if found and warn:
        shown = ", ".join(f"{language} {count}" for language, count in found.items())
        logger.warning("data.extra_source: %s texts of %s also occur in target-language data (%s); recorded in "
                       "results.json (protocol.extra_source_data)", sum(found.values()), extra.origin, shown)
    return found


def load_pseudo_labeled(config: DataConfig, scheme: LabelScheme | None = None) -> dict[str, Examples]:
    """``data.pseudo_labeled``: each language's teacher-labelled texts from an ``xlingual pseudo-label`` folder."""
    pseudo = config.pseudo_labeled
    if pseudo is None:
        return {}
    root = Path(pseudo.root)
    if not (root / "manifest.json").is_file():
        raise DataError(f"data.pseudo_labeled.root: {root} holds no manifest.json; point it at a folder written by "
                        "'xlingual pseudo-label'")
    found = sorted(p.name for p in root.iterdir() if (p / "train_text.txt").is_file())
    wanted = pseudo.languages or found
    scheme = scheme or label_scheme(config)

    try:
        teacher_labels = read_json(root / "manifest.json").get("labels")
    except (OSError, ValueError, AttributeError):
        raise DataError(f"{root / 'manifest.json'}: not a JSON object; write the folder again with "
                        "'xlingual pseudo-label'") from None
    if teacher_labels is not None and list(teacher_labels) != list(scheme.names):
        raise DataError(f"data.pseudo_labeled: the teacher's classes {teacher_labels} (in {root}/manifest.json) are "
                        f"not the recipe's {list(scheme.names)}, in that order; its labels would mean other classes")
    result = {}
    for language in wanted:
        language = normalize_language(language, field="data.pseudo_labeled.languages")
        if language not in found:
            raise DataError(f"data.pseudo_labeled: {root} has no {language}/ (found: {', '.join(found) or 'none'})")
        if language == config.source_language:
            raise DataError(f"data.pseudo_labeled: {root}/{language} is the source language; pseudo-labels are "
                            "target-language text")
        examples = read_text_label_files(root / language, "train", scheme, language)
        if not examples.texts:
            continue
        if pseudo.targets == "soft":
            examples.targets = _teacher_probabilities(root / language, scheme)
        if pseudo.weight != 1.0:
            examples.weights = [float(pseudo.weight)] * len(examples)
        result[language] = examples
    return result


def _teacher_probabilities(folder, scheme: LabelScheme) -> list[list[float] | None]:
    """``train_probabilities.jsonl``: one probability vector a line, line-aligned with ``train_text.txt``; the rows
    whose label the recipe drops (``data.drop_labels``) are dropped here too."""
    path = folder / "train_probabilities.jsonl"
    if not path.is_file():
        raise DataError(f"{path}: not found; data.pseudo_labeled.targets: soft needs the teacher's probabilities "
                        "that 'xlingual pseudo-label' writes (or use targets: hard)")
    lines = path.read_text(encoding="utf-8").splitlines()
    labels = read_lines(folder / "train_labels.txt")
    if len(lines) != len(labels):
        raise DataError(f"{path} has {len(lines)} lines but {folder}/train_labels.txt has {len(labels)}: they must "
                        "be line-aligned")
    classes = len(scheme.names)
    rows: list[list[float] | None] = []
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if (not isinstance(row, list) or len(row) != classes
                or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0 for p in row)
                or not math.isclose(sum(row), 1.0, abs_tol=1e-3)):
            raise DataError(f"{path}:{number}: expected a list of {classes} probabilities summing to 1, got "
                            f"{line[:80]!r}")
        if scheme.encode(labels[number - 1], f"{folder}/train_labels.txt:{number}") is not None:
            rows.append([float(p) for p in row])
    return rows


def _balanced(examples: Examples, limit: int | None, scheme: LabelScheme) -> Examples:
    """The class-balanced draw, with a warning where the data cannot give equal classes."""
    drawn = examples.balanced_subsample(limit)
    found = Counter(drawn.labels or ())
    counts = [found[k] for k in range(len(scheme.names))]
    if max(counts) - min(counts) > 1:
        shown = ", ".join(f"{name} {count}" for name, count in zip(scheme.names, counts, strict=True))
        logger.warning("data.extra_source.class_balanced: %s cannot give equal classes (%s)", examples.origin, shown)
    return drawn


def check_drop_labels(config: DataConfig, scheme: LabelScheme, origins: list[str]) -> None:
    """Refuse a ``data.drop_labels`` entry that none of the files read contains (a typo drops nothing)."""
    for raw in config.drop_labels or ():
        key = str(raw).strip().lower()
        if key not in scheme.dropped_seen:
            known = sorted({*scheme.mapping, *scheme.dropped_seen})
            raise ConfigError(f"data.drop_labels: {raw!r} is not a label of the data read ({', '.join(origins[:2])}"
                              f"{', ...' if len(origins) > 2 else ''}; labels are matched case-insensitively)"
                              f"{did_you_mean(key, known)}")
