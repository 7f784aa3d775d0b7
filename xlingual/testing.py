"""Tiny models and toy data built on the fly, for tests and smoke runs (like ``transformers.testing_utils``).

xlingual's own test suite and its benchmarks' ``--quick`` modes use them, and so can users' tests: a 2-layer,
32-wide random BERT or XLM-R (with a real SentencePiece vocabulary) and a toy dataset in the UMSAB layout whose
label is given by one sentiment word, in English, Spanish and German. Nothing here touches the network.
"""

from __future__ import annotations

import random
from pathlib import Path

LABELS = ("negative", "neutral", "positive")

WORDS = {
    "english": {"negative": ["bad", "awful", "hate", "sad"], "neutral": ["table", "today", "report", "bus"],
                "positive": ["good", "great", "love", "happy"]},
    "spanish": {"negative": ["malo", "horrible", "odio", "triste"], "neutral": ["mesa", "hoy", "informe", "autobus"],
                "positive": ["bueno", "genial", "amo", "feliz"]},
    "german": {"negative": ["schlecht", "furchtbar", "hasse", "traurig"], "neutral": ["tisch", "heute", "bericht",
               "bus"], "positive": ["gut", "toll", "liebe", "froh"]},
}
FILLER = {"english": ["i", "it", "is", "the", "very"], "spanish": ["yo", "es", "el", "muy", "lo"],
          "german": ["ich", "es", "ist", "der", "sehr"]}


def toy_sentences(language: str, n: int, seed: int) -> tuple[list[str], list[int]]:
    """Sentences whose label is given by one sentiment word; labels cycle 0,1,2 like UMSAB."""
    rng = random.Random(f"{language}-{seed}")
    texts, labels = [], []
    for i in range(n):
        label = i % 3
        words = [rng.choice(FILLER[language]) for _ in range(rng.randint(1, 6))]
        words.insert(rng.randint(0, len(words)), rng.choice(WORDS[language][LABELS[label]]))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


def write_umsab(root: Path, sizes: dict[str, int] | None = None) -> Path:
    """A toy dataset in the UMSAB layout (no final newline, like the real files)."""
    sizes = sizes or {"train": 96, "val": 30, "test": 36}
    for language in WORDS:
        folder = root / language
        folder.mkdir(parents=True, exist_ok=True)
        for offset, (split, n) in enumerate(sizes.items()):
            texts, labels = toy_sentences(language, n, seed=offset)
            (folder / f"{split}_text.txt").write_text("\n".join(texts), encoding="utf-8")
            (folder / f"{split}_labels.txt").write_text("\n".join(map(str, labels)), encoding="utf-8")
    return root


def _vocabulary() -> list[str]:
    words = {w for lang in WORDS.values() for ws in lang.values() for w in ws}
    words |= {w for ws in FILLER.values() for w in ws}
    words |= {"query", ":", "me", "encanta", "lo", "!", "."}
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(words)]


def build_tiny_bert(folder: Path) -> Path:
    """A 2-layer, 32-wide BERT with a word-level vocabulary of the toy languages."""
    # torch: slow to import, and this module works without it
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = _vocabulary()
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=0)
    BertModel(config).save_pretrained(folder)
    return folder


def build_tiny_xlmr(folder: Path) -> Path:
    """A 2-layer XLM-R with a SentencePiece vocabulary trained on the toy text (same code path as XLM-R base)."""
    # sentencepiece, torch, transformers: only when a tiny model is built
    import sentencepiece as spm
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    lines = [t for lang in WORDS for t in toy_sentences(lang, 60, 0)[0]]
    corpus.write_text("\n".join(lines), encoding="utf-8")
    spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(folder / "spm"), vocab_size=120,
                                   model_type="unigram", minloglevel=2, hard_vocab_limit=False)
    processor = spm.SentencePieceProcessor(model_file=str(folder / "spm.model"))
    pieces = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())
              if not (processor.is_unknown(i) or processor.is_control(i))]
    # XLM-R's id layout (as its fairseq-converted vocabulary): <s> <pad> </s> <unk>, the pieces, <mask>
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), *pieces, ("<mask>", 0.0)]
    tokenizer = XLMRobertaTokenizer(vocab=vocab)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=66, pad_token_id=tokenizer.pad_token_id)
    XLMRobertaModel(config).save_pretrained(folder)
    corpus.unlink()
    return folder


def tiny_recipe_overrides(model: Path, data: Path, out: Path, **extra: object) -> list[str]:
    """``--set`` overrides that make any recipe run on the tiny model and toy data in seconds."""
    values = {
        "model.name": str(model), "model.text_prefix": "", "model.max_length": 32,
        "data.root": str(data), "data.target_languages": "spanish,german",
        "training.epochs": 2, "training.batch_size": 16, "training.learning_rate": 5e-3,
        "training.warmup_ratio": 0, "freeze.embeddings": "false",
        "training.logging_steps": 2, "evaluation.batch_size": 16, "output_dir": str(out),
        **extra,
    }
    return [f"{k}={v}" for k, v in values.items()]
