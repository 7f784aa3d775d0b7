"""The statistics of ``compare``: the recipe × language table and the paired significance test.

One seed of one recipe says little: test sets are a few hundred examples per language
and seeds move macro-F1 by points. This module gathers finished runs, groups them by
recipe, and reports every language's score as mean ± std over seeds with two intervals
(over test examples and over seeds), plus a paired significance test between two
recipes. It refuses to mix label schemes and flags comparisons that are not like for
like (different test files, target-side resources or oracle model selection).

Pairing in :func:`compare_recipes` (the choice, and why):

* **p (bootstrap)**, the headline test, pairs by *example*: both recipes are scored on
  the same bootstrap resamples of the test examples, each with its metric averaged over
  all of its seeds (one resample is applied to every seed). It uses every run, works
  whether or not the recipes share seeds, and tests the seed-averaged systems rather than
  a majority vote (which would be a different, ensembled system).
* **p (perm.)**, approximate randomisation, pairs runs one to one: by seed where the two
  recipes share seeds, otherwise in seed order (truncated to the shorter list).
* **p (seeds)** pairs by seed: a paired t test on the per-seed scores of the shared seeds
  (needs at least 2). It captures seed variance, which the example-level tests do not.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import did_you_mean
from ..metrics.classification import transfer_summary
from ..results import LabelSchemeRecord
from ..run_folder import RESULTS
from . import stats
from .comparability import check_comparability
from .runs import ComparisonError, Run, _warn, group_runs, group_runs_quiet
from .stats import METRICS
from .table import Cell, Column, ComparisonTable, RecipeRow

SUMMARY_COLUMNS = ("target_avg", "transfer_gap")


def _language_seed(seed: int, language: str) -> int:
    """A bootstrap seed per language: languages resample independently, and a language's interval
    does not change when other languages are added to the comparison."""
    return (seed * 1_000_003 + zlib.crc32(language.encode("utf-8"))) % 2**32


def pooled_predictions(runs: Sequence[Run], language: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Gold labels and a (seeds, examples) prediction array, if every run has predictions on the same examples."""
    gold = None
    preds = []
    for run in runs:
        loaded = run.predictions(language, split)
        if loaded is None:
            return None
        if gold is None:
            gold = loaded[0]
        elif not np.array_equal(gold, loaded[0]):
            return None
        preds.append(loaded[1])
    return (gold, np.stack(preds)) if gold is not None else None


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _interval(low: float, high: float) -> list[float] | None:
    return [float(low), float(high)] if math.isfinite(low) and math.isfinite(high) else None


def _cell(values: Sequence[float], confidence: float) -> Cell:
    array = np.asarray(values, dtype=float)
    return Cell(
        mean=float(array.mean()) if array.size else None,
        std=float(array.std(ddof=1)) if array.size >= 2 else None,
        values=[float(v) for v in array],
        ci_seeds=_interval(*stats.seed_ci(array, confidence)) if array.size >= 2 else None,
    )


def _ordered_languages(runs: Sequence[Run], split: str) -> list[str]:
    """Source language(s) first, then targets in the order the recipes list them."""
    order: list[str] = []
    for run in runs:
        if run.source_language in run.language_metrics(split) and run.source_language not in order:
            order.append(run.source_language)
    for run in runs:
        for lang in [*run.results.target_languages, *run.language_metrics(split)]:
            if lang in run.language_metrics(split) and lang not in order:
                order.append(lang)
    return order


def _recipe_entry(runs: list[Run], split: str, languages: list[str], n_resamples: int, confidence: float,
                  seed: int, num_labels: int, notes: list[str]) -> RecipeRow:
    source = runs[0].source_language
    per_run = [run.language_metrics(split) for run in runs]
    present = [lang for lang in languages if all(lang in metrics for metrics in per_run)]
    partial = [lang for lang in languages if lang not in present and any(lang in m for m in per_run)]
    if partial:
        notes.append(f"{runs[0].recipe}: {', '.join(partial)} scored by only some seeds, left out")
    targets = [lang for lang in present if lang != source]
    columns: dict[str, Column] = {}
    for lang in present:
        columns[lang] = Column("source" if lang == source else "target",
                               {m: _cell([metrics[lang].metric(m) for metrics in per_run], confidence)
                                for m in METRICS}, n=per_run[0][lang].n)
    summaries = [transfer_summary({lang: metrics[lang].metrics() for lang in present}, source) for metrics in per_run]
    for key in SUMMARY_COLUMNS:
        columns[key] = Column("summary", {m: _cell([s[f"{key}_{m}"] for s in summaries if f"{key}_{m}" in s],
                                                   confidence) for m in METRICS}, languages=targets)
    if n_resamples:
        pooled = {lang: pooled_predictions(runs, lang, split) for lang in present}
        missing = [lang for lang, p in pooled.items() if p is None]
        if missing:
            notes.append(f"{runs[0].recipe}: no usable predictions for {', '.join(missing)} (missing, or the seeds "
                         "scored different examples): no interval over test examples there")
        for metric in METRICS:
            dists = {lang: stats.bootstrap_scores([p[0]], [p[1]], metric, n_resamples,  # type: ignore[index]
                                                  _language_seed(seed, lang), num_labels)[0]
                     for lang, p in pooled.items() if p is not None}
            for lang, dist in dists.items():
                columns[lang].metrics[metric].ci_examples = list(stats.percentile_interval(dist, confidence))
            if targets and all(lang in dists for lang in targets):
                average = np.mean([dists[lang] for lang in targets], axis=0)
                columns["target_avg"].metrics[metric].ci_examples = list(
                    stats.percentile_interval(average, confidence))
                if source in dists:
                    gap = dists[source] - average
                    columns["transfer_gap"].metrics[metric].ci_examples = list(
                        stats.percentile_interval(gap, confidence))
    return RecipeRow(
        runs=[str(run.path) for run in runs], seeds=[run.seed for run in runs], n_seeds=len(runs),
        method=runs[0].results.method, model=runs[0].results.model,
        source_language=source, target_resources=list(runs[0].target_resources),
        model_selection=runs[0].model_selection, columns=columns, cost_runs=_cost(runs),
    )


def _cost(runs: Sequence[Run]) -> float | None:
    """Training-run equivalents per model (``protocol.cost``; teachers and rounds count), the mean over seeds;
    ``None`` when a run predates cost accounting."""
    costs = [run.results.protocol.cost.runs if run.results.protocol.cost is not None else None for run in runs]
    return None if any(c is None for c in costs) else round(float(np.mean(costs)), 2)


def comparison_table(runs: Sequence[Run], split: str = "test", n_resamples: int = 1000, confidence: float = 0.95,
                     seed: int = 0) -> ComparisonTable:
    """Recipe × language mean ± std over seeds of macro-F1 and accuracy, with intervals (``to_dict``: table.json).

    ``ci_examples``: percentile bootstrap over test examples (each language resampled on
    its own, one resample shared by all seeds, score averaged over seeds);
    ``ci_seeds``: t interval of the mean over seeds (at least 2 seeds). ``n_resamples=0``
    leaves the example-level intervals out.
    """
    if n_resamples < 0:
        raise ComparisonError("--bootstrap must be 0 (no intervals over examples) or a positive number of resamples")
    if not 0 < confidence < 1:
        raise ComparisonError("the confidence level must be between 0 and 1")
    with_split = [run for run in runs if run.split(split) is not None]
    for run in runs:
        if run.split(split) is None:
            _warn(f"{run.path}: no '{split}' split in {RESULTS}, skipped")
    if not with_split:
        raise ComparisonError(f"no run has results on the '{split}' split")
    flags = check_comparability(with_split, split)
    groups = group_runs(with_split)
    languages = _ordered_languages(with_split, split)
    name, names = with_split[0].label_scheme
    notes: list[str] = []
    recipes = {recipe: _recipe_entry(group, split, languages, n_resamples, confidence, seed, len(names), notes)
               for recipe, group in groups.items()}
    sources = [lang for lang in languages if any(r.source_language == lang for r in recipes.values())]
    return ComparisonTable(
        split=split, metrics=list(METRICS), confidence=confidence, n_resamples=n_resamples, bootstrap_seed=seed,
        label_scheme=LabelSchemeRecord(name, list(names)), source_languages=sources, languages=languages,
        columns=[*languages, *SUMMARY_COLUMNS], flags=flags, notes=notes, recipes=recipes,
    )


def _seed_pairs(runs_a: Sequence[Run], runs_b: Sequence[Run]) -> tuple[list[tuple[int, int]], bool]:
    """Run index pairs for the permutation test: shared seeds, else seed order; and whether seeds matched."""
    seeds_b = {run.member: i for i, run in enumerate(runs_b)}
    shared = [(i, seeds_b[run.member]) for i, run in enumerate(runs_a) if run.member in seeds_b]
    if shared:
        return shared, True
    return [(i, i) for i in range(min(len(runs_a), len(runs_b)))], False


def compare_recipes(runs: Sequence[Run], a: str, b: str, split: str = "test", metric: str = "macro_f1",
                    n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """Paired significance test of recipe ``a`` against ``b`` per language and on the target average.

    See the module docstring for how runs are paired. Returns a JSON-ready dict with, per
    language, both means, the difference (a − b), its interval, p-values and effect sizes.
    """
    if metric not in METRICS:
        raise ComparisonError(f"unknown metric {metric!r}{did_you_mean(metric, METRICS)}")
    if n_resamples < 0:
        raise ComparisonError("--bootstrap must be 0 or a positive number of resamples")
    groups = group_runs_quiet([run for run in runs if run.split(split) is not None])
    for recipe in (a, b):
        if recipe not in groups:
            raise ComparisonError(f"no finished run of recipe '{recipe}' on the '{split}' split"
                                  f"{did_you_mean(recipe, groups)}; recipes found: {', '.join(groups)}")
    if a == b:
        raise ComparisonError("--significance needs two different recipes")
    runs_a, runs_b = groups[a], groups[b]
    flags = check_comparability([*runs_a, *runs_b], split)
    pairs, seeds_match = _seed_pairs(runs_a, runs_b)
    shared_seeds = [runs_a[i].member for i, _ in pairs] if seeds_match else []
    num_labels = len(runs_a[0].label_names)
    source = runs_a[0].source_language
    languages = [lang for lang in _ordered_languages([*runs_a, *runs_b], split)
                 if all(lang in r.language_metrics(split) for r in [*runs_a, *runs_b])]
    targets = [lang for lang in languages if lang != source]
    notes: list[str] = []

    def seed_values(group: Sequence[Run], langs: Sequence[str]) -> list[float]:
        return [float(np.mean([r.language_metrics(split)[lang].metric(metric) for lang in langs])) for r in group]

    def test(label: str, langs: Sequence[str], test_seed: int) -> dict[str, Any]:
        values_a, values_b = seed_values(runs_a, langs), seed_values(runs_b, langs)
        entry: dict[str, Any] = {
            "languages": list(langs), "n": sum(runs_a[0].language_metrics(split)[lang].n or 0 for lang in langs),
            "a": float(np.mean(values_a)), "b": float(np.mean(values_b)),
            "delta": float(np.mean(values_a) - np.mean(values_b)), "ci": None, "p_value": None,
            "p_value_permutation": None, "cohens_d_examples": None, "seed_test": None,
        }
        pooled_a = [pooled_predictions(runs_a, lang, split) for lang in langs]
        pooled_b = [pooled_predictions(runs_b, lang, split) for lang in langs]
        usable = all(pa is not None and pb is not None and np.array_equal(pa[0], pb[0])
                     for pa, pb in zip(pooled_a, pooled_b, strict=True))
        if n_resamples and usable:
            golds = [pa[0] for pa in pooled_a]  # type: ignore[index]
            preds_a = [pa[1] for pa in pooled_a]  # type: ignore[index]
            preds_b = [pb[1] for pb in pooled_b]  # type: ignore[index]
            boot = stats.paired_bootstrap_test_average(golds, preds_a, preds_b, metric, n_resamples, confidence,
                                                       test_seed, num_labels)
            rows_a, rows_b = [i for i, _ in pairs], [j for _, j in pairs]
            perm = stats.paired_permutation_test_average(golds, [p[rows_a] for p in preds_a],
                                                         [p[rows_b] for p in preds_b], metric, n_resamples,
                                                         test_seed, num_labels)
            entry.update(delta=boot["delta"], ci=boot["ci"], p_value=boot["p_value"],
                         p_value_permutation=perm["p_value"],
                         cohens_d_examples=_finite(stats.correctness_effect_size(golds, preds_a, preds_b)))
        elif n_resamples:
            notes.append(f"{label}: no example-level test "
                         "(predictions missing, or the recipes scored different examples)")
        if len(shared_seeds) >= 2:
            seed_a = seed_values([runs_a[i] for i, _ in pairs], langs)
            seed_b = seed_values([runs_b[j] for _, j in pairs], langs)
            result = stats.paired_t_test(seed_a, seed_b, confidence)
            result.update(ci=_interval(*result["ci"]), cohens_d=_finite(result["cohens_d"]), t=_finite(result["t"]),
                          seeds=shared_seeds)
            entry["seed_test"] = result
        return entry

    per_language = {lang: test(lang, [lang], _language_seed(seed, lang)) for lang in languages}
    tested = [lang for lang in languages if per_language[lang]["p_value"] is not None]
    for lang, adjusted in zip(tested, stats.holm([per_language[lang]["p_value"] for lang in tested]), strict=True):
        per_language[lang]["p_value_holm"] = adjusted
    target_avg = test("target average", targets, seed) if targets else None
    if not n_resamples and len(shared_seeds) < 2:
        notes.append("no test possible: --bootstrap 0 leaves out the example-level tests and the recipes share "
                     "fewer than 2 seeds")
    if seeds_match:
        pairing = (f"example-level tests use every seed of both recipes; runs paired by the shared seeds "
                   f"{', '.join(map(str, shared_seeds))} for the permutation and seed tests")
    else:
        pairing = ("the recipes share no seed: the permutation test pairs runs in seed order "
                   f"({', '.join(f'{runs_a[i].member}~{runs_b[j].member}' for i, j in pairs)}); no seed-level test")
    return {
        "a": a, "b": b, "split": split, "metric": metric, "confidence": confidence, "n_resamples": n_resamples,
        "bootstrap_seed": seed, "seeds_a": [r.seed for r in runs_a], "seeds_b": [r.seed for r in runs_b],
        "shared_seeds": shared_seeds, "pairing": pairing, "flags": flags, "notes": notes,
        "languages": per_language, "target_avg": target_avg,
    }


def baseline_deltas(runs: Sequence[Run], baseline: str, split: str = "test", metric: str = "macro_f1",
                    n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """Every recipe against one baseline on the target average, each paired on the seeds both ran.

    For a table of methods against plain fine-tuning: each recipe and the baseline are cut to their shared
    seeds before :func:`compare_recipes`, so a 5-seed baseline is not compared with a 3-seed method's mean."""
    groups = group_runs_quiet([run for run in runs if run.split(split) is not None])
    if baseline not in groups:
        raise ComparisonError(f"no finished run of the baseline recipe '{baseline}' on the '{split}' split"
                              f"{did_you_mean(baseline, groups)}; recipes found: {', '.join(groups)}")
    base_by_seed = {run.member: run for run in groups[baseline] if run.member is not None}
    rows: dict[str, Any] = {}
    notes: list[str] = []
    if not base_by_seed:
        notes.append(f"no run of {baseline} records a seed: nothing to pair with")
    for recipe, group in groups.items():
        if recipe == baseline or not base_by_seed:
            continue
        if any(run.results.other_data for run in group):
            notes.append(f"{recipe}: scored on other data than {baseline}, not compared")
            continue
        if all(run.seed is None and run.results.soup for run in group) and not any(
                run.member in base_by_seed for run in group):
            notes.append(f"{recipe}: a soup of several runs has no seed of its own; compare it with --significance "
                         f"against the {baseline} runs of its ingredients' seeds")
            continue
        mine = [run for run in group if run.member is not None and run.member in base_by_seed]
        if not mine:
            notes.append(f"{recipe}: no seed in common with {baseline}, not compared")
            continue
        seeds = [run.member for run in mine]
        result = compare_recipes([*mine, *(base_by_seed[s] for s in seeds)], recipe, baseline, split, metric,
                                 n_resamples, seed, confidence)
        notes += [f"{recipe}: {text}" for text in [*result["flags"], *result["notes"]]]
        entry = result["target_avg"]
        if entry is None:
            notes.append(f"{recipe}: no target language in common with {baseline}")
            continue
        per_seed = [float(np.mean([run.language_metrics(split)[lang].metric(metric) for lang in entry["languages"]])
                          - np.mean([base_by_seed[run.member].language_metrics(split)[lang].metric(metric)
                                     for lang in entry["languages"]])) for run in mine]
        rows[recipe] = {"seeds": seeds, "languages": entry["languages"], "a": entry["a"], "b": entry["b"],
                        "delta": entry["delta"], "ci": entry["ci"],
                        "p_value": entry["p_value"], "per_seed_delta": per_seed,
                        "seed_test": entry["seed_test"], "flags": result["flags"]}
    return {"baseline": baseline, "split": split, "metric": metric, "confidence": confidence,
            "n_resamples": n_resamples, "bootstrap_seed": seed, "recipes": rows, "notes": notes}
