"""compare's table as typed records: what :func:`~.comparison.comparison_table` returns and every renderer reads.

table.md, table.csv, table.json, the plots and report.html all read a :class:`ComparisonTable`; ``to_dict`` is
table.json, key for key. A column a recipe did not score is absent, and :meth:`RecipeRow.cell` says so with
``None`` instead of a chain of ``.get(…, {})``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..results import LabelSchemeRecord


@dataclass
class Cell:
    """One metric of one column over a recipe's seeds (fractions in [0, 1])."""

    mean: float | None
    std: float | None
    """Sample standard deviation over seeds; ``None`` with one seed."""
    values: list[float]
    """One value per seed, in the recipe's seed order."""
    ci_examples: list[float] | None = None
    """Percentile bootstrap interval over test examples (``--bootstrap 0``: none)."""
    ci_seeds: list[float] | None = None
    """t interval of the mean over seeds (at least 2 seeds)."""

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "values": self.values, "ci_examples": self.ci_examples,
                "ci_seeds": self.ci_seeds}


@dataclass
class Column:
    """A language (``role`` source or target, with ``n`` test examples) or a summary column (``role`` summary,
    over the target ``languages``), with one :class:`Cell` per metric."""

    role: str
    metrics: dict[str, Cell]
    n: int | None = None
    languages: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {"role": self.role}
        if self.languages is not None:
            head["languages"] = self.languages
        else:
            head["n"] = self.n
        return {**head, **{metric: cell.to_dict() for metric, cell in self.metrics.items()}}


@dataclass
class RecipeRow:
    """One recipe: its runs and seeds, its protocol, and its columns."""

    runs: list[str]
    seeds: list[int | None]
    n_seeds: int
    method: str | None
    model: str | None
    source_language: str
    target_resources: list[str]
    model_selection: str | None
    columns: dict[str, Column]
    cost_runs: float | None
    """Training-run equivalents per model, the mean over seeds; ``None`` when a run predates cost accounting."""

    def cell(self, column: str, metric: str) -> Cell | None:
        """The cell of ``column`` and ``metric``; ``None`` where this recipe did not score the column."""
        found = self.columns.get(column)
        return None if found is None else found.metrics.get(metric)

    def to_dict(self) -> dict[str, Any]:
        return {"runs": self.runs, "seeds": self.seeds, "n_seeds": self.n_seeds, "method": self.method,
                "model": self.model, "source_language": self.source_language,
                "target_resources": self.target_resources, "model_selection": self.model_selection,
                "columns": {name: column.to_dict() for name, column in self.columns.items()},
                "cost_runs": self.cost_runs}


@dataclass
class ComparisonTable:
    """Recipe × column mean ± std over seeds with intervals, and what the comparison flags."""

    split: str
    metrics: list[str]
    confidence: float
    n_resamples: int
    bootstrap_seed: int
    label_scheme: LabelSchemeRecord
    source_languages: list[str]
    languages: list[str]
    columns: list[str]
    """The languages, then the summary columns (target average, transfer gap)."""
    flags: list[str]
    """Why the runs do not compare like for like (different resources, test examples, ...)."""
    notes: list[str]
    recipes: dict[str, RecipeRow]
    skipped: list[str] | None = field(default=None)
    """Runs left out and why (``compare`` sets it; ``None``: not recorded)."""

    @property
    def n_runs(self) -> int:
        return sum(row.n_seeds for row in self.recipes.values())

    def to_dict(self) -> dict[str, Any]:
        """table.json."""
        data = {"split": self.split, "metrics": self.metrics, "confidence": self.confidence,
                "n_resamples": self.n_resamples, "bootstrap_seed": self.bootstrap_seed,
                "label_scheme": {"name": self.label_scheme.name, "names": list(self.label_scheme.names)},
                "source_languages": self.source_languages, "languages": self.languages, "columns": self.columns,
                "flags": self.flags, "notes": self.notes,
                "recipes": {name: row.to_dict() for name, row in self.recipes.items()}}
        if self.skipped is not None:
            data["skipped"] = self.skipped
        return data
