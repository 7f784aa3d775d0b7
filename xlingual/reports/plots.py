"""PNG figures for comparisons and runs, readable without the table next to them.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot): nothing global is
touched, so plotting works headless and beside other code that uses pyplot.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io import atomic_write_bytes
from ..results import Results, ResultsError
from ..run_folder import RESULTS, TRAIN_LOG, train_log_records
from .runs import ComparisonError
from .stats import METRIC_LABELS
from .table import Cell, ComparisonTable

DPI = 100
STEP_KEYS = {"step", "epoch", "lr", "total", "round"}


def _save(figure: Figure, path: str | Path) -> Path:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return atomic_write_bytes(path, buffer.getvalue())


def _mean(cell: Cell | None) -> float:
    return math.nan if cell is None or cell.mean is None else 100 * cell.mean


def _column_label(table: ComparisonTable, column: str) -> str:
    if column == "target_avg":
        return "target avg"
    return f"{column}\n(source)" if column in table.source_languages else column


def _errors(cells: list[Cell | None], means: np.ndarray, interval: str) -> np.ndarray:
    """Error bar lengths (2 × columns, below and above): ± std over seeds, or the bootstrap interval over test
    examples (``ci``; ± std where a cell has none)."""
    errors = np.zeros((2, len(cells)))
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        ci = cell.ci_examples if interval == "ci" else None
        if ci and not math.isnan(means[i]):
            errors[:, i] = [max(0.0, means[i] - 100 * ci[0]), max(0.0, 100 * ci[1] - means[i])]
        elif cell.std is not None:
            errors[:, i] = 100 * cell.std
    return errors


def plot_language_bars(table: ComparisonTable, path: str | Path, metric: str = "macro_f1",
                       interval: str = "std") -> Path:
    """Grouped bars: one group per language (and the target average), one bar per recipe, ± std over seeds
    (``interval="ci"``: the bootstrap interval over test examples)."""
    recipes = list(table.recipes)
    columns = [*table.languages, "target_avg"]
    label = METRIC_LABELS[metric]
    width = 0.8 / max(len(recipes), 1)
    figure = Figure(figsize=(max(8.0, 0.45 * len(columns) * max(len(recipes), 2) + 2), 5.5), dpi=DPI)
    axes = figure.add_subplot()
    palette = colormaps["tab10"]
    top = 0.0
    x = np.arange(len(columns))
    for i, recipe in enumerate(recipes):
        entry = table.recipes[recipe]
        cells = [entry.cell(c, metric) for c in columns]
        means = np.array([_mean(cell) for cell in cells])
        errors = _errors(cells, means, interval)
        offset = (i - (len(recipes) - 1) / 2) * width
        bars = axes.bar(x + offset, means, width, yerr=errors, capsize=3, color=palette(i % 10),
                        label=f"{recipe} ({entry.n_seeds} seed{'s' if entry.n_seeds != 1 else ''})",
                        error_kw={"elinewidth": 1, "ecolor": "#333333"})
        axes.bar_label(bars, labels=["" if math.isnan(m) else f"{m:.1f}" for m in means], padding=2, fontsize=7,
                       rotation=90 if len(recipes) > 2 else 0)
        finite = means + errors[1]
        if np.isfinite(finite).any():
            top = max(top, float(np.nanmax(finite)))
    axes.axvline(len(columns) - 1.5, color="#999999", linestyle="--", linewidth=1)
    axes.set_xticks(x, [_column_label(table, c) for c in columns])
    axes.set_ylim(0, min(105.0, top + 12) if top else 100)
    axes.set_ylabel(f"{label} (%)")
    axes.set_xlabel("test language" if table.split == "test" else f"{table.split} language")
    what = (f"{100 * table.confidence:g}% bootstrap interval over test examples" if interval == "ci"
            else "± std over seeds")
    axes.set_title(f"{label} per language on the {table.split} split (mean over seeds, {what})")
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    axes.legend(title="recipe", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(figure, path)


def gap_matrix(table: ComparisonTable, metric: str = "macro_f1") -> tuple[list[str], list[str], np.ndarray]:
    """Recipes, target columns and the transfer gap in points (source mean − language mean)."""
    recipes = list(table.recipes)
    targets = [lang for lang in table.languages if lang not in table.source_languages]
    columns = [*targets, "target_avg"]
    gaps = np.full((len(recipes), len(columns)), np.nan)
    for r, recipe in enumerate(recipes):
        entry = table.recipes[recipe]
        source = _mean(entry.cell(entry.source_language, metric))
        for c, column in enumerate(targets):
            gaps[r, c] = source - _mean(entry.cell(column, metric))
        gaps[r, -1] = _mean(entry.cell("transfer_gap", metric))
    return recipes, columns, gaps


def plot_gap_heatmap(table: ComparisonTable, path: str | Path, metric: str = "macro_f1") -> Path:
    """Recipes × target languages heat map of the transfer gap, each cell annotated in points."""
    recipes, columns, gaps = gap_matrix(table, metric)
    label = METRIC_LABELS[metric]
    figure = Figure(figsize=(max(7.0, 0.9 * len(columns) + 3.5), max(3.0, 0.55 * len(recipes) + 2.2)), dpi=DPI)
    axes = figure.add_subplot()
    finite = gaps[np.isfinite(gaps)]
    limit = max(float(np.abs(finite).max()) if finite.size else 1.0, 1.0)
    image = axes.imshow(np.ma.masked_invalid(gaps), cmap="coolwarm", vmin=-limit, vmax=limit, aspect="auto")
    for r in range(len(recipes)):
        for c in range(len(columns)):
            value = gaps[r, c]
            text = "–" if math.isnan(value) else f"{value:.1f}"
            dark = not math.isnan(value) and abs(value) > 0.6 * limit
            axes.text(c, r, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
    axes.set_xticks(range(len(columns)), [_column_label(table, c) for c in columns], rotation=30, ha="right")
    axes.set_yticks(range(len(recipes)), recipes)
    axes.set_xlabel("target language")
    axes.set_ylabel("recipe")
    sources = ", ".join(table.source_languages) or "source"
    axes.set_title(f"Transfer gap in {label} on the {table.split} split\n"
                   f"({sources} minus each language, points, mean over seeds; lower is better)")
    colorbar = figure.colorbar(image, ax=axes)
    colorbar.set_label(f"gap ({label} points)")
    return _save(figure, path)


def read_train_log(run_folder: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Step records and selection records in training order; a resumed run's repeated steps keep the last record.

    Every record carries its phase under ``"round"`` (0: source phase, then self-training rounds).
    """
    path = Path(run_folder) / TRAIN_LOG
    if not path.is_file():
        raise ComparisonError(f"{path}: no training log")
    steps: dict[tuple[int, int], dict[str, Any]] = {}
    selection: dict[tuple[int, int], dict[str, Any]] = {}
    for record in train_log_records(path):
        if "selection_macro_f1" in record:
            selection[record["round"], int(record.get("epoch", len(selection) + 1))] = record
        elif "task" in record and "step" in record:
            steps[record["round"], int(record["step"])] = record
    if not steps and not selection:
        raise ComparisonError(f"{path}: no step or selection records")
    return [steps[k] for k in sorted(steps)], [selection[k] for k in sorted(selection)]


def _phase_offsets(records: list[dict[str, Any]]) -> dict[int, int]:
    """Where each phase starts on a common step axis: a self-training round follows the phase before it."""
    ends: dict[int, int] = {}
    for record in records:
        phase = record["round"]
        ends[phase] = max(ends.get(phase, 0), int(record.get("step", 0)))
    offsets, total = {}, 0
    for phase in sorted(ends):
        offsets[phase], total = total, total + ends[phase]
    return offsets


def _weight_text(steps: list[dict[str, Any]], key: str) -> str:
    """The alignment term's weight, constant or its range, so the unweighted curve can be read."""
    weights = [record[f"{key}_weight"] for record in steps if f"{key}_weight" in record]
    if not weights:
        return ""
    low, high = min(weights), max(weights)
    return f", weight {low:.3g}" if low == high else f", weight {low:.3g}–{high:.3g}"


def plot_training_curves(run_folder: str | Path, path: str | Path, title: str | None = None) -> Path:
    """Task and alignment losses over steps, and the selection macro-F1 after each epoch.

    ``title`` defaults to the recipe and seed in results.json, else the folder name."""
    run_folder = Path(run_folder)
    steps, selection = read_train_log(run_folder)
    if title is None:
        title = run_folder.name
        if (run_folder / RESULTS).is_file():
            try:
                results = Results.read(run_folder / RESULTS)
                title = f"{results.recipe or title}, seed {'?' if results.seed is None else results.seed}"
            except ResultsError:
                pass
    figure = Figure(figsize=(9.0, 7.0), dpi=DPI)
    loss_axes, score_axes = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    offsets = _phase_offsets(steps + selection)

    def position(record: dict[str, Any]) -> int:
        return offsets[record["round"]] + int(record.get("step", record.get("epoch", 0)))

    x = [position(record) for record in steps]
    marker = "o" if len(steps) < 30 else None
    terms = list(dict.fromkeys(key for record in steps for key in record
                               if key not in STEP_KEYS and not key.endswith(("_weight", "_accuracy"))))
    for key in terms:
        values = [record.get(key, math.nan) for record in steps]
        axes_label = "task (cross-entropy)" if key == "task" else f"{key} (alignment{_weight_text(steps, key)})"
        loss_axes.plot(x, values, marker=marker, markersize=3, label=axes_label)
    if len(terms) > 1:
        loss_axes.plot(x, [record.get("total", math.nan) for record in steps], color="black", linestyle="--",
                       linewidth=1, label="total (weighted sum)")
    loss_axes.set_ylabel("loss")
    loss_axes.set_title(f"Training curves: {title}")
    loss_axes.grid(alpha=0.3)
    if terms:
        loss_axes.legend(fontsize=8)
    else:
        loss_axes.text(0.5, 0.5, "no loss records", ha="center", va="center", transform=loss_axes.transAxes)
    for phase, start in offsets.items():
        if phase:
            for axes in (loss_axes, score_axes):
                axes.axvline(start, color="grey", linestyle=":", linewidth=1)
            loss_axes.annotate(f"self-training round {phase}", (start, 1.0), xycoords=("data", "axes fraction"),
                               xytext=(3, -12), textcoords="offset points", fontsize=7, color="grey")
    if selection:
        sel_x = [position(record) for record in selection]
        scores = [100 * record["selection_macro_f1"] for record in selection]
        score_axes.plot(sel_x, scores, marker="o", color="tab:green", label="selection macro-F1")
        # each phase keeps its own best epoch: the source phase's pseudo-labels the target text, the last is saved
        last = selection[-1]["round"]
        best = max((i for i, record in enumerate(selection) if record["round"] == last), key=lambda i: scores[i])
        score_axes.plot([sel_x[best]], [scores[best]], marker="*", markersize=14, color="tab:red", linestyle="none",
                        label=f"kept: {f'round {last}, ' if last else ''}epoch {selection[best]['epoch']} "
                              f"({scores[best]:.1f})")
        for xs, ys, record in zip(sel_x, scores, selection, strict=True):
            phase = f"round {record['round']}, " if record["round"] else ""
            score_axes.annotate(f"{phase}epoch {record['epoch']}\n{ys:.1f}", (xs, ys), textcoords="offset points",
                                xytext=(0, 6), ha="center", fontsize=7)
        low, high = min(scores), max(scores)
        score_axes.set_ylim(max(0.0, low - 10), min(105.0, high + 12))
        score_axes.legend(fontsize=8, loc="lower right")
    else:
        score_axes.text(0.5, 0.5, "no selection scores (model selection: last epoch)", ha="center", va="center",
                        transform=score_axes.transAxes)
    score_axes.set_ylabel("selection macro-F1 (%)")
    score_axes.set_xlabel("optimizer step")
    score_axes.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def plot_interpolation_curve(curve: dict[str, dict], source_language: str, path: str | Path) -> Path:
    """Macro-F1 per language against the WiSE-FT α, per evaluation split.

    Analysis only: the run chose α on source dev; these evaluation scores were not used to choose it."""
    alphas = sorted(curve, key=float)
    split = next(iter(curve[alphas[0]]))
    languages = list(curve[alphas[0]][split]["languages"])
    figure = Figure(figsize=(8.0, 5.0), dpi=DPI)
    axes = figure.add_subplot()
    palette = colormaps["tab10"]
    x = [float(a) for a in alphas]
    for i, language in enumerate(languages):
        y = [100 * curve[a][split]["languages"][language] for a in alphas]
        source = language == source_language
        axes.plot(x, y, marker="o", linewidth=2.5 if source else 1, color=palette(i % 10),
                  linestyle="-" if source else "--", label=f"{language} (source)" if source else language)
    average = [curve[a][split]["target_avg_macro_f1"] for a in alphas]
    if all(v is not None for v in average):
        axes.plot(x, [100 * v for v in average], marker="s", color="black", linewidth=2.5, label="target average")
    axes.set_xlabel("α  (0 = pretrained encoder, 1 = fine-tuned)")
    axes.set_ylabel(f"macro-F1 on {split} (%)")
    axes.set_title(f"Interpolation toward the pretrained encoder — analysis only,\n"
                   f"α was chosen on {source_language} dev, not on these {split} scores", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(figure, path)


def plot_transfer_vs_retrieval(alignment: dict[str, Any], path: str | Path) -> Path:
    """Scatter of every diagnosed run: translation retrieval@1 (x) against target-average score (y), one
    colour per recipe, with the correlation over runs in the title. Does alignment predict transfer?"""
    points = alignment["points"]
    recipes = list(dict.fromkeys(p["recipe"] for p in points))
    palette = colormaps["tab10"]
    figure = Figure(figsize=(8.0, 5.5), dpi=DPI)
    axes = figure.add_subplot()
    for i, recipe in enumerate(recipes):
        mine = [p for p in points if p["recipe"] == recipe]
        axes.scatter([p["retrieval_at_1"] for p in mine], [100 * p["target_avg"] for p in mine],
                     color=palette(i % 10), marker="osD^v"[i // 10 % 5], s=40, label=f"{recipe} ({len(mine)})",
                     edgecolors="black",
                     linewidths=0.5)
    languages = ", ".join(alignment["retrieval_languages"])
    axes.set_xlabel(f"translation retrieval@1, English → {languages}")
    label = METRIC_LABELS[alignment["metric"]]
    axes.set_ylabel(f"target-average {label} on {alignment['split']} (%)")
    title = "Alignment against transfer, one point per run"
    r, rho = alignment.get("pearson_r"), alignment.get("spearman_rho")
    if r is not None and rho is not None:
        title += f"\nPearson r = {r['value']:+.2f} (p = {r['p_value']:.2g}), " \
                 f"Spearman ρ = {rho['value']:+.2f} (p = {rho['p_value']:.2g}), {len(points)} runs"
    axes.set_title(title, fontsize=10)
    axes.grid(alpha=0.3)
    axes.set_axisbelow(True)
    axes.legend(title="recipe (runs)", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(figure, path)


def plot_baseline_deltas(baseline: dict[str, Any], path: str | Path) -> Path:
    """Paired Δ of each recipe's target average against the baseline: the mean Δ with its bootstrap interval, each
    seed's Δ as a dot, and 0 (no difference) as a line."""
    recipes = list(baseline["recipes"])
    label = METRIC_LABELS[baseline["metric"]]
    figure = Figure(figsize=(8.0, max(2.5, 0.6 * len(recipes) + 1.6)), dpi=DPI)
    axes = figure.add_subplot()
    palette = colormaps["tab10"]
    for row, recipe in enumerate(recipes):
        entry = baseline["recipes"][recipe]
        delta = 100 * entry["delta"] if entry.get("delta") is not None else math.nan
        ci = entry.get("ci")
        if ci:
            axes.plot([100 * ci[0], 100 * ci[1]], [row, row], color=palette(row % 10), linewidth=3, alpha=0.6)
        axes.plot([delta], [row], "o", color=palette(row % 10), markersize=8)
        seeds = [100 * d for d in entry.get("per_seed_delta", [])]
        axes.plot(seeds, [row + 0.18] * len(seeds), "|", color="#333333", markersize=9)
        if not math.isnan(delta):
            axes.annotate(f"{delta:+.1f}", (delta, row), textcoords="offset points", xytext=(0, -14), ha="center",
                          fontsize=8)
    axes.axvline(0, color="#999999", linestyle="--", linewidth=1)
    axes.set_yticks(range(len(recipes)), [f"{r} (seeds {','.join(map(str, baseline['recipes'][r]['seeds']))})"
                                          for r in recipes])
    axes.invert_yaxis()
    axes.set_xlabel(f"Δ target average {label} vs {baseline['baseline']} (points)")
    axes.set_title(f"Paired against {baseline['baseline']} on shared seeds: Δ, "
                   f"{100 * baseline['confidence']:g}% bootstrap CI, ticks = per seed")
    axes.grid(axis="x", alpha=0.3)
    return _save(figure, path)
