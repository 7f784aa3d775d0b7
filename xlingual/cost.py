"""Compute accounting in training-run equivalents, so methods that train more than once are compared honestly.

One training of a recipe counts 1. A self-training round adds its share of the run's epochs. A student trained
on pseudo-labels adds its teachers' costs (an ensemble of 3 runs: 3; a soup: the runs it averaged), read from
the teachers' own results, so chained rounds add up. Soups and interpolations cost what their ingredients did.
Each distinct training counts once: three students of one soup teacher, souped, cost 3 + 3, not 3 × 4.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import RecipeConfig
from .errors import XlingualError
from .results import CostRecord, Results


def _cost_record(run: Path) -> CostRecord | None:
    path = run / "results.json"
    try:
        cost = Results.read(path).protocol.cost if path.is_file() else None
    except (OSError, ValueError, XlingualError):  # unreadable: the command reading the teacher says so; here 1
        cost = None
    return cost if cost is not None and isinstance(cost.runs, (int, float)) else None


def trainings(runs: list[str | Path], parts: list[dict[str, Any]] = ()) -> dict[Any, float]:
    """Every distinct training behind ``runs`` and the recorded ``parts`` (``{"run", "runs"}``: teachers or
    ingredients), recursively, each with its own cost: a teacher shared by three students, or a run in two
    soups, is counted once."""
    seen: dict[Any, float] = {}

    def visit(run: Path) -> None:
        run = run.resolve()
        if run in seen:
            return
        cost = _cost_record(run)
        if cost is None:  # a run from before cost accounting: one training
            seen[run] = 1.0
            return
        inner = [*(cost.teachers or ()), *(cost.made_from or ())]
        own = cost.own_training if cost.own_training is not None else (cost.runs if not inner else 0.0)
        seen[run] = float(own)
        add(inner)

    def add(items) -> None:
        for part in items:
            if part.get("run") and (Path(str(part["run"])) / "results.json").is_file():
                visit(Path(str(part["run"])))
            else:  # a teacher that moved, or was never a run folder: its cost as recorded, once per path
                key = ("recorded", str(part["run"]) if part.get("run") else len(seen))
                seen.setdefault(key, float(part.get("runs", 1.0)))

    for run in runs:
        visit(Path(run))
    add(parts)
    return seen


def run_cost(run: str | Path) -> float:
    """A finished run folder's cost: every distinct training behind it; 1 for a run from before cost accounting."""
    return round(sum(trainings([run]).values()), 4)


def training_cost(recipe: RecipeConfig, teachers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """``protocol.cost`` of a training run: its own training, its self-training rounds, and its teachers."""
    own = 1.0
    if recipe.self_training is not None:
        own += recipe.self_training.rounds * recipe.self_training.epochs / recipe.training.epochs
    members = [{"run": str(t.get("run")), "runs": run_cost(t["run"]) if t.get("run") else 1.0}
               for t in teachers or ()]
    parts = [{"run": t.get("run"), "runs": m["runs"]} for t, m in zip(teachers or (), members, strict=True)]
    return {"runs": round(own + sum(trainings([], parts).values()), 4), "own_training": round(own, 4),
            "teachers": members}


def combined_cost(runs: list[str | Path]) -> dict[str, Any]:
    """``protocol.cost`` of a soup or interpolation: every distinct training behind the runs it was made from
    (students of one teacher share it: counted once)."""
    distinct = list(dict.fromkeys(Path(run).resolve() for run in runs))
    parts = [{"run": str(run), "runs": run_cost(run)} for run in distinct]
    return {"runs": round(sum(trainings(distinct).values()), 4), "own_training": 0.0, "made_from": parts}
