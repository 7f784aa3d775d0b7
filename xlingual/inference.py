"""Using a trained checkpoint: ``xlingual.load(path).predict(texts)``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .data.batching import TokenizedExamples
from .data.truncation import encode
from .errors import CheckpointError, DataError
from .modeling.predict import pooled_features, predict_probabilities
from .quantization import check_quantize


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
        self.truncation = getattr(config, "truncation", None) or "head"  # checkpoints from before it was recorded

    def _tokenized(self, texts: list[str]) -> TokenizedExamples:
        """The texts cut and prefixed as the checkpoint was trained (tokenizers cannot take an empty batch)."""
        ids = encode(self.tokenizer, texts, self.max_length, self.text_prefix, self.truncation)[0] if texts else []
        return TokenizedExamples(ids, None, "", self.tokenizer.pad_token_id or 0)

    def predict_proba(self, texts: str | Iterable[str], batch_size: int = 64) -> torch.Tensor:
        """Probabilities, shape ``(len(texts), num_labels)`` (``(num_labels,)`` for a single string)."""
        single, texts = check_texts(texts, batch_size)
        if not texts:
            return torch.empty(0, len(self.labels))
        out = predict_probabilities(self.model, self._tokenized(texts), batch_size, self.device)
        return out[0] if single else out

    def embed(self, texts: str | Iterable[str], batch_size: int = 64) -> torch.Tensor:
        """Pooled sentence embeddings, shape ``(len(texts), hidden_size)`` (``(hidden_size,)`` for one string)."""
        single, texts = check_texts(texts, batch_size)
        if not texts:
            return torch.empty(0, self.model.config.hidden_size)
        out = pooled_features(self.model, self._tokenized(texts), batch_size, self.device)
        return out[0] if single else out

    def predict(self, texts: str | Iterable[str], batch_size: int = 64) -> list[Prediction] | Prediction:
        """A :class:`Prediction` per text (one :class:`Prediction` for a single string; ``[]`` for no texts)."""
        single, texts = check_texts(texts, batch_size)
        probabilities = self.predict_proba(texts, batch_size)
        results = []
        for row in probabilities.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            results.append(Prediction(self.labels[best], row[best], dict(zip(self.labels, row, strict=True))))
        return results[0] if single else results


def check_texts(texts: object, batch_size: object = 1) -> tuple[bool, list[str]]:
    """``(single, texts)``: a string, or an iterable of non-empty strings; a :class:`DataError` naming the
    index and type of anything else (the same rules as training data: no empty text, valid Unicode)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise DataError(f"batch_size: must be a positive integer, got {batch_size!r}")
    if isinstance(texts, str):
        single, items = True, [texts]
    elif isinstance(texts, (bytes, bytearray)):
        raise DataError("texts: got bytes; decode them to str first (e.g. data.decode('utf-8'))")
    elif texts is None or isinstance(texts, Mapping) or not isinstance(texts, Iterable):
        raise DataError(f"texts: expected a string or a list of strings, got {type(texts).__name__}")
    else:
        single, items = False, list(texts)
    for index, text in enumerate(items):
        where = "text" if single else f"texts[{index}]"
        if not isinstance(text, str):
            raise DataError(f"{where}: expected a string, got {type(text).__name__} {_short(text)}")
        if not text.strip():
            raise DataError(f"{where}: the text is empty or whitespace only")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DataError(f"{where}: not valid Unicode ({exc.reason} at character {exc.start})") from None
    return single, items


def _short(value: object) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - any object a user passes; its repr may fail
        return ""
    return text if len(text) <= 40 else text[:37] + "..."


def load(path: str | Path, base_model: str | None = None, device: str | torch.device = "cpu",
         verify: bool = True, quantize: str | None = None) -> Classifier:
    """Load a run folder or checkpoint (full or LoRA) as a :class:`Classifier`.

    ``base_model`` tells a LoRA checkpoint where its encoder is, if it moved. ``verify=False`` skips the
    check of the weights against the fingerprints recorded when the checkpoint was written.
    ``quantize="int8"`` runs the encoder's Linear layers in dynamic int8 on the CPU
    (see :mod:`xlingual.quantization`).
    """
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise CheckpointError(f"load(): expected the path of a run or checkpoint folder (str or Path), got "
                              f"{type(path).__name__} {_short(path)}")
    if base_model is not None and not isinstance(base_model, (str, os.PathLike)):
        raise CheckpointError(f"load(): base_model must be a path or hub id, got {type(base_model).__name__}")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise CheckpointError(f"load(): device {device!r} is not a torch device ({exc})") from None
    check_quantize(quantize, device)  # "int8 runs on the CPU only" says more than "no CUDA GPU"
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CheckpointError(f"load(): device {str(device)!r} asked for, but torch sees no CUDA GPU")
    model, tokenizer = load_checkpoint(os.fspath(path), base_model=base_model and os.fspath(base_model),
                                       device=device, verify=verify, quantize=quantize)
    return Classifier(model, tokenizer, device)
