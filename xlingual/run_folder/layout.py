"""What a run folder holds, by name, and how to tell whether a folder holds a run.

    config.yaml         the resolved recipe (every default filled in)
    recipe.yaml         the recipe file exactly as given (when there was one)
    command.txt         the command line that started the run (runs started by the CLI)
    call.txt            the Python call that started the run (runs started by xlingual.train)
    paths.json          local paths of the recipe, typed and resolved (see xlingual.run_folder.paths)
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
import logging
import platform
import re
import sys
from pathlib import Path

from .._version import __version__
from ..config import RecipeConfig, load_recipe_dict
from ..errors import ConfigError
from ..results import results_status

logger = logging.getLogger(__name__)

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
    path = Path(folder) / RESULTS
    return path.is_file() and results_status(path) == "complete"


MARKER = ".xlingual-run.json"
"""Written when a run starts: ``--overwrite`` and ``--resume`` act only on folders that carry it."""

LOCK = ".xlingual-lock"
"""The lock a writing process holds (see :mod:`xlingual.locking`); it and its holder record are not run content."""
LOCK_HOLDER = ".xlingual-lock.json"

# What a run writes into its folder, by exact name (see run_written_files): --overwrite deletes those files and
# nothing else, so a file a user added stays wherever it is (in logs/, predictions/, checkpoint/ too); a folder
# the deletion empties goes as well. The marker stays, so the folder is still known as a run's if the new run
# is killed at once. The checkpoint's own files are listed by the checkpoint (see :func:`checkpoint_files`).
RUN_FILES = (RESULTS, CONFIG, RECIPE, COMMAND, CALL, "README.md", "interpolation_curve.png", "paths.json",
             "dev_holdout.json", TRAIN_LOG, TRAINING_CURVES)
STATE_FILES = ("state.json", "trainable.safetensors", "best.safetensors", "objectives.safetensors",
               "average.safetensors", "optimizer.safetensors", "rng.safetensors")
"""What a saved training state holds (``state/``, and ``state.tmp``/``state.old`` mid-save)."""
_SNAPSHOT = re.compile(r"step-\d{6}\.safetensors")
_PREDICTIONS = re.compile(r"[^.]+\.[^.]+\.jsonl")  # <language>.<split>.jsonl
TRACKER_FILES = Path("logs") / "trackers"
"""Where trackers that need a folder write (TensorBoard): their event and hparams files are the run's own."""
_TRACKER_FILE = re.compile(r"events\.out\.tfevents\..+|hparams\.yml")
RUN_FOLDERS = ("logs", PREDICTIONS, SNAPSHOTS, STATE, f"{STATE}.tmp", f"{STATE}.old", CHECKPOINT)
"""Folders a run creates: removed by --overwrite once empty (a folder still holding a user's file stays)."""
CHECKPOINT_METADATA = "xlingual_checkpoint.json"
# What checkpoints written before their metadata listed their files may hold (weights, config, tokenizer files).
_CHECKPOINT_NAMES = ("config.json", "model.safetensors", "model_int8.safetensors", "head.safetensors",
                     "adapter_config.json", "adapter_model.safetensors", CHECKPOINT_METADATA, "tokenizer.json",
                     "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt",
                     "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model", "chat_template.jinja")


def checkpoint_files(folder: Path) -> set[str]:
    """Names of the files xlingual wrote in the checkpoint ``folder`` (any other file there is a user's)."""
    try:
        listed = json.loads((folder / CHECKPOINT_METADATA).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError, AttributeError):
        listed = None
    if isinstance(listed, list) and all(isinstance(name, str) for name in listed):
        return {*listed, CHECKPOINT_METADATA}
    return set(_CHECKPOINT_NAMES)


def _prediction_names(folder: Path) -> set[str] | None:
    """``<language>.<split>.jsonl`` for the languages and splits of the run's config.yaml (None: unreadable)."""
    try:
        recipe = RecipeConfig.from_dict(load_recipe_dict(folder / CONFIG))
    except (ConfigError, OSError):
        return None
    return {f"{language}.{split}.jsonl" for language in recipe.data.languages for split in recipe.evaluation.splits}


def run_written_files(folder: Path) -> list[Path]:
    """The files of ``folder`` that a run wrote (what --overwrite deletes): :data:`RUN_FILES`, the state and
    snapshot files by their exact names, the predictions of the languages and splits in config.yaml (by their
    name pattern where config.yaml cannot be read), and the files the checkpoint lists."""
    found = {folder / name for name in RUN_FILES}
    found.update(folder / state / name for state in (STATE, f"{STATE}.tmp", f"{STATE}.old") for name in STATE_FILES)
    if (folder / SNAPSHOTS).is_dir():
        found.update(p for p in (folder / SNAPSHOTS).iterdir() if _SNAPSHOT.fullmatch(p.name))
    if (folder / PREDICTIONS).is_dir():
        names = _prediction_names(folder)
        found.update(p for p in (folder / PREDICTIONS).iterdir()
                     if (p.name in names if names is not None else _PREDICTIONS.fullmatch(p.name)))
    if (folder / TRACKER_FILES).is_dir():
        found.update(p for p in (folder / TRACKER_FILES).rglob("*") if _TRACKER_FILE.fullmatch(p.name))
    found = {path for path in found if path.is_file() or path.is_symlink()}
    checkpoint = folder / CHECKPOINT
    if checkpoint.is_dir() and not checkpoint.is_symlink():
        found.update(checkpoint / name for name in checkpoint_files(checkpoint) if (checkpoint / name).is_file())
    return sorted(found)


def read_marker(folder: str | Path) -> dict | None:
    """The marker's content if ``folder`` carries a run marker: a JSON object (xlingual writes
    ``{"xlingual_run": 1, ...}``); a file of that name holding anything else is no marker."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def folder_content(folder: Path) -> list[Path]:
    """What the folder holds besides a lock (a lock file is made before anything else, and is no content)."""
    return [p for p in folder.iterdir() if p.name not in (LOCK, LOCK_HOLDER)] if folder.is_dir() else []


def is_run_folder(folder: str | Path) -> bool:
    """True if ``folder`` carries the marker of a folder xlingual created for a run (any other file of that
    name, e.g. one a user typed by hand, is not taken as one)."""
    return read_marker(folder) is not None


def _within(path: Path, other: Path) -> bool:
    """True if ``path`` is ``other`` or one of its parents."""
    return path == other or path in other.parents


def resumable(folder: str | Path) -> bool:
    """True if ``folder`` is an unfinished run with saved training state (``--resume`` would continue it)."""
    folder = Path(folder)
    return (is_run_folder(folder) and not is_complete(folder)
            and ((folder / STATE / "state.json").is_file() or (folder / f"{STATE}.old" / "state.json").is_file()))


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries that decide the numbers."""
    # accelerate imports torch: only when it is needed
    import accelerate
    import datasets
    import peft
    import torch
    import transformers

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
