"""Weight-space operations on classifiers: interpolation toward the pretrained encoder.

WiSE-FT (Wortsman et al., CVPR 2022, "Robust fine-tuning of zero-shot models") moves the
fine-tuned encoder back toward the pretrained one along the straight line

    θ(α) = (1 − α)·θ_pretrained + α·θ_fine-tuned,

α = 0 the pretrained encoder, α = 1 the fine-tuned one. Only the encoder is interpolated; the
head either stays (it was fitted to α = 1 features) or is refitted per α by a linear probe.
LoRA checkpoints are merged first, so θ_fine-tuned = W₀ + BA and θ(α) = W₀ + α·BA.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import CheckpointError
from .build import load_encoder

ENCODER_PREFIX = "encoder."


def merge_lora(model) -> None:
    """Fold LoRA adapters into the encoder's weights in place (a no-op for full fine-tuning)."""
    if hasattr(model.encoder, "peft_config"):
        model.encoder = model.encoder.merge_and_unload()
        model.config.encoder = model.encoder.config


def encoder_state(model) -> dict[str, torch.Tensor]:
    """The encoder's weights, keyed as in the classifier's state dict (``encoder.…``), cloned."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if k.startswith(ENCODER_PREFIX)}


def pretrained_encoder_state(model, base_model: str | None = None) -> dict[str, torch.Tensor]:
    """The pretrained encoder's weights under the classifier's keys, from ``base_model`` or the config's base."""
    name = base_model or model.config.base_model
    if not name:
        raise CheckpointError("the checkpoint records no base model; pass --base-model")
    pretrained = {ENCODER_PREFIX + k: v for k, v in load_encoder(name).state_dict().items()}
    fine_tuned = encoder_state(model)
    missing = sorted(set(fine_tuned) - set(pretrained))
    if missing:
        raise CheckpointError(f"base model {name} does not match the fine-tuned encoder (no '{missing[0]}')")
    for key, value in fine_tuned.items():
        if pretrained[key].shape != value.shape:
            raise CheckpointError(f"base model {name} does not match the fine-tuned encoder: '{key}' has shape "
                                  f"{tuple(pretrained[key].shape)}, not {tuple(value.shape)}")
    return {k: pretrained[k] for k in fine_tuned}


def interpolate_states(pretrained: Mapping[str, torch.Tensor], fine_tuned: Mapping[str, torch.Tensor],
                       alpha: float) -> dict[str, torch.Tensor]:
    """(1 − α)·pretrained + α·fine-tuned for every floating tensor (others are taken from fine-tuned)."""
    if set(pretrained) != set(fine_tuned):
        raise ValueError("interpolation needs state dicts with the same keys")
    result = {}
    for key, value in fine_tuned.items():
        if value.is_floating_point():
            start = pretrained[key].to(dtype=torch.float32, device=value.device)
            result[key] = torch.lerp(start, value.float(), alpha).to(value.dtype)
        else:
            result[key] = value.clone()
    return result


def set_interpolation(model, pretrained: Mapping[str, torch.Tensor], fine_tuned: Mapping[str, torch.Tensor],
                      alpha: float) -> None:
    """Load θ(α) into ``model``'s encoder (its head is left as it is)."""
    model.load_state_dict(interpolate_states(pretrained, fine_tuned, alpha), strict=False)
