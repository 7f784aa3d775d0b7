"""Zero-shot evaluation: score one model on the source and every target language."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..data.batching import TokenizedExamples
from ..data.examples import Examples
from ..metrics.classification import classification_metrics, transfer_summary
from ..modeling.predict import predict_probabilities


@dataclass
class LanguageResult:
    """Metrics and predictions of one language and split."""

    language: str
    split: str
    metrics: dict[str, object]
    predictions: list[int]
    probabilities: torch.Tensor
    seconds: float


@dataclass
class EvaluationReport:
    """Per-language results plus the transfer summary of one split."""

    split: str
    source_language: str
    languages: dict[str, LanguageResult] = field(default_factory=dict)

    def metrics(self) -> dict[str, dict[str, object]]:
        return {lang: {**result.metrics, "role": "source" if lang == self.source_language else "target"}
                for lang, result in self.languages.items()}

    def summary(self) -> dict[str, float]:
        return transfer_summary({k: v.metrics for k, v in self.languages.items()}, self.source_language)

    @property
    def seconds(self) -> float:
        return sum(result.seconds for result in self.languages.values())

    @property
    def examples(self) -> int:
        return sum(len(result.predictions) for result in self.languages.values())


def evaluate_languages(
    model,
    data: dict[str, tuple[Examples, TokenizedExamples]],
    label_names: list[str],
    split: str,
    source_language: str,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    accelerator=None,
    progress: bool = True,
    adjust: dict | None = None,
) -> EvaluationReport:
    """Predict and score every language in ``data`` (language → raw and tokenised examples).

    ``adjust`` maps a language to a function applied to its probabilities before scoring (prior correction)."""
    report = EvaluationReport(split=split, source_language=source_language)
    for language, (examples, tokenized) in data.items():
        start = time.perf_counter()
        probabilities = predict_probabilities(model, tokenized, batch_size, device, accelerator, progress,
                                              description=f"eval {language}/{split}")
        if adjust and language in adjust:
            probabilities = adjust[language](probabilities)
        predictions = probabilities.argmax(dim=-1).tolist()
        metrics = classification_metrics(examples.labels, predictions, label_names)
        report.languages[language] = LanguageResult(language, split, metrics, predictions, probabilities,
                                                    time.perf_counter() - start)
    return report
