"""``self_training:``: rounds of pseudo-labelling target text with the run's own model, then training on
source + pseudo-labels (the one-round special case of ``xlingual rounds``' teacher → student path).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ..data.batching import TokenizedExamples
from ..data.examples import Examples
from ..evaluation.splits import tokenize
from ..modeling.predict import predict_probabilities
from ..training.loop import TrainingLoop
from ..training.pseudo_labels import select_pseudo_labels

logger = logging.getLogger(__name__)


def self_train(recipe, model, tokenizer, accelerator, train_data: TokenizedExamples, selection, scheme,
               unlabeled: dict[str, Examples], objectives, streams, log_path: Path, progress: bool,
               callbacks: Sequence[object] = ()) -> list[dict]:
    """Rounds of pseudo-labelling target text with the current model and training on source + pseudo-labels."""
    config = recipe.self_training
    targets = {lang: tokenize(ex, tokenizer, recipe) for lang, ex in unlabeled.items()}
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
            logger.warning(f"self-training round {round_number} selected no pseudo-labels for {', '.join(empty)} "
                           f"(self_training.threshold {config.threshold}; the highest confidence there was "
                           f"{highest:.3f}): this round trains on the source data only. Lower the threshold.")
        added = input_ids[len(train_data):]  # this round's own pseudo-labels: hard, weight 1, no other views
        combined = TokenizedExamples(input_ids, labels, "source+pseudo", train_data.pad_token_id,
                             targets=None if train_data.targets is None else [*train_data.targets,
                                                                              *[None] * len(added)],
                             weights=None if train_data.weights is None else [*train_data.weights,
                                                                              *[1.0] * len(added)],
                             epoch_input_ids=None if train_data.epoch_input_ids is None else [
                                 [*view, *added] for view in train_data.epoch_input_ids],
                             epoch_rows=None if train_data.epoch_rows is None else [
                                 [*rows, *range(len(train_data), len(input_ids))] for rows in train_data.epoch_rows])
        loop = TrainingLoop(model, recipe, combined, selection, scheme.names, accelerator, log_path=log_path,
                            objectives=objectives, streams=streams, progress=progress, epochs=config.epochs,
                            log_fields={"round": round_number}, callbacks=callbacks)
        loop.run()
        model = loop.unwrapped
    return records
