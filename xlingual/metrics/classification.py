"""Classification metrics computed in the package (no network, no ``evaluate.load``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion_matrix(labels: Sequence[int], predictions: Sequence[int], num_labels: int) -> np.ndarray:
    """``matrix[gold, predicted]`` counts."""
    matrix = np.zeros((num_labels, num_labels), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)), 1)
    return matrix


def f1_per_class(matrix: np.ndarray) -> np.ndarray:
    """F1 of each class; a class with no gold and no predicted example gets 0 (as scikit-learn's default)."""
    true_positive = np.diag(matrix).astype(float)
    predicted = matrix.sum(axis=0).astype(float)
    gold = matrix.sum(axis=1).astype(float)
    denominator = predicted + gold
    return np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)


def classification_metrics(
    labels: Sequence[int], predictions: Sequence[int], label_names: Sequence[str]
) -> dict[str, object]:
    """Accuracy, macro-F1, per-class F1 and the confusion matrix, as fractions in [0, 1]."""
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    if not len(labels):
        raise ValueError("no examples to score")
    matrix = confusion_matrix(labels, predictions, len(label_names))
    f1 = f1_per_class(matrix)
    return {
        "n": len(labels),
        "accuracy": float(np.trace(matrix) / matrix.sum()),
        "macro_f1": float(f1.mean()),
        "per_class_f1": {name: float(value) for name, value in zip(label_names, f1, strict=True)},
        "confusion_matrix": matrix.tolist(),
    }


def transfer_summary(per_language: dict[str, dict[str, object]], source: str) -> dict[str, float]:
    """Source score, target average, and transfer gap (source minus target average) per metric."""
    targets = [lang for lang in per_language if lang != source]
    summary: dict[str, float] = {}
    for metric in ("accuracy", "macro_f1"):
        if source in per_language:
            summary[f"source_{metric}"] = float(per_language[source][metric])
        if targets:
            summary[f"target_avg_{metric}"] = float(np.mean([per_language[lang][metric] for lang in targets]))
        if source in per_language and targets:
            summary[f"transfer_gap_{metric}"] = summary[f"source_{metric}"] - summary[f"target_avg_{metric}"]
    return summary
