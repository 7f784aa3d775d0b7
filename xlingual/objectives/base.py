"""The objective interface: what an alignment term declares, and what it sees at setup and in each step.

The training step computes ``task loss + Σ weight_i(progress) · loss_i``. Every batch of a step (the
labelled source batch and one batch per stream an objective reads: ``target`` for unlabeled
target-language text, ``pairs``/``pairs_translation`` for the two sides of translation pairs) goes
through the encoder; an objective then reads the pooled embeddings of the parts it needs from
:class:`StepContext`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import LossConfig
from ..config.registry import get_objective, streams_of
from ..errors import ConfigError
from .gradient_reversal import dann_coefficient


@dataclass
class NoParams:
    """For objectives without settings of their own."""


@dataclass
class SetupContext:
    """What an objective may use when a run builds it, before training starts."""

    model: nn.Module
    """The classifier (encoder + head) about to be trained, with its initial (pretrained) weights."""
    hidden_size: int
    target_languages: list[str]
    """``data.target_languages``, in the recipe's order."""
    tokenizer: Any = None
    """The run's tokenizer (for objectives that make views of the text, e.g. consistency training)."""
    seed: int = 0
    """``training.seed``: objectives that draw at random derive their draws from it."""
    max_length: int = 512
    """``model.max_length``: a view of a text is cut to it."""
    stream_languages: list[str] | None = None
    """The ``target`` stream's languages, in the order of its batches' ``language_ids`` (id 0 is the first); it
    may be a subset of the targets (``alignment.unlabeled_target.languages``). ``None``: ``target_languages``."""


@dataclass
class StepContext:
    """What an objective sees in one training step."""

    embeddings: dict[str, torch.Tensor]
    """Pooled embeddings per part: ``source``, and ``target``, ``pairs``, ``pairs_translation`` when drawn."""
    batches: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    """The step's batches: ``source`` (``input_ids``, ``attention_mask``, ``labels``) and one per stream read,
    with extra fields such as the target stream's ``language_ids``."""
    progress: float = 0.0
    """Fraction of training done, in [0, 1]."""
    model: nn.Module | None = None
    """The model being trained (unwrapped from accelerate)."""
    logs: dict[str, float] = field(default_factory=dict)
    """Extra values to log this step (averaged over the logging interval like the loss terms)."""
    logits: dict[str, torch.Tensor] = field(default_factory=dict)
    """The classifier's logits per part, from the same forward pass as ``embeddings``."""

    def log(self, key: str, value: float) -> None:
        self.logs[key] = float(value)


def schedule_weight(config: LossConfig, progress: float) -> float:
    """The loss weight at ``progress``: constant, linear warm-up, or DANN's 2/(1+exp(-10p)) − 1."""
    if config.schedule == "linear":
        return config.weight * (min(1.0, progress / config.warmup_ratio) if config.warmup_ratio > 0 else 1.0)
    if config.schedule == "dann":
        return config.weight * dann_coefficient(progress)
    return config.weight


class Objective(nn.Module):
    """An auxiliary loss term. Subclass it, declare the class attributes, implement :meth:`compute`, and
    decorate the class with :func:`~xlingual.objectives.register_objective`.

    Instances are made by the recipe (``alignment.losses``) or by the user, e.g.
    ``MMDObjective(weight=0.5, unbiased=True)``: keyword arguments other than ``weight``, ``schedule``
    and ``warmup_ratio`` are the objective's ``Params``. Pass instances to
    ``xlingual.train(..., objectives=[...])``.
    """

    name: ClassVar[str] = ""
    """The name recipes use in ``alignment.losses[].name``, and the loss term's key in the training log."""
    Params: ClassVar[type] = NoParams
    """The objective's own settings, a dataclass; written beside ``name`` in a recipe."""
    parts: ClassVar[tuple[str, ...]] = ()
    """Embedding parts read besides ``source``: ``target``, ``pairs``, ``pairs_translation``."""
    target_resources: ClassVar[tuple[str, ...]]
    """Target-side data the objective trains with (recorded in results.json); ``()`` when none."""

    def __init__(self, params: Any = None, *, weight: float = 1.0, schedule: str = "constant",
                 warmup_ratio: float = 0.1, **settings: Any) -> None:
        super().__init__()
        if params is not None and settings:
            raise TypeError(f"{type(self).__name__}: pass either params or keyword settings, not both")
        spec = LossConfig(self.name, weight, schedule, warmup_ratio, params if params is not None else settings)
        self.config = spec.validate(f"objective '{self.name}'")
        self.params = self.config.params

    @classmethod
    def from_config(cls, config: LossConfig) -> Objective:
        return cls(config.params, weight=config.weight, schedule=config.schedule, warmup_ratio=config.warmup_ratio)

    @classmethod
    def check(cls, config: LossConfig, where: str) -> None:
        """Refuse settings that cannot work together; ``config.params`` is already a ``Params``. Override to add
        rules; the params dataclass may also define ``validate(where)``."""
        validate = getattr(config.params, "validate", None)
        if callable(validate):
            validate(where)

    @classmethod
    def other_resources(cls, params: Any) -> tuple[str, ...]:
        """Target-side resources these settings add beyond ``target_resources``, drawn from
        :data:`xlingual.protocol.POST_HOC_RESOURCES` (consistency's code-switched views read a word list)."""
        return ()

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams behind ``parts`` (``target``, ``pairs``): the run loads and draws these."""
        return streams_of(self.parts)

    def setup(self, context: SetupContext) -> None:
        """Build what depends on the model (e.g. a discriminator of its hidden size). Called once per run."""

    @property
    def learning_rate(self) -> float | None:
        """Learning rate for the objective's own parameters; ``None`` uses the head's."""
        return None

    def weight(self, progress: float) -> float:
        return schedule_weight(self.config, progress)

    def compute(self, context: StepContext) -> torch.Tensor:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The objective as results.json records it."""
        return {"name": self.name, "weight": self.config.weight, "schedule": self.config.schedule,
                "warmup_ratio": self.config.warmup_ratio, "params": dataclasses.asdict(self.params),
                "streams": list(self.streams),
                "target_resources": [*self.target_resources, *self.other_resources(self.params)],
                "class": f"{type(self).__module__}.{type(self).__qualname__}"}


def build_objectives(configs: Sequence[LossConfig], context: SetupContext,
                     extra: Sequence[Objective] = ()) -> list[Objective]:
    """One objective per configured loss, in recipe order, then the ``extra`` instances; each set up for the run."""
    objectives = [get_objective(config.name).from_config(config) for config in configs]
    for objective in extra:
        if not isinstance(objective, Objective):
            raise ConfigError(f"objectives: {objective!r} is not an xlingual Objective instance")
        objectives.append(objective)
    names = [objective.name for objective in objectives]
    if len(set(names)) != len(names):
        raise ConfigError(f"objectives: an objective is given twice (recipe alignment.losses and objectives=): "
                          f"{names}")
    for objective in objectives:
        objective.setup(context)
    return objectives


def copy_objectives(objectives: Sequence[Objective]) -> list[Objective]:
    """Fresh copies of user instances, so a second run does not continue from the first run's state."""
    return [copy.deepcopy(objective) for objective in objectives]
