"""Crash safety: SIGKILL mid-training, resume, and get exactly the uninterrupted run's predictions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, tiny_recipe_overrides

from xlingual.run_folder import is_complete

RECIPE = str(REPO / "recipes" / "umsab_e5small.yaml")


def command(overrides, *flags):
    args = [sys.executable, "-m", "xlingual", "train", RECIPE, "--no-progress", *flags]
    for override in overrides:
        args += ["--set", override]
    return args


def predictions(run):
    return {p.name: p.read_bytes() for p in sorted((run / "predictions").glob("*.jsonl"))}


def test_sigkill_then_resume_matches_uninterrupted_run(tiny_bert, toy_umsab, tmp_path):
    extra = {"training.epochs": 6, "training.checkpoint_steps": 3}
    reference = tmp_path / "reference"
    subprocess.run(command(tiny_recipe_overrides(tiny_bert, toy_umsab, reference, **extra)), check=True,
                   capture_output=True, timeout=600)

    run = tmp_path / "killed"
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, run, **extra)
    process = subprocess.Popen(command(overrides), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = run / "state" / "state.json"
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if state.is_file() and json.loads(state.read_text())["progress"]["global_step"] >= 6:
            break
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.fail("training finished before it could be killed; make the run longer")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not is_complete(run) and not (run / "results.json").exists()
    killed_at = json.loads(state.read_text())["progress"]["global_step"]
    assert 0 < killed_at < json.loads(state.read_text())["progress"]["total_steps"]

    refused = subprocess.run(command(overrides), capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and "unfinished run; pass --resume" in refused.stderr

    resumed = subprocess.run(command(overrides, "--resume"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resumed from step {killed_at}" in resumed.stderr
    assert predictions(run) == predictions(reference)
    ours, theirs = (json.loads((r / "results.json").read_text()) for r in (run, reference))
    assert ours["splits"]["test"]["languages"] == theirs["splits"]["test"]["languages"]
    assert ours["training"]["resumed_from_step"] == killed_at
    assert not (run / "state").exists()  # spent once the run completed


def test_nan_loss_stops_with_a_clear_error(train_tiny, tmp_path, monkeypatch):
    from xlingual.errors import TrainingDivergedError
    from xlingual.training.loop import TrainingLoop

    original = TrainingLoop._step_loss

    def diverging(self, batch, progress):
        loss, terms = original(self, batch, progress)
        terms["total"] = float("nan")
        return loss * float("nan"), terms

    monkeypatch.setattr(TrainingLoop, "_step_loss", diverging)
    with pytest.raises(TrainingDivergedError, match=r"loss became nan at step 1 .*lower training.learning_rate"):
        train_tiny(out=tmp_path / "nan")
    assert not (tmp_path / "nan" / "results.json").exists()
