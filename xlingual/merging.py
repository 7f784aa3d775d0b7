"""Post-hoc models from finished runs, at no training cost: soups and WiSE-FT interpolation.

One module (about 450 lines): both commands load ingredients, score on source dev and write one run folder the
same way, and share that code.

- ``soup``: the uniform average of runs fine-tuned from the same base with the same labels
  (Wortsman et al., ICML 2022, "Model soups"), or of one run's ``snapshots/`` (checkpoint
  averaging, Schmidt et al. 2023). ``greedy`` adds ingredients in order of source-dev score and
  keeps each only if source dev does not drop.
- ``interpolate``: WiSE-FT (Wortsman et al., CVPR 2022), θ(α) = (1 − α)·θ_pretrained + α·θ_fine-tuned
  on the encoder, the head kept or refitted on the source train split; α chosen on the source dev
  split, never on target data. ``analysis=True`` also scores every α on the evaluation splits and
  plots them, labelled as analysis.

Each writes a normal run folder (config, checkpoint, predictions, results.json, model card) whose
results name every ingredient, so ``xlingual compare`` reads it like any run.
"""

from __future__ import annotations

import argparse
import copy
import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file

from . import run_folder as rf
from .checkpoint import load_checkpoint, load_checkpoint_config, save_checkpoint
from .config import RecipeConfig, load_recipe_dict
from .cost import combined_cost
from .data.loading import label_scheme, load_examples
from .errors import CheckpointError, RunFolderError
from .evaluation.splits import evaluate_splits, tokenize, tokenize_all
from .evaluation.zero_shot import evaluate_languages
from .locking import check_unlocked, folder_lock
from .modeling.weight_space import encoder_state, merge_lora, pretrained_encoder_state, set_interpolation
from .reports.model_card import print_results, write_model_card
from .reports.plots import plot_interpolation_curve
from .results import LabelSchemeRecord, Results
from .training.averaging import RunningAverage
from .training.linear_probe import refit_head

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


class _Scorer:
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


def _write_run(out: Path, recheck: Callable[[], str], model, tokenizer, recipe: RecipeConfig,
               base_results: Results | None, record: dict, started: float, progress: bool, figure=None) -> Path:
    """Evaluate ``model`` on the recipe's splits and write ``out`` as a complete run folder; ``recheck`` is
    :func:`_check_out` again, asked under the folder's lock (nothing in ``out`` is touched before this point)."""
    scheme = label_scheme(recipe.data)
    eval_examples = {split: {lang: load_examples(recipe.data, lang, split) for lang in recipe.data.languages}
                     for split in recipe.evaluation.splits}
    command = shlex.join(["xlingual", *sys.argv[1:]])
    with folder_lock(out, command):  # one writer per run folder; the plan is decided again under the lock
        plan = recheck()
        rf.prepare_run_folder(out, plan, command)
        if figure is not None:
            figure(out)
        writer = rf.RunWriter(out)
        writer.write_recipe(recipe)  # its data paths as this process read them, like a trained run's
        writer.record_start(command)
        save_checkpoint(model, tokenizer, out / rf.CHECKPOINT)
        splits = evaluate_splits(model, tokenizer, recipe, scheme, eval_examples, "cpu", None, progress, out)
        results = Results(status="complete", recipe=recipe.name, source_language=recipe.data.source_language,
                          target_languages=list(recipe.data.target_languages),
                          label_scheme=LabelSchemeRecord(scheme.name, list(scheme.names)), splits=splits,
                          wall_seconds=time.perf_counter() - started, versions=rf.library_versions(),
                          soup=record.get("soup"), interpolation=record.get("interpolation"))
        if base_results is not None:  # what the ingredients were: method, model, seed, protocol
            results.method, results.model, results.seed = base_results.method, base_results.model, base_results.seed
            results.trust_remote_code = base_results.trust_remote_code
            results.protocol = copy.deepcopy(base_results.protocol)
        results.protocol.weight_space = record.pop("weight_space")
        if record.get("cost") is not None:
            results.protocol.cost = record["cost"]
        writer.write_results(results, card=lambda folder, written: write_model_card(folder, written, recipe))
    return out


def _saved_results(run: Path) -> Results | None:
    """The run's typed results.json, if it has one."""
    return Results.read(run / rf.RESULTS) if (run / rf.RESULTS).is_file() else None


def _check_out(out: Path, overwrite: bool, ingredients: list[Ingredient], locked: bool = False) -> str:
    """The plan for ``out`` (new or replace), refusing foreign folders and the ingredients' own run folders."""
    for ingredient in ingredients:
        run = ingredient.run.resolve()
        if out.resolve() == run or run.is_relative_to(out.resolve()):
            raise RunFolderError(f"--out {out}: would replace the ingredient run {ingredient.run}; choose a new folder")
    if not locked:  # asked again under our own lock (``locked``), the probe would meet that lock
        check_unlocked(out)
    return rf.check_run_folder(out, overwrite=overwrite, resume=False,
                               protected={"the working directory": Path.cwd()})


def soup(paths: list[str | Path], out: str | Path, greedy: bool = False, name: str | None = None,
         base_model: str | None = None, overwrite: bool = False, progress: bool = True) -> Path:
    """Average ``paths`` (run folders or snapshots) into the run folder ``out``; returns it."""
    started = time.perf_counter()
    out = Path(out)
    ingredients = [resolve_ingredient(p) for p in paths]
    if len({i.path.resolve() for i in ingredients}) != len(ingredients):
        raise RunFolderError("an ingredient is listed twice")
    check_compatible(ingredients)
    _check_out(out, overwrite, ingredients)  # refused before any weights load; decided again under the lock
    recipe = run_recipe(ingredients[0].run)
    base_results = _saved_results(ingredients[0].run)
    model, tokenizer = load_ingredient(ingredients[0], base_model)
    scorer = _Scorer(recipe, tokenizer) if greedy else None
    record: list[dict] = []
    if greedy:
        scored = []
        for ingredient in ingredients:
            candidate, _ = load_ingredient(ingredient, base_model)
            scored.append((scorer(candidate), ingredient))
        scored.sort(key=lambda pair: -pair[0])
        ingredients = [ingredient for _, ingredient in scored]
        dev_scores = {ingredient.label: score for score, ingredient in scored}
    average = RunningAverage()
    best = None
    for ingredient in ingredients:
        candidate, _ = load_ingredient(ingredient, base_model)
        state = candidate.state_dict()
        if not greedy:
            average.update(state)
            record.append({"ingredient": ingredient.label, "kept": True})
            continue
        trial = RunningAverage()
        if average.weights is not None:
            trial.load_state_dict(average.state_dict(), {k: v.dtype for k, v in state.items()})
        trial.update(state)
        model.load_state_dict(trial.result())
        score = scorer(model)
        kept = best is None or score >= best
        if kept:
            average, best = trial, score
        record.append({"ingredient": ingredient.label, "dev_macro_f1": dev_scores[ingredient.label],
                       "soup_dev_macro_f1_with_it": score, "kept": kept})
    model.load_state_dict(average.result())
    single = len(ingredients) == 1
    recipe.name = name or f"{recipe.name}-{'snapshot' if single else ('greedy-' if greedy else '') + 'soup'}"
    kept = [r["ingredient"] for r in record if r["kept"]]
    extra = {"soup": {"kind": "greedy" if greedy else "uniform", "ingredients": record, "kept": kept,
                      "source_dev_macro_f1": best},
             "weight_space": (f"snapshot {kept[0]}" if single else
                              f"{'greedy' if greedy else 'uniform'} soup of {len(kept)} models")}
    # the seed (and protocol) of what was kept: one run's snapshots keep its seed; several runs have none
    kept_runs = list(dict.fromkeys(i.run.resolve() for i in ingredients if i.label in kept))
    base_results = _saved_results(kept_runs[0]) or base_results
    if base_results is not None and len(kept_runs) > 1:
        extra["soup"]["seeds"] = sorted({r.seed for run in kept_runs
                                         if (r := _saved_results(run)) is not None and r.seed is not None})
        base_results.seed = None
    extra["cost"] = combined_cost([i.run for i in ingredients])  # a greedy soup's rejected runs were trained too
    if single and base_results is not None:  # a fixed checkpoint: neither the run's selection nor its average
        base_results.protocol.model_selection = f"fixed snapshot ({Path(kept[0]).stem})"
        base_results.protocol.checkpoint_averaging = None
    return _write_run(out, lambda: _check_out(out, overwrite, ingredients, locked=True), model, tokenizer, recipe,
                      base_results, extra, started, progress)


def interpolation_choice(model, pretrained: dict, fine_tuned: dict, alphas: list[float], head: str, scorer,
                         train_data=None, batch_size: int = 128, progress: bool = False,
                         device="cpu") -> tuple[float, dict]:
    """Score θ(α) on source dev for every α; leave the model at the best α (ties: larger α). Returns (α, scores)."""
    original_head = {k: v.clone() for k, v in model.classifier.state_dict().items()}
    scores: dict[str, float] = {}
    heads: dict[float, dict] = {}
    for alpha in alphas:
        set_interpolation(model, pretrained, fine_tuned, alpha)
        model.classifier.load_state_dict(original_head)
        if head == "refit":
            refit_head(model, train_data, batch_size, device, progress=progress)
        heads[alpha] = {k: v.clone() for k, v in model.classifier.state_dict().items()}
        scores[f"{alpha:g}"] = scorer(model)
    chosen = max(alphas, key=lambda a: (scores[f"{a:g}"], a))
    set_interpolation(model, pretrained, fine_tuned, chosen)
    model.classifier.load_state_dict(heads[chosen])
    return chosen, scores


def interpolate(run: str | Path, alphas: list[float], out: str | Path, head: str = "refit",
                analysis: bool = False, name: str | None = None, base_model: str | None = None,
                overwrite: bool = False, progress: bool = True) -> Path:
    """WiSE-FT on a finished run: choose α on source dev, write the interpolated model as run folder ``out``."""
    started = time.perf_counter()
    ingredient = resolve_ingredient(run)
    out = Path(out)
    if head not in ("refit", "kept"):
        raise RunFolderError(f"--head: '{head}' is not one of refit, kept")
    if not alphas or any(not 0.0 <= a <= 1.0 for a in alphas):
        raise RunFolderError(f"--alpha: values must lie in [0, 1], got {alphas}")
    alphas = sorted(set(alphas) | {1.0})
    _check_out(out, overwrite, [ingredient])  # refused before any weights load; decided again under the lock
    recipe = run_recipe(ingredient.run)
    base_results = _saved_results(ingredient.run)
    model, tokenizer = load_ingredient(ingredient, base_model)
    merge_lora(model)
    fine_tuned = encoder_state(model)
    pretrained = pretrained_encoder_state(model, base_model)
    scorer = _Scorer(recipe, tokenizer)
    train_data = None
    if head == "refit":
        source = recipe.data.source_language
        train_data = tokenize(load_examples(recipe.data, source, "train"), tokenizer, recipe)
    chosen, scores = interpolation_choice(model, pretrained, fine_tuned, alphas, head, scorer, train_data,
                                          recipe.evaluation.batch_size, progress)
    record = {"alphas": alphas, "head": head, "source_dev_macro_f1": scores, "chosen_alpha": chosen,
              "chosen_on": "source-dev"}
    figure = None
    if analysis:
        record["analysis"] = _analysis_curve(model, tokenizer, recipe, pretrained, fine_tuned, alphas, head,
                                             train_data, progress)
        set_interpolation_back(model, pretrained, fine_tuned, chosen, head, train_data, recipe)

        def figure(folder: Path) -> None:
            plot_interpolation_curve(record["analysis"], recipe.data.source_language,
                                     folder / "interpolation_curve.png")
    suffix = "wiseft" + ("-refit" if head == "refit" else "-kept")
    recipe.name = name or f"{recipe.name}-{suffix}"
    extra = {"interpolation": record,
             "weight_space": f"WiSE-FT toward the pretrained encoder, α={chosen:g} chosen on source dev, "
                             f"head {'refitted on source train' if head == 'refit' else 'kept'}"}
    return _write_run(out, lambda: _check_out(out, overwrite, [ingredient], locked=True), model, tokenizer, recipe,
                      base_results, extra, started, progress, figure)


def set_interpolation_back(model, pretrained, fine_tuned, alpha, head, train_data, recipe) -> None:
    set_interpolation(model, pretrained, fine_tuned, alpha)
    if head == "refit":
        refit_head(model, train_data, recipe.evaluation.batch_size, "cpu")


def _analysis_curve(model, tokenizer, recipe, pretrained, fine_tuned, alphas, head, train_data,
                    progress: bool) -> dict:
    """Evaluation-split macro-F1 per α: analysis only, never used to choose α (plotted with that label)."""
    scheme = label_scheme(recipe.data)
    eval_examples = {split: {lang: load_examples(recipe.data, lang, split) for lang in recipe.data.languages}
                     for split in recipe.evaluation.splits}
    original_head = {k: v.clone() for k, v in model.classifier.state_dict().items()}
    curve: dict[str, dict] = {}
    for alpha in alphas:
        model.classifier.load_state_dict(original_head)
        set_interpolation_back(model, pretrained, fine_tuned, alpha, head, train_data, recipe)
        splits = evaluate_splits(model, tokenizer, recipe, scheme, eval_examples, "cpu", None, progress)
        curve[f"{alpha:g}"] = {split: {"languages": {lang: m.macro_f1 for lang, m in block.languages.items()},
                                       "target_avg_macro_f1": block.summary.get("target_avg_macro_f1")}
                               for split, block in splits.items()}
    model.classifier.load_state_dict(original_head)
    return curve


# --------------------------------------------------------------------------- command line


def _floats(value: str) -> list[float]:
    try:
        return [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise RunFolderError(f"--alpha: expected comma-separated numbers in [0, 1], got {value!r}") from None


def register(subparsers) -> None:
    """``xlingual soup`` and ``xlingual interpolate``."""
    p = subparsers.add_parser(
        "soup", help="average runs (or one run's snapshots) into a new run folder",
        description="Uniform model soup (Wortsman et al. 2022) of runs fine-tuned from the same base with the same "
                    "labels, or checkpoint averaging of RUN/snapshots/*.safetensors (written with "
                    "averaging.keep_snapshots); one snapshot file alone is evaluated as it is. --greedy adds "
                    "ingredients by source-dev score and keeps each only if "
                    "source dev does not drop. OUT is a normal, evaluated run folder naming every ingredient.",
        epilog="examples:\n  xlingual soup sweeps/umsab/umsab_e5small/seed{1,2,3} --out runs/soup\n"
               "  xlingual soup runs/umsab_e5small-seed1/snapshots/*.safetensors --out runs/seed1-averaged\n"
               "  xlingual soup runs/umsab_e5small-seed1/snapshots/step-000460.safetensors --out runs/seed1-epoch4\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ingredients", nargs="+", help="run folders, or snapshot files of one run")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--greedy", action="store_true", help="greedy soup on source dev")
    p.add_argument("--name", help="recipe name recorded in results.json (default: <recipe>-soup)")
    p.add_argument("--base-model", help="where LoRA checkpoints' encoder is, if it moved")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it holds a finished run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_soup)

    p = subparsers.add_parser(
        "interpolate", help="WiSE-FT: move a run's encoder toward the pretrained one, α chosen on source dev",
        description="θ(α) = (1−α)·θ_pretrained + α·θ_fine-tuned on the encoder (LoRA merged first), for every α "
                    "given and 1. The head is refitted on the source train split per α (a linear probe on cached "
                    "features, --head refit) or kept. α is chosen on the source dev split; every α's score is "
                    "recorded. --analysis also scores every α on the evaluation splits and plots it (analysis "
                    "only, never used to choose α).",
        epilog="example:\n  xlingual interpolate runs/umsab_e5small-seed1 --alpha 0.2,0.4,0.6,0.8 "
               "--out runs/umsab_e5small-seed1-wiseft\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="run folder written by 'xlingual train'")
    p.add_argument("--alpha", default="0.2,0.4,0.6,0.8", help="comma-separated α values (1 is always added)")
    p.add_argument("--out", required=True, help="run folder to write")
    p.add_argument("--head", choices=["refit", "kept"], default="refit", help="refit the head per α, or keep it")
    p.add_argument("--analysis", action="store_true", help="also score and plot every α on the evaluation splits")
    p.add_argument("--name", help="recipe name recorded in results.json (default: <recipe>-wiseft-<head>)")
    p.add_argument("--base-model", help="the pretrained encoder, if the run's base model moved")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it holds a finished run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_interpolate)


def _cmd_soup(args) -> int:
    out = soup(args.ingredients, args.out, greedy=args.greedy, name=args.name, base_model=args.base_model,
               overwrite=args.overwrite, progress=not args.no_progress)
    _print_summary(out)
    return 0


def _cmd_interpolate(args) -> int:
    out = interpolate(args.run, _floats(args.alpha), args.out, head=args.head, analysis=args.analysis,
                      name=args.name, base_model=args.base_model, overwrite=args.overwrite,
                      progress=not args.no_progress)
    record = Results.read(out / rf.RESULTS).interpolation
    scores = ", ".join(f"α={a}: {100 * s:.1f}" for a, s in record.source_dev_macro_f1.items())
    print(f"source dev macro-F1 ({record.head} head): {scores}; chose α={record.chosen_alpha:g}")
    _print_summary(out)
    return 0


def _print_summary(out: Path) -> None:
    print_results(Results.read(out / rf.RESULTS).splits)
    print(f"run folder: {out}")


def interpolate_in_run(model, recipe: RecipeConfig, train_data, selection_data: dict, scheme, accelerator,
                       progress: bool = False) -> dict:
    """The recipe's ``interpolation`` step after training: θ(α) with α chosen on the selection split."""
    config = recipe.interpolation
    device = accelerator.device

    def score(candidate) -> float:
        report = evaluate_languages(candidate, selection_data, list(scheme.names), "selection",
                                    recipe.data.source_language, recipe.evaluation.batch_size, device, accelerator,
                                    progress=False)
        return sum(r.metrics["macro_f1"] for r in report.languages.values()) / len(report.languages)

    merge_lora(model)
    fine_tuned = encoder_state(model)
    pretrained = {k: v.to(device) for k, v in pretrained_encoder_state(model).items()}
    alphas = sorted(set(config.alphas) | {1.0})
    chosen, scores = interpolation_choice(model, pretrained, fine_tuned, alphas, config.head, score, train_data,
                                          recipe.evaluation.batch_size, progress, device)
    return {"alphas": alphas, "head": config.head, "selection_macro_f1": scores, "chosen_alpha": chosen,
            "chosen_on": "selection split"}
