"""Resumable training state, stored without pickle: tensors in safetensors, the rest in JSON.

``<run>/state/`` holds the trainable weights, the optimiser moments, the scheduler,
the RNG states, the data position and the best weights so far. It is replaced
atomically (written beside, then renamed), so a run killed mid-save keeps the previous
state.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import RunFolderError
from ..io import keep_foreign_files, no_space_error
from ..run_folder import STATE_FILES


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for index, values in state["state"].items():
        meta["state"][str(index)] = {}
        for key, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{index}.{key}"] = value.detach().contiguous().cpu()
                meta["state"][str(index)][key] = "tensor"
            else:
                meta["state"][str(index)][key] = value
    return tensors, meta


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state = {}
    for index, values in meta["state"].items():
        state[int(index)] = {key: tensors[f"{index}.{key}"] if value == "tensor" else value
                             for key, value in values.items()}
    return {"state": state, "param_groups": meta["param_groups"]}


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(path))


def save_training_state(folder: Path, *, model_state: dict[str, torch.Tensor], optimizer, scheduler,
                        objective_state: dict[str, torch.Tensor], best_state: dict[str, torch.Tensor] | None,
                        progress: dict[str, Any], streams: dict[str, Any],
                        average_state: dict[str, torch.Tensor] | None = None,
                        settings: dict[str, Any] | None = None) -> None:
    """Write everything needed to continue exactly where training stopped.

    ``settings`` (the resolved recipe) is kept with the state: a resume is checked against what the run
    really started with, not against the editable config.yaml. A full disk stops with one line naming the
    file, after removing the half-written ``state.tmp`` (the previous state is untouched)."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with no_space_error(tmp):
            _write_state(tmp, model_state, optimizer, scheduler, objective_state, best_state, progress, streams,
                         average_state, settings)
            if folder.exists():
                keep_foreign_files(folder, tmp, set(STATE_FILES))  # a file a user put there moves on with the state
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    tmp.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def remove_training_state(folder: Path) -> None:
    """Delete a spent state (the run completed): xlingual's files go, a file a user added stays."""
    for name in STATE_FILES:
        (folder / name).unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _write_state(tmp: Path, model_state, optimizer, scheduler, objective_state, best_state, progress, streams,
                 average_state, settings) -> None:
    tmp.mkdir(parents=True)
    _save_tensors(model_state, tmp / "trainable.safetensors")
    if best_state is not None:
        _save_tensors(best_state, tmp / "best.safetensors")
    if objective_state:
        _save_tensors(objective_state, tmp / "objectives.safetensors")
    if average_state:
        _save_tensors(average_state, tmp / "average.safetensors")
    optimizer_tensors, optimizer_meta = _flatten_optimizer(optimizer.state_dict())
    _save_tensors(optimizer_tensors, tmp / "optimizer.safetensors")
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng.update({f"cuda{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    _save_tensors(rng, tmp / "rng.safetensors")
    meta = {"optimizer": optimizer_meta, "scheduler": scheduler.state_dict(), "progress": progress,
            "streams": streams, "python_random": random.getstate()}
    if settings is not None:
        meta["settings"] = settings
    with (tmp / "state.json").open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(meta, default=list))
        handle.flush()
        os.fsync(handle.fileno())


def load_training_state(folder: Path) -> dict[str, Any]:
    """Read a state folder written by :func:`save_training_state` (tensors on the CPU)."""
    try:
        return _load_training_state(folder)
    except (OSError, ValueError, KeyError, TypeError, IndexError, SafetensorError) as exc:
        raise RunFolderError(f"--resume: the saved training state in {folder} is damaged ({type(exc).__name__}: "
                             f"{exc}); pass --overwrite to start the run again") from None


def _load_training_state(folder: Path) -> dict[str, Any]:
    meta = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    optimizer = _unflatten_optimizer(load_file(str(folder / "optimizer.safetensors")), meta["optimizer"])
    rng = load_file(str(folder / "rng.safetensors"))
    return {
        "model": load_file(str(folder / "trainable.safetensors")),
        "best": load_file(str(folder / "best.safetensors")) if (folder / "best.safetensors").is_file() else None,
        "objectives": (load_file(str(folder / "objectives.safetensors"))
                       if (folder / "objectives.safetensors").is_file() else {}),
        "average": (load_file(str(folder / "average.safetensors"))
                    if (folder / "average.safetensors").is_file() else None),
        "optimizer": optimizer,
        "scheduler": meta["scheduler"],
        "progress": meta["progress"],
        "streams": meta["streams"],
        "rng": rng,
        "python_random": meta["python_random"],
    }


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["rng"]["torch"])
    if torch.cuda.is_available():
        cuda = [state["rng"][k] for k in sorted(state["rng"]) if k.startswith("cuda")]
        if cuda:
            torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = state["python_random"]
    random.setstate((version, tuple(internal), gauss))
