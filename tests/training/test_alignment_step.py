"""The combined training step: task loss + weighted alignment terms on each stream combination."""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator

from xlingual.config import load_recipe
from xlingual.data.batching import tokenize_examples
from xlingual.data.loading import label_scheme, load_examples
from xlingual.errors import ConfigError
from xlingual.modeling.build import build_model
from xlingual.objectives import SetupContext, build_objectives, schedule_weight
from xlingual.protocol import ProtocolError, check_protocol, target_resources
from xlingual.runner import build_streams, load_streams_data
from xlingual.training.loop import TrainingLoop

STREAMS = {
    "coral": ["alignment.unlabeled_target={split: train}", "alignment.losses=[{name: coral, weight: 1.0}]"],
    "mmd": ["alignment.unlabeled_target={split: train}", "alignment.losses=[{name: mmd, weight: 1.0}]"],
    "dann": ["alignment.unlabeled_target={split: train}",
             "alignment.losses=[{name: dann, weight: 1.0, domains: languages}]"],
    "contrastive": ["alignment.losses=[{name: contrastive, weight: 1.0}]"],
    "coral+contrastive": ["alignment.unlabeled_target={split: train}",
                          "alignment.losses=[{name: coral, weight: 1.0}, {name: contrastive, weight: 1.0}]"],
}


def make_loop(tiny_bert, toy_umsab, toy_pairs, overrides, tmp_path):
    recipe = load_recipe(None, [f"model.name={tiny_bert}", f"data.root={toy_umsab}", "model.max_length=32",
                                "data.target_languages=spanish,german", "training.batch_size=16",
                                "training.learning_rate=5e-3", "training.warmup_ratio=0", "training.epochs=4",
                                "training.select_best_on=last", "training.logging_steps=1",
                                f"alignment.pairs={{root: {toy_pairs}}}", *overrides])
    scheme = label_scheme(recipe.data)
    torch.manual_seed(0)
    model, tokenizer = build_model(recipe, scheme)
    train = tokenize_examples(load_examples(recipe.data, "english", "train"), tokenizer, 32)
    unlabeled, pairs = load_streams_data(recipe)
    streams = build_streams(recipe, tokenizer, unlabeled, pairs)
    objectives = build_objectives(recipe.alignment.losses,
                                  SetupContext(model, model.config.hidden_size, recipe.data.target_languages))
    return TrainingLoop(model, recipe, train, None, scheme.names, Accelerator(cpu=True), tmp_path / "log.jsonl",
                        objectives, streams, progress=False)


def run_and_log(tiny_bert, toy_umsab, toy_pairs, overrides, folder):
    import json

    folder.mkdir()
    loop = make_loop(tiny_bert, toy_umsab, toy_pairs, overrides, folder)
    loop.run()
    return loop, [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("combination", list(STREAMS))
def test_combined_step_lowers_alignment_terms(combination, tiny_bert, toy_umsab, toy_pairs, tmp_path):
    """Same seed and data, the terms weighted vs only measured (weight 0): optimising a term lowers it."""
    names = combination.split("+")
    loop, aligned = run_and_log(tiny_bert, toy_umsab, toy_pairs, STREAMS[combination], tmp_path / "aligned")
    unweighted = [o.replace("weight: 1.0", "weight: 0.0") for o in STREAMS[combination]]
    _, measured = run_and_log(tiny_bert, toy_umsab, toy_pairs, unweighted, tmp_path / "measured")
    assert aligned[-1]["task"] < aligned[0]["task"]
    for name in names:
        values = [record[name] for record in aligned]
        assert all(torch.isfinite(torch.tensor(values))) and aligned[0][f"{name}_weight"] == 1.0
        assert measured[0][f"{name}_weight"] == 0.0
        if name == "dann":  # adversarial: the encoder maximises the discriminator's loss, so it must not fall
            assert all(0.0 <= record["dann_accuracy"] <= 1.0 for record in aligned)  # logged like tllib
            assert sum(values[-6:]) / 6 >= sum(r[name] for r in measured[-6:]) / 6 - 0.05
            continue
        with_loss, without = sum(values[-6:]) / 6, sum(r[name] for r in measured[-6:]) / 6
        assert with_loss < without, f"{name}: optimised {with_loss:.4g} vs measured only {without:.4g}"
    if "dann" in combination:
        discriminator = next(loop.objectives[0].loss.discriminator.parameters())
        assert any(any(p is discriminator for p in group["params"]) for group in loop.optimizer.param_groups)


def test_weight_schedules():
    recipe = load_recipe(None, ["alignment.unlabeled_target={}",
                                "alignment.losses=[{name: coral, weight: 2.0, schedule: linear, warmup_ratio: 0.5},"
                                " {name: mmd, weight: 1.0, schedule: dann}]"])
    linear, dann = recipe.alignment.losses
    assert schedule_weight(linear, 0.25) == pytest.approx(1.0) and schedule_weight(linear, 0.9) == 2.0
    assert schedule_weight(dann, 0.0) == 0.0 and schedule_weight(dann, 1.0) == pytest.approx(0.9999, abs=1e-4)


def test_protocol_records_resources_and_refuses_leaks(tmp_path):
    zero = load_recipe(None, [])
    assert target_resources(zero) == ["zero-shot"]
    both = load_recipe(None, ["alignment.unlabeled_target={}", "alignment.pairs={}",
                              "alignment.losses=[{name: mmd}, {name: contrastive}]"])
    assert target_resources(both) == ["unlabeled-target", "parallel"]
    with pytest.raises(ConfigError, match="test split"):
        load_recipe(None, ["alignment.unlabeled_target={split: test}", "alignment.losses=[{name: coral}]"])
    one_file = load_recipe(None, ["data.format=csv", f"data.root={tmp_path}/all.csv"])
    with pytest.raises(ProtocolError, match="language_column"):
        check_protocol(one_file)
    with pytest.raises(ConfigError, match=r"needs alignment.pairs"):
        load_recipe(None, ["alignment.losses=[{name: contrastive}]"])


def test_unlabeled_stream_never_carries_labels(tiny_bert, toy_umsab):
    recipe = load_recipe(None, [f"model.name={tiny_bert}", f"data.root={toy_umsab}",
                                "data.target_languages=spanish", "alignment.unlabeled_target={}",
                                "alignment.losses=[{name: coral}]"])
    unlabeled, _ = load_streams_data(recipe)
    assert all(examples.labels is None for examples in unlabeled.values())
