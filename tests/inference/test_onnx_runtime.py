"""ONNX export and ONNX Runtime inference on a tiny trained model: the torch labels, within 1e-4."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from conftest import REPO, tiny_recipe_overrides

import xlingual
from xlingual.cli import main
from xlingual.errors import CheckpointError
from xlingual.onnx_runtime import FP32_GRAPH, ONNX_METADATA, OnnxModel
from xlingual.quantization import DEFAULT_INT8, QuantizationError

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install -e '.[onnx]')")

RECIPE = REPO / "recipes" / "umsab_e5small.yaml"
ALL = "int8-dynamic,int8-ffn-fp32,int8-static"


@pytest.fixture(scope="module")
def trained(tiny_bert, toy_umsab, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx") / "run"
    return xlingual.train(RECIPE, tiny_recipe_overrides(tiny_bert, toy_umsab, out, **{
        "training.epochs": 3, "training.learning_rate": 5e-3, "freeze.embeddings": False}), progress=False)


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    out = tmp_path_factory.mktemp("onnx-export") / "onnx"
    assert main(["export", str(trained), str(out), "--format", "onnx", "--quantize", ALL]) == 0
    return out


def texts(toy_umsab) -> list[str]:
    return [t for lang in ("english", "spanish", "german") for split in ("train", "val", "test")
            for t in (toy_umsab / lang / f"{split}_text.txt").read_text(encoding="utf-8").split("\n")]


def test_fp32_onnx_gives_the_torch_labels_and_probabilities(trained, exported, toy_umsab):
    every = texts(toy_umsab)
    torch_model, onnx_model = xlingual.load(trained), xlingual.load(exported)
    assert isinstance(onnx_model.model, OnnxModel) and onnx_model.labels == torch_model.labels
    ours, theirs = onnx_model.predict_proba(every), torch_model.predict_proba(every)
    assert torch.equal(ours.argmax(-1), theirs.argmax(-1))  # every toy example
    assert float((ours - theirs).abs().max()) < 1e-4
    assert float((onnx_model.embed(every[:5]) - torch_model.embed(every[:5])).abs().max()) < 1e-4
    assert onnx_model.predict("me encanta").label == torch_model.predict("me encanta").label
    # batch size and padding do not change the graph's answer (dynamic batch and length axes)
    assert torch.allclose(onnx_model.predict_proba(every[:7], batch_size=2), ours[:7], atol=1e-5)


def test_the_export_folder_says_what_it_holds(trained, exported):
    metadata = json.loads((exported / ONNX_METADATA).read_text())
    assert metadata["graphs"] == {"fp32": FP32_GRAPH, "int8-dynamic": "model_int8_dynamic.onnx",
                                  "int8-ffn-fp32": "model_int8_ffn_fp32.onnx", "int8-static": "model_int8_static.onnx"}
    assert metadata["calibration"] == "96 texts"  # the toy English train split, all of it (fewer than 256)
    marker = json.loads((exported / "xlingual_export.json").read_text())
    assert marker["format"] == "onnx" and sorted(marker["files"]) == sorted(p.name for p in exported.iterdir())
    config = json.loads((exported / "config.json").read_text())
    assert config["text_prefix"] == "" and config["max_seq_length"] == 32 and config["id2label"]["0"] == "negative"
    assert (exported / "config.yaml").is_file()  # the run's recipe: `xlingual evaluate OUT` finds its data
    import onnx

    graph = onnx.load(str(exported / FP32_GRAPH))
    shapes = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.graph.input}
    assert shapes == {"input_ids": ["batch", "length"], "attention_mask": ["batch", "length"]}
    ffn_kept = onnx.load(str(exported / "model_int8_ffn_fp32.onnx"))
    import re

    plain = [n.name for n in ffn_kept.graph.node if n.op_type == "MatMul" and "/dense/" in n.name]
    assert plain and all(re.search(r"layer\.\d+/output/dense/MatMul", name) for name in plain), plain  # FFN outputs
    assert len(plain) == 2  # one per layer of the tiny BERT


@pytest.mark.parametrize("quantize", ["int8", "int8-dynamic", "int8-ffn-fp32", "int8-static"])
def test_int8_graphs_load_and_predict(exported, toy_umsab, quantize):
    import onnx

    classifier = xlingual.load(exported, quantize=quantize)
    variant = DEFAULT_INT8 if quantize == "int8" else quantize
    assert classifier.model.path.name == f"model_{variant.replace('-', '_')}.onnx"  # the graph really loaded
    ops = {node.op_type for node in onnx.load(str(classifier.model.path)).graph.node}
    assert ("QuantizeLinear" in ops) if variant == "int8-static" else ("DynamicQuantizeLinear" in ops), ops
    every = texts(toy_umsab)
    fp32 = xlingual.load(exported).predict_proba(every).argmax(-1)
    same = float((classifier.predict_proba(every).argmax(-1) == fp32).float().mean())
    assert same >= 0.8, same  # int8 of a tiny model: most labels kept, not necessarily all


def test_predict_and_evaluate_commands_run_on_an_onnx_export(exported, capsys):
    assert main(["predict", str(exported), "me encanta", "--json"]) == 0
    row = json.loads(capsys.readouterr().out.strip())
    assert row["label"] in ("negative", "neutral", "positive")
    assert main(["predict", str(exported), "me encanta", "--quantize", "int8-static"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(exported), "--no-progress", "--languages", "spanish"]) == 0
    assert "| spanish | target |" in capsys.readouterr().out


def test_onnx_export_is_refused_and_checked_like_any_export(trained, exported, tmp_path, capsys):
    assert main(["export", str(trained), str(exported), "--format", "onnx"]) == 2
    assert "already holds an xlingual export; pass --overwrite" in capsys.readouterr().err
    damaged = tmp_path / "damaged"
    assert main(["export", str(trained), str(damaged), "--format", "onnx", "--quantize", "none"]) == 0
    assert json.loads((damaged / ONNX_METADATA).read_text())["graphs"] == {"fp32": FP32_GRAPH}
    with pytest.raises(QuantizationError, match="has no int8-ffn-fp32 graph"):
        xlingual.load(damaged, quantize="int8")
    graph = damaged / FP32_GRAPH
    data = bytearray(graph.read_bytes())
    data[-10] ^= 1
    graph.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.onnx: sha256 differs"):
        xlingual.load(damaged)
    assert main(["export", str(exported), str(tmp_path / "again"), "--format", "onnx"]) == 2
    assert "is an ONNX export already" in capsys.readouterr().err
    assert main(["export", str(trained), str(tmp_path / "x"), "--format", "onnx", "--quantize", "int4"]) == 2
    assert "--quantize: ONNX variants are int8, none, int8-dynamic" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_torch_refuses_the_static_variant_and_onnx_runs_on_cpu_only(trained, exported):
    with pytest.raises(QuantizationError, match="runs in ONNX Runtime only"):
        xlingual.load(trained, quantize="int8-static")
    with pytest.raises(CheckpointError, match="runs on the CPU here"):
        xlingual.load(exported).model.to("cuda")


def test_without_onnxruntime_one_line_says_how_to_install(trained, exported, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(CheckpointError, match=r'optional extra: pip install -e "\.\[onnx\]"'):
        xlingual.load(exported)
    assert main(["export", str(trained), str(tmp_path / "out"), "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install -e ".[onnx]"' in err[0]
    assert not (tmp_path / "out").exists()


def test_torch_int8_variants_keep_the_ffn_outputs_in_fp32(trained):
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    model = xlingual.load(trained, quantize="int8-ffn-fp32").model
    kinds = {name: type(m) for name, m in model.encoder.named_modules() if name.endswith("dense")}
    assert {n for n, k in kinds.items() if k is torch.nn.Linear} == {n for n in kinds if n.endswith("output.dense")
                                                                     and ".attention." not in n}
    assert all(k is DynamicLinear for n, k in kinds.items() if ".attention." in n or "intermediate" in n)
    every = xlingual.load(trained, quantize="int8-dynamic").model
    assert all(type(m) is DynamicLinear for n, m in every.encoder.named_modules() if n.endswith("dense"))


def test_an_int8_export_from_before_variants_loads_as_int8_dynamic(trained, tmp_path, toy_umsab):
    out = tmp_path / "old-int8"
    assert main(["export", str(trained), str(out), "--quantize", "int8-dynamic"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["quantization"]["variant"] == "int8-dynamic"
    del config["quantization"]["variant"], config["quantization"]["kept_fp32"]  # what older exports hold
    (out / "config.json").write_text(json.dumps(config))
    every = texts(toy_umsab)
    old = xlingual.load(out).predict_proba(every)
    assert torch.equal(old, xlingual.load(trained, quantize="int8-dynamic").predict_proba(every))
    assert main(["export", str(out), str(tmp_path / "onnx"), "--format", "onnx"]) == 2  # int8 weights: refused


def test_static_int8_calibrates_on_a_file_of_english_texts(trained, tmp_path, toy_umsab):
    calibration = tmp_path / "english.txt"
    calibration.write_text("\n".join(texts(toy_umsab)[:40]) + "\n\n", encoding="utf-8")
    out = tmp_path / "static"
    assert main(["export", str(trained), str(out), "--format", "onnx", "--quantize", "int8-static",
                 "--calibration", str(calibration)]) == 0
    assert json.loads((out / ONNX_METADATA).read_text())["calibration"] == "40 texts"
    assert xlingual.load(out, quantize="int8-static").predict("hola").label


def test_without_the_onnx_package_export_says_so(trained, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert main(["export", str(trained), str(tmp_path / "out"), "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ONNX needs onnx, an optional extra"), err
