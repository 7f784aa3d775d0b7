"""Int8 CPU inference: same labels as fp32, int8 exports (LoRA merged first), clear refusals."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, toy_sentences

import xlingual
from xlingual.cli import main
from xlingual.quantization import INT8_WEIGHTS, QuantizationError, is_quantized


def toy_texts(n: int = 100) -> list[str]:
    return [text for language in ("english", "spanish", "german") for text in toy_sentences(language, n, seed=11)[0]]


def test_int8_predicts_the_same_labels_as_fp32(train_tiny):
    run = train_tiny()
    texts = toy_texts()
    fp32 = xlingual.load(run)
    int8 = xlingual.load(run, quantize="int8")
    assert not is_quantized(fp32.model) and is_quantized(int8.model)
    assert type(int8.model.classifier).__module__.startswith("torch.nn")  # the head stays fp32
    a = [p.label for p in fp32.predict(texts)]
    b = [p.label for p in int8.predict(texts)]
    agreement = sum(x == y for x, y in zip(a, b)) / len(texts)
    assert agreement >= 0.95, f"int8 agrees with fp32 on {agreement:.1%} of {len(texts)} toy texts"
    assert len(set(b)) > 1  # a trained model, not one constant label
    difference = (fp32.predict_proba(texts) - int8.predict_proba(texts)).abs().max().item()
    assert 0 < difference < 0.2  # int8 changed the numbers, a little


def test_int8_export_of_a_lora_run_merges_then_quantizes(train_tiny, tmp_path, capsys):
    run = train_tiny("recipes/umsab_e5small_lora.yaml", **{"lora.r": 4})
    out = tmp_path / "int8"
    assert main(["export", str(run), str(out), "--quantize", "int8"]) == 0
    assert "dynamic int8" in capsys.readouterr().out
    assert (out / INT8_WEIGHTS).is_file() and not (out / "model.safetensors").is_file()
    meta = json.loads((out / "xlingual_export.json").read_text())
    assert meta["merged_lora"] is True and meta["quantize"] == "int8"
    assert json.loads((out / "config.json").read_text())["quantization"]["dtype"] == "qint8"

    texts = toy_texts(40)
    exported = xlingual.load(out)  # an int8 export loads as int8 without being asked
    in_memory = xlingual.load(run, quantize="int8")  # the same merge + quantization, never saved
    assert is_quantized(exported.model) and not hasattr(exported.model.encoder, "peft_config")
    assert exported.predict_proba(texts).tolist() == in_memory.predict_proba(texts).tolist()
    fp32 = [p.label for p in xlingual.load(run).predict(texts)]
    same = sum(x == p.label for x, p in zip(fp32, exported.predict(texts)))
    assert same / len(texts) >= 0.95

    assert main(["predict", str(run), "me encanta", "--quantize", "int8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] in {"negative", "neutral", "positive"}


def test_quantize_refuses_without_int8_kernels(train_tiny, tmp_path, monkeypatch, capsys):
    run = train_tiny()
    capsys.readouterr()
    monkeypatch.setattr("xlingual.quantization.supported_engines", lambda: ["none"])
    assert main(["export", str(run), str(tmp_path / "int8"), "--quantize", "int8"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: --quantize int8: ")
    assert "no int8 CPU kernels" in err and "['none']" in err
    assert not (tmp_path / "int8").exists()
    with pytest.raises(QuantizationError, match="no int8 CPU kernels"):
        xlingual.load(run, quantize="int8")


def test_quantize_refuses_other_devices_and_modes(train_tiny):
    run = train_tiny()
    with pytest.raises(QuantizationError, match="CPU only"):
        xlingual.load(run, device="cuda", quantize="int8")
    with pytest.raises(QuantizationError, match="expected one of int8, int8-dynamic, int8-ffn-fp32, int8-static, got "
                                                "'int4'"):
        xlingual.load(run, quantize="int4")


def test_quantize_is_offered_by_the_cli():
    import subprocess
    import sys

    from xlingual.cli import QUANTIZE_NAMES
    from xlingual.quantization import QUANTIZE_CHOICES

    out = subprocess.run([sys.executable, "-m", "xlingual", "export", "--help"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert "--quantize QUANTIZE" in out and "--format {safetensors,onnx}" in out
    out = subprocess.run([sys.executable, "-m", "xlingual", "predict", "--help"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    assert "--quantize {int8,int8-dynamic,int8-ffn-fp32,int8-static}" in out
    assert QUANTIZE_NAMES == QUANTIZE_CHOICES  # the CLI names them without importing torch


def test_int8_export_is_verified_and_overwritten_only_with_overwrite(train_tiny, tmp_path, capsys):
    run = train_tiny()
    out = tmp_path / "int8"
    assert main(["export", str(run), str(out), "--quantize", "int8"]) == 0
    recorded = json.loads((out / "xlingual_checkpoint.json").read_text())["sha256"]
    assert list(recorded) == [INT8_WEIGHTS]
    marker = json.loads((out / "xlingual_export.json").read_text())
    assert {INT8_WEIGHTS, "xlingual_checkpoint.json", "config.json", "xlingual_export.json"} <= set(marker["files"])
    assert sorted(p.name for p in out.iterdir()) == sorted(marker["files"])
    assert not list(tmp_path.glob(".int8.xlingual-*"))  # the temp folder was renamed into place

    capsys.readouterr()
    assert main(["export", str(run), str(out), "--quantize", "int8"]) == 2  # an earlier export: --overwrite
    assert "pass --overwrite" in capsys.readouterr().err
    (out / "my-notes.txt").write_text("keep me")
    assert main(["export", str(run), str(out), "--quantize", "int8", "--overwrite"]) == 2
    assert "my-notes.txt" in capsys.readouterr().err and (out / "my-notes.txt").read_text() == "keep me"
    (out / "my-notes.txt").unlink()
    assert main(["export", str(run), str(out), "--quantize", "int8", "--overwrite"]) == 0

    data = bytearray((out / INT8_WEIGHTS).read_bytes())
    data[len(data) - 7] ^= 0x01  # inside the last tensor: the file still parses
    (out / INT8_WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(xlingual.CheckpointError, match=r"model_int8\.safetensors: sha256 differs"):
        xlingual.load(out)
    assert is_quantized(xlingual.load(out, verify=False).model)
    capsys.readouterr()
    assert main(["predict", str(out), "me encanta"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: ")
    assert main(["predict", str(out), "me encanta", "--no-verify"]) == 0
