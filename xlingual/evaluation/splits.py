"""Scoring a model on every split and language a recipe names: tokenising, the optional label-prior
correction, and the predictions files. Training runs, soups, interpolation and ``xlingual evaluate`` all
score through :func:`evaluate_splits`, so their results.json blocks are built one way."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import torch

from .. import run_folder as rf
from ..config import RecipeConfig
from ..data.batching import TokenizedExamples, tokenize_examples
from ..data.examples import Examples, content_fingerprint
from ..data.loading import load_examples
from ..modeling.predict import predict_probabilities
from ..results import LanguageScores, SplitResults
from .predictions import write_predictions
from .prior_correction import adjust_priors, calibrate, estimate_target_priors, fit_label_shift
from .zero_shot import EvaluationReport, evaluate_languages

logger = logging.getLogger(__name__)
EvalData = dict[str, tuple[Examples, TokenizedExamples]]
"""language → (examples, their tokens)."""


def tokenize(examples: Examples, tokenizer, recipe: RecipeConfig) -> TokenizedExamples:
    return tokenize_examples(examples, tokenizer, recipe.model.max_length, recipe.model.text_prefix,
                             recipe.data.truncation)


def tokenize_all(raw: dict[str, Examples], tokenizer, recipe: RecipeConfig) -> EvalData:
    return {lang: (ex, tokenize(ex, tokenizer, recipe)) for lang, ex in raw.items()}


def split_results(report: EvaluationReport, raw: dict[str, Examples] | None = None,
                  label_names: Sequence[str] = ()) -> SplitResults:
    """One split of results.json; with the examples, their files and content fingerprints too."""
    languages = {lang: LanguageScores(**metrics) for lang, metrics in report.metrics().items()}
    result = SplitResults(languages, report.summary(), report.seconds,
                          report.examples / max(report.seconds, 1e-9))
    if raw is not None:
        result.test_files = {lang: ex.origin for lang, ex in raw.items()}
        result.test_fingerprints = {lang: content_fingerprint(ex.texts, [label_names[i] for i in ex.labels])
                                    for lang, ex in raw.items() if ex.labels is not None}
    return result


def prior_adjustments(model, tokenizer, recipe: RecipeConfig, scheme, device, accelerator,
                      languages: set[str]) -> tuple[dict, dict]:
    """Per target language, the EM prior correction estimated on its unlabeled ``evaluation.prior_correction``
    split (empty when off): ``(language → function on probabilities, language → record)``."""
    split = recipe.evaluation.prior_correction
    if split is None:
        return {}, {}
    data = recipe.data

    def probabilities_of(examples: Examples) -> torch.Tensor:
        return predict_probabilities(model, tokenize(examples, tokenizer, recipe), recipe.evaluation.batch_size,
                                     device, accelerator)

    # calibrate on labelled source dev first (BCTS), so EM re-weights posteriors that mean what they say
    dev = load_examples(data, data.source_language, "dev", scheme=scheme)
    fit = fit_label_shift(probabilities_of(dev), dev.labels)
    temperature, bias, source = fit["temperature"], fit["bias"], fit["source_priors"]
    calibration = {"method": "bias-corrected temperature scaling on source dev", "examples": len(dev.texts),
                   "temperature": round(temperature, 4), "bias": [round(b, 4) for b in bias.tolist()]}

    def corrected(probabilities: torch.Tensor, target_priors: torch.Tensor) -> torch.Tensor:
        return adjust_priors(calibrate(probabilities, temperature, bias), source, target_priors)

    adjust, records = {}, {}
    for language in sorted(languages - {data.source_language}):
        text = load_examples(data, language, split, labelled=False)
        priors, iterations = estimate_target_priors(probabilities_of(text), fit)
        adjust[language] = partial(corrected, target_priors=priors)
        records[language] = {"split": split, "texts": len(text.texts), "iterations": iterations,
                             "calibration": calibration,
                             "source_priors": [round(p, 4) for p in source.tolist()],
                             "target_priors": [round(p, 4) for p in priors.tolist()]}
        smallest = float(priors.min())
        if smallest < 0.02:
            logger.warning("prior correction drove one class's prior to %.3f in %s (EM on its %s text): its "
                           "corrected predictions may collapse onto the other classes", smallest, language, split)
    return adjust, records


def evaluate_splits(model, tokenizer, recipe: RecipeConfig, scheme, eval_examples: dict[str, dict[str, Examples]],
                    device, accelerator=None, progress: bool = True, out: Path | None = None,
                    tokenized: dict | None = None, reports: dict | None = None) -> dict[str, SplitResults]:
    """Score every split and language; with ``out``, write the predictions there (if the recipe saves them).

    ``tokenized`` (split → language → (examples, tokens)) skips tokenising again; ``reports`` collects the
    :class:`EvaluationReport` of each split."""
    splits: dict[str, SplitResults] = {}
    names = list(scheme.names)
    adjust, priors = prior_adjustments(model, tokenizer, recipe, scheme, device, accelerator,
                                       {lang for raw in eval_examples.values() for lang in raw})
    for split, raw in eval_examples.items():
        data = tokenized[split] if tokenized is not None else tokenize_all(raw, tokenizer, recipe)
        report = evaluate_languages(model, data, names, split, recipe.data.source_language,
                                    recipe.evaluation.batch_size, device, accelerator, progress, adjust)
        if reports is not None:
            reports[split] = report
        splits[split] = split_results(report, raw, names)
        if priors:
            splits[split].prior_correction = {lang: priors[lang] for lang in raw if lang in priors}
        if out is not None and recipe.evaluation.save_predictions:
            write_predictions(out / rf.PREDICTIONS, report, data, list(scheme.names))
    return splits
