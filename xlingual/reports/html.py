"""``compare --html``: one self-contained page to look at, sort, and send to a colleague.

Everything is inline (CSS, a few lines of JavaScript to sort tables, the figures as ``data:`` PNGs), so the page
opens from a file with no network request and no server. The numbers come from the same comparison table that
``table.md`` and ``table.csv`` are written from, with the same formatting.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

from .render import _ci_text, _column_title, _mean_std, _p_text, _pct
from .stats import METRIC_LABELS, METRICS
from .table import Cell, ComparisonTable

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d1d1f; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { padding: 4px 9px; border-bottom: 1px solid #e4e4e4; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, td:not([data-value]) { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; background: #f4f5f7; }
table.sortable th[data-order="asc"]::after { content: " ▲"; }
table.sortable th[data-order="desc"]::after { content: " ▼"; }
tr:hover td { background: #f7f9fc; }
.warning { background: #fff4e5; border-left: 4px solid #f0a020; padding: 6px 10px; margin: 4px 0; }
.note { color: #555; } img { max-width: 100%; } details { margin: 6px 0; }
table.confusion td { text-align: center; min-width: 42px; } table.confusion th { font-weight: normal; }
.matrices { display: flex; flex-wrap: wrap; gap: 18px; } .small { font-size: 12px; color: #555; }
"""

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var ascending = th.dataset.order !== "asc";
      table.querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
      th.dataset.order = ascending ? "asc" : "desc";
      var body = table.tBodies[0];
      var key = function (row) {
        var cell = row.cells[column];
        var value = cell.dataset.value;
        if (value === undefined) { return cell.textContent.trim(); }
        return value === "" ? NaN : parseFloat(value);
      };
      Array.from(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        if (typeof x === "number" || typeof y === "number") {
          if (isNaN(x)) { return isNaN(y) ? 0 : 1; }   // missing values last, either way
          if (isNaN(y)) { return -1; }
          return ascending ? x - y : y - x;
        }
        return ascending ? x.localeCompare(y) : y.localeCompare(x);
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _e(text: Any) -> str:
    return html.escape(str(text))


def _value(number: float | None) -> str:
    """The sort key of a cell (``data-value``): its number, empty when missing."""
    return "" if number is None or (isinstance(number, float) and not math.isfinite(number)) else f"{number:.6g}"


def _table(header: list[str], rows: list[list[tuple[str, float | None] | str]], sortable: bool = True,
           table_id: str | None = None) -> str:
    """An HTML table; a cell given as ``(text, number)`` sorts by the number."""
    attributes = (' class="sortable"' if sortable else "") + (f' id="{table_id}"' if table_id else "")
    parts = [f"<table{attributes}><thead><tr>", *(f"<th>{_e(h)}</th>" for h in header), "</tr></thead><tbody>"]
    for row in rows:
        parts.append("<tr>")
        for cell in row:
            if isinstance(cell, tuple):
                parts.append(f'<td data-value="{_value(cell[1])}">{_e(cell[0])}</td>')
            else:
                parts.append(f"<td>{_e(cell)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _mean(cell: Cell | None) -> float | None:
    return None if cell is None or cell.mean is None else 100 * cell.mean


def _score_tables(table: ComparisonTable) -> str:
    columns = table.columns
    header = ["recipe", "seeds", "cost (runs)", *(_column_title(table, c) for c in columns)]
    parts = []
    for metric in METRICS:
        rows = []
        for recipe, entry in table.recipes.items():
            cost = entry.cost_runs
            cells = [entry.cell(c, metric) for c in columns]
            rows.append([recipe, (str(entry.n_seeds), entry.n_seeds),
                         ("–" if cost is None else f"{cost:g}", cost),
                         *((_mean_std(cell), _mean(cell)) for cell in cells)])
        parts.append(f"<h2>{_e(METRIC_LABELS[metric])} (%)</h2>"
                     + _table(header, rows, table_id=f"scores-{metric}"))
    return "".join(parts)


def _interval_table(table: ComparisonTable, metric: str) -> str:
    columns = table.columns
    rows = []
    for recipe, entry in table.recipes.items():
        cells = [entry.cell(c, metric) for c in columns]
        kinds = (["examples"] if table.n_resamples else []) + ["seeds"]
        for kind in kinds:
            intervals = [None if cell is None else getattr(cell, f"ci_{kind}") for cell in cells]
            rows.append([recipe, kind, *((_ci_text(ci), 100 * ci[0] if ci else None) for ci in intervals)])
    level = f"{100 * table.confidence:g}%"
    return (f"<h2>{level} confidence intervals of {_e(METRIC_LABELS[metric])} (%)</h2>"
            "<p class=\"small\">examples: percentile bootstrap over each language's test examples; seeds: t interval "
            "of the mean over seeds (needs 2).</p>"
            + _table(["recipe", "over", *(_column_title(table, c) for c in columns)], rows))


def _baseline_table(baseline: dict[str, Any]) -> str:
    base = baseline["baseline"]
    rows = []
    for recipe, e in baseline["recipes"].items():
        seed_test = e.get("seed_test") or {}
        rows.append([recipe, ",".join(map(str, e["seeds"])), (_pct(e["a"]), _scale(e["a"])),
                     (_pct(e["b"]), _scale(e["b"])), (_pct(e["delta"]), _scale(e["delta"])),
                     _ci_text(e.get("ci")), (_p_text(e.get("p_value")), e.get("p_value")),
                     ", ".join(f"{100 * d:+.1f}" for d in e["per_seed_delta"]),
                     (_p_text(seed_test.get("p_value")), seed_test.get("p_value"))])
    header = ["recipe", "seeds", "recipe mean", f"{base} mean", "Δ", "CI of Δ", "p (bootstrap)", "Δ per seed",
              "p (seeds)"]
    return (f"<h2>Target average against {_e(base)} (paired on shared seeds)</h2>"
            + _table(header, rows, table_id="baseline"))


def _scale(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _confusions(confusions: dict[str, dict[str, list[list[int]]]], names: list[str], split: str) -> str:
    """Per recipe (folded), one small matrix per language: counts summed over seeds, shaded by row share."""
    parts = [f"<h2>Confusion matrices ({_e(split)} split, summed over seeds; rows gold, columns predicted)</h2>"]
    for recipe, by_language in confusions.items():
        parts.append(f"<details><summary>{_e(recipe)}</summary><div class=\"matrices\">")
        for language, matrix in by_language.items():
            rows = []
            for gold, counts in zip(names, matrix, strict=False):
                total = sum(counts) or 1
                cells = "".join(
                    f'<td style="background: rgba(40, 100, 200, {count / total:.2f}); '
                    f'color: {"#fff" if count / total > 0.55 else "#000"}">{count}</td>' for count in counts)
                rows.append(f"<tr><th>{_e(gold)}</th>{cells}</tr>")
            header = "".join(f"<th>{_e(n)}</th>" for n in names)
            parts.append(f'<table class="confusion"><caption>{_e(language)}</caption>'
                         f"<thead><tr><th></th>{header}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
        parts.append("</div></details>")
    return "".join(parts)


def _model_name(model: str | None) -> str:
    """A local model folder by its name (the page travels; the machine's folders do not), a hub id as it is."""
    if not model:
        return "–"
    return Path(model).name if Path(model).is_absolute() else model


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<p><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></p>'


def report_html(table: ComparisonTable, *, metric: str = "macro_f1", baseline: dict[str, Any] | None = None,
                figures: dict[str, Path] | None = None,
                confusions: dict[str, dict[str, list[list[int]]]] | None = None,
                warnings: list[str] | None = None) -> str:
    """The whole page. ``figures``: caption → PNG file to inline; ``confusions``: recipe → language → matrix;
    ``warnings``: compare's protocol warnings, shown at the top beside the table's own flags."""
    scheme = table.label_scheme
    parts = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
             f"<title>xlingual comparison: {_e(', '.join(table.recipes))}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1>Comparison on the {_e(table.split)} split</h1>",
             f"<p>{table.n_runs} runs of {len(table.recipes)} recipes; label scheme {_e(scheme.name)} "
             f"({_e(', '.join(scheme.names))}); source {_e(', '.join(table.source_languages) or '–')}. Cells: "
             "mean ± sample standard deviation over seeds, in %; gap = source − target average. Click a column "
             "header to sort.</p>"]
    flags = list(dict.fromkeys([*table.flags, *(warnings or [])]))
    parts += [f'<div class="warning"><b>warning:</b> {_e(flag)}</div>' for flag in flags]
    parts += [f'<div class="warning"><b>left out:</b> {_e(s)}</div>' for s in table.skipped or []]
    parts += [f'<p class="note">note: {_e(note)}</p>' for note in table.notes]
    resources = [[recipe, ", ".join(entry.target_resources) or "zero-shot", entry.model_selection,
                  _model_name(entry.model), entry.method] for recipe, entry in table.recipes.items()]
    parts.append("<h2>Protocols</h2>" + _table(["recipe", "target-side resources", "model selection", "model",
                                                "method"], resources))
    parts.append(_score_tables(table))
    for caption, path in (figures or {}).items():
        parts.append(f"<h2>{_e(caption)}</h2>{_image(path, caption)}")
    if baseline is not None:
        parts.append(_baseline_table(baseline))
    parts.append(_interval_table(table, metric))
    if confusions:
        parts.append(_confusions(confusions, list(scheme.names), table.split))
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"
