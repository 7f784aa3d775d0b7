"""The ingredients of a weight-space model: finished runs or snapshots, checked to be averageable, loaded, and
scored on source dev; and the output folder's plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file

from .. import run_folder as rf
from ..checkpoint import load_checkpoint, load_checkpoint_config
from ..config import RecipeConfig, load_recipe_dict
from ..data.loading import label_scheme, load_examples
from ..errors import CheckpointError, RunFolderError
from ..evaluation.splits import tokenize_all
from ..evaluation.zero_shot import evaluate_languages
from ..locking import check_unlocked
from ..results import Results

ADAPTER_CONFIG = "adapter_config.json"


@dataclass
class Ingredient:
    """A model to average: a run's checkpoint, or one of its snapshots on top of that checkpoint."""

    path: Path
    run: Path
    snapshot: Path | None = None

    @property
    def label(self) -> str:
        return str(self.path)


def resolve_ingredient(path: str | Path) -> Ingredient:
    """A run folder, or ``RUN/snapshots/<step>.safetensors`` (trainable weights written by ``averaging``)."""
    path = Path(path)
    if path.is_file() and path.suffix == ".safetensors" and path.parent.name == rf.SNAPSHOTS:
        run = path.parent.parent
        if not (run / rf.CHECKPOINT / "config.json").is_file():
            raise RunFolderError(f"{path}: a snapshot needs its run's checkpoint ({run / rf.CHECKPOINT} is missing)")
        return Ingredient(path, run, path)
    if not path.is_dir():
        raise RunFolderError(f"{path}: not found (give run folders or RUN/snapshots/*.safetensors files)")
    if not (path / rf.CONFIG).is_file() or not (path / rf.CHECKPOINT / "config.json").is_file():
        raise RunFolderError(f"{path}: not a finished run folder (needs {rf.CONFIG} and {rf.CHECKPOINT}/)")
    return Ingredient(path, path)


def _signature(ingredient: Ingredient) -> dict:
    folder, config = load_checkpoint_config(ingredient.run)
    encoder = config.encoder.to_dict()
    adapter = None
    if (folder / ADAPTER_CONFIG).is_file():
        raw = json.loads((folder / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        adapter = {"r": raw.get("r"), "alpha": raw.get("lora_alpha"),
                   "target_modules": sorted(raw.get("target_modules") or [])}
    return {
        "method": "LoRA" if adapter else "full fine-tuning",
        "base model": config.base_model,
        "encoder": {k: encoder.get(k) for k in ("model_type", "hidden_size", "num_hidden_layers", "vocab_size")},
        "labels": [config.id2label[i] for i in range(config.num_labels)],
        "head": {"pooling": config.pooling, "classes": config.num_labels},
        "LoRA": adapter,
    }


def check_compatible(ingredients: list[Ingredient]) -> None:
    """Refuse, in one line, ingredients that cannot be averaged weight by weight."""
    if len(ingredients) == 1 and ingredients[0].snapshot is not None:
        return  # one snapshot: evaluated on its own (e.g. an epoch English dev did not pick)
    if len(ingredients) < 2:
        raise RunFolderError("a soup needs at least two ingredients (or one snapshot file, to evaluate it alone)")
    first = _signature(ingredients[0])
    for ingredient in ingredients[1:]:
        other = _signature(ingredient)
        for key in ("method", "base model", "encoder", "labels", "head", "LoRA"):
            if other[key] != first[key]:
                raise RunFolderError(f"cannot average {ingredient.label} with {ingredients[0].label}: different "
                                     f"{key} ({other[key]} vs {first[key]})")


def load_ingredient(ingredient: Ingredient, base_model: str | None = None):
    """``(model, tokenizer)`` on the CPU, with the snapshot's trainable weights applied if it is one."""
    model, tokenizer = load_checkpoint(ingredient.run, base_model=base_model)
    if ingredient.snapshot is not None:
        try:
            weights = load_file(str(ingredient.snapshot))
        except (SafetensorError, OSError) as exc:
            raise CheckpointError(f"{ingredient.snapshot}: unreadable snapshot ({exc})") from None
        unknown = sorted(set(weights) - set(model.state_dict()))
        if unknown:
            raise CheckpointError(f"{ingredient.snapshot}: weights '{unknown[0]}' are not in the run's model")
        model.load_state_dict(weights, strict=False)
    return model, tokenizer


def run_recipe(run: Path) -> RecipeConfig:
    return RecipeConfig.from_dict(load_recipe_dict(run / rf.CONFIG))


class SourceDevScorer:
    """Source-dev (selection) macro-F1 of a model, with the data tokenised once."""

    def __init__(self, recipe: RecipeConfig, tokenizer) -> None:
        source = recipe.data.source_language
        self.recipe = recipe
        self.scheme = label_scheme(recipe.data)
        self.dev = tokenize_all({source: load_examples(recipe.data, source, "dev")}, tokenizer, recipe)

    def __call__(self, model) -> float:
        report = evaluate_languages(model, self.dev, list(self.scheme.names), "selection",
                                    self.recipe.data.source_language, self.recipe.evaluation.batch_size, "cpu",
                                    None, progress=False)
        return sum(r.metrics["macro_f1"] for r in report.languages.values()) / len(report.languages)


def saved_results(run: Path) -> Results | None:
    """The run's typed results.json, if it has one."""
    return Results.read(run / rf.RESULTS) if (run / rf.RESULTS).is_file() else None


def check_out(out: Path, overwrite: bool, ingredients: list[Ingredient], locked: bool = False) -> str:
    """The plan for ``out`` (new or replace), refusing foreign folders and the ingredients' own run folders."""
    for ingredient in ingredients:
        run = ingredient.run.resolve()
        if out.resolve() == run or run.is_relative_to(out.resolve()):
            raise RunFolderError(f"--out {out}: would replace the ingredient run {ingredient.run}; choose a new folder")
    if not locked:  # asked again under our own lock (``locked``), the probe would meet that lock
        check_unlocked(out)
    return rf.check_run_folder(out, overwrite=overwrite, resume=False,
                               protected={"the working directory": Path.cwd()})
