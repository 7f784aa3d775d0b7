"""The run folder: what a run writes, and whether a folder already holds one.

    config.yaml         the resolved recipe (every default filled in)
    recipe.yaml         the recipe file exactly as given (when there was one)
    command.txt         the command line that started the run (runs started by the CLI)
    call.txt            the Python call that started the run (runs started by xlingual.train)
    results.json        metrics per language and split, summary, protocol, versions, timings
                        (written last and atomically: if it exists, the run finished)
    predictions/        <language>.<split>.jsonl with text, gold, prediction, probabilities
    checkpoint/         the model (see xlingual.checkpoint for the format)
    logs/train_log.jsonl  loss terms and learning rate every logging step, selection scores
    logs/training_curves.png  the same as a figure: each loss term over steps, selection macro-F1 per epoch
    README.md           model card
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from pathlib import Path

from .errors import RunFolderError

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


def prepare_run_folder(folder: Path, overwrite: bool = False, resume: bool = False) -> None:
    """Make sure ``folder`` can take this run without mixing it with another one."""
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"output_dir {folder} exists and is not a folder")
    has_content = folder.is_dir() and any(folder.iterdir())
    if overwrite and has_content:
        shutil.rmtree(folder)
    elif is_complete(folder):
        hint = " (there is nothing left to resume)" if resume else ""
        raise RunFolderError(f"{folder} already holds a finished run{hint}; pass --overwrite to replace it "
                             "or choose another output_dir")
    elif has_content and not resume:
        raise RunFolderError(f"{folder} already holds an unfinished run; pass --resume to continue it or "
                             "--overwrite to start again")
    folder.mkdir(parents=True, exist_ok=True)


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
