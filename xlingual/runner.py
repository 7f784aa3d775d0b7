"""The runner: one training run, stage by stage, and the re-evaluation of a saved run.

:class:`Runner` owns the order of a run's stages, as transformers' ``Trainer`` owns its loop; the stages'
pieces live in :mod:`xlingual.stages`, scoring in :mod:`xlingual.evaluation.splits`, and every file of the run
folder goes through :class:`xlingual.run_folder.RunWriter`. ``xlingual.train``, ``xlingual.fit`` and the CLI's
``train`` construct one :class:`Runner` each; ``xlingual evaluate`` one :class:`EvaluateJob`.

About 510 lines, over the package's ~400: :class:`Runner` (about 280 lines, one stage per method) and
:class:`EvaluateJob` (about 150) are the two jobs that load a model from a recipe or a run folder, and they stay
in one module because the bad-input tests stop their model loads here (``xlingual.runner.build_model``,
``xlingual.runner.load_checkpoint``): a test that patched a moved name would pass without checking anything.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from accelerate.utils import broadcast_object_list, set_seed

from . import run_folder as rf
from .callbacks import Job
from .checkpoint import load_checkpoint, load_checkpoint_config, save_checkpoint
from .config import RecipeConfig, load_recipe, override_list
from .data.holdout import HOLDOUT_FILE
from .data.loading import label_scheme, load_examples
from .errors import ConfigError, DataError, RunFolderError, XlingualError
from .evaluation import other_data
from .evaluation.predictions import write_predictions
from .evaluation.splits import evaluate_splits, tokenize, tokenize_all
from .languages import to_canonical
from .locking import check_unlocked, folder_lock
from .merging import interpolate_in_run
from .modeling.build import build_model, position_limit
from .modeling.freezing import count_parameters
from .objectives import Objective, SetupContext, build_objectives
from .protocol import PRIOR_CORRECTION, check_protocol, target_resources
from .reports.model_card import write_model_card
from .reports.plots import plot_training_curves
from .reports.runs import ComparisonError
from .results import LabelSchemeRecord, ProtocolRecord, Results
from .run_folder import record_paths, run_recipe_data
from .stages.data import RunData, dev_holdouts, load_signal_data, load_streams_data, train_eval_overlap
from .stages.records import api_call, prediction_mix_warning, protocol, protocol_prior_correction, student_class_mix
from .stages.self_training import self_train
from .stages.setup import build_signals, build_streams, make_accelerator, prepare_objectives, report_truncation
from .tracking import TrackerCallback, resolve_trackers
from .training.linear_probe import refit_head
from .training.loop import TrainingLoop
from .training.state import remove_training_state

__all__ = [
    "STAGES",
    "RunData",
    "Runner",
    "TrainedRun",
    "build_streams",
    "evaluate_run",
    "load_streams_data",
    "prediction_mix_warning",
    "run_training",
    "train",
]

logger = logging.getLogger(__name__)

STAGES = ("check", "data", "model", "folder", "train", "post_hoc", "evaluate", "write")
"""A run's stages, in the order :meth:`Runner.run` calls them. Nothing is written before ``folder``: a mistake
found while the recipe, the data or the model load leaves the output folder as it was."""


@dataclass
class TrainedRun:
    """What a finished run leaves in memory besides its folder."""

    folder: Path
    model: torch.nn.Module
    tokenizer: object
    results: Results


class Runner(Job):
    """One training run: ``check → data → model → folder → train → post_hoc → evaluate → write``.

    Each stage is a method that reads and sets the runner's attributes (``recipe``, ``data``, ``model``,
    ``loop``, ``results``, ...), so a stage can be read on its own. ``callbacks`` are objects with any of the
    training loop's events (``on_train_begin``, ``on_log``, ``on_epoch_end``, ``on_train_end``) and the
    runner's own: ``on_stage_begin({"stage"})``, ``on_stage_end({"stage", "seconds"})``,
    ``on_save({"what", "path"})`` after the checkpoint and after results.json, and ``on_evaluate({"results"})``
    once the scores are in (see :class:`xlingual.callbacks.Callback`). They are called on the main
    process only. ``command`` (CLI argv) or ``call`` (Python) is recorded in the folder."""

    def __init__(
        self,
        recipe: RecipeConfig | str | Path,
        overrides: list[str] | tuple[str, ...] = (),
        *,
        overwrite: bool = False,
        resume: bool = False,
        progress: bool = True,
        command: list[str] | None = None,
        call: str | None = None,
        objectives: Sequence[Objective] = (),
        data: RunData | None = None,
        callbacks: Sequence[object] = (),
    ) -> None:
        self.recipe_source = recipe
        self.overrides = override_list(overrides)
        self.overwrite, self.resume, self.progress = overwrite, resume, progress
        self.command, self.call = command, call
        self.given_objectives = objectives
        self.data = data
        super().__init__(callbacks)
        self.accelerator = None
        self.tracker: TrackerCallback | None = None

    stages = STAGES

    def run(self) -> TrainedRun:
        """Every stage in order; the folder's lock is held from the first file written to the last."""
        self.stage("check", self.check)
        self.stage("data", self.load_data)
        self.stage("model", self.build)
        with contextlib.ExitStack() as stack:
            self.stage("folder", self.prepare_folder, stack)
            self.stage("train", self.train)
            self.stage("post_hoc", self.post_hoc)
            self.stage("evaluate", self.evaluate)
            self.stage("write", self.write)
        return TrainedRun(self.out, self.model, self.tokenizer, self.results)

    def main_process(self) -> bool:
        if self.accelerator is not None:
            return self.accelerator.is_main_process
        return super().main_process()  # before the accelerator exists

    # ------------------------------------------------------------------ stages
    def check(self) -> None:
        """Validate the recipe and the objectives passed beside it, decide what happens to the folder, and make
        the accelerator; nothing is created or deleted yet."""
        recipe, self.recipe_path = self.recipe_source, None
        if not isinstance(recipe, RecipeConfig):
            self.recipe_path = Path(recipe)
            recipe = load_recipe(self.recipe_path, self.overrides)
        elif self.overrides:
            raise ConfigError("overrides apply to a recipe file; edit the RecipeConfig object instead")
        else:
            recipe = recipe.validate()  # a normalised copy: the caller's object is left as it was
        self.recipe = recipe
        self.extra = prepare_objectives(recipe, self.given_objectives)
        self.out = out = recipe.resolved_output_dir()
        check_unlocked(out)  # another process writing the folder: said at once, before anything loads
        self.plan = rf.check_run_folder(out, overwrite=self.overwrite, resume=self.resume,
                                        protected=rf.protected_paths(recipe, self.recipe_path))
        if self.plan == "resume":
            rf.check_resume_config(out, recipe, self.overrides)
        self.trackers = resolve_trackers(recipe)  # a missing tracker package is said before anything loads
        self.accelerator = make_accelerator(recipe, self.trackers)
        check_protocol(recipe)
        self.command_line = shlex.join(self.command) if self.command else None  # an API call is recorded instead
        self.started_by = self.command_line or self.call or api_call("train", recipe)

    def load_data(self) -> None:
        """Read every example the run trains, selects and evaluates on (unless given as ``data``)."""
        recipe = self.recipe
        if self.data is None:
            self.data = RunData.from_recipe(recipe, warn=self.accelerator.is_main_process)
        self.signal_examples = load_signal_data(recipe)
        self.scheme = label_scheme(recipe.data)
        self.paths = record_paths(recipe.to_dict())
        self.holdout = dev_holdouts(recipe, self.data.selection, self.data.evaluation)

    def build(self) -> None:
        """Seed, build the model, tokenise, and set up the objectives, streams, signals and training loop."""
        recipe, data, accelerator = self.recipe, self.data, self.accelerator
        set_seed(recipe.training.seed)
        self.started = time.perf_counter()
        model, self.tokenizer = build_model(recipe, self.scheme)
        self.train_data = train_data = tokenize(data.train, self.tokenizer, recipe)
        self.selection_data = tokenize_all(data.selection, self.tokenizer, recipe)
        self.eval_data = {split: tokenize_all(raw, self.tokenizer, recipe) for split, raw in data.evaluation.items()}
        cut = {"train": {recipe.data.source_language: train_data},
               "dev": {lang: tokenized for lang, (_, tokenized) in self.selection_data.items()}}
        for split, by_language in self.eval_data.items():
            cut.setdefault(split, {}).update({lang: tokenized for lang, (_, tokenized) in by_language.items()})
        self.truncation = report_truncation(recipe, {k: v for k, v in cut.items() if v}, accelerator.is_main_process)
        self.streams = build_streams(recipe, self.tokenizer, data.unlabeled, data.pairs)
        self.objectives = build_objectives(
            recipe.alignment.losses, SetupContext(model, model.config.hidden_size, recipe.data.target_languages,
                                                  self.tokenizer, recipe.training.seed, recipe.model.max_length,
                                                  getattr(self.streams.get("target"), "languages", None)),
            self.extra)
        signals = build_signals(recipe, self.tokenizer, *self.signal_examples)
        self.lp_ft = None
        if recipe.training.lp_ft:  # restored weights (with --resume) replace the probe's head anyway
            self.lp_ft = refit_head(model, train_data, recipe.evaluation.batch_size, accelerator.device,
                                    progress=self.progress)
        out = self.out
        self.loop = TrainingLoop(model, recipe, train_data, self.selection_data, self.scheme.names, accelerator,
                                 log_path=out / rf.TRAIN_LOG, objectives=self.objectives, streams=self.streams,
                                 progress=self.progress, state_dir=out / rf.STATE, averaging=recipe.averaging,
                                 snapshot_dir=out / rf.SNAPSHOTS, signals=signals, callbacks=self.callbacks)
        self.model = model

    def prepare_folder(self, stack: contextlib.ExitStack) -> None:
        """Take the folder's lock (held until ``stack`` closes), prepare the folder as planned (decided again
        under the lock), restore a resumed run's state, write the recipe and the start, open the trackers."""
        recipe, out, accelerator = self.recipe, self.out, self.accelerator
        failure = None
        plan = self.plan
        if accelerator.is_main_process:
            try:
                stack.enter_context(folder_lock(out, self.started_by))
                # decided again under the lock: another process may have written the folder while this one loaded
                plan = rf.check_run_folder(out, overwrite=self.overwrite, resume=self.resume,
                                           protected=rf.protected_paths(recipe, self.recipe_path))
                if plan == "resume":
                    rf.check_resume_config(out, recipe, self.overrides)
                rf.prepare_run_folder(out, plan, self.started_by)
            except XlingualError as exc:
                failure = exc
        self.plan, message = _shared(accelerator, (plan, str(failure) if failure else None))
        if failure is not None:
            raise failure
        if message is not None:  # the main process refused: every process stops with its message, none waits
            raise RunFolderError(message)
        loop = self.loop
        if self.plan == "resume" and loop.restore() and accelerator.is_main_process:  # a damaged state stops here
            logger.info("resumed from step %d of %d", loop.state.global_step, loop.state.total_steps)
        self.writer = rf.RunWriter(out)
        if accelerator.is_main_process:
            self.writer.write_recipe(recipe, self.paths, self.recipe_path)
            if self.holdout:
                self.writer.write_json(HOLDOUT_FILE, self.holdout)
            # each start, one line: a resumed run keeps its earlier starts
            self.writer.record_start(self.command_line or self.started_by, python_call=not self.command_line,
                                     append=self.plan == "resume")
        accelerator.wait_for_everyone()
        if self.trackers:
            self.tracker = TrackerCallback(accelerator, recipe, target_resources(recipe, self.objectives))
            stack.callback(self.tracker.end)  # closed however the run ends
            loop.callbacks.append(self.tracker)

    def train(self) -> None:
        """The training loop (selection on dev and checkpoint averaging happen inside it)."""
        self.loop.run()
        self.model = self.loop.unwrapped
        self.summary = self.loop.summary()

    def post_hoc(self) -> None:
        """Self-training rounds and weight interpolation on the trained model, then the final checkpoint."""
        recipe, summary = self.recipe, self.summary
        if recipe.self_training is not None:
            summary["self_training"] = self_train(
                recipe, self.model, self.tokenizer, self.accelerator, self.train_data, self.selection_data,
                self.scheme, self.data.unlabeled, self.objectives, self.streams, self.out / rf.TRAIN_LOG,
                self.progress, [*self.callbacks, *([self.tracker] if self.tracker else [])])
        if self.lp_ft is not None:
            summary["lp_ft"] = self.lp_ft
        if recipe.interpolation is not None:
            summary["interpolation"] = interpolate_in_run(self.model, recipe, self.train_data, self.selection_data,
                                                          self.scheme, self.accelerator, self.progress)
        summary["parameters"] = count_parameters(self.model)
        summary["objectives"] = [objective.describe() for objective in self.objectives]
        if self.accelerator.is_main_process:
            save_checkpoint(self.model, self.tokenizer, self.out / rf.CHECKPOINT)
            self.notify("on_save", {"what": "checkpoint", "path": str(self.out / rf.CHECKPOINT)})

    def evaluate(self) -> None:
        """Score every evaluation split (predictions written beside), and assemble the run's results."""
        recipe, data, accelerator, main = self.recipe, self.data, self.accelerator, self.accelerator.is_main_process
        splits = evaluate_splits(self.model, self.tokenizer, recipe, self.scheme, data.evaluation, accelerator.device,
                                 accelerator, self.progress, self.out if main else None, self.eval_data)
        results = Results(
            status="complete", recipe=recipe.name, method=recipe.method, model=recipe.model.name,
            seed=recipe.training.seed, source_language=recipe.data.source_language,
            target_languages=list(recipe.data.target_languages),
            label_scheme=LabelSchemeRecord(self.scheme.name, list(self.scheme.names)),
            protocol=protocol(recipe, data.train, data.selection, data.unlabeled, data.pairs, self.extra,
                              self.holdout, data.extra_source_overlap, data.code_switch),
            trust_remote_code=recipe.model.trust_remote_code, training=self.summary,
            train_eval_overlap={"count": train_eval_overlap(data.train, data.evaluation),
                                "train_examples": len(data.train)},
            truncation=self.truncation, paths=self.paths, splits=splits,
            wall_seconds=time.perf_counter() - self.started, processes=accelerator.num_processes,
            versions=rf.library_versions(),
        )
        collapsed = prediction_mix_warning(results, main)
        if collapsed:
            results.training.prediction_mix_warning = collapsed
        if recipe.data.pseudo_labeled is not None and results.protocol.pseudo_labels is not None:
            for key, value in student_class_mix(results, main).items():  # class_mix_split, _shift, _warning
                setattr(results.protocol.pseudo_labels, key, value)
        self.results = results
        self.notify("on_evaluate", {"results": results})

    def write(self) -> None:
        """results.json, the model card and the training curves; the spent resumable state is removed last."""
        out, recipe = self.out, self.recipe
        if self.accelerator.is_main_process:
            _plot_training_curves(out, f"{recipe.name}, seed {recipe.training.seed}")
            self.writer.write_results(self.results,
                                      card=lambda folder, written: write_model_card(folder, written, recipe))
            remove_training_state(out / rf.STATE)  # the run is complete: the resumable state is spent
            self.notify("on_save", {"what": "results", "path": str(out / rf.RESULTS)})
        if self.tracker is not None:  # after results.json: a tracker's failure cannot cost the record
            self.tracker.log_results(self.results)
        self.accelerator.wait_for_everyone()


def train(
    recipe: RecipeConfig | str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    command: list[str] | None = None,
    objectives: Sequence[Objective] = (),
) -> Path:
    """Train ``recipe`` and evaluate it zero-shot; returns the run folder.

    ``objectives`` are :class:`~xlingual.objectives.Objective` instances trained beside the recipe's
    ``alignment.losses`` (copies are trained; the instances passed stay as they are)."""
    overrides = override_list(overrides)
    call = None if command else api_call("train", recipe, overrides=overrides, overwrite=overwrite,
                                          resume=resume, objectives=list(objectives))
    return Runner(recipe, overrides, overwrite=overwrite, resume=resume, progress=progress, command=command,
                  call=call, objectives=objectives).run().folder


def run_training(recipe: RecipeConfig | str | Path, overrides: list[str] | tuple[str, ...] = (),
                 **options) -> TrainedRun:
    """``Runner(recipe, overrides, **options).run()``: the whole run, its folder, model and results."""
    return Runner(recipe, overrides, **options).run()


def _shared(accelerator, value):
    """The main process's ``value`` on every process (one process: ``value`` itself)."""
    if accelerator.num_processes == 1:
        return value
    box = [value]
    broadcast_object_list(box, from_process=0)
    return box[0]


def _plot_training_curves(out: Path, title: str) -> None:
    """logs/training_curves.png beside the log; a figure that cannot be drawn must not fail a finished run."""
    if not (out / rf.TRAIN_LOG).is_file():
        return

    try:
        plot_training_curves(out, out / rf.TRAINING_CURVES, title)
    except (ComparisonError, OSError, ValueError) as exc:
        logger.warning("no %s: %s", rf.TRAINING_CURVES, exc)


class EvaluateJob(Job):
    """``xlingual evaluate``: a saved run's checkpoint scored again, on its data or on other data
    (``check → data → model → evaluate → write``); see :func:`evaluate_run`."""

    stages = ("check", "data", "model", "evaluate", "write")

    def __init__(self, run: str | Path, languages: list[str] | None = None, splits: list[str] | None = None,
                 overrides: list[str] | tuple[str, ...] = (), progress: bool = True, base_model: str | None = None,
                 verify: bool = True, out: str | Path | None = None, name: str | None = None,
                 command: list[str] | None = None, callbacks: Sequence[object] = ()) -> None:
        super().__init__(callbacks)
        self.run_path = Path(run)
        self.languages, self.splits, self.overrides = languages, splits, overrides
        self.progress, self.base_model, self.verify = progress, base_model, verify
        self.out, self.name, self.command = out, name, command

    def run(self) -> Results:
        self.stage("check", self.check)
        self.stage("data", self.load_data)
        self.stage("model", self.load_model)
        self.stage("evaluate", self.evaluate)
        if self.out is not None:
            self.stage("write", self.write)
        return self.result

    def check(self) -> None:
        """The run folder, the output folder, the overrides, the languages, and the checkpoint's classes and
        position limit against the data's (config.json only: no weights load)."""
        run = self.run_path
        config_path = run / rf.CONFIG
        if not config_path.is_file():
            raise DataError(f"{run}: no {rf.CONFIG}; pass a run folder written by 'xlingual train'")
        if self.out is None and self.name:
            other_data.check_name(self.name)
            self.out = run / "evaluations" / self.name
        if self.out is not None:
            self.out = Path(self.out)
            other_data.check_output_folder(self.out, run)
        self.overrides = override_list(self.overrides)
        data = run_recipe_data(run, self.overrides)
        self.paths = record_paths(data)
        self.recipe = recipe = RecipeConfig.from_dict(data)
        if self.languages:
            self.wanted = [to_canonical(lang, recipe.data.language_names, field="--languages")
                           for lang in self.languages]
        else:
            self.wanted = recipe.data.languages
        # Check the classes first (config.json only), so a changed label scheme is named as such rather than
        # reported as an unknown label somewhere in the data.
        _, checkpoint_config = load_checkpoint_config(run)
        limit = position_limit(checkpoint_config.encoder)
        if limit is not None and recipe.model.max_length > limit:
            raise ConfigError(f"model.max_length: {recipe.model.max_length} is over the checkpoint's encoder limit "
                              f"of {limit} tokens")
        classes = [checkpoint_config.id2label[i] for i in range(checkpoint_config.num_labels)]
        self.scheme = label_scheme(recipe.data)
        if list(self.scheme.names) != classes:
            raise DataError(f"{run}: the checkpoint's classes {classes} differ from the data's label scheme "
                            f"{list(self.scheme.names)}")

    def load_data(self) -> None:
        recipe = self.recipe
        self.raw_by_split = {split: {lang: load_examples(recipe.data, lang, split) for lang in self.wanted}
                             for split in (self.splits or recipe.evaluation.splits)}

    def load_model(self) -> None:
        """The checkpoint (its weights verified against their fingerprints unless ``verify=False``), and the data
        tokenised as the recipe cuts it."""
        self.started = time.perf_counter()
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model, self.tokenizer = load_checkpoint(self.run_path, base_model=self.base_model, device=self.device,
                                                     verify=self.verify)
        self.tokenized = {split: tokenize_all(raw, self.tokenizer, self.recipe)
                          for split, raw in self.raw_by_split.items()}
        self.truncation = report_truncation(
            self.recipe, {split: {lang: t for lang, (_, t) in by.items()} for split, by in self.tokenized.items()},
            True)

    def evaluate(self) -> None:
        """Score, and say whether the scores on the run's own examples reproduce its results.json."""
        run, recipe, scheme, out = self.run_path, self.recipe, self.scheme, self.out
        saved = Results.read(run / rf.RESULTS) if (run / rf.RESULTS).is_file() else None
        names = list(scheme.names)
        self.reports: dict = {}
        splits = evaluate_splits(self.model, self.tokenizer, recipe, scheme, self.raw_by_split, self.device, None,
                                 self.progress, tokenized=self.tokenized, reports=self.reports)
        same, other = other_data.same_data(saved, splits)
        result = Results(
            status="complete", kind=other_data.KIND, run=str(run),
            recipe=recipe.name, method=recipe.method, model=recipe.model.name, seed=recipe.training.seed,
            source_language=recipe.data.source_language,
            target_languages=[lang for lang in self.wanted if lang != recipe.data.source_language],
            label_scheme=LabelSchemeRecord(scheme.name, names),
            protocol=saved.protocol if saved is not None else ProtocolRecord(),
            evaluation=other_data.evaluation_record(run, saved, list(self.overrides), same, other,
                                                    self.name or (out.name if out is not None else None)),
            truncation=self.truncation, paths=self.paths, splits=splits,
        )
        corrected = recipe.evaluation.prior_correction is not None and (
            saved is None or saved.protocol.prior_correction is None)
        if corrected:  # scored differently from the run (transductive priors): recorded, and no reproduction check
            result.protocol = dataclasses.replace(
                result.protocol, prior_correction=protocol_prior_correction(recipe),
                target_resources=[*result.protocol.target_resources, PRIOR_CORRECTION])
        elif saved is not None and same:
            result.matches_saved = other_data.reproduction(saved, splits, same)
        result.wall_seconds = time.perf_counter() - self.started
        result.versions = rf.library_versions()
        self.result = result
        self.notify("on_evaluate", {"results": result})

    def write(self) -> None:
        """``out``: the result as a results.json in the run schema (which ``compare`` reads), with predictions."""
        run, out, recipe, result = self.run_path, self.out, self.recipe, self.result
        started_by = shlex.join(self.command or sys.argv)
        # one writer per folder: RUN's own lock for RUN/evaluations/NAME (a train --overwrite of RUN waits for it)
        inside = out.resolve().is_relative_to(run.resolve())
        with folder_lock(run if inside else out, started_by):  # checked again under the lock
            other_data.check_output_folder(out, run)
            if recipe.evaluation.save_predictions:
                for split, report in self.reports.items():
                    write_predictions(out / rf.PREDICTIONS, report, self.tokenized[split], list(self.scheme.names))
            writer = rf.RunWriter(out)
            writer.write_recipe(recipe, self.paths)
            writer.record_start(started_by)
            result.written_to = str(out / rf.RESULTS)
            writer.write_results(result)
        self.notify("on_save", {"what": "results", "path": str(out / rf.RESULTS)})


def evaluate_run(
    run: str | Path,
    languages: list[str] | None = None,
    splits: list[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    progress: bool = True,
    base_model: str | None = None,
    verify: bool = True,
    out: str | Path | None = None,
    name: str | None = None,
    command: list[str] | None = None,
    callbacks: Sequence[object] = (),
) -> Results:
    """Re-evaluate a saved run's checkpoint on its data, or on other data (``--set data.…``).

    On the run's own examples the result says whether it reproduces results.json (``matches_saved``);
    on other examples it is a result of its own (``evaluation.other_data``). ``out`` (or ``name``, for
    ``RUN/evaluations/NAME``) writes it as a results.json in the run schema, which ``compare`` reads.
    Paths in the run's config resolve against the directory the run started in; paths in ``overrides``
    against the current one. ``base_model`` says where a LoRA checkpoint's encoder is if it moved;
    ``verify=False`` skips the check of the weights against the checkpoint's fingerprints."""
    return EvaluateJob(run, languages, splits, overrides, progress, base_model, verify, out, name, command,
                       callbacks).run()
