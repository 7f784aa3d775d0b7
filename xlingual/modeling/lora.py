"""LoRA adapters on the encoder through peft; the head stays a plain trainable module.

Adapters go on the encoder only, never on the wrapper, so the classification head is
saved and restored by xlingual itself (``head.safetensors``) instead of relying on
peft's ``modules_to_save`` — the usual way heads get lost or re-initialised on reload.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from ..config import LoraConfig
from ..errors import ConfigError, did_you_mean


def module_leaf_names(model: nn.Module) -> list[str]:
    """Distinct last components of the names of the model's Linear-like modules."""
    return sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                   if name and isinstance(module, (nn.Linear, nn.Conv1d, nn.Embedding))})


def add_lora(encoder: nn.Module, config: LoraConfig) -> nn.Module:
    """Wrap ``encoder`` in a ``PeftModel`` whose only trainable parameters are the adapters."""
    # peft imports torch and transformers: only for LoRA
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    if config.target_modules is not None:
        leaves = module_leaf_names(encoder)
        for target in config.target_modules:
            try:
                matches = target in leaves or any(re.fullmatch(target, name) for name, _ in encoder.named_modules())
            except re.error as exc:
                raise ConfigError(f"lora.target_modules: '{target}' is neither a module name nor a valid regular "
                                  f"expression ({exc})") from None
            if not matches:
                raise ConfigError(
                    f"lora.target_modules: '{target}' is not a module of {type(encoder).__name__}"
                    f"{did_you_mean(target, leaves)}; modules that can take adapters: {', '.join(leaves)}"
                )
    peft_config = PeftLoraConfig(
        r=config.r,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=config.target_modules,
        bias=config.bias,
    )
    try:
        with quiet_peft():
            return get_peft_model(encoder, peft_config)
    except ValueError as exc:
        raise ConfigError(f"lora: peft could not add adapters: {exc}") from None


@contextmanager
def quiet_peft() -> Iterator[None]:
    """Silence the FutureWarning peft triggers by probing ``is_gradient_checkpointing`` (transformers 5):
    it is not the user's to act on and repeats on every LoRA load."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield
