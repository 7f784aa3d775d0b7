"""The training section, the post-hoc steps (self-training, averaging, interpolation) and logging."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import ConfigError, did_you_mean
from .conversion import Section, _check_positive


@dataclass
class TrainingConfig(Section):
    """Optimisation: AdamW with linear warm-up and decay, on ``accelerate``."""

    epochs: float = 3.0
    batch_size: int = 32
    learning_rate: float = 3e-5
    head_learning_rate: float | None = None
    """Learning rate of the classification head; ``None`` uses ``learning_rate``."""
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    gradient_accumulation_steps: int = 1
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"
    gradient_checkpointing: bool = False
    """Recompute the encoder's layer activations in the backward pass instead of storing them: less
    memory (activations dominate on CPU, LoRA included) for about one extra forward per step."""
    seed: int = 42
    group_by_length: bool = True
    """Batch tweets of similar length together to cut padding (shuffled at the batch level)."""
    select_best_on: Literal["source-dev", "last", "target-dev", "retrieval", "target-confidence",
                            "target-entropy", "target-agreement"] = "source-dev"
    """Model selection: best epoch on the English dev split (default), the last epoch, or
    ``target-dev`` (oracle selection on target-language dev labels, marked in the results), or a label-free
    signal from ``selection_signals`` (``retrieval``, ``target-confidence``, ``target-entropy``,
    ``target-agreement``)."""
    eval_every_epoch: bool = True
    logging_steps: int = 10
    checkpoint_steps: int = 0
    """Save a resumable checkpoint every N optimizer steps (0: only at epoch ends)."""
    lp_ft: bool = False
    """LP-FT (Kumar et al., ICLR 2022): fit the head as a linear probe on the frozen encoder's cached
    source features first, then fine-tune from that head instead of a random one."""

    def _normalize(self) -> None:
        if self.epochs <= 0:
            raise ConfigError(f"training.epochs: must be positive, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"training.batch_size: must be at least 1, got {self.batch_size}")
        if self.learning_rate <= 0:
            raise ConfigError(f"training.learning_rate: must be positive, got {self.learning_rate}")
        if self.head_learning_rate is not None and self.head_learning_rate <= 0:
            raise ConfigError(f"training.head_learning_rate: must be positive, got {self.head_learning_rate}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"training.warmup_ratio: must be in [0, 1), got {self.warmup_ratio}")
        if self.weight_decay < 0:
            raise ConfigError(f"training.weight_decay: must be >= 0, got {self.weight_decay}")
        if self.gradient_accumulation_steps < 1:
            raise ConfigError(
                f"training.gradient_accumulation_steps: must be at least 1, got {self.gradient_accumulation_steps}"
            )
        if self.logging_steps < 1:
            raise ConfigError(f"training.logging_steps: must be at least 1, got {self.logging_steps}")
        if self.checkpoint_steps < 0:
            raise ConfigError(f"training.checkpoint_steps: must be >= 0, got {self.checkpoint_steps}")
        if self.max_grad_norm < 0:
            raise ConfigError(f"training.max_grad_norm: must be >= 0 (0 turns clipping off), got {self.max_grad_norm}")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"training.seed: must be in [0, 2**32), got {self.seed}")


@dataclass
class SelfTrainingConfig(Section):
    """Self-training: pseudo-label unlabeled target text after the English phase, then train on it too."""

    rounds: int = 1
    threshold: float = 0.9
    class_balanced: bool = True
    max_per_class: int | None = None
    epochs: float = 1.0
    """Epochs over source + pseudo-labelled data in each round."""
    keep_alignment_losses: bool = True
    """Keep ``alignment.losses`` on in the rounds; off, a round trains on source + pseudo-labels with the
    task loss alone and skips the losses' extra forward passes (one per stream they read)."""

    def _normalize(self) -> None:
        if self.rounds < 1:
            raise ConfigError(f"self_training.rounds: must be at least 1, got {self.rounds}")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"self_training.threshold: must be in (0, 1), got {self.threshold}")
        if self.epochs <= 0:
            raise ConfigError(f"self_training.epochs: must be positive, got {self.epochs}")
        _check_positive(self, "self_training", ("max_per_class",))


@dataclass
class AveragingConfig(Section):
    """Checkpoint averaging inside a run (Schmidt, Vulić & Glavaš, ACL 2023): a uniform running
    average of the trainable weights at snapshot points, scored on the selection split beside the
    single checkpoints. LoRA runs average the adapters and the head (their trainable weights)."""

    every_steps: int = 0
    """Take a snapshot every N optimiser steps; 0: at the end of every epoch."""
    start: float = 0.0
    """Fraction of training before which snapshots are skipped (e.g. 0.1 to skip the warm-up)."""
    save: Literal["averaged", "selected"] = "averaged"
    """Which model the run saves and evaluates: the average, or the checkpoint ``select_best_on`` chose."""
    keep_snapshots: bool = False
    """Also write each snapshot's trainable weights to ``snapshots/`` (for soups and later analysis)."""

    def _normalize(self) -> None:
        if self.every_steps < 0:
            raise ConfigError(f"averaging.every_steps: must be >= 0 (0: every epoch end), got {self.every_steps}")
        if not 0.0 <= self.start < 1.0:
            raise ConfigError(f"averaging.start: must be in [0, 1), got {self.start}")


@dataclass
class InterpolationConfig(Section):
    """WiSE-FT after training (Wortsman et al., CVPR 2022): θ(α) = (1 − α)·θ_pretrained + α·θ_fine-tuned on the
    encoder, α chosen on the selection split (1 is always a candidate). LoRA adapters are merged first, so the
    saved checkpoint is a full one."""

    alphas: list[float] = field(default_factory=lambda: [0.2, 0.4, 0.6, 0.8])
    head: Literal["refit", "kept"] = "refit"
    """refit: a linear probe on the source train features under each θ(α); kept: the fine-tuned head."""

    def _normalize(self) -> None:
        if not self.alphas or any(not 0.0 <= a <= 1.0 for a in self.alphas):
            raise ConfigError(f"interpolation.alphas: must be values in [0, 1], got {self.alphas}")


TRACKERS = ("tensorboard", "mlflow", "wandb", "trackio", "comet_ml", "aim", "clearml", "dvclive", "swanlab")
"""accelerate's experiment trackers, by the names ``Accelerator(log_with=...)`` takes."""


@dataclass
class LoggingConfig(Section):
    """Experiment trackers (accelerate's tracker API, as the stock Trainer's ``report_to``). The run's own
    ``logs/train_log.jsonl`` is always written; trackers get the same records as well."""

    report_to: list[str] = field(default_factory=lambda: ["none"])
    """Tracker names (``tensorboard``, ``mlflow``, ``wandb``, ``trackio``, …), ``all`` (every installed one) or
    ``none`` (the default)."""
    project: str | None = None
    """Project (TensorBoard folder, MLflow experiment, W&B project); ``None``: the recipe's name."""

    def _normalize(self) -> None:
        for name in self.report_to:
            if name not in (*TRACKERS, "all", "none"):
                raise ConfigError(f"logging.report_to: unknown tracker '{name}'{did_you_mean(name, TRACKERS)}; "
                                  f"choose from {', '.join(TRACKERS)}, all or none")
        if len(self.report_to) > 1 and {"none", "all"} & set(self.report_to):
            raise ConfigError(f"logging.report_to: 'none' and 'all' stand alone, got {self.report_to}")
        if self.project is not None and (not self.project.strip() or any(c in self.project for c in "/\\\0")
                                         or self.project in (".", "..")):
            raise ConfigError(f"logging.project: {self.project!r} must be a plain name (no path separators, not . "
                              "or ..; null for the recipe's name): TensorBoard makes a folder of it in the run")

    @property
    def trackers(self) -> list[str]:
        """The named trackers (``all`` is resolved when the run starts, from what is installed)."""
        return [] if self.report_to == ["none"] else list(self.report_to)
