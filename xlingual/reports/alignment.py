"""Does alignment predict transfer? Pair each run's target-average score with its translation retrieval.

``xlingual diagnose RUN --pairs …`` writes ``RUN/diagnostics/diagnostics.json`` (retrieval@1 per language).
``compare`` reads it wherever it exists and puts every such run on one scatter: retrieval@1 English→X
(averaged over the languages measured in every run) against the run's target-average score, with
Pearson's r and Spearman's ρ over runs (scipy). Runs without diagnostics are simply not on the plot.
The p-values treat runs as independent; seeds of one recipe, or runs derived from one another (a soup, an
interpolation), are not, so read them as descriptive.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from scipy import stats as scipy_stats

from ..evaluation.metrics import transfer_summary
from .diagnostics import DIAGNOSTICS_JSON
from .runs import Run, _warn

DIAGNOSTICS_DIR = "diagnostics"
RETRIEVAL_KEY = "retrieval_at_1_en_to_x"


def read_retrieval(run: Run) -> dict[str, float] | None:
    """Retrieval@1 English→X per language from the run's own diagnostics, or None where it has none."""
    path = run.path / DIAGNOSTICS_DIR / DIAGNOSTICS_JSON
    if not path.is_file():
        return None
    try:
        languages = json.loads(path.read_text(encoding="utf-8"))["languages"]
        return {str(lang): float(row[RETRIEVAL_KEY]) for lang, row in languages.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _warn(f"{path}: unreadable diagnostics ({exc}), {run.name} left off the alignment plot")
        return None


def alignment_points(runs: Sequence[Run], split: str = "test", metric: str = "macro_f1") -> dict[str, Any] | None:
    """One point per run with diagnostics: mean retrieval@1 over the languages every such run measured,
    and the run's target average on ``split``; correlations over runs where there are at least three."""
    measured = [(run, retrieval) for run in runs if (retrieval := read_retrieval(run))]
    if not measured:
        return None
    common = set.intersection(*(set(retrieval) for _, retrieval in measured))
    if not common:
        _warn("the runs' diagnostics share no language: no alignment plot")
        return None
    languages = sorted(common)
    points = []
    for run, retrieval in measured:
        scores = run.language_metrics(split)
        summary = transfer_summary({lang: s.metrics() for lang, s in scores.items()}, run.source_language)
        target = summary.get(f"target_avg_{metric}")
        if target is None or not math.isfinite(target):
            continue
        points.append({"run": str(run.path), "recipe": run.recipe, "seed": run.seed,
                       "retrieval_at_1": sum(retrieval[lang] for lang in languages) / len(languages),
                       "target_avg": float(target)})
    result: dict[str, Any] = {"split": split, "metric": metric, "retrieval_languages": languages,
                              "points": points, "pearson_r": None, "spearman_rho": None}
    xs = [p["retrieval_at_1"] for p in points]
    ys = [p["target_avg"] for p in points]
    if len(points) >= 3 and len(set(xs)) > 1 and len(set(ys)) > 1:
        pearson = scipy_stats.pearsonr(xs, ys)
        spearman = scipy_stats.spearmanr(xs, ys)
        result["pearson_r"] = {"value": float(pearson.statistic), "p_value": float(pearson.pvalue)}
        result["spearman_rho"] = {"value": float(spearman.statistic), "p_value": float(spearman.pvalue)}
    return result


def correlation_line(result: dict[str, Any]) -> str:
    """One line for the terminal: how many runs, and the correlations if there are enough of them."""
    langs = ", ".join(result["retrieval_languages"])
    line = f"alignment vs transfer: {len(result['points'])} runs with diagnostics (retrieval@1 en→{langs})"
    if result["pearson_r"] is None:
        return line + "; fewer than 3 distinct points, no correlation"
    r, rho = result["pearson_r"], result["spearman_rho"]
    return line + f"; Pearson r = {r['value']:+.2f} (p = {r['p_value']:.2g}), " \
                  f"Spearman ρ = {rho['value']:+.2f} (p = {rho['p_value']:.2g})"
