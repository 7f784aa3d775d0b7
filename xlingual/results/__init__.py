"""The results.json schema: typed, versioned, written once by the trainer and read by every consumer.

``schema_version`` 2 is the first versioned layout. Files written before it (no ``schema_version``,
version 1) have the same shape and are read as they are; a file from a newer xlingual, or one that
lacks what every consumer needs (``status``, ``source_language``, ``label_scheme``, ``splits``), is
refused with a :class:`ResultsError` that names the file and the key.

Consumers (``compare``, the model card, the plots, ``evaluate``, the CLI, :func:`xlingual.fit`) read
:class:`Results` and never walk the raw JSON.

The records inside it are in :mod:`.records`, and the engine that reads and writes them key for key (``null``
kept, an absent key left absent) in :mod:`.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..io import atomic_write_json, read_json
from .records import (
    AveragingProtocolRecord,
    CodeSwitchRecord,
    CostRecord,
    DevHoldoutRecord,
    ExtraSourceRecord,
    InterpolationRecord,
    OverlapRecord,
    PathsRecord,
    PseudoLabelsRecord,
    SoupRecord,
    TrainingRecord,
    TruncationRecord,
)
from .schema import OPTIONAL, UNKNOWN_KEYS, Converts, ResultsError, _build, _plain

SCHEMA_VERSION = 2
"""1: the unversioned files written before the schema; 2: this module (``training.objectives`` added)."""
METRIC_NAMES = ("accuracy", "macro_f1")


@dataclass
class LanguageScores:
    """Scores of one language on one split (fractions in [0, 1])."""

    n: int
    accuracy: float
    macro_f1: float
    per_class_f1: dict[str, float] = field(default_factory=dict)
    confusion_matrix: list[list[int]] = field(default_factory=list)
    """``[gold][predicted]`` counts."""
    role: str | None = None
    """``source`` or ``target``."""

    def metric(self, name: str) -> float:
        return getattr(self, name)

    def metrics(self) -> dict[str, float]:
        """The headline metrics by name, as :func:`~xlingual.metrics.classification.transfer_summary` reads them."""
        return {name: self.metric(name) for name in METRIC_NAMES}


@dataclass
class SplitResults:
    """One evaluation split: every language's scores and the transfer summary."""

    languages: dict[str, LanguageScores]
    summary: dict[str, float] = field(default_factory=dict)
    """``source_*``, ``target_avg_*`` and ``transfer_gap_*`` of accuracy and macro-F1."""
    seconds: float | None = None
    samples_per_second: float | None = None
    test_files: dict[str, str] = field(default_factory=dict)
    test_fingerprints: dict[str, str] = field(default_factory=dict)
    """Content fingerprints of the test sets, so ``compare`` can tell whether runs saw the same examples."""
    prior_correction: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    """Per target language, the EM-estimated class priors applied at prediction (``evaluation.prior_correction``)."""


@dataclass
class LabelSchemeRecord:
    name: str
    names: list[str]


@dataclass
class ProtocolRecord(Converts):
    """Which target-side resources the run trained with, and how its model was selected."""

    target_resources: list[str] = field(default_factory=list)
    model_selection: str | None = None
    files: dict[str, Any] = field(default_factory=dict)
    prior_correction: str | None = field(default=None, metadata=OPTIONAL)
    """Transductive label-prior correction at prediction time, described."""
    checkpoint_averaging: AveragingProtocolRecord | None = field(default=None, metadata=OPTIONAL)
    extra_source_data: ExtraSourceRecord | None = field(default=None, metadata=OPTIONAL)
    """More source-language training data beside the recipe's (``data.extra_source``): its files and size."""
    pseudo_labels: PseudoLabelsRecord | None = field(default=None, metadata=OPTIONAL)
    """Teacher-labelled target text trained on (``data.pseudo_labeled``): the folder, teachers, rule, counts."""
    code_switch: CodeSwitchRecord | None = field(default=None, metadata=OPTIONAL)
    """Dictionary code-switching of the source text (``data.code_switch``): the word lists (sha256), the languages,
    the share of words replaced per epoch and in all, and into which languages."""
    cost: CostRecord | None = field(default=None, metadata=OPTIONAL)
    """Compute in training-run equivalents: this run's own training and the teachers' (pseudo-labels), rounds
    included."""
    weight_space: str | None = field(default=None, metadata=OPTIONAL)
    """How a soup or a WiSE-FT interpolation made the weights, described."""
    dev_holdout: DevHoldoutRecord | None = field(default=None, metadata=OPTIONAL)
    """The dev set held out of the train split (``data.dev_fraction``/``dev_size``): the file with its positions
    and, per language, its settings, class counts and the hash of the positions."""

    @property
    def resources(self) -> tuple[str, ...]:
        """Sorted, ``("zero-shot",)`` when none is recorded."""
        return tuple(sorted(self.target_resources or ["zero-shot"]))


@dataclass
class EvaluationRecord:
    """``xlingual evaluate --out/--name``: what a saved run was scored on again, and against which run."""

    kind: str
    """``in-domain`` (every score on the run's own examples: a reproduction check) or ``other-data``."""
    evaluated_on: str | None = None
    """The name of the evaluation (``--name``, or the ``--out`` folder's name)."""
    original_run: str | None = None
    original_recipe: str | None = None
    overrides: list[str] = field(default_factory=list)
    same_data_as_run: list[str] = field(default_factory=list)
    """``split/language`` keys scored on the run's own examples."""
    other_data: list[str] = field(default_factory=list)
    """``split/language`` keys scored on other examples (other files, languages or splits)."""


@dataclass
class Results(Converts):
    """A run's results.json; also an ``xlingual evaluate`` result (``kind: evaluation``) in the same layout."""

    status: str
    source_language: str
    label_scheme: LabelSchemeRecord
    splits: dict[str, SplitResults]
    schema_version: int = SCHEMA_VERSION
    recipe: str | None = None
    method: str | None = None
    model: str | None = None
    seed: int | None = None
    target_languages: list[str] = field(default_factory=list)
    protocol: ProtocolRecord = field(default_factory=ProtocolRecord)
    trust_remote_code: bool = False
    training: TrainingRecord = field(default_factory=TrainingRecord)
    wall_seconds: float | None = None
    processes: int | None = None
    versions: dict[str, str] = field(default_factory=dict)
    soup: SoupRecord | None = field(default=None, metadata=OPTIONAL)
    interpolation: InterpolationRecord | None = field(default=None, metadata=OPTIONAL)
    kind: str | None = field(default=None, metadata=OPTIONAL)
    """``evaluation`` for an ``xlingual evaluate`` result; unset for a trained run."""
    run: str | None = field(default=None, metadata=OPTIONAL)
    """An evaluation's run folder, as given."""
    evaluation: EvaluationRecord | None = field(default=None, metadata=OPTIONAL)
    matches_saved: dict[str, bool] | None = field(default=None, metadata=OPTIONAL)
    """An evaluation on the run's own data: ``split/language`` → the macro-F1 equals the run's results.json."""
    written_to: str | None = field(default=None, metadata=OPTIONAL)
    """Where an evaluation's results.json was written."""
    train_eval_overlap: OverlapRecord | None = field(default=None, metadata=OPTIONAL)
    truncation: TruncationRecord | None = field(default=None, metadata=OPTIONAL)
    paths: PathsRecord | None = field(default=None, metadata=OPTIONAL)
    extra: dict[str, Any] = field(default_factory=dict, metadata=UNKNOWN_KEYS)
    """Keys this xlingual does not know, kept as read and written back."""

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def scores(self, split: str, language: str) -> LanguageScores | None:
        """One language's scores on one split, ``None`` if the run did not score it."""
        block = self.splits.get(split)
        return block.languages.get(language) if block is not None else None

    @property
    def other_data(self) -> bool:
        """An ``xlingual evaluate`` result on other examples than the run was scored on."""
        return self.kind == "evaluation" and self.evaluation is not None and self.evaluation.kind == "other-data"

    def to_dict(self) -> dict[str, Any]:
        """JSON data in reading order: version and identity first, the bulky parts last (then any key not
        in that order, so nothing is dropped)."""
        data = _plain(self)
        return {**{key: data[key] for key in _ORDER if key in data},
                **{key: value for key, value in data.items() if key not in _ORDER}}

    def write(self, path: str | Path) -> Path:
        return atomic_write_json(Path(path), self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, where: str = "results.json") -> Results:
        if not isinstance(data, dict):
            raise ResultsError(f"{where}: expected a JSON object, got {type(data).__name__}")
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise ResultsError(f"{where}: schema_version {version!r} is newer than this xlingual reads "
                               f"({SCHEMA_VERSION}); upgrade xlingual to read it")
        return _build(cls, {**data, "schema_version": version}, where)

    @classmethod
    def read(cls, path: str | Path) -> Results:
        try:
            data = read_json(path)
        except (ValueError, OSError) as exc:
            raise ResultsError(f"{path}: unreadable ({exc})") from None
        return cls.from_dict(data, str(path))


_ORDER = ("schema_version", "status", "kind", "run", "recipe", "method", "model", "seed", "source_language",
          "target_languages", "label_scheme", "protocol", "trust_remote_code", "evaluation", "soup", "interpolation",
          "training", "train_eval_overlap", "truncation", "paths", "splits", "matches_saved", "wall_seconds",
          "processes", "versions", "written_to")


def results_status(path: str | Path) -> str | None:
    """The ``status`` of a results.json without reading the rest; ``None`` if it is missing or unreadable."""
    try:
        data = read_json(path)
    except (ValueError, OSError):
        return None
    return data.get("status") if isinstance(data, dict) else None


ProtocolRecord._records = {"checkpoint_averaging": AveragingProtocolRecord, "extra_source_data": ExtraSourceRecord,
                           "pseudo_labels": PseudoLabelsRecord, "code_switch": CodeSwitchRecord, "cost": CostRecord,
                           "dev_holdout": DevHoldoutRecord}
Results._records = {"training": TrainingRecord, "soup": SoupRecord, "interpolation": InterpolationRecord,
                    "truncation": TruncationRecord, "paths": PathsRecord, "train_eval_overlap": OverlapRecord}

__all__ = [
    "METRIC_NAMES", "SCHEMA_VERSION", "AveragingProtocolRecord", "CodeSwitchRecord", "CostRecord", "DevHoldoutRecord",
    "EvaluationRecord", "ExtraSourceRecord", "InterpolationRecord", "LabelSchemeRecord", "LanguageScores",
    "OverlapRecord", "PathsRecord", "ProtocolRecord", "PseudoLabelsRecord", "Results", "ResultsError", "SoupRecord",
    "SplitResults", "TrainingRecord", "TruncationRecord", "results_status",
]
