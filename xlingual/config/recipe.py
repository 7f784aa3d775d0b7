"""The whole recipe and the rules that span its sections."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .alignment import AlignmentConfig
from .conversion import _convert, _plain, check_template
from .data import DataConfig
from .evaluation import EvaluationConfig, SelectionSignalsConfig
from .model import FreezeConfig, LoraConfig, ModelConfig
from .training import AveragingConfig, InterpolationConfig, LoggingConfig, SelfTrainingConfig, TrainingConfig

SIGNAL_SELECTION = {"retrieval": "retrieval", "target-confidence": "confidence", "target-entropy": "entropy",
                    "target-agreement": "agreement"}
"""``training.select_best_on`` values that select by a label-free signal → the signal."""


@dataclass
class RecipeConfig:
    """A whole recipe: everything needed to reproduce a run."""

    name: str = "recipe"
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig | None = None
    """LoRA settings; ``null`` (the default) means full fine-tuning."""
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    self_training: SelfTrainingConfig | None = None
    """Pseudo-label target text after the English phase (needs alignment.unlabeled_target)."""
    averaging: AveragingConfig | None = None
    """Checkpoint averaging inside the run; ``null`` (the default) keeps the selected checkpoint."""
    interpolation: InterpolationConfig | None = None
    """Interpolate the trained encoder toward the pretrained one after training (WiSE-FT)."""
    selection_signals: SelectionSignalsConfig | None = None
    """Label-free target-side signals scored every epoch (and selectable by ``training.select_best_on``)."""
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    """Experiment trackers (``report_to``) beside the run's own JSONL log."""
    output_dir: str = "runs/{name}-seed{seed}"
    """Run folder; ``{name}`` and ``{seed}`` are filled in."""

    def validate(self) -> RecipeConfig:
        """Check every value (types, ranges, names) and return a normalised copy (languages in their full
        names, loss settings as their objective's dataclass); raises :class:`ConfigError`. ``self`` is not changed."""
        recipe = _convert(RecipeConfig, _plain(self), "")
        recipe._validate_in_place()
        return recipe

    def _validate_in_place(self) -> None:
        for section in (self.model, self.lora, self.freeze, self.data, self.training, self.evaluation,
                        self.alignment, self.self_training, self.averaging, self.interpolation,
                        self.selection_signals, self.logging):
            if section is not None:
                section._normalize()
        if self.lora is not None and (self.freeze.layers or self.freeze.encoder):
            raise ConfigError("freeze: with lora the encoder is already frozen; remove freeze.layers/freeze.encoder")
        signal = SIGNAL_SELECTION.get(self.training.select_best_on)
        if signal is not None:
            signals = self.selection_signals
            if signals is None or signal not in signals.signals:
                raise ConfigError(f"training.select_best_on: '{self.training.select_best_on}' needs "
                                  f"selection_signals.signals to include '{signal}'")
            if signal == "retrieval" and signals.pairs is None:
                raise ConfigError("training.select_best_on: 'retrieval' needs selection_signals.pairs")
        if self.interpolation is not None and self.training.select_best_on == "last":
            raise ConfigError("interpolation: chooses α on the selection split; training.select_best_on is 'last'")
        if not self.name or any(sep in self.name for sep in ("/", "\\", "\0")) or self.name in (".", ".."):
            raise ConfigError(f"name: {self.name!r} must be a plain name (no path separators, not . or ..); "
                              "it names the run folder inside output_dir")
        if not self.output_dir or "\0" in self.output_dir:
            raise ConfigError(f"output_dir: must name a folder, got {self.output_dir!r}")
        check_template(self.output_dir, "output_dir", ("name", "seed"))
        if self.self_training is not None and self.alignment.unlabeled_target is None:
            raise ConfigError("self_training: needs alignment.unlabeled_target (the text to pseudo-label)")
        if self.alignment.unlabeled_target and self.alignment.unlabeled_target.split == self.data.test_split:
            raise ConfigError(f"alignment.unlabeled_target.split: '{self.data.test_split}' is the test split; "
                              "training on test text (even unlabeled) would leak it")

    @property
    def method(self) -> str:
        """``lora``, ``head`` (linear probe) or ``full``."""
        if self.lora is not None:
            return "lora"
        return "head" if self.freeze.encoder else "full"

    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir.format(name=self.name, seed=self.training.seed))

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecipeConfig:
        """Build and validate a recipe from plain data (as parsed from YAML or JSON)."""
        recipe = _convert(cls, data, "")
        recipe._validate_in_place()
        return recipe
