"""Confidence-thresholded pseudo-label selection for self-training on unlabeled target-language text.

The classifier labels target text it is sure about and is then trained on those labels too. A
plain threshold lets the majority (or easiest) class dominate the selection; training on that
makes the model predict it even more confidently, so the next round selects it even more — the
selection snowballs. Keeping the same number per class avoids that.
"""

from __future__ import annotations

from collections import Counter

from torch import Tensor


def select_pseudo_labels(probabilities: Tensor, threshold: float, max_per_class: int | None = None,
                         class_balanced: bool = True) -> tuple[list[int], list[int]]:
    """Indices and predicted labels of the rows of ``probabilities`` ``[n, k]`` to self-train on: ``self_training``'s
    settings read as a rule of :func:`select`, the one selection ``xlingual pseudo-label`` and rounds use.

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
    allowed = [score >= threshold for score in confidence.tolist()]
    counts = Counter(label for label, ok in zip(predicted.tolist(), allowed, strict=True) if ok)
    if not counts:
        return [], []
    quota = min(counts.values()) if class_balanced else None
    if max_per_class is not None:
        quota = max_per_class if quota is None else min(quota, max_per_class)
    if quota == 0:
        return [], []
    if quota is None:
        indices, labels, _ = select(probabilities, "threshold", threshold=threshold)
    else:
        indices, labels, _ = select(probabilities, "class-balanced", k=quota, allowed=allowed)
    return indices, labels


# ----------------------------------------------------------------------------- selection rules for a teacher

SELECTION_RULES = ("prior-matched", "class-balanced", "threshold", "all-soft")
"""How ``xlingual pseudo-label`` keeps a teacher's labels (:func:`select`):

- ``prior-matched`` (the default): the ``k`` most confident texts per language, split between classes as the
  teacher's own mean prediction estimates the language's class prior (no labels). A fixed threshold starves a
  weak teacher, and a uniform mix teaches a class prior the target text may not have (a student then learns
  "language → class").
- ``class-balanced``: the ``k`` most confident per class (all of a class where it has fewer).
- ``threshold``: every text whose top probability is at least ``threshold``.
- ``all-soft``: every text, with the teacher's probabilities as soft targets."""


def estimate_prior(probabilities: Tensor) -> list[float]:
    """The class prior of the texts as the teacher sees them: its mean predicted distribution (label-free)."""
    if probabilities.dim() != 2 or probabilities.shape[0] == 0:
        raise ValueError(f"probabilities must be a non-empty [n, k], got shape {tuple(probabilities.shape)}")
    return probabilities.detach().float().cpu().mean(dim=0).tolist()


def prior_quota(total: int, prior: list[float]) -> list[int]:
    """``total`` split between classes in proportion to ``prior`` (largest remainder; sums to ``total``)."""
    exact = [total * p / sum(prior) for p in prior]
    quota = [int(x) for x in exact]
    for c in sorted(range(len(prior)), key=lambda c: (-(exact[c] - quota[c]), c))[: total - sum(quota)]:
        quota[c] += 1
    return quota


def select(probabilities: Tensor, rule: str, k: int | None = None, threshold: float | None = None,
           allowed: list[bool] | None = None) -> tuple[list[int], list[int], dict]:
    """``(indices, labels, record)`` of the rows a teacher's ``probabilities`` ``[n, k]`` keep by ``rule``.

    Within a class the most confident rows win (ties: lower index); indices come back sorted. ``record`` says
    what was asked and kept per class, the estimated prior, and ``short`` for classes with fewer rows than
    their quota (all of them kept). ``allowed`` (e.g. where a second view agrees) limits the candidates; the
    prior is still estimated on every row."""
    if rule not in SELECTION_RULES:
        raise ValueError(f"rule must be one of {', '.join(SELECTION_RULES)}, got {rule!r}")
    confidence, predicted = probabilities.detach().float().cpu().max(dim=1)
    scores, labels = confidence.tolist(), predicted.tolist()
    classes = probabilities.shape[1]
    prior = estimate_prior(probabilities)
    record: dict = {"rule": rule, "prior": prior}
    if rule in ("threshold", "all-soft"):
        cut = threshold if rule == "threshold" else None
        kept = [i for i, score in enumerate(scores)
                if (cut is None or score >= cut) and (allowed is None or allowed[i])]
        record.update(threshold=cut, kept=[sum(labels[i] == c for i in kept) for c in range(classes)])
        return kept, [labels[i] for i in kept], record
    if k is None or k < 1:
        raise ValueError(f"rule {rule!r} needs k >= 1, got {k!r}")
    quota = prior_quota(k, prior) if rule == "prior-matched" else [k] * classes
    by_class: dict[int, list[int]] = {c: [] for c in range(classes)}
    for index, label in enumerate(labels):
        if allowed is None or allowed[index]:
            by_class[label].append(index)
    selected: list[int] = []
    for c, members in by_class.items():
        selected.extend(sorted(members, key=lambda i: (-scores[i], i))[: quota[c]])
    selected.sort()
    kept = [sum(labels[i] == c for i in selected) for c in range(classes)]
    record.update(k=k, quota=quota, kept=kept, short=[c for c in range(classes) if kept[c] < quota[c]])
    return selected, [labels[i] for i in selected], record


MIX_SHIFT_WARNING = 0.10
"""A student whose predicted share of a class moves this far from its teacher's has likely learned a cue only the
pseudo-labelled text carries (language → class); the run warns and records it."""


def predicted_mix(confusion_matrix: list[list[int]]) -> list[float]:
    """The share of predictions per class: the column sums of a confusion matrix (no label is read)."""
    columns = [sum(row[c] for row in confusion_matrix) for c in range(len(confusion_matrix))]
    total = sum(columns)
    return [count / total if total else 0.0 for count in columns]


def class_mix_shift(student: dict[str, list[float]], teachers: list[dict[str, list[float]]],
                    names: list[str]) -> dict:
    """Per language, the student's predicted class shares minus the teachers' (their mean over an ensemble's
    members), and the languages where a class moved more than :data:`MIX_SHIFT_WARNING`."""
    shift, flagged = {}, []
    for language, mix in student.items():
        members = [teacher[language] for teacher in teachers if language in teacher]
        if not members:
            continue
        reference = [sum(m[c] for m in members) / len(members) for c in range(len(names))]
        delta = {name: round(mix[c] - reference[c], 4) for c, name in enumerate(names)}
        shift[language] = delta
        if max(abs(v) for v in delta.values()) > MIX_SHIFT_WARNING:
            flagged.append(language)
    return {"class_mix_shift": shift, "class_mix_warning": flagged}
