"""Metrics against numbers computed by hand."""

from __future__ import annotations

import pytest

from xlingual.metrics.classification import classification_metrics, confusion_matrix, transfer_summary


def test_metrics_by_hand():
    gold = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 2, 0]
    m = classification_metrics(gold, pred, ["negative", "neutral", "positive"])
    # negative: tp 1, fp 1, fn 1 -> F1 0.5; neutral: tp 2, fp 1, fn 0 -> 0.8; positive: tp 1, fp 0, fn 1 -> 2/3
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["per_class_f1"] == pytest.approx({"negative": 0.5, "neutral": 0.8, "positive": 2 / 3})
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_absent_class_scores_zero_like_sklearn():
    m = classification_metrics([0, 0], [0, 0], ["a", "b"])
    assert m["per_class_f1"] == {"a": 1.0, "b": 0.0} and m["macro_f1"] == 0.5


def test_confusion_matrix_counts():
    assert confusion_matrix([1, 1, 0], [1, 0, 0], 2).tolist() == [[1, 0], [1, 1]]


def test_transfer_summary():
    per = {"english": {"accuracy": 0.8, "macro_f1": 0.7}, "spanish": {"accuracy": 0.6, "macro_f1": 0.5},
           "german": {"accuracy": 0.5, "macro_f1": 0.4}}
    s = transfer_summary(per, "english")
    assert s["target_avg_macro_f1"] == pytest.approx(0.45)
    assert s["transfer_gap_macro_f1"] == pytest.approx(0.25)
    assert s["transfer_gap_accuracy"] == pytest.approx(0.25)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        classification_metrics([0, 1], [0], ["a", "b"])


def test_transfer_metrics_load_offline_as_an_evaluate_module():
    """``evaluate.load(xlingual.metrics.transfer_metric_path())`` gives results.json's numbers on any predictions."""
    import evaluate

    import xlingual.metrics
    from xlingual.metrics.classification import classification_metrics, transfer_summary

    metric = evaluate.load(xlingual.metrics.transfer_metric_path())
    references = [0, 1, 2, 0, 1, 2, 0, 1, 2, 2]
    predictions = [0, 1, 2, 0, 2, 2, 1, 1, 0, 2]
    languages = ["en", "en", "en", "es", "es", "es", "de", "de", "de", "german"]
    result = metric.compute(predictions=predictions, references=references, languages=languages,
                            label_names=["negative", "neutral", "positive"])
    assert list(result["languages"]) == ["english", "spanish", "german"]
    expected = {lang: classification_metrics(references[a:b], predictions[a:b], ["negative", "neutral", "positive"])
                for lang, (a, b) in {"english": (0, 3), "spanish": (3, 6), "german": (6, 10)}.items()}
    for lang, metrics in expected.items():
        assert result["languages"][lang]["macro_f1"] == metrics["macro_f1"]
    summary = transfer_summary(expected, "english")
    assert {k: result[k] for k in summary} == summary
    assert result["source_accuracy"] == 1.0 and result["target_avg_accuracy"] == (2 / 3 + 2 / 4) / 2
