"""The evaluation section and the label-free selection signals."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError, did_you_mean
from .alignment import PairsConfig
from .conversion import Section, _check_positive

SIGNALS = ("retrieval", "confidence", "entropy", "agreement")
"""The label-free selection signals a recipe may name (computed by :mod:`xlingual.evaluation.signals`)."""
HIGHER_IS_BETTER = {"retrieval": True, "confidence": True, "entropy": False, "agreement": True}
"""How each signal ranks epochs when a run selects by it."""


@dataclass
class EvaluationConfig(Section):
    """What to evaluate after training."""

    splits: list[str] = field(default_factory=lambda: ["test"])
    """Role names (``test``, ``dev``) or literal split names to evaluate in every language."""
    batch_size: int = 128
    save_predictions: bool = True
    prior_correction: str | None = None
    """Transductive label-prior correction (Saerens et al. 2002): the split of each target language whose
    *text* (labels dropped) re-estimates the class priors by EM, e.g. ``train``; ``null``: off. The posteriors
    are calibrated on labelled source dev first (bias-corrected temperature scaling, Alexandari et al. 2020)."""

    def _normalize(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(f"evaluation.batch_size: must be at least 1, got {self.batch_size}")
        if self.prior_correction is not None and self.prior_correction in ("test", *self.splits):
            raise ConfigError(f"evaluation.prior_correction: '{self.prior_correction}' is an evaluated split; "
                              "estimate priors on other target text, e.g. train")
        if not self.splits:
            raise ConfigError("evaluation.splits: name at least one split, e.g. [test]")


@dataclass
class SelectionSignalsConfig(Section):
    """Label-free signals scored after every epoch beside the selection split (xlingual.evaluation.signals):
    recorded per epoch in results.json, and usable by ``training.select_best_on``."""

    signals: list[str] = field(default_factory=lambda: ["retrieval", "confidence", "entropy", "agreement"])
    unlabeled_split: str = "train"
    """The split of each target language whose text (labels dropped at load time) the signals read."""
    max_examples: int | None = 300
    """Texts per language (a fixed random subset), to keep the per-epoch cost small."""
    pairs: PairsConfig | None = None
    """Translation pairs for ``retrieval`` (as ``alignment.pairs``); without them retrieval is skipped."""

    def _normalize(self) -> None:
        for signal in self.signals:
            if signal not in SIGNALS:
                raise ConfigError(f"selection_signals.signals: unknown signal '{signal}'"
                                  f"{did_you_mean(signal, SIGNALS)}; choose from {', '.join(SIGNALS)}")
        if self.unlabeled_split == "test":
            raise ConfigError("selection_signals.unlabeled_split: 'test' would select the model on test text")
        if self.pairs is not None:
            self.pairs._normalize()
        _check_positive(self, "selection_signals", ("max_examples",))
