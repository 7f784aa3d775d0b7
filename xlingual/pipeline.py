"""End-to-end jobs: train a recipe (then evaluate zero-shot) and re-evaluate a saved run."""

from __future__ import annotations

import shlex
import shutil
import sys
import time
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

from . import run_folder as rf
from .checkpoint import load_checkpoint, load_checkpoint_config, save_checkpoint
from .config import RecipeConfig, apply_override, load_recipe, load_recipe_dict
from .data.batching import TokenizedExamples, tokenize_examples
from .data.examples import Examples, check_text, content_fingerprint
from .data.holdout import HOLDOUT_FILE, holdout_record
from .data.loading import holds_out_dev, label_scheme, load_examples, split_role
from .data.pairs import TranslationPairs, load_pairs
from .data.textfile import read_lines
from .data.truncation import TruncationStats, truncation_messages, truncation_report
from .errors import ConfigError, DataError
from .evaluation import other_data
from .evaluation.zero_shot import EvaluationReport, evaluate_languages, write_predictions
from .io import atomic_write_json, atomic_write_text, read_json
from .languages import normalize_language
from .modeling.build import build_model, position_limit
from .modeling.freezing import count_parameters
from .protocol import SELECTION_NAMES, check_protocol, target_resources
from .run_paths import PATHS_FILE, apply_recorded, record_paths, yaml_comment
from .training.loop import TrainingLoop
from .training.objectives import build_objectives
from .training.streams import PairStream, TextStream

EvalData = dict[str, tuple[Examples, TokenizedExamples]]


def make_accelerator(recipe: RecipeConfig) -> Accelerator:
    """An Accelerator for this machine; under torchrun without GPUs, CPU processes with gloo."""
    import os

    import torch

    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    return Accelerator(gradient_accumulation_steps=recipe.training.gradient_accumulation_steps,
                       mixed_precision=recipe.training.mixed_precision, cpu=multi_cpu)


def _tokenize(examples: Examples, tokenizer, recipe: RecipeConfig) -> TokenizedExamples:
    return tokenize_examples(examples, tokenizer, recipe.model.max_length, recipe.model.text_prefix,
                             recipe.data.truncation)


def _tokenize_all(raw: dict[str, Examples], tokenizer, recipe: RecipeConfig) -> EvalData:
    return {lang: (ex, _tokenize(ex, tokenizer, recipe)) for lang, ex in raw.items()}


def report_truncation(recipe: RecipeConfig, tokenized: dict[str, dict[str, TokenizedExamples]], show: bool) -> dict:
    """Print how many texts of each language and split were cut (a warning above the threshold); the
    ``truncation`` block of results.json."""
    stats = {split: {lang: TruncationStats(len(data), data.truncated) for lang, data in by_language.items()}
             for split, by_language in tokenized.items()}
    if show:
        for line in truncation_messages(stats, recipe.model.max_length, recipe.data.truncation):
            print(line, file=sys.stderr)
    return truncation_report(stats, recipe.model.max_length, recipe.data.truncation)


def train_eval_overlap(train: Examples, evaluation: dict[str, dict[str, Examples]]) -> int:
    """How many training texts also appear (verbatim) in the evaluation data."""
    test_texts = {text for split in evaluation.values() for ex in split.values() for text in ex.texts}
    return sum(text in test_texts for text in train.texts)


def load_run_data(
    recipe: RecipeConfig, warn: bool = True
) -> tuple[Examples, dict[str, Examples], dict[str, dict[str, Examples]]]:
    """Read every split the run needs before any model loads, so data errors come first."""
    data = recipe.data
    train = load_examples(data, data.source_language, "train")
    selection_languages = {"source-dev": [data.source_language], "target-dev": data.target_languages,
                           "last": []}[recipe.training.select_best_on]
    selection = {lang: load_examples(data, lang, "dev") for lang in selection_languages}
    evaluation = {split: {lang: load_examples(data, lang, split) for lang in data.languages}
                  for split in recipe.evaluation.splits}
    overlap = train_eval_overlap(train, evaluation)
    if overlap and warn:
        print(f"warning: {overlap} training texts also appear in the evaluation data ({train.origin})",
              file=sys.stderr)
    return train, selection, evaluation


def load_streams_data(recipe: RecipeConfig) -> tuple[dict[str, Examples], dict[str, TranslationPairs]]:
    """Unlabeled target text (labels dropped at load time) and translation pairs the recipe asks for."""
    data, alignment = recipe.data, recipe.alignment
    unlabeled: dict[str, Examples] = {}
    if alignment.unlabeled_target is not None:
        config = alignment.unlabeled_target
        for language in config.languages or data.target_languages:
            language = normalize_language(language, field="alignment.unlabeled_target.languages")
            if config.root is not None:
                path = Path(config.root.format(language=language))
                texts = [check_text(t, f"{path}:{i}") for i, t in enumerate(read_lines(path), start=1)]
                examples = Examples(texts, None, language, "unlabeled", str(path))
            else:
                examples = load_examples(data, language, config.split, labelled=False)
            unlabeled[language] = examples.subsample(config.max_examples)
    pairs: dict[str, TranslationPairs] = {}
    if alignment.pairs is not None:
        config = alignment.pairs
        explicit = config.languages is not None
        problems = []
        for language in config.languages or data.target_languages:
            try:
                pairs[normalize_language(language)] = load_pairs(
                    config.root, language, data.source_language, config.format, config.hub_config,
                    config.split).head(config.max_pairs)
            except DataError as exc:
                if explicit:
                    raise
                problems.append(str(exc))
        if not pairs:
            raise DataError(f"alignment.pairs: no translation pairs found in {config.root} for "
                            f"{', '.join(data.target_languages)} (first problem: {problems[0] if problems else '-'})")
    return unlabeled, pairs


def protocol(recipe: RecipeConfig, train: Examples, selection: dict[str, Examples], unlabeled: dict[str, Examples],
             pairs: dict[str, TranslationPairs], holdout: dict[str, dict] | None = None) -> dict:
    """Which target-side resources the run used (with the files), how the model was selected, and the
    dev hold-out (its seed and the hash of its positions; the positions are in dev_holdout.json)."""
    files: dict = {"train": train.origin, "selection": {k: v.origin for k, v in selection.items()}}
    if unlabeled:
        files["unlabeled_target"] = {k: v.origin for k, v in unlabeled.items()}
    if pairs:
        files["pairs"] = {k: v.origin for k, v in pairs.items()}
    result = {"target_resources": target_resources(recipe),
              "model_selection": SELECTION_NAMES[recipe.training.select_best_on], "files": files}
    if holdout:
        result["dev_holdout"] = {"file": HOLDOUT_FILE, "languages": {
            lang: {k: v for k, v in record.items() if k not in ("indices", "indices_are")}
            for lang, record in holdout.items()}}
    return result


def dev_holdouts(recipe: RecipeConfig, selection: dict[str, Examples],
                 evaluation: dict[str, dict[str, Examples]]) -> dict[str, dict]:
    """Per language, the record of its dev hold-out (``data.dev_fraction``/``dev_size``), if the run used one."""
    data = recipe.data
    if not holds_out_dev(data):
        return {}
    names = list(label_scheme(data).names)
    dev_sets = dict(selection)
    for split, by_language in evaluation.items():
        if split_role(data, split) == "dev":
            dev_sets.update(by_language)
    return {lang: holdout_record(ex, data.train_split, data.dev_fraction, data.dev_size, data.dev_seed, names)
            for lang, ex in dev_sets.items()}


def split_results(report: EvaluationReport, raw: dict[str, Examples], names: list[str]) -> dict:
    """One split's block of results.json: metrics, the files scored and their content fingerprints."""
    block = report_json(report)
    block["test_files"] = {lang: ex.origin for lang, ex in raw.items()}
    block["test_fingerprints"] = {lang: content_fingerprint(ex.texts, [names[i] for i in ex.labels or []])
                                  for lang, ex in raw.items() if ex.labels is not None}
    return block


def build_streams(recipe: RecipeConfig, tokenizer, unlabeled: dict[str, Examples],
                  pairs: dict[str, TranslationPairs]) -> dict:
    """Tokenise the auxiliary data once and wrap it in endless seeded batch streams."""
    training = recipe.training
    streams: dict = {}
    if unlabeled:
        size = recipe.alignment.unlabeled_target.batch_size or training.batch_size
        parts = [_tokenize(ex, tokenizer, recipe) for ex in unlabeled.values()]
        streams["target"] = TextStream(parts, size, seed=training.seed + 1)
    if pairs:
        size = recipe.alignment.pairs.batch_size or training.batch_size
        english = [_tokenize(Examples(p.source, None, "english", "pairs", p.origin), tokenizer, recipe)
                   for p in pairs.values()]
        other = [_tokenize(Examples(p.target, None, p.language, "pairs", p.origin), tokenizer, recipe)
                 for p in pairs.values()]
        streams["pairs"] = PairStream(english, other, size, seed=training.seed + 2)
    return streams


def self_train(recipe, model, tokenizer, accelerator, train_data: TokenizedExamples, selection, scheme,
               unlabeled: dict[str, Examples], objectives, streams, log_path: Path, progress: bool) -> list[dict]:
    """Rounds of pseudo-labelling target text with the current model and training on source + pseudo-labels."""
    from .data.batching import TokenizedExamples as Tokenized
    from .evaluation.inference import predict_probabilities
    from .training.pseudo_labels import select_pseudo_labels

    config = recipe.self_training
    targets = {lang: _tokenize(ex, tokenizer, recipe) for lang, ex in unlabeled.items()}
    if not config.keep_alignment_losses:
        objectives, streams = [], None
    records = []
    for round_number in range(1, config.rounds + 1):
        input_ids, labels = list(train_data.input_ids), list(train_data.labels)
        counts = {}
        for language, data in targets.items():
            probabilities = predict_probabilities(model, data, recipe.evaluation.batch_size, accelerator.device,
                                                  accelerator)
            indices, pseudo = select_pseudo_labels(probabilities, config.threshold, config.max_per_class,
                                                   config.class_balanced)
            input_ids += [data.input_ids[i] for i in indices]
            labels += pseudo
            top = probabilities.float().max(dim=1).values if len(data) else None  # [0, 0] has no max
            counts[language] = {"selected": len(indices), "candidates": len(data),
                                "per_class": {name: pseudo.count(c) for c, name in enumerate(scheme.names)},
                                "confidence_median": None if top is None else round(top.median().item(), 4),
                                "confidence_max": None if top is None else round(top.max().item(), 4)}
        records.append({"round": round_number, "languages": counts,
                        "alignment_losses": [objective.name for objective in objectives]})
        empty = [lang for lang, c in counts.items() if c["selected"] == 0]
        if empty and accelerator.is_main_process:
            highest = max((counts[lang]["confidence_max"] or 0.0) for lang in empty)
            print(f"warning: self-training round {round_number} selected no pseudo-labels for "
                  f"{', '.join(empty)} (self_training.threshold {config.threshold}; the highest confidence there "
                  f"was {highest:.3f}): this round trains on the source data only. Lower the threshold.",
                  file=sys.stderr)
        combined = Tokenized(input_ids, labels, "source+pseudo", train_data.pad_token_id)
        loop = TrainingLoop(model, recipe, combined, selection, scheme.names, accelerator, log_path=log_path,
                            objectives=objectives, streams=streams, progress=progress, epochs=config.epochs,
                            log_fields={"round": round_number})
        loop.run()
        model = loop.unwrapped
    return records


def report_json(report: EvaluationReport) -> dict:
    return {"languages": report.metrics(), "summary": report.summary(),
            "seconds": report.seconds, "samples_per_second": report.examples / max(report.seconds, 1e-9)}


def train(
    recipe: RecipeConfig | str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    command: list[str] | None = None,
) -> Path:
    """Train ``recipe`` and evaluate it zero-shot; returns the run folder."""
    recipe_path = None
    if not isinstance(recipe, RecipeConfig):
        recipe_path = Path(recipe)
        recipe = load_recipe(recipe_path, overrides)
    elif overrides:
        raise ConfigError("overrides apply to a recipe file; edit the RecipeConfig object instead")
    out = recipe.resolved_output_dir()
    accelerator = make_accelerator(recipe)
    if accelerator.is_main_process:
        rf.prepare_run_folder(out, overwrite=overwrite, resume=resume)
    accelerator.wait_for_everyone()
    check_protocol(recipe)
    train_examples, selection_examples, eval_examples = load_run_data(recipe, warn=accelerator.is_main_process)
    unlabeled, pairs = load_streams_data(recipe)
    scheme = label_scheme(recipe.data)
    paths = record_paths(recipe.to_dict())
    holdout = dev_holdouts(recipe, selection_examples, eval_examples)
    if accelerator.is_main_process:
        atomic_write_text(out / rf.CONFIG, recipe.to_yaml() + yaml_comment(paths))
        atomic_write_json(out / PATHS_FILE, paths)
        if holdout:
            atomic_write_json(out / HOLDOUT_FILE, holdout)
        if recipe_path is not None:
            atomic_write_text(out / rf.RECIPE, recipe_path.read_text(encoding="utf-8"))
        atomic_write_text(out / rf.COMMAND, shlex.join(command or sys.argv) + "\n")
        if not resume:
            (out / rf.TRAIN_LOG).unlink(missing_ok=True)

    set_seed(recipe.training.seed)
    started = time.perf_counter()
    model, tokenizer = build_model(recipe, scheme)
    train_data = _tokenize(train_examples, tokenizer, recipe)
    selection_data = _tokenize_all(selection_examples, tokenizer, recipe)
    eval_data = {split: _tokenize_all(raw, tokenizer, recipe) for split, raw in eval_examples.items()}
    cut = {"train": {recipe.data.source_language: train_data},
           "dev": {lang: data for lang, (_, data) in selection_data.items()}}
    for split, by_language in eval_data.items():
        cut.setdefault(split, {}).update({lang: data for lang, (_, data) in by_language.items()})
    truncation = report_truncation(recipe, {k: v for k, v in cut.items() if v}, accelerator.is_main_process)
    streams = build_streams(recipe, tokenizer, unlabeled, pairs)
    objectives = build_objectives(recipe.alignment.losses, model.config.hidden_size, len(recipe.data.target_languages))
    loop = TrainingLoop(model, recipe, train_data, selection_data, scheme.names, accelerator,
                        log_path=out / rf.TRAIN_LOG, objectives=objectives, streams=streams, progress=progress,
                        state_dir=out / rf.STATE)
    if resume and loop.restore() and accelerator.is_main_process:
        print(f"resumed from step {loop.state.global_step} of {loop.state.total_steps}", file=sys.stderr)
    loop.run()
    model = loop.unwrapped
    training_summary = loop.summary()
    if recipe.self_training is not None:
        training_summary["self_training"] = self_train(
            recipe, model, tokenizer, accelerator, train_data, selection_data, scheme, unlabeled, objectives,
            streams, out / rf.TRAIN_LOG, progress)
    training_summary["parameters"] = count_parameters(model)
    if accelerator.is_main_process:
        save_checkpoint(model, tokenizer, out / rf.CHECKPOINT)

    results = {
        "status": "running",
        "recipe": recipe.name,
        "method": recipe.method,
        "model": recipe.model.name,
        "seed": recipe.training.seed,
        "source_language": recipe.data.source_language,
        "target_languages": recipe.data.target_languages,
        "label_scheme": scheme.to_dict(),
        "protocol": protocol(recipe, train_examples, selection_examples, unlabeled, pairs, holdout),
        "trust_remote_code": recipe.model.trust_remote_code,
        "training": training_summary,
        "train_eval_overlap": {"count": train_eval_overlap(train_examples, eval_examples),
                               "train_examples": len(train_examples)},
        "truncation": truncation,
        "paths": paths,
        "splits": {},
    }
    for split, raw in eval_examples.items():
        data = eval_data[split]
        report = evaluate_languages(model, data, list(scheme.names), split, recipe.data.source_language,
                                    recipe.evaluation.batch_size, accelerator.device, accelerator, progress)
        results["splits"][split] = split_results(report, raw, list(scheme.names))
        if accelerator.is_main_process and recipe.evaluation.save_predictions:
            write_predictions(out / rf.PREDICTIONS, report, data, list(scheme.names))
    results["wall_seconds"] = time.perf_counter() - started
    results["processes"] = accelerator.num_processes
    results["versions"] = rf.library_versions()
    results["status"] = "complete"
    if accelerator.is_main_process:
        from .reports.model_card import write_model_card

        _plot_training_curves(out, f"{recipe.name}, seed {recipe.training.seed}")
        write_model_card(out, results, recipe)
        atomic_write_json(out / rf.RESULTS, results)
        shutil.rmtree(out / rf.STATE, ignore_errors=True)  # the run is complete: the resumable state is spent
    accelerator.wait_for_everyone()
    return out


def _plot_training_curves(out: Path, title: str) -> None:
    """logs/training_curves.png beside the log; a figure that cannot be drawn must not fail a finished run."""
    if not (out / rf.TRAIN_LOG).is_file():
        return
    from .reports.compare import ComparisonError
    from .reports.plots import plot_training_curves

    try:
        plot_training_curves(out, out / rf.TRAINING_CURVES, title)
    except (ComparisonError, OSError, ValueError) as exc:
        print(f"warning: no {rf.TRAINING_CURVES}: {exc}", file=sys.stderr)


def evaluate_run(
    run: str | Path,
    languages: list[str] | None = None,
    splits: list[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    progress: bool = True,
    base_model: str | None = None,
    out: str | Path | None = None,
    name: str | None = None,
    command: list[str] | None = None,
) -> dict:
    """Re-evaluate a saved run's checkpoint on its data, or on other data (``--set data.…``).

    On the run's own examples the result says whether it reproduces results.json (``matches_saved``);
    on other examples it is a result of its own (``evaluation.other_data``). ``out`` (or ``name``, for
    ``RUN/evaluations/NAME``) writes it as a results.json in the run schema, which ``compare`` reads.
    Paths in the run's config resolve against the directory the run started in; paths in ``overrides``
    against the current one. ``base_model`` says where a LoRA checkpoint's encoder is if it moved."""
    run = Path(run)
    config_path = run / rf.CONFIG
    if not config_path.is_file():
        raise DataError(f"{run}: no {rf.CONFIG}; pass a run folder written by 'xlingual train'")
    if out is None and name:
        out = run / "evaluations" / name
    if out is not None:
        out = Path(out)
        other_data.check_output_folder(out, run)
    data = load_recipe_dict(config_path)
    apply_recorded(data, read_json(run / PATHS_FILE) if (run / PATHS_FILE).is_file() else None)
    for assignment in overrides:
        apply_override(data, assignment)
    paths = record_paths(data)
    recipe = RecipeConfig.from_dict(data)
    if languages:
        from .data.language_names import to_canonical

        wanted = [to_canonical(lang, recipe.data.language_names, field="--languages") for lang in languages]
    else:
        wanted = recipe.data.languages
    # Check the classes first (config.json only), so a changed label scheme is named as such rather than
    # reported as an unknown label somewhere in the data.
    _, checkpoint_config = load_checkpoint_config(run)
    limit = position_limit(checkpoint_config.encoder)
    if limit is not None and recipe.model.max_length > limit:
        raise ConfigError(f"model.max_length: {recipe.model.max_length} is over the checkpoint's encoder limit of "
                          f"{limit} tokens")
    classes = [checkpoint_config.id2label[i] for i in range(checkpoint_config.num_labels)]
    scheme = label_scheme(recipe.data)
    if list(scheme.names) != classes:
        raise DataError(f"{run}: the checkpoint's classes {classes} differ from the data's label scheme "
                        f"{list(scheme.names)}")
    raw_by_split = {split: {lang: load_examples(recipe.data, lang, split) for lang in wanted}
                    for split in (splits or recipe.evaluation.splits)}
    started = time.perf_counter()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, tokenizer = load_checkpoint(run, base_model=base_model, device=device)
    tokenized = {split: _tokenize_all(raw, tokenizer, recipe) for split, raw in raw_by_split.items()}
    truncation = report_truncation(
        recipe, {split: {lang: t for lang, (_, t) in by.items()} for split, by in tokenized.items()}, True)
    saved = read_json(run / rf.RESULTS) if (run / rf.RESULTS).is_file() else None
    names = list(scheme.names)
    result: dict = {
        "status": "complete", "kind": other_data.KIND, "run": str(run),
        "recipe": recipe.name, "method": recipe.method, "model": recipe.model.name, "seed": recipe.training.seed,
        "source_language": recipe.data.source_language,
        "target_languages": [lang for lang in wanted if lang != recipe.data.source_language],
        "label_scheme": scheme.to_dict(), "protocol": (saved or {}).get("protocol"),
        "truncation": truncation, "paths": paths, "splits": {},
    }
    reports = {}
    for split, raw in raw_by_split.items():
        reports[split] = evaluate_languages(model, tokenized[split], names, split, recipe.data.source_language,
                                            recipe.evaluation.batch_size, device, None, progress)
        result["splits"][split] = split_results(reports[split], raw, names)
    same, other = other_data.same_data(saved, result["splits"])
    result["evaluation"] = other_data.evaluation_record(run, saved, list(overrides), same, other,
                                                        name or (out.name if out is not None else None))
    if saved and same:
        result["matches_saved"] = other_data.reproduction(saved, result["splits"], same)
    result["wall_seconds"] = time.perf_counter() - started
    result["versions"] = rf.library_versions()
    if out is not None:
        if recipe.evaluation.save_predictions:
            for split, report in reports.items():
                write_predictions(out / rf.PREDICTIONS, report, tokenized[split], names)
        atomic_write_text(out / rf.CONFIG, recipe.to_yaml() + yaml_comment(paths))
        atomic_write_json(out / PATHS_FILE, paths)
        atomic_write_text(out / rf.COMMAND, shlex.join(command or sys.argv) + "\n")
        result["written_to"] = str(out / rf.RESULTS)
        atomic_write_json(out / rf.RESULTS, result)
    return result
