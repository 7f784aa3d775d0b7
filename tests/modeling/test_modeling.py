"""Model: pooling, freezing, LoRA, checkpoint save/load, export."""

from __future__ import annotations

import pytest
import torch

from xlingual.checkpoint import load_checkpoint, merge_and_export, save_checkpoint
from xlingual.config import load_recipe
from xlingual.errors import CheckpointError, ConfigError
from xlingual.labels import LabelScheme
from xlingual.modeling.build import build_model
from xlingual.modeling.pooling import Pooling

SCHEME = LabelScheme.build("sentiment3")
TEXTS = ["i love it", "bad bad", "la mesa hoy", "ich hasse es sehr"]


def test_pooling_by_hand():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert Pooling("mean")(hidden, mask).tolist() == [[2.0, 3.0]]
    assert Pooling("cls")(hidden, mask).tolist() == [[1.0, 2.0]]
    assert Pooling("max")(hidden, mask).tolist() == [[3.0, 4.0]]


def recipe(model_dir, *extra):
    return load_recipe(None, [f"model.name={model_dir}", "model.max_length=32", *extra])


def logits(model, tokenizer, texts=TEXTS):
    batch = tokenizer(texts, padding=True, return_tensors="pt", return_token_type_ids=False)
    model.eval()
    with torch.no_grad():
        return model(**batch).logits


def test_freezing_embeddings_layers_and_probe(tiny_bert):
    model, _ = build_model(recipe(tiny_bert, "freeze.embeddings=true", "freeze.layers=1"), SCHEME)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert not any(n.startswith("encoder.embeddings") for n in trainable)
    assert not any(".layer.0." in n for n in trainable) and any(".layer.1." in n for n in trainable)
    probe, _ = build_model(recipe(tiny_bert, "freeze.encoder=true"), SCHEME)
    assert {n for n, p in probe.named_parameters() if p.requires_grad} == {"classifier.weight", "classifier.bias"}
    with pytest.raises(ConfigError, match=r"freeze.layers: 5 is more than the model's 2 layers"):
        build_model(recipe(tiny_bert, "freeze.layers=5"), SCHEME)


def test_lora_trains_only_adapters_and_head(tiny_bert):
    model, _ = build_model(recipe(tiny_bert, "lora.r=4", "lora.target_modules=[query,value]"), SCHEME)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n or n.startswith("classifier.") for n in trainable)
    assert "classifier.weight" in trainable


def test_lora_unknown_target_module(tiny_bert):
    with pytest.raises(ConfigError, match=r"lora.target_modules: 'qeury' is not a module.*did you mean 'query'"):
        build_model(recipe(tiny_bert, "lora.target_modules=[qeury]"), SCHEME)


def test_max_length_over_model_limit(tiny_bert):
    with pytest.raises(ConfigError, match=r"model.max_length: 512 is over"):
        build_model(recipe(tiny_bert, "model.max_length=512"), SCHEME)


def test_missing_model_folder_and_config(tmp_path):
    with pytest.raises(CheckpointError, match="model folder not found"):
        build_model(recipe(tmp_path / "none"), SCHEME)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no config.json"):
        build_model(recipe(tmp_path / "empty"), SCHEME)


def _perturb(model):
    with torch.no_grad():
        for _name, p in model.named_parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.05)


@pytest.mark.parametrize("model_fixture", ["tiny_bert", "tiny_xlmr"])
def test_full_checkpoint_round_trip(model_fixture, request, tmp_path):
    model_dir = request.getfixturevalue(model_fixture)
    model, tokenizer = build_model(recipe(model_dir), SCHEME)
    _perturb(model)
    save_checkpoint(model, tokenizer, tmp_path / "ckpt")
    loaded, loaded_tok = load_checkpoint(tmp_path / "ckpt")
    assert torch.equal(logits(model, tokenizer), logits(loaded, loaded_tok))
    assert loaded.config.id2label == {0: "negative", 1: "neutral", 2: "positive"}


def test_lora_checkpoint_keeps_the_head(tiny_bert, tmp_path):
    model, tokenizer = build_model(recipe(tiny_bert, "lora.r=4"), SCHEME)
    _perturb(model)  # adapters *and* head move away from their initial values
    save_checkpoint(model, tokenizer, tmp_path / "ckpt")
    files = {p.name for p in (tmp_path / "ckpt").iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "head.safetensors"} <= files
    assert "model.safetensors" not in files
    loaded, loaded_tok = load_checkpoint(tmp_path / "ckpt")
    assert torch.equal(logits(model, tokenizer), logits(loaded, loaded_tok))
    out = merge_and_export(tmp_path / "ckpt", tmp_path / "merged")
    merged, merged_tok = load_checkpoint(out)
    assert torch.allclose(logits(model, tokenizer), logits(merged, merged_tok), atol=1e-5)
    assert not (out / "adapter_config.json").exists()


def test_export_loads_with_auto_classes_and_pipeline(tiny_bert, tmp_path):
    from transformers import AutoModelForSequenceClassification, pipeline

    import xlingual.modeling  # noqa: F401  registers the model type

    model, tokenizer = build_model(recipe(tiny_bert), SCHEME)
    save_checkpoint(model, tokenizer, tmp_path / "ckpt")
    auto = AutoModelForSequenceClassification.from_pretrained(tmp_path / "ckpt")
    assert torch.equal(logits(model, tokenizer), logits(auto, tokenizer))
    classify = pipeline("text-classification", model=str(tmp_path / "ckpt"), device="cpu")
    predicted = [r["label"] for r in classify(TEXTS)]
    expected = [SCHEME.names[i] for i in logits(model, tokenizer).argmax(-1).tolist()]
    assert predicted == expected


def test_broken_checkpoints_are_named(tiny_bert, tmp_path):
    model, tokenizer = build_model(recipe(tiny_bert, "lora.r=4"), SCHEME)
    save_checkpoint(model, tokenizer, tmp_path / "ckpt")
    (tmp_path / "ckpt" / "head.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"LoRA checkpoint is missing head.safetensors"):
        load_checkpoint(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    with pytest.raises(CheckpointError, match=r"no config.json"):
        load_checkpoint(tmp_path / "plain")
