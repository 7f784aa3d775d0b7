"""The one writer of a run folder's records.

``train`` (and ``fit``), ``soup``, ``interpolate`` and ``evaluate --out`` all leave a run folder; each writes
config.yaml, paths.json, the line that started it and results.json through :class:`RunWriter`, so every kind
of folder holds the same records written the same way (atomically, results.json last). The caller holds the
folder's lock (:func:`xlingual.locking.folder_lock`) and has prepared the folder
(:func:`~xlingual.run_folder.plan.prepare_run_folder`); weights and predictions are written by their own
modules.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import RecipeConfig
from ..io import atomic_write_json, atomic_write_text
from ..results import Results
from .layout import CALL, COMMAND, CONFIG, RECIPE, RESULTS
from .paths import PATHS_FILE, record_paths, yaml_comment


class RunWriter:
    """Writes the records of the run folder ``folder``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def write_recipe(self, recipe: RecipeConfig, paths: dict[str, Any] | None = None,
                     recipe_file: Path | None = None) -> dict[str, Any]:
        """config.yaml (the resolved recipe, with its local paths resolved in a trailing comment) and paths.json;
        with ``recipe_file``, recipe.yaml as the user wrote it. ``paths`` defaults to the recipe's local paths
        resolved against the working directory, which is where this process read them. Returns ``paths``."""
        paths = record_paths(recipe.to_dict()) if paths is None else paths
        atomic_write_text(self.folder / CONFIG, recipe.to_yaml() + yaml_comment(paths))
        atomic_write_json(self.folder / PATHS_FILE, paths)
        if recipe_file is not None:
            atomic_write_text(self.folder / RECIPE, recipe_file.read_text(encoding="utf-8"))
        return paths

    def record_start(self, line: str, python_call: bool = False, append: bool = False) -> None:
        """The command line (command.txt) or Python call (call.txt) that started this; ``append`` keeps the
        earlier starts of a resumed run, one line each."""
        record = self.folder / (CALL if python_call else COMMAND)
        earlier = record.read_text(encoding="utf-8") if append and record.is_file() else ""
        atomic_write_text(record, earlier + line + "\n")

    def write_json(self, name: str, data: Any) -> None:
        """Another record of the run (e.g. the dev positions held out of the train split)."""
        atomic_write_json(self.folder / name, data)

    def write_results(self, results: Results, card: Callable[[Path, Results], None] | None = None) -> Path:
        """results.json, written last and atomically: its presence means the folder is complete. ``card`` (the
        model card, README.md) is written just before it."""
        if card is not None:
            card(self.folder, results)
        results.write(self.folder / RESULTS)
        return self.folder / RESULTS
