"""Using a trained checkpoint: ``xlingual.load(path).predict(texts)``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .data.batching import collate, inference_batches
from .errors import DataError


@dataclass
class Prediction:
    """The predicted label, its probability, and every class's probability."""

    label: str
    score: float
    probabilities: dict[str, float]


class Classifier:
    """A loaded classifier with its tokenizer; see :func:`load`."""

    def __init__(self, model, tokenizer, device: str | torch.device = "cpu") -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        config = model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        self.max_length = config.max_seq_length
        self.text_prefix = config.text_prefix or ""

    def _batches(self, texts: Sequence[str], batch_size: int):
        if isinstance(texts, str):
            raise DataError("predict() takes a list of texts, not a single string")
        prefixed = [self.text_prefix + t for t in texts]
        ids = self.tokenizer(prefixed, truncation=True, max_length=self.max_length, return_attention_mask=False,
                             return_token_type_ids=False)["input_ids"]
        pad = self.tokenizer.pad_token_id or 0
        for batch in inference_batches([len(x) for x in ids], batch_size):
            inputs = collate([ids[i] for i in batch], pad)
            yield batch, {k: v.to(self.device) for k, v in inputs.items()}

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Probabilities, shape ``(len(texts), num_labels)``."""
        out = torch.empty(len(texts), len(self.labels))
        for batch, inputs in self._batches(texts, batch_size):
            out[torch.tensor(batch)] = torch.softmax(self.model(**inputs).logits.float(), -1).cpu()
        return out

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Pooled sentence embeddings, shape ``(len(texts), hidden_size)``."""
        out = torch.empty(len(texts), self.model.config.hidden_size)
        for batch, inputs in self._batches(texts, batch_size):
            out[torch.tensor(batch)] = self.model.embed(inputs["input_ids"], inputs["attention_mask"]).float().cpu()
        return out

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[Prediction]:
        """A :class:`Prediction` per text."""
        probabilities = self.predict_proba(texts, batch_size)
        results = []
        for row in probabilities.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            results.append(Prediction(self.labels[best], row[best], dict(zip(self.labels, row, strict=True))))
        return results


def load(path: str | Path, base_model: str | None = None, device: str | torch.device = "cpu",
         quantize: str | None = None) -> Classifier:
    """Load a run folder or checkpoint (full or LoRA) as a :class:`Classifier`.

    ``base_model`` tells a LoRA checkpoint where its encoder is, if it moved. ``quantize="int8"``
    runs the encoder's Linear layers in dynamic int8 on the CPU (see :mod:`xlingual.quantization`).
    """
    model, tokenizer = load_checkpoint(path, base_model=base_model, device=device, quantize=quantize)
    return Classifier(model, tokenizer, device)
