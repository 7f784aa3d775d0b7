"""The model, LoRA and freeze sections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError
from .conversion import Section


@dataclass
class ModelConfig(Section):
    """Which encoder to adapt and how a sentence becomes one vector."""

    name: str = "bert-base-multilingual-cased"
    """Hub id or local folder of any Hugging Face encoder (loaded with ``AutoModel``)."""
    revision: str | None = None
    pooling: Literal["mean", "cls", "max"] = "mean"
    max_length: int = 128
    text_prefix: str = ""
    """Prepended to every input, e.g. ``"query: "`` for the e5 family, which was trained with it."""
    head_dropout: float = 0.1
    trust_remote_code: bool = False
    """Run code shipped with a hub model. Off unless a recipe turns it on; recorded in results."""

    def _normalize(self) -> None:
        if not self.name:
            raise ConfigError("model.name: must name a hub id or a local model folder")
        if self.max_length < 2:
            raise ConfigError(f"model.max_length: must be at least 2, got {self.max_length}")
        if not 0.0 <= self.head_dropout < 1.0:
            raise ConfigError(f"model.head_dropout: must be in [0, 1), got {self.head_dropout}")


@dataclass
class LoraConfig(Section):
    """LoRA adapters (peft) on the encoder; only adapters and the head train."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.1
    target_modules: list[str] | None = None
    """Module names to adapt; ``None`` uses peft's default for the architecture."""
    bias: Literal["none", "all", "lora_only"] = "none"

    def _normalize(self) -> None:
        if self.r < 1:
            raise ConfigError(f"lora.r: must be a positive integer, got {self.r}")
        if self.alpha <= 0:
            raise ConfigError(f"lora.alpha: must be positive, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"lora.dropout: must be in [0, 1), got {self.dropout}")
        if self.target_modules is not None and not self.target_modules:
            raise ConfigError("lora.target_modules: must list at least one module, or be null for the default")


@dataclass
class FreezeConfig(Section):
    """Which encoder parameters stay fixed during full fine-tuning."""

    embeddings: bool = False
    """Keep the embedding layer fixed: a known aid to cross-lingual transfer, and much faster."""
    layers: int = 0
    """Freeze the lowest k transformer layers."""
    encoder: bool = False
    """Freeze the whole encoder and train the head only (linear-probe baseline)."""

    def _normalize(self) -> None:
        if self.layers < 0:
            raise ConfigError(f"freeze.layers: must be >= 0, got {self.layers}")
