"""The training loop on ``accelerate``: one code path for a CPU, a GPU, or ``torchrun`` processes.

One module (about 450 lines) on purpose: the step, the epoch-end selection, averaging snapshots and the resumable
state share the loop's state, and a resumed run is exact only if they are saved and restored together.

Each step draws a labelled source batch (length-grouped, dynamically padded) and, for
alignment objectives, one batch per stream they read; all of them go through the
encoder in one forward pass. The loss is the task cross-entropy plus the weighted
objective terms, each logged on its own. After every epoch the model is scored on the
selection split and the best weights are kept, so the checkpoint written at the end is
the selected one. The complete state is saved every ``checkpoint_steps`` optimiser
steps and at every epoch end, and :meth:`TrainingLoop.restore` continues from it with
the same result as an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..config import SIGNAL_SELECTION, AveragingConfig, RecipeConfig
from ..config.evaluation import HIGHER_IS_BETTER
from ..data.batching import TokenizedExamples, training_batches
from ..data.examples import Examples
from ..errors import TrainingDivergedError
from ..evaluation.zero_shot import evaluate_languages
from ..io import atomic_save_tensors, atomic_write_text, no_space_error
from ..objectives import Objective, StepContext
from ..objectives.soft_label_kl import SoftLabelKLLoss
from ..run_folder import train_log_records
from .averaging import RunningAverage
from .optim import build_optimizer, build_scheduler
from .state import load_training_state, restore_rng, save_training_state
from .streams import Stream

logger = logging.getLogger(__name__)


@dataclass
class TrainState:
    """Progress and model-selection record of a training run (saved with every checkpoint)."""

    global_step: int = 0
    total_steps: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    batches_done: int = 0
    best_score: float | None = None
    best_epoch: int | None = None
    history: list[dict] = field(default_factory=list)
    samples: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    auxiliary_samples: int = 0
    train_seconds: float = 0.0
    selection_seconds: float = 0.0
    checkpoint_seconds: float = 0.0
    resumed_from_step: int | None = None
    averaging: dict | None = None
    """Checkpoint averaging: snapshots averaged, the average's selection score, which model was kept."""


def task_loss(logits: torch.Tensor, batch: dict[str, torch.Tensor], soft_loss: SoftLabelKLLoss) -> torch.Tensor:
    """Cross-entropy on the labels; rows with a soft target (``soft_mask``) use ``soft_loss`` (per row) instead, and
    ``weights`` scale rows. The mean is over the batch's rows, as plain cross-entropy's, so a batch without soft
    targets or weights gives exactly the plain loss."""
    if "soft_targets" not in batch and "weights" not in batch:
        return F.cross_entropy(logits.float(), batch["labels"])
    per_row = F.cross_entropy(logits.float(), batch["labels"], reduction="none")
    if "soft_targets" in batch and bool(batch["soft_mask"].any()):
        per_row = torch.where(batch["soft_mask"], soft_loss(logits, batch["soft_targets"]), per_row)
    if "weights" in batch:
        per_row = per_row * batch["weights"]
    return per_row.mean()


def _pad_to(tensor: torch.Tensor, width: int, value: int) -> torch.Tensor:
    if tensor.shape[1] == width:
        return tensor
    return F.pad(tensor, (0, width - tensor.shape[1]), value=value)


class TrainingLoop:
    """Fine-tunes a classifier on labelled source data, optionally with alignment objectives."""

    def __init__(
        self,
        model: torch.nn.Module,
        recipe: RecipeConfig,
        train: TokenizedExamples,
        selection: dict[str, tuple[Examples, TokenizedExamples]] | None,
        label_names: Sequence[str],
        accelerator,
        log_path: Path | None = None,
        objectives: Sequence[Objective] = (),
        streams: dict[str, Stream] | None = None,
        progress: bool = True,
        state_dir: Path | None = None,
        epochs: float | None = None,
        log_fields: dict | None = None,
        averaging: AveragingConfig | None = None,
        snapshot_dir: Path | None = None,
        signals=None,
        callbacks: Sequence[object] = (),
    ) -> None:
        self.recipe = recipe
        self.log_fields = dict(log_fields or {})
        """Added to every log record, e.g. ``{"round": 1}`` for a self-training round (its steps count from 1 again)."""
        self.config = recipe.training
        self.callbacks = list(callbacks)
        """Objects with any of ``on_train_begin``, ``on_log``, ``on_epoch_end`` and ``on_train_end`` (each takes one
        record; notebooks, benchmarks, experiment trackers)."""
        self.train_data = train
        self.selection = selection or {}
        self.label_names = list(label_names)
        self.accelerator = accelerator
        self.log_path = log_path
        self.state_dir = state_dir
        self.objectives = list(objectives)
        self.streams = streams or {}
        self.progress = progress and accelerator.is_local_main_process
        self.stream_names = sorted({s for objective in self.objectives for s in objective.streams})
        for name in self.stream_names:
            if name not in self.streams:
                raise ValueError(f"an objective needs stream '{name}', which the run has not loaded")
        for objective in self.objectives:
            objective.to(accelerator.device)
        self.optimizer = build_optimizer(model, self.config, self.objectives)
        self.batches_per_epoch = len(self._epoch_batches(0))
        accumulation = self.config.gradient_accumulation_steps
        self.total_batches = max(1, math.ceil((epochs or self.config.epochs) * self.batches_per_epoch))
        self.num_epochs = math.ceil(self.total_batches / self.batches_per_epoch)
        total_steps = math.ceil(self.total_batches / accumulation)
        self.scheduler = build_scheduler(self.optimizer, self.config, total_steps)
        self.model, self.optimizer = accelerator.prepare(model, self.optimizer)
        self.state = TrainState(total_steps=total_steps)
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.averaging = averaging
        self.signals = signals
        """Label-free selection signals (:class:`~xlingual.evaluation.signals.SelectionSignals`) or None."""
        self.average = RunningAverage() if averaging is not None else None
        self.snapshot_dir = snapshot_dir if averaging is not None and averaging.keep_snapshots else None
        pseudo = recipe.data.pseudo_labeled
        self.soft_loss = SoftLabelKLLoss(pseudo.temperature if pseudo is not None else 1.0, reduction="none")

    # ------------------------------------------------------------------ helpers
    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        rows, lengths = self.train_data.rows_for_epoch(epoch), self.train_data.lengths
        batches = training_batches(
            lengths if rows is None else [lengths[r] for r in rows], self.config.batch_size, self.config.seed, epoch,
            self.config.group_by_length, num_shards=self.accelerator.num_processes,
            shard=self.accelerator.process_index,
        )
        return batches if rows is None else [[rows[i] for i in batch] for batch in batches]

    @property
    def unwrapped(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        names = {name for name, p in self.unwrapped.named_parameters() if p.requires_grad}
        return {k: v.detach().clone() for k, v in self.unwrapped.state_dict().items() if k in names}

    def _log(self, record: dict) -> None:
        if self.log_path is not None and self.accelerator.is_main_process:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with no_space_error(self.log_path), self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({**record, **self.log_fields}) + "\n")
        self._notify("on_log", record)

    def _notify(self, event: str, record: dict) -> None:
        """Call ``event`` on every callback that has it (main process only)."""
        if not self.accelerator.is_main_process:
            return
        for callback in self.callbacks:
            handler = getattr(callback, event, None)
            if handler is not None:
                handler({**record, **self.log_fields})

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> None:
        """Save the complete training state (main process; other processes wait)."""
        if self.state_dir is None:
            return
        start = time.perf_counter()
        if self.accelerator.is_main_process:
            objective_state = {f"{i}.{k}": v for i, o in enumerate(self.objectives) for k, v in o.state_dict().items()}
            save_training_state(
                self.state_dir, model_state=self._trainable_state(), optimizer=self.optimizer.optimizer
                if hasattr(self.optimizer, "optimizer") else self.optimizer, scheduler=self.scheduler,
                objective_state=objective_state, best_state=self.best_weights, progress=asdict(self.state),
                streams={name: stream.state_dict() for name, stream in self.streams.items()},
                average_state={**(self.average.state_dict() if self.average is not None else {}),
                               **{f"signals.{k}": v for k, v in
                                  (self.signals.state_dict() if self.signals is not None else {}).items()}},
                settings=self.recipe.to_dict(),
            )
        self.accelerator.wait_for_everyone()
        self.state.checkpoint_seconds += time.perf_counter() - start

    def restore(self) -> bool:
        """Continue from ``state_dir`` if it holds a saved state; returns whether it did."""
        if self.state_dir is None or not (self.state_dir / "state.json").is_file():
            return False
        saved = load_training_state(self.state_dir)
        self.unwrapped.load_state_dict(saved["model"], strict=False)
        optimizer = self.optimizer.optimizer if hasattr(self.optimizer, "optimizer") else self.optimizer
        optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        for index, objective in enumerate(self.objectives):
            prefix = f"{index}."
            own = {k[len(prefix):]: v for k, v in saved["objectives"].items() if k.startswith(prefix)}
            if own:
                objective.load_state_dict(own)
        self.best_weights = saved["best"]
        extra = saved.get("average") or {}
        if self.average is not None:
            dtypes = {k: v.dtype for k, v in self._trainable_state().items()}
            self.average.load_state_dict({k: v for k, v in extra.items() if not k.startswith("signals.")}, dtypes)
        if self.signals is not None:
            self.signals.load_state_dict({k[len("signals."):]: v for k, v in extra.items() if k.startswith("signals.")})
        self.state = TrainState(**saved["progress"])
        self.state.resumed_from_step = self.state.global_step
        for name, stream in self.streams.items():
            if name in saved["streams"]:
                stream.load_state_dict(saved["streams"][name])
        restore_rng(saved)
        if self.log_path is not None and self.log_path.is_file() and self.accelerator.is_main_process:
            # steps after the saved state are done again, and so are self-training rounds (they run after it)
            # and the selection of an epoch the state had not finished (state.epoch counts finished epochs)
            records = train_log_records(self.log_path)
            kept = [json.dumps({k: v for k, v in r.items() if k != "round"}) for r in records
                    if r["round"] == 0 and r.get("step", 0) <= self.state.global_step
                    and ("selection_macro_f1" not in r or r.get("epoch", 0) <= self.state.epoch)]
            atomic_write_text(self.log_path, "".join(line + "\n" for line in kept))  # a full disk: the old log stays
        return True

    # ------------------------------------------------------------------ training
    def _step_loss(self, batch: dict[str, torch.Tensor], progress: float) -> tuple[torch.Tensor, dict[str, float]]:
        device = self.accelerator.device
        stream_batches = {name: {k: v.to(device) for k, v in self.streams[name].next_batch().items()}
                          for name in self.stream_names}
        parts = [("source", batch["input_ids"], batch["attention_mask"])]
        for name in self.stream_names:
            part = stream_batches[name]
            parts.append((name, part["input_ids"], part["attention_mask"]))
            if "translation_input_ids" in part:
                parts.append((f"{name}_translation", part["translation_input_ids"], part["translation_attention_mask"]))
        self.state.auxiliary_samples += sum(len(ids) for _, ids, _ in parts[1:])
        if len(parts) == 1 or self.accelerator.num_processes == 1:
            # One forward per part: each part pads only to its own longest row (the streams are
            # length-grouped too), where one concatenated batch pads every row to the longest of all
            # parts; the benchmark measured that padding at 50-90% of the step time.
            outputs = [self.model(input_ids=ids, attention_mask=mask) for _, ids, mask in parts]
            logits = outputs[0].logits
            embeddings = {name: out.embeddings for (name, _, _), out in zip(parts, outputs, strict=True)}
            part_logits = {name: out.logits for (name, _, _), out in zip(parts, outputs, strict=True)}
        else:
            # DDP's gradient hooks expect one forward per backward: concatenate the parts.
            width = max(ids.shape[1] for _, ids, _ in parts)
            input_ids = torch.cat([_pad_to(ids, width, self.train_data.pad_token_id) for _, ids, _ in parts])
            attention_mask = torch.cat([_pad_to(mask, width, 0) for _, _, mask in parts])
            output = self.model(input_ids=input_ids, attention_mask=attention_mask)
            sizes = [len(ids) for _, ids, _ in parts]
            logits = output.logits[: sizes[0]]
            embeddings = dict(zip([name for name, _, _ in parts], torch.split(output.embeddings, sizes), strict=True))
            part_logits = dict(zip([name for name, _, _ in parts], torch.split(output.logits, sizes), strict=True))
        loss = task_loss(logits, batch, self.soft_loss)
        terms = {"task": loss.detach().float().item()}
        if self.objectives:
            context = StepContext(embeddings, {"source": batch, **stream_batches}, progress, self.unwrapped,
                                  logits=part_logits)
            for objective in self.objectives:
                weight = objective.weight(progress)
                value = objective.compute(context)
                terms[objective.name] = value.detach().float().item()
                terms[f"{objective.name}_weight"] = weight
                if weight:
                    loss = loss + weight * value
            terms.update(context.logs)
        terms["total"] = loss.detach().float().item()
        return loss, terms

    def _score(self) -> tuple[float, float, list[str]]:
        """Mean macro-F1 and accuracy of the current weights over the selection languages."""
        start = time.perf_counter()
        report = evaluate_languages(
            self.unwrapped, self.selection, self.label_names, "selection", self.recipe.data.source_language,
            self.recipe.evaluation.batch_size, self.accelerator.device, self.accelerator, progress=False,
        )
        self.state.selection_seconds += time.perf_counter() - start
        score = sum(r.metrics["macro_f1"] for r in report.languages.values()) / len(report.languages)
        accuracy = sum(r.metrics["accuracy"] for r in report.languages.values()) / len(report.languages)
        return score, accuracy, sorted(report.languages)

    def _select(self, epoch: int) -> None:
        """Score the selection split (and the label-free signals); keep the weights if they are the best so far."""
        if not self.selection and self.signals is None:
            return
        record: dict = {"epoch": epoch + 1, "step": self.state.global_step}
        if self.selection:
            score, accuracy, languages = self._score()
            record.update(selection_macro_f1=score, selection_accuracy=accuracy, selection_languages=languages)
        if self.signals is not None:
            start = time.perf_counter()
            record["signals"] = self.signals(self.unwrapped, self.accelerator.device, self.accelerator)
            self.state.selection_seconds += time.perf_counter() - start
        self.state.history.append(record)
        self._log(record)
        criterion = self._criterion(record)
        if criterion is not None and (self.state.best_score is None or criterion > self.state.best_score):
            self.state.best_score, self.state.best_epoch = criterion, epoch + 1
            self.best_weights = self._trainable_state()

    def _criterion(self, record: dict) -> float | None:
        """The value ``select_best_on`` maximises for this epoch (a signal to minimise is negated)."""
        signal = SIGNAL_SELECTION.get(self.config.select_best_on)
        if signal is None:
            return record.get("selection_macro_f1")
        value = record.get("signals", {}).get(signal)
        return None if value is None else (value if HIGHER_IS_BETTER[signal] else -value)

    def _snapshot(self) -> None:
        """Add the current trainable weights to the running average (and to ``snapshots/`` if kept)."""
        if self.average is None or self.state.batches_done / self.total_batches < self.averaging.start:
            return
        weights = self._trainable_state()
        self.average.update(weights)
        if self.snapshot_dir is not None and self.accelerator.is_main_process:
            atomic_save_tensors(weights, self.snapshot_dir / f"step-{self.state.global_step:06d}.safetensors",
                         {"step": str(self.state.global_step),
                          "epoch": f"{self.state.batches_done / self.batches_per_epoch:.4f}"})

    def _finish_averaging(self) -> None:
        """Score the average beside the single checkpoints; keep the one ``averaging.save`` names."""
        if self.average is None or not self.average.count:
            if self.average is not None:
                self.state.averaging = {"snapshots": 0, "saved": "selected"}
            return
        if self.average.count == 1:
            logger.warning("averaging: one snapshot only, so the average is the last checkpoint; set "
                           "averaging.every_steps (e.g. a quarter of the %d steps) to average several",
                           self.state.total_steps)
        current = self._trainable_state()
        self.unwrapped.load_state_dict(self.average.result(), strict=False)
        record = {"snapshots": self.average.count, "saved": self.averaging.save}
        if self.selection:
            score, accuracy, _ = self._score()
            record.update(selection_macro_f1=score, selection_accuracy=accuracy)
            self._log({"step": self.state.global_step, "average_selection_macro_f1": score,
                       "average_snapshots": self.average.count})
        if self.averaging.save == "selected":
            self.unwrapped.load_state_dict(current, strict=False)
        self.state.averaging = record

    def run(self) -> TrainState:
        """Train for the configured epochs; afterwards the model holds the selected weights."""
        accelerator, config = self.accelerator, self.config
        self.model.train()
        bar = tqdm(total=self.state.total_steps, initial=self.state.global_step, desc="train",
                   disable=not self.progress, unit="step", dynamic_ncols=True)
        pending: list[dict[str, float]] = []
        start_epoch, start_batch = self.state.epoch, self.state.batch_in_epoch
        self._notify("on_train_begin", {"step": self.state.global_step, "total_steps": self.state.total_steps})
        for epoch in range(start_epoch, self.num_epochs):
            epoch_start = time.perf_counter()
            batches = self._epoch_batches(epoch)
            for position, indices in enumerate(batches):
                if epoch == start_epoch and position < start_batch:
                    continue
                if self.state.batches_done >= self.total_batches:
                    break
                ids = [self.train_data.ids_for_epoch(epoch)[i] for i in indices]
                batch = {k: v.to(accelerator.device) for k, v in self.train_data.batch(indices, epoch).items()}
                progress = self.state.batches_done / self.total_batches
                with accelerator.accumulate(self.model):
                    loss, terms = self._step_loss(batch, progress)
                    if not math.isfinite(terms["total"]):
                        kept = f"; the last good state is in {self.state_dir}" if self.state_dir else ""
                        raise TrainingDivergedError(
                            f"the training loss became {terms['total']} at step {self.state.global_step + 1} "
                            f"(epoch {epoch + 1}); lower training.learning_rate or check the data{kept}"
                        )
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and config.max_grad_norm:
                        accelerator.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
                    self.optimizer.step()
                    self.optimizer.zero_grad(set_to_none=True)
                self.state.batches_done += 1
                self.state.samples += len(ids)
                self.state.tokens += sum(len(x) for x in ids)
                self.state.padded_tokens += batch["input_ids"].numel()
                pending.append(terms)
                if accelerator.sync_gradients:
                    self.scheduler.step()
                    self.state.global_step += 1
                    bar.update(1)
                    if (self.averaging is not None and self.averaging.every_steps
                            and self.state.global_step % self.averaging.every_steps == 0):
                        self._snapshot()
                    if (self.state.global_step % config.logging_steps == 0
                            or self.state.batches_done == self.total_batches):
                        record = {key: sum(t[key] for t in pending) / len(pending) for key in pending[0]}
                        record.update(step=self.state.global_step,
                                      epoch=round(self.state.batches_done / self.batches_per_epoch, 4),
                                      lr=self.scheduler.get_last_lr()[0])
                        self._log(record)
                        bar.set_postfix(loss=f"{record['task']:.4f}")
                        pending = []
                    if config.checkpoint_steps and self.state.global_step % config.checkpoint_steps == 0:
                        self.state.epoch, self.state.batch_in_epoch = epoch, position + 1
                        self.state.train_seconds += time.perf_counter() - epoch_start
                        self.save()
                        epoch_start = time.perf_counter()
            self.state.train_seconds += time.perf_counter() - epoch_start
            if config.select_best_on != "last" and (config.eval_every_epoch or epoch == self.num_epochs - 1):
                self._select(epoch)
                self.model.train()
            if self.averaging is not None and not self.averaging.every_steps:
                self._snapshot()
            self.state.epoch, self.state.batch_in_epoch = epoch + 1, 0
            self.save()
            last = self.state.history[-1] if self.state.history else {}
            self._notify("on_epoch_end", {**(last if last.get("epoch") == epoch + 1 else {}), "epoch": epoch + 1,
                                          "step": self.state.global_step})
        bar.close()
        if config.select_best_on != "last" and self.best_weights is not None:
            self.unwrapped.load_state_dict(self.best_weights, strict=False)
        self._finish_averaging()
        self._notify("on_train_end", {"step": self.state.global_step, "best_epoch": self.state.best_epoch})
        return self.state

    def summary(self) -> dict:
        """Training record for results.json, with throughput over all processes."""
        state = asdict(self.state)
        world = self.accelerator.num_processes
        for key in ("samples", "tokens", "padded_tokens", "auxiliary_samples"):
            state[key] = getattr(self.state, key) * world
        seconds = max(self.state.train_seconds, 1e-9)
        state["train_samples_per_second"] = state["samples"] / seconds
        state["train_tokens_per_second"] = state["tokens"] / seconds
        state["padding_fraction"] = 1 - self.state.tokens / max(self.state.padded_tokens, 1)
        state["batches_per_epoch"] = self.batches_per_epoch * world
        return state
