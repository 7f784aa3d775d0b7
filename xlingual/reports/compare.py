"""Compare recipes across run folders and seeds: ``xlingual compare RUN_OR_SWEEP...``.

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

import argparse
import csv
import io
import json
import math
import sys
import warnings
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..data.examples import content_fingerprint
from ..errors import XlingualError, did_you_mean
from ..evaluation.metrics import transfer_summary
from ..io import atomic_write_json, atomic_write_text, read_json
from ..run_folder import CALL, COMMAND, PREDICTIONS, RESULTS, TRAIN_LOG
from . import stats
from .stats import METRIC_LABELS, METRICS

ORACLE_SELECTION = "oracle-target-dev"
SUMMARY_COLUMNS = ("target_avg", "transfer_gap")
COLUMN_TITLES = {"target_avg": "target avg", "transfer_gap": "gap"}


class ComparisonError(XlingualError, ValueError):
    """The runs cannot be compared (different label schemes, unknown recipe, nothing to read)."""


class ComparisonWarning(UserWarning):
    """A run was skipped or a comparison is not like for like; printed as ``warning: ...`` by the CLI."""


def _warn(message: str) -> None:
    warnings.warn(message, ComparisonWarning, stacklevel=3)


# ----------------------------------------------------------------------------- runs


@dataclass
class Run:
    """One finished run folder: its results.json, with predictions read on demand."""

    path: Path
    results: dict[str, Any]
    _predictions: dict[tuple[str, str], tuple[np.ndarray, np.ndarray] | None] = field(
        default_factory=dict, repr=False, compare=False)

    @property
    def recipe(self) -> str:
        """The recipe name; an ``xlingual evaluate --out`` result on other data adds ``@ <its name>``, so it
        stands beside the in-domain runs of its recipe as a row of its own."""
        name = str(self.results.get("recipe") or self.path.name)
        evaluation = self.results.get("evaluation") or {}
        if self.results.get("kind") == "evaluation" and evaluation.get("kind") == "other-data":
            name += f" @ {evaluation.get('evaluated_on') or self.path.name}"
        return name

    @property
    def seed(self) -> int | None:
        return self.results.get("seed")

    @property
    def name(self) -> str:
        return f"{self.recipe}-seed{self.seed}"

    @property
    def label_names(self) -> list[str]:
        return list(self.results.get("label_scheme", {}).get("names", []))

    @property
    def label_scheme(self) -> tuple[str, tuple[str, ...]]:
        return str(self.results.get("label_scheme", {}).get("name")), tuple(self.label_names)

    @property
    def source_language(self) -> str:
        return str(self.results.get("source_language"))

    @property
    def protocol(self) -> dict[str, Any]:
        return self.results.get("protocol") or {}

    @property
    def target_resources(self) -> tuple[str, ...]:
        return tuple(sorted(self.protocol.get("target_resources") or ["zero-shot"]))

    @property
    def model_selection(self) -> str:
        return str(self.protocol.get("model_selection", "unknown"))

    def split(self, split: str) -> dict[str, Any] | None:
        return (self.results.get("splits") or {}).get(split)

    def language_metrics(self, split: str) -> dict[str, dict[str, Any]]:
        return (self.split(split) or {}).get("languages") or {}

    def test_file(self, language: str, split: str) -> str | None:
        return ((self.split(split) or {}).get("test_files") or {}).get(language)

    def test_identity(self, language: str, split: str) -> str | None:
        """What the test set *is*: its content fingerprint (from results.json or, for runs written before
        fingerprints were recorded, from the predictions file), else the file description."""
        recorded = ((self.split(split) or {}).get("test_fingerprints") or {}).get(language)
        if recorded:
            return str(recorded)
        path = self.path / PREDICTIONS / f"{language}.{split}.jsonl"
        if path.is_file():
            try:
                records = sorted((int(r.get("index", n)), r["text"], r["label"]) for n, r in enumerate(
                    json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()))
                return content_fingerprint([r[1] for r in records], [r[2] for r in records])
            except (ValueError, KeyError, TypeError, AttributeError):
                pass
        return self.test_file(language, split)

    def predictions(self, language: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Gold and predicted label indices from predictions/<language>.<split>.jsonl (None if absent)."""
        key = (language, split)
        if key not in self._predictions:
            self._predictions[key] = self._read_predictions(language, split)
        return self._predictions[key]

    def _read_predictions(self, language: str, split: str) -> tuple[np.ndarray, np.ndarray] | None:
        path = self.path / PREDICTIONS / f"{language}.{split}.jsonl"
        if not path.is_file():
            return None
        index = {name: i for i, name in enumerate(self.label_names)}
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                records.append((int(record.get("index", number - 1)), index[record["label"]],
                                index[record["prediction"]]))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ComparisonError(f"{path}:{number}: not a prediction record with a label of the run's "
                                      f"scheme {self.label_names} ({exc})") from exc
        records.sort()
        gold = np.array([r[1] for r in records], dtype=np.int64)
        pred = np.array([r[2] for r in records], dtype=np.int64)
        expected = self.language_metrics(split).get(language, {}).get("n")
        if expected is not None and expected != len(gold):
            _warn(f"{path} holds {len(gold)} predictions but results.json scores {expected} examples; "
                  "left out of the example-level statistics")
            return None
        return gold, pred


def _looks_like_run(folder: Path) -> bool:
    return any((folder / name).is_file() for name in (RESULTS, COMMAND, CALL, TRAIN_LOG))


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def find_run_folders(path: Path, depth: int = 2) -> list[Path]:
    """``path`` itself if it is a run folder, else run folders up to ``depth`` levels below it."""
    if _looks_like_run(path):
        return [path]
    if depth == 0:
        return []
    return [run for child in _subfolders(path) for run in find_run_folders(child, depth - 1)]


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """Finished runs from run folders and sweep folders; unfinished ones are skipped with a warning."""
    runs: list[Run] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            raise ComparisonError(f"{path}: not a folder; pass run folders or folders that contain them")
        folders = find_run_folders(path)
        if not folders:
            raise ComparisonError(f"{path}: no run folder in it or up to two levels below (no {RESULTS} found)")
        for folder in folders:
            if folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            if not (folder / RESULTS).is_file():
                _warn(f"{folder}: no {RESULTS} (the run did not finish), skipped")
                continue
            try:
                results = read_json(folder / RESULTS)
            except (ValueError, OSError) as exc:
                _warn(f"{folder / RESULTS}: unreadable ({exc}), skipped")
                continue
            if not isinstance(results, dict) or results.get("status") != "complete":
                _warn(f"{folder}: the run is not complete, skipped")
                continue
            runs.append(Run(folder, results))
    if not runs:
        raise ComparisonError("no finished runs to compare")
    return runs


def group_runs(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """Runs by recipe name (first-seen order), sorted by seed; a repeated seed keeps the first run."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        group = groups.setdefault(run.recipe, [])
        twin = next((other for other in group if other.seed == run.seed), None)
        if twin is not None:
            _warn(f"{run.path}: recipe {run.recipe} seed {run.seed} already comes from {twin.path}, skipped")
            continue
        group.append(run)
    for group in groups.values():
        group.sort(key=lambda r: (r.seed is None, r.seed if isinstance(r.seed, int) else 0, str(r.path)))
    return groups


# ----------------------------------------------------------------------------- comparability


def _listing(mapping: dict[Any, set[str]]) -> str:
    def show(key: Any) -> str:
        return "+".join(key) if isinstance(key, tuple) else str(key)

    return "; ".join(f"{show(key)} ({', '.join(sorted(names))})" for key, names in mapping.items())


def _by_value(runs: Sequence[Run], value: Any) -> dict[Any, set[str]]:
    out: dict[Any, set[str]] = {}
    for run in runs:
        out.setdefault(value(run), set()).add(run.recipe)
    return out


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
                          lambda r, lang=language: r.language_metrics(split)[lang].get("n"))
        if len(sizes) > 1:
            flags.append(f"different numbers of {split} examples for {language}: {_listing(sizes)}")
    targets = {recipe: tuple(sorted(set().union(*(set(r.language_metrics(split)) - {r.source_language}
                                                 for r in group))))
               for recipe, group in group_runs_quiet(runs).items()}
    target_sets = _by_value(runs, lambda r: targets[r.recipe])
    if len(target_sets) > 1:
        flags.append(f"the target average covers different languages: {_listing(target_sets)}")
    return flags


def group_runs_quiet(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """:func:`group_runs` without repeating its warnings (for internal second passes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ComparisonWarning)
        return group_runs(runs)


# ----------------------------------------------------------------------------- table


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


def _cell(values: Sequence[float], confidence: float) -> dict[str, Any]:
    array = np.asarray(values, dtype=float)
    return {
        "mean": float(array.mean()) if array.size else None,
        "std": float(array.std(ddof=1)) if array.size >= 2 else None,
        "values": [float(v) for v in array],
        "ci_examples": None,
        "ci_seeds": _interval(*stats.seed_ci(array, confidence)) if array.size >= 2 else None,
    }


def _ordered_languages(runs: Sequence[Run], split: str) -> list[str]:
    """Source language(s) first, then targets in the order the recipes list them."""
    order: list[str] = []
    for run in runs:
        if run.source_language in run.language_metrics(split) and run.source_language not in order:
            order.append(run.source_language)
    for run in runs:
        for lang in [*run.results.get("target_languages", []), *run.language_metrics(split)]:
            if lang in run.language_metrics(split) and lang not in order:
                order.append(lang)
    return order


def _recipe_entry(runs: list[Run], split: str, languages: list[str], n_resamples: int, confidence: float,
                  seed: int, num_labels: int, notes: list[str]) -> dict[str, Any]:
    source = runs[0].source_language
    per_run = [run.language_metrics(split) for run in runs]
    present = [lang for lang in languages if all(lang in metrics for metrics in per_run)]
    partial = [lang for lang in languages if lang not in present and any(lang in m for m in per_run)]
    if partial:
        notes.append(f"{runs[0].recipe}: {', '.join(partial)} scored by only some seeds, left out")
    targets = [lang for lang in present if lang != source]
    columns: dict[str, dict[str, Any]] = {}
    for lang in present:
        columns[lang] = {"role": "source" if lang == source else "target", "n": per_run[0][lang].get("n"),
                         **{m: _cell([metrics[lang][m] for metrics in per_run], confidence) for m in METRICS}}
    summaries = [transfer_summary({lang: metrics[lang] for lang in present}, source) for metrics in per_run]
    for key in SUMMARY_COLUMNS:
        columns[key] = {"role": "summary", "languages": targets,
                        **{m: _cell([s[f"{key}_{m}"] for s in summaries if f"{key}_{m}" in s], confidence)
                           for m in METRICS}}
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
                columns[lang][metric]["ci_examples"] = list(stats.percentile_interval(dist, confidence))
            if targets and all(lang in dists for lang in targets):
                average = np.mean([dists[lang] for lang in targets], axis=0)
                columns["target_avg"][metric]["ci_examples"] = list(stats.percentile_interval(average, confidence))
                if source in dists:
                    gap = dists[source] - average
                    columns["transfer_gap"][metric]["ci_examples"] = list(stats.percentile_interval(gap, confidence))
    return {
        "runs": [str(run.path) for run in runs], "seeds": [run.seed for run in runs], "n_seeds": len(runs),
        "method": runs[0].results.get("method"), "model": runs[0].results.get("model"),
        "source_language": source, "target_resources": list(runs[0].target_resources),
        "model_selection": runs[0].model_selection, "columns": columns,
    }


def comparison_table(runs: Sequence[Run], split: str = "test", n_resamples: int = 1000, confidence: float = 0.95,
                     seed: int = 0) -> dict[str, Any]:
    """Recipe × language mean ± std over seeds of macro-F1 and accuracy, with intervals; JSON-ready.

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
    sources = [lang for lang in languages if any(r["source_language"] == lang for r in recipes.values())]
    return {
        "split": split, "metrics": list(METRICS), "confidence": confidence, "n_resamples": n_resamples,
        "bootstrap_seed": seed, "label_scheme": {"name": name, "names": list(names)},
        "source_languages": sources, "languages": languages, "columns": [*languages, *SUMMARY_COLUMNS],
        "flags": flags, "notes": notes, "recipes": recipes,
    }


# ----------------------------------------------------------------------------- significance


def _seed_pairs(runs_a: Sequence[Run], runs_b: Sequence[Run]) -> tuple[list[tuple[int, int]], bool]:
    """Run index pairs for the permutation test: shared seeds, else seed order; and whether seeds matched."""
    seeds_b = {run.seed: i for i, run in enumerate(runs_b)}
    shared = [(i, seeds_b[run.seed]) for i, run in enumerate(runs_a) if run.seed in seeds_b]
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
    shared_seeds = [runs_a[i].seed for i, _ in pairs] if seeds_match else []
    num_labels = len(runs_a[0].label_names)
    source = runs_a[0].source_language
    languages = [lang for lang in _ordered_languages([*runs_a, *runs_b], split)
                 if all(lang in r.language_metrics(split) for r in [*runs_a, *runs_b])]
    targets = [lang for lang in languages if lang != source]
    notes: list[str] = []

    def seed_values(group: Sequence[Run], langs: Sequence[str]) -> list[float]:
        return [float(np.mean([r.language_metrics(split)[lang][metric] for lang in langs])) for r in group]

    def test(label: str, langs: Sequence[str], test_seed: int) -> dict[str, Any]:
        values_a, values_b = seed_values(runs_a, langs), seed_values(runs_b, langs)
        entry: dict[str, Any] = {
            "languages": list(langs), "n": sum(runs_a[0].language_metrics(split)[lang].get("n") or 0 for lang in langs),
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
                   f"({', '.join(f'{runs_a[i].seed}~{runs_b[j].seed}' for i, j in pairs)}); no seed-level test")
    return {
        "a": a, "b": b, "split": split, "metric": metric, "confidence": confidence, "n_resamples": n_resamples,
        "bootstrap_seed": seed, "seeds_a": [r.seed for r in runs_a], "seeds_b": [r.seed for r in runs_b],
        "shared_seeds": shared_seeds, "pairing": pairing, "flags": flags, "notes": notes,
        "languages": per_language, "target_avg": target_avg,
    }


# ----------------------------------------------------------------------------- rendering


def _pct(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.1f}"


def _mean_std(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("mean") is None:
        return "–"
    return _pct(cell["mean"]) + (f" ± {_pct(cell['std'])}" if cell.get("std") is not None else "")


def _ci_text(ci: Sequence[float] | None) -> str:
    return "–" if not ci else f"[{_pct(ci[0])}, {_pct(ci[1])}]"


def _p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _d_text(d: float | None) -> str:
    return "–" if d is None else f"{d:.2f}"


def _column_title(table: dict[str, Any], column: str) -> str:
    if column in COLUMN_TITLES:
        return COLUMN_TITLES[column]
    return f"{column} (src)" if column in table["source_languages"] else column


def _markdown_rows(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> list[str]:
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |",
            *("| " + " | ".join(row) + " |" for row in rows)]


def table_markdown(table: dict[str, Any], metric: str = "macro_f1") -> str:
    """Markdown: flags, mean ± std tables for both metrics, and the intervals of ``metric``."""
    scheme = table["label_scheme"]
    lines = [f"# Comparison on the {table['split']} split", "",
             f"{sum(r['n_seeds'] for r in table['recipes'].values())} runs of {len(table['recipes'])} recipes; "
             f"label scheme {scheme['name']} ({', '.join(scheme['names'])}); source "
             f"{', '.join(table['source_languages']) or '–'}. Cells: mean ± sample standard deviation over seeds, "
             "in %; gap = source − target average.", ""]
    lines += [f"- **warning:** {flag}" for flag in table["flags"]]
    lines += [f"- note: {note}" for note in table["notes"]]
    if table["flags"] or table["notes"]:
        lines.append("")
    columns = table["columns"]
    header = ["recipe", "seeds", *(_column_title(table, c) for c in columns)]
    for name in METRICS:
        rows = [[recipe, str(entry["n_seeds"]), *(_mean_std(entry["columns"].get(c, {}).get(name)) for c in columns)]
                for recipe, entry in table["recipes"].items()]
        lines += [f"## {METRIC_LABELS[name]} (%)", "", *_markdown_rows(header, rows, 1), ""]
    level = f"{100 * table['confidence']:g}%"
    lines += [f"## {level} confidence intervals of {METRIC_LABELS[metric]} (%)", ""]
    if table["n_resamples"]:
        lines.append(f"examples: percentile bootstrap, {table['n_resamples']} resamples of each language's test "
                     "examples (the same resample for every seed, score averaged over seeds).")
    lines += ["seeds: t interval of the mean over seeds (needs at least 2 seeds).", ""]
    rows = []
    for recipe, entry in table["recipes"].items():
        cells = [entry["columns"].get(c, {}).get(metric) or {} for c in columns]
        if table["n_resamples"]:
            rows.append([recipe, "examples", *(_ci_text(cell.get("ci_examples")) for cell in cells)])
        rows.append([recipe, "seeds", *(_ci_text(cell.get("ci_seeds")) for cell in cells)])
    lines += _markdown_rows(["recipe", "over", *header[2:]], rows, 2)
    return "\n".join(lines) + "\n"


def significance_markdown(result: dict[str, Any]) -> str:
    """Markdown table of :func:`compare_recipes`: one row per language and the target average."""
    a, b = result["a"], result["b"]
    label = METRIC_LABELS[result["metric"]]
    lines = [f"## Significance: {a} vs {b} ({label}, {result['split']} split)", "",
             f"Δ = {a} − {b} in points, with its {100 * result['confidence']:g}% bootstrap interval. "
             f"p (bootstrap): paired bootstrap over test examples ({result['n_resamples']} resamples), each recipe "
             "averaged over its seeds; p (Holm): adjusted over the languages; p (perm.): approximate randomisation; "
             "d (examples): Cohen's d_z of per-example correctness; p/d (seeds): paired t test over shared seeds.",
             f"Pairing: {result['pairing']}.", ""]
    lines += [f"- **warning:** {flag}" for flag in result["flags"]]
    lines += [f"- note: {note}" for note in result["notes"]]
    if result["flags"] or result["notes"]:
        lines.append("")
    header = ["language", a, b, "Δ", "CI of Δ", "p (bootstrap)", "p (Holm)", "p (perm.)", "d (examples)",
              "p (seeds)", "d (seeds)"]
    entries = list(result["languages"].items())
    if result.get("target_avg"):
        entries.append(("target avg", result["target_avg"]))
    rows = []
    for language, e in entries:
        seed_test = e.get("seed_test") or {}
        rows.append([language, _pct(e["a"]), _pct(e["b"]), _pct(e["delta"]), _ci_text(e.get("ci")),
                     _p_text(e.get("p_value")), _p_text(e.get("p_value_holm")), _p_text(e.get("p_value_permutation")),
                     _d_text(e.get("cohens_d_examples")), _p_text(seed_test.get("p_value")),
                     _d_text(seed_test.get("cohens_d"))])
    lines += _markdown_rows(header, rows, 1)
    return "\n".join(lines) + "\n"


CSV_FIELDS = ("recipe", "column", "role", "metric", "n_seeds", "seeds", "n_examples", "mean", "std",
              "ci_low_examples", "ci_high_examples", "ci_low_seeds", "ci_high_seeds", "values")


def table_csv(table: dict[str, Any]) -> str:
    """Long-format CSV (one row per recipe, column and metric), scores as fractions like results.json."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for recipe, entry in table["recipes"].items():
        for column in table["columns"]:
            block = entry["columns"].get(column)
            if not block:
                continue
            for metric in METRICS:
                cell = block[metric]
                examples = cell.get("ci_examples") or [None, None]
                seeds = cell.get("ci_seeds") or [None, None]
                writer.writerow({
                    "recipe": recipe, "column": column, "role": block["role"], "metric": metric,
                    "n_seeds": entry["n_seeds"], "seeds": ";".join(map(str, entry["seeds"])),
                    "n_examples": block.get("n", ""), "mean": cell["mean"], "std": cell["std"],
                    "ci_low_examples": examples[0], "ci_high_examples": examples[1],
                    "ci_low_seeds": seeds[0], "ci_high_seeds": seeds[1],
                    "values": ";".join(f"{v:.6g}" for v in cell["values"]),
                })
    return buffer.getvalue()


def _json_ready(value: Any) -> Any:
    """NaN and infinity as null, so the JSON files are strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return _json_ready(value.item())
    return value


# ----------------------------------------------------------------------------- CLI


def default_out_dir(paths: Sequence[str | Path]) -> Path:
    """``<first path>/comparison`` for a sweep folder; ``./comparison`` when the first path is a run folder."""
    first = Path(paths[0])
    return Path("comparison") if _looks_like_run(first) or not first.is_dir() else first / "comparison"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``compare`` to the ``xlingual`` command line."""
    p = subparsers.add_parser(
        "compare", help="compare recipes over seeds: tables, intervals, significance tests, plots",
        description="Gather finished runs (run folders, or sweep folders holding them up to two levels down), "
                    "group them by recipe and report every language's macro-F1 and accuracy as mean ± std over "
                    "seeds, with intervals over test examples (bootstrap) and over seeds (t). Refuses to mix label "
                    "schemes; warns about different test files, target-side resources or oracle model selection.")
    p.add_argument("paths", nargs="+", metavar="RUN_OR_SWEEP", help="run folders or folders that contain them")
    p.add_argument("--out", metavar="DIR",
                   help="folder for table.md/.csv/.json, significance.json and plots "
                        "(default: <first path>/comparison for a sweep folder, else ./comparison)")
    p.add_argument("--significance", nargs=2, metavar=("A", "B"), help="paired significance test of recipe A vs B")
    p.add_argument("--metric", choices=METRICS, default="macro_f1",
                   help="metric of the intervals, the significance test and the plots (default: macro_f1)")
    p.add_argument("--split", default="test", help="evaluation split to compare (default: test)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap/permutation resamples (default: 1000; 0 leaves out example-level statistics)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the resampling (default: 0)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level of intervals (default: 0.95)")
    p.add_argument("--no-plots", action="store_true", help="write only the tables")
    p.set_defaults(func=cmd_compare)
    return p


def _report_warnings(caught: list[warnings.WarningMessage]) -> None:
    for item in caught:
        if issubclass(item.category, ComparisonWarning):
            print(f"warning: {item.message}", file=sys.stderr)
        else:
            warnings.showwarning(item.message, item.category, item.filename, item.lineno)


def cmd_compare(args: argparse.Namespace) -> int:
    """Print the comparison (and significance) tables; write tables, JSON and plots into ``--out``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ComparisonWarning)
        try:
            runs = load_runs(args.paths)
            table = comparison_table(runs, split=args.split, n_resamples=args.bootstrap,
                                     confidence=args.confidence, seed=args.seed)
            significance = None
            if args.significance:
                significance = compare_recipes(runs, *args.significance, split=args.split, metric=args.metric,
                                               n_resamples=args.bootstrap, seed=args.seed,
                                               confidence=args.confidence)
        finally:
            _report_warnings(caught)
    markdown = table_markdown(table, args.metric)
    if significance is not None:
        markdown += "\n" + significance_markdown(significance)
    # files first, then stdout: `xlingual compare … | head` must not lose the files to a closed pipe
    out = Path(args.out) if args.out else default_out_dir(args.paths)
    written = [
        atomic_write_text(out / "table.md", markdown),
        atomic_write_text(out / "table.csv", table_csv(table)),
        atomic_write_json(out / "table.json", _json_ready(table)),
    ]
    if significance is not None:
        written.append(atomic_write_json(out / "significance.json", _json_ready(significance)))
    if not getattr(args, "no_plots", False):
        from .plots import plot_gap_heatmap, plot_language_bars, plot_training_curves

        written.append(plot_language_bars(table, out / "language_bars.png", args.metric))
        if table["source_languages"]:
            written.append(plot_gap_heatmap(table, out / "gap_heatmap.png", args.metric))
        for group in group_runs_quiet(runs).values():
            for run in group:
                if not (run.path / TRAIN_LOG).is_file():
                    continue
                try:
                    written.append(plot_training_curves(run.path, out / "training_curves" / f"{run.name}.png"))
                except ComparisonError as exc:
                    print(f"warning: {exc}", file=sys.stderr)
    print(markdown)
    for path in written:
        print(f"wrote {path}")
    return 0
