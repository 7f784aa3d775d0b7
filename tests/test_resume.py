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


# ----------------------------------------------------------------------------- kills at chosen points
# A subprocess runs the CLI with one function wrapped to SIGKILL the process at an exact point, so each test
# kills where it means to (no race with a polling loop), then shows the recovery.

KILLER = """
import os, pathlib, signal, sys
{patch}
from xlingual.cli import main
sys.exit(main(sys.argv[1:]))
"""

KILL_AT_STEP = """
from xlingual.training import loop
_real = loop.TrainingLoop._step_loss
def _step(self, batch, progress):
    if self.state.global_step == {step}:
        os.kill(os.getpid(), signal.SIGKILL)
    return _real(self, batch, progress)
loop.TrainingLoop._step_loss = _step
"""

KILL_MID_STATE_SWAP = """
_rename = pathlib.Path.rename
_swaps = []
def _rename_then_die(self, target):
    result = _rename(self, target)
    if self.name == "state" and pathlib.Path(target).name == "state.old":
        _swaps.append(target)
        if len(_swaps) == {swap}:
            os.kill(os.getpid(), signal.SIGKILL)  # the old state is moved aside, the new one not yet in place
    return result
pathlib.Path.rename = _rename_then_die
"""

KILL_MID_EXPORT = """
import xlingual.checkpoint as checkpoint
_save = checkpoint.save_file
def _save_then_die(*args, **kwargs):
    _save(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # the weights are written, the export folder is not finished
checkpoint.save_file = _save_then_die
"""

SHORT = {"training.epochs": 3, "training.logging_steps": 1}  # 6 steps an epoch


def killed(patch: str, args: list[str]) -> None:
    process = subprocess.run([sys.executable, "-c", KILLER.format(patch=patch), *args], capture_output=True,
                             text=True, timeout=600)
    assert process.returncode == -signal.SIGKILL, process.stderr[-2000:]


def cli(args: list[str]) -> subprocess.CompletedProcess:
    """The CLI in this process (a subprocess only where it is to be killed): exit code and stderr."""
    import contextlib
    import io

    from xlingual.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(args)
    return subprocess.CompletedProcess(args, code, "", err.getvalue())


def tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_clean_log(run):
    """One source phase, steps strictly increasing, one selection per epoch: nothing repeated or phantom."""
    from xlingual.run_folder import train_log_records

    records = train_log_records(run / "logs" / "train_log.jsonl")
    assert {r["round"] for r in records} == {0}
    steps = [r["step"] for r in records if "task" in r]
    assert steps == sorted(set(steps)) == list(range(1, steps[-1] + 1))
    epochs = [r["epoch"] for r in records if "selection_macro_f1" in r]
    assert epochs == list(range(1, len(epochs) + 1))


@pytest.fixture(scope="module")
def reference(tiny_bert, toy_umsab, tmp_path_factory):
    """The uninterrupted run every killed run must reproduce."""
    import xlingual

    out = tmp_path_factory.mktemp("reference") / "run"
    return xlingual.train(RECIPE, tiny_recipe_overrides(tiny_bert, toy_umsab, out, **SHORT), progress=False)


def test_kill_mid_epoch_without_step_checkpoints(tiny_bert, toy_umsab, tmp_path, reference):
    """checkpoint_steps 0 saves at epoch ends only: a kill in epoch 1 leaves nothing to resume, and says so;
    a kill in epoch 2 resumes from the end of epoch 1, dropping the log lines written after it."""
    run = tmp_path / "run"
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, run, **SHORT, **{"training.checkpoint_steps": 0})
    killed(KILL_AT_STEP.format(step=3), command(overrides)[3:])
    assert not (run / "state").exists() and not (run / "results.json").exists()
    refused = cli([*command(overrides)[3:], "--resume"])
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"error: --resume: {run} holds no saved training state (the run stopped before its first checkpoint; "
        "see training.checkpoint_steps); pass --overwrite to start it again"]
    started_again = cli([*command(overrides)[3:], "--overwrite"])
    assert started_again.returncode == 0, started_again.stderr[-2000:]
    assert predictions(run) == predictions(reference)
    assert_clean_log(run)

    run = tmp_path / "run2"
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, run, **SHORT, **{"training.checkpoint_steps": 0})
    killed(KILL_AT_STEP.format(step=8), command(overrides)[3:])
    logged = [json.loads(line).get("step") for line in (run / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert max(logged) == 8  # steps 7 and 8 were logged after the state of step 6 was saved
    resumed = cli([*command(overrides)[3:], "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from step 6 of 18" in resumed.stderr
    assert predictions(run) == predictions(reference)
    assert_clean_log(run)


def test_resume_with_changed_learning_rate_or_seed_is_refused(tiny_bert, toy_umsab, tmp_path, reference):
    run = tmp_path / "run"
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, run, **SHORT)
    killed(KILL_AT_STEP.format(step=8), command(overrides)[3:])
    before = tree(run)
    for changed, shown in (("training.learning_rate=0.5", "training.learning_rate (0.005 -> 0.5)"),
                           ("training.seed=7", "training.seed (1 -> 7)")):
        refused = cli([*command(overrides)[3:], "--resume", "--set", changed])
        assert refused.returncode == 2, refused.stderr
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and ("the settings differ from the settings the run started with (kept in its training "
                                    f"state) in {shown}") in lines[0]
        assert tree(run) == before  # refused before anything was written
    # what cannot change results may change: the log cadence
    resumed = cli([*command(overrides)[3:], "--resume", "--set", "training.logging_steps=3"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert predictions(run) == predictions(reference)


def test_kill_mid_state_swap_recovers_the_previous_state(tiny_bert, toy_umsab, tmp_path, reference):
    run = tmp_path / "run"
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, run, **SHORT, **{"training.checkpoint_steps": 2})
    killed(KILL_MID_STATE_SWAP.format(swap=1), command(overrides)[3:])  # the save of step 4 replaces step 2's
    assert not (run / "state").exists() and (run / "state.old" / "state.json").is_file()
    resumed = cli([*command(overrides)[3:], "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed from step 2 of 18" in resumed.stderr
    assert predictions(run) == predictions(reference)
    assert_clean_log(run)
    assert not any(p.name.startswith("state") for p in run.iterdir())  # spent once the run completed


def test_kill_mid_export_leaves_the_earlier_export(tmp_path, reference):
    import xlingual

    out = tmp_path / "exported"
    for sibling in ("exported.tmp", "exported.old"):  # names earlier versions used (and deleted): user folders here
        (tmp_path / sibling).mkdir()
        (tmp_path / sibling / "mine.txt").write_text("keep me")
    killed(KILL_MID_EXPORT, ["export", str(reference), str(out)])
    assert not out.exists()  # nothing half-written under the name asked for
    assert cli(["export", str(reference), str(out)]).returncode == 0
    (tmp_path / "plain").mkdir()
    assert out.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777  # not a private temp folder
    first = tree(out)
    killed(KILL_MID_EXPORT, ["export", str(reference), str(out), "--overwrite"])
    assert tree(out) == first
    leftovers = sorted(p.name for p in tmp_path.glob(".exported.xlingual-tmp-*"))
    assert len(leftovers) == 2  # both killed exports' temp folders are left, never guessed at
    again = cli(["export", "--overwrite", str(reference), str(out)])
    assert again.returncode == 0, again.stderr
    assert "left by an interrupted export" in again.stderr and leftovers[0] in again.stderr
    for sibling in ("exported.tmp", "exported.old"):
        assert (tmp_path / sibling / "mine.txt").read_text() == "keep me"
    texts = ["me encanta", "lo odio"]
    assert ([p.label for p in xlingual.load(out).predict(texts)]
            == [p.label for p in xlingual.load(reference).predict(texts)])
