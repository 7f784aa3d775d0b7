"""Alignment diagnostics: how well a model's sentence space lines languages up.

Macro-F1 on the target languages says *whether* transfer worked; these numbers say *why*.
Run ``xlingual diagnose`` on the untrained encoder and on a trained run with the same
translation pairs and compare: translation retrieval, cosine of true vs random pairs and
CKA show whether training pulled translations together or apart, and the language-ID
probe shows how much of the language still shows in the embeddings (lower is more
language-neutral). A 2-D PCA plot shows the same at a glance.

The metric functions are pure (embedding matrices in, numbers out) so they can be tested
on toy matrices and reused in notebooks. Heavy libraries are imported inside functions so
that ``xlingual --help`` stays fast.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import DataConfig, load_recipe
from ..data.loading import label_scheme, load_examples
from ..data.pairs import load_pairs
from ..errors import CheckpointError, ConfigError, DataError
from ..io import atomic_write_bytes, atomic_write_json, json_ready, looks_local
from ..labels import LabelScheme
from ..languages import normalize_language
from ..run_folder import CHECKPOINT, CONFIG

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ..inference import Classifier

    Matrix = torch.Tensor | np.ndarray

DIAGNOSTICS_JSON = "diagnostics.json"
PCA_PNG = "pca.png"
DEFAULT_LANGUAGES = ["arabic", "french", "german", "hindi", "italian", "portuguese", "spanish"]
"""UMSAB's target languages: the default when neither ``--languages`` nor a run's recipe says."""
PLOT_PER_LANGUAGE = 200
SOURCE_LANGUAGE = "english"


# ----------------------------------------------------------------------------- metrics


def _as_float64(x: Matrix) -> torch.Tensor:
    """A detached CPU float64 matrix, whatever came in (torch or numpy)."""
    # torch: slow to import, and this module works without it
    import torch

    tensor = x.detach().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    tensor = tensor.to(torch.float64)
    if tensor.ndim != 2:
        raise ValueError(f"expected an (n, d) matrix, got shape {tuple(tensor.shape)}")
    return tensor


def _paired(a: Matrix, b: Matrix, same_width: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _as_float64(a), _as_float64(b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"paired matrices need the same number of rows, got {a.shape[0]} and {b.shape[0]}")
    if same_width and a.shape[1] != b.shape[1]:
        raise ValueError(f"matrices need the same width, got {a.shape[1]} and {b.shape[1]}")
    return a, b


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    # torch: slow to import, and this module works without it
    import torch

    return torch.nn.functional.normalize(x, dim=1, eps=1e-12)


def retrieval_accuracy(a: Matrix, b: Matrix, chunk: int = 1024) -> float:
    """Accuracy@1 of finding ``b[i]`` as ``a[i]``'s cosine nearest neighbour among all rows of ``b``.

    The standard bitext-mining check (as in LASER's Tatoeba evaluation): translations must be
    closer to each other than to any other sentence. Call it both ways; it is not symmetric.
    """
    # torch: slow to import, and this module works without it
    import torch

    a, b = _paired(a, b)
    if a.shape[0] == 0:
        raise ValueError("retrieval needs at least one pair")
    a, b = _unit_rows(a), _unit_rows(b)
    correct = 0
    for start in range(0, a.shape[0], chunk):  # chunks keep memory at chunk × n, not n × n
        nearest = (a[start:start + chunk] @ b.T).argmax(dim=1)
        correct += int((nearest == torch.arange(start, start + nearest.shape[0])).sum())
    return correct / a.shape[0]


def mean_cosine_true_vs_random(a: Matrix, b: Matrix, seed: int = 0) -> tuple[float, float]:
    """Mean cosine of true pairs ``(a[i], b[i])`` and of random non-matching pairs ``(a[i], b[j≠i])``.

    The random baseline matters: anisotropic encoders give every pair a high cosine, so
    only the gap between the two says whether translations are closer than chance.
    """
    # torch: slow to import, and this module works without it
    import torch

    a, b = _paired(a, b)
    n = a.shape[0]
    if n < 2:
        raise ValueError("random non-matching pairs need at least two pairs")
    a, b = _unit_rows(a), _unit_rows(b)
    true = (a * b).sum(dim=1).mean()
    generator = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, n, (n,), generator=generator)  # 1..n-1: never the row's own partner
    partner = (torch.arange(n) + shift) % n
    other = (a * b[partner]).sum(dim=1).mean()
    return float(true), float(other)


def linear_cka(a: Matrix, b: Matrix) -> float:
    """Linear centred kernel alignment (Kornblith et al., 2019) of two paired representations.

    ``||Yᵀ X||²_F / (||Xᵀ X||_F ||Yᵀ Y||_F)`` on column-centred data, in float64: 1 when one
    space is a rotation and scaling of the other, near 0 for unrelated ones. The widths
    may differ. ``nan`` when either side is constant (no variance to compare).
    """
    x, y = _paired(a, b, same_width=False)
    x = x - x.mean(dim=0, keepdim=True)
    y = y - y.mean(dim=0, keepdim=True)
    if x.shape[0] < max(x.shape[1], y.shape[1]):  # Gram form: the same value, cheaper when n < d
        gx, gy = x @ x.T, y @ y.T
        cross, norm_x, norm_y = (gx * gy).sum(), gx.norm(), gy.norm()
    else:
        cross = (y.T @ x).norm() ** 2
        norm_x, norm_y = (x.T @ x).norm(), (y.T @ y).norm()
    denominator = float(norm_x * norm_y)
    return float(cross) / denominator if denominator > 0 else math.nan


def _stratified_split(counts: Sequence[int], seed: int, train_share: float) -> tuple[list[int], list[int]]:
    """Row indices for a seeded 70/30 split within every class, so each language is in both parts."""
    rng = random.Random(seed)
    train, test = [], []
    offset = 0
    for count in counts:
        rows = list(range(offset, offset + count))
        rng.shuffle(rows)
        cut = min(max(1, round(train_share * count)), count - 1)
        train += rows[:cut]
        test += rows[cut:]
        offset += count
    return sorted(train), sorted(test)


def language_id_probe_accuracy(embeddings_by_language: dict[str, Matrix], seed: int = 0, steps: int = 100,
                               l2: float = 1e-3, train_share: float = 0.7) -> float:
    """Held-out accuracy of a linear classifier that guesses the language from an embedding.

    Multinomial logistic regression (standardised features, L2, ``steps`` LBFGS iterations
    from zero weights: deterministic) on a seeded stratified 70/30 split. Near chance means
    the space carries little language identity; near 1 means languages sit apart.
    """
    # torch: slow to import, and this module works without it
    import torch

    if len(embeddings_by_language) < 2:
        raise ValueError("the language-ID probe needs at least two languages")
    matrices = [_as_float64(m) for m in embeddings_by_language.values()]
    widths = {m.shape[1] for m in matrices}
    if len(widths) != 1:
        raise ValueError(f"every language needs embeddings of the same width, got {sorted(widths)}")
    counts = [m.shape[0] for m in matrices]
    if min(counts) < 2:
        raise ValueError("the language-ID probe needs at least two sentences per language")
    features = torch.cat(matrices)
    labels = torch.cat([torch.full((n,), k, dtype=torch.long) for k, n in enumerate(counts)])
    train, test = _stratified_split(counts, seed, train_share)
    x_train, x_test = features[train], features[test]
    mean, std = x_train.mean(dim=0), x_train.std(dim=0).clamp_min(1e-8)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    weight = torch.zeros(features.shape[1], len(counts), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(len(counts), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")
    y_train = labels[train]

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x_train @ weight + bias, y_train) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        predicted = (x_test @ weight + bias).argmax(dim=1)
    return float((predicted == labels[test]).double().mean())


def _pca(x: Matrix, components: int = 2) -> tuple[torch.Tensor, list[float]]:
    """Projections onto the top principal components and the share of variance each explains."""
    # torch: slow to import, and this module works without it
    import torch

    x = _as_float64(x)
    centred = x - x.mean(dim=0, keepdim=True)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    axes = vh[:components]
    # SVD signs are arbitrary: make each axis's largest loading positive so plots are reproducible
    signs = torch.sign(axes.gather(1, axes.abs().argmax(dim=1, keepdim=True))).clamp_min(0) * 2 - 1
    axes = axes * signs
    projected = centred @ axes.T
    if projected.shape[1] < components:  # fewer dimensions than asked for: pad with zeros
        projected = torch.cat([projected, projected.new_zeros(x.shape[0], components - projected.shape[1])], 1)
    variance = singular.pow(2)
    total = float(variance.sum())
    shares = [float(v) / total if total > 0 else 0.0 for v in variance[:components]]
    return projected, shares + [0.0] * (components - len(shares))


def pca_2d(x: Matrix) -> torch.Tensor:
    """``(n, 2)`` coordinates of the centred rows on the two largest-variance directions (float64)."""
    return _pca(x, 2)[0]


# ----------------------------------------------------------------------------- models


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path / 'config.json'}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path / 'config.json'}: not a model config (expected a JSON object)")
    return data


def is_xlingual(path: str | Path) -> bool:
    """True for an xlingual run folder or checkpoint; False for anything else (plain encoder, hub id)."""
    path = Path(path).expanduser()
    if (path / CHECKPOINT / "config.json").is_file():
        return True
    return (path / "config.json").is_file() and _read_config(path).get("model_type") == "xlingual"


def load_embedder(path: str | Path, text_prefix: str | None = None) -> Classifier:
    """A :class:`~xlingual.inference.Classifier` whose ``embed`` gives the sentence space to diagnose.

    An xlingual run or checkpoint loads as trained (with its own text prefix unless
    ``text_prefix`` is given). A plain Hugging Face encoder (folder or hub id) gets an
    untrained head and mean pooling, exactly as a recipe would start from it: that is the
    "before training" side of a comparison. e5 models expect ``text_prefix="query: "``.
    """
    # torch and transformers: slow to import, so only when a model is loaded (plots need neither)
    from ..inference import Classifier, load

    name = str(path)
    if looks_local(name):
        folder = Path(name).expanduser()
        if not folder.exists():
            raise CheckpointError(f"model or run folder not found: {name}")
        if not folder.is_dir():
            raise CheckpointError(f"{name}: not a folder; give a run folder, checkpoint or Hugging Face model folder")
        if not (folder / "config.json").is_file() and not (folder / CHECKPOINT / "config.json").is_file():
            raise CheckpointError(f"{name}: no config.json (nor checkpoint/config.json); not a run folder, "
                                  "checkpoint or Hugging Face model folder")
        if is_xlingual(folder):
            classifier = load(folder)
            if text_prefix is not None:
                classifier.text_prefix = text_prefix
            return classifier
    return Classifier(*_untrained(name, text_prefix or ""))


def _untrained(name: str, text_prefix: str):
    """The model a recipe would start from: pretrained encoder, new head, mean pooling."""
    # transformers: slow to import, only when a model is loaded
    from transformers import AutoConfig

    from ..modeling.build import build_model, position_limit  # transformers: only when a model is built

    try:
        encoder_config = AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"could not load the model config of '{name}': {first}") from None
    limit = position_limit(encoder_config)
    max_length = min(128, limit) if limit else 128
    recipe = load_recipe(None, [f"model.name={name}", "model.pooling=mean", f"model.max_length={max_length}"])
    recipe.model.text_prefix = text_prefix  # set directly: a value like "query: " is not YAML-safe in an override
    return build_model(recipe, LabelScheme.build("sentiment3"))


def default_out_dir(path: str | Path) -> Path:
    """``<run>/diagnostics`` for a run folder (or its checkpoint); ``./diagnostics-<name>`` otherwise."""
    folder = Path(path).expanduser()
    if (folder / CHECKPOINT / "config.json").is_file():
        return folder / "diagnostics"
    if folder.name == CHECKPOINT and (folder.parent / CONFIG).is_file():
        return folder.parent / "diagnostics"
    name = folder.resolve().name if folder.exists() else str(path).rstrip("/").split("/")[-1]
    return Path(f"diagnostics-{name or 'model'}")


def _run_languages(path: str | Path) -> list[str] | None:
    """The target languages of a run's recipe, so a run is diagnosed on the languages it was trained for."""
    # yaml: only when a file is written
    import yaml

    folder = Path(path).expanduser()
    for config in (folder / "config.yaml", folder.parent / "config.yaml"):
        if config.is_file() and (config.parent / CHECKPOINT).is_dir():
            try:
                data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
                languages = data.get("data", {}).get("target_languages")
            except (OSError, yaml.YAMLError, AttributeError):
                return None
            return list(languages) if isinstance(languages, list) and languages else None
    return None


# ----------------------------------------------------------------------------- diagnose


def _select_pairs(pairs_root: str | Path, languages: Sequence[str] | None, path: str | Path, max_pairs: int):
    """Pairs per language: named languages must exist; default ones are taken where present."""
    explicit = languages is not None
    wanted = [normalize_language(lang, field="--languages") for lang in languages] if explicit else (
        [normalize_language(lang) for lang in _run_languages(path) or DEFAULT_LANGUAGES])
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


def plot_pca(embeddings: Matrix, languages: Sequence[str], labels: Sequence[str] | None, path: str | Path,
             title: str = "2-D PCA of sentence embeddings", label_order: Sequence[str] | None = None) -> list[float]:
    """Scatter the 2-D PCA, one colour per language and (with labels) one marker per label; returns variance shares.

    Drawn on an Agg canvas (no pyplot), like :mod:`xlingual.reports.plots`.
    """

    # matplotlib: slow to import, only when a figure is drawn
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    coordinates, shares = _pca(embeddings, 2)
    points = coordinates.numpy()
    figure = Figure(figsize=(8.5, 6.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    palette = colormaps["tab10"]
    markers = ["o", "^", "s", "D", "v", "P", "X", "*"]
    label_names = [*dict.fromkeys([*(label_order or []), *labels])] if labels else [None]
    for i, language in enumerate(dict.fromkeys(languages)):
        for j, label in enumerate(label_names):
            rows = [k for k, lang in enumerate(languages) if lang == language and (label is None or labels[k] == label)]
            if rows:
                axes.scatter(points[rows, 0], points[rows, 1], s=14, alpha=0.6, color=palette(i % 10),
                             marker=markers[j % len(markers)], linewidths=0,
                             label=language if label is None else f"{language} · {label}")
    axes.set_xlabel(f"PC1 ({100 * shares[0]:.1f}% of variance)")
    axes.set_ylabel(f"PC2 ({100 * shares[1]:.1f}% of variance)")
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, markerscale=1.5, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False,
                ncol=2 if len(languages) and labels else 1)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
    return shares


# ----------------------------------------------------------------------------- CLI


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def diagnostics_markdown(result: dict[str, Any]) -> str:
    """The per-language table and the probe line, as printed by ``xlingual diagnose``."""
    lines = ["| language | retrieval@1 en→x | x→en | cos true | cos random | CKA |", "|---|---|---|---|---|---|"]
    rows = [*result["languages"].items()]
    if len(rows) > 1:
        rows.append(("**average**", result["average"]))
    for language, row in rows:
        cells = [row["retrieval_at_1_en_to_x"], row["retrieval_at_1_x_to_en"], row["cosine_true"],
                 row["cosine_random"], row["cka"]]
        lines.append(f"| {language} | " + " | ".join(_cell(c) for c in cells) + " |")
    probe = result["language_id_probe"]
    lines.append("")
    lines.append(f"language-ID probe accuracy: {_cell(probe['accuracy'])} over {len(probe['languages'])} languages "
                 f"(majority baseline {_cell(probe['majority_baseline'])}; lower = more language-neutral)")
    if result.get("skipped_languages"):
        lines.append(f"skipped (no translation pairs): {', '.join(result['skipped_languages'])}")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``diagnose`` to the ``xlingual`` command line."""
    p = subparsers.add_parser(
        "diagnose", help="measure cross-lingual alignment of a run or encoder (retrieval, CKA, language-ID probe)",
        description="Embed English–X translation pairs with a trained run, or with a plain Hugging Face encoder as\n"
                    "it is before training, and report per language: translation retrieval accuracy@1 both ways,\n"
                    "mean cosine of true vs random pairs, and linear CKA between the English and X embeddings;\n"
                    "overall, the held-out accuracy of a linear probe that guesses the language (lower = more\n"
                    "language-neutral). Writes diagnostics.json and a 2-D PCA plot, pca.png.\n\n"
                    "Run it on the encoder and on the trained run, with the same pairs, to see what the recipe did\n"
                    "to the shared space.",
        epilog="examples:\n"
               "  xlingual diagnose /tmp/e5-small --pairs ../shared/data/tatoeba --text-prefix 'query: '\n"
               "  xlingual diagnose runs/umsab_e5small-seed1 --pairs ../shared/data/tatoeba "
               "--data ../shared/data/umsab",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="RUN_OR_MODEL",
                   help="xlingual run folder or checkpoint, or a Hugging Face encoder folder or hub id")
    p.add_argument("--pairs", required=True, metavar="PATH",
                   help="translation pairs: a Tatoeba-style folder (tatoeba.spa-eng.spa / .eng), a TSV file, or a "
                        "path template with {language} or {iso3}")
    p.add_argument("--languages", metavar="LIST",
                   help="comma-separated languages, e.g. spanish,german (default: the run's target languages, or "
                        "UMSAB's for an encoder; those without pairs are skipped)")
    p.add_argument("--data", metavar="DIR",
                   help="UMSAB-style data folder: the PCA plot then shows its test sentences marked by sentiment "
                        "(default: the pair sentences)")
    p.add_argument("--max-pairs", type=int, default=1000, metavar="N",
                   help="use the first N pairs per language (default: 1000)")
    p.add_argument("--text-prefix", metavar="TEXT",
                   help="prepended to every sentence, e.g. 'query: ' for e5 encoders (default: a run's own prefix; "
                        "none for an encoder)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random pairs, probe split and plot sample")
    p.add_argument("--out", metavar="DIR",
                   help="folder for diagnostics.json and pca.png (default: <run>/diagnostics for a run, "
                        "./diagnostics-<name> for an encoder)")
    p.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_diagnose)
    return p


def cmd_diagnose(args: argparse.Namespace) -> int:
    """Print the diagnostics table (or JSON) and the files written."""
    languages = [part.strip() for part in args.languages.split(",") if part.strip()] if args.languages else None
    if args.languages is not None and not languages:
        raise ConfigError("--languages: give a comma-separated list, e.g. spanish,german")
    result = diagnose(args.model, args.pairs, languages, data_root=args.data, max_pairs=args.max_pairs,
                      out=args.out, seed=args.seed, text_prefix=args.text_prefix,
                      progress=not getattr(args, "no_progress", False))
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    print(diagnostics_markdown(result))
    for path in result["written"]:
        print(f"wrote {path}")
    return 0
