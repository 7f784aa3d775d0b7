"""Build what a run trains with: the accelerator, the objectives given beside a recipe, the auxiliary
streams, the selection signals, and the truncation report of the tokenised data.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import ProjectConfiguration

from .. import run_folder as rf
from ..config import RecipeConfig
from ..config.registry import check_declaration, missing_stream_sections
from ..data.batching import TokenizedExamples, tokenize_examples
from ..data.examples import Examples
from ..data.pairs import TranslationPairs
from ..data.truncation import TruncationStats, truncation_messages, truncation_report
from ..errors import ConfigError
from ..evaluation.signals import SelectionSignals, SignalData
from ..evaluation.splits import tokenize
from ..objectives import Objective
from ..objectives.base import copy_objectives
from ..training.streams import PairStream, TextStream

logger = logging.getLogger(__name__)


def make_accelerator(recipe: RecipeConfig, trackers: list[str] | None = None) -> Accelerator:
    """An Accelerator for this machine; under torchrun without GPUs, CPU processes with gloo.

    accelerate keeps one process-wide state: a second run in the same Python process (a notebook) with
    another ``mixed_precision`` resets it when there is one process, and is refused under torchrun."""
    precision = recipe.training.mixed_precision
    if precision != "no" and not torch.cuda.is_available():
        # accelerate would train in fp32 (fp16) or CPU autocast (bf16) while the run records the setting
        raise ConfigError(f"training.mixed_precision: {precision} needs a CUDA GPU and torch sees none; "
                          "set training.mixed_precision=no")
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    wanted = recipe.training.mixed_precision
    if AcceleratorState._shared_state and str(AcceleratorState().mixed_precision) != wanted:
        if AcceleratorState().num_processes > 1:
            raise ConfigError(f"training.mixed_precision: this process already trained with "
                              f"'{AcceleratorState().mixed_precision}', and accelerate cannot change it across "
                              f"{AcceleratorState().num_processes} processes; start a new torchrun for '{wanted}'")
        AcceleratorState._reset_state(reset_partial_state=True)
    logging = {}
    if trackers:  # accelerate's trackers; those needing a folder write under RUN/logs/trackers
        out = recipe.resolved_output_dir()
        logging = {"log_with": trackers, "project_config": ProjectConfiguration(
            project_dir=str(out), logging_dir=str(out / rf.TRACKER_FILES))}
    return Accelerator(gradient_accumulation_steps=recipe.training.gradient_accumulation_steps,
                       mixed_precision=recipe.training.mixed_precision, cpu=multi_cpu, **logging)


def prepare_objectives(recipe: RecipeConfig, objectives: Sequence[Objective]) -> list[Objective]:
    """Check objective instances given beside a recipe (declaration, streams, names) and copy them for this run."""
    taken = {loss.name for loss in recipe.alignment.losses}
    for index, objective in enumerate(objectives):
        where = f"objectives[{index}]"
        if not isinstance(objective, Objective):
            raise ConfigError(f"{where}: expected an xlingual Objective instance, got {type(objective).__name__}")
        check_declaration(type(objective))
        missing = missing_stream_sections(type(objective), recipe.alignment)
        if missing:
            raise ConfigError(f"{where}: '{objective.name}' needs alignment.{missing[0]} to be set")
        if objective.name in taken:
            raise ConfigError(f"{where}: '{objective.name}' is already trained (alignment.losses or an earlier "
                              "instance); give each objective once")
        taken.add(objective.name)
    return copy_objectives(objectives)


def report_truncation(recipe: RecipeConfig, tokenized: dict[str, dict[str, TokenizedExamples]], show: bool) -> dict:
    """Log how many texts of each language and split were cut (a warning above the threshold); the
    ``truncation`` block of results.json."""
    stats = {split: {lang: TruncationStats(len(data), data.truncated) for lang, data in by_language.items()}
             for split, by_language in tokenized.items()}
    if show:
        for line in truncation_messages(stats, recipe.model.max_length, recipe.data.truncation):
            level, _, message = line.partition(": ")
            if level == "warning":
                logger.warning(message)
            else:
                logger.info(line)
    return truncation_report(stats, recipe.model.max_length, recipe.data.truncation)


def build_streams(recipe: RecipeConfig, tokenizer, unlabeled: dict[str, Examples],
                  pairs: dict[str, TranslationPairs]) -> dict:
    """Tokenise the auxiliary data once and wrap it in endless seeded batch streams."""
    training = recipe.training
    streams: dict = {}
    if unlabeled:
        size = recipe.alignment.unlabeled_target.batch_size or training.batch_size
        parts = [tokenize(ex, tokenizer, recipe) for ex in unlabeled.values()]
        streams["target"] = TextStream(parts, size, seed=training.seed + 1)
    if pairs:
        size = recipe.alignment.pairs.batch_size or training.batch_size
        english = [tokenize(Examples(p.source, None, "english", "pairs", p.origin), tokenizer, recipe)
                   for p in pairs.values()]
        other = [tokenize(Examples(p.target, None, p.language, "pairs", p.origin), tokenizer, recipe)
                 for p in pairs.values()]
        streams["pairs"] = PairStream(english, other, size, seed=training.seed + 2)
    return streams


def build_signals(recipe: RecipeConfig, tokenizer, unlabeled: dict[str, Examples],
                  pairs: dict[str, TranslationPairs]):
    """The per-epoch label-free signals over the tokenised signal data (None when not configured)."""
    if recipe.selection_signals is None:
        return None
    model = recipe.model

    def tokenize(texts: list[str], language: str, origin: str):
        return tokenize_examples(Examples(texts, None, language, "signals", origin), tokenizer, model.max_length,
                                 model.text_prefix, recipe.data.truncation)

    data = SignalData(
        unlabeled={lang: tokenize(ex.texts, lang, ex.origin) for lang, ex in unlabeled.items()},
        pairs={lang: (tokenize(p.source, recipe.data.source_language, p.origin), tokenize(p.target, lang, p.origin))
               for lang, p in pairs.items()})
    return SelectionSignals(data, recipe.selection_signals.signals, recipe.evaluation.batch_size)
