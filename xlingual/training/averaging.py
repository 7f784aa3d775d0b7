"""Checkpoint averaging inside a run and across runs (weight-space ensembling).

Schmidt, Vulić & Glavaš (ACL 2023), "Free Lunch: Robust Cross-Lingual Transfer via Model
Checkpoint Averaging": the uniform average of the checkpoints met along one fine-tuning
trajectory transfers better and with less seed variance than any single selected checkpoint,
because English-dev selection among them is noisy. Wortsman et al. (ICML 2022), "Model
soups", average runs fine-tuned from the same base. Both are the same operation,

    θ̄ = (1/n) Σ_i θ_i,

kept here as a running mean θ̄_k = θ̄_{k-1} + (θ_k − θ̄_{k-1}) / k, so a run needs one extra
copy of its trainable weights, not one per snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch


def average_state_dicts(states: Iterable[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The uniform average of state dicts with the same keys and shapes (fp32 accumulation)."""
    running = RunningAverage()
    for state in states:
        running.update(state)
    if running.weights is None:
        raise ValueError("nothing to average: no state dicts given")
    return running.result()


class RunningAverage:
    """θ̄ over the snapshots seen so far; floating tensors are averaged, others must be equal."""

    def __init__(self) -> None:
        self.count = 0
        self.weights: dict[str, torch.Tensor] | None = None
        self._dtypes: dict[str, torch.dtype] = {}

    def update(self, state: Mapping[str, torch.Tensor]) -> None:
        """Add one snapshot (copied to fp32 on the CPU; the model's tensors are not kept)."""
        if self.weights is None:
            self.weights = {k: v.detach().float().cpu().clone() if v.is_floating_point() else v.detach().cpu().clone()
                            for k, v in state.items()}
            self._dtypes = {k: v.dtype for k, v in state.items()}
            self.count = 1
            return
        if set(state) != set(self.weights):
            missing = sorted(set(self.weights) ^ set(state))
            raise ValueError(f"cannot average state dicts with different keys (first difference: {missing[0]})")
        self.count += 1
        for key, value in state.items():
            mean = self.weights[key]
            if value.shape != mean.shape:
                raise ValueError(f"cannot average '{key}': shapes {tuple(mean.shape)} and {tuple(value.shape)}")
            if mean.is_floating_point():
                mean.add_(value.detach().float().cpu() - mean, alpha=1.0 / self.count)
            elif not torch.equal(mean, value.detach().cpu()):
                raise ValueError(f"cannot average '{key}': integer tensors differ")

    def result(self) -> dict[str, torch.Tensor]:
        """The average, in each tensor's original dtype."""
        if self.weights is None:
            return {}
        return {k: v.to(self._dtypes[k]) for k, v in self.weights.items()}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """For the resumable training state: the fp32 mean plus its count."""
        if self.weights is None:
            return {}
        return {**{f"mean.{k}": v for k, v in self.weights.items()},
                "count": torch.tensor(self.count, dtype=torch.int64)}

    def load_state_dict(self, state: Mapping[str, torch.Tensor], dtypes: Mapping[str, torch.dtype]) -> None:
        if not state:
            self.__init__()
            return
        self.count = int(state["count"])
        self.weights = {k[len("mean."):]: v.clone() for k, v in state.items() if k.startswith("mean.")}
        self._dtypes = {k: dtypes.get(k, v.dtype) for k, v in self.weights.items()}
