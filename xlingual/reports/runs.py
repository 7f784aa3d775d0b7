"""Run discovery for ``compare``: find finished run folders (and sweeps of them), read each one's typed
results.json, group them by recipe."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.examples import content_fingerprint
from ..errors import XlingualError
from ..evaluation.predictions import predictions_file, read_predictions
from ..results import LanguageScores, ProtocolRecord, Results, ResultsError, SplitResults, results_status
from ..run_folder import CALL, COMMAND, PREDICTIONS, RESULTS, TRAIN_LOG


class ComparisonError(XlingualError, ValueError):
    """The runs cannot be compared (different label schemes, unknown recipe, nothing to read)."""


class ComparisonWarning(UserWarning):
    """A run was skipped or a comparison is not like for like; printed as ``warning: ...`` by the CLI."""


class SkippedRunWarning(ComparisonWarning):
    """A run folder was left out of the comparison (unfinished, unreadable, newer schema): the saved tables
    list it too, so a table with fewer seeds says why."""


def _warn(message: str) -> None:
    warnings.warn(message, ComparisonWarning, stacklevel=3)


def _skip(message: str) -> None:
    warnings.warn(message, SkippedRunWarning, stacklevel=3)


@dataclass
class Run:
    """One finished run folder: its typed results.json, with predictions read on demand."""

    path: Path
    results: Results
    _predictions: dict[tuple[str, str], tuple[np.ndarray, np.ndarray] | None] = field(
        default_factory=dict, repr=False, compare=False)

    @property
    def recipe(self) -> str:
        """The recipe name; an ``xlingual evaluate --out`` result on other data adds ``@ <its name>``, so it
        stands beside the in-domain runs of its recipe as a row of its own."""
        name = str(self.results.recipe or self.path.name)
        if self.results.other_data:
            name += f" @ {self.results.evaluation.evaluated_on or self.path.name}"
        return name

    @property
    def seed(self) -> int | None:
        return self.results.seed

    @property
    def member(self) -> int | str | None:
        """What tells this run from the other runs of its recipe: its seed; for a soup of several seeded runs
        (no seed of its own), the seeds it averaged (``"1+2"``). So soups of different seed sets are members of
        one recipe, each pairable with the soup of the same seeds of another recipe."""
        if self.seed is not None:
            return self.seed
        seeds = self.results.soup.seeds if self.results.soup is not None else None
        return "+".join(map(str, seeds)) if seeds else None

    @property
    def name(self) -> str:
        return f"{self.recipe}-seed{self.seed}"

    @property
    def label_names(self) -> list[str]:
        return list(self.results.label_scheme.names)

    @property
    def label_scheme(self) -> tuple[str, tuple[str, ...]]:
        return str(self.results.label_scheme.name), tuple(self.label_names)

    @property
    def source_language(self) -> str:
        return str(self.results.source_language)

    @property
    def protocol(self) -> ProtocolRecord:
        return self.results.protocol

    @property
    def target_resources(self) -> tuple[str, ...]:
        return self.protocol.resources

    @property
    def model_selection(self) -> str:
        return str(self.protocol.model_selection or "unknown")

    def split(self, split: str) -> SplitResults | None:
        return self.results.splits.get(split)

    def language_metrics(self, split: str) -> dict[str, LanguageScores]:
        block = self.split(split)
        return block.languages if block is not None else {}

    def test_file(self, language: str, split: str) -> str | None:
        block = self.split(split)
        return block.test_files.get(language) if block is not None else None

    def test_identity(self, language: str, split: str) -> str | None:
        """What the test set *is*: its content fingerprint (from results.json or, for runs written before
        fingerprints were recorded, from the predictions file), else the file description."""
        block = self.split(split)
        recorded = block.test_fingerprints.get(language) if block is not None else None
        if recorded:
            return str(recorded)
        path = predictions_file(self.path / PREDICTIONS, language, split)
        if path.is_file():
            try:
                records = read_predictions(path)
            except ValueError:
                records = []
            if records and all(r.text is not None for r in records):
                return content_fingerprint([r.text for r in records], [r.label for r in records])
        return self.test_file(language, split)

    def predictions(self, language: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Gold and predicted label indices from predictions/<language>.<split>.jsonl (None if absent)."""
        key = (language, split)
        if key not in self._predictions:
            self._predictions[key] = self._read_predictions(language, split)
        return self._predictions[key]

    def _read_predictions(self, language: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
        path = predictions_file(self.path / PREDICTIONS, language, split)
        if not path.is_file():
            return None
        index = {name: i for i, name in enumerate(self.label_names)}
        try:
            records = read_predictions(path)
        except ValueError as exc:
            raise ComparisonError(f"{exc}; expected a label of the run's scheme {self.label_names}") from exc
        unknown = next((r for r in records if r.label not in index or r.prediction not in index), None)
        if unknown is not None:
            raise ComparisonError(f"{path}: record {unknown.index} is not a prediction record with a label of the "
                                  f"run's scheme {self.label_names} ({unknown.label!r}, {unknown.prediction!r})")
        gold = np.array([index[r.label] for r in records], dtype=np.int64)
        pred = np.array([index[r.prediction] for r in records], dtype=np.int64)
        scores = self.language_metrics(split).get(language)
        if scores is not None and scores.n is not None and scores.n != len(gold):
            expected = scores.n
            _warn(f"{path} holds {len(gold)} predictions but results.json scores {expected} examples; "
                  "left out of the example-level statistics")
            return None
        return gold, pred


def looks_like_run(folder: Path) -> bool:
    return any((folder / name).is_file() for name in (RESULTS, COMMAND, CALL, TRAIN_LOG))


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def find_run_folders(path: Path, depth: int = 2) -> list[Path]:
    """``path`` itself if it is a run folder, else run folders up to ``depth`` levels below it."""
    if looks_like_run(path):
        return [path]
    if depth == 0:
        return []
    return [run for child in _subfolders(path) for run in find_run_folders(child, depth - 1)]


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Finished runs from run folders and sweep folders; unfinished ones are skipped with a warning."""
    runs: list[Run] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            raise ComparisonError(f"{path}: not a folder; pass run folders or folders that contain them")
        folders = find_run_folders(path)
        if not folders:
            raise ComparisonError(f"{path}: no run folder in it or up to two levels below (no {RESULTS} found)")
        for folder in folders:
            if folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            if not (folder / RESULTS).is_file():
                _skip(f"{folder}: no {RESULTS} (the run did not finish), skipped")
                continue
            if results_status(folder / RESULTS) != "complete":
                try:
                    Results.read(folder / RESULTS)
                except ResultsError as exc:
                    _skip(f"{exc}, skipped")
                    continue
                _skip(f"{folder}: the run is not complete, skipped")
                continue
            try:
                results = Results.read(folder / RESULTS)
            except ResultsError as exc:
                _skip(f"{exc}, skipped")
                continue
            runs.append(Run(folder, results))
    if not runs:
        raise ComparisonError("no finished runs to compare")
    return runs


def group_runs(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs by recipe name (first-seen order), sorted by seed; a repeated seed (:attr:`Run.member`) keeps the
    first run."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        group = groups.setdefault(run.recipe, [])
        twin = next((other for other in group if other.member == run.member), None)
        if twin is not None:
            _skip(f"{run.path}: recipe {run.recipe} seed {run.member} already comes from {twin.path}, skipped")
            continue
        group.append(run)
    for group in groups.values():
        group.sort(key=lambda r: (r.seed is None, r.seed if isinstance(r.seed, int) else 0,
                                  "" if r.seed is not None else str(r.member or ""), str(r.path)))
    return groups


def group_runs_quiet(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """:func:`group_runs` without repeating its warnings (for internal second passes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ComparisonWarning)
        return group_runs(runs)
