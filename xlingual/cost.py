"""Compute accounting in training-run equivalents, so methods that train more than once are compared honestly.

One training of a recipe counts 1. A self-training round adds its share of the run's epochs. A student trained
on pseudo-labels adds its teachers' costs (an ensemble of 3 runs: 3; a soup: the runs it averaged), read from
the teachers' own results, so chained rounds add up. Soups and interpolations cost what their ingredients did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import RecipeConfig
from .errors import XlingualError
from .results import Results


def run_cost(run: str | Path) -> float:
    """A finished run folder's cost as its results.json records it; 1 for a run from before cost accounting."""
    path = Path(run) / "results.json"
    try:
        cost = Results.read(path).protocol.cost if path.is_file() else None
    except (OSError, ValueError, XlingualError):  # unreadable: the command reading the teacher says so; here 1
        cost = None
    return float(cost["runs"]) if isinstance(cost, dict) and isinstance(cost.get("runs"), (int, float)) else 1.0


def training_cost(recipe: RecipeConfig, teachers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``protocol.cost`` of a training run: its own training, its self-training rounds, and its teachers."""
    own = 1.0
    if recipe.self_training is not None:
        own += recipe.self_training.rounds * recipe.self_training.epochs / recipe.training.epochs
    members = [{"run": str(t.get("run")), "runs": run_cost(t["run"]) if t.get("run") else 1.0}
               for t in teachers or ()]
    return {"runs": round(own + sum(m["runs"] for m in members), 4), "own_training": round(own, 4),
            "teachers": members}


def combined_cost(runs: list[str | Path]) -> dict[str, Any]:
    """``protocol.cost`` of a soup or interpolation: the sum over the distinct runs it was made from."""
    distinct = list(dict.fromkeys(Path(run).resolve() for run in runs))
    parts = [{"run": str(run), "runs": run_cost(run)} for run in distinct]
    return {"runs": round(sum(p["runs"] for p in parts), 4), "own_training": 0.0, "made_from": parts}
