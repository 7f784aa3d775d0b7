"""Int8 CPU inference in torch: dynamic quantization of the encoder's Linear layers.

Why dynamic int8 (``torch.ao.quantization.quantize_dynamic``): the encoder's Linear layers hold
almost all of a transformer's compute; storing their weights as int8 and quantizing the
activations batch by batch needs no calibration data and runs on the int8 matrix kernels of
the CPU's quantized backend (fbgemm/x86 on x86, qnnpack on ARM). Weights get one scale per output
channel. The classification head stays fp32 (it costs nothing and keeps the scores close). LoRA
adapters are merged into the encoder first, so a LoRA run quantizes exactly like a full one.

Variants: ``int8-dynamic`` quantizes every Linear; ``int8-ffn-fp32`` keeps each layer's FFN output
projection in fp32 (:data:`FFN_OUTPUT`). On the default recipe's model the second kept 93.4% of fp32's
labels (96.9% in ONNX Runtime) against 84.9%, at 1.60× instead of 2.21× fp32's throughput (README
"Performance"); ``int8`` names the one the pre-written English-dev rule chose, :data:`DEFAULT_INT8`.
ONNX Runtime graphs of the same variants, and a static one, are in :mod:`xlingual.onnx_runtime`.

An int8 export stores the int8 weights with their scale and zero point in
``model_int8.safetensors`` (no pickles) and says so in config.json (``quantization``, with the
variant); loading it rebuilds the same quantized modules without quantizing anything again.

torch marks its eager-mode quantization API deprecated in favour of torchao; it still ships and
works in torch 2.x, and its deprecation warnings are silenced here.
"""

from __future__ import annotations

import re
import warnings
from contextlib import contextmanager

import torch
from torch.ao.nn.quantized.dynamic import Linear
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

from .errors import CheckpointError

FFN_OUTPUT = r"layer\.\d+\.(output\.dense|ffn\.lin2)"
"""The FFN output projection of each layer (BERT/XLM-R/e5 ``output.dense``, DistilBERT ``ffn.lin2``): its input,
the activation after GELU, has the outlier channels that per-tensor int8 activations clip (Bondarenko et al.,
EMNLP 2021, "Understanding and Overcoming the Challenges of Efficient Transformer Quantization"), so
``int8-ffn-fp32`` keeps these layers in fp32 and quantizes the rest."""
TORCH_VARIANTS = {
    "int8-dynamic": "the encoder's Linear layers as dynamic int8 (per-channel weights)",
    "int8-ffn-fp32": "dynamic int8, the FFN output projections kept in fp32",
}
DEFAULT_INT8 = "int8-ffn-fp32"
"""What ``quantize="int8"`` means (torch and ONNX alike), chosen by the rule written in
benchmarks/int8_inference.py before measuring, on English dev only: the fastest variant keeping >= 95% of
fp32's labels and <= 0.5 points of macro-F1, else the most faithful one (README "Performance")."""
QUANTIZE_CHOICES = ("int8", *TORCH_VARIANTS, "int8-static")
INT8_WEIGHTS = "model_int8.safetensors"
INT8_CONFIG = {"method": "dynamic", "dtype": "qint8", "weights": "per_channel", "modules": ["Linear"],
               "scope": "encoder"}


class QuantizationError(CheckpointError):
    """Int8 inference was asked for where it cannot run (no int8 kernels, not a CPU, unknown mode)."""


@contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(deprecat|torchao).*")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _dynamic_linear():

    return Linear


def supported_engines() -> list[str]:
    """torch's quantized backends in this build (``none`` alone: no int8 kernels)."""
    return list(torch.backends.quantized.supported_engines)


def int8_engine() -> str:
    """The quantized backend int8 inference will use; raises :class:`QuantizationError` where there is none."""
    engines = supported_engines()
    usable = [engine for engine in engines if engine != "none"]
    if not usable:
        raise QuantizationError(
            f"--quantize int8: this torch build ({torch.__version__}) has no int8 CPU kernels "
            f"(torch.backends.quantized.supported_engines = {engines}); load the model without quantize, "
            "or use a torch wheel built with fbgemm/x86 (x86 CPUs) or qnnpack (ARM)")
    current = torch.backends.quantized.engine
    return current if current in usable else next((e for e in ("x86", "fbgemm", "qnnpack") if e in usable),
                                                  usable[0])


def resolve_variant(quantize: str) -> str:
    """The variant ``quantize`` names: ``int8`` is :data:`DEFAULT_INT8`, any other name itself."""
    return DEFAULT_INT8 if quantize == "int8" else quantize


def torch_variant(quantize: str) -> str:
    """The torch int8 variant ``quantize`` names (``int8``: the default one)."""
    variant = resolve_variant(quantize)
    if variant not in TORCH_VARIANTS:
        raise QuantizationError(f"quantize={quantize!r} runs in ONNX Runtime only: export with 'xlingual export RUN "
                                f"OUT --format onnx --quantize {quantize}' and load that folder; torch offers "
                                f"{', '.join(['int8', *TORCH_VARIANTS])}")
    return variant


def check_quantize(quantize: str | None, device: str | torch.device = "cpu") -> str | None:
    """Validate a ``quantize=`` argument before any weights are read; returns the backend to use."""
    if quantize is None:
        return None
    if quantize not in QUANTIZE_CHOICES:
        raise QuantizationError(f"quantize: expected one of {', '.join(QUANTIZE_CHOICES)}, got {quantize!r}")
    if torch.device(device).type != "cpu":
        raise QuantizationError(f"quantize={quantize!r} runs on the CPU only (dynamic int8 kernels); "
                                f"load with device='cpu', or without quantize on {device}")
    return int8_engine()


def merge_lora(model) -> bool:
    """Fold LoRA adapters into the encoder weights (in place); returns whether there were any."""
    if not hasattr(model.encoder, "peft_config"):
        return False
    model.encoder = model.encoder.merge_and_unload()
    model.config.encoder = model.encoder.config
    model.config.base_model_fingerprint = None  # merged: the weights no longer depend on the base
    return True


def quantize_int8(model, quantize: str = "int8"):
    """Quantize the encoder's Linear layers to dynamic int8 in place (LoRA merged first; ``int8-ffn-fp32``
    keeps the FFN output projections in fp32); returns the model."""
    variant = torch_variant(quantize)
    engine = check_quantize(variant)
    torch.backends.quantized.engine = engine
    merge_lora(model)
    model.to("cpu").eval()
    with _quiet():

        spec: dict = {torch.nn.Linear: per_channel_dynamic_qconfig}
        kept = []
        if variant == "int8-ffn-fp32":
            pattern = re.compile(FFN_OUTPUT + "$")
            linears = [name for name, module in model.encoder.named_modules() if isinstance(module, torch.nn.Linear)]
            kept = [name for name in linears if pattern.search(name)]
            spec = {name: per_channel_dynamic_qconfig for name in linears if name not in kept}
        quantize_dynamic(model.encoder, spec, dtype=torch.qint8, inplace=True)
    model.config.quantization = {**INT8_CONFIG, "variant": variant, "kept_fp32": FFN_OUTPUT if kept else None}
    return model


def is_quantized(model) -> bool:
    linear = _dynamic_linear()
    return any(isinstance(module, linear) for module in model.modules())


def int8_state_dict(model) -> dict[str, torch.Tensor]:
    """Plain tensors for safetensors: each quantized Linear as int8 weight + scales + zero points + bias."""
    linear = _dynamic_linear()
    state: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if isinstance(module, linear):
            weight, bias = module._weight_bias()
            if weight.qscheme() not in (torch.per_channel_affine, torch.per_channel_symmetric):
                raise QuantizationError(f"{name}: only per-channel int8 weights are saved, got {weight.qscheme()}")
            if weight.q_per_channel_axis() != 0:
                raise QuantizationError(f"{name}: int8 weights quantized along axis {weight.q_per_channel_axis()}")
            state[f"{name}.weight_int8"] = weight.int_repr().contiguous()
            state[f"{name}.weight_scale"] = weight.q_per_channel_scales().to(torch.float64).contiguous()
            state[f"{name}.weight_zero_point"] = weight.q_per_channel_zero_points().to(torch.int64).contiguous()
            if bias is not None:
                state[f"{name}.bias"] = bias.detach().contiguous()
    owned = _quantized_names(model)
    for key, value in model.state_dict().items():
        if not _owned(key, owned) and isinstance(value, torch.Tensor):
            state[key] = value.detach().contiguous()
    return state


def _quantized_names(model) -> set[str]:
    linear = _dynamic_linear()
    return {name for name, module in model.named_modules() if isinstance(module, linear)}


def _owned(key: str, names: set[str]) -> bool:
    """Whether a state-dict key belongs to a quantized Linear (saved as int8 tensors instead)."""
    return key.rsplit(".", 1)[0] in names or key.split("._packed_params")[0] in names


def load_int8_state_dict(model, state: dict[str, torch.Tensor], source: str) -> None:
    """Load an int8 export into an fp32 ``model`` of its config: plain weights first, then the
    encoder is quantized and its Linear layers take the saved int8 weights (nothing is re-quantized)."""
    suffix = ".weight_int8"
    names = {key[: -len(suffix)] for key in state if key.endswith(suffix)}
    parts = (suffix, ".weight_scale", ".weight_zero_point", ".bias")
    plain = {k: v for k, v in state.items() if not any(k == name + part for name in names for part in parts)}
    missing, unexpected = model.load_state_dict(plain, strict=False)
    missing = [k for k in missing if k.rsplit(".", 1)[0] not in names]
    if missing or unexpected:
        raise CheckpointError(f"{source}: weights do not match the config (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]})")
    recorded = getattr(model.config, "quantization", None) or {}
    quantize_int8(model, recorded.get("variant", "int8-dynamic"))  # exports from before variants: all Linear
    linear = _dynamic_linear()
    quantized = {name: module for name, module in model.named_modules() if isinstance(module, linear)}
    if set(quantized) != names:
        raise CheckpointError(f"{source}: int8 weights for {sorted(names ^ set(quantized))[:3]} do not match the "
                              "model's quantized layers; the export is damaged")
    for name, module in quantized.items():
        try:
            ints = state[f"{name}.weight_int8"]
            scales, zero_points = state[f"{name}.weight_scale"], state[f"{name}.weight_zero_point"]
        except KeyError:
            raise CheckpointError(f"{source}: incomplete int8 weights for {name}; the export is damaged") from None
        if ints.dtype != torch.int8 or scales.numel() != ints.shape[0] or zero_points.numel() != ints.shape[0]:
            raise CheckpointError(f"{source}: int8 weights of {name} have the wrong type or shape; the export is "
                                  "damaged")
        with _quiet():
            weight = torch._make_per_channel_quantized_tensor(ints, scales, zero_points, 0)
            module.set_weight_bias(weight, state.get(f"{name}.bias"))
