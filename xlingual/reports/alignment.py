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

from ..metrics.classification import transfer_summary
from ..run_folder import RESULTS
from .diagnostics import DIAGNOSTICS_JSON
from .runs import Run, _warn

DIAGNOSTICS_DIR = "diagnostics"
RETRIEVAL_KEY = "retrieval_at_1_en_to_x"
SETTINGS = ("pairs_root", "max_pairs", "text_prefix")
"""Diagnostics measured with other pairs, another pair count or prefix are not comparable (warned)."""


def read_retrieval(run: Run) -> dict[str, Any] | None:
    """Retrieval@1 English→X per language from the run's own diagnostics (``retrieval``) and the settings it
    was measured with (``settings``); None where it has none, or where they predate the run's results."""
    path = run.path / DIAGNOSTICS_DIR / DIAGNOSTICS_JSON
    if not path.is_file():
        return None
    results = run.path / RESULTS
    if results.is_file() and path.stat().st_mtime < results.stat().st_mtime:
        _warn(f"{path} is older than the run's results.json (the run was trained again since?): {run.name} left "
              "off the alignment plot; run `xlingual diagnose` on it again")
        return None
    try:
        diagnostics = json.loads(path.read_text(encoding="utf-8"))
        retrieval = {str(lang): float(row[RETRIEVAL_KEY]) for lang, row in diagnostics["languages"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _warn(f"{path}: unreadable diagnostics ({exc}), {run.name} left off the alignment plot")
        return None
    settings = tuple(diagnostics.get(key) for key in SETTINGS)
    return {"retrieval": retrieval, "settings": settings}


def alignment_points(runs: Sequence[Run], split: str = "test", metric: str = "macro_f1") -> dict[str, Any] | None:
    """One point per run with diagnostics: mean retrieval@1 over the languages every such run measured,
    and the run's target average on ``split``; correlations over runs where there are at least three."""
    read = [(run, found) for run in runs if (found := read_retrieval(run))]
    if not read:
        return None
    if len({found["settings"] for _, found in read}) > 1:
        _warn("the runs were diagnosed with different pairs, pair counts or text prefixes "
              f"({', '.join(sorted({str(found['settings']) for _, found in read}))}): retrieval is not comparable "
              "across them")
    measured = [(run, found["retrieval"]) for run, found in read]
    common = set.intersection(*(set(retrieval) for _, retrieval in measured))
    if not common:
        _warn("the runs' diagnostics share no language: no alignment plot")
        return None
    dropped = sorted(set.union(*(set(retrieval) for _, retrieval in measured)) - common)
    if dropped:
        _warn(f"retrieval averaged over {', '.join(sorted(common))} only: {', '.join(dropped)} measured in some "
              "runs, not all")
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
