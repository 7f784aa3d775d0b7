"""Measurement tooling for the unlabeled-target-text tables (recipes/README.md), not part of the product.

``skew``: draws each target language's train pool to a fixed class mix (e.g. 50/25/25), once, with the
dropped labels (their only use), into a UMSAB-layout folder that ``xlingual pseudo-label --set data.root=…``
reads, so a method can be checked on target text whose classes are not balanced.

``accuracy``: how many pseudo-labels per language and class were kept, and how many are right, looked up by
text in the split's dropped labels. Analysis after the fact only: nothing reads it to choose anything.

    python benchmarks/pseudo_label_pools.py skew ../shared/data/umsab --mix 50,25,25 --out pools/skew-50-25-25
    python benchmarks/pseudo_label_pools.py accuracy PSEUDO_DIR --data ../shared/data/umsab
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter, defaultdict
from pathlib import Path

SEED = 20261206


def read(path: Path) -> list[str]:
    """The lines of a file with no final newline (an empty file has none)."""
    text = path.read_text(encoding="utf-8")
    return text.split("\n") if text else []


def skew(root: Path, mix: list[float], out: Path, languages: list[str], seed: int = SEED) -> dict:
    """The largest pool per language with classes in proportion ``mix``, drawn with a fixed seed."""
    total = sum(mix)
    shares = [m / total for m in mix]
    record = {"mix": shares, "seed": seed, "languages": {}}
    for language in languages:
        texts, labels = read(root / language / "train_text.txt"), [int(x) for x in read(root / language /
                                                                                      "train_labels.txt")]
        by_class: dict[int, list[int]] = defaultdict(list)
        for index, label in enumerate(labels):
            by_class[label].append(index)
        size = min(int(len(by_class[c]) / share) for c, share in enumerate(shares) if share > 0)
        rng = random.Random(f"{seed}:{language}")
        chosen = sorted(i for c, share in enumerate(shares) for i in rng.sample(by_class[c], round(size * share)))
        folder = out / language
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "train_text.txt").write_text("\n".join(texts[i] for i in chosen), encoding="utf-8")
        (folder / "train_labels.txt").write_text("\n".join(str(labels[i]) for i in chosen), encoding="utf-8")
        record["languages"][language] = dict(sorted(Counter(labels[i] for i in chosen).items()))
    (out / "pool.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return record


def accuracy(pseudo: Path, data: Path, split: str = "train") -> dict:
    """Per language: kept per class, and the share whose pseudo-label equals the dropped label."""
    report = {}
    for folder in sorted(p for p in pseudo.iterdir() if (p / "train_text.txt").is_file()):
        gold: dict[str, set[int]] = defaultdict(set)
        for text, label in zip(read(data / folder.name / f"{split}_text.txt"),
                               read(data / folder.name / f"{split}_labels.txt"), strict=True):
            gold[text].add(int(label))
        kept = read(folder / "train_text.txt")
        predicted = [int(x) for x in read(folder / "train_labels.txt")]
        per_class: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for text, label in zip(kept, predicted, strict=True):
            per_class[label][0] += 1
            per_class[label][1] += gold.get(text) == {label}
        right = sum(v[1] for v in per_class.values())
        report[folder.name] = {"kept": len(predicted), "correct": round(right / max(len(predicted), 1), 4),
                               "per_class": {c: {"kept": v[0], "correct": round(v[1] / max(v[0], 1), 4)}
                                             for c, v in sorted(per_class.items())}}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("skew")
    p.add_argument("root")
    p.add_argument("--mix", required=True, help="class shares, e.g. 50,25,25")
    p.add_argument("--out", required=True)
    p.add_argument("--languages", default="arabic,french,german,hindi,italian,portuguese,spanish")
    a = sub.add_parser("accuracy")
    a.add_argument("pseudo")
    a.add_argument("--data", default="../shared/data/umsab")
    args = parser.parse_args()
    if args.command == "skew":
        result = skew(Path(args.root), [float(x) for x in args.mix.split(",")], Path(args.out),
                      args.languages.split(","))
    else:
        result = accuracy(Path(args.pseudo), Path(args.data))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
