"""``soup``: the uniform average of runs fine-tuned from the same base with the same labels (Wortsman et al.,
ICML 2022, "Model soups"), or of one run's ``snapshots/`` (checkpoint averaging, Schmidt et al. 2023).
``greedy`` adds ingredients in order of source-dev score and keeps each only if source dev does not drop."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..cost import combined_cost
from ..errors import RunFolderError
from ..protocol import ZERO_SHOT
from ..training.averaging import RunningAverage
from .ingredients import (
    SourceDevScorer,
    check_compatible,
    check_out,
    load_ingredient,
    resolve_ingredient,
    run_recipe,
    saved_results,
)
from .job import WeightSpaceJob


class SoupJob(WeightSpaceJob):
    """``check`` the ingredients, average them into the ``model``, then write the run folder."""

    def __init__(self, paths: Sequence[str | Path], out: str | Path, greedy: bool = False, name: str | None = None,
                 base_model: str | None = None, overwrite: bool = False, progress: bool = True,
                 callbacks: Sequence[object] = ()) -> None:
        super().__init__(out, overwrite, progress, callbacks)
        self.paths, self.greedy, self.name, self.base_model = list(paths), greedy, name, base_model

    def check(self) -> None:
        """Refused before any weights load: unknown paths, duplicates, ingredients that cannot be averaged, and an
        output folder that is not ours to write (decided again under the lock)."""
        self.ingredients = [resolve_ingredient(p) for p in self.paths]
        if len({i.path.resolve() for i in self.ingredients}) != len(self.ingredients):
            raise RunFolderError("an ingredient is listed twice")
        check_compatible(self.ingredients)
        check_out(self.out, self.overwrite, self.ingredients)

    def make_model(self) -> None:
        ingredients, greedy, base_model = self.ingredients, self.greedy, self.base_model
        recipe = run_recipe(ingredients[0].run)
        base_results = saved_results(ingredients[0].run)
        model, tokenizer = load_ingredient(ingredients[0], base_model)
        scorer = SourceDevScorer(recipe, tokenizer) if greedy else None
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
        recipe.name = self.name or f"{recipe.name}-{'snapshot' if single else ('greedy-' if greedy else '') + 'soup'}"
        kept = [r["ingredient"] for r in record if r["kept"]]
        extra = {"soup": {"kind": "greedy" if greedy else "uniform", "ingredients": record, "kept": kept,
                          "source_dev_macro_f1": best},
                 "weight_space": (f"snapshot {kept[0]}" if single else
                                  f"{'greedy' if greedy else 'uniform'} soup of {len(kept)} models")}
        # the seed (and protocol) of what was kept: one run's snapshots keep its seed; several runs have none
        kept_runs = list(dict.fromkeys(i.run.resolve() for i in ingredients if i.label in kept))
        base_results = saved_results(kept_runs[0]) or base_results
        if base_results is not None and len(kept_runs) > 1:
            kept_results = [r for run in kept_runs if (r := saved_results(run)) is not None]
            extra["soup"]["seeds"] = sorted({r.seed for r in kept_results if r.seed is not None})
            base_results.seed = None
            # the soup used every target-side resource any kept ingredient trained with (a student's pseudo-labels
            # stay in the weights it brings), so compare keeps it apart from zero-shot soups
            resources = list(dict.fromkeys(res for r in kept_results for res in r.protocol.target_resources))
            if len(resources) > 1:
                resources = [res for res in resources if res != ZERO_SHOT]
            base_results.protocol.target_resources = resources
        extra["cost"] = combined_cost([i.run for i in ingredients])  # a greedy soup's rejected runs were trained too
        if single and base_results is not None:  # a fixed checkpoint: neither the run's selection nor its average
            base_results.protocol.model_selection = f"fixed snapshot ({Path(kept[0]).stem})"
            base_results.protocol.checkpoint_averaging = None
        self.ingredients = ingredients
        self.model, self.tokenizer, self.recipe, self.base_results, self.record = (model, tokenizer, recipe,
                                                                                    base_results, extra)


def soup(paths: list[str | Path], out: str | Path, greedy: bool = False, name: str | None = None,
         base_model: str | None = None, overwrite: bool = False, progress: bool = True,
         callbacks: Sequence[object] = ()) -> Path:
    """Average ``paths`` (run folders or snapshots) into the run folder ``out``; returns it."""
    return SoupJob(paths, out, greedy, name, base_model, overwrite, progress, callbacks).run()
