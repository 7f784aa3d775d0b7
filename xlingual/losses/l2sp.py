"""L2-SP: squared distance of the weights to their pretrained starting point."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def l2_sp(parameters: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Ω(θ) = Σ_i ‖θ_i − θ⁰_i‖² over ``(current, reference)`` pairs (Li, Grandvalet & Davoine, ICML 2018).

    The penalty is 0 at the start of fine-tuning and pulls every weight back toward the pretrained
    one in proportion to how far it moved (its gradient is 2(θ − θ⁰))."""
    total = None
    for current, reference in parameters:
        term = (current.float() - reference.to(current.device, torch.float32)).pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("L2-SP needs at least one parameter")
    return total
