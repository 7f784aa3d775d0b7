"""Pooling: token states → one sentence vector.

Mean pooling is the default because many multilingual encoders (e5, sentence-transformers
models) ship no trained pooler and were trained with it.
"""

from __future__ import annotations

import torch
from torch import nn

POOLING_MODES = ("mean", "cls", "max")


class Pooling(nn.Module):
    """``mean``: masked average; ``cls``: first token; ``max``: masked element-wise maximum."""

    def __init__(self, mode: str = "mean") -> None:
        super().__init__()
        if mode not in POOLING_MODES:
            raise ValueError(f"unknown pooling mode {mode!r}; choose one of {POOLING_MODES}")
        self.mode = mode

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.mode == "cls":
            return hidden_states[:, 0]
        mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
        if self.mode == "max":
            return hidden_states.masked_fill(mask == 0, torch.finfo(hidden_states.dtype).min).amax(dim=1)
        return (hidden_states * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"
