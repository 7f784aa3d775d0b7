"""The ``xlingual`` command line, end to end on the tiny model."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO, tiny_recipe_overrides

from xlingual.cli import main


def sets(overrides):
    return [arg for o in overrides for arg in ("--set", o)]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "predict", "export"):
        assert command in out


def test_train_evaluate_predict_export(tiny_bert, toy_umsab, tmp_path, capsys):
    run = tmp_path / "run"
    recipe = str(REPO / "recipes" / "umsab_e5small_lora.yaml")
    assert main(["train", recipe, "--no-progress", *sets(tiny_recipe_overrides(tiny_bert, toy_umsab, run))]) == 0
    assert "target average" in capsys.readouterr().out

    assert main(["evaluate", str(run), "--languages", "spanish,de", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "reproduces results.json: 2/2 language scores identical" in out

    assert main(["predict", str(run), "me encanta", "lo odio", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["text"] for row in lines] == ["me encanta", "lo odio"]
    assert set(lines[0]["probabilities"]) == {"negative", "neutral", "positive"}
    assert lines[0]["probabilities"][lines[0]["label"]] == pytest.approx(lines[0]["score"])

    assert main(["export", str(run), str(tmp_path / "exported")]) == 2
    assert "pass --merge" in capsys.readouterr().err
    assert main(["export", str(run), str(tmp_path / "exported"), "--merge"]) == 0
    assert (tmp_path / "exported" / "model.safetensors").is_file()


def test_misspelt_key_is_one_line_and_exit_2(capsys):
    code = main(["train", str(REPO / "recipes" / "umsab_e5small.yaml"), "--set", "training.lerning_rate=1e-5"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "training.lerning_rate" in err and "did you mean 'training.learning_rate'" in err


def test_missing_data_folder_stops_before_any_model_loads(tmp_path, capsys, monkeypatch):
    import xlingual.runner

    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded when the data is missing")

    monkeypatch.setattr(xlingual.runner, "build_model", no_model)
    code = main(["train", str(REPO / "recipes" / "umsab_e5small.yaml"), "--set", f"data.root={tmp_path}/nope",
                 "--set", f"output_dir={tmp_path}/run"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and f"{tmp_path}/nope" in err


def test_console_script_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "xlingual", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("xlingual ")


def torchrun_train(recipe: str, run, tiny_bert, toy_umsab, cwd) -> dict:
    """Train ``recipe`` on the tiny model with two torchrun processes; returns its results.json."""
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, run, **{"training.epochs": 1})
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "xlingual", "train",
               str(REPO / "recipes" / recipe), "--no-progress", *sets(overrides)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads((run / "results.json").read_text())


def test_torchrun_two_processes_count_each_example_once(tiny_bert, toy_umsab, tmp_path):
    run = tmp_path / "ddp"
    results = torchrun_train("umsab_e5small.yaml", run, tiny_bert, toy_umsab, tmp_path)
    assert results["processes"] == 2
    for language, metrics in results["splits"]["test"]["languages"].items():
        rows = [json.loads(line) for line in (run / "predictions" / f"{language}.test.jsonl").read_text().splitlines()]
        assert metrics["n"] == 36 and sorted(r["index"] for r in rows) == list(range(36))


def test_torchrun_two_processes_with_an_alignment_loss(tiny_bert, toy_umsab, tmp_path):
    """Under DDP the source and target batches share one forward (one forward per backward)."""
    run = tmp_path / "ddp-coral"
    results = torchrun_train("umsab_e5small_coral.yaml", run, tiny_bert, toy_umsab, tmp_path)
    assert results["processes"] == 2 and results["training"]["auxiliary_samples"] > 0
    log = [json.loads(line) for line in (run / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert any("coral" in record for record in log)
