"""The Python path is as safe as the command line: validation, repeated runs, what the run folder records."""

from __future__ import annotations

import pytest
from conftest import tiny_recipe_overrides

import xlingual
from xlingual.config import DataConfig, RecipeConfig, load_recipe
from xlingual.errors import ConfigError
from xlingual.io import read_json


def tiny_recipe(tiny_bert, toy_umsab, out, **extra) -> RecipeConfig:
    return load_recipe(None, tiny_recipe_overrides(tiny_bert, toy_umsab, out, **{"training.epochs": 1, **extra}))


def test_validation_returns_a_normalised_copy():
    recipe = RecipeConfig(data=DataConfig(target_languages=["es", "de"]))
    checked = recipe.validate()
    assert checked.data.target_languages == ["spanish", "german"]
    assert recipe.data.target_languages == ["es", "de"]  # the caller's object is not changed


def test_train_validates_a_recipe_object(tiny_bert, toy_umsab, tmp_path):
    recipe = tiny_recipe(tiny_bert, toy_umsab, tmp_path / "run")
    recipe.training.learning_rate = -1.0  # reached torch as a raw ValueError
    with pytest.raises(ConfigError, match=r"training\.learning_rate: must be positive"):
        xlingual.train(recipe, progress=False)
    recipe.training.learning_rate = "fast"
    with pytest.raises(ConfigError, match=r"training\.learning_rate: expected a number"):
        xlingual.train(recipe, progress=False)
    assert not (tmp_path / "run").exists()


def test_train_normalises_languages_of_a_recipe_object(tiny_bert, toy_umsab, tmp_path):
    """results.json keyed 'es'/'de', which compare then took for other languages than spanish/german."""
    recipe = tiny_recipe(tiny_bert, toy_umsab, tmp_path / "run")
    recipe.data.target_languages = ["es", "de"]
    run = xlingual.train(recipe, progress=False)
    results = read_json(run / "results.json")
    assert results["target_languages"] == ["spanish", "german"]
    assert list(results["splits"]["test"]["languages"]) == ["english", "spanish", "german"]
    assert recipe.data.target_languages == ["es", "de"]


def test_second_train_in_one_process_may_change_mixed_precision(tiny_bert, toy_umsab, tmp_path):
    """accelerate's process-wide state used to refuse a later run with another mixed_precision ('already been
    initialized'): here an earlier bf16 Accelerator in the same kernel (bf16 training itself needs a GPU)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)  # the scenario: this kernel's first Accelerator is bf16
    Accelerator(mixed_precision="bf16", cpu=True)
    run = xlingual.train(tiny_recipe(tiny_bert, toy_umsab, tmp_path / "a"), progress=False)
    assert read_json(run / "results.json")["status"] == "complete"


def test_api_records_the_call_not_the_interpreter_command_line(tiny_bert, toy_umsab, tmp_path):
    from xlingual.runner import train

    run = xlingual.train(tiny_recipe(tiny_bert, toy_umsab, tmp_path / "api"), progress=False)
    assert not (run / "command.txt").exists()  # used to hold the notebook kernel's argv
    assert (run / "call.txt").read_text() == "xlingual.train(RecipeConfig(name='recipe', ...))\n"
    cli = train(tiny_recipe(tiny_bert, toy_umsab, tmp_path / "cli"), progress=False,
                command=["xlingual", "train", "x.yaml"])
    assert (cli / "command.txt").read_text() == "xlingual train x.yaml\n" and not (cli / "call.txt").exists()


def test_predict_takes_one_string(train_tiny):
    classifier = xlingual.load(train_tiny(**{"training.epochs": 1}))
    one = classifier.predict("me encanta")
    assert one == classifier.predict(["me encanta"])[0]


def test_library_messages_go_through_logging_and_reach_stderr(capsys):
    import logging

    from xlingual import log

    logging.getLogger("xlingual.runner").warning("%d training texts also appear", 3)
    logging.getLogger("xlingual.runner").info("resumed from step 4 of 8")
    assert capsys.readouterr().err == "warning: 3 training texts also appear\nresumed from step 4 of 8\n"
    log.set_verbosity(logging.ERROR)
    try:
        logging.getLogger("xlingual.api").warning("hidden")
        assert capsys.readouterr().err == ""
    finally:
        log.set_verbosity(logging.INFO)
