"""Checkpoint format: saving and loading a trained classifier.

A checkpoint is a folder::

    config.json              XlingualConfig: encoder config, base model, pooling, labels, max length
    -- full fine-tuning (and merged exports) --
    model.safetensors        every weight (encoder and head)
    tokenizer files          as written by the tokenizer's save_pretrained
    -- or, for LoRA --
    adapter_config.json      peft's adapter config; base_model_name_or_path names the encoder, whose
                             weights and tokenizer the checkpoint uses without copying them
    adapter_model.safetensors  the LoRA weights only (a few MB, no copy of the encoder)
    head.safetensors         pooling/classifier weights outside the encoder
    -- or, for an int8 export (``xlingual export --quantize int8``) --
    model_int8.safetensors   the encoder's Linear layers as int8 + scale + zero point, every other weight
                             in fp32; config.json says ``quantization``; loads with xlingual only

Weights are safetensors only: nothing is unpickled on load. A full checkpoint (or a
merged LoRA export) also loads with ``AutoModelForSequenceClassification`` after
``import xlingual.modeling`` (which registers the classes with the Auto classes).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .errors import CheckpointError
from .modeling.build import load_encoder, load_tokenizer
from .modeling.classifier import XlingualConfig, XlingualForSequenceClassification
from .modeling.lora import quiet_peft
from .quantization import (
    INT8_WEIGHTS,
    check_quantize,
    int8_state_dict,
    is_quantized,
    load_int8_state_dict,
    merge_lora,
    quantize_int8,
)

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
HEAD_WEIGHTS = "head.safetensors"
FULL_WEIGHTS = "model.safetensors"


def is_lora(model: XlingualForSequenceClassification) -> bool:
    return hasattr(model.encoder, "peft_config")


def save_checkpoint(model: XlingualForSequenceClassification, tokenizer, folder: str | Path) -> Path:
    """Write ``model`` and ``tokenizer`` to ``folder`` atomically (a temp folder, then rename)."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.config.save_pretrained(tmp)
    if is_lora(model):
        # The tokenizer belongs to the base model the adapter refers to: not copied (17 MB for XLM-R's
        # vocabulary, three times the adapter), loaded from the base model like the encoder weights.
        model.encoder.save_pretrained(tmp)
        for name in ("README.md",):  # peft writes a model card stub; the run folder has its own
            (tmp / name).unlink(missing_ok=True)
        head = {k: v.detach().contiguous().cpu() for k, v in model.head_state_dict().items()}
        save_file(head, str(tmp / HEAD_WEIGHTS), metadata={"format": "pt"})
    elif is_quantized(model):  # int8 weights as plain tensors (quantization.py), never pickled
        tokenizer.save_pretrained(tmp)
        save_file(int8_state_dict(model), str(tmp / INT8_WEIGHTS), metadata={"format": "pt"})
    else:
        tokenizer.save_pretrained(tmp)
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / FULL_WEIGHTS), metadata={"format": "pt"})
    if folder.exists():
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old)
    else:
        tmp.rename(folder)
    return folder


def resolve_checkpoint(path: str | Path) -> Path:
    """Accept a run folder (``<run>/checkpoint``) or a checkpoint folder itself."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if (path / "checkpoint" / "config.json").is_file():
        return path / "checkpoint"
    if not (path / "config.json").is_file():
        raise CheckpointError(f"{path}: no config.json; not an xlingual checkpoint or run folder")
    return path


def load_checkpoint_config(path: str | Path) -> tuple[Path, XlingualConfig]:
    """The checkpoint folder and its config (classes, base model, pooling) without loading any weights."""
    folder = resolve_checkpoint(path)
    try:
        config = XlingualConfig.from_pretrained(folder)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise CheckpointError(f"{folder}/config.json: not an xlingual classifier config ({exc})") from None
    if getattr(config, "model_type", None) != "xlingual" or config.encoder is None:
        raise CheckpointError(f"{folder}/config.json: not an xlingual classifier config")
    return folder, config


def _load_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable weights file ({exc}); the checkpoint is damaged") from None


def load_checkpoint(path: str | Path, base_model: str | None = None, device: str | torch.device = "cpu",
                    quantize: str | None = None):
    """Load ``(model, tokenizer)`` from a checkpoint or run folder.

    ``base_model`` overrides where a LoRA checkpoint finds its encoder (if it moved).
    ``quantize="int8"``: dynamic int8 on the CPU (:mod:`xlingual.quantization`; LoRA is merged first).
    An int8 export loads as int8 whatever ``quantize`` says.
    """
    folder, config = load_checkpoint_config(path)
    int8_export = (folder / INT8_WEIGHTS).is_file() and getattr(config, "quantization", None)
    check_quantize("int8" if int8_export else quantize, device)  # refuse before reading any weights
    if int8_export:
        model = XlingualForSequenceClassification(config)
        load_int8_state_dict(model, _load_weights(folder / INT8_WEIGHTS), str(folder / INT8_WEIGHTS))
        return model.eval(), load_tokenizer(str(folder))
    if (folder / ADAPTER_CONFIG).is_file():
        for name in (ADAPTER_WEIGHTS, HEAD_WEIGHTS):
            if not (folder / name).is_file():
                raise CheckpointError(f"{folder}: LoRA checkpoint is missing {name}")
        from peft import PeftModel

        base_name = base_model or config.base_model
        try:
            encoder = load_encoder(base_name)
        except CheckpointError as exc:
            hint = "check --base-model" if base_model else "pass --base-model (base_model= in Python) if it moved"
            raise CheckpointError(f"{folder}: the LoRA checkpoint's base encoder: {exc}; {hint}") from None
        try:
            with quiet_peft():
                encoder = PeftModel.from_pretrained(encoder, str(folder))
        except (SafetensorError, OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{folder}: could not load the LoRA adapter ({type(exc).__name__}: {exc}); "
                                  f"{ADAPTER_CONFIG} or {ADAPTER_WEIGHTS} is damaged") from None
        model = XlingualForSequenceClassification(config, encoder=encoder)
        head = _load_weights(folder / HEAD_WEIGHTS)
        expected = set(model.head_state_dict())
        if set(head) != expected:
            raise CheckpointError(
                f"{folder / HEAD_WEIGHTS}: head weights {sorted(head)} do not match the model's {sorted(expected)}"
            )
        model.load_state_dict(head, strict=False)
        # checkpoints written before the tokenizer was left with the base model still carry a copy
        tokenizer_source = str(folder) if (folder / "tokenizer_config.json").is_file() else base_name
    else:
        if not (folder / FULL_WEIGHTS).is_file():
            raise CheckpointError(f"{folder}: missing {FULL_WEIGHTS} (and no LoRA adapter files)")
        model = XlingualForSequenceClassification(config)
        state = _load_weights(folder / FULL_WEIGHTS)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"{folder / FULL_WEIGHTS}: weights do not match the config (missing {missing[:3]}, "
                f"unexpected {unexpected[:3]})"
            )
        tokenizer_source = str(folder)
    tokenizer = load_tokenizer(tokenizer_source)
    if quantize:
        quantize_int8(model)
    model.to(device).eval()
    return model, tokenizer


def merge_and_export(path: str | Path, out: str | Path, base_model: str | None = None,
                     quantize: str | None = None) -> Path:
    """Write a standalone folder: LoRA merged into the encoder (or a full checkpoint copied).

    ``quantize="int8"`` writes the encoder's Linear layers as dynamic int8 (``model_int8.safetensors``).
    """
    target = Path(out)
    if target.exists() and not target.is_dir():
        raise CheckpointError(f"export folder {target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not (target / "xlingual_export.json").is_file():
        # save_checkpoint replaces the folder: never let that delete something that is not an earlier export
        raise CheckpointError(f"export folder {target} already exists and is not an xlingual export; "
                              "choose a new folder")
    check_quantize(quantize)
    model, tokenizer = load_checkpoint(path, base_model=base_model)
    was_lora = merge_lora(model)
    if quantize:
        quantize_int8(model)
    out = Path(out)
    save_checkpoint(model, tokenizer, out)
    meta = {"exported_from": str(resolve_checkpoint(path)), "merged_lora": was_lora, "quantize": quantize}
    (out / "xlingual_export.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out
