"""Representation-preserving objectives: L2-SP and feature distillation to the frozen pretrained encoder."""

from __future__ import annotations

import pytest
import torch

from xlingual.config import load_recipe
from xlingual.io import read_json
from xlingual.labels import LabelScheme
from xlingual.modeling.build import build_model
from xlingual.objectives import SetupContext, StepContext, get_objective
from xlingual.objectives.feature_distillation import feature_distillation
from xlingual.objectives.l2sp import l2_sp


def _model(tiny_bert):
    recipe = load_recipe(None, [f"model.name={tiny_bert}", "freeze.embeddings=true", "model.max_length=32"])
    model, _ = build_model(recipe, LabelScheme.build("sentiment3"))
    return model


def _batch():
    ids = torch.tensor([[2, 7, 8, 9, 3], [2, 10, 3, 0, 0]])
    return {"input_ids": ids, "attention_mask": (ids != 0).long()}


def test_l2sp_is_zero_at_the_start_and_the_squared_distance_after_a_move(tiny_bert):
    model = _model(tiny_bert)
    objective = get_objective("l2sp")()
    objective.setup(SetupContext(model, model.config.hidden_size, ["spanish"]))
    assert objective.reference and all(name.startswith("encoder.") for name in objective.reference)
    context = StepContext({}, {}, 0.0, model)
    assert objective.compute(context).item() == 0.0
    parameter = next(p for n, p in model.named_parameters() if n in objective.reference)
    with torch.no_grad():
        parameter.add_(0.5)
    assert objective.compute(context).item() == pytest.approx(0.25 * parameter.numel(), rel=1e-5)
    loss = objective.compute(context)
    loss.backward()
    assert torch.allclose(parameter.grad, torch.full_like(parameter, 1.0))  # d/dθ (θ − θ⁰)² = 2 · 0.5


def test_l2sp_pure_function_on_tiny_tensors():
    a = torch.tensor([1.0, 2.0])
    assert l2_sp([(a, a.clone())]).item() == 0.0
    assert l2_sp([(a, torch.zeros(2)), (torch.ones(1), torch.zeros(1))]).item() == 6.0


@pytest.mark.parametrize("name", ["distill_source", "distill_target"])
def test_distillation_is_zero_for_the_teacher_itself(tiny_bert, name):
    model = _model(tiny_bert).eval()
    objective = get_objective(name)()
    objective.setup(SetupContext(model, model.config.hidden_size, ["spanish"]))
    batch = _batch()
    embeddings = model.embed(batch["input_ids"], batch["attention_mask"])
    context = StepContext({"source": embeddings, "target": embeddings}, {"source": batch, "target": batch}, 0.0,
                          model)
    assert objective.compute(context).item() == pytest.approx(0.0, abs=1e-6)
    assert len(objective.cache) == 2  # one teacher embedding per distinct text, computed once
    moved = StepContext({"source": -embeddings, "target": -embeddings}, context.batches, 0.0, model)
    assert objective.compute(moved).item() == pytest.approx(2.0, abs=1e-5)  # opposite vectors: 1 − (−1)
    assert len(objective.cache) == 2


def test_distillation_pure_function():
    x = torch.randn(4, 8)
    assert feature_distillation(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert feature_distillation(x, x, "mse").item() == 0.0
    assert feature_distillation(x, torch.zeros_like(x), "mse").item() == pytest.approx(x.pow(2).mean().item())


@pytest.mark.parametrize("loss, resources", [("l2sp", ["zero-shot"]), ("distill_source", ["zero-shot"]),
                                             ("distill_target", ["unlabeled-target"])])
def test_preserving_objectives_train_and_record_their_resources(train_tiny, loss, resources):
    extra = {"alignment.losses": f"[{{name: {loss}, weight: 0.1}}]"}
    if loss == "distill_target":
        extra["alignment.unlabeled_target"] = "{split: train}"
    run = train_tiny(**extra)
    results = read_json(run / "results.json")
    assert results["protocol"]["target_resources"] == resources
    log = (run / "logs" / "train_log.jsonl").read_text()
    assert f'"{loss}"' in log
