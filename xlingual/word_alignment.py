"""``xlingual induce-word-list``: a bilingual word list from translation pairs, for users without a dictionary.

SimAlign (Jalili Sabet et al., Findings of EMNLP 2020) aligns the words of a sentence pair with a multilingual
encoder's own contextual embeddings: each word is the mean of its pieces' hidden states at a middle layer, and two
words align where each is the other's most similar word (mutual argmax, SimAlign's ``ArgMax``). Counting the
aligned word pairs over many sentence pairs gives a word list: per English word, its most often aligned
translations (at least ``min_count`` times, at most ``max_translations``), written in the MUSE layout
``data.code_switch`` reads. Identical strings (names, numbers, loanwords) are left out: switching them changes
nothing.

    OUT/en-<code>.txt     english<TAB>translation, one pair a line
    OUT/manifest.json     encoder, layer, pairs read, aligned word pairs, entries and English words per language,
                          and the list's coverage: the share of English words it covers in the pairs or in
                          ``--coverage-text`` (say, the training text it will code-switch)
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .data.code_switch import WORD, CodeSwitcher
from .data.pairs import load_pairs
from .data.textfile import read_lines
from .errors import ConfigError, DataError
from .io import atomic_write_json, atomic_write_text, read_json
from .languages import iso639_1, normalize_language


def word_vectors(model, tokenizer, sentences: list[list[str]], layer: int, batch_size: int = 32,
                 device: str | torch.device = "cpu", progress: bool = False,
                 description: str = "embed") -> list[torch.Tensor]:
    """Per sentence (given as words), a ``[words, hidden]`` matrix: the mean hidden state of each word's pieces at
    ``layer`` (0 is the embedding layer), L2-normalised."""
    out: list[torch.Tensor] = []
    batches = range(0, len(sentences), batch_size)
    for start in tqdm(batches, desc=description, disable=not progress, unit="batch", leave=False):
        chunk = sentences[start:start + batch_size]
        encoded = tokenizer(chunk, is_split_into_words=True, truncation=True, max_length=128, padding=True,
                            return_tensors="pt")
        with torch.inference_mode():
            hidden = model(input_ids=encoded["input_ids"].to(device),
                           attention_mask=encoded["attention_mask"].to(device),
                           output_hidden_states=True).hidden_states[layer].float().cpu()
        for row, words in enumerate(chunk):
            ids = encoded.word_ids(row)
            vectors = torch.zeros(len(words), hidden.shape[-1])
            counts = torch.zeros(len(words))
            for position, word in enumerate(ids):
                if word is not None:
                    vectors[word] += hidden[row, position]
                    counts[word] += 1
            kept = counts > 0  # a word cut by truncation has no pieces: a zero vector that aligns to nothing
            vectors[kept] /= counts[kept, None]
            out.append(torch.nn.functional.normalize(vectors, dim=-1))
    return out


def mutual_argmax(source: torch.Tensor, target: torch.Tensor) -> list[tuple[int, int]]:
    """Word pairs ``(i, j)`` where ``j`` is ``i``'s most similar target word and ``i`` is ``j``'s."""
    if not len(source) or not len(target):
        return []
    similarity = source @ target.T
    forward, backward = similarity.argmax(dim=1), similarity.argmax(dim=0)
    return [(i, int(j)) for i, j in enumerate(forward.tolist()) if int(backward[j]) == i and similarity[i, j] > 0]


def induce(model, tokenizer, english: list[str], translations: list[str], layer: int = 8, min_count: int = 2,
           max_translations: int = 5, batch_size: int = 32, device: str | torch.device = "cpu",
           progress: bool = False) -> tuple[dict[str, list[str]], dict]:
    """English word → its translations, most often aligned first, and the counts behind them."""
    def words(text: str) -> list[str]:
        return [w.lower() for w in WORD.findall(text)]

    src, tgt = [words(t) for t in english], [words(t) for t in translations]
    usable = [i for i in range(len(src)) if src[i] and tgt[i]]
    src_vectors = word_vectors(model, tokenizer, [src[i] for i in usable], layer, batch_size, device, progress,
                               "embed english")
    tgt_vectors = word_vectors(model, tokenizer, [tgt[i] for i in usable], layer, batch_size, device, progress,
                               "embed translations")
    counts: dict[str, Counter] = defaultdict(Counter)
    aligned = 0
    for k, index in enumerate(usable):
        for i, j in mutual_argmax(src_vectors[k], tgt_vectors[k]):
            aligned += 1
            if src[index][i] != tgt[index][j]:
                counts[src[index][i]][tgt[index][j]] += 1
    pairs = {word: [t for t, n in found.most_common(max_translations) if n >= min_count]
             for word, found in sorted(counts.items())}
    pairs = {word: kept for word, kept in pairs.items() if kept}
    return pairs, {"pairs_read": len(src), "pairs_with_words": len(usable), "aligned_word_pairs": aligned,
                   "english_words": len(pairs), "entries": sum(len(v) for v in pairs.values())}


def coverage(word_list: dict[str, list[str]], texts: list[str], origin: str) -> dict:
    """How many of the words in ``texts`` (code-switching's own notion of a word) the list has a translation for."""
    _, counts = CodeSwitcher({"list": word_list}, fraction=0.0).switch(texts, 0)
    return {"text": origin, "words": counts["words"], "covered": counts["covered"],
            "share": round(counts["covered"] / counts["words"], 4) if counts["words"] else 0.0}


def induce_word_lists(pairs_root: str, encoder: str, languages: list[str], out: str | Path, layer: int = 8,
                      min_count: int = 2, max_pairs: int | None = None, batch_size: int = 32,
                      progress: bool = True, coverage_text: str | Path | None = None) -> Path:
    """Write ``OUT/en-<code>.txt`` per language and ``OUT/manifest.json``."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: choose a new (or empty) folder; nothing in it is replaced")
    try:
        reference = None if coverage_text is None else read_lines(Path(coverage_text))
    except DataError as error:
        raise DataError(f"--coverage-text: {error}") from None
    # transformers: slow to import, so only when the command runs
    from .modeling.build import load_encoder, load_tokenizer
    model, tokenizer = load_encoder(encoder), load_tokenizer(encoder)
    layers = getattr(model.config, "num_hidden_layers", None)
    if layers is not None and not 0 <= layer <= layers:
        raise ConfigError(f"--layer {layer}: {encoder} has layers 0 (embeddings) to {layers}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device).eval()
    manifest: dict = {"encoder": encoder, "layer": layer, "min_count": min_count, "method":
                      "SimAlign ArgMax (mutual argmax of mean-piece hidden states), counted over the pairs",
                      "pairs": pairs_root, "languages": {}}
    out.mkdir(parents=True, exist_ok=True)
    for language in languages:
        language = normalize_language(language, field="--languages")
        pairs = load_pairs(pairs_root, language).head(max_pairs)
        word_list, record = induce(model, tokenizer, pairs.source, pairs.target, layer, min_count,
                                   batch_size=batch_size, device=device, progress=progress)
        path = out / f"en-{iso639_1(language)}.txt"
        atomic_write_text(path, "".join(f"{en}\t{t}\n" for en, found in word_list.items() for t in found))
        manifest["languages"][language] = {
            "file": path.name, "origin": pairs.origin, **record,
            "coverage": coverage(word_list, pairs.source, f"{pairs.origin} (English side)") if reference is None
            else coverage(word_list, reference, str(coverage_text))}
        atomic_write_json(out / "manifest.json", manifest)
    return out


def cmd_induce(args: argparse.Namespace) -> int:
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    out = induce_word_lists(args.pairs, args.model, languages, args.out, args.layer, args.min_count, args.max_pairs,
                            progress=not args.no_progress, coverage_text=args.coverage_text)

    for language, entry in read_json(out / "manifest.json")["languages"].items():
        covered = entry["coverage"]
        print(f"{language}: {entry['entries']} pairs for {entry['english_words']} English words from "
              f"{entry['pairs_with_words']} sentence pairs → {out / entry['file']}; covers "
              f"{covered['share']:.1%} of the {covered['words']} words of {covered['text']}")
    print(f"use it: --set \"data.code_switch.dictionaries={out}/en-{{code}}.txt\"")
    return 0


def register(subparsers) -> None:
    """``xlingual induce-word-list``."""
    p = subparsers.add_parser(
        "induce-word-list", help="a bilingual word list from translation pairs (SimAlign-style, no dictionary)",
        description="Align the words of English–target translation pairs with the encoder's own contextual "
                    "embeddings (mutual argmax at a middle layer) and keep each English word's most often aligned "
                    "translations: a word list in the layout data.code_switch reads.")
    p.add_argument("pairs", help="translation pairs: a Tatoeba-style folder, a TSV file or a {language} template")
    p.add_argument("--model", required=True, help="the encoder (hub id or local folder), e.g. the recipe's")
    p.add_argument("--languages", required=True, help="comma-separated target languages")
    p.add_argument("--out", required=True, help="a new folder for en-<code>.txt and manifest.json")
    p.add_argument("--layer", type=int, default=8, help="hidden layer to align with (SimAlign's choice: 8)")
    p.add_argument("--min-count", type=int, default=2, help="times a word pair must align to be kept")
    p.add_argument("--max-pairs", type=int, help="read at most this many pairs per language")
    p.add_argument("--coverage-text", help="an English text file (one text a line), e.g. the training text to "
                                           "code-switch: report the share of its words each list covers (default: "
                                           "the pairs' English side)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_induce)
