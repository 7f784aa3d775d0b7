"""Comparability policy for ``compare``: which runs may be compared at all, and what to flag.

Mixed label schemes are refused; different source languages, target-side resources, extra source data,
model selection, test examples or target languages are flagged, since the scores then do not compare like for like.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .runs import ComparisonError, Run, group_runs_quiet

ORACLE_SELECTION = "oracle-target-dev"


def _listing(mapping: dict[Any, set[str]]) -> str:
    def show(key: Any) -> str:
        return "+".join(key) if isinstance(key, tuple) else str(key)

    return "; ".join(f"{show(key)} ({', '.join(sorted(names))})" for key, names in mapping.items())


def _by_value(runs: Sequence[Run], value: Any) -> dict[Any, set[str]]:
    out: dict[Any, set[str]] = {}
    for run in runs:
        out.setdefault(value(run), set()).add(run.recipe)
    return out


def _extra_data(run: Run) -> str:
    record = run.protocol.extra_source_data
    balanced = ", class-balanced" if record is not None and record.class_balanced else ""
    files, examples = (record.files, record.train_examples) if record is not None else (None, None)
    return f"{files}, {examples} training examples{balanced}"


def check_comparability(runs: Sequence[Run], split: str = "test") -> list[str]:
    """Raise on mixed label schemes; return warnings for comparisons that are not like for like."""
    schemes = _by_value(runs, lambda r: r.label_scheme)
    if len(schemes) > 1:
        detail = "; ".join(f"{name} {list(names)} ({', '.join(sorted(recipes))})"
                           for (name, names), recipes in schemes.items())
        raise ComparisonError(f"the runs use different label schemes, so their scores are not comparable: {detail}")
    flags = []
    sources = _by_value(runs, lambda r: r.source_language)
    if len(sources) > 1:
        flags.append(f"different source languages: {_listing(sources)}; transfer gaps measure different things")
    resources = _by_value(runs, lambda r: r.target_resources)
    if len(resources) > 1:
        flags.append(f"different target-side resources: {_listing(resources)}; only zero-shot runs use no "
                     "target-language data, so target scores are not a like-for-like comparison")
    extra = sorted({r.recipe for r in runs if r.protocol.extra_source_data})
    if extra and len(extra) < len({r.recipe for r in runs}):
        flags.append(f"extra source-language training data in {', '.join(extra)}: another data protocol "
                     "(more, and possibly differently labelled, source data); report these beside the standard "
                     "table, not in it")
    extra_data = _by_value([r for r in runs if r.protocol.extra_source_data], _extra_data)
    if len(extra_data) > 1:
        flags.append(f"different extra source data: {_listing(extra_data)}")
    oracle = sorted({r.recipe for r in runs if r.model_selection == ORACLE_SELECTION})
    if oracle:
        flags.append(f"oracle model selection on target-language dev labels in {', '.join(oracle)}: its target "
                     "scores are optimistic and not comparable with source-dev selection")
    selections = _by_value(runs, lambda r: r.model_selection)
    if len(selections) > 1:
        flags.append(f"different model selection: {_listing(selections)}")
    languages = sorted({lang for run in runs for lang in run.language_metrics(split)})
    for language in languages:
        scored = [r for r in runs if language in r.language_metrics(split)]
        identities = _by_value(scored, lambda r, lang=language: r.test_identity(lang, split) or "unknown")
        if len(identities) > 1:
            files = _by_value(scored, lambda r, lang=language: r.test_file(lang, split) or "unknown")
            shown = files if len(files) > 1 else identities
            flags.append(f"different {split} examples for {language}: {_listing(shown)}")
        sizes = _by_value([r for r in runs if language in r.language_metrics(split)],
                          lambda r, lang=language: r.language_metrics(split)[lang].n)
        if len(sizes) > 1:
            flags.append(f"different numbers of {split} examples for {language}: {_listing(sizes)}")
    targets = {recipe: tuple(sorted(set().union(*(set(r.language_metrics(split)) - {r.source_language}
                                                 for r in group))))
               for recipe, group in group_runs_quiet(runs).items()}
    target_sets = _by_value(runs, lambda r: targets[r.recipe])
    if len(target_sets) > 1:
        flags.append(f"the target average covers different languages: {_listing(target_sets)}")
    return flags
