"""A Hugging Face style model card (README.md with YAML front matter) for every run."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..config import RecipeConfig
from ..io import atomic_write_text
from ..languages import LANGUAGES
from ..results import Results, SplitResults


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def results_table(split_block: SplitResults) -> str:
    """Markdown table: one row per language with accuracy, macro-F1 and per-class F1."""
    languages = split_block.languages
    classes = list(next(iter(languages.values())).per_class_f1)
    head = "| language | role | n | accuracy | macro-F1 | " + " | ".join(f"F1 {c}" for c in classes) + " |"
    rows = [head, "|" + "---|" * (5 + len(classes))]
    for language, m in languages.items():
        per_class = " | ".join(_pct(m.per_class_f1[c]) for c in classes)
        rows.append(f"| {language} | {m.role or ''} | {m.n} | {_pct(m.accuracy)} | {_pct(m.macro_f1)} | {per_class} |")
    return "\n".join(rows)


def _results_section(split: str | None, block: SplitResults | None) -> str:
    if block is None:
        return "## Results\n\nNot evaluated: the run was given no test data."
    summary = block.summary
    return f"""## Results ({split} split)

Source macro-F1 {_pct(summary.get('source_macro_f1'))}, target average {_pct(summary.get('target_avg_macro_f1'))},
transfer gap {_pct(summary.get('transfer_gap_macro_f1'))} points.

{results_table(block)}"""


def write_model_card(run: Path, results: Results, recipe: RecipeConfig) -> Path:
    """Write ``run/README.md``: base model, recipe, target resources, results, intended use and limits."""
    languages = [LANGUAGES[lang][0] for lang in recipe.data.languages if lang in LANGUAGES]
    split, block = next(iter(results.splits.items()), (None, None))
    front = {
        "library_name": "xlingual",
        "pipeline_tag": "text-classification",
        "language": languages,
        "base_model": recipe.model.name,
        "tags": ["xlingual", "cross-lingual-transfer", "sentiment-analysis", recipe.method],
    }
    if block is not None:
        front["model-index"] = [{
            "name": f"{recipe.name}-seed{recipe.training.seed}",
            "results": [{
                "task": {"type": "text-classification", "name": "Sentiment classification"},
                "dataset": {"type": recipe.data.format, "name": recipe.data.root, "split": split},
                "metrics": [
                    {"type": "f1", "name": f"macro-F1 {lang}", "value": round(100 * m.macro_f1, 2)}
                    for lang, m in block.languages.items()
                ],
            }],
        }]
    protocol = results.protocol
    names = results.label_scheme.names
    text = f"""---
{yaml.safe_dump(front, sort_keys=False, allow_unicode=True).strip()}
---

# {recipe.name} (seed {recipe.training.seed})

A {len(names)}-class sentiment classifier ({', '.join(names)})
trained with [xlingual](https://pypi.org/project/xlingual/) on **{recipe.data.source_language}** labelled data
and evaluated zero-shot on {', '.join(recipe.data.target_languages)}.

- **Base model:** `{recipe.model.name}` ({recipe.model.pooling} pooling, max length {recipe.model.max_length})
- **Method:** {recipe.method}{f" (LoRA r={recipe.lora.r}, alpha={recipe.lora.alpha})" if recipe.lora else ""}
- **Target-side resources used in training:** {', '.join(protocol.target_resources)}
- **Model selection:** {protocol.model_selection}
- **Training data:** `{protocol.files['train']}`

{_results_section(split, block)}

## Use

```python
import xlingual

clf = xlingual.load("{run}")
clf.predict(["Me encanta esta película", "Odio los lunes"])
```

or `xlingual predict {run} "Me encanta esta película"`.

## Intended use and limits

For research on cross-lingual transfer of sentiment classification on short social-media texts.
Scores on languages it was not trained on are zero-shot estimates from one test set each: expect
a gap to the source language, and expect them to move with the seed (compare several seeds with
`xlingual compare`). Not for decisions about individuals. Tweets carry the biases of their authors
and of the annotation; the model inherits them.
"""
    return atomic_write_text(run / "README.md", text)


def print_results(splits: dict) -> None:
    """Each split's summary line and language table (``splits``: split → :class:`~xlingual.results.SplitResults`),
    as ``train``, ``evaluate`` and ``soup`` print them."""
    for split, block in splits.items():
        summary = block.summary
        parts = [f"{label} {100 * summary[key]:.1f}" for key, label in (
            ("source_macro_f1", "source macro-F1"), ("target_avg_macro_f1", "target average macro-F1"),
            ("transfer_gap_macro_f1", "gap")) if key in summary]  # a subset of languages may lack one
        print(f"\n{split}: " + ", ".join(parts))
        print(results_table(block))
