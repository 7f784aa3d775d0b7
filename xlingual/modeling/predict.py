"""The one batched inference loop: probabilities for every example, exactly once across processes; pooled
features. Evaluation, selection, pseudo-labelling and :class:`xlingual.inference.Classifier` all go through it.

Batches are sorted by length (little padding) and run under ``torch.inference_mode``.
With several processes each takes an interleaved shard of the examples and the
shards are gathered back in the original order, so every example is scored once.
"""

from __future__ import annotations

import torch
from accelerate.utils import gather_object
from tqdm.auto import tqdm

from ..data.batching import TokenizedExamples, collate, inference_batches


def predict_probabilities(
    model,
    data: TokenizedExamples,
    batch_size: int = 128,
    device: torch.device | str = "cpu",
    accelerator=None,
    progress: bool = False,
    description: str = "",
) -> torch.Tensor:
    """Class probabilities, shape ``(len(data), num_labels)``, in the order of ``data``."""
    rank, world = (accelerator.process_index, accelerator.num_processes) if accelerator else (0, 1)
    mine = list(range(rank, len(data), world))
    lengths = [len(data.input_ids[i]) for i in mine]
    was_training = model.training
    model.eval()
    rows: list[torch.Tensor] = []
    order: list[int] = []
    batches = list(inference_batches(lengths, batch_size))
    with torch.inference_mode():
        for batch in tqdm(batches, desc=description or "predict", disable=not progress, leave=False, unit="batch"):
            indices = [mine[i] for i in batch]
            inputs = collate([data.input_ids[i] for i in indices], data.pad_token_id)
            inputs = {k: v.to(device) for k, v in inputs.items()}
            logits = model(**inputs).logits
            rows.append(torch.softmax(logits.float(), dim=-1).cpu())
            order.extend(indices)
    model.train(was_training)
    probabilities = torch.cat(rows) if rows else torch.empty(0, 0)
    if world > 1:
        gathered = gather_object([(order, probabilities)])
        order = [i for part_order, _ in gathered for i in part_order]
        probabilities = torch.cat([part for _, part in gathered])
    result = torch.empty_like(probabilities)
    result[torch.tensor(order, dtype=torch.long)] = probabilities
    if len(order) != len(data) or len(set(order)) != len(data):
        raise RuntimeError(f"inference scored {len(order)} rows for {len(data)} examples")  # a bug, not user input
    return result


def pooled_features(model, data: TokenizedExamples, batch_size: int = 128, device: torch.device | str = "cpu",
                    progress: bool = False, description: str = "features") -> torch.Tensor:
    """Pooled embeddings ``(len(data), hidden)`` in data order, in eval mode (no dropout), fp32 on the CPU."""
    was_training = model.training
    model.eval()
    rows, order = [], []
    with torch.inference_mode():
        for batch in tqdm(list(inference_batches(data.lengths, batch_size)), desc=description, disable=not progress,
                          leave=False, unit="batch"):
            inputs = collate([data.input_ids[i] for i in batch], data.pad_token_id)
            inputs = {k: v.to(device) for k, v in inputs.items()}
            rows.append(model.embed(inputs["input_ids"], inputs["attention_mask"]).float().cpu())
            order.extend(batch)
    model.train(was_training)
    features = torch.cat(rows) if rows else torch.empty(0, 0)
    result = torch.empty_like(features)
    result[torch.tensor(order, dtype=torch.long)] = features
    return result
