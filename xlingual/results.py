"""The results.json schema: typed, versioned, written once by the trainer and read by every consumer.

``schema_version`` 2 is the first versioned layout. Files written before it (no ``schema_version``,
version 1) have the same shape and are read as they are; a file from a newer xlingual, or one that
lacks what every consumer needs (``status``, ``source_language``, ``label_scheme``, ``splits``), is
refused with a :class:`ResultsError` that names the file and the key.

Consumers (``compare``, the model card, the plots, ``evaluate``, the CLI, :func:`xlingual.fit`) read
:class:`Results` and never walk the raw JSON.

One module (about 430 lines) on purpose: every field's record and the one reader/writer that round-trips them
sit together, so a file is read and written back key for key (``null`` kept, an absent key left absent).
"""

from __future__ import annotations

import dataclasses
import types
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import XlingualError
from .io import atomic_write_json, json_ready, read_json

SCHEMA_VERSION = 2
"""1: the unversioned files written before the schema; 2: this module (``training.objectives`` added)."""
METRIC_NAMES = ("accuracy", "macro_f1")


class ResultsError(XlingualError, ValueError):
    """A results.json that cannot be read: malformed, incomplete, or from a newer schema."""


OPTIONAL = {"omit_if_none": True}
"""Field metadata: the record is written only when set (only some runs have it)."""
PRESENCE = {"presence": True}
"""Field metadata: the keys a record was read with (not written). A ``None`` field is written back when its key
was read, so reading and writing a file gives it back as it was: ``null`` stays, an absent key stays absent."""
UNKNOWN_KEYS = {"unknown_keys": True}
"""Field metadata: the mapping holds the keys of the record this xlingual does not know; they are kept as read
and written back beside the known ones, so reading and writing a file never drops what another version wrote."""


def _plain(value: Any) -> Any:
    """JSON data of a schema object: dataclasses as mappings, optional records left out when unset."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        read = next((getattr(value, f.name) for f in dataclasses.fields(value) if f.metadata.get("presence")), None)
        data = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.metadata.get("unknown_keys") and not f.metadata.get("presence")
                and (getattr(value, f.name) is not None or (f.name in read if read is not None
                                                            else not f.metadata.get("omit_if_none")))}
        for f in dataclasses.fields(value):
            if f.metadata.get("unknown_keys"):
                data.update({k: _plain(v) for k, v in getattr(value, f.name).items() if k not in data})
        return data
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return json_ready(value)


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
class ProtocolRecord:
    """Which target-side resources the run trained with, and how its model was selected."""

    target_resources: list[str] = field(default_factory=list)
    model_selection: str | None = None
    files: dict[str, Any] = field(default_factory=dict)
    prior_correction: str | None = field(default=None, metadata=OPTIONAL)
    """Transductive label-prior correction at prediction time, described."""
    checkpoint_averaging: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    extra_source_data: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    """More source-language training data beside the recipe's (``data.extra_source``): its files and size."""
    pseudo_labels: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    """Teacher-labelled target text trained on (``data.pseudo_labeled``): the folder, teachers, rule, counts."""
    code_switch: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    """Dictionary code-switching of the source text (``data.code_switch``): the word lists (sha256), the languages,
    the share of words replaced per epoch and in all, and into which languages."""
    cost: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
    """Compute in training-run equivalents: this run's own training and the teachers' (pseudo-labels), rounds
    included."""
    weight_space: str | None = field(default=None, metadata=OPTIONAL)
    """How a soup or a WiSE-FT interpolation made the weights, described."""
    dev_holdout: dict[str, Any] | None = field(default=None, metadata=OPTIONAL)
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


class _Record:
    """Mapping-style reading of a record (``results.training["global_step"]``), as results.json's records were
    plain dicts before they were typed: still answered, with a DeprecationWarning naming the attribute."""

    def __getitem__(self, key: str) -> Any:
        known = key in {f.name for f in dataclasses.fields(self)} and key not in ("extra", "read_keys")
        warnings.warn(f"{type(self).__name__}[{key!r}] is deprecated: read the attribute "
                      f"(.{key if known else 'extra[' + repr(key) + ']'})", DeprecationWarning, stacklevel=2)
        value = getattr(self, key) if known else self.extra.get(key)
        if value is None and not known:
            raise KeyError(key)
        return value


@dataclass
class TrainingRecord(_Record):
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
    extra: dict[str, Any] = field(default_factory=dict, metadata=UNKNOWN_KEYS)
    read_keys: frozenset[str] | None = field(default=None, repr=False, compare=False, metadata=PRESENCE)


@dataclass
class SoupRecord(_Record):
    """``soup``: how ``xlingual soup`` averaged its ingredients."""

    kind: str | None = field(default=None, metadata=OPTIONAL)
    """``uniform`` or ``greedy``."""
    ingredients: list[dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    """Each ingredient (a run or a snapshot file), whether it was kept, and (greedy) the dev scores that decided."""
    kept: list[str] | None = field(default=None, metadata=OPTIONAL)
    source_dev_macro_f1: float | None = field(default=None, metadata=OPTIONAL)
    seeds: list[int] | None = field(default=None, metadata=OPTIONAL)
    """The seeds of the runs kept, when there are several."""
    extra: dict[str, Any] = field(default_factory=dict, metadata=UNKNOWN_KEYS)
    read_keys: frozenset[str] | None = field(default=None, repr=False, compare=False, metadata=PRESENCE)


@dataclass
class InterpolationRecord(_Record):
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
    extra: dict[str, Any] = field(default_factory=dict, metadata=UNKNOWN_KEYS)
    read_keys: frozenset[str] | None = field(default=None, repr=False, compare=False, metadata=PRESENCE)


@dataclass
class TruncationRecord(_Record):
    """``truncation``: how texts were cut to ``max_length``, and per split and language how many were."""

    strategy: str | None = field(default=None, metadata=OPTIONAL)
    max_length: int | None = field(default=None, metadata=OPTIONAL)
    warn_above_fraction: float | None = field(default=None, metadata=OPTIONAL)
    splits: dict[str, dict[str, dict[str, Any]]] | None = field(default=None, metadata=OPTIONAL)
    """split → language → ``n``, ``truncated``, ``fraction``."""
    extra: dict[str, Any] = field(default_factory=dict, metadata=UNKNOWN_KEYS)
    read_keys: frozenset[str] | None = field(default=None, repr=False, compare=False, metadata=PRESENCE)


@dataclass
class PathsRecord(_Record):
    """``paths`` (also the run's paths.json): every local path of the recipe, as typed and resolved."""

    cwd: str | None = field(default=None, metadata=OPTIONAL)
    """Where the run started: relative paths resolve against it."""
    paths: dict[str, dict[str, Any]] | None = field(default=None, metadata=OPTIONAL)
    """Recipe key → ``typed`` and ``resolved``."""
    extra: dict[str, Any] = field(default_factory=dict, metadata=UNKNOWN_KEYS)
    read_keys: frozenset[str] | None = field(default=None, repr=False, compare=False, metadata=PRESENCE)


@dataclass
class OverlapRecord(_Record):
    """``train_eval_overlap``: training texts that also appear verbatim in the evaluation data."""

    count: int | None = field(default=None, metadata=OPTIONAL)
    train_examples: int | None = field(default=None, metadata=OPTIONAL)
    extra: dict[str, Any] = field(default_factory=dict, metadata=UNKNOWN_KEYS)
    read_keys: frozenset[str] | None = field(default=None, repr=False, compare=False, metadata=PRESENCE)


@dataclass
class Results:
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

    def __setattr__(self, name: str, value: Any) -> None:
        # writers build these records as plain mappings (paths.json, the loop's summary, truncation_report):
        # they become the typed records as they are set, in the constructor or after, so every reader gets the
        # same types however the object was made
        record = _RECORDS.get(name)
        if record is not None and isinstance(value, dict):
            value = _build(record, value, f"results.json: {name}")
        super().__setattr__(name, value)

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


_RECORDS = {"training": TrainingRecord, "soup": SoupRecord, "interpolation": InterpolationRecord,
            "truncation": TruncationRecord, "paths": PathsRecord, "train_eval_overlap": OverlapRecord}

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


# ----------------------------------------------------------------------------- reading


def _build(cls: type, data: Any, where: str) -> Any:
    """A dataclass from its JSON mapping: nested dataclasses (and mappings of them) are built, other values are
    kept exactly as read; unknown keys are ignored (or kept in an ``UNKNOWN_KEYS`` field), a missing required
    key is a ResultsError."""
    if not isinstance(data, dict):
        raise ResultsError(f"{where}: expected a JSON object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    known = {item.name for item in dataclasses.fields(cls) if not item.metadata.get("presence")}
    for item in dataclasses.fields(cls):
        key = f"{where}: {item.name}" if ": " not in where else f"{where}.{item.name}"
        if item.metadata.get("presence"):
            kwargs[item.name] = frozenset(data)
            continue
        if item.metadata.get("unknown_keys"):
            kwargs[item.name] = {k: v for k, v in data.items() if k not in known}
            continue
        if item.name not in data:
            if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                raise ResultsError(f"{key}: missing (not a results.json written by xlingual train?)")
            continue
        kwargs[item.name] = _value(hints[item.name], data[item.name], key)
    return cls(**kwargs)


def _value(tp: Any, value: Any, key: str) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # ``X | None``: None, or build the X
        if value is None and type(None) in typing.get_args(tp):
            return None
        tp = next((arg for arg in typing.get_args(tp) if arg is not type(None)), tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if typing.get_origin(tp) is dict:
        _, item = typing.get_args(tp)
        if dataclasses.is_dataclass(item):
            if not isinstance(value, dict):
                raise ResultsError(f"{key}: expected a JSON object, got {type(value).__name__}")
            return {name: _build(item, sub, f"{key}.{name}") for name, sub in value.items()}
    return value
