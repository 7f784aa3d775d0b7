"""Fabricated run folders with known numbers, for the compare, comparability and plot tests."""

from __future__ import annotations

import json
from pathlib import Path

from xlingual.io import atomic_write_json, atomic_write_text
from xlingual.metrics.classification import classification_metrics, transfer_summary

LABELS = ["negative", "neutral", "positive"]

def right_then_wrong(n: int, n_right: int) -> tuple[list[int], list[int]]:
    """Gold cycling 0,1,2 and a prediction right on the first ``n_right`` examples, off by one class after."""
    gold = [i % 3 for i in range(n)]
    pred = [g if i < n_right else (g + 1) % 3 for i, g in enumerate(gold)]
    return gold, pred

def write_run(folder: Path, recipe: str, seed: int, right: dict[str, int], n: int = 10, source: str = "english",
              scheme: tuple[str, list[str]] = ("sentiment3", LABELS),
              target_resources: tuple[str, ...] = ("zero-shot",), model_selection: str = "source-dev",
              test_files: dict[str, str] | None = None, alignment: bool = False) -> Path:
    """A finished run folder: results.json, predictions/<lang>.test.jsonl, logs/train_log.jsonl."""
    name, names = scheme
    languages = {}
    for language, n_right in right.items():
        gold, pred = right_then_wrong(n, n_right)
        gold = [g % len(names) for g in gold]
        pred = [p % len(names) for p in pred]
        metrics = classification_metrics(gold, pred, names)
        metrics["role"] = "source" if language == source else "target"
        languages[language] = metrics
        prefix = (test_files or {}).get(language, "text")  # another test file means other texts
        lines = [json.dumps({"index": i, "text": f"{prefix} {i}", "label": names[g], "prediction": names[p],
                             "probabilities": [1.0 if c == p else 0.0 for c in range(len(names))]})
                 for i, (g, p) in enumerate(zip(gold, pred, strict=True))]
        atomic_write_text(folder / "predictions" / f"{language}.test.jsonl", "\n".join(lines) + "\n")
    files = {lang: f"data/{lang}/test.txt" for lang in right}
    files.update(test_files or {})
    log = []
    for step in range(1, 7):
        record = {"task": 1.0 / step, "total": 1.0 / step, "step": step, "epoch": step / 3, "lr": 1e-5}
        if alignment:
            record.update(mmd=0.5 / step, mmd_weight=0.1, total=1.0 / step + 0.05 / step)
        log.append(record)
        if step % 3 == 0:
            log.append({"epoch": step // 3, "step": step, "selection_macro_f1": 0.4 + 0.1 * step / 3,
                        "selection_accuracy": 0.5})
    atomic_write_text(folder / "logs" / "train_log.jsonl", "\n".join(json.dumps(r) for r in log) + "\n")
    results = {
        "status": "complete", "recipe": recipe, "method": "full", "seed": seed, "source_language": source,
        "target_languages": [lang for lang in right if lang != source],
        "label_scheme": {"name": name, "names": names},
        "protocol": {"target_resources": list(target_resources), "model_selection": model_selection,
                     "files": {"train": "data/english/train.txt"}},
        "splits": {"test": {"languages": languages, "summary": transfer_summary(languages, source),
                            "test_files": files}},
    }
    atomic_write_json(folder / "results.json", results)
    return folder

# accuracy = n_right / 10 per seed; chosen so means and standard deviations are easy by hand
BASE = {1: {"english": 9, "spanish": 6}, 2: {"english": 8, "spanish": 5}, 3: {"english": 7, "spanish": 4}}

ALIGN = {1: {"english": 9, "spanish": 7}, 2: {"english": 9, "spanish": 8}, 3: {"english": 9, "spanish": 9}}


def make_sweep(tmp_path: Path) -> Path:
    """sweep/<recipe>/seed<N>/: 2 recipes x 3 seeds x 2 languages (depth 2 below the sweep folder)."""
    root = tmp_path / "sweep"
    for seed, right in BASE.items():
        write_run(root / "base" / f"seed{seed}", "base", seed, right)
    for seed, right in ALIGN.items():
        write_run(root / "align" / f"seed{seed}", "align", seed, right, alignment=True)
    return root
