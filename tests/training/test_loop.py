"""End to end on the tiny model: training lowers the loss, the run folder is complete and reproducible."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, tiny_recipe_overrides

import xlingual
from xlingual.config import load_recipe
from xlingual.io import read_json
from xlingual.labels import LabelScheme
from xlingual.modeling.build import build_model

LANGS = ["english", "spanish", "german"]


def read_log(run):
    return [json.loads(line) for line in (run / "logs" / "train_log.jsonl").read_text().splitlines()]


def test_training_lowers_the_loss_and_writes_the_run_folder(train_tiny):
    run = train_tiny(**{"training.epochs": 6})
    steps = [r for r in read_log(run) if "task" in r]
    assert steps[-1]["task"] < steps[0]["task"] * 0.8
    for name in ("config.yaml", "recipe.yaml", "call.txt", "results.json", "README.md",
                 "checkpoint/model.safetensors", "checkpoint/config.json", "logs/training_curves.png"):
        assert (run / name).is_file(), name
    results = read_json(run / "results.json")
    assert results["status"] == "complete" and results["seed"] == 1
    block = results["splits"]["test"]
    assert list(block["languages"]) == LANGS
    assert block["languages"]["english"]["role"] == "source"
    summary = block["summary"]
    spanish, german = (block["languages"][lang]["macro_f1"] for lang in ("spanish", "german"))
    assert summary["target_avg_macro_f1"] == pytest.approx((spanish + german) / 2)
    assert summary["transfer_gap_macro_f1"] == pytest.approx(summary["source_macro_f1"] - (spanish + german) / 2)
    assert block["languages"]["english"]["accuracy"] > 0.6  # the toy task is learnable in English
    assert results["protocol"] == {**results["protocol"], "target_resources": ["zero-shot"],
                                   "model_selection": "source-dev"}
    assert results["training"]["train_samples_per_second"] > 0 and "versions" in results
    for lang in LANGS:
        lines = (run / "predictions" / f"{lang}.test.jsonl").read_text().splitlines()
        assert len(lines) == block["languages"][lang]["n"] == 36


def test_loaded_checkpoint_reproduces_saved_predictions(train_tiny):
    run = train_tiny()
    classifier = xlingual.load(run)
    rows = [json.loads(line) for line in (run / "predictions" / "spanish.test.jsonl").read_text().splitlines()]
    predictions = classifier.predict([r["text"] for r in rows])
    assert [p.label for p in predictions] == [r["prediction"] for r in rows]
    probabilities = classifier.predict_proba([r["text"] for r in rows]).tolist()
    for row, probs in zip(rows, probabilities, strict=True):
        # saved rounded to 6 decimals; another thread count may move the float sum by ~1e-7 across a rounding edge
        assert probs == pytest.approx(row["probabilities"], abs=2e-6)


def test_lora_run_checkpoint_is_small_and_exports(train_tiny, tmp_path):
    from xlingual.checkpoint import merge_and_export

    run = train_tiny("recipes/umsab_e5small_lora.yaml")
    files = {p.name for p in (run / "checkpoint").iterdir()}
    assert "model.safetensors" not in files and "head.safetensors" in files
    # no copy of the base encoder's tokenizer either: it loads from the base model like the weights
    assert not files & {"tokenizer.json", "tokenizer_config.json", "vocab.txt", "sentencepiece.bpe.model"}
    rows = [json.loads(line) for line in (run / "predictions" / "german.test.jsonl").read_text().splitlines()]
    texts = [r["text"] for r in rows]
    assert [p.label for p in xlingual.load(run).predict(texts)] == [r["prediction"] for r in rows]
    merged = merge_and_export(run, tmp_path / "merged")
    assert [p.label for p in xlingual.load(merged).predict(texts)] == [r["prediction"] for r in rows]


def test_same_seed_gives_identical_predictions(train_tiny, tmp_path):
    first = train_tiny(out=tmp_path / "a")
    second = train_tiny(out=tmp_path / "b")
    for lang in LANGS:
        name = f"predictions/{lang}.test.jsonl"
        assert (first / name).read_bytes() == (second / name).read_bytes()
    ours, theirs = (read_json(run / "results.json")["splits"]["test"] for run in (first, second))
    for key in ("languages", "summary", "test_fingerprints"):  # everything but the timings
        assert ours[key] == theirs[key]


def test_linear_probe_trains_only_the_head(train_tiny):
    run = train_tiny(**{"freeze.encoder": "true", "training.epochs": 1})
    assert read_json(run / "results.json")["method"] == "head"
    params = read_json(run / "results.json")["training"]["parameters"]
    assert params["trainable"] == 32 * 3 + 3


def test_finished_run_is_not_overwritten(train_tiny, tmp_path):
    from xlingual.errors import RunFolderError

    run = train_tiny(out=tmp_path / "once")
    with pytest.raises(RunFolderError, match="already holds a finished run; pass --overwrite"):
        train_tiny(out=run)


def test_gradient_checkpointing_trains_the_same_model(train_tiny, tmp_path, monkeypatch):
    """Recomputing activations in the backward pass must not change what is learned (same dropout masks)."""
    import transformers.modeling_utils as modeling_utils

    calls = []
    real = modeling_utils.checkpoint

    def counting(*args, **kwargs):
        calls.append(kwargs.get("use_reentrant"))
        return real(*args, **kwargs)

    monkeypatch.setattr(modeling_utils, "checkpoint", counting)
    plain = train_tiny(out=tmp_path / "plain", **{"training.epochs": 1})
    assert calls == []
    recomputed = train_tiny(out=tmp_path / "recomputed", **{"training.epochs": 1,
                                                           "training.gradient_checkpointing": "true"})
    assert calls and set(calls) == {False}  # every layer went through non-reentrant checkpointing
    for lang in LANGS:
        ours = [json.loads(x) for x in (plain / f"predictions/{lang}.test.jsonl").read_text().splitlines()]
        theirs = [json.loads(x) for x in (recomputed / f"predictions/{lang}.test.jsonl").read_text().splitlines()]
        assert [r["prediction"] for r in ours] == [r["prediction"] for r in theirs]
        for a, b in zip(ours, theirs):
            assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-5)


def test_gradient_checkpointing_with_lora_still_trains_the_adapters(tiny_bert, toy_umsab, tmp_path):
    import torch

    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path, **{"training.gradient_checkpointing": "true"})
    recipe = load_recipe(REPO / "recipes/umsab_e5small_lora.yaml", overrides)
    model, tokenizer = build_model(recipe, LabelScheme.build("sentiment3"))
    base = model.encoder.get_base_model()
    assert any(getattr(m, "gradient_checkpointing", False) for m in base.modules())
    model.train()
    batch = tokenizer(["uno dos tres", "cuatro cinco"], padding=True, return_tensors="pt")
    model(**batch, labels=torch.tensor([0, 2])).loss.backward()
    lora = {n: p for n, p in model.named_parameters() if "lora_" in n}
    assert lora and all(p.grad is not None for p in lora.values())
    # B starts at zero, so only B's gradients are non-zero after the first backward
    assert all(p.grad.abs().sum() > 0 for n, p in lora.items() if "lora_B" in n)
