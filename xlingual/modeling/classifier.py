"""The sentence classifier: any Hugging Face encoder + pooling + a linear head.

It is a ``PreTrainedModel`` registered with the Auto classes under the model type
``xlingual``, so a saved (or merged LoRA) checkpoint loads with
``AutoModelForSequenceClassification.from_pretrained`` and runs in
``transformers.pipeline("text-classification")`` once ``import xlingual`` has run; no
remote code is involved. The forward pass returns the pooled sentence embedding beside
the logits, which is what alignment losses work on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification, PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

from .pooling import Pooling


def encoder_from_config(config: PretrainedConfig) -> nn.Module:
    """A randomly initialised encoder for ``config``, without the unused pooler where possible."""
    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:  # architectures without a pooler option
        return AutoModel.from_config(config)


class XlingualConfig(PretrainedConfig):
    """Config of :class:`XlingualForSequenceClassification`; holds the encoder's config nested."""

    model_type = "xlingual"
    sub_configs: ClassVar[dict] = {"encoder": AutoConfig}

    def __init__(
        self,
        encoder: dict | PretrainedConfig | None = None,
        base_model: str | None = None,
        pooling: str = "mean",
        head_dropout: float = 0.1,
        max_seq_length: int = 128,
        text_prefix: str = "",
        truncation: str = "head",
        **kwargs,
    ) -> None:
        if isinstance(encoder, dict):
            encoder = dict(encoder)
            encoder = AutoConfig.for_model(encoder.pop("model_type"), **encoder)
        self.encoder = encoder
        self.base_model = base_model
        self.pooling = pooling
        self.head_dropout = head_dropout
        self.max_seq_length = max_seq_length
        self.text_prefix = text_prefix
        self.truncation = truncation
        super().__init__(**kwargs)

    @property
    def hidden_size(self) -> int:
        return self.encoder.hidden_size


@dataclass
class XlingualOutput(ModelOutput):
    """Forward output: ``loss`` (with labels), ``logits`` and the pooled ``embeddings``."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    embeddings: torch.Tensor | None = None


class XlingualForSequenceClassification(PreTrainedModel):
    """Encoder → :class:`Pooling` → dropout → linear classifier."""

    config_class = XlingualConfig
    base_model_prefix = "xlingual"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    # Attention runs inside the wrapped encoder; declaring support lets transformers keep
    # the encoder's own implementation (sdpa) instead of falling back to eager attention.
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True

    def __init__(self, config: XlingualConfig, encoder: nn.Module | None = None) -> None:
        super().__init__(config)
        self.pooling = Pooling(config.pooling)
        self.dropout = nn.Dropout(config.head_dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        if encoder is None:  # from_config / from_pretrained: random weights, loaded afterwards
            self.encoder = encoder_from_config(config.encoder)
            self.post_init()
        else:
            # post_init would run the encoder class's weight init over modules it does not
            # know as loaded (e.g. fresh LoRA matrices): initialise the head only, then attach.
            self.post_init()
            self.encoder = encoder
        encoder_config = self.encoder.config
        if getattr(encoder_config, "_attn_implementation", None) is None:
            encoder_config._attn_implementation = self.config._attn_implementation or "sdpa"

    def _init_weights(self, module: nn.Module) -> None:
        if module is getattr(self, "classifier", None):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def embed(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **encoder_kwargs) -> torch.Tensor:
        """Pooled sentence embeddings (before the head's dropout)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **encoder_kwargs).last_hidden_state
        return self.pooling(hidden, attention_mask)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        **kwargs,
    ) -> XlingualOutput:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        extra = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        embeddings = self.embed(input_ids, attention_mask, **extra)
        logits = self.classifier(self.dropout(embeddings))
        loss = nn.functional.cross_entropy(logits.float(), labels) if labels is not None else None
        return XlingualOutput(loss=loss, logits=logits, embeddings=embeddings)

    def head_state_dict(self) -> dict[str, torch.Tensor]:
        """Weights outside the encoder (the head), saved beside a LoRA adapter."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("encoder.")}


AutoConfig.register("xlingual", XlingualConfig, exist_ok=True)
AutoModelForSequenceClassification.register(XlingualConfig, XlingualForSequenceClassification, exist_ok=True)
