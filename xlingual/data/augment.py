"""Label-preserving views of tokenised text for consistency training, with no machine translation.

:class:`SubwordSampler` re-segments a text by sampling from its Unigram language-model lattice (subword
regularisation, Kudo 2018; the views xTune trains on, Zheng et al. 2021), as SentencePiece samples; the text is
unchanged, only its pieces differ, so ``decode`` gives the same string. :func:`token_dropout` masks random
pieces (UDA's word-replacement family, Xie et al. 2020, without a vocabulary model). Both work on token ids
and leave special and unknown tokens where they are.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
from array import array
from collections.abc import Sequence

from ..errors import ConfigError

_BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")


class SubwordSampler:
    """Samples segmentations of a Unigram tokenizer's pieces (any Hugging Face tokenizer whose model is a
    Unigram: XLM-R, multilingual-e5, mT5…). ``alpha`` is SentencePiece's smoothing: 0 is uniform over all
    segmentations, larger stays nearer the best one.

    The sampling is SentencePiece's own (forward-filtering backward-sampling over the Unigram lattice, each
    piece weighted by ``exp(alpha · log p)``), written here with Python's seeded RNG: ``sentencepiece`` draws
    from a thread-local generator its seed does not reach, so its samples differ between processes, and a run
    (or a resumed one) could not repeat its own views."""

    def __init__(self, tokenizer, alpha: float = 0.5) -> None:
        backend = getattr(tokenizer, "backend_tokenizer", None)
        spec = json.loads(backend.to_str()) if backend is not None else {}
        model = spec.get("model", {})
        if model.get("type") != "Unigram":
            kind = model.get("type") or type(tokenizer).__name__
            raise ConfigError(f"subword sampling needs a Unigram (SentencePiece) tokenizer; this model's is {kind} "
                              "(use augment: token-dropout)")
        unk_id = model.get("unk_id")
        # kept where they are: special and unknown tokens, tokens added to the tokenizer, and byte-fallback
        # pieces (<0xF0>), which stand for bytes, not for their own characters
        self.fixed = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
        if unk_id is not None:
            self.fixed.add(unk_id)
        if model.get("byte_fallback"):
            self.fixed |= {i for i, (piece, _) in enumerate(model["vocab"]) if _BYTE_PIECE.fullmatch(piece)}
        self.scores = {piece: float(score) for index, (piece, score) in enumerate(model["vocab"])
                       if index not in self.fixed}
        self.lengths = sorted({len(piece) for piece in self.scores})
        self.tokenizer = tokenizer
        self.alpha = alpha
        self._lattice = functools.lru_cache(maxsize=50_000)(self._forward)  # texts repeat every epoch; ~1 KB a tweet

    def _ending_at(self, text: str, j: int, forward) -> list[tuple[int, float]]:
        """The lattice's pieces ending at ``j`` that a path reaches: (start, alpha · log p), starts ascending."""
        edges = []
        for length in reversed(self.lengths):
            if length <= j and forward[j - length] > -math.inf:
                score = self.scores.get(text[j - length:j])
                if score is not None:
                    edges.append((j - length, self.alpha * score))
        return edges

    def _forward(self, text: str) -> array:
        """Forward log-sums of the lattice, position by position: 8 bytes a character, so caching them is cheap."""
        forward = array("d", [-math.inf]) * (len(text) + 1)
        forward[0] = 0.0
        for j in range(1, len(text) + 1):
            edges = self._ending_at(text, j, forward)
            if edges:
                forward[j] = _logsumexp([forward[i] + w for i, w in edges])
        return forward

    def segment(self, text: str, rng: random.Random) -> list[str] | None:
        """One segmentation of ``text`` drawn with probability ∝ Π p(piece)^alpha; ``None`` where the
        vocabulary has no path through it (the caller keeps the pieces it had)."""
        forward = self._lattice(text)
        n = len(text)
        if n and forward[n] == -math.inf:
            return None
        pieces: list[str] = []
        j = n
        while j > 0:
            candidates = self._ending_at(text, j, forward)
            draw, total = rng.random(), 0.0
            start = candidates[-1][0]
            for i, w in candidates:
                total += math.exp(forward[i] + w - forward[j])
                if draw < total:
                    start = i
                    break
            pieces.append(text[start:j])
            j = start
        return pieces[::-1]

    def sample(self, ids: Sequence[int], seed: int) -> list[int]:
        """``ids`` re-segmented: each run of ordinary pieces between special or unknown tokens is joined and
        sampled again; the same ``seed`` gives the same view, in any process."""
        rng = random.Random(seed)
        out: list[int] = []
        run: list[int] = []

        def flush() -> None:
            if run:
                text = "".join(self.tokenizer.convert_ids_to_tokens(run))
                pieces = self.segment(text, rng)
                out.extend(self.tokenizer.convert_tokens_to_ids(pieces) if pieces is not None else run)
                run.clear()

        for token in ids:
            if token in self.fixed:
                flush()
                out.append(token)
            else:
                run.append(token)
        flush()
        return out


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def token_dropout(ids: Sequence[int], probability: float, replacement: int, fixed: set[int],
                  rng: random.Random) -> list[int]:
    """Each ordinary token replaced by ``replacement`` (the mask or unknown token) with ``probability``."""
    return [replacement if token not in fixed and rng.random() < probability else token for token in ids]


def fit_length(ids: list[int], max_length: int, fixed: set[int]) -> list[int]:
    """Cut a view that grew past ``max_length`` (sampling makes more pieces), keeping a final special token."""
    if len(ids) <= max_length:
        return ids
    return [*ids[: max_length - 1], ids[-1]] if ids[-1] in fixed else ids[:max_length]
