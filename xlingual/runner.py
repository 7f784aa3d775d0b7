"""End-to-end jobs: train a recipe (then evaluate zero-shot) and re-evaluate a saved run.

Still the largest module (about 800 lines), and not on purpose: every stage of a run is wired here, in
``run_training``. Splitting it into stages a runner owns (prepare, data, model, train, post-hoc, evaluate,
write) is the open part of the redesign; scoring (``evaluation.splits``) and the run-folder records
(``run_folder.RunWriter``) have already moved out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import ProjectConfiguration, broadcast_object_list, set_seed

from . import run_folder as rf
from .checkpoint import load_checkpoint, load_checkpoint_config, save_checkpoint
from .config import RecipeConfig, load_recipe, override_list
from .config.registry import check_declaration, missing_stream_sections
from .cost import training_cost
from .data.batching import TokenizedExamples, tokenize_examples
from .data.code_switch import code_switched_views, load_code_switcher
from .data.examples import Examples, check_text
from .data.holdout import HOLDOUT_FILE, holdout_record
from .data.loading import (
    check_drop_labels,
    check_extra_source_language,
    holds_out_dev,
    label_scheme,
    load_examples,
    load_extra_source,
    load_pseudo_labeled,
    split_role,
)
from .data.pairs import TranslationPairs, load_pairs
from .data.textfile import read_lines
from .data.truncation import TruncationStats, truncation_messages, truncation_report
from .errors import ConfigError, DataError, RunFolderError, XlingualError
from .evaluation import other_data
from .evaluation.inference import predict_probabilities
from .evaluation.predictions import write_predictions
from .evaluation.signals import SelectionSignals, SignalData
from .evaluation.splits import evaluate_splits, tokenize, tokenize_all
from .io import read_json
from .languages import normalize_language, to_canonical
from .locking import check_unlocked, folder_lock
from .merging import interpolate_in_run
from .modeling.build import build_model, position_limit
from .modeling.freezing import count_parameters
from .objectives import Objective, SetupContext, build_objectives
from .objectives.base import copy_objectives
from .protocol import PRIOR_CORRECTION, SELECTION_NAMES, check_protocol, target_resources
from .reports.model_card import write_model_card
from .reports.plots import plot_training_curves
from .reports.runs import ComparisonError
from .results import LabelSchemeRecord, ProtocolRecord, Results
from .run_folder import record_paths, run_recipe_data
from .tracking import TrackerCallback, resolve_trackers
from .training.linear_probe import refit_head
from .training.loop import TrainingLoop
from .training.pseudo_labels import MIX_SHIFT_WARNING, class_mix_shift, predicted_mix, select_pseudo_labels
from .training.state import remove_training_state
from .training.streams import PairStream, TextStream

logger = logging.getLogger(__name__)


def make_accelerator(recipe: RecipeConfig, trackers: list[str] | None = None) -> Accelerator:
    """An Accelerator for this machine; under torchrun without GPUs, CPU processes with gloo.

    accelerate keeps one process-wide state: a second run in the same Python process (a notebook) with
    another ``mixed_precision`` resets it when there is one process, and is refused under torchrun."""
    precision = recipe.training.mixed_precision
    if precision != "no" and not torch.cuda.is_available():
        # accelerate would train in fp32 (fp16) or CPU autocast (bf16) while the run records the setting
        raise ConfigError(f"training.mixed_precision: {precision} needs a CUDA GPU and torch sees none; "
                          "set training.mixed_precision=no")
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    wanted = recipe.training.mixed_precision
    if AcceleratorState._shared_state and str(AcceleratorState().mixed_precision) != wanted:
        if AcceleratorState().num_processes > 1:
            raise ConfigError(f"training.mixed_precision: this process already trained with "
                              f"'{AcceleratorState().mixed_precision}', and accelerate cannot change it across "
                              f"{AcceleratorState().num_processes} processes; start a new torchrun for '{wanted}'")
        AcceleratorState._reset_state(reset_partial_state=True)
    logging = {}
    if trackers:  # accelerate's trackers; those needing a folder write under RUN/logs/trackers
        out = recipe.resolved_output_dir()
        logging = {"log_with": trackers, "project_config": ProjectConfiguration(
            project_dir=str(out), logging_dir=str(out / rf.TRACKER_FILES))}
    return Accelerator(gradient_accumulation_steps=recipe.training.gradient_accumulation_steps,
                       mixed_precision=recipe.training.mixed_precision, cpu=multi_cpu, **logging)


def report_truncation(recipe: RecipeConfig, tokenized: dict[str, dict[str, TokenizedExamples]], show: bool) -> dict:
    """Log how many texts of each language and split were cut (a warning above the threshold); the
    ``truncation`` block of results.json."""
    stats = {split: {lang: TruncationStats(len(data), data.truncated) for lang, data in by_language.items()}
             for split, by_language in tokenized.items()}
    if show:
        for line in truncation_messages(stats, recipe.model.max_length, recipe.data.truncation):
            level, _, message = line.partition(": ")
            if level == "warning":
                logger.warning(message)
            else:
                logger.info(line)
    return truncation_report(stats, recipe.model.max_length, recipe.data.truncation)


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
    for pseudo in load_pseudo_labeled(data, scheme).values():  # teacher-labelled target text (protocol: pseudo-labels)
        train = train.concatenate(pseudo)
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


def protocol(recipe: RecipeConfig, train: Examples, selection: dict[str, Examples], unlabeled: dict[str, Examples],
             pairs: dict[str, TranslationPairs], objectives: Sequence[Objective] = (),
             holdout: dict[str, dict] | None = None, extra_overlap: dict[str, int] | None = None,
             code_switch: dict | None = None) -> ProtocolRecord:
    """Which target-side resources the run used (with the files), how the model was selected, and the
    dev hold-out (its seed and the hash of its positions; the positions are in dev_holdout.json)."""
    files: dict = {"train": train.origin, "selection": {k: v.origin for k, v in selection.items()}}
    if unlabeled:
        files["unlabeled_target"] = {k: v.origin for k, v in unlabeled.items()}
    if pairs:
        files["pairs"] = {k: v.origin for k, v in pairs.items()}
    record = ProtocolRecord(target_resources(recipe, objectives), SELECTION_NAMES[recipe.training.select_best_on],
                            files)
    if recipe.data.extra_source is not None:
        names = label_scheme(recipe.data).names
        counts = Counter(train.labels or ())
        record.extra_source_data = {"files": recipe.data.extra_source.root, "train_examples": len(train.texts),
                                    "class_balanced": recipe.data.extra_source.class_balanced,
                                    "train_label_counts": {names[k]: counts[k] for k in sorted(counts)}}
        if extra_overlap:  # extra source texts found in target-language data (load_run_data counted them)
            record.extra_source_data["target_language_texts"] = extra_overlap
    if recipe.data.pseudo_labeled is not None:
        record.pseudo_labels = pseudo_label_record(recipe)
    if code_switch is not None:
        record.code_switch = code_switch
    record.cost = training_cost(recipe, (record.pseudo_labels or {}).get("teachers"))
    if recipe.evaluation.prior_correction is not None:
        record.prior_correction = protocol_prior_correction(recipe)
    if recipe.averaging is not None:
        record.checkpoint_averaging = {"every_steps": recipe.averaging.every_steps,
                                       "start": recipe.averaging.start, "saved": recipe.averaging.save}
    if holdout:
        record.dev_holdout = {"file": HOLDOUT_FILE, "languages": {
            lang: {k: v for k, v in entry.items() if k not in ("indices", "indices_are")}
            for lang, entry in holdout.items()}}
    return record


def pseudo_label_record(recipe: RecipeConfig) -> dict:
    """``protocol.pseudo_labels``: the folder, its teachers (runs and weight fingerprints), rule and counts."""
    root = Path(recipe.data.pseudo_labeled.root)
    manifest = read_json(root / "manifest.json")
    kept = {lang: entry.get("kept") for lang, entry in manifest.get("languages", {}).items()
            if recipe.data.pseudo_labeled.languages is None or lang in recipe.data.pseudo_labeled.languages}
    return {"root": str(root), "teachers": manifest.get("teachers"), "rule": manifest.get("rule"),
            "k": manifest.get("k"), "threshold": manifest.get("threshold"), "kept": kept,
            "targets": recipe.data.pseudo_labeled.targets, "temperature": recipe.data.pseudo_labeled.temperature,
            "weight": recipe.data.pseudo_labeled.weight}


COLLAPSE_SHARE, COLLAPSE_EXCESS = 0.75, 0.30
"""A target language where one class takes at least 3 of 4 predictions, 30 points more than on the source
language's same split, has most likely collapsed toward it (label-free: predicted shares only). A mere
difference of priors (Hindi: 59% neutral against English's 28%) stays below it."""


def prediction_mix_warning(results: Results, warn: bool) -> dict[str, dict[str, float]]:
    """Per target language, the predicted class shares when one class dominates (:data:`COLLAPSE_SHARE`,
    :data:`COLLAPSE_EXCESS` over the source's share); English dev does not show such a collapse, and this needs
    no label."""
    split = next(iter(results.splits), None)
    scores = results.splits[split].languages if split is not None else {}
    source = scores.get(results.source_language)
    if source is None:
        return {}
    names, reference = results.label_scheme.names, predicted_mix(source.confusion_matrix)
    flagged = {}
    for language, score in scores.items():
        mix = predicted_mix(score.confusion_matrix)
        top = max(range(len(mix)), key=mix.__getitem__) if mix else 0
        if (language != results.source_language and mix and mix[top] >= COLLAPSE_SHARE
                and mix[top] - reference[top] >= COLLAPSE_EXCESS):
            flagged[language] = {name: round(share, 4) for name, share in zip(names, mix, strict=True)}
    if flagged and warn:
        shown = ", ".join(f"{lang} ({max(m, key=m.get)} {100 * max(m.values()):.0f}%)" for lang, m in flagged.items())
        logger.warning("the predictions on %s text are mostly one class (%s; %s: %s): the model may have collapsed "
                       "on target text, which English dev does not show (recorded in results.json "
                       "training.prediction_mix_warning)", split, shown, results.source_language,
                       ", ".join(f"{n} {100 * s:.0f}%" for n, s in zip(names, reference, strict=True)))
    return flagged


def student_class_mix(results: Results, warn: bool) -> dict:
    """How far the student's predicted class mix on each target language's evaluation text moved from its
    teachers' on the same text (their results.json; predicted shares only, no label is read); a warning above
    10 points in any class."""
    split = next(iter(results.splits), None)
    if split is None:
        return {}
    names = results.label_scheme.names

    def mixes(record: Results) -> dict[str, list[float]]:
        scores = record.splits.get(split)
        return {} if scores is None else {lang: predicted_mix(s.confusion_matrix) for lang, s in
                                          scores.languages.items() if lang in results.target_languages}

    teachers = []
    for teacher in results.protocol.pseudo_labels.get("teachers") or ():
        path = Path(str(teacher.get("run"))) / rf.RESULTS
        try:
            teachers.append(mixes(Results.read(path)))
        except (OSError, XlingualError):
            logger.warning("pseudo-labels: the teacher's %s is unreadable; its class mix is not compared", path)
    if not teachers:
        return {}
    record = {"class_mix_split": split, **class_mix_shift(mixes(results), teachers, list(names))}
    if record["class_mix_warning"] and warn:
        worst = {lang: max(record["class_mix_shift"][lang].items(), key=lambda kv: abs(kv[1]))
                 for lang in record["class_mix_warning"]}
        logger.warning("the student's predicted class mix moved more than %d points from its teachers' in %s: it may "
                       "have learned language → class from the pseudo-labels (recorded in protocol.pseudo_labels)",
                       round(MIX_SHIFT_WARNING * 100),
                       ", ".join(f"{lang} ({name} {delta * 100:+.1f})" for lang, (name, delta) in worst.items()))
    return record


def protocol_prior_correction(recipe: RecipeConfig) -> str:
    return (f"transductive: class priors re-estimated by EM on unlabeled target "
            f"'{recipe.evaluation.prior_correction}' text at prediction time")


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


def build_signals(recipe: RecipeConfig, tokenizer, unlabeled: dict[str, Examples],
                  pairs: dict[str, TranslationPairs]):
    """The per-epoch label-free signals over the tokenised signal data (None when not configured)."""
    if recipe.selection_signals is None:
        return None
    model = recipe.model

    def tokenize(texts: list[str], language: str, origin: str):
        return tokenize_examples(Examples(texts, None, language, "signals", origin), tokenizer, model.max_length,
                                 model.text_prefix, recipe.data.truncation)

    data = SignalData(
        unlabeled={lang: tokenize(ex.texts, lang, ex.origin) for lang, ex in unlabeled.items()},
        pairs={lang: (tokenize(p.source, recipe.data.source_language, p.origin), tokenize(p.target, lang, p.origin))
               for lang, p in pairs.items()})
    return SelectionSignals(data, recipe.selection_signals.signals, recipe.evaluation.batch_size)


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


def build_streams(recipe: RecipeConfig, tokenizer, unlabeled: dict[str, Examples],
                  pairs: dict[str, TranslationPairs]) -> dict:
    """Tokenise the auxiliary data once and wrap it in endless seeded batch streams."""
    training = recipe.training
    streams: dict = {}
    if unlabeled:
        size = recipe.alignment.unlabeled_target.batch_size or training.batch_size
        parts = [tokenize(ex, tokenizer, recipe) for ex in unlabeled.values()]
        streams["target"] = TextStream(parts, size, seed=training.seed + 1)
    if pairs:
        size = recipe.alignment.pairs.batch_size or training.batch_size
        english = [tokenize(Examples(p.source, None, "english", "pairs", p.origin), tokenizer, recipe)
                   for p in pairs.values()]
        other = [tokenize(Examples(p.target, None, p.language, "pairs", p.origin), tokenizer, recipe)
                 for p in pairs.values()]
        streams["pairs"] = PairStream(english, other, size, seed=training.seed + 2)
    return streams


def self_train(recipe, model, tokenizer, accelerator, train_data: TokenizedExamples, selection, scheme,
               unlabeled: dict[str, Examples], objectives, streams, log_path: Path, progress: bool,
               callbacks: Sequence[object] = ()) -> list[dict]:
    """Rounds of pseudo-labelling target text with the current model and training on source + pseudo-labels."""
    config = recipe.self_training
    targets = {lang: tokenize(ex, tokenizer, recipe) for lang, ex in unlabeled.items()}
    if not config.keep_alignment_losses:
        objectives, streams = [], None
    records = []
    for round_number in range(1, config.rounds + 1):
        input_ids, labels = list(train_data.input_ids), list(train_data.labels)
        counts = {}
        for language, data in targets.items():
            probabilities = predict_probabilities(model, data, recipe.evaluation.batch_size, accelerator.device,
                                                  accelerator)
            indices, pseudo = select_pseudo_labels(probabilities, config.threshold, config.max_per_class,
                                                   config.class_balanced)
            input_ids += [data.input_ids[i] for i in indices]
            labels += pseudo
            top = probabilities.float().max(dim=1).values if len(data) else None  # [0, 0] has no max
            counts[language] = {"selected": len(indices), "candidates": len(data),
                                "per_class": {name: pseudo.count(c) for c, name in enumerate(scheme.names)},
                                "confidence_median": None if top is None else round(top.median().item(), 4),
                                "confidence_max": None if top is None else round(top.max().item(), 4)}
        records.append({"round": round_number, "languages": counts,
                        "alignment_losses": [objective.name for objective in objectives]})
        empty = [lang for lang, c in counts.items() if c["selected"] == 0]
        if empty and accelerator.is_main_process:
            highest = max((counts[lang]["confidence_max"] or 0.0) for lang in empty)
            logger.warning(f"self-training round {round_number} selected no pseudo-labels for {', '.join(empty)} "
                           f"(self_training.threshold {config.threshold}; the highest confidence there was "
                           f"{highest:.3f}): this round trains on the source data only. Lower the threshold.")
        added = input_ids[len(train_data):]  # this round's own pseudo-labels: hard, weight 1, no other views
        combined = TokenizedExamples(input_ids, labels, "source+pseudo", train_data.pad_token_id,
                             targets=None if train_data.targets is None else [*train_data.targets,
                                                                              *[None] * len(added)],
                             weights=None if train_data.weights is None else [*train_data.weights,
                                                                              *[1.0] * len(added)],
                             epoch_input_ids=None if train_data.epoch_input_ids is None else [
                                 [*view, *added] for view in train_data.epoch_input_ids])
        loop = TrainingLoop(model, recipe, combined, selection, scheme.names, accelerator, log_path=log_path,
                            objectives=objectives, streams=streams, progress=progress, epochs=config.epochs,
                            log_fields={"round": round_number}, callbacks=callbacks)
        loop.run()
        model = loop.unwrapped
    return records


def api_call(function: str, *args, **kwargs) -> str:
    """How a run was started from Python, for the run folder (the CLI records its command line instead).

    Arguments at their defaults are left out; a RecipeConfig is named, its full text is config.yaml beside."""
    def show(value) -> str:
        if isinstance(value, RecipeConfig):
            return f"RecipeConfig(name={value.name!r}, ...)"
        if isinstance(value, Path):
            return repr(str(value))
        if isinstance(value, list):
            return "[" + ", ".join(show(item) for item in value) + "]"
        if isinstance(value, Objective):
            return f"{type(value).__name__}({value.name!r}, weight={value.config.weight})"
        return repr(value)

    shown = [show(a) for a in args] + [f"{k}={show(v)}" for k, v in kwargs.items() if v not in (False, [], None, ())]
    return f"xlingual.{function}({', '.join(shown)})"


def prepare_objectives(recipe: RecipeConfig, objectives: Sequence[Objective]) -> list[Objective]:
    """Check objective instances given beside a recipe (declaration, streams, names) and copy them for this run."""
    taken = {loss.name for loss in recipe.alignment.losses}
    for index, objective in enumerate(objectives):
        where = f"objectives[{index}]"
        if not isinstance(objective, Objective):
            raise ConfigError(f"{where}: expected an xlingual Objective instance, got {type(objective).__name__}")
        check_declaration(type(objective))
        missing = missing_stream_sections(type(objective), recipe.alignment)
        if missing:
            raise ConfigError(f"{where}: '{objective.name}' needs alignment.{missing[0]} to be set")
        if objective.name in taken:
            raise ConfigError(f"{where}: '{objective.name}' is already trained (alignment.losses or an earlier "
                              "instance); give each objective once")
        taken.add(objective.name)
    return copy_objectives(objectives)


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


@dataclass
class TrainedRun:
    """What a finished run leaves in memory besides its folder."""

    folder: Path
    model: torch.nn.Module
    tokenizer: object
    results: Results


def train(
    recipe: RecipeConfig | str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    command: list[str] | None = None,
    objectives: Sequence[Objective] = (),
) -> Path:
    """Train ``recipe`` and evaluate it zero-shot; returns the run folder.

    ``objectives`` are :class:`~xlingual.objectives.Objective` instances trained beside the recipe's
    ``alignment.losses`` (copies are trained; the instances passed stay as they are)."""
    overrides = override_list(overrides)
    call = None if command else api_call("train", recipe, overrides=overrides, overwrite=overwrite,
                                          resume=resume, objectives=list(objectives))
    return run_training(recipe, overrides, overwrite=overwrite, resume=resume, progress=progress, command=command,
                        call=call, objectives=objectives).folder


def run_training(
    recipe: RecipeConfig | str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    command: list[str] | None = None,
    call: str | None = None,
    objectives: Sequence[Objective] = (),
    data: RunData | None = None,
    callbacks: Sequence[object] = (),
) -> TrainedRun:
    """The whole run: validate, prepare the folder, read the data (unless ``data`` is given), train, evaluate,
    write results. ``command`` (CLI argv) or ``call`` (Python) is recorded in the folder."""
    recipe_path = None
    overrides = override_list(overrides)
    if not isinstance(recipe, RecipeConfig):
        recipe_path = Path(recipe)
        recipe = load_recipe(recipe_path, overrides)
    elif overrides:
        raise ConfigError("overrides apply to a recipe file; edit the RecipeConfig object instead")
    else:
        recipe = recipe.validate()  # a normalised copy: the caller's object is left as it was
    extra = prepare_objectives(recipe, objectives)
    out = recipe.resolved_output_dir()
    # Nothing is created or deleted until the config, the data and the model have loaded: a mistake found
    # on the way leaves the output folder as it was.
    check_unlocked(out)  # another process writing the folder: said at once, before anything loads
    plan = rf.check_run_folder(out, overwrite=overwrite, resume=resume,
                               protected=rf.protected_paths(recipe, recipe_path))
    if plan == "resume":
        rf.check_resume_config(out, recipe, overrides)
    trackers = resolve_trackers(recipe)  # a missing tracker package is said before anything loads
    accelerator = make_accelerator(recipe, trackers)
    check_protocol(recipe)
    if data is None:
        data = RunData.from_recipe(recipe, warn=accelerator.is_main_process)
    train_examples, selection_examples, eval_examples = data.train, data.selection, data.evaluation
    unlabeled, pairs = data.unlabeled, data.pairs
    signal_examples = load_signal_data(recipe)
    scheme = label_scheme(recipe.data)
    paths = record_paths(recipe.to_dict())
    holdout = dev_holdouts(recipe, selection_examples, eval_examples)

    set_seed(recipe.training.seed)
    started = time.perf_counter()
    model, tokenizer = build_model(recipe, scheme)
    train_data = tokenize(train_examples, tokenizer, recipe)
    selection_data = tokenize_all(selection_examples, tokenizer, recipe)
    eval_data = {split: tokenize_all(raw, tokenizer, recipe) for split, raw in eval_examples.items()}
    cut = {"train": {recipe.data.source_language: train_data},
           "dev": {lang: data for lang, (_, data) in selection_data.items()}}
    for split, by_language in eval_data.items():
        cut.setdefault(split, {}).update({lang: data for lang, (_, data) in by_language.items()})
    truncation = report_truncation(recipe, {k: v for k, v in cut.items() if v}, accelerator.is_main_process)
    streams = build_streams(recipe, tokenizer, unlabeled, pairs)
    objectives = build_objectives(recipe.alignment.losses,
                                  SetupContext(model, model.config.hidden_size, recipe.data.target_languages,
                                               tokenizer, recipe.training.seed, recipe.model.max_length), extra)
    signals = build_signals(recipe, tokenizer, *signal_examples)
    lp_ft = None
    if recipe.training.lp_ft:  # restored weights (with --resume) replace the probe's head anyway

        lp_ft = refit_head(model, train_data, recipe.evaluation.batch_size, accelerator.device, progress=progress)
    loop = TrainingLoop(model, recipe, train_data, selection_data, scheme.names, accelerator,
                        log_path=out / rf.TRAIN_LOG, objectives=objectives, streams=streams, progress=progress,
                        state_dir=out / rf.STATE, averaging=recipe.averaging, snapshot_dir=out / rf.SNAPSHOTS,
                        signals=signals, callbacks=callbacks)
    command_line = shlex.join(command) if command else None  # the CLI's argv; an API call is recorded instead
    started_by = command_line or call or api_call("train", recipe)
    # One writer per run folder: the lock is held from the first file written to the last (main process)
    with contextlib.ExitStack() as stack:
        failure = None
        if accelerator.is_main_process:
            try:
                stack.enter_context(folder_lock(out, started_by))
                # decided again under the lock: another process may have written the folder while this one loaded
                plan = rf.check_run_folder(out, overwrite=overwrite, resume=resume,
                                           protected=rf.protected_paths(recipe, recipe_path))
                if plan == "resume":
                    rf.check_resume_config(out, recipe, overrides)
                rf.prepare_run_folder(out, plan, started_by)
            except XlingualError as exc:
                failure = exc
        plan, message = _shared(accelerator, (plan, str(failure) if failure else None))
        if failure is not None:
            raise failure
        if message is not None:  # the main process refused: every process stops with its message, none waits
            raise RunFolderError(message)
        if plan == "resume" and loop.restore() and accelerator.is_main_process:  # a damaged state stops here
            logger.info("resumed from step %d of %d", loop.state.global_step, loop.state.total_steps)
        writer = rf.RunWriter(out)
        if accelerator.is_main_process:
            writer.write_recipe(recipe, paths, recipe_path)
            if holdout:
                writer.write_json(HOLDOUT_FILE, holdout)
            # each start, one line: a resumed run keeps its earlier starts
            writer.record_start(command_line or started_by, python_call=not command_line, append=plan == "resume")
        accelerator.wait_for_everyone()
        tracker = None
        if trackers:
            tracker = TrackerCallback(accelerator, recipe, target_resources(recipe, objectives))
            stack.callback(tracker.end)  # closed however the run ends
            loop.callbacks.append(tracker)
        loop.run()
        model = loop.unwrapped
        training_summary = loop.summary()
        if recipe.self_training is not None:
            training_summary["self_training"] = self_train(
                recipe, model, tokenizer, accelerator, train_data, selection_data, scheme, unlabeled, objectives,
                streams, out / rf.TRAIN_LOG, progress, [*callbacks, *([tracker] if tracker else [])])
        if lp_ft is not None:
            training_summary["lp_ft"] = lp_ft
        if recipe.interpolation is not None:
            training_summary["interpolation"] = interpolate_in_run(model, recipe, train_data, selection_data, scheme,
                                                                   accelerator, progress)
        training_summary["parameters"] = count_parameters(model)
        training_summary["objectives"] = [objective.describe() for objective in objectives]
        if accelerator.is_main_process:
            save_checkpoint(model, tokenizer, out / rf.CHECKPOINT)

        splits = evaluate_splits(model, tokenizer, recipe, scheme, eval_examples, accelerator.device, accelerator,
                                 progress, out if accelerator.is_main_process else None, eval_data)
        results = Results(
            status="complete", recipe=recipe.name, method=recipe.method, model=recipe.model.name,
            seed=recipe.training.seed, source_language=recipe.data.source_language,
            target_languages=list(recipe.data.target_languages),
            label_scheme=LabelSchemeRecord(scheme.name, list(scheme.names)),
            protocol=protocol(recipe, train_examples, selection_examples, unlabeled, pairs, extra, holdout,
                              data.extra_source_overlap, data.code_switch),
            trust_remote_code=recipe.model.trust_remote_code, training=training_summary,
            train_eval_overlap={"count": train_eval_overlap(train_examples, eval_examples),
                                "train_examples": len(train_examples)},
            truncation=truncation, paths=paths, splits=splits,
            wall_seconds=time.perf_counter() - started, processes=accelerator.num_processes,
            versions=rf.library_versions(),
        )
        collapsed = prediction_mix_warning(results, accelerator.is_main_process)
        if collapsed:
            results.training["prediction_mix_warning"] = collapsed
        if recipe.data.pseudo_labeled is not None and results.protocol.pseudo_labels is not None:
            results.protocol.pseudo_labels.update(student_class_mix(results, accelerator.is_main_process))
        if accelerator.is_main_process:
            _plot_training_curves(out, f"{recipe.name}, seed {recipe.training.seed}")
            writer.write_results(results, card=lambda folder, written: write_model_card(folder, written, recipe))
            remove_training_state(out / rf.STATE)  # the run is complete: the resumable state is spent
        if tracker is not None:  # after results.json: a tracker's failure cannot cost the record
            tracker.log_results(results)
        accelerator.wait_for_everyone()
    return TrainedRun(out, model, tokenizer, results)


def _shared(accelerator, value):
    """The main process's ``value`` on every process (one process: ``value`` itself)."""
    if accelerator.num_processes == 1:
        return value
    box = [value]
    broadcast_object_list(box, from_process=0)
    return box[0]


def _plot_training_curves(out: Path, title: str) -> None:
    """logs/training_curves.png beside the log; a figure that cannot be drawn must not fail a finished run."""
    if not (out / rf.TRAIN_LOG).is_file():
        return

    try:
        plot_training_curves(out, out / rf.TRAINING_CURVES, title)
    except (ComparisonError, OSError, ValueError) as exc:
        logger.warning("no %s: %s", rf.TRAINING_CURVES, exc)


def evaluate_run(
    run: str | Path,
    languages: list[str] | None = None,
    splits: list[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    progress: bool = True,
    base_model: str | None = None,
    verify: bool = True,
    out: str | Path | None = None,
    name: str | None = None,
    command: list[str] | None = None,
) -> Results:
    """Re-evaluate a saved run's checkpoint on its data, or on other data (``--set data.…``).

    On the run's own examples the result says whether it reproduces results.json (``matches_saved``);
    on other examples it is a result of its own (``evaluation.other_data``). ``out`` (or ``name``, for
    ``RUN/evaluations/NAME``) writes it as a results.json in the run schema, which ``compare`` reads.
    Paths in the run's config resolve against the directory the run started in; paths in ``overrides``
    against the current one. ``base_model`` says where a LoRA checkpoint's encoder is if it moved;
    ``verify=False`` skips the check of the weights against the checkpoint's fingerprints."""
    run = Path(run)
    config_path = run / rf.CONFIG
    if not config_path.is_file():
        raise DataError(f"{run}: no {rf.CONFIG}; pass a run folder written by 'xlingual train'")
    if out is None and name:
        other_data.check_name(name)
        out = run / "evaluations" / name
    if out is not None:
        out = Path(out)
        other_data.check_output_folder(out, run)
    overrides = override_list(overrides)
    data = run_recipe_data(run, overrides)
    paths = record_paths(data)
    recipe = RecipeConfig.from_dict(data)
    if languages:
        wanted = [to_canonical(lang, recipe.data.language_names, field="--languages") for lang in languages]
    else:
        wanted = recipe.data.languages
    # Check the classes first (config.json only), so a changed label scheme is named as such rather than
    # reported as an unknown label somewhere in the data.
    _, checkpoint_config = load_checkpoint_config(run)
    limit = position_limit(checkpoint_config.encoder)
    if limit is not None and recipe.model.max_length > limit:
        raise ConfigError(f"model.max_length: {recipe.model.max_length} is over the checkpoint's encoder limit of "
                          f"{limit} tokens")
    classes = [checkpoint_config.id2label[i] for i in range(checkpoint_config.num_labels)]
    scheme = label_scheme(recipe.data)
    if list(scheme.names) != classes:
        raise DataError(f"{run}: the checkpoint's classes {classes} differ from the data's label scheme "
                        f"{list(scheme.names)}")
    raw_by_split = {split: {lang: load_examples(recipe.data, lang, split) for lang in wanted}
                    for split in (splits or recipe.evaluation.splits)}
    started = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tokenizer = load_checkpoint(run, base_model=base_model, device=device, verify=verify)
    tokenized = {split: tokenize_all(raw, tokenizer, recipe) for split, raw in raw_by_split.items()}
    truncation = report_truncation(
        recipe, {split: {lang: t for lang, (_, t) in by.items()} for split, by in tokenized.items()}, True)
    saved = Results.read(run / rf.RESULTS) if (run / rf.RESULTS).is_file() else None
    names = list(scheme.names)
    reports: dict = {}
    splits = evaluate_splits(model, tokenizer, recipe, scheme, raw_by_split, device, None, progress,
                             tokenized=tokenized, reports=reports)
    same, other = other_data.same_data(saved, splits)
    result = Results(
        status="complete", kind=other_data.KIND, run=str(run),
        recipe=recipe.name, method=recipe.method, model=recipe.model.name, seed=recipe.training.seed,
        source_language=recipe.data.source_language,
        target_languages=[lang for lang in wanted if lang != recipe.data.source_language],
        label_scheme=LabelSchemeRecord(scheme.name, names),
        protocol=saved.protocol if saved is not None else ProtocolRecord(),
        evaluation=other_data.evaluation_record(run, saved, list(overrides), same, other,
                                                name or (out.name if out is not None else None)),
        truncation=truncation, paths=paths, splits=splits,
    )
    corrected = recipe.evaluation.prior_correction is not None and (
        saved is None or saved.protocol.prior_correction is None)
    if corrected:  # scored differently from the run (transductive priors): recorded, and no reproduction check
        result.protocol = dataclasses.replace(
            result.protocol, prior_correction=protocol_prior_correction(recipe),
            target_resources=[*result.protocol.target_resources, PRIOR_CORRECTION])
    elif saved is not None and same:
        result.matches_saved = other_data.reproduction(saved, splits, same)
    result.wall_seconds = time.perf_counter() - started
    result.versions = rf.library_versions()
    if out is not None:
        started_by = shlex.join(command or sys.argv)
        # one writer per folder: RUN's own lock for RUN/evaluations/NAME (a train --overwrite of RUN waits for it)
        inside = out.resolve().is_relative_to(run.resolve())
        with folder_lock(run if inside else out, started_by):  # checked again under the lock
            other_data.check_output_folder(out, run)
            if recipe.evaluation.save_predictions:
                for split, report in reports.items():
                    write_predictions(out / rf.PREDICTIONS, report, tokenized[split], names)
            writer = rf.RunWriter(out)
            writer.write_recipe(recipe, paths)
            writer.record_start(started_by)
            result.written_to = str(out / rf.RESULTS)
            writer.write_results(result)
    return result
