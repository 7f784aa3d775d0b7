"""The evaluation protocol: which target-side resources a run used, and guards against leaks.

results.json records ``target_resources`` — ``zero-shot`` (none), ``unlabeled-target``,
``parallel``, ``target-labels``, then the other stages' (:data:`POST_HOC_RESOURCES`) — with the exact files, and how
the model was selected (``source-dev`` by default, ``oracle-target-dev`` only when a recipe asks for it), so
`xlingual compare` can refuse or flag comparisons across protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .config import RecipeConfig
from .config.registry import get_objective, ordered_resources
from .errors import ConfigError

SELECTION_NAMES = {"source-dev": "source-dev", "target-dev": "oracle-target-dev", "last": "last-epoch",
                   "retrieval": "label-free: retrieval@1 on translation pairs",
                   "target-confidence": "label-free: mean confidence on unlabeled target text",
                   "target-entropy": "label-free: mean entropy on unlabeled target text",
                   "target-agreement": "label-free: agreement of consecutive epochs on unlabeled target text"}


class ProtocolError(ConfigError):
    """A recipe would let target-language labels (or test text) into training or model selection."""


def check_protocol(recipe: RecipeConfig) -> None:
    """Refuse recipes whose data would put target labels or target test text into training."""
    data = recipe.data
    if data.source_language in data.target_languages:
        raise ProtocolError(f"data.source_language '{data.source_language}' is also a target language: its labels "
                            "would be used in training")
    unlabeled = recipe.alignment.unlabeled_target
    if unlabeled is not None and unlabeled.root is None and unlabeled.split in (data.test_split, "test"):
        raise ProtocolError(f"alignment.unlabeled_target.split: '{unlabeled.split}' is the test split; training on "
                            "test text, even without labels, would leak it")
    if data.format not in ("umsab", "hub") and "{language}" not in data.root and data.language_column is None:
        raise ProtocolError("data.root: one file for every language needs data.language_column, or target-language "
                            "rows (with their labels) would be read as source training data")
    if data.format in ("csv", "tsv", "jsonl") and "{split}" not in data.root and data.split_column is None:
        raise ProtocolError("data.root: no {split} in the path and no data.split_column, so the train and test "
                            "splits would be the same rows; put {split} in data.root or set data.split_column")


ZERO_SHOT = "zero-shot"
"""A run that uses no target-language data at all."""
BILINGUAL_DICTIONARY = "bilingual-dictionary"
"""Bilingual word lists: English training text code-switched with them (``data.code_switch``), or target text put
into English by them (consistency's ``augment: code-switch``)."""
PSEUDO_LABELS = "pseudo-labels"
"""Target text labelled by a teacher, trained on (``data.pseudo_labeled``)."""
SELF_TRAINING = "self-training"
"""Target text labelled by the run's own model, trained on (``self_training``)."""
TARGET_SELECTION = "unlabeled-target-selection"
"""Target text, without labels, chooses the epoch (label-free selection signals)."""
PARALLEL_SELECTION = "parallel-selection"
"""Translation pairs choose the epoch (``select_best_on: retrieval``)."""
PRIOR_CORRECTION = "prior-correction"
"""Unlabeled target text at prediction time, transductive (``evaluation.prior_correction``)."""
POST_HOC_RESOURCES = (BILINGUAL_DICTIONARY, PSEUDO_LABELS, SELF_TRAINING, TARGET_SELECTION, PARALLEL_SELECTION,
                      PRIOR_CORRECTION)
"""The target-side resources of a run's other stages (the objectives declare their own), declared once, in the
order results.json lists them after the objectives'."""


def target_resources(recipe: RecipeConfig, objectives: Sequence[Any] = ()) -> list[str]:
    """What target-side data the run trains with (``zero-shot`` when none): the resources each objective
    declares (:mod:`xlingual.objectives`), for the recipe's losses and the ``objectives`` instances given to
    ``train``, then ``self-training``."""
    declared = [(get_objective(loss.name), loss.params) for loss in recipe.alignment.losses]
    declared += [(objective, getattr(objective, "params", None)) for objective in objectives]
    resources = ordered_resources({resource for objective, _ in declared for resource in objective.target_resources})
    other = {resource for objective, params in declared
             for resource in getattr(objective, "other_resources", lambda _: ())(params)}
    if other - set(POST_HOC_RESOURCES):
        raise TypeError(f"other_resources: {sorted(other - set(POST_HOC_RESOURCES))} are not among "
                        f"{POST_HOC_RESOURCES}")
    used = {BILINGUAL_DICTIONARY: recipe.data.code_switch is not None,
            PSEUDO_LABELS: recipe.data.pseudo_labeled is not None,
            SELF_TRAINING: recipe.self_training is not None,
            TARGET_SELECTION: recipe.training.select_best_on in ("target-confidence", "target-entropy",
                                                                 "target-agreement"),
            PARALLEL_SELECTION: recipe.training.select_best_on == "retrieval",
            PRIOR_CORRECTION: recipe.evaluation.prior_correction is not None}
    resources += [resource for resource in POST_HOC_RESOURCES if used[resource] or resource in other]
    return resources or [ZERO_SHOT]
