"""Long texts: what ``data.truncation`` (head, tail, head+tail) does to a trained run on long pseudo-documents.

We have no long-document sentiment data with a licence that lets us ship it, so this builds
pseudo-documents from UMSAB test tweets (which the run never trained on) and scores a trained
run on them with ``xlingual evaluate RUN --set data.root=DOCS --set data.truncation=S --out ...``
at ``model.max_length`` 128, each strategy on the same documents:

``same-label``  tweets of one label concatenated until the document has ``--tokens`` tokens: the
               label is spread over the whole document, so no part of it is privileged.
``verdict-end`` polar documents (negative/positive) are neutral tweets followed by two tweets of the
               document's label; neutral documents are neutral tweets only (a review that opens with
               context and closes with its verdict, the shape Sun et al. 2019 argue head+tail suits).
``verdict-start`` the same with the two labelled tweets first.

``--reference`` adds ``head`` at ``model.max_length`` 512 (nothing cut) as the ceiling.

The documents are artificial: concatenated tweets are not discourse, tweets are reused across
documents, and the verdict variants put the signal where they say by construction. They show
what each strategy keeps, not how much head+tail gains on real reviews.

    python benchmarks/long_texts.py --run RUN [--data ../shared/data/umsab] [--out DIR] [--docs 60]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

VARIANTS = ("same-label", "verdict-end", "verdict-start")
STRATEGIES = ("head", "tail", "head+tail")
LABELS = ("negative", "neutral", "positive")


def read_split(folder: Path, split: str) -> tuple[list[str], list[int]]:
    texts = (folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
    labels = [int(x) for x in (folder / f"{split}_labels.txt").read_text(encoding="utf-8").splitlines()]
    return texts, labels


def build_documents(texts: list[str], labels: list[int], variant: str, n_per_label: int, tokens: int,
                    count_tokens, seed: int) -> tuple[list[str], list[int]]:
    """``n_per_label`` documents per label, each at least ``tokens`` tokens long (tweets drawn with a seeded rng)."""
    rng = random.Random(seed)
    pools = {label: [t for t, y in zip(texts, labels, strict=True) if y == label] for label in range(3)}
    docs, doc_labels = [], []
    for label in range(3):
        for _ in range(n_per_label):
            parts: list[str] = []
            filler = pools[label] if variant == "same-label" or label == 1 else pools[1]
            verdict = [] if variant == "same-label" or label == 1 else rng.sample(pools[label], 2)
            while count_tokens(" ".join(verdict + parts)) < tokens:
                parts.append(rng.choice(filler))
            ordered = parts + verdict if variant == "verdict-end" else verdict + parts
            docs.append(" ".join(ordered))
            doc_labels.append(label)
    return docs, doc_labels


def write_umsab(root: Path, language: str, docs: list[str], labels: list[int]) -> None:
    folder = root / language
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_text.txt").write_text("\n".join(docs) + "\n", encoding="utf-8")
    (folder / "test_labels.txt").write_text("\n".join(map(str, labels)) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a run folder trained on UMSAB (tweets)")
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared" / "data" / "umsab"))
    parser.add_argument("--out", default="long_texts", help="folder for the documents and results")
    parser.add_argument("--languages", default="english,spanish,german")
    parser.add_argument("--docs", type=int, default=60, help="documents per label and language (default 60)")
    parser.add_argument("--tokens", type=int, default=300, help="minimum document length in tokens (default 300)")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--reference", action="store_true", help="also head at max_length 512 (nothing cut)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from xlingual.checkpoint import load_checkpoint_config
    from xlingual.modeling.build import load_tokenizer
    from xlingual.runner import evaluate_run

    run, data, out = Path(args.run), Path(args.data), Path(args.out)
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    _, config = load_checkpoint_config(run)
    tokenizer = load_tokenizer(config.base_model)

    def count_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    settings = [(s, args.max_length) for s in STRATEGIES] + ([("head", 512)] if args.reference else [])
    rows, records = [], []
    started = time.time()
    for variant in args.variants.split(","):
        root = out / "documents" / variant
        lengths = {}
        for index, language in enumerate(languages):
            texts, labels = read_split(data / language, "test")
            docs, doc_labels = build_documents(texts, labels, variant, args.docs, args.tokens, count_tokens,
                                               args.seed + index)
            write_umsab(root, language, docs, doc_labels)
            lengths[language] = sorted(count_tokens(d) for d in docs)[len(docs) // 2]
        for strategy, max_length in settings:
            overrides = [f"data.root={root.resolve()}", f"data.truncation={strategy}",
                         f"model.max_length={max_length}", "data.max_eval_examples=null"]
            name = f"{variant}-{strategy}-{max_length}"
            with contextlib.redirect_stderr(io.StringIO()) as err:
                result = evaluate_run(run, languages, ["test"], overrides, progress=False,
                                      out=out / "evaluations" / name)
            block = result.splits["test"]
            cut = result.truncation.splits["test"]
            record = {"variant": variant, "strategy": strategy, "max_length": max_length,
                      "median_tokens": lengths, "macro_f1": {k: v.macro_f1 for k, v in block.languages.items()},
                      "n": {k: v.n for k, v in block.languages.items()},
                      "truncated_fraction": {k: v["fraction"] for k, v in cut.items()},
                      "warnings": [line for line in err.getvalue().splitlines() if line.startswith("warning")]}
            records.append(record)
            f1 = record["macro_f1"]
            rows.append([variant, f"{strategy} @ {max_length}", *(f"{100 * f1[lang]:.1f}" for lang in languages),
                         f"{100 * sum(f1.values()) / len(f1):.1f}",
                         f"{100 * max(record['truncated_fraction'].values()):.0f}%"])
            print(" | ".join(rows[-1]), file=sys.stderr)
    header = ["documents", "truncation", *languages, "mean", "cut"]
    table = "\n".join(["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|",
                       *("| " + " | ".join(row) + " |" for row in rows)])
    summary = {"run": str(run.resolve()), "data": str(data.resolve()), "languages": languages,
               "docs_per_label": args.docs, "min_tokens": args.tokens, "seed": args.seed,
               "date": time.strftime("%Y-%m-%d", time.gmtime()), "seconds": round(time.time() - started, 1),
               "command": " ".join(["python", "benchmarks/long_texts.py", *(argv or sys.argv[1:])]),
               "results": records}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / "results.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
