"""Every shipped recipe runs end to end (tiny model of the recipe's architecture, toy data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, png_size, tiny_recipe_overrides

import xlingual
from xlingual.reports.plots import read_train_log

RECIPES = sorted(p.name for p in (REPO / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_runs_on_tiny_model(name, tiny_bert, tiny_xlmr, toy_umsab, toy_pairs, tmp_path):
    recipe = xlingual.load_recipe(REPO / "recipes" / name)
    sampling = any(getattr(loss.params, "augment", None) == "subword-sampling" for loss in recipe.alignment.losses)
    model = tiny_xlmr if "xlmr" in name or sampling else tiny_bert  # subword sampling needs a Unigram tokenizer
    extra = {"training.epochs": 1, "data.max_train_examples": 48, "data.max_eval_examples": 12}
    if recipe.alignment.pairs is not None:
        extra["alignment.pairs.root"] = str(toy_pairs)
    if recipe.data.code_switch is not None:
        (tmp_path / "en-es.txt").write_text("good\tbueno\nbad\tmalo\nthe\tel\n", encoding="utf-8")
        extra["data.code_switch.dictionaries"] = str(tmp_path / "en-{code}.txt")
    overrides = tiny_recipe_overrides(model, toy_umsab, tmp_path / "run", **extra)
    run = xlingual.train(REPO / "recipes" / name, overrides, progress=False)
    results = json.loads((run / "results.json").read_text())
    assert results["status"] == "complete"
    assert set(results["splits"]["test"]["languages"]) == {"english", "spanish", "german"}
    expected = ({"zero-shot"} if not recipe.alignment.losses and recipe.self_training is None
                and recipe.data.code_switch is None else set())
    if expected:
        assert results["protocol"]["target_resources"] == ["zero-shot"]
    log = [json.loads(line) for line in Path(run / "logs" / "train_log.jsonl").read_text().splitlines()]
    for loss in recipe.alignment.losses:
        assert any(loss.name in record for record in log), f"{loss.name} is not logged"
    if recipe.data.code_switch is not None:
        assert results["protocol"]["target_resources"] == ["bilingual-dictionary"]
        assert results["protocol"]["code_switch"]["languages"] == ["spanish"]  # the only word list given
    if recipe.self_training is not None:
        rounds = results["training"]["self_training"]
        assert rounds and set(rounds[0]["languages"]) == {"spanish", "german"}
        assert results["protocol"]["target_resources"] == ["unlabeled-target", "self-training"] or \
            "self-training" in results["protocol"]["target_resources"]


def test_self_training_that_selects_nothing_says_so(tiny_bert, toy_umsab, tmp_path, capsys):
    """A threshold above every confidence must not pass silently as 'self-training'."""
    extra = {"training.epochs": 1, "data.max_train_examples": 48, "data.max_eval_examples": 12,
             "self_training.threshold": 0.9999}
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "run", **extra)
    run = xlingual.train(REPO / "recipes" / "umsab_e5small_selftrain.yaml", overrides, progress=False)
    assert "selected no pseudo-labels for spanish, german" in capsys.readouterr().err
    languages = json.loads((run / "results.json").read_text())["training"]["self_training"][0]["languages"]
    assert all(c["selected"] == 0 and c["confidence_max"] < 0.9999 for c in languages.values())


@pytest.mark.parametrize("alignment", [True, False])
def test_self_training_rounds_keep_or_drop_the_alignment_losses(alignment, tiny_bert, toy_umsab, tmp_path):
    """``self_training.keep_alignment_losses: false`` trains the rounds on the task loss alone (no MMD term logged)."""
    extra = {"training.epochs": 1, "data.max_train_examples": 48, "data.max_eval_examples": 12,
             "training.logging_steps": 1, "self_training.threshold": 0.34,
             "self_training.keep_alignment_losses": str(alignment).lower()}
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "run", **extra)
    run = xlingual.train(REPO / "recipes" / "umsab_e5small_best.yaml", overrides, progress=False)
    log = [json.loads(line) for line in Path(run / "logs" / "train_log.jsonl").read_text().splitlines()]
    english_end = next(i for i, record in enumerate(log) if "selection_macro_f1" in record)
    english, rounds = log[:english_end], [r for r in log[english_end + 1:] if "task" in r]
    assert english and rounds
    assert all("round" not in r for r in english) and all(r["round"] == 1 for r in log[english_end + 1:])
    # the round counts its steps from 1 again: the curves must keep both phases, the round after the English one
    steps, selection = read_train_log(run)
    assert len(steps) == len(english) + len(rounds) and len(selection) == 2
    assert [r.get("round", 0) for r in steps] == sorted(r.get("round", 0) for r in steps)
    assert png_size(run / "logs" / "training_curves.png")[0] >= 400
    assert all("mmd" in record for record in english)
    assert all(("mmd" in record) == alignment for record in rounds)
    summary = json.loads((run / "results.json").read_text())["training"]["self_training"][0]
    assert summary["alignment_losses"] == (["mmd"] if alignment else [])
