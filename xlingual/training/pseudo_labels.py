"""Confidence-thresholded pseudo-label selection for self-training on unlabeled target-language text.

The classifier labels target text it is sure about and is then trained on those labels too. A
plain threshold lets the majority (or easiest) class dominate the selection; training on that
makes the model predict it even more confidently, so the next round selects it even more — the
selection snowballs. Keeping the same number per class avoids that.
"""

from __future__ import annotations

from torch import Tensor


def select_pseudo_labels(probabilities: Tensor, threshold: float, max_per_class: int | None = None,
                         class_balanced: bool = True) -> tuple[list[int], list[int]]:
    """Indices and predicted labels of the rows of ``probabilities`` ``[n, k]`` to self-train on.

    A row is a candidate when its top probability is ``>= threshold``; its label is the argmax.
    With ``class_balanced``, every class that has candidates keeps the same number, the smallest
    candidate count among those classes (capped by ``max_per_class``); classes with no candidate
    are skipped rather than forcing zero everywhere. Without it, all candidates are kept, at most
    ``max_per_class`` per class when given. Within a class the most confident rows win (ties: lower
    index). Indices come back sorted ascending, with the labels in the same order.
    """
    if probabilities.dim() != 2:
        raise ValueError(f"probabilities must be [n, k], got shape {tuple(probabilities.shape)}")
    if max_per_class is not None and max_per_class < 0:
        raise ValueError(f"max_per_class must be non-negative, got {max_per_class}")
    if probabilities.shape[0] == 0:
        return [], []
    confidence, predicted = probabilities.detach().float().cpu().max(dim=1)
    scores, labels = confidence.tolist(), predicted.tolist()

    by_class: dict[int, list[int]] = {}
    for index, (score, label) in enumerate(zip(scores, labels)):
        if score >= threshold:
            by_class.setdefault(label, []).append(index)
    if not by_class:
        return [], []

    if class_balanced:
        quota: int | None = min(len(members) for members in by_class.values())
        if max_per_class is not None:
            quota = min(quota, max_per_class)
    else:
        quota = max_per_class

    selected: list[int] = []
    for members in by_class.values():
        ranked = sorted(members, key=lambda i: (-scores[i], i))
        selected.extend(ranked if quota is None else ranked[:quota])
    selected.sort()
    return selected, [labels[i] for i in selected]
