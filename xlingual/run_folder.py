"""The run folder: what a run writes, and whether a folder already holds one.

    config.yaml         the resolved recipe (every default filled in)
    recipe.yaml         the recipe file exactly as given (when there was one)
    command.txt         the command line that started the run (runs started by the CLI)
    call.txt            the Python call that started the run (runs started by xlingual.train)
    paths.json          local paths of the recipe, typed and resolved (see xlingual.run_paths)
    dev_holdout.json    the dev positions held out of the train split (data.dev_fraction / dev_size)
    snapshots/          trainable weights at each averaging snapshot (averaging.keep_snapshots)
    results.json        metrics per language and split, summary, protocol, versions, timings
                        (written last and atomically: if it exists, the run finished)
    predictions/        <language>.<split>.jsonl with text, gold, prediction, probabilities
    checkpoint/         the model (see xlingual.checkpoint for the format)
    logs/train_log.jsonl  loss terms and learning rate every logging step, selection scores
    logs/training_curves.png  the same as a figure: each loss term over steps, selection macro-F1 per epoch
    README.md           model card
    evaluations/<name>/ results of ``xlingual evaluate RUN --name NAME`` (on the run's or other data); kept by
                        --overwrite, like any file the run did not write itself
    .xlingual-run.json  the marker written when the run started: only folders carrying it are ever
                        resumed or replaced (--resume, --overwrite), and only the entries above are deleted
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import time
from pathlib import Path

from .errors import RunFolderError
from .io import atomic_write_json

RESULTS = "results.json"
CONFIG = "config.yaml"
RECIPE = "recipe.yaml"
COMMAND = "command.txt"
CALL = "call.txt"
CHECKPOINT = "checkpoint"
PREDICTIONS = "predictions"
TRAIN_LOG = "logs/train_log.jsonl"
TRAINING_CURVES = "logs/training_curves.png"
STATE = "state"
SNAPSHOTS = "snapshots"


def is_complete(folder: str | Path) -> bool:
    """True if ``folder`` holds a finished run (a results.json marked complete)."""
    from .results import results_status

    path = Path(folder) / RESULTS
    return path.is_file() and results_status(path) == "complete"


MARKER = ".xlingual-run.json"
"""Written when a run starts: ``--overwrite`` and ``--resume`` act only on folders that carry it."""

# What a run writes into its folder: --overwrite removes these and nothing else (a file a user added stays;
# the marker stays too, so the folder is still known as a run's if the new run is killed at once).
RUN_ENTRIES = (RESULTS, CONFIG, RECIPE, COMMAND, CALL, CHECKPOINT, PREDICTIONS, "logs", STATE, SNAPSHOTS, "README.md",
               "interpolation_curve.png", "paths.json", "dev_holdout.json",
               f"{STATE}.tmp", f"{STATE}.old", f"{CHECKPOINT}.tmp", f"{CHECKPOINT}.old")


def is_run_folder(folder: str | Path) -> bool:
    """True if ``folder`` carries the marker of a folder xlingual created for a run."""
    return (Path(folder) / MARKER).is_file()


def _within(path: Path, other: Path) -> bool:
    """True if ``path`` is ``other`` or one of its parents."""
    return path == other or path in other.parents


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
    has_content = folder.is_dir() and any(folder.iterdir())
    if not has_content:
        if resume:
            raise RunFolderError(f"--resume: {folder} holds no run to resume; run without --resume to start one")
        return "new"
    if not is_run_folder(folder):
        legacy = ("; if it is a run written before run folders carried the marker, create an empty "
                  f"{folder / MARKER} to adopt it") if (folder / CONFIG).is_file() else ""
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
        leftovers = [p.name for p in folder.glob(f".{CHECKPOINT}.xlingual-*")]  # a checkpoint save cut short
        for name in (*RUN_ENTRIES, *leftovers):
            path = folder / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
    if plan == "resume":
        from .training.state import recover_training_state

        recover_training_state(folder / STATE)  # a kill between the two renames of a save leaves state.old
    if plan in ("new", "replace"):
        folder.mkdir(parents=True, exist_ok=True)
        from . import __version__

        atomic_write_json(folder / MARKER, {"xlingual_run": 1, "xlingual": __version__,
                                            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": command})


# Keys a resumed run may change: they decide what is logged and how often state is saved, not the numbers.
RESUME_MAY_CHANGE = ("training.logging_steps", "training.checkpoint_steps", "evaluation.save_predictions",
                     "output_dir")


def _flatten(data: object, prefix: str = "") -> dict[str, object]:
    if isinstance(data, dict) and data:
        return {k: v for key, value in data.items() for k, v in _flatten(value, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): data}


def check_resume_config(folder: Path, recipe) -> None:
    """Refuse to resume with settings other than those the run started with (naming the keys that differ)."""
    from .config import RecipeConfig, load_recipe_dict
    from .errors import ConfigError

    try:
        saved = RecipeConfig.from_dict(load_recipe_dict(folder / CONFIG)).to_dict()
    except ConfigError as exc:
        raise RunFolderError(f"--resume: the run's {folder / CONFIG} cannot be read ({exc}); pass --overwrite "
                             "to start again") from None
    before, after = _flatten(saved), _flatten(recipe.to_dict())
    changed = [key for key in sorted(set(before) | set(after))
               if before.get(key) != after.get(key) and key not in RESUME_MAY_CHANGE]
    if changed:
        shown = ", ".join(f"{key} ({before.get(key)!r} -> {after.get(key)!r})" for key in changed[:6])
        more = f" and {len(changed) - 6} more" if len(changed) > 6 else ""
        raise RunFolderError(f"--resume: the settings differ from the run's {CONFIG} in {shown}{more}; a resumed "
                             "run continues with the settings it started with, so only "
                             f"{', '.join(RESUME_MAY_CHANGE[:3])} may change: drop those overrides, or pass "
                             "--overwrite to start again")


def resumable(folder: str | Path) -> bool:
    """True if ``folder`` is an unfinished run with saved training state (``--resume`` would continue it)."""
    folder = Path(folder)
    return (is_run_folder(folder) and not is_complete(folder)
            and ((folder / STATE / "state.json").is_file() or (folder / f"{STATE}.old" / "state.json").is_file()))


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that decide the numbers."""
    import accelerate
    import datasets
    import peft
    import torch
    import transformers

    from . import __version__

    return {
        "xlingual": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
        "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
        "accelerate": accelerate.__version__, "datasets": datasets.__version__,
    }


def train_log_records(path: str | Path) -> list[dict]:
    """The records of a training log in file order, each with its phase under ``"round"`` (0: source phase).

    Self-training rounds count steps from 1 again and tag their records; logs written before the tag
    existed get it from the step number going down. A line cut short by a killed run is skipped.
    """
    records, phase, last_step = [], 0, -1
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        step = record.get("step", last_step)
        if "round" in record:
            phase = int(record["round"])
        elif isinstance(step, int) and step < last_step:
            phase += 1
        last_step = step if isinstance(step, int) else last_step
        records.append({**record, "round": phase})
    return records
