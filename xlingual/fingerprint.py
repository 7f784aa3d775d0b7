"""Fingerprints that tie a checkpoint to its bytes and a LoRA adapter to its base encoder.

A checkpoint records the sha256 of each weight file it wrote; loading recomputes them, so a
bit flip or a swapped file is an error instead of silently wrong predictions. A LoRA adapter
also records a fingerprint of the base encoder's weights (as loaded, so a moved copy, another
file format or the hub cache all give the same value): an encoder with the same shapes but other
weights is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_fingerprint(module: torch.nn.Module) -> str:
    """sha256 over every parameter's name, dtype, shape and bytes, in name order."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().contiguous().cpu()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return "sha256:" + digest.hexdigest()
