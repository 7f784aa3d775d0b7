"""Run folders are safe to share and to fill: --overwrite keeps what a user added, one writer at a time, a full
disk costs nothing but the write that failed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, tiny_recipe_overrides

import xlingual
from xlingual.cli import main
from xlingual.config import load_recipe
from xlingual.locking import folder_lock
from xlingual.run_folder import LOCK_HOLDER, MARKER
from xlingual.training.state import load_training_state

RECIPE = REPO / "recipes" / "umsab_e5small.yaml"
SHORT = {"training.epochs": 2, "training.checkpoint_steps": 3}
"""12 steps on the toy data: states at steps 3, 6, 9 and 12, the epoch ends at 6 and 12."""


def cli(overrides: list[str], *flags: str, command: str = "train") -> list[str]:
    return [command, str(RECIPE), "--no-progress", *flags, *[a for o in overrides for a in ("--set", o)]]


def python(*args: str) -> list[str]:
    return [sys.executable, "-m", "xlingual", *args]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def reference(tiny_bert, toy_umsab, tmp_path_factory) -> Path:
    """The uninterrupted run every faulted run must reproduce after --resume."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert main(cli(tiny_recipe_overrides(tiny_bert, toy_umsab, out, **SHORT))) == 0
    return out


def predictions(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((run / "predictions").iterdir())
            if re.fullmatch(r"[^.]+\.[^.]+\.jsonl", p.name)}  # the run's own: <language>.<split>.jsonl


def weights(run: Path) -> dict:
    return json.loads((run / "checkpoint" / "xlingual_checkpoint.json").read_text())["sha256"]


# ----------------------------------------------------------------------------- --overwrite keeps the user's files


def test_overwrite_keeps_every_file_a_user_added(reference, tiny_bert, toy_umsab, tmp_path, capsys):
    run = Path(shutil.copytree(reference, tmp_path / "run"))
    assert main(["evaluate", str(run), "--name", "spanish-only", "--languages", "spanish", "--no-progress"]) == 0
    added = {
        "my-notes.txt": b"top level",
        "logs/my_analysis.md": b"# what the loss did",
        "predictions/my_notes.txt": b"errors I looked at",
        "predictions/errors.jsonl": b'{"index": 3}\n',
        "predictions/spanish.test.mine.jsonl": b"named like the run's own, but not one of them",
        "snapshots/step-best.safetensors": b"not a snapshot xlingual wrote",
        "checkpoint/MODEL_CARD_DRAFT.md": b"draft",
        "checkpoint/extra/plots.txt": b"a folder of the user's inside the checkpoint",
        "evaluations/mine.txt": b"next to xlingual's own evaluation",
    }
    for name, data in added.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_bytes(data)
    evaluation = {p: sha(p) for p in (run / "evaluations" / "spanish-only").rglob("*") if p.is_file()}
    old_results = (run / "results.json").read_bytes()
    capsys.readouterr()
    assert main(cli(tiny_recipe_overrides(tiny_bert, toy_umsab, run, **SHORT), "--overwrite")) == 0
    for name, data in added.items():
        assert (run / name).read_bytes() == data, name
    assert {p: sha(p) for p in evaluation} == evaluation  # xlingual evaluate's results are the user's too
    # the run itself was replaced: a new results.json (its timings differ), the same model (deterministic)
    assert (run / "results.json").read_bytes() != old_results
    assert weights(run) == weights(reference) and predictions(run) == predictions(reference)
    assert xlingual.load(run).predict("me encanta").label  # the user's files do not break the checkpoint


def test_overwrite_of_a_run_stopped_mid_save_keeps_user_files_too(reference, tiny_bert, toy_umsab, tmp_path):
    run = Path(shutil.copytree(reference, tmp_path / "run"))
    (run / "results.json").unlink()
    (run / "state").mkdir()
    (run / "state" / "my-copy.txt").write_text("kept")
    (run / ".checkpoint.xlingual-tmp-abc").mkdir()  # a checkpoint save cut short: xlingual's own temp folder
    assert main(cli(tiny_recipe_overrides(tiny_bert, toy_umsab, run, **SHORT), "--overwrite")) == 0
    assert (run / "state" / "my-copy.txt").read_text() == "kept"
    assert not (run / ".checkpoint.xlingual-tmp-abc").exists()


# ----------------------------------------------------------------------------- one writer per folder


def test_a_second_writer_is_refused_naming_the_holder(tiny_bert, toy_umsab, tmp_path, capsys):
    run = tmp_path / "run"
    with folder_lock(run, "xlingual train holder.yaml"):
        before = sorted(p.name for p in run.iterdir())
        assert main(cli(tiny_recipe_overrides(tiny_bert, toy_umsab, run, **{"training.epochs": 1}))) == 2
        err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("warning: ")]
        assert len(err) == 1, err
        assert re.fullmatch(rf"error: {re.escape(str(run))} is being written by pid {os.getpid()} on "
                            rf"{re.escape(socket.gethostname())}, started \S+: xlingual train holder\.yaml; wait "
                            r"until it finishes, or choose another folder", err[0]), err
        assert sorted(p.name for p in run.iterdir()) == before  # nothing written beside the lock
    assert not (run / LOCK_HOLDER).exists()  # released: the holder record goes with it
    capsys.readouterr()
    assert main(cli(tiny_recipe_overrides(tiny_bert, toy_umsab, run, **{"training.epochs": 1}))) == 0


def test_evaluate_out_and_export_hold_the_lock_too(reference, tmp_path, capsys):
    out = tmp_path / "evaluation"
    with folder_lock(out, "someone else"):
        assert main(["evaluate", str(reference), "--out", str(out), "--languages", "spanish", "--no-progress"]) == 2
    assert "is being written by pid" in capsys.readouterr().err
    assert main(["evaluate", str(reference), "--out", str(out), "--languages", "spanish", "--no-progress"]) == 0
    export = tmp_path / "export"
    with folder_lock(export, "someone else", lock_dir=tmp_path, name="export"):
        assert main(["export", str(reference), str(export)]) == 2
    assert "export is being written by pid" in capsys.readouterr().err
    assert not export.exists()
    assert main(["export", str(reference), str(export)]) == 0


# The first training waits inside its run (lock held) until the test lets it go: no race on timing.
WAIT_IN_TRAINING = """
import sys, time
from pathlib import Path
import xlingual.training.loop as loop
from xlingual.cli import main
go, argv = Path(sys.argv[1]), sys.argv[2:]
original = loop.TrainingLoop.run
def waiting(self):
    while not go.exists():
        time.sleep(0.05)
    return original(self)
loop.TrainingLoop.run = waiting
sys.exit(main(argv))
"""


def test_two_trainings_into_one_folder_at_once(tiny_bert, toy_umsab, tmp_path):
    run, go = tmp_path / "run", tmp_path / "go"
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, run, **{"training.epochs": 1})
    first = subprocess.Popen([sys.executable, "-c", WAIT_IN_TRAINING, str(go), *cli(overrides)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while not (run / LOCK_HOLDER).is_file() and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert first.poll() is None and (run / LOCK_HOLDER).is_file(), "the first training never held the lock"
    second = subprocess.run(python(*cli(overrides)), capture_output=True, text=True, timeout=600)
    go.touch()
    assert first.wait(timeout=600) == 0, first.stderr.read()[-2000:]
    errors = [line for line in second.stderr.splitlines() if line.startswith("error: ")]
    assert second.returncode == 2 and len(errors) == 1 and "Traceback" not in second.stderr, second.stderr
    assert re.fullmatch(rf"error: {re.escape(str(run))} is being written by pid {first.pid} on \S+, started \S+: "
                        r".*train .*; wait until it finishes, or choose another folder", errors[0]), errors
    assert json.loads((run / "results.json").read_text())["status"] == "complete"
    assert xlingual.load(run).predict("hola").label


def test_the_lock_of_a_killed_holder_is_taken_over(tiny_bert, toy_umsab, tmp_path, capsys):
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom xlingual.locking import folder_lock\n"
         "with folder_lock(sys.argv[1], 'xlingual train killed.yaml'):\n    print('locked', flush=True)\n"
         "    time.sleep(600)\n", str(run)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (run / LOCK_HOLDER).is_file()  # the dead holder could not remove its record
    assert main(cli(tiny_recipe_overrides(tiny_bert, toy_umsab, run, **{"training.epochs": 1}))) == 0
    err = capsys.readouterr().err
    assert re.search(rf"took over the lock of pid {holder.pid} on .*: xlingual train killed\.yaml, which is no "
                     "longer running", err), err
    assert (run / "results.json").is_file() and not (run / LOCK_HOLDER).exists()


# ----------------------------------------------------------------------------- a full disk at each write point

# Runs xlingual's CLI with a file-size limit of 64 bytes set just before the Nth call of one write function:
# the real write then fails in the kernel (EFBIG, as under `ulimit -f`; xlingual ignores SIGXFSZ as it must).
FAULT = """
import importlib, resource, sys
from xlingual.cli import main
target, nth, *argv = sys.argv[1:]
module, attribute = target.split(":")
owner = importlib.import_module(module)
*path, name = attribute.split(".")
for part in path:
    owner = getattr(owner, part)
original, calls = getattr(owner, name), []
def limited(*args, **kwargs):
    calls.append(1)
    if len(calls) == int(nth):
        resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.RLIM_INFINITY))
    return original(*args, **kwargs)
setattr(owner, name, limited)
sys.exit(main(argv))
"""

WRITE_POINTS = {
    # id: (function, which call, the file the error names, the state step that must survive)
    "training-state": ("xlingual.training.loop:save_training_state", 2, r"/run/state\.tmp", 3),
    "train-log": ("xlingual.training.loop:TrainingLoop._log", 3, r"/run/logs/train_log\.jsonl", 3),
    "predictions": ("xlingual.evaluation.splits:write_predictions", 1, r"/run/predictions/\w+\.test\.jsonl", 12),
    "checkpoint": ("xlingual.runner:save_checkpoint", 1, r"/run/checkpoint", 12),
    "results": ("xlingual.results:Results.write", 1, r"/run/results\.json", 12),
}


@pytest.mark.parametrize("point", list(WRITE_POINTS))
def test_a_full_disk_stops_with_one_line_and_resume_matches(point, reference, tiny_bert, toy_umsab, tmp_path):
    function, nth, named, step = WRITE_POINTS[point]
    run = tmp_path / "run"
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, run, **SHORT)
    failed = subprocess.run([sys.executable, "-c", FAULT, function, str(nth), *cli(overrides)],
                            capture_output=True, text=True, timeout=600)
    assert failed.returncode == 2, failed.stderr[-3000:]
    assert "Traceback" not in failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert re.fullmatch(rf"error: no space left while writing \S*{named} \(the file-size limit \(ulimit -f\) is "
                        r"reached\); the files written before are intact: .*--resume.*", last), last
    assert not (run / "results.json").exists()
    assert load_training_state(run / "state")["progress"]["global_step"] == step  # the last state, loadable
    assert not (run / "state.tmp").exists()  # a half-written state is removed, not left to fill the disk
    if point == "results":
        assert xlingual.load(run).predict("hola").label  # the checkpoint written before is intact
    resumed = subprocess.run(python(*cli(overrides, "--resume")), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert weights(run) == weights(reference)
    assert predictions(run) == predictions(reference)
    ours, theirs = (json.loads((r / "results.json").read_text()) for r in (run, reference))
    assert ours["splits"]["test"]["languages"] == theirs["splits"]["test"]["languages"]


def test_a_full_disk_during_export_keeps_the_previous_export(reference, tmp_path):
    out = tmp_path / "export"
    assert main(["export", str(reference), str(out)]) == 0
    before = {p.name: sha(p) for p in out.iterdir()}
    failed = subprocess.run([sys.executable, "-c", FAULT, "xlingual.checkpoint:write_checkpoint", "1",
                             "export", str(reference), str(out), "--overwrite"], capture_output=True, text=True,
                            timeout=600)
    assert failed.returncode == 2 and "Traceback" not in failed.stderr, failed.stderr[-3000:]
    assert re.fullmatch(r"error: no space left while writing \S+/export \(the file-size limit .*",
                        failed.stderr.strip().splitlines()[-1]), failed.stderr
    assert {p.name: sha(p) for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export.xlingual-tmp")]
    assert xlingual.load(out).predict("hola").label


# ----------------------------------------------------------------------------- smaller holes


def test_load_recipe_takes_one_override_as_a_string(tiny_bert, toy_umsab, tmp_path):
    recipe = load_recipe(RECIPE, "training.epochs=3")
    assert recipe.training.epochs == 3
    assert load_recipe(RECIPE, ("training.epochs=2",)).training.epochs == 2


def test_a_dev_hold_out_without_a_class_warns(toy_umsab, capsys):
    from xlingual.config import DataConfig
    from xlingual.data.loading import load_examples

    capsys.readouterr()
    dev = load_examples(DataConfig(root=str(toy_umsab), target_languages=["spanish"], dev_size=2), "english", "dev")
    assert len(dev) == 2
    messages = [line for line in capsys.readouterr().err.splitlines() if "holds out" in line]
    assert len(messages) == 1, messages
    assert re.fullmatch(r"warning: data\.dev_size=2 holds out 2 of \d+ examples of .*english.*, and its dev part has "
                        r"no '\w+' example \(negative: \d, neutral: \d, positive: \d\): model selection cannot see "
                        "that class; raise the hold-out or give a dev split", messages[0]), messages
    load_examples(DataConfig(root=str(toy_umsab), target_languages=["spanish"], dev_size=30), "english", "dev")
    load_examples(DataConfig(root=str(toy_umsab), target_languages=["spanish"], dev_size=2), "english", "train")
    assert "holds out" not in capsys.readouterr().err  # every class there; and the train part does not repeat it


def test_compare_records_the_runs_it_left_out(reference, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    shutil.copytree(reference, sweep / "seed1")
    unreadable = Path(shutil.copytree(reference, sweep / "seed2"))
    (unreadable / "results.json").write_text("{not json")
    newer = Path(shutil.copytree(reference, sweep / "seed3"))
    data = json.loads((newer / "results.json").read_text())
    data["schema_version"] = 99
    (newer / "results.json").write_text(json.dumps(data))
    out = tmp_path / "table"
    assert main(["compare", str(sweep), "--out", str(out), "--no-plots"]) == 0
    capsys.readouterr()
    table = json.loads((out / "table.json").read_text())
    assert len(table["skipped"]) == 2
    assert any("seed2" in s for s in table["skipped"]) and any("seed3" in s for s in table["skipped"])
    markdown = (out / "table.md").read_text()
    assert markdown.count("- **left out:**") == 2 and "seed2" in markdown and "seed3" in markdown


def test_a_marker_must_be_json_to_adopt_a_folder(reference, tiny_bert, toy_umsab, tmp_path, capsys):
    legacy = Path(shutil.copytree(reference, tmp_path / "legacy"))
    (legacy / MARKER).unlink()
    command = cli(tiny_recipe_overrides(tiny_bert, toy_umsab, legacy, **SHORT), "--overwrite")
    assert main(command) == 2
    assert 'adopt it by writing {"xlingual_run": 1} into' in capsys.readouterr().err
    (legacy / MARKER).write_text("")  # what the old message asked for: an empty file is no marker
    assert main(command) == 2
    assert "is not a run marker (not a JSON object)" in capsys.readouterr().err
    (legacy / MARKER).unlink()
    assert sorted(p.name for p in legacy.iterdir()) == sorted(p.name for p in reference.iterdir() if p.name != MARKER)
