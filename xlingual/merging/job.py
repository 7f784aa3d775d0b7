"""What a soup and an interpolation share once their model is made: it is written as a complete run folder.

:class:`WeightSpaceJob` runs ``check → model → folder → evaluate → write``; a subclass gives the first two
(which ingredients, and how their weights combine) and the record of how it made the model.
"""

from __future__ import annotations

import contextlib
import copy
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import run_folder as rf
from ..callbacks import Job
from ..checkpoint import save_checkpoint
from ..config import RecipeConfig
from ..data.loading import label_scheme, load_examples
from ..evaluation.splits import evaluate_splits
from ..locking import folder_lock
from ..reports.model_card import write_model_card
from ..results import LabelSchemeRecord, Results
from .ingredients import Ingredient, check_out

STAGES = ("check", "model", "folder", "evaluate", "write")


class WeightSpaceJob(Job):
    """A model made from finished runs, evaluated and written as run folder ``out``.

    After ``model``, a subclass has set ``model``, ``tokenizer``, ``recipe``, ``base_results`` (the ingredients'
    results.json, for method, seed and protocol) and ``record`` (``soup``/``interpolation``, ``weight_space``,
    ``cost``); ``figure`` may draw into the folder. Nothing in ``out`` is touched before ``folder``."""

    stages = STAGES

    def __init__(self, out: str | Path, overwrite: bool = False, progress: bool = True,
                 callbacks: Sequence[object] = ()) -> None:
        super().__init__(callbacks)
        self.out = Path(out)
        self.overwrite, self.progress = overwrite, progress
        self.ingredients: list[Ingredient] = []
        self.model: Any = None
        self.tokenizer: Any = None
        self.recipe: RecipeConfig | None = None
        self.base_results: Results | None = None
        self.record: dict[str, Any] = {}
        self.figure: Callable[[Path], None] | None = None

    def run(self) -> Path:
        self.started = time.perf_counter()
        self.stage("check", self.check)
        self.stage("model", self.make_model)
        with contextlib.ExitStack() as stack:
            self.stage("folder", self.prepare_folder, stack)
            self.stage("evaluate", self.evaluate)
            self.stage("write", self.write)
        return self.out

    def check(self) -> None:
        raise NotImplementedError

    def make_model(self) -> None:
        raise NotImplementedError

    def prepare_folder(self, stack: contextlib.ExitStack) -> None:
        """Read the evaluation data, take the folder's lock (held until ``stack`` closes), decide the plan again
        under it, and write the recipe, the start and the checkpoint."""
        recipe = self.recipe
        self.scheme = label_scheme(recipe.data)
        self.eval_examples = {split: {lang: load_examples(recipe.data, lang, split) for lang in recipe.data.languages}
                              for split in recipe.evaluation.splits}
        command = shlex.join(["xlingual", *sys.argv[1:]])
        stack.enter_context(folder_lock(self.out, command))  # one writer per run folder
        plan = check_out(self.out, self.overwrite, self.ingredients, locked=True)
        rf.prepare_run_folder(self.out, plan, command)
        if self.figure is not None:
            self.figure(self.out)
        self.writer = rf.RunWriter(self.out)
        self.writer.write_recipe(recipe)  # its data paths as this process read them, like a trained run's
        self.writer.record_start(command)
        save_checkpoint(self.model, self.tokenizer, self.out / rf.CHECKPOINT)
        self.notify("on_save", {"what": "checkpoint", "path": str(self.out / rf.CHECKPOINT)})

    def evaluate(self) -> None:
        """Score the recipe's evaluation splits (predictions written beside) and assemble results.json."""
        recipe, scheme, record, base = self.recipe, self.scheme, self.record, self.base_results
        splits = evaluate_splits(self.model, self.tokenizer, recipe, scheme, self.eval_examples, "cpu", None,
                                 self.progress, self.out)
        results = Results(status="complete", recipe=recipe.name, source_language=recipe.data.source_language,
                          target_languages=list(recipe.data.target_languages),
                          label_scheme=LabelSchemeRecord(scheme.name, list(scheme.names)), splits=splits,
                          wall_seconds=time.perf_counter() - self.started, versions=rf.library_versions(),
                          soup=record.get("soup"), interpolation=record.get("interpolation"))
        if base is not None:  # what the ingredients were: method, model, seed, protocol
            results.method, results.model, results.seed = base.method, base.model, base.seed
            results.trust_remote_code = base.trust_remote_code
            results.protocol = copy.deepcopy(base.protocol)
        results.protocol.weight_space = record.pop("weight_space")
        if record.get("cost") is not None:
            results.protocol.cost = record["cost"]
        self.results = results
        self.notify("on_evaluate", {"results": results})

    def write(self) -> None:
        """results.json and the model card."""
        recipe = self.recipe
        self.writer.write_results(self.results, card=lambda folder, written: write_model_card(folder, written, recipe))
        self.notify("on_save", {"what": "results", "path": str(self.out / rf.RESULTS)})
