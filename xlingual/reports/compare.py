"""``xlingual compare RUN_OR_SWEEP...``: the command line over the comparison modules.

One seed of one recipe says little: test sets are a few hundred examples per language and seeds
move macro-F1 by points. ``compare`` gathers finished runs (:mod:`.runs`), checks they compare like
for like (:mod:`.comparability`), reports every language as mean ± std over seeds with intervals and
a paired significance test (:mod:`.comparison`), and writes tables (:mod:`.render`) and plots.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from ..io import atomic_write_json, atomic_write_text, json_ready
from ..run_folder import TRAIN_LOG
from .alignment import alignment_points, correlation_line
from .comparability import check_comparability
from .comparison import baseline_deltas, compare_recipes, comparison_table, pooled_predictions
from .html import report_html
from .plots import (
    plot_baseline_deltas,
    plot_gap_heatmap,
    plot_language_bars,
    plot_training_curves,
    plot_transfer_vs_retrieval,
)
from .render import baseline_markdown, significance_markdown, table_csv, table_markdown
from .runs import (
    ComparisonError,
    ComparisonWarning,
    Run,
    SkippedRunWarning,
    find_run_folders,
    group_runs,
    group_runs_quiet,
    load_runs,
    looks_like_run,
)
from .stats import METRICS
from .table import ComparisonTable

__all__ = [
    "ComparisonError", "ComparisonWarning", "Run", "check_comparability", "compare_recipes", "comparison_table",
    "find_run_folders", "group_runs", "load_runs", "pooled_predictions", "register", "significance_markdown",
    "table_csv", "table_markdown",
]


def default_out_dir(paths: Sequence[str | Path]) -> Path:
    """``<first path>/comparison`` for a sweep folder; ``./comparison`` when the first path is a run folder."""
    first = Path(paths[0])
    return Path("comparison") if looks_like_run(first) or not first.is_dir() else first / "comparison"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``compare`` to the ``xlingual`` command line."""
    p = subparsers.add_parser(
        "compare", help="compare recipes over seeds: tables, intervals, significance tests, plots",
        description="Gather finished runs (run folders, or sweep folders holding them up to two levels down), "
                    "group them by recipe and report every language's macro-F1 and accuracy as mean ± std over "
                    "seeds, with intervals over test examples (bootstrap) and over seeds (t). Refuses to mix label "
                    "schemes; warns about different test files, target-side resources or oracle model selection. "
                    "Runs that `xlingual diagnose` measured (RUN/diagnostics/diagnostics.json) also go on a "
                    "scatter of translation retrieval@1 against target average (alignment.json, "
                    "transfer_vs_retrieval.png).")
    p.add_argument("paths", nargs="+", metavar="RUN_OR_SWEEP", help="run folders or folders that contain them")
    p.add_argument("--out", metavar="DIR",
                   help="folder for table.md/.csv/.json, significance.json and plots "
                        "(default: <first path>/comparison for a sweep folder, else ./comparison)")
    p.add_argument("--significance", nargs=2, metavar=("A", "B"), help="paired significance test of recipe A vs B")
    p.add_argument("--baseline", metavar="RECIPE",
                   help="also compare every recipe's target average with this one, each paired on the seeds both "
                        "ran (Δ, bootstrap CI, per-seed Δ; baseline.json)")
    p.add_argument("--metric", choices=METRICS, default="macro_f1",
                   help="metric of the intervals, the significance test and the plots (default: macro_f1)")
    p.add_argument("--split", default="test", help="evaluation split to compare (default: test)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                   help="bootstrap/permutation resamples (default: 1000; 0 leaves out example-level statistics)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the resampling (default: 0)")
    p.add_argument("--confidence", type=float, default=0.95, help="confidence level of intervals (default: 0.95)")
    p.add_argument("--no-plots", action="store_true", help="write only the tables")
    p.add_argument("--html", action="store_true",
                   help="also write report.html: one self-contained page (no network requests) with the sortable "
                        "tables, per-language bars with intervals, the paired-Δ plot (with --baseline), confusion "
                        "matrices and the protocol warnings")
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
            baseline = None
            if getattr(args, "baseline", None):
                baseline = baseline_deltas(runs, args.baseline, split=args.split, metric=args.metric,
                                           n_resamples=args.bootstrap, seed=args.seed, confidence=args.confidence)
            alignment = alignment_points(runs, split=args.split, metric=args.metric)
        finally:
            _report_warnings(caught)
    # runs left out are part of the record: a saved table with fewer seeds says which and why
    table.skipped = list(dict.fromkeys(str(item.message) for item in caught
                                          if issubclass(item.category, SkippedRunWarning)))
    markdown = table_markdown(table, args.metric)
    if significance is not None:
        markdown += "\n" + significance_markdown(significance)
    if baseline is not None:
        markdown += "\n" + baseline_markdown(baseline)
    # files first, then stdout: `xlingual compare … | head` must not lose the files to a closed pipe
    out = Path(args.out) if args.out else default_out_dir(args.paths)
    written = [
        atomic_write_text(out / "table.md", markdown),
        atomic_write_text(out / "table.csv", table_csv(table)),
        atomic_write_json(out / "table.json", json_ready(table.to_dict())),
    ]
    if significance is not None:
        written.append(atomic_write_json(out / "significance.json", json_ready(significance)))
    if baseline is not None:
        written.append(atomic_write_json(out / "baseline.json", json_ready(baseline)))
    if alignment is not None:
        written.append(atomic_write_json(out / "alignment.json", json_ready(alignment)))
    if not getattr(args, "no_plots", False):
        written.append(plot_language_bars(table, out / "language_bars.png", args.metric))
        if baseline is not None:
            written.append(plot_baseline_deltas(baseline, out / "baseline_delta.png"))
        if table.source_languages:
            written.append(plot_gap_heatmap(table, out / "gap_heatmap.png", args.metric))
        if alignment is not None and alignment["points"]:
            written.append(plot_transfer_vs_retrieval(alignment, out / "transfer_vs_retrieval.png"))
        for group in group_runs_quiet(runs).values():
            for run in group:
                if not (run.path / TRAIN_LOG).is_file():
                    continue
                try:
                    written.append(plot_training_curves(run.path, out / "training_curves" / f"{run.name}.png"))
                except ComparisonError as exc:
                    print(f"warning: {exc}", file=sys.stderr)
    if getattr(args, "html", False):
        written.append(_write_html(args, out, table, baseline, runs, caught))
    print(markdown)
    if alignment is not None:
        print(correlation_line(alignment))
    for path in written:
        print(f"wrote {path}")
    return 0


def summed_confusions(runs: Sequence[Run], split: str) -> dict[str, dict[str, list[list[int]]]]:
    """Recipe → language → confusion matrix summed over the recipe's seeds (``[gold][predicted]`` counts)."""
    summed: dict[str, dict[str, list[list[int]]]] = {}
    for recipe, group in group_runs_quiet(runs).items():
        for run in group:
            for language, scores in run.language_metrics(split).items():
                if not scores.confusion_matrix:
                    continue
                total = summed.setdefault(recipe, {}).setdefault(language, [[0] * len(row)
                                                                            for row in scores.confusion_matrix])
                for row, counts in zip(total, scores.confusion_matrix, strict=True):
                    row[:] = [a + b for a, b in zip(row, counts, strict=True)]
    return summed


def _write_html(args: argparse.Namespace, out: Path, table: ComparisonTable, baseline: dict | None, runs: Sequence[Run],
                caught: list[warnings.WarningMessage]) -> Path:
    """report.html, from the same table as table.md; the figures drawn for it are inlined."""
    figures: dict[str, Path] = {}
    if not getattr(args, "no_plots", False):
        level = f"{100 * table.confidence:g}%"
        interval = "ci" if table.n_resamples else "std"
        caption = (f"Per language, with the {level} bootstrap interval over test examples" if interval == "ci"
                   else "Per language, ± std over seeds")
        figures[caption] = plot_language_bars(table, out / "language_bars_ci.png", args.metric, interval=interval)
        if baseline is not None and (out / "baseline_delta.png").is_file():
            figures[f"Paired Δ against {baseline['baseline']}"] = out / "baseline_delta.png"
        if table.source_languages and (out / "gap_heatmap.png").is_file():  # drawn by this comparison
            figures["Transfer gap"] = out / "gap_heatmap.png"
    warned = [str(item.message) for item in caught if issubclass(item.category, ComparisonWarning)
              and not issubclass(item.category, SkippedRunWarning)]
    with_split = [run for run in runs if run.split(args.split) is not None]
    page = report_html(table, metric=args.metric, baseline=baseline, figures=figures,
                       confusions=summed_confusions(with_split, args.split), warnings=warned)
    return atomic_write_text(out / "report.html", page)
