"""``diagnose``: embed translation pairs with a model and measure how well its sentence space lines languages up."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...config import DataConfig
from ...data.loading import label_scheme, load_examples
from ...data.pairs import load_pairs
from ...errors import ConfigError, DataError
from ...io import atomic_write_json, json_ready, looks_local
from ...languages import normalize_language
from .measures import language_id_probe_accuracy, linear_cka, mean_cosine_true_vs_random, retrieval_accuracy
from .models import default_out_dir, is_xlingual, load_embedder, run_languages
from .plots import plot_pca

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ...inference import Classifier

    Matrix = torch.Tensor | np.ndarray


DIAGNOSTICS_JSON = "diagnostics.json"
PCA_PNG = "pca.png"
DEFAULT_LANGUAGES = ["arabic", "french", "german", "hindi", "italian", "portuguese", "spanish"]
"""UMSAB's target languages: the default when neither ``--languages`` nor a run's recipe says."""
PLOT_PER_LANGUAGE = 200
SOURCE_LANGUAGE = "english"


# ----------------------------------------------------------------------------- diagnose


def _select_pairs(pairs_root: str | Path, languages: Sequence[str] | None, path: str | Path, max_pairs: int):
    """Pairs per language: named languages must exist; default ones are taken where present."""
    explicit = languages is not None
    wanted = [normalize_language(lang, field="--languages") for lang in languages] if explicit else (
        [normalize_language(lang) for lang in run_languages(path) or DEFAULT_LANGUAGES])
    wanted = [lang for lang in dict.fromkeys(wanted) if lang != SOURCE_LANGUAGE]
    if not wanted:
        raise ConfigError("--languages: name at least one language other than English")
    if not Path(str(pairs_root)).exists() and "{" not in str(pairs_root):
        raise DataError(f"translation-pair folder not found: {pairs_root}")
    selected, skipped = {}, []
    for language in wanted:
        try:
            pairs = load_pairs(pairs_root, language).head(max_pairs)
        except DataError:
            if explicit:
                raise
            skipped.append(language)
            continue
        if len(pairs) < 2:
            raise DataError(f"{pairs.origin}: {len(pairs)} translation pair(s); diagnostics need at least 2")
        selected[language] = pairs
    if not selected:
        raise DataError(f"{pairs_root}: no translation pairs for any of {', '.join(wanted)}; "
                        "pass --languages with languages that have pair files there")
    return selected, skipped


def _balanced_english(pairs_by_language: dict[str, Any], size: int, seed: int) -> list[str]:
    """English sentences from every language's pairs, deduplicated and cut to ``size`` (classes balanced)."""
    english = list(dict.fromkeys(s for pairs in pairs_by_language.values() for s in pairs.source))
    if len(english) > size:
        english = [english[i] for i in sorted(random.Random(seed).sample(range(len(english)), size))]
    return english


def _subsample(items: Sequence[Any], limit: int, seed: int) -> list[int]:
    if len(items) <= limit:
        return list(range(len(items)))
    return sorted(random.Random(seed).sample(range(len(items)), limit))


def diagnose(path: str | Path, pairs_root: str | Path, languages: Sequence[str] | None = None,
             data_root: str | Path | None = None, max_pairs: int = 1000, out: str | Path | None = None,
             seed: int = 0, text_prefix: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Measure cross-lingual alignment of a run or encoder; write ``diagnostics.json`` and ``pca.png``.

    ``languages=None`` uses the run's target languages (or UMSAB's for a plain encoder),
    skipping any without pairs. ``text_prefix=None`` keeps a run's own prefix ("" for a
    plain encoder). Returns the JSON's content, with ``written`` listing the files.
    """
    # torch: slow to import, and this module works without it
    import torch
    from tqdm.auto import tqdm

    if max_pairs < 2:
        raise ConfigError(f"--max-pairs: must be at least 2, got {max_pairs}")
    if data_root is not None and not Path(data_root).is_dir():
        raise DataError(f"--data: UMSAB-style data folder not found: {data_root}")
    selected, skipped = _select_pairs(pairs_root, languages, path, max_pairs)
    out = Path(out) if out is not None else default_out_dir(path)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out: {out} exists and is not a folder")
    kind = "run" if looks_local(str(path)) and is_xlingual(path) else "encoder"
    classifier = load_embedder(path, text_prefix)

    per_language: dict[str, dict[str, Any]] = {}
    embedded: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for language in tqdm(list(selected), desc="diagnose", unit="language", disable=not progress, leave=False):
        pairs = selected[language]
        english, other = classifier.embed(pairs.source), classifier.embed(pairs.target)
        embedded[language] = (english, other)
        cos_true, cos_random = mean_cosine_true_vs_random(english, other, seed)
        per_language[language] = {
            "pairs": len(pairs), "origin": pairs.origin,
            "retrieval_at_1_en_to_x": retrieval_accuracy(english, other),
            "retrieval_at_1_x_to_en": retrieval_accuracy(other, english),
            "cosine_true": cos_true, "cosine_random": cos_random, "cosine_gap": cos_true - cos_random,
            "cka": linear_cka(english, other),
        }

    size = max(len(p) for p in selected.values())
    english_texts = _balanced_english(selected, size, seed)
    english_rows = {text: matrix[i] for language, (matrix, _) in embedded.items()
                    for i, text in enumerate(selected[language].source)}  # already embedded: no second pass
    probe_inputs = {SOURCE_LANGUAGE: torch.stack([english_rows[text] for text in english_texts]),
                    **{language: embedded[language][1] for language in selected}}
    probe = language_id_probe_accuracy(probe_inputs, seed)
    counts = [m.shape[0] for m in probe_inputs.values()]
    keys = ("retrieval_at_1_en_to_x", "retrieval_at_1_x_to_en", "cosine_true", "cosine_random", "cosine_gap", "cka")
    average = {k: sum(row[k] for row in per_language.values()) / len(per_language) for k in keys}

    plot_source, plot = _plot_data(classifier, probe_inputs, selected, data_root, seed)
    title = f"{Path(str(path)).name or path}: 2-D PCA of sentence embeddings ({plot_source})"
    shares = plot_pca(plot["embeddings"], plot["languages"], plot["labels"], out / PCA_PNG, title,
                      plot.get("label_order"))
    result: dict[str, Any] = {
        "model": str(path), "kind": kind, "text_prefix": classifier.text_prefix, "pairs_root": str(pairs_root),
        "max_pairs": max_pairs, "seed": seed, "languages": per_language, "average": average,
        "skipped_languages": skipped,
        "language_id_probe": {
            "accuracy": probe, "languages": list(probe_inputs), "sentences": counts,
            "majority_baseline": max(counts) / sum(counts),
            "method": "multinomial logistic regression (LBFGS, L2 1e-3, 100 steps) on a seeded stratified "
                      "70/30 split of the pair sentences; lower = more language-neutral",
        },
        "pca": {"source": plot_source, "points": int(plot["embeddings"].shape[0]), "explained_variance": shares},
    }
    result = json_ready(result)
    written = [str(out / DIAGNOSTICS_JSON), str(out / PCA_PNG)]
    result["written"] = written
    atomic_write_json(out / DIAGNOSTICS_JSON, result)
    return result


def _plot_data(classifier: Classifier, probe_inputs: dict[str, torch.Tensor], selected: dict[str, Any],
               data_root: str | Path | None, seed: int) -> tuple[str, dict[str, Any]]:
    """Embeddings for the PCA plot: labelled test sentences when ``data_root`` is given, else pair sentences."""
    # torch: slow to import, and this module works without it
    import torch

    embeddings, languages, labels = [], [], []
    if data_root is None:
        for language, matrix in probe_inputs.items():
            rows = _subsample(range(matrix.shape[0]), PLOT_PER_LANGUAGE, seed)
            embeddings.append(matrix[rows])
            languages += [language] * len(rows)
        return "translation pairs", {"embeddings": torch.cat(embeddings), "languages": languages, "labels": None}

    config = DataConfig(root=str(data_root))
    names = label_scheme(config).names
    for language in [SOURCE_LANGUAGE, *selected]:
        examples = load_examples(config, language, "test").subsample(PLOT_PER_LANGUAGE, seed)
        embeddings.append(classifier.embed(examples.texts))
        languages += [language] * len(examples)
        labels += [names[label] for label in examples.labels or []]
    return f"{Path(data_root).name} test split", {"embeddings": torch.cat(embeddings), "languages": languages,
                                                  "labels": labels, "label_order": list(names)}
