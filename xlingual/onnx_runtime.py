"""ONNX export and ONNX Runtime inference: the CPU runtime Hugging Face users deploy on (optimum's path).

``xlingual export RUN OUT --format onnx`` writes a folder that :func:`xlingual.load` runs with onnxruntime:

    model.onnx              fp32 graph: input_ids, attention_mask (dynamic batch and length) → logits, embeddings
    model_<variant>.onnx    int8 variants (``--quantize``; the default int8 one unless ``--quantize none``)
    config.json             the classifier's config: labels, text prefix, max length, truncation side
    tokenizer files         the run's tokenizer
    xlingual_onnx.json      the graphs, their sha256 (checked on load), opset, what was exported
    config.yaml, paths.json the run's recipe (from a run folder): ``xlingual evaluate OUT`` reads its data
    xlingual_export.json    the export marker (every file written), as for any export

The int8 variants come from ``onnxruntime.quantization`` (see :data:`ONNX_VARIANTS`); the same rule keeps the
FFN output projections in fp32 as in torch (:mod:`xlingual.quantization`). onnxruntime is an optional extra
(``pip install -e ".[onnx]"``); without it, exporting or loading says so in one line.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import torch

from .data.batching import collate
from .data.truncation import encode
from .errors import CheckpointError
from .fingerprint import file_sha256
from .quantization import FFN_OUTPUT, QuantizationError, resolve_variant
from .run_folder import is_run_folder

ONNX_METADATA = "xlingual_onnx.json"
FP32_GRAPH = "model.onnx"
OPSET = 17
ONNX_VARIANTS = {
    "int8-dynamic": "every MatMul as dynamic int8 (per-channel weights, activations quantized per batch)",
    "int8-ffn-fp32": "dynamic int8, the FFN output projections kept in fp32 (the same rule as torch's)",
    "int8-static": "static int8 (QDQ), activation ranges calibrated on unlabeled English text",
}
"""The int8 graphs an ONNX export can hold, by ``quantize=`` name."""
CALIBRATION_TEXTS = 256


def require_onnxruntime(export: bool = False):
    """The onnxruntime module (and, to export, the onnx package), or a one-line error saying how to install
    the optional extra."""
    try:
        # optional dependency (onnxruntime): only for ONNX
        import onnxruntime

        if export:
            import onnx  # noqa: F401  (the exporter and onnxruntime.quantization need it; onnxruntime alone does not)
    except ImportError as exc:
        raise CheckpointError(f'ONNX needs {exc.name or "onnxruntime"}, an optional extra: pip install -e ".[onnx]" '
                              "(or pip install onnxruntime onnx)") from None
    return onnxruntime


def graph_name(variant: str | None) -> str:
    return FP32_GRAPH if variant in (None, "fp32") else f"model_{variant.replace('-', '_')}.onnx"


def is_onnx_export(folder: str | Path) -> bool:
    return (Path(folder) / ONNX_METADATA).is_file()


class _LogitsAndEmbeddings(torch.nn.Module):
    """The classifier as the graph computes it: logits and pooled embeddings from ids and mask."""

    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        output = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return output.logits, output.embeddings


def _batches(texts: list[str], tokenizer, config, size: int) -> list[dict[str, torch.Tensor]]:
    """``texts`` encoded as the classifier encodes them (prefix, max length, truncation side), ``size`` a batch."""
    truncation = getattr(config, "truncation", None) or "head"  # configs from before it was recorded
    ids, _ = encode(tokenizer, texts, config.max_seq_length, config.text_prefix or "", truncation)
    return [collate(ids[start:start + size], tokenizer.pad_token_id or 0) for start in range(0, len(ids), size)]


def write_onnx(model, tokenizer, folder: Path) -> None:
    """The fp32 graph of ``model`` (LoRA merged, fp32 weights) into ``folder``."""
    require_onnxruntime(export=True)
    wrapper = _LogitsAndEmbeddings(model.to("cpu").eval()).eval()
    # two rows of different lengths: the mask has zeros, so the graph keeps its padding logic (a mask of ones
    # alone lets the tracer drop it)
    batch = _batches(["a short one", "a somewhat longer example sentence for the trace"], tokenizer, model.config,
                     2)[0]
    axes = {0: "batch", 1: "length"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (batch["input_ids"], batch["attention_mask"]), str(folder / FP32_GRAPH),
                          input_names=["input_ids", "attention_mask"], output_names=["logits", "embeddings"],
                          opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "logits": {0: "batch"},
                                        "embeddings": {0: "batch"}})


def _ffn_output_nodes(graph: Path) -> list[str]:
    import onnx  # the optional extra

    pattern = re.compile(FFN_OUTPUT.replace(r"\.", "[./]") + "[./]MatMul")
    return [node.name for node in onnx.load(str(graph), load_external_data=False).graph.node
            if node.op_type == "MatMul" and pattern.search(node.name)]


class _Calibration:
    """onnxruntime's CalibrationDataReader over tokenised English texts, a batch of 16 at a time."""

    def __init__(self, texts: list[str], tokenizer, config) -> None:
        self.batches = [{k: v.numpy() for k, v in batch.items()} for batch in _batches(texts, tokenizer, config, 16)]
        self.position = 0

    def get_next(self):
        if self.position >= len(self.batches):
            return None
        self.position += 1
        return self.batches[self.position - 1]

    def rewind(self) -> None:
        self.position = 0


def quantize_onnx(folder: Path, variant: str, calibration: list[str] | None, tokenizer, config) -> str:
    """Write the int8 ``variant`` of ``folder``'s fp32 graph; returns its file name."""
    require_onnxruntime(export=True)
    # optional dependency (onnxruntime): only for ONNX
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    source, target = folder / FP32_GRAPH, folder / graph_name(variant)
    options = {"op_types_to_quantize": ["MatMul"], "per_channel": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if variant == "int8-dynamic":
            quantize_dynamic(source, target, weight_type=QuantType.QInt8, **options)
        elif variant == "int8-ffn-fp32":
            quantize_dynamic(source, target, weight_type=QuantType.QInt8, nodes_to_exclude=_ffn_output_nodes(source),
                             **options)
        elif variant == "int8-static":
            if not calibration:
                raise QuantizationError("int8-static: needs unlabeled English text to calibrate on (the run's "
                                        "source train split, or --calibration FILE)")
            quantize_static(source, target, _Calibration(calibration, tokenizer, config), quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax,
                            extra_options={"ActivationSymmetric": True}, **options)
        else:
            raise QuantizationError(f"quantize: ONNX variants are {', '.join(ONNX_VARIANTS)}, got {variant!r}")
    for leftover in folder.glob("*.onnx.data"):  # external-data scratch files some versions leave
        leftover.unlink()
    return target.name


def write_onnx_metadata(folder: Path, source: Path, variants: list[str], calibration: str | None) -> None:
    graphs = {"fp32": FP32_GRAPH, **{variant: graph_name(variant) for variant in variants}}
    (folder / ONNX_METADATA).write_text(json.dumps({
        "format": 1, "opset": OPSET, "exported_from": str(source), "graphs": graphs,
        "sha256": {name: file_sha256(folder / name) for name in graphs.values()},
        "variants": {variant: ONNX_VARIANTS[variant] for variant in variants},
        "calibration": calibration}, indent=2) + "\n", encoding="utf-8")


def copy_recipe(source_run: Path, folder: Path) -> list[str]:
    """The run's config.yaml and paths.json, so ``xlingual evaluate OUT`` finds the run's data (from a run
    folder only: a checkpoint folder elsewhere has no recipe of its own)."""
    if not is_run_folder(source_run):
        return []
    copied = []
    for name in ("config.yaml", "paths.json"):
        if (source_run / name).is_file():
            shutil.copyfile(source_run / name, folder / name)
            copied.append(name)
    return copied


class OnnxModel:
    """An ONNX Runtime session behind the torch model's interface (``model(**inputs).logits``, ``embed``,
    ``config``), so :class:`~xlingual.inference.Classifier` and the evaluation loop run it unchanged."""

    training = False

    def __init__(self, folder: Path, config, quantize: str | None = None, verify: bool = True) -> None:
        ort = require_onnxruntime()
        try:
            metadata = json.loads((folder / ONNX_METADATA).read_text(encoding="utf-8"))
            graphs = dict(metadata["graphs"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{folder / ONNX_METADATA}: unreadable ({type(exc).__name__}: {exc}); the export "
                                  "is damaged: export it again") from None
        wanted = "fp32" if quantize is None else resolve_variant(quantize)
        name = graphs.get(wanted)
        if name is None:
            raise QuantizationError(f"{folder}: this ONNX export has no {wanted} graph (it has "
                                    f"{', '.join(graphs)}); export it with --quantize {wanted}")
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{folder}: missing {name}, listed in {ONNX_METADATA}")
        if verify and metadata.get("sha256", {}).get(name) not in (None, file_sha256(path)):
            raise CheckpointError(f"{path}: sha256 differs from the one recorded when it was exported; pass "
                                  "--no-verify (verify=False in Python) to load it anyway")
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()  # the thread count torch would use here
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own error types (InvalidProtobuf, Fail, ...)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{path}: onnxruntime cannot load it ({first}); the export is damaged: export it "
                                  "again") from None
        self.path = path
        self.config = config
        self.variant = wanted
        self.device = torch.device("cpu")

    def eval(self) -> OnnxModel:
        return self

    def train(self, mode: bool = True) -> OnnxModel:
        return self

    def to(self, device) -> OnnxModel:
        if torch.device(device).type != "cpu":
            raise CheckpointError(f"an ONNX export runs on the CPU here (onnxruntime's CPU provider), not {device}")
        return self

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **_) -> SimpleNamespace:
        logits, embeddings = self.session.run(["logits", "embeddings"], {
            "input_ids": input_ids.cpu().numpy(), "attention_mask": attention_mask.cpu().numpy()})
        return SimpleNamespace(logits=torch.from_numpy(logits), embeddings=torch.from_numpy(embeddings))

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self(input_ids, attention_mask).embeddings
