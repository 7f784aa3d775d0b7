"""Cross-lingual transfer metrics as an ``evaluate`` module: load it with
``evaluate.load(xlingual.metrics.transfer_metric_path())``.

Inputs per example: ``predictions`` and ``references`` (class ids) and ``languages`` (any name or ISO
code xlingual knows). Settings: ``source_language`` (default ``english``) and optionally
``label_names``. Returns per-language ``accuracy``/``macro_f1``/``n``, and the summary keys of
results.json: ``source_*``, ``target_avg_*``, ``transfer_gap_*`` of both metrics.
"""

from __future__ import annotations

import datasets
import evaluate

from xlingual.languages import normalize_language
from xlingual.metrics.classification import classification_metrics, transfer_summary

_DESCRIPTION = """Zero-shot cross-lingual transfer: each language's accuracy and macro-F1, the average over the
target languages, and the gap between the source language and that average."""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): gold class ids.
    languages (list of str): the language of each example (name or ISO code).
    source_language (str): the language trained on; every other language is a target. Default: english.
    label_names (list of str, optional): class names; default: the ids as text, for as many classes as appear.
Returns:
    languages (dict): per language: n, accuracy, macro_f1, per_class_f1.
    source_accuracy, source_macro_f1, target_avg_accuracy, target_avg_macro_f1,
    transfer_gap_accuracy, transfer_gap_macro_f1 (float), where the languages present allow them.
Example:
    >>> metric = evaluate.load(xlingual.metrics.transfer_metric_path())
    >>> scores = metric.compute(predictions=[0, 1, 1], references=[0, 1, 0], languages=["en", "es", "es"])
    >>> scores["transfer_gap_accuracy"]
    0.5
"""

_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class XlingualTransfer(evaluate.Metric):
    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64"),
                                        "languages": datasets.Value("string")}),
        )

    def _compute(self, predictions, references, languages, source_language="english", label_names=None):
        source = normalize_language(source_language, field="source_language")
        if label_names is None:
            label_names = [str(i) for i in range(max([*predictions, *references], default=0) + 1)]
        by_language: dict[str, tuple[list[int], list[int]]] = {}
        for prediction, reference, language in zip(predictions, references, languages, strict=True):
            gold, predicted = by_language.setdefault(normalize_language(language, field="languages"), ([], []))
            gold.append(reference)
            predicted.append(prediction)
        per_language = {}
        for language, (gold, predicted) in by_language.items():
            metrics = classification_metrics(gold, predicted, label_names)
            per_language[language] = {key: metrics[key] for key in ("n", "accuracy", "macro_f1", "per_class_f1")}
        return {"languages": per_language, **transfer_summary(per_language, source)}
