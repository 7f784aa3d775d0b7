"""Label-free model-selection signals: what a run can measure about target languages without their labels.

English-dev selection is noisy for transfer (the best English epoch is not the best Spanish one), so
each epoch can also be scored by

- ``retrieval``: mean retrieval@1 (both directions) of translation pairs by cosine of the pooled
  embeddings, how well the encoder still aligns languages (higher is better);
- ``confidence``: mean top-class probability on unlabeled target text (higher is better);
- ``entropy``: mean prediction entropy on unlabeled target text, in nats (lower is better);
- ``agreement``: share of unlabeled target texts whose predicted label is unchanged since the previous
  epoch, i.e. how settled the target predictions are (higher is better; undefined at the first epoch).

Every value is recorded per epoch in results.json so their correlation with target scores can be
studied after the fact; ``training.select_best_on`` may pick the epoch by one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..data.batching import TokenizedExamples
from ..modeling.predict import pooled_features, predict_probabilities


def retrieval_at_1(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean of a→b and b→a accuracy@1 of finding row i's partner by cosine nearest neighbour."""
    a = torch.nn.functional.normalize(a.float(), dim=1)
    b = torch.nn.functional.normalize(b.float(), dim=1)
    similarity = a @ b.T
    truth = torch.arange(len(a))
    return ((similarity.argmax(1) == truth).float().mean().item()
            + (similarity.argmax(0) == truth).float().mean().item()) / 2


def confidence_and_entropy(probabilities: torch.Tensor) -> tuple[float, float]:
    """Mean top-class probability and mean entropy (nats) of predicted distributions."""
    p = probabilities.double().clamp_min(1e-12)
    return probabilities.max(dim=1).values.double().mean().item(), (-(p * p.log()).sum(dim=1)).mean().item()


def agreement(previous: torch.Tensor, current: torch.Tensor) -> float:
    """Share of rows whose argmax label is the same in both."""
    return (previous.argmax(1) == current.argmax(1)).float().mean().item()


@dataclass
class SignalData:
    """The tokenised inputs of the signals: unlabeled target text and translation pairs per language."""

    unlabeled: dict[str, TokenizedExamples] = field(default_factory=dict)
    pairs: dict[str, tuple[TokenizedExamples, TokenizedExamples]] = field(default_factory=dict)


class SelectionSignals:
    """Computes the configured signals for a model; remembers the last predictions for ``agreement``."""

    def __init__(self, data: SignalData, signals: list[str], batch_size: int = 128) -> None:
        self.data, self.signals, self.batch_size = data, list(signals), batch_size
        self.previous: dict[str, torch.Tensor] = {}

    def __call__(self, model, device, accelerator=None) -> dict[str, float | None]:
        values: dict[str, float | None] = {}
        if "retrieval" in self.signals and self.data.pairs:
            scores = [retrieval_at_1(pooled_features(model, english, self.batch_size, device),
                                     pooled_features(model, other, self.batch_size, device))
                      for english, other in self.data.pairs.values()]
            values["retrieval"] = sum(scores) / len(scores)
        wanted = {"confidence", "entropy", "agreement"} & set(self.signals)
        if wanted and self.data.unlabeled:
            current = {lang: predict_probabilities(model, data, self.batch_size, device, accelerator)
                       for lang, data in self.data.unlabeled.items()}
            stats = [confidence_and_entropy(p) for p in current.values()]
            if "confidence" in wanted:
                values["confidence"] = sum(c for c, _ in stats) / len(stats)
            if "entropy" in wanted:
                values["entropy"] = sum(e for _, e in stats) / len(stats)
            if "agreement" in wanted:
                values["agreement"] = (sum(agreement(self.previous[k], v) for k, v in current.items()) / len(current)
                                       if self.previous else None)
            self.previous = current
        return values

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {f"previous.{k}": v for k, v in self.previous.items()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.previous = {k[len("previous."):]: v for k, v in state.items() if k.startswith("previous.")}
