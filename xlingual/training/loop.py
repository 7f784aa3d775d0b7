"""The training loop on ``accelerate``: one code path for a CPU, a GPU, or ``torchrun`` processes.

Each step draws a labelled source batch (length-grouped, dynamically padded) and, for
extra objectives, one batch per stream they name; the loss is the task cross-entropy
plus the weighted objective terms, each logged on its own. After every epoch the model
is scored on the selection split and the best weights are kept in memory, so the
checkpoint written at the end is the selected one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..config import RecipeConfig
from ..data.batching import TokenizedExamples, collate, training_batches
from ..data.examples import Examples
from ..errors import TrainingDivergedError
from ..evaluation.zero_shot import evaluate_languages
from .objectives import Objective, StepContext
from .optim import build_optimizer, build_scheduler
from .streams import Stream


@dataclass
class TrainState:
    """Progress and model-selection record of a training run."""

    global_step: int = 0
    total_steps: int = 0
    epoch: int = 0
    best_score: float | None = None
    best_epoch: int | None = None
    history: list[dict] = field(default_factory=list)
    samples: int = 0
    tokens: int = 0
    padded_tokens: int = 0
    train_seconds: float = 0.0
    selection_seconds: float = 0.0


class TrainingLoop:
    """Fine-tunes a classifier on labelled source data, optionally with extra objectives."""

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
    ) -> None:
        self.recipe = recipe
        self.config = recipe.training
        self.train_data = train
        self.selection = selection or {}
        self.label_names = list(label_names)
        self.accelerator = accelerator
        self.log_path = log_path
        self.objectives = list(objectives)
        self.streams = streams or {}
        self.progress = progress and accelerator.is_local_main_process
        for objective in self.objectives:
            for stream in objective.streams:
                if stream not in self.streams:
                    raise ValueError(f"objective '{objective.name}' needs stream '{stream}', which the run has not loaded")
        self.model = model
        self.optimizer = build_optimizer(model, self.config)
        self.batches_per_epoch = len(self._epoch_batches(0))
        accumulation = self.config.gradient_accumulation_steps
        self.total_batches = max(1, math.ceil(self.config.epochs * self.batches_per_epoch))
        self.num_epochs = math.ceil(self.total_batches / self.batches_per_epoch)
        total_steps = math.ceil(self.total_batches / accumulation)
        self.scheduler = build_scheduler(self.optimizer, self.config, total_steps)
        self.model, self.optimizer = accelerator.prepare(self.model, self.optimizer)
        self.state = TrainState(total_steps=total_steps)
        self.best_weights: dict[str, torch.Tensor] | None = None

    # ------------------------------------------------------------------ helpers
    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        return training_batches(
            self.train_data.lengths, self.config.batch_size, self.config.seed, epoch, self.config.group_by_length,
            num_shards=self.accelerator.num_processes, shard=self.accelerator.process_index,
        )

    @property
    def unwrapped(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        names = {name for name, p in self.unwrapped.named_parameters() if p.requires_grad}
        return {k: v.detach().clone() for k, v in self.unwrapped.state_dict().items() if k in names}

    def _log(self, record: dict) -> None:
        if self.log_path is not None and self.accelerator.is_main_process:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    # ------------------------------------------------------------------ training
    def _step_loss(self, batch: dict[str, torch.Tensor], progress: float) -> tuple[torch.Tensor, dict[str, float]]:
        output = self.model(**batch)
        loss = output.loss
        terms = {"task": loss.detach().float().item()}
        if self.objectives:
            device = self.accelerator.device
            stream_batches = {name: {k: v.to(device) for k, v in self.streams[name].next_batch().items()}
                              for name in {s for o in self.objectives for s in o.streams}}
            context = StepContext(self.model, batch, output, stream_batches, progress)
            for objective in self.objectives:
                weight = objective.weight(progress)
                value = objective.compute(context)
                terms[objective.name] = value.detach().float().item()
                terms[f"{objective.name}_weight"] = weight
                if weight:
                    loss = loss + weight * value
        terms["total"] = loss.detach().float().item()
        return loss, terms

    def _select(self, epoch: int) -> None:
        """Score the selection split and keep the weights if they are the best so far."""
        if not self.selection:
            return
        start = time.perf_counter()
        report = evaluate_languages(
            self.unwrapped, self.selection, self.label_names, "selection", self.recipe.data.source_language,
            self.recipe.evaluation.batch_size, self.accelerator.device, self.accelerator, progress=False,
        )
        self.state.selection_seconds += time.perf_counter() - start
        score = sum(r.metrics["macro_f1"] for r in report.languages.values()) / len(report.languages)
        record = {"epoch": epoch + 1, "step": self.state.global_step, "selection_macro_f1": score,
                  "selection_accuracy": sum(r.metrics["accuracy"] for r in report.languages.values())
                  / len(report.languages)}
        self.state.history.append(record)
        self._log(record)
        if self.state.best_score is None or score > self.state.best_score:
            self.state.best_score, self.state.best_epoch = score, epoch + 1
            self.best_weights = self._trainable_state()

    def run(self) -> TrainState:
        """Train for the configured epochs; afterwards the model holds the selected weights."""
        accelerator, config = self.accelerator, self.config
        self.model.train()
        bar = tqdm(total=self.state.total_steps, desc="train", disable=not self.progress, unit="step",
                   dynamic_ncols=True)
        pending: list[dict[str, float]] = []
        batches_done = 0
        for epoch in range(self.num_epochs):
            self.state.epoch = epoch
            epoch_start = time.perf_counter()
            for indices in self._epoch_batches(epoch):
                if batches_done >= self.total_batches:
                    break
                ids = [self.train_data.input_ids[i] for i in indices]
                batch = collate(ids, self.train_data.pad_token_id, [self.train_data.labels[i] for i in indices])
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                progress = batches_done / self.total_batches
                with accelerator.accumulate(self.model):
                    loss, terms = self._step_loss(batch, progress)
                    if not math.isfinite(terms["total"]):
                        raise TrainingDivergedError(
                            f"the training loss became {terms['total']} at step {self.state.global_step + 1} "
                            f"(epoch {epoch + 1}); lower training.learning_rate or check the data"
                        )
                    accelerator.backward(loss)
                    if accelerator.sync_gradients and config.max_grad_norm:
                        accelerator.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
                    self.optimizer.step()
                    self.optimizer.zero_grad(set_to_none=True)
                batches_done += 1
                self.state.samples += len(ids)
                self.state.tokens += sum(len(x) for x in ids)
                self.state.padded_tokens += batch["input_ids"].numel()
                pending.append(terms)
                if accelerator.sync_gradients:
                    self.scheduler.step()
                    self.state.global_step += 1
                    bar.update(1)
                    if self.state.global_step % config.logging_steps == 0 or batches_done == self.total_batches:
                        record = {key: sum(t[key] for t in pending) / len(pending) for key in pending[0]}
                        record.update(step=self.state.global_step, epoch=round(batches_done / self.batches_per_epoch, 4),
                                      lr=self.scheduler.get_last_lr()[0])
                        self._log(record)
                        bar.set_postfix(loss=f"{record['task']:.4f}")
                        pending = []
            self.state.train_seconds += time.perf_counter() - epoch_start
            if config.select_best_on != "last" and (config.eval_every_epoch or epoch == self.num_epochs - 1):
                self._select(epoch)
                self.model.train()
        bar.close()
        if config.select_best_on != "last" and self.best_weights is not None:
            self.unwrapped.load_state_dict(self.best_weights, strict=False)
        world = accelerator.num_processes
        self.state.samples *= world
        self.state.tokens *= world
        self.state.padded_tokens *= world
        return self.state

    def summary(self) -> dict:
        state = asdict(self.state)
        seconds = max(self.state.train_seconds, 1e-9)
        state["train_samples_per_second"] = self.state.samples / seconds
        state["train_tokens_per_second"] = self.state.tokens / seconds
        state["padding_fraction"] = 1 - self.state.tokens / max(self.state.padded_tokens, 1)
        return state
