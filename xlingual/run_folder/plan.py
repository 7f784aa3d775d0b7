"""Whether a command may write a folder, and preparing it: a new run, ``--overwrite`` (only the run's own files
are deleted, never a user's), or ``--resume`` (only with the settings the run started with)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..config import RecipeConfig, load_recipe_dict
from ..errors import ConfigError, RunFolderError
from ..io import atomic_write_json, keep_foreign_files
from .layout import (
    CHECKPOINT,
    CONFIG,
    MARKER,
    RECIPE,
    RUN_FOLDERS,
    STATE,
    STATE_FILES,
    _within,
    folder_content,
    is_complete,
    is_run_folder,
    run_written_files,
)

logger = logging.getLogger(__name__)


def refuse_protected(folder: Path, protected: dict[str, Path | None], what: str = "overwrite") -> None:
    """Refuse to replace ``folder`` if it is (or contains) the data, the recipe, the working directory..."""
    target = folder.resolve()
    for label, path in protected.items():
        if path is not None and _within(target, Path(path).expanduser().resolve()):
            relation = "is" if target == Path(path).expanduser().resolve() else "contains"
            raise RunFolderError(f"refusing to {what} {folder}: it {relation} {label} ({path})")


def _local_root(template: str | None) -> Path | None:
    """The local path a data path or template points at (``None`` for a hub id or a path that is not there)."""
    if not template:
        return None
    if "{" in template:
        fixed = template.split("{")[0]
        path = Path(fixed) if fixed.endswith(("/", "\\")) else Path(fixed or ".").parent
    else:
        path = Path(template)
    return path if path.exists() else None


def protected_paths(recipe, recipe_path: Path | None = None) -> dict[str, Path | None]:
    """Folders an --overwrite must never remove: the data, the model, the recipe's folder, the working directory."""
    alignment = recipe.alignment
    paths = {
        "data.root": _local_root(recipe.data.root),
        "model.name": _local_root(recipe.model.name),
        "alignment.pairs.root": _local_root(alignment.pairs.root) if alignment.pairs else None,
        "alignment.unlabeled_target.root": (_local_root(alignment.unlabeled_target.root)
                                            if alignment.unlabeled_target else None),
        "data.pseudo_labeled.root": (_local_root(recipe.data.pseudo_labeled.root)
                                     if recipe.data.pseudo_labeled else None),
        "the recipe's folder": recipe_path.parent if recipe_path is not None else None,
        "the working directory": Path.cwd(),
    }
    return paths


def check_run_folder(folder: Path, overwrite: bool = False, resume: bool = False,
                     protected: dict[str, Path | None] | None = None) -> str:
    """Decide what a new run does with ``folder``, changing nothing: ``"new"``, ``"replace"`` or ``"resume"``.

    Only a folder carrying :data:`MARKER` is ever replaced or resumed; any other non-empty folder is refused.
    """
    if overwrite and resume:
        raise RunFolderError("--overwrite and --resume contradict each other: --resume continues the run in "
                             f"{folder}, --overwrite deletes it; pass one of them")
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"output_dir {folder} exists and is not a folder")
    if overwrite:
        refuse_protected(folder, protected or {})
    has_content = bool(folder_content(folder))
    if not has_content:
        if resume:
            raise RunFolderError(f"--resume: {folder} holds no run to resume; run without --resume to start one")
        return "new"
    if (folder / MARKER).exists() and not is_run_folder(folder):
        raise RunFolderError(f"{folder / MARKER} is not a run marker (not a JSON object); xlingual does not replace "
                             "or resume this folder: choose another output_dir, or write {\"xlingual_run\": 1} into "
                             "it if the folder really holds an xlingual run")
    if not is_run_folder(folder):
        legacy = ("; if it is a run written before run folders carried the marker, adopt it by writing "
                  f"{{\"xlingual_run\": 1}} into {folder / MARKER}") if (folder / CONFIG).is_file() else ""
        raise RunFolderError(f"output_dir {folder} is not empty and is not an xlingual run folder (no {MARKER}); "
                             f"xlingual does not write into or delete other folders: choose another output_dir{legacy}")
    if overwrite:
        return "replace"
    if is_complete(folder):
        hint = " (there is nothing left to resume)" if resume else ""
        raise RunFolderError(f"{folder} already holds a finished run{hint}; pass --overwrite to replace it "
                             "or choose another output_dir")
    if not resume:
        raise RunFolderError(f"{folder} already holds an unfinished run; pass --resume to continue it or "
                             "--overwrite to start again")
    if not any((folder / name / "state.json").is_file() for name in (STATE, f"{STATE}.old")):
        raise RunFolderError(f"--resume: {folder} holds no saved training state (the run stopped before its "
                             "first checkpoint; see training.checkpoint_steps); pass --overwrite to start it again")
    return "resume"


def prepare_run_folder(folder: Path, plan: str, command: str = "") -> None:
    """Carry out :func:`check_run_folder`'s plan; only now is anything deleted or created."""
    if plan == "replace":
        for path in run_written_files(folder):
            path.unlink()
        for path in folder.glob(f".{CHECKPOINT}.xlingual-*"):  # a checkpoint save cut short: xlingual's temp
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
        for name in RUN_FOLDERS:  # emptied by the deletion: gone too; one still holding a user's file stays
            path = folder / name
            if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
                path.rmdir()
    if plan == "resume":
        recover_training_state(folder / STATE)  # a kill between the two renames of a save leaves state.old
    if plan in ("new", "replace"):
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(folder / MARKER, {"xlingual_run": 1, "xlingual": __version__,
                                            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": command})


# Keys a resumed run may change: they decide what is logged and how often state is saved, not the numbers.
RESUME_MAY_CHANGE = ("training.logging_steps", "training.checkpoint_steps", "evaluation.save_predictions",
                     "output_dir", "logging.report_to", "logging.project")


def _flatten(data: object, prefix: str = "") -> dict[str, object]:
    if isinstance(data, dict) and data:
        return {k: v for key, value in data.items() for k, v in _flatten(value, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): data}


def _differences(before: dict, after: dict) -> list[str]:
    flat_before, flat_after = _flatten(before), _flatten(after)
    return [key for key in sorted(set(flat_before) | set(flat_after))
            if flat_before.get(key) != flat_after.get(key) and key not in RESUME_MAY_CHANGE]


def _shown(changed: list[str], before: dict, after: dict) -> str:
    flat_before, flat_after = _flatten(before), _flatten(after)
    shown = ", ".join(f"{key} ({flat_before.get(key)!r} -> {flat_after.get(key)!r})" for key in changed[:6])
    return shown + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")


def check_resume_config(folder: Path, recipe, overrides: Sequence[str] = ()) -> None:
    """Refuse to resume with settings other than those the run started with (naming the keys that differ).

    The reference is the resolved recipe kept in the training state, which the run itself wrote; config.yaml
    is only a record a user can edit, so an edit there is refused too rather than believed. ``overrides``
    are the ``--set`` assignments given: the message names those that changed a setting, or else the recipe."""
    started = saved_settings(folder / STATE)
    try:  # normalised as config.yaml is (a JSON round trip turns tuples into lists, say)
        started = RecipeConfig.from_dict(started).to_dict() if started is not None else None
    except ConfigError as exc:
        logger.warning("--resume: the settings kept in %s cannot be read (%s); checking against %s instead",
                       folder / STATE, exc, CONFIG)
        started = None
    try:
        recorded = RecipeConfig.from_dict(load_recipe_dict(folder / CONFIG)).to_dict()
    except ConfigError as exc:
        if started is None:
            raise RunFolderError(f"--resume: the run's {folder / CONFIG} cannot be read ({exc}); pass --overwrite "
                                 "to start again") from None
        recorded = None
    reference = started if started is not None else recorded
    where = "the settings the run started with (kept in its training state)" if started is not None \
        else f"the run's {CONFIG}"
    given = recipe.to_dict()
    changed = _differences(reference, given)
    may = ", ".join(RESUME_MAY_CHANGE[:3])
    if changed:
        keys = [assignment.split("=", 1)[0].strip() for assignment in overrides]
        by_set = [key for key in changed if any(key == k or key.startswith(k + ".") for k in keys)]
        fix = (f"drop or correct the --set of {', '.join(by_set)}" if by_set else
               f"pass the recipe the run started with (its copy is {folder / RECIPE})" if (folder / RECIPE).is_file()
               else "pass the recipe the run started with")
        raise RunFolderError(f"--resume: the settings differ from {where} in "
                             f"{_shown(changed, reference, given)}; a resumed run continues with the settings it "
                             f"started with, so only {may} may change: {fix}, or pass --overwrite to start again")
    edited = _differences(started, recorded) if started is not None and recorded is not None else []
    if started is not None and (recorded is None or edited):
        what = f"in {_shown(edited, started, recorded)}" if edited else "and cannot be read"
        raise RunFolderError(f"--resume: {folder / CONFIG} was edited after the run started {what}; a resumed run "
                             "continues with the settings it started with (kept in its training state), so "
                             f"config.yaml must record those: undo the edit, or pass --overwrite to start again "
                             "with new settings")


def saved_settings(folder: Path) -> dict[str, Any] | None:
    """The resolved recipe a saved state was trained with (``None`` for states written before it was kept)."""
    for state in (folder, folder.with_name(folder.name + ".old")):
        try:
            settings = json.loads((state / "state.json").read_text(encoding="utf-8")).get("settings")
        except (OSError, ValueError, AttributeError):
            continue
        return settings if isinstance(settings, dict) else None
    return None


def recover_training_state(folder: Path) -> bool:
    """Make ``folder`` hold the last complete saved state, if there is one; returns whether there is.

    A run killed between the two renames of :func:`save_training_state` leaves only ``state.old``
    (the previous complete state): it is moved back. ``state.tmp`` is never trusted (it may be half written).
    """
    old = folder.with_name(folder.name + ".old")
    if (folder / "state.json").is_file():
        return True
    if (old / "state.json").is_file():
        if folder.exists():  # a folder without state.json is no saved state (e.g. cut while being renamed)
            keep_foreign_files(folder, old, set(STATE_FILES))
            shutil.rmtree(folder)
        old.rename(folder)
        return True
    return False
