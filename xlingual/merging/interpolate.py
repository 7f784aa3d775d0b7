"""``interpolate``: WiSE-FT (Wortsman et al., CVPR 2022), θ(α) = (1 − α)·θ_pretrained + α·θ_fine-tuned on the
encoder, the head kept or refitted on the source train split; α chosen on the source dev split, never on target
data. ``analysis=True`` also scores every α on the evaluation splits and plots them, labelled as analysis. The
recipe's ``interpolation:`` step does the same inside a training run (:func:`interpolate_in_run`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..config import RecipeConfig
from ..data.loading import label_scheme, load_examples
from ..errors import RunFolderError
from ..evaluation.splits import evaluate_splits, tokenize
from ..evaluation.zero_shot import evaluate_languages
from ..modeling.weight_space import encoder_state, merge_lora, pretrained_encoder_state, set_interpolation
from ..reports.plots import plot_interpolation_curve
from ..training.linear_probe import refit_head
from .ingredients import SourceDevScorer, check_out, load_ingredient, resolve_ingredient, run_recipe, saved_results
from .job import WeightSpaceJob


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


class InterpolateJob(WeightSpaceJob):
    """``check`` the run and the α values, choose α on source dev for the ``model``, then write the run folder."""

    def __init__(self, run: str | Path, alphas: list[float], out: str | Path, head: str = "refit",
                 analysis: bool = False, name: str | None = None, base_model: str | None = None,
                 overwrite: bool = False, progress: bool = True, callbacks: Sequence[object] = ()) -> None:
        super().__init__(out, overwrite, progress, callbacks)
        self.run_path, self.alphas, self.head, self.analysis = run, alphas, head, analysis
        self.name, self.base_model = name, base_model

    def check(self) -> None:
        """Refused before any weights load: a bad --head or α, and an output folder that is not ours to write."""
        ingredient = resolve_ingredient(self.run_path)
        if self.head not in ("refit", "kept"):
            raise RunFolderError(f"--head: '{self.head}' is not one of refit, kept")
        if not self.alphas or any(not 0.0 <= a <= 1.0 for a in self.alphas):
            raise RunFolderError(f"--alpha: values must lie in [0, 1], got {self.alphas}")
        self.alphas = sorted(set(self.alphas) | {1.0})
        self.ingredients = [ingredient]
        check_out(self.out, self.overwrite, self.ingredients)  # decided again under the lock

    def make_model(self) -> None:
        (ingredient,), alphas, head, base_model = self.ingredients, self.alphas, self.head, self.base_model
        progress = self.progress
        recipe = run_recipe(ingredient.run)
        self.base_results = saved_results(ingredient.run)
        model, tokenizer = load_ingredient(ingredient, base_model)
        merge_lora(model)
        fine_tuned = encoder_state(model)
        pretrained = pretrained_encoder_state(model, base_model)
        scorer = SourceDevScorer(recipe, tokenizer)
        train_data = None
        if head == "refit":
            source = recipe.data.source_language
            train_data = tokenize(load_examples(recipe.data, source, "train"), tokenizer, recipe)
        chosen, scores = interpolation_choice(model, pretrained, fine_tuned, alphas, head, scorer, train_data,
                                              recipe.evaluation.batch_size, progress)
        record = {"alphas": alphas, "head": head, "source_dev_macro_f1": scores, "chosen_alpha": chosen,
                  "chosen_on": "source-dev"}
        if self.analysis:
            record["analysis"] = _analysis_curve(model, tokenizer, recipe, pretrained, fine_tuned, alphas, head,
                                                 train_data, progress)
            set_interpolation_back(model, pretrained, fine_tuned, chosen, head, train_data, recipe)

            def figure(folder: Path) -> None:
                plot_interpolation_curve(record["analysis"], recipe.data.source_language,
                                         folder / "interpolation_curve.png")

            self.figure = figure
        suffix = "wiseft" + ("-refit" if head == "refit" else "-kept")
        recipe.name = self.name or f"{recipe.name}-{suffix}"
        self.record = {"interpolation": record,
                       "weight_space": f"WiSE-FT toward the pretrained encoder, α={chosen:g} chosen on source dev, "
                                       f"head {'refitted on source train' if head == 'refit' else 'kept'}"}
        self.model, self.tokenizer, self.recipe = model, tokenizer, recipe


def interpolate(run: str | Path, alphas: list[float], out: str | Path, head: str = "refit",
                analysis: bool = False, name: str | None = None, base_model: str | None = None,
                overwrite: bool = False, progress: bool = True, callbacks: Sequence[object] = ()) -> Path:
    """WiSE-FT on a finished run: choose α on source dev, write the interpolated model as run folder ``out``."""
    return InterpolateJob(run, alphas, out, head, analysis, name, base_model, overwrite, progress, callbacks).run()


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
