"""Building a classifier for a recipe: load the encoder and tokenizer, add the head, freeze or add LoRA."""

from __future__ import annotations

import pickle
from pathlib import Path

from safetensors import SafetensorError
from torch import nn
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from ..config import RecipeConfig
from ..errors import CheckpointError, ConfigError
from ..fingerprint import weights_fingerprint
from ..io import looks_local
from ..labels import LabelScheme
from .classifier import XlingualConfig, XlingualForSequenceClassification
from .freezing import apply_freezing
from .lora import add_lora


def _check_source(name: str) -> None:
    path = Path(name).expanduser()
    if looks_local(name):
        if not path.is_dir():
            raise CheckpointError(f"model folder not found: {name}")
        if not (path / "config.json").is_file():
            raise CheckpointError(f"{name}: no config.json; this is not a Hugging Face model folder")


def _hub_error(what: str, name: str, exc: Exception) -> CheckpointError:
    first_line = str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
    if looks_local(name):
        return CheckpointError(f"could not load the {what} in {name}: {first_line}")
    return CheckpointError(
        f"could not load {what} '{name}': {first_line}. Without hub access, set model.name to a local folder "
        "(e.g. one built by shared/models/build-e5-small)"
    )


def load_encoder(name: str, revision: str | None = None, trust_remote_code: bool = False) -> nn.Module:
    """Pretrained encoder by hub id or local folder, without its (unused) pooler where possible."""
    _check_source(name)
    kwargs = {"revision": revision, "trust_remote_code": trust_remote_code}
    try:
        try:
            return AutoModel.from_pretrained(name, add_pooling_layer=False, **kwargs)
        except TypeError:
            return AutoModel.from_pretrained(name, **kwargs)
    except (OSError, ValueError, SafetensorError) as exc:  # SafetensorError: a truncated or corrupt weights file
        raise _hub_error("model", name, exc) from None
    except pickle.UnpicklingError:  # torch.load(weights_only=True) refused a pickle holding more than tensors
        files = sorted(p.name for p in Path(name).expanduser().glob("*.bin")) if looks_local(name) else []
        where = f"{name}/{files[0]}" if len(files) == 1 else f"the weights of {name}"
        raise CheckpointError(f"{where}: refused to unpickle it (it holds Python objects besides tensors, which "
                              "could run code); use a copy of the model saved as safetensors") from None


def load_tokenizer(name: str, revision: str | None = None, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """Tokenizer by hub id or local folder."""
    _check_source(name)
    try:
        return AutoTokenizer.from_pretrained(name, revision=revision, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise _hub_error("tokenizer", name, exc) from None


def position_limit(encoder_config) -> int | None:
    """Longest input the encoder's position embeddings allow (RoBERTa-style models reserve 2)."""
    limit = getattr(encoder_config, "max_position_embeddings", None)
    if limit is None:
        return None
    pad = getattr(encoder_config, "pad_token_id", None)
    if getattr(encoder_config, "model_type", "") in ("xlm-roberta", "roberta", "camembert") and pad is not None:
        limit -= pad + 1
    return limit


def enable_gradient_checkpointing(encoder: nn.Module, name: str) -> None:
    """Recompute each layer in the backward pass (non-reentrant ``torch.utils.checkpoint``).

    transformers also makes the embedding output require grad, so gradients reach LoRA
    adapters and unfrozen layers above frozen embeddings.
    """
    base = encoder.get_base_model() if hasattr(encoder, "get_base_model") else encoder
    if not getattr(base, "supports_gradient_checkpointing", False):
        raise ConfigError(f"training.gradient_checkpointing: {name} ({type(base).__name__}) does not support it")
    kwargs = {"use_reentrant": False}
    if hasattr(base, "activation_checkpointing_enable"):  # transformers ≥ 5.x; the old name warns there
        base.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def build_model(recipe: RecipeConfig, scheme: LabelScheme) -> tuple[XlingualForSequenceClassification,
                                                                    PreTrainedTokenizerBase]:
    """A fresh classifier (pretrained encoder, new head) prepared as the recipe says."""
    model_config = recipe.model
    tokenizer = load_tokenizer(model_config.name, model_config.revision, model_config.trust_remote_code)
    encoder = load_encoder(model_config.name, model_config.revision, model_config.trust_remote_code)
    limit = position_limit(encoder.config)
    if limit is not None and model_config.max_length > limit:
        raise ConfigError(f"model.max_length: {model_config.max_length} is over {model_config.name}'s limit of {limit}")
    config = XlingualConfig(
        encoder=encoder.config,
        # a local folder is recorded absolute, so a LoRA checkpoint finds its encoder from any directory
        base_model=str(Path(model_config.name).resolve()) if Path(model_config.name).is_dir() else model_config.name,
        pooling=model_config.pooling,
        head_dropout=model_config.head_dropout,
        max_seq_length=model_config.max_length,
        text_prefix=model_config.text_prefix,
        truncation=recipe.data.truncation,
        num_labels=scheme.num_labels,
        id2label=dict(enumerate(scheme.names)),
        label2id={name: i for i, name in enumerate(scheme.names)},
    )
    config.label_scheme = scheme.name
    if recipe.lora is not None:
        # the adapter is only right on these base weights: loading checks that a base has the same fingerprint
        config.base_model_fingerprint = weights_fingerprint(encoder)
        encoder = add_lora(encoder, recipe.lora)
    else:
        apply_freezing(encoder, recipe.freeze)
    if recipe.training.gradient_checkpointing:
        enable_gradient_checkpointing(encoder, model_config.name)
    return XlingualForSequenceClassification(config, encoder=encoder), tokenizer
