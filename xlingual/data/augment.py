"""Label-preserving views of tokenised text for consistency training, with no machine translation.

:class:`SubwordSampler` re-segments a text by sampling from its Unigram language-model lattice (subword
regularisation, Kudo 2018; the views xTune trains on, Zheng et al. 2021) with ``sentencepiece``; the text is
unchanged, only its pieces differ, so ``decode`` gives the same string. :func:`token_dropout` masks random
pieces (UDA's word-replacement family, Xie et al. 2020, without a vocabulary model). Both work on token ids
and leave special and unknown tokens where they are.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from ..errors import ConfigError


class SubwordSampler:
    """Samples segmentations of a Unigram tokenizer's pieces (any Hugging Face tokenizer whose model is a
    Unigram: XLM-R, multilingual-e5, mT5…). ``alpha`` is SentencePiece's smoothing: 0 is uniform over all
    segmentations, larger stays nearer the best one."""

    def __init__(self, tokenizer, alpha: float = 0.5) -> None:
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2 as model_pb2

        backend = getattr(tokenizer, "backend_tokenizer", None)
        spec = json.loads(backend.to_str()) if backend is not None else {}
        model = spec.get("model", {})
        if model.get("type") != "Unigram":
            kind = model.get("type") or type(tokenizer).__name__
            raise ConfigError(f"subword sampling needs a Unigram (SentencePiece) tokenizer; this model's is {kind} "
                              "(use augment: token-dropout)")
        unk_id = model.get("unk_id")
        special = set(tokenizer.all_special_ids)
        proto = model_pb2.ModelProto()
        for index, (piece, score) in enumerate(model["vocab"]):
            entry = proto.pieces.add()
            entry.piece, entry.score = piece, score
            if index == unk_id:
                entry.type = model_pb2.ModelProto.SentencePiece.UNKNOWN
            elif index in special:
                entry.type = model_pb2.ModelProto.SentencePiece.CONTROL
        if unk_id is None:  # sentencepiece needs an unknown piece; one no text can produce
            entry = proto.pieces.add()
            entry.piece, entry.type = "<xlingual-unk>", model_pb2.ModelProto.SentencePiece.UNKNOWN
        proto.trainer_spec.model_type = model_pb2.TrainerSpec.UNIGRAM
        proto.trainer_spec.unk_id = unk_id if unk_id is not None else len(model["vocab"])
        # the pieces already hold the tokenizer's normalised text: segment them as they are
        proto.normalizer_spec.name = "identity"
        proto.normalizer_spec.add_dummy_prefix = False
        proto.normalizer_spec.remove_extra_whitespaces = False
        self._spm = spm
        self.processor = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
        self.tokenizer = tokenizer
        self.alpha = alpha
        self.fixed = special | ({unk_id} if unk_id is not None else set())

    def sample(self, ids: Sequence[int], seed: int) -> list[int]:
        """``ids`` re-segmented: each run of ordinary pieces between special or unknown tokens is joined and
        sampled again; deterministic for a ``seed``."""
        self._spm.set_random_generator_seed(seed % 2**32)
        out: list[int] = []
        run: list[int] = []

        def flush() -> None:
            if run:
                text = "".join(self.tokenizer.convert_ids_to_tokens(run))
                pieces = self.processor.encode(text, out_type=str, enable_sampling=True, alpha=self.alpha,
                                               nbest_size=-1)
                out.extend(self.tokenizer.convert_tokens_to_ids(pieces))
                run.clear()

        for token in ids:
            if token in self.fixed:
                flush()
                out.append(token)
            else:
                run.append(token)
        flush()
        return out


def token_dropout(ids: Sequence[int], probability: float, replacement: int, fixed: set[int],
                  rng: random.Random) -> list[int]:
    """Each ordinary token replaced by ``replacement`` (the mask or unknown token) with ``probability``."""
    return [replacement if token not in fixed and rng.random() < probability else token for token in ids]


def fit_length(ids: list[int], max_length: int, fixed: set[int]) -> list[int]:
    """Cut a view that grew past ``max_length`` (sampling makes more pieces), keeping a final special token."""
    if len(ids) <= max_length:
        return ids
    return [*ids[: max_length - 1], ids[-1]] if ids[-1] in fixed else ids[:max_length]
