"""Label-free selection signals: the maths on tiny tensors, and selection by a signal in a run."""

from __future__ import annotations

import math

import pytest
import torch

from xlingual.config import load_recipe
from xlingual.errors import ConfigError
from xlingual.evaluation.signals import agreement, confidence_and_entropy, retrieval_at_1
from xlingual.io import read_json


def test_retrieval_confidence_entropy_agreement_on_tiny_tensors():
    a = torch.eye(4)
    assert retrieval_at_1(a, a * 3) == 1.0
    assert retrieval_at_1(a, a[[1, 0, 2, 3]]) == 0.5
    confidence, entropy = confidence_and_entropy(torch.tensor([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]]))
    assert confidence == pytest.approx((1 + 1 / 3) / 2) and entropy == pytest.approx(math.log(3) / 2)
    assert agreement(torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.tensor([[0.6, 0.4], [0.7, 0.3]])) == 0.5


def test_run_records_every_signal_per_epoch_and_selects_by_one(train_tiny, toy_pairs):
    run = train_tiny(**{"training.epochs": 3, "training.select_best_on": "target-entropy",
                        "selection_signals.pairs.root": str(toy_pairs), "selection_signals.max_examples": 40})
    results = read_json(run / "results.json")
    history = results["training"]["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert set(history[0]["signals"]) == {"retrieval", "confidence", "entropy", "agreement"}
    assert history[0]["signals"]["agreement"] is None and history[1]["signals"]["agreement"] is not None
    assert all("selection_macro_f1" in h for h in history)  # source dev is still scored and recorded
    lowest = min(history, key=lambda h: h["signals"]["entropy"])
    assert results["training"]["best_epoch"] == lowest["epoch"]
    assert results["protocol"]["model_selection"].startswith("label-free")
    assert "unlabeled-target-selection" in results["protocol"]["target_resources"]


@pytest.mark.parametrize("overrides, message", [
    (["training.select_best_on=target-agreement"], "selection_signals"),
    (["training.select_best_on=retrieval", "selection_signals.signals=[retrieval]"], "selection_signals.pairs"),
    (["selection_signals.signals=[confidance]"], "did you mean 'confidence'"),
    (["selection_signals.unlabeled_split=test"], "test"),
])
def test_signal_settings_are_checked(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_recipe(None, overrides)
