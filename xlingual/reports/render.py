"""Rendering of ``compare``'s results: Markdown tables for people, long-format CSV for analysis."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

from .stats import METRIC_LABELS, METRICS
from .table import Cell, ComparisonTable

COLUMN_TITLES = {"target_avg": "target avg", "transfer_gap": "gap"}


def _pct(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.1f}"


def _mean_std(cell: Cell | None) -> str:
    if cell is None or cell.mean is None:
        return "–"
    return _pct(cell.mean) + (f" ± {_pct(cell.std)}" if cell.std is not None else "")


def _ci_text(ci: Sequence[float] | None) -> str:
    return "–" if not ci else f"[{_pct(ci[0])}, {_pct(ci[1])}]"


def _p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _d_text(d: float | None) -> str:
    return "–" if d is None else f"{d:.2f}"


def _column_title(table: ComparisonTable, column: str) -> str:
    if column in COLUMN_TITLES:
        return COLUMN_TITLES[column]
    return f"{column} (src)" if column in table.source_languages else column


def _markdown_rows(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> list[str]:
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    return ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |",
            *("| " + " | ".join(row) + " |" for row in rows)]


def table_markdown(table: ComparisonTable, metric: str = "macro_f1") -> str:
    """Markdown: flags, mean ± std tables for both metrics, and the intervals of ``metric``."""
    scheme = table.label_scheme
    lines = [f"# Comparison on the {table.split} split", "",
             f"{table.n_runs} runs of {len(table.recipes)} recipes; "
             f"label scheme {scheme.name} ({', '.join(scheme.names)}); source "
             f"{', '.join(table.source_languages) or '–'}. Cells: mean ± sample standard deviation over seeds, "
             "in %; gap = source − target average.", ""]
    skipped = table.skipped or []
    lines += [f"- **warning:** {flag}" for flag in table.flags]
    lines += [f"- **left out:** {item}" for item in skipped]
    lines += [f"- note: {note}" for note in table.notes]
    if table.flags or table.notes or skipped:
        lines.append("")
    columns = table.columns
    header = ["recipe", "seeds", "cost (runs)", *(_column_title(table, c) for c in columns)]
    for name in METRICS:
        rows = [[recipe, str(row.n_seeds), "–" if row.cost_runs is None else f"{row.cost_runs:g}",
                 *(_mean_std(row.cell(c, name)) for c in columns)]
                for recipe, row in table.recipes.items()]
        lines += [f"## {METRIC_LABELS[name]} (%)", "", *_markdown_rows(header, rows, 1), ""]
    level = f"{100 * table.confidence:g}%"
    lines += [f"## {level} confidence intervals of {METRIC_LABELS[metric]} (%)", ""]
    if table.n_resamples:
        lines.append(f"examples: percentile bootstrap, {table.n_resamples} resamples of each language's test "
                     "examples (the same resample for every seed, score averaged over seeds).")
    lines += ["seeds: t interval of the mean over seeds (needs at least 2 seeds).", ""]
    rows = []
    for recipe, row in table.recipes.items():
        cells = [row.cell(c, metric) for c in columns]
        if table.n_resamples:
            rows.append([recipe, "examples", *(_ci_text(cell and cell.ci_examples) for cell in cells)])
        rows.append([recipe, "seeds", *(_ci_text(cell and cell.ci_seeds) for cell in cells)])
    lines += _markdown_rows(["recipe", "over", *header[3:]], rows, 2)  # no cost column here
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


def table_csv(table: ComparisonTable) -> str:
    """Long-format CSV (one row per recipe, column and metric), scores as fractions like results.json."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for recipe, row in table.recipes.items():
        for column in table.columns:
            block = row.columns.get(column)
            if block is None:
                continue
            for metric in METRICS:
                cell = block.metrics[metric]
                examples = cell.ci_examples or [None, None]
                seeds = cell.ci_seeds or [None, None]
                writer.writerow({
                    "recipe": recipe, "column": column, "role": block.role, "metric": metric,
                    "n_seeds": row.n_seeds, "seeds": ";".join(map(str, row.seeds)),
                    "n_examples": "" if block.n is None else block.n, "mean": cell.mean, "std": cell.std,
                    "ci_low_examples": examples[0], "ci_high_examples": examples[1],
                    "ci_low_seeds": seeds[0], "ci_high_seeds": seeds[1],
                    "values": ";".join(f"{v:.6g}" for v in cell.values),
                })
    return buffer.getvalue()


def baseline_markdown(result: dict[str, Any]) -> str:
    """Markdown table of :func:`~.comparison.baseline_deltas`: one row per recipe, paired on shared seeds."""
    base = result["baseline"]
    label = METRIC_LABELS[result["metric"]]
    lines = [f"## Target average against {base} ({label}, {result['split']} split, paired on shared seeds)", "",
             f"Δ = recipe − {base} in points over the seeds both ran; CI: {100 * result['confidence']:g}% paired "
             f"bootstrap over test examples ({result['n_resamples']} resamples); p (seeds): paired t test over "
             "those seeds (needs 2).", ""]
    lines += [f"- note: {note}" for note in result["notes"]]
    if result["notes"]:
        lines.append("")
    header = ["recipe", "seeds", "recipe mean", f"{base} mean", "Δ", "CI of Δ", "p (bootstrap)", "Δ per seed",
              "p (seeds)"]
    rows = []
    for recipe, e in result["recipes"].items():
        seed_test = e.get("seed_test") or {}
        per_seed = ", ".join(f"{100 * d:+.1f}" for d in e["per_seed_delta"])
        rows.append([recipe, ",".join(map(str, e["seeds"])), _pct(e["a"]), _pct(e["b"]), _pct(e["delta"]),
                     _ci_text(e.get("ci")), _p_text(e.get("p_value")), per_seed, _p_text(seed_test.get("p_value"))])
    lines += _markdown_rows(header, rows, 2)
    return "\n".join(lines) + "\n"
