"""Freezing parts of the encoder: embeddings, the lowest k layers, or everything (linear probe)."""

from __future__ import annotations

from torch import nn

from ..config import FreezeConfig
from ..errors import ConfigError


def transformer_layers(encoder: nn.Module) -> nn.ModuleList:
    """The encoder's stack of transformer blocks (the ModuleList as long as ``num_hidden_layers``)."""
    expected = getattr(encoder.config, "num_hidden_layers", None)
    for module in encoder.modules():
        if isinstance(module, nn.ModuleList) and len(module) == expected:
            return module
    raise ConfigError(f"freeze.layers: cannot find the {expected} transformer layers of {type(encoder).__name__}")


def embedding_module(encoder: nn.Module) -> nn.Module:
    """The embedding block (word, position and type embeddings with their LayerNorm) where there is one."""
    return getattr(encoder, "embeddings", None) or encoder.get_input_embeddings()


def apply_freezing(encoder: nn.Module, freeze: FreezeConfig) -> None:
    """Set ``requires_grad=False`` on the parts of ``encoder`` that ``freeze`` names."""
    if freeze.encoder:
        encoder.requires_grad_(False)
        return
    if freeze.embeddings:
        embedding_module(encoder).requires_grad_(False)
    if freeze.layers:
        layers = transformer_layers(encoder)
        if freeze.layers > len(layers):
            raise ConfigError(f"freeze.layers: {freeze.layers} is more than the model's {len(layers)} layers")
        for layer in layers[: freeze.layers]:
            layer.requires_grad_(False)


def count_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable and total parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total}
