"""Shared fixtures: a tiny random multilingual BERT and XLM-R built on the fly, and toy data.

Nothing here touches the network; the real-encoder tests (marker ``real``) read
``../shared`` and skip with a reason where it is absent.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
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


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    return build_tiny_bert(tmp_path_factory.mktemp("models") / "tiny-bert")


@pytest.fixture(scope="session")
def tiny_xlmr(tmp_path_factory) -> Path:
    return build_tiny_xlmr(tmp_path_factory.mktemp("models") / "tiny-xlmr")


@pytest.fixture(scope="session")
def toy_umsab(tmp_path_factory) -> Path:
    return write_umsab(tmp_path_factory.mktemp("data") / "umsab")


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


@pytest.fixture
def train_tiny(tiny_bert, toy_umsab, tmp_path):
    """Train a recipe on the tiny model; returns the run folder."""
    import xlingual

    def _train(recipe: str = "recipes/umsab_e5small.yaml", out: Path | None = None, model: Path | None = None,
               **extra: object) -> Path:
        out = out or tmp_path / "run"
        overrides = tiny_recipe_overrides(model or tiny_bert, toy_umsab, out, **extra)
        return xlingual.train(REPO / recipe, overrides, progress=False)

    return _train


# ----------------------------------------------------------------------------- real encoder


@pytest.fixture(scope="session")
def e5_small() -> Path:
    """multilingual-e5-small built from ../shared (cached outside the repo); skips where absent."""
    builder = SHARED / "models" / "build-e5-small"
    if not builder.is_file():
        pytest.skip(f"real-encoder test: {builder} not found (../shared is not beside the checkout)")
    cache = Path(os.environ.get("XLINGUAL_E5_SMALL", Path.home() / ".cache" / "xlingual" / "e5-small"))
    if not (cache / "config.json").is_file():
        result = subprocess.run(["bash", str(builder), str(cache)], capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.skip(f"real-encoder test: building e5-small failed: {result.stderr.strip()[-300:]}")
    return cache


@pytest.fixture(scope="session")
def umsab_real() -> Path:
    root = SHARED / "data" / "umsab"
    if not (root / "english" / "train_text.txt").is_file():
        pytest.skip(f"real-data test: {root} not found (../shared is not beside the checkout)")
    return root


def write_pairs(root: Path, n: int = 40) -> Path:
    """Toy Tatoeba-style translation pairs (``tatoeba.spa-eng.{spa,eng}``, ``tatoeba.deu-eng.{deu,eng}``)."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for language, code in (("spanish", "spa"), ("german", "deu")):
        english, other = [], []
        for _ in range(n):
            label = rng.choice(LABELS)
            k = rng.randrange(4)
            f = rng.randrange(5)
            english.append(f"{FILLER['english'][f]} {WORDS['english'][label][k]}")
            other.append(f"{FILLER[language][f]} {WORDS[language][label][k]}")
        (root / f"tatoeba.{code}-eng.eng").write_text("\n".join(english), encoding="utf-8")
        (root / f"tatoeba.{code}-eng.{code}").write_text("\n".join(other), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def toy_pairs(tmp_path_factory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("data") / "tatoeba")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the PNG signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])
