"""Training and evaluation from data in memory: Datasets, DataFrames and lists instead of files.

``fit`` is ``train`` for data a notebook already holds: it converts the tables
(:mod:`xlingual.data.memory`), runs the same runner (the run folder is written as for a recipe),
and returns the trained :class:`~xlingual.inference.Classifier` with its report. ``evaluate`` scores a
classifier on labelled data of any language.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import PairsConfig, RecipeConfig, UnlabeledTargetConfig, load_recipe
from .data.batching import tokenize_examples
from .data.examples import Examples
from .data.loading import label_scheme
from .data.memory import check_column_mapping, examples_by_language, pairs_by_language
from .errors import ConfigError, DataError
from .evaluation.splits import split_results
from .evaluation.zero_shot import evaluate_languages
from .inference import Classifier
from .labels import LabelScheme
from .languages import normalize_language
from .results import Results, SplitResults
from .runner import Runner
from .stages.data import RunData, code_switch_source, load_streams_data, with_pseudo_labels
from .stages.records import api_call

logger = logging.getLogger(__name__)


class TrainedClassifier(Classifier):
    """A :class:`Classifier` fresh from :func:`fit`: also its ``report`` (the :class:`~xlingual.results.Results`
    written to results.json) and ``run_folder``."""

    def __init__(self, model, tokenizer, report: Results, run_folder: Path, scheme: LabelScheme,
                 device="cpu") -> None:
        super().__init__(model, tokenizer, device)
        self.report = report
        self.run_folder = run_folder
        self.scheme = scheme
        """The label scheme the training data was read with; :func:`evaluate` reads raw labels with it too."""


def fit(
    recipe: RecipeConfig | str | Path | None = None,
    *,
    train: Any,
    dev: Any = None,
    test: Any = None,
    unlabeled_target: Any = None,
    pairs: Any = None,
    column_mapping: Mapping[str, str] | None = None,
    objectives: Sequence[Any] = (),
    callbacks: Sequence[Any] = (),
    output_dir: str | Path | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> TrainedClassifier:
    """Train on in-memory data and evaluate zero-shot; returns the trained classifier (run folder written too).

    - ``train``: labelled source-language data (rows in another language are refused: their labels would leak).
    - ``dev``: labelled data for model selection (``training.select_best_on``); without it the last epoch is kept.
    - ``test``: labelled data in the source and target languages, scored after training; its target languages
      become ``data.target_languages``.
    - ``unlabeled_target``: target-language texts (a mapping language → texts, or a table with a language column).
    - ``pairs``: translation pairs, a mapping language → [(english, translation), ...] or → a table with
      ``source`` and ``target`` columns.
      Either, when not given, is read from the files of the recipe's ``alignment`` section if its losses need it.

    Each table may be a ``datasets.Dataset``, a pandas DataFrame, a mapping of columns, a list of rows,
    ``(texts, labels)``; several languages come from a ``language`` column or a mapping language → table.
    ``column_mapping`` renames columns to ``text``, ``label``, ``language`` (``source``/``target`` for pairs).
    ``callbacks`` are objects with any of the events of :class:`xlingual.Callback` (the training loop's
    ``on_train_begin``, ``on_log``, ``on_epoch_end``, ``on_train_end``; the runner's ``on_stage_begin``,
    ``on_stage_end``, ``on_evaluate``, ``on_save``); each takes one record.
    """
    call = api_call("fit", recipe, output_dir=output_dir, objectives=list(objectives))
    recipe = load_recipe(recipe) if isinstance(recipe, (str, Path)) else copy.deepcopy(recipe or RecipeConfig())
    if not isinstance(recipe, RecipeConfig):
        raise ConfigError(f"recipe: expected a RecipeConfig or a recipe file, got {type(recipe).__name__}")
    if output_dir is not None:
        recipe.output_dir = str(output_dir)
    data = recipe.data
    source = data.source_language = normalize_language(data.source_language, field="data.source_language")
    scheme = label_scheme(data)

    check_column_mapping(column_mapping, {"train": train, "dev": dev, "test": test,
                                          "unlabeled_target": unlabeled_target, "pairs": pairs})
    by_language = examples_by_language(train, "train", scheme, column_mapping, source, "train")
    others = sorted(set(by_language) - {source})
    if others:
        raise DataError(f"train: rows in {', '.join(others)}; training data is source-language ({source}) only, "
                        "or target labels would be trained on (give unlabeled target text as unlabeled_target)")
    evaluation = {}
    if test is not None:
        evaluation = {"test": examples_by_language(test, "test", scheme, column_mapping, None, "test")}
        targets = [lang for lang in evaluation["test"] if lang != source]
        if targets:
            data.target_languages = targets
    selection = _selection(recipe, dev, scheme, column_mapping, source)
    unlabeled, translation_pairs = load_streams_data(_file_streams(recipe, unlabeled_target, pairs))
    if unlabeled_target is not None:
        unlabeled = examples_by_language(unlabeled_target, "unlabeled", None, column_mapping, None, "unlabeled_target")
        recipe.alignment.unlabeled_target = recipe.alignment.unlabeled_target or UnlabeledTargetConfig()
    if pairs is not None:
        translation_pairs = pairs_by_language(pairs, column_mapping, "pairs")
        recipe.alignment.pairs = recipe.alignment.pairs or PairsConfig()
    if data.code_switch is not None:
        data.code_switch = data.code_switch.validate()
    train_examples, code_switch = code_switch_source(recipe, by_language[source])  # as train() does
    train_examples = with_pseudo_labels(recipe, train_examples, scheme)  # as train() reads them
    data.root = "in-memory"
    run = Runner(recipe, call=call, objectives=objectives, callbacks=callbacks, overwrite=overwrite,
                 progress=progress, data=RunData(train_examples, selection, evaluation, unlabeled, translation_pairs,
                                                 code_switch=code_switch)).run()
    return TrainedClassifier(run.model, run.tokenizer, run.results, run.folder, scheme, device=run.model.device)


def _file_streams(recipe: RecipeConfig, unlabeled_target: Any, pairs: Any) -> RecipeConfig:
    """The recipe with only the ``alignment`` streams that are to be read from files (those not given in memory)."""
    from_files = copy.deepcopy(recipe)
    if unlabeled_target is not None:
        from_files.alignment.unlabeled_target = None
    if pairs is not None:
        from_files.alignment.pairs = None
    return from_files


def _selection(recipe: RecipeConfig, dev: Any, scheme: LabelScheme, column_mapping, source: str
               ) -> dict[str, Examples]:
    """The dev data ``training.select_best_on`` asks for; without dev data the last epoch is kept."""
    mode = recipe.training.select_best_on
    if mode == "last":
        return {}
    if dev is None:
        logger.warning("fit: no dev data, so the model of the last epoch is kept (training.select_best_on: last)")
        recipe.training.select_best_on = "last"
        return {}
    by_language = examples_by_language(dev, "dev", scheme, column_mapping, source, "dev")
    wanted = [source] if mode == "source-dev" else [lang for lang in by_language if lang != source]
    missing = [lang for lang in wanted if lang not in by_language] or ([] if wanted else ["a target language"])
    if missing:
        raise DataError(f"dev: no rows in {', '.join(missing)}, which training.select_best_on: {mode} selects on")
    return {lang: by_language[lang] for lang in wanted}


def evaluate(
    classifier: Classifier,
    data: Any,
    *,
    column_mapping: Mapping[str, str] | None = None,
    language: str | None = None,
    label_scheme: str | LabelScheme | None = None,
    source_language: str = "english",
    split: str = "test",
    batch_size: int = 64,
    progress: bool = False,
) -> SplitResults:
    """Score ``classifier`` on labelled data: per-language accuracy, macro-F1, per-class F1, confusion matrix,
    and the transfer summary (source score, target average, gap), as in results.json.

    Raw labels are read with ``label_scheme`` (a built-in scheme name or a LabelScheme); by default with the
    scheme a :func:`fit` classifier was trained with, else as the classifier's class names or their indices.
    ``language`` names the language of rows when the data has no language column."""
    if isinstance(label_scheme, str):
        label_scheme = LabelScheme.build(label_scheme)
    scheme = (label_scheme or getattr(classifier, "scheme", None)
              or LabelScheme.build("custom", list(classifier.labels)))
    if list(scheme.names) != list(classifier.labels):
        raise ConfigError(f"label_scheme: its classes {list(scheme.names)} are not the classifier's "
                          f"{classifier.labels}")
    default = normalize_language(language, field="language") if language else None
    check_column_mapping(column_mapping, {"data": data})
    examples = examples_by_language(data, split, scheme, column_mapping, default, "data")
    tokenized = {lang: (ex, tokenize_examples(ex, classifier.tokenizer, classifier.max_length,
                                              classifier.text_prefix)) for lang, ex in examples.items()}
    report = evaluate_languages(classifier.model, tokenized, list(classifier.labels), split,
                                normalize_language(source_language, field="source_language"), batch_size,
                                classifier.device, None, progress)
    return split_results(report)
