"""The predictions files, ``predictions/<language>.<split>.jsonl``: one JSON record per example, in data order::

    {"index": 0, "text": "…", "label": "positive", "prediction": "neutral", "probabilities": [0.1, 0.6, 0.3]}

Written and read only here, so a run's writer and compare's readers cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..io import atomic_write_text

if TYPE_CHECKING:  # types only: reading predictions (compare) must not load torch
    from ..data.batching import TokenizedExamples
    from ..data.examples import Examples
    from .zero_shot import EvaluationReport


@dataclass(frozen=True)
class PredictionRecord:
    """One example's line."""

    index: int
    text: str | None
    """``None`` in a file written without texts."""
    label: str
    prediction: str
    probabilities: list[float]


def predictions_file(folder: Path, language: str, split: str) -> Path:
    """Where ``language``'s predictions on ``split`` live inside a run's ``predictions/`` folder."""
    return Path(folder) / f"{language}.{split}.jsonl"


def write_predictions(folder: Path, report: EvaluationReport, data: dict[str, tuple[Examples, TokenizedExamples]],
                      label_names: list[str]) -> list[Path]:
    """One JSON-lines file per language: text, gold, prediction and rounded probabilities."""
    paths = []
    for language, result in report.languages.items():
        examples = data[language][0]
        lines = []
        for index, (text, gold, predicted, probs) in enumerate(
            zip(examples.texts, examples.labels, result.predictions, result.probabilities.tolist(), strict=True)
        ):
            lines.append(json.dumps({
                "index": index,
                "text": text,
                "label": label_names[gold],
                "prediction": label_names[predicted],
                "probabilities": [round(p, 6) for p in probs],
            }, ensure_ascii=False))
        path = predictions_file(folder, language, report.split)
        atomic_write_text(path, "\n".join(lines) + "\n")
        paths.append(path)
    return paths


def read_predictions(path: Path) -> list[PredictionRecord]:
    """The records of a predictions file, sorted by ``index`` (a record without one counts by its line). A line
    that is not a record is a ValueError naming ``path:line``."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            records.append(PredictionRecord(int(record.get("index", number - 1)), record.get("text"), record["label"],
                                            record["prediction"], list(record.get("probabilities") or [])))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}:{number}: not a prediction record ({type(exc).__name__}: {exc})") from exc
    return sorted(records, key=lambda r: r.index)
