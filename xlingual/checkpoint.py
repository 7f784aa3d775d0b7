"""Checkpoint format: saving and loading a trained classifier.

One module (about 460 lines) on purpose: the writer, the reader, the fingerprint checks and export must agree on
every file below, and keeping them side by side is what keeps them agreeing.

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
    -- always --
    xlingual_checkpoint.json  the sha256 of each weight file, checked on load (``verify=False`` /
                             ``--no-verify`` skips it); a LoRA checkpoint's config.json also holds the
                             fingerprint of the base encoder's weights, so another base is refused

Weights are safetensors only: nothing is unpickled on load. A full checkpoint (or a
merged LoRA export) also loads with ``AutoModelForSequenceClassification`` after
``import xlingual.modeling`` (which registers the classes with the Auto classes).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import RecipeConfig
from .data.loading import load_examples
from .errors import CheckpointError
from .fingerprint import file_sha256, weights_fingerprint
from .io import atomic_write_json, keep_foreign_files, new_temp_dir, no_space_error, read_json, replace_dir
from .locking import check_unlocked, folder_lock
from .modeling.build import load_encoder, load_tokenizer
from .modeling.classifier import XlingualConfig, XlingualForSequenceClassification
from .modeling.lora import quiet_peft
from .onnx_runtime import (
    CALIBRATION_TEXTS,
    ONNX_VARIANTS,
    OnnxModel,
    copy_recipe,
    is_onnx_export,
    quantize_onnx,
    require_onnxruntime,
    write_onnx,
    write_onnx_metadata,
)
from .quantization import (
    DEFAULT_INT8,
    INT8_WEIGHTS,
    QuantizationError,
    check_quantize,
    int8_state_dict,
    is_quantized,
    load_int8_state_dict,
    merge_lora,
    quantize_int8,
    resolve_variant,
    torch_variant,
)
from .run_folder import (
    CHECKPOINT,
    CHECKPOINT_METADATA,
    checkpoint_files,
    is_run_folder,
    refuse_protected,
    run_recipe_data,
)

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
HEAD_WEIGHTS = "head.safetensors"
FULL_WEIGHTS = "model.safetensors"
METADATA = CHECKPOINT_METADATA
EXPORT_MARKER = "xlingual_export.json"
NO_VERIFY_HINT = "pass --no-verify (verify=False in Python) to load it anyway"


def is_lora(model: XlingualForSequenceClassification) -> bool:
    return hasattr(model.encoder, "peft_config")


def write_checkpoint(model: XlingualForSequenceClassification, tokenizer, folder: Path) -> list[str]:
    """Write ``model`` and ``tokenizer`` into the empty ``folder`` with the weights' sha256; returns the files."""
    model.config.save_pretrained(folder)
    if is_lora(model):
        # The tokenizer belongs to the base model the adapter refers to: not copied (17 MB for XLM-R's
        # vocabulary, three times the adapter), loaded from the base model like the encoder weights.
        model.encoder.save_pretrained(folder)
        for name in ("README.md",):  # peft writes a model card stub; the run folder has its own
            (folder / name).unlink(missing_ok=True)
        head = {k: v.detach().contiguous().cpu() for k, v in model.head_state_dict().items()}
        save_file(head, str(folder / HEAD_WEIGHTS), metadata={"format": "pt"})
        weights = [ADAPTER_WEIGHTS, HEAD_WEIGHTS]
    elif is_quantized(model):  # int8 weights as plain tensors (quantization.py), never pickled
        tokenizer.save_pretrained(folder)
        save_file(int8_state_dict(model), str(folder / INT8_WEIGHTS), metadata={"format": "pt"})
        weights = [INT8_WEIGHTS]
    else:
        tokenizer.save_pretrained(folder)
        state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
        save_file(state, str(folder / FULL_WEIGHTS), metadata={"format": "pt"})
        weights = [FULL_WEIGHTS]
    files = sorted([*(p.name for p in folder.iterdir()), METADATA])
    # the files are listed so that --overwrite of a run deletes these and keeps any a user added beside them
    atomic_write_json(folder / METADATA, {"format": 1, "sha256": {name: file_sha256(folder / name)
                                                                  for name in weights}, "files": files})
    return files


def _is_xlingual_checkpoint(folder: Path) -> bool:
    try:
        return read_json(folder / "config.json").get("model_type") == "xlingual"
    except (OSError, ValueError, AttributeError):
        return False


def save_checkpoint(model: XlingualForSequenceClassification, tokenizer, folder: str | Path) -> Path:
    """Write ``model`` and ``tokenizer`` to ``folder`` atomically (a unique temp folder, then rename); files a
    user added to an earlier checkpoint there are carried over into the new one."""
    folder = Path(folder)
    # a run folder's checkpoint/ is the run's, even when it holds only files a user added (after --overwrite)
    ours = _is_xlingual_checkpoint(folder) or (folder.name == CHECKPOINT and is_run_folder(folder.parent))
    if folder.is_dir() and any(folder.iterdir()) and not ours:
        raise CheckpointError(f"{folder} already exists and is not an xlingual checkpoint; it is not replaced")
    tmp = new_temp_dir(folder)
    try:
        with no_space_error(folder):
            written = write_checkpoint(model, tokenizer, tmp)
            if folder.is_dir():
                keep_foreign_files(folder, tmp, checkpoint_files(folder) | set(written))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return replace_dir(tmp, folder)


def resolve_checkpoint(path: str | Path) -> Path:
    """Accept a run folder (``<run>/checkpoint``) or a checkpoint folder itself."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if (path / CHECKPOINT / "config.json").is_file():
        return path / CHECKPOINT
    if not (path / "config.json").is_file():
        raise CheckpointError(f"{path}: no config.json; not an xlingual checkpoint or run folder")
    return path


def load_checkpoint_config(path: str | Path) -> tuple[Path, XlingualConfig]:
    """The checkpoint folder and its config (classes, base model, pooling) without loading any weights."""
    folder = resolve_checkpoint(path)
    try:
        raw = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{folder}/config.json: unreadable ({exc})") from None
    model_type = raw.get("model_type") if isinstance(raw, dict) else None
    if model_type != "xlingual":
        kind = f"a '{model_type}' model" if isinstance(model_type, str) else "not a model config"
        raise CheckpointError(f"{folder}/config.json: {kind}, not an xlingual classifier; pass a run or "
                              "checkpoint folder written by 'xlingual train' (a plain encoder has no trained head)")
    try:
        config = XlingualConfig.from_pretrained(folder)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{folder}/config.json: not an xlingual classifier config ({exc})") from None
    if getattr(config, "model_type", None) != "xlingual" or config.encoder is None:
        raise CheckpointError(f"{folder}/config.json: not an xlingual classifier config")
    return folder, config


def _load_weights(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: unreadable weights file ({exc}); the checkpoint is damaged") from None


def verify_checkpoint(folder: Path, weights: list[str]) -> None:
    """Check each weight file against the sha256 the checkpoint recorded when it was written.

    Checkpoints written before fingerprints existed have no record and are loaded as they are."""
    meta_path = folder / METADATA
    if not meta_path.is_file():
        return
    try:
        recorded = read_json(meta_path)["sha256"]
        assert isinstance(recorded, dict)
    except (ValueError, OSError, KeyError, TypeError, AssertionError):
        raise CheckpointError(f"{meta_path}: damaged (no sha256 record); {NO_VERIFY_HINT}") from None
    for name in weights:
        if name not in recorded:
            raise CheckpointError(f"{folder / name}: not listed in {METADATA}, so it cannot be verified; "
                                  f"{NO_VERIFY_HINT}")
        if file_sha256(folder / name) != recorded[name]:
            raise CheckpointError(f"{folder / name}: sha256 differs from the one recorded when the checkpoint was "
                                  f"written ({METADATA}): the file is damaged or was replaced; {NO_VERIFY_HINT}")


def _check_shapes(model, state: dict[str, torch.Tensor], path: Path) -> None:
    """Compare shapes before ``load_state_dict`` (whose size-mismatch RuntimeError names no file)."""
    expected = model.state_dict()
    for key, tensor in state.items():
        if key in expected and tuple(expected[key].shape) != tuple(tensor.shape):
            if key.startswith("classifier."):
                raise CheckpointError(
                    f"{path}: the head has {tensor.shape[0]} outputs but {path.parent}/config.json lists "
                    f"{model.config.num_labels} classes (id2label); the config and the weights do not belong together")
            raise CheckpointError(f"{path}: {key} has shape {list(tensor.shape)} but config.json describes "
                                  f"{list(expected[key].shape)}; the config and the weights do not belong together")


def _build_model(folder: Path, config: XlingualConfig) -> XlingualForSequenceClassification:
    try:
        return XlingualForSequenceClassification(config)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise CheckpointError(f"{folder}/config.json: cannot build the model it describes ({exc})") from None


def _load_int8_export(folder: Path, config: XlingualConfig, verify: bool):
    """An int8 export: its sha256 checked like any checkpoint, shapes compared, then the int8 weights loaded."""
    path = folder / INT8_WEIGHTS
    if verify:
        verify_checkpoint(folder, [INT8_WEIGHTS])
    model = _build_model(folder, config)
    state = _load_weights(path)
    suffix = ".weight_int8"  # an int8 Linear weight has the shape of the fp32 weight it replaces
    _check_shapes(model, {k[: -len(suffix)] + ".weight" if k.endswith(suffix) else k: v
                          for k, v in state.items()}, path)
    load_int8_state_dict(model, state, str(path))
    return model.eval()


def _check_base(folder: Path, config: XlingualConfig, encoder, base_name: str, verify: bool) -> None:
    """Refuse a base encoder other than the one the adapter was trained on."""
    expected, found = config.encoder, encoder.config
    for attribute in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size"):
        if getattr(expected, attribute, None) != getattr(found, attribute, None):
            raise CheckpointError(
                f"{folder}: the base encoder {base_name} has {attribute} {getattr(found, attribute, None)!r}, the "
                f"LoRA checkpoint was trained on one with {getattr(expected, attribute, None)!r}; pass the original "
                "encoder with --base-model")
    recorded = getattr(config, "base_model_fingerprint", None)
    if verify and recorded and weights_fingerprint(encoder) != recorded:
        raise CheckpointError(
            f"{folder}: the base encoder {base_name} has other weights than the one this LoRA checkpoint was trained "
            f"on (its fingerprint differs); pass the original encoder with --base-model, or {NO_VERIFY_HINT}")


def load_checkpoint(path: str | Path, base_model: str | None = None, device: str | torch.device = "cpu",
                    verify: bool = True, quantize: str | None = None):
    """Load ``(model, tokenizer)`` from a checkpoint or run folder.

    ``base_model`` overrides where a LoRA checkpoint finds its encoder (if it moved). ``verify`` checks the
    weight files' sha256 and the LoRA base encoder's fingerprint against those recorded at save time.
    ``quantize="int8"``: dynamic int8 on the CPU (:mod:`xlingual.quantization`; LoRA is merged first).
    An int8 export loads as int8 whatever ``quantize`` says.
    """
    folder, config = load_checkpoint_config(path)
    if is_onnx_export(folder):  # an ONNX export runs in onnxruntime; quantize picks one of its graphs
        check_quantize(quantize, device)
        return OnnxModel(folder, config, quantize, verify), load_tokenizer(str(folder))
    int8_export = (folder / INT8_WEIGHTS).is_file() and getattr(config, "quantization", None)
    check_quantize("int8" if int8_export else quantize, device)  # refuse before reading any weights
    if quantize and not int8_export:
        torch_variant(quantize)  # int8-static exists in ONNX Runtime only: said before any weights are read
    if int8_export:
        return _load_int8_export(folder, config, verify), load_tokenizer(str(folder))
    if (folder / ADAPTER_CONFIG).is_file():
        for name in (ADAPTER_WEIGHTS, HEAD_WEIGHTS):
            if not (folder / name).is_file():
                raise CheckpointError(f"{folder}: LoRA checkpoint is missing {name}")
        if verify:
            verify_checkpoint(folder, [ADAPTER_WEIGHTS, HEAD_WEIGHTS])
        # peft imports torch and transformers: only for LoRA
        from peft import PeftModel

        base_name = base_model or config.base_model
        try:
            encoder = load_encoder(base_name)
        except CheckpointError as exc:
            hint = "check --base-model" if base_model else "pass --base-model (base_model= in Python) if it moved"
            raise CheckpointError(f"{folder}: the LoRA checkpoint's base encoder: {exc}; {hint}") from None
        _check_base(folder, config, encoder, base_name, verify)
        try:
            with quiet_peft():
                encoder = PeftModel.from_pretrained(encoder, str(folder))
        except RuntimeError as exc:  # e.g. size mismatch: an adapter for another architecture
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{folder}: the LoRA adapter does not fit the base encoder {base_name} "
                                  f"({first}); pass the original encoder with --base-model") from None
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
        _check_shapes(model, head, folder / HEAD_WEIGHTS)
        model.load_state_dict(head, strict=False)
        # checkpoints written before the tokenizer was left with the base model still carry a copy
        tokenizer_source = str(folder) if (folder / "tokenizer_config.json").is_file() else base_name
    else:
        if not (folder / FULL_WEIGHTS).is_file():
            raise CheckpointError(f"{folder}: missing {FULL_WEIGHTS} (and no LoRA adapter files)")
        if verify:
            verify_checkpoint(folder, [FULL_WEIGHTS])
        model = _build_model(folder, config)
        state = _load_weights(folder / FULL_WEIGHTS)
        _check_shapes(model, state, folder / FULL_WEIGHTS)
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise CheckpointError(
                f"{folder / FULL_WEIGHTS}: weights do not match the config (missing {missing[:3]}, "
                f"unexpected {unexpected[:3]})"
            )
        tokenizer_source = str(folder)
    tokenizer = load_tokenizer(tokenizer_source)
    if quantize:
        quantize_int8(model, quantize)
    model.to(device).eval()
    return model, tokenizer


def check_export_target(target: Path, source: Path, overwrite: bool = False) -> None:
    """Refuse any export folder that is not absent, empty, or (with ``overwrite``) an export xlingual wrote."""
    if target.exists() and not target.is_dir():
        raise CheckpointError(f"export folder {target} exists and is not a folder")
    # never into (or around) the working directory or the checkpoint itself: it is renamed into place
    refuse_protected(target, {"the checkpoint being exported": source, "the working directory": Path.cwd()},
                     "export into")
    if not (target.is_dir() and any(target.iterdir())):
        return
    marker = target / EXPORT_MARKER
    if not marker.is_file():
        raise CheckpointError(f"export folder {target} already exists and is not an xlingual export; "
                              "choose a new folder")
    if not overwrite:
        raise CheckpointError(f"export folder {target} already holds an xlingual export; pass --overwrite to "
                              "replace it, or choose a new folder")
    try:
        written = set(read_json(marker)["files"])
    except (ValueError, OSError, KeyError, TypeError):
        raise CheckpointError(f"export folder {target}: {EXPORT_MARKER} does not list the files xlingual wrote "
                              "(an older or damaged export); remove the folder yourself or choose a new one") from None
    foreign = sorted(p.name for p in target.iterdir() if p.name not in written)
    if foreign:
        raise CheckpointError(f"export folder {target} holds files xlingual did not write ({', '.join(foreign[:5])}); "
                              "--overwrite replaces only exports: move them, or choose a new folder")


def merge_and_export(path: str | Path, out: str | Path, base_model: str | None = None, overwrite: bool = False,
                     verify: bool = True, quantize: str | None = None, format: str = "safetensors",
                     calibration: list[str] | None = None) -> Path:
    """Write a standalone folder: LoRA merged into the encoder (or a full checkpoint copied).

    ``quantize="int8"`` writes the encoder's Linear layers as dynamic int8 (``model_int8.safetensors``,
    with its sha256 in ``xlingual_checkpoint.json`` like any other weight file). ``format="onnx"`` writes an
    ONNX graph and its int8 variant (``quantize``: ``int8`` by default, ``none`` for fp32 alone, or a
    comma-separated list of variants) for ONNX Runtime (:mod:`xlingual.onnx_runtime`); ``calibration`` is the
    English text a static int8 variant calibrates on (by default the run's source train split).

    The export is written into a uniquely named hidden folder beside ``out`` and renamed into place, so an
    interrupted export leaves ``out`` as it was; nothing but an earlier export (with ``overwrite``) is replaced.
    """
    target = Path(out)
    if format not in ("safetensors", "onnx"):
        raise CheckpointError(f"--format: expected safetensors or onnx, got {format!r}")
    variants = onnx_variants(quantize) if format == "onnx" else []
    if format == "safetensors":
        check_quantize(quantize)  # refuse before reading or writing anything
        if quantize is not None:
            torch_variant(quantize)
    else:
        require_onnxruntime(export=True)
    source = resolve_checkpoint(path)
    if is_onnx_export(source):
        raise CheckpointError(f"{source} is an ONNX export already; export from the run folder it came from")
    if format == "onnx" and (source / INT8_WEIGHTS).is_file():
        raise CheckpointError(f"{source} holds int8 weights (an int8 export); export ONNX from the fp32 run it came "
                              "from (its int8 graphs come from --quantize)")
    check_export_target(target, source, overwrite)
    check_unlocked(target, lock_dir=target.parent, name=target.name)
    if "int8-static" in variants and calibration is None:
        calibration = run_calibration_texts(source.parent)
    model, tokenizer = load_checkpoint(path, base_model=base_model, verify=verify)
    was_lora = merge_lora(model)
    if quantize and format == "safetensors":
        quantize_int8(model, quantize)
    # the export is renamed into place whole, so its lock lives beside it; the target is checked again under it
    with folder_lock(target, " ".join(sys.argv), lock_dir=target.parent, name=target.name):
        check_export_target(target, source, overwrite)
        tmp = new_temp_dir(target)
        try:
            with no_space_error(target):
                if format == "onnx":
                    files = _write_onnx_export(model, tokenizer, tmp, source, variants, calibration)
                else:
                    files = write_checkpoint(model, tokenizer, tmp)
                written = ",".join(variants) if format == "onnx" else quantize  # the graphs an ONNX export holds
                atomic_write_json(tmp / EXPORT_MARKER, {"exported_from": str(source), "merged_lora": was_lora,
                                                        "format": format, "quantize": written,
                                                        "files": [*files, EXPORT_MARKER]})
            replace_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    leftovers = sorted(p.name for p in target.parent.glob(f".{target.name}.xlingual-*") if p.is_dir())
    if leftovers:
        print(f"warning: {target.parent} holds {', '.join(leftovers)}, left by an interrupted export; delete "
              "them once you no longer need them", file=sys.stderr)
    return target


def onnx_variants(quantize: str | None) -> list[str]:
    """The int8 graphs an ONNX export writes beside the fp32 one (``None``: the default int8 variant)."""
    if quantize is None:
        return [DEFAULT_INT8]
    if quantize == "none":
        return []
    variants = [resolve_variant(v.strip()) for v in quantize.split(",") if v.strip()]
    for variant in variants:
        if variant not in ONNX_VARIANTS:
            raise QuantizationError(f"--quantize: ONNX variants are {', '.join(['int8', 'none', *ONNX_VARIANTS])}, "
                                    f"got {variant!r}")
    return list(dict.fromkeys(variants))


def run_calibration_texts(run: Path) -> list[str]:
    """Unlabeled English text for static int8: a fixed draw from the run's source train split."""
    if not (run / "config.yaml").is_file() or not is_run_folder(run):
        raise QuantizationError(f"int8-static: {run} is not a run folder, so it has no English train text to "
                                "calibrate on; pass calibration texts (--calibration FILE)")
    recipe = RecipeConfig.from_dict(run_recipe_data(run))
    texts = load_examples(recipe.data, recipe.data.source_language, "train", labelled=False)
    return texts.subsample(CALIBRATION_TEXTS).texts


def _write_onnx_export(model, tokenizer, folder: Path, source: Path, variants: list[str],
                       calibration: list[str] | None) -> list[str]:
    model.config.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_onnx(model, tokenizer, folder)
    for variant in variants:
        quantize_onnx(folder, variant, calibration, tokenizer, model.config)
    copy_recipe(source.parent, folder)
    used = f"{len(calibration)} texts" if calibration is not None and "int8-static" in variants else None
    write_onnx_metadata(folder, source, variants, used)
    return sorted(p.name for p in folder.iterdir())
