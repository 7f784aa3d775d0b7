"""Loss and gradient scales of the representation-preserving objectives, to size their default weights.

The principle (as for MMD and CORAL): at the drift plain fine-tuning reaches after its first epoch, the
objective's weighted gradient should be about as large as the task gradient, so it bounds further
drift without swamping the task. Reads a plain run's epoch-1 snapshot (``averaging.keep_snapshots``)
and the pretrained encoder; prints ‖θ − θ⁰‖, the task and objective gradient norms, and the weights
that balance them. No target labels are read (target text only, for distill_target).

    python benchmarks/objective_scales.py RUN/snapshots/step-000115.safetensors --base ENCODER \\
        --data ../shared/data/umsab
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors.torch import load_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("snapshot", help="RUN/snapshots/<step>.safetensors of a plain fine-tuning run")
    parser.add_argument("--base", required=True, help="the pretrained encoder folder or hub id")
    parser.add_argument("--data", default="../shared/data/umsab", help="UMSAB root")
    parser.add_argument("--batches", type=int, default=8, help="batches of 16 to average over")
    args = parser.parse_args()

    from xlingual.config import RecipeConfig, load_recipe_dict
    from xlingual.data.batching import collate, tokenize_examples
    from xlingual.data.loading import label_scheme, load_examples
    from xlingual.modeling.build import build_model
    from xlingual.objectives import SetupContext, StepContext, get_objective

    snapshot = Path(args.snapshot)
    run = snapshot.parent.parent
    recipe = RecipeConfig.from_dict(load_recipe_dict(run / "config.yaml", [f"data.root={args.data}",
                                                                           f"model.name={args.base}"]))
    model, tokenizer = build_model(recipe, label_scheme(recipe.data))  # θ⁰: the encoder as training started
    context = SetupContext(model, model.config.hidden_size, recipe.data.target_languages)
    objectives = {name: get_objective(name)() for name in ("l2sp", "distill_source", "distill_target")}
    for objective in objectives.values():
        objective.setup(context)
    model.load_state_dict(load_file(str(snapshot)), strict=False)  # θ: after the first epoch
    model.train()

    def tokenized(language: str, split: str, labelled: bool):
        examples = load_examples(recipe.data, language, split, labelled=labelled).subsample(16 * args.batches)
        return tokenize_examples(examples, tokenizer, recipe.model.max_length, recipe.model.text_prefix)

    english = tokenized("english", "train", True)
    target = tokenized("spanish", "train", False)
    norms: dict[str, list[float]] = {"task": [], "l2sp": [], "distill_source": [], "distill_target": []}
    values: dict[str, list[float]] = {key: [] for key in norms}
    parameters = [p for p in model.parameters() if p.requires_grad]
    for b in range(args.batches):
        rows = range(16 * b, 16 * (b + 1))
        source = collate([english.input_ids[i] for i in rows], english.pad_token_id, [english.labels[i] for i in rows])
        other = collate([target.input_ids[i] for i in rows], target.pad_token_id)
        for key in norms:
            model.zero_grad(set_to_none=True)
            out = model(input_ids=source["input_ids"], attention_mask=source["attention_mask"])
            embeddings = {"source": out.embeddings}
            if key == "distill_target":
                embeddings["target"] = model.embed(other["input_ids"], other["attention_mask"])
            if key == "task":
                loss = torch.nn.functional.cross_entropy(out.logits, source["labels"])
            else:
                loss = objectives[key].compute(StepContext(embeddings, {"source": source, "target": other}, 0.3,
                                                           model))
            loss.backward()
            grads = [p.grad.norm() for p in parameters if p.grad is not None]
            norms[key].append(float(torch.norm(torch.stack(grads))))
            values[key].append(float(loss))
    mean = {key: sum(v) / len(v) for key, v in norms.items()}
    result = {"snapshot": str(snapshot), "loss": {k: sum(v) / len(v) for k, v in values.items()},
              "gradient_norm": mean,
              "balancing_weight": {k: mean["task"] / mean[k] for k in norms if k != "task" and mean[k] > 0}}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
