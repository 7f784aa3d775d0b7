"""xlingual: cross-lingual sentiment transfer with multilingual encoders.

Train on English labelled data (full fine-tuning, frozen layers or LoRA, optionally
with embedding-alignment losses), evaluate zero-shot in other languages, load the
checkpoint to predict, and compare recipes across languages and seeds.
"""

from __future__ import annotations

from . import log as _log
from ._version import __version__
from .callbacks import Callback
from .config import RecipeConfig, load_recipe
from .errors import CheckpointError, ConfigError, DataError, XlingualError

_log.install()

_LAZY = {"XlingualConfig", "XlingualForSequenceClassification"}
_OBJECTIVES = {"Objective", "register_objective", "registered_objectives"}


def __getattr__(name: str):
    # transformers takes seconds to import: load the model classes (and register them
    # with the Auto classes) only when they are first used, so the CLI starts fast.
    if name in _LAZY:  # transformers: only on first use
        from .modeling import classifier

        return getattr(classifier, name)
    if name in _OBJECTIVES:  # imports torch: only on first use
        from . import objectives

        return getattr(objectives, name)
    raise AttributeError(f"module 'xlingual' has no attribute {name!r}")


def fit(recipe=None, **kwargs):
    """Train on in-memory data (Datasets, DataFrames, lists); returns the trained classifier.

    See :func:`xlingual.api.fit`."""
    # torch and transformers load on the first call, so `import xlingual` (and the CLI) stays fast
    from .api import fit as _fit

    return _fit(recipe, **kwargs)


def evaluate(classifier, data, **kwargs):
    """Score a classifier on in-memory labelled data. See :func:`xlingual.api.evaluate`."""
    # torch and transformers load on the first call, so `import xlingual` (and the CLI) stays fast
    from .api import evaluate as _evaluate

    return _evaluate(classifier, data, **kwargs)


def load(path, base_model=None, device="cpu", verify=True, quantize=None):
    """Load a run or checkpoint folder as a :class:`~xlingual.inference.Classifier`.

    ``quantize="int8"``: dynamic int8 on the CPU (the encoder's Linear layers; LoRA merged first).
    """
    # torch and transformers load on the first call, so `import xlingual` (and the CLI) stays fast
    from .inference import load as _load

    return _load(path, base_model=base_model, device=device, verify=verify, quantize=quantize)


def train(recipe, overrides=(), overwrite=False, resume=False, progress=True, objectives=()):
    """Train a recipe (path or :class:`RecipeConfig`) and return the run folder.

    ``objectives``: :class:`~xlingual.objectives.Objective` instances trained beside the recipe's losses."""
    # torch and transformers load on the first call, so `import xlingual` (and the CLI) stays fast
    from .runner import train as _train

    return _train(recipe, overrides, overwrite=overwrite, resume=resume, progress=progress, objectives=objectives)


__all__ = [
    "Callback", "CheckpointError", "ConfigError", "DataError", "Objective", "RecipeConfig", "XlingualConfig",
    "XlingualError", "XlingualForSequenceClassification", "__version__", "evaluate", "fit", "load", "load_recipe",
    "register_objective", "registered_objectives", "train",
]
