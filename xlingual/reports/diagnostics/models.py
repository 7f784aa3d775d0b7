"""The models a diagnosis embeds with: an xlingual run or checkpoint as trained, or a plain encoder as a recipe would
start from it (untrained head, mean pooling)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...config import load_recipe
from ...errors import CheckpointError
from ...io import looks_local
from ...labels import LabelScheme
from ...run_folder import CHECKPOINT, CONFIG

if TYPE_CHECKING:
    import numpy as np
    import torch

    from ...inference import Classifier

    Matrix = torch.Tensor | np.ndarray


# ----------------------------------------------------------------------------- models


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path / 'config.json'}: cannot read it as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path / 'config.json'}: not a model config (expected a JSON object)")
    return data


def is_xlingual(path: str | Path) -> bool:
    """True for an xlingual run folder or checkpoint; False for anything else (plain encoder, hub id)."""
    path = Path(path).expanduser()
    if (path / CHECKPOINT / "config.json").is_file():
        return True
    return (path / "config.json").is_file() and _read_config(path).get("model_type") == "xlingual"


def load_embedder(path: str | Path, text_prefix: str | None = None) -> Classifier:
    """A :class:`~xlingual.inference.Classifier` whose ``embed`` gives the sentence space to diagnose.

    An xlingual run or checkpoint loads as trained (with its own text prefix unless
    ``text_prefix`` is given). A plain Hugging Face encoder (folder or hub id) gets an
    untrained head and mean pooling, exactly as a recipe would start from it: that is the
    "before training" side of a comparison. e5 models expect ``text_prefix="query: "``.
    """
    # torch and transformers: slow to import, so only when a model is loaded (plots need neither)
    from ...inference import Classifier, load

    name = str(path)
    if looks_local(name):
        folder = Path(name).expanduser()
        if not folder.exists():
            raise CheckpointError(f"model or run folder not found: {name}")
        if not folder.is_dir():
            raise CheckpointError(f"{name}: not a folder; give a run folder, checkpoint or Hugging Face model folder")
        if not (folder / "config.json").is_file() and not (folder / CHECKPOINT / "config.json").is_file():
            raise CheckpointError(f"{name}: no config.json (nor checkpoint/config.json); not a run folder, "
                                  "checkpoint or Hugging Face model folder")
        if is_xlingual(folder):
            classifier = load(folder)
            if text_prefix is not None:
                classifier.text_prefix = text_prefix
            return classifier
    return Classifier(*_untrained(name, text_prefix or ""))


def _untrained(name: str, text_prefix: str):
    """The model a recipe would start from: pretrained encoder, new head, mean pooling."""
    # transformers: slow to import, only when a model is loaded
    from transformers import AutoConfig

    from ...modeling.build import build_model, position_limit  # transformers: only when a model is built

    try:
        encoder_config = AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"could not load the model config of '{name}': {first}") from None
    limit = position_limit(encoder_config)
    max_length = min(128, limit) if limit else 128
    recipe = load_recipe(None, [f"model.name={name}", "model.pooling=mean", f"model.max_length={max_length}"])
    recipe.model.text_prefix = text_prefix  # set directly: a value like "query: " is not YAML-safe in an override
    return build_model(recipe, LabelScheme.build("sentiment3"))


def default_out_dir(path: str | Path) -> Path:
    """``<run>/diagnostics`` for a run folder (or its checkpoint); ``./diagnostics-<name>`` otherwise."""
    folder = Path(path).expanduser()
    if (folder / CHECKPOINT / "config.json").is_file():
        return folder / "diagnostics"
    if folder.name == CHECKPOINT and (folder.parent / CONFIG).is_file():
        return folder.parent / "diagnostics"
    name = folder.resolve().name if folder.exists() else str(path).rstrip("/").split("/")[-1]
    return Path(f"diagnostics-{name or 'model'}")


def run_languages(path: str | Path) -> list[str] | None:
    """The target languages of a run's recipe, so a run is diagnosed on the languages it was trained for."""
    # yaml: only when a run's recipe is read
    import yaml

    folder = Path(path).expanduser()
    for config in (folder / "config.yaml", folder.parent / "config.yaml"):
        if config.is_file() and (config.parent / CHECKPOINT).is_dir():
            try:
                data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
                languages = data.get("data", {}).get("target_languages")
            except (OSError, yaml.YAMLError, AttributeError):
                return None
            return list(languages) if isinstance(languages, list) and languages else None
    return None
