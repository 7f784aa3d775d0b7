"""What a run records beside its scores: the protocol (target-side resources, selection, cost), the
label-free warnings about its predictions, and how it was started.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from .. import run_folder as rf
from ..config import RecipeConfig
from ..cost import training_cost
from ..data.examples import Examples
from ..data.holdout import HOLDOUT_FILE
from ..data.loading import (
    label_scheme,
)
from ..data.pairs import TranslationPairs
from ..errors import XlingualError
from ..io import read_json
from ..objectives import Objective
from ..protocol import SELECTION_NAMES, target_resources
from ..results import ProtocolRecord, Results
from ..training.pseudo_labels import MIX_SHIFT_WARNING, class_mix_shift, predicted_mix

logger = logging.getLogger(__name__)


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
        extra = {"files": recipe.data.extra_source.root, "train_examples": len(train.texts),
                 "class_balanced": recipe.data.extra_source.class_balanced,
                 "train_label_counts": {names[k]: counts[k] for k in sorted(counts)}}
        if extra_overlap:  # extra source texts found in target-language data (load_run_data counted them)
            extra["target_language_texts"] = extra_overlap
        record.extra_source_data = extra
    if recipe.data.pseudo_labeled is not None:
        record.pseudo_labels = pseudo_label_record(recipe)
    if code_switch is not None:
        record.code_switch = code_switch
    record.cost = training_cost(recipe, record.pseudo_labels.teachers if record.pseudo_labels else None)
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
    config = recipe.data.pseudo_labeled
    root = Path(config.root)
    manifest = read_json(root / "manifest.json")
    kept = {lang: entry.get("kept") for lang, entry in manifest.get("languages", {}).items()
            if config.languages is None or lang in config.languages}
    record = {"root": str(root), "teachers": manifest.get("teachers"), "rule": manifest.get("rule"),
              "k": manifest.get("k"), "threshold": manifest.get("threshold"), "kept": kept,
              "targets": config.targets, "temperature": config.temperature, "weight": config.weight}
    if config.per_epoch is not None:
        record["per_epoch"] = config.per_epoch
    return record


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
    for teacher in results.protocol.pseudo_labels.teachers or ():
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
