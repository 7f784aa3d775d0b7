"""Sweeps in parallel (``--jobs``) and on Ray (``--backend ray``): the same scores as one after another, failures
kept to their run and said at the end, cores divided and never oversubscribed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, tiny_recipe_overrides

import xlingual.sweep as sweep_module
from xlingual.cli import main
from xlingual.errors import ConfigError
from xlingual.results import Results

RECIPES = [str(REPO / "recipes" / "umsab_e5small.yaml"), str(REPO / "recipes" / "umsab_e5small_plain.yaml")]
SEEDS = [1]
"""2 recipes × 1 seed keeps CI short; the 2 × 2 sweep of the issue was run by hand (closing note)."""


def _overrides(tiny_bert, toy_umsab, tmp_path) -> list[str]:
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "unused")
    return [o for o in overrides if not o.startswith("output_dir")]


def _scores(sweep: Path) -> dict[tuple[str, str], dict]:
    scores = {}
    for results in sorted(sweep.glob("*/seed*/results.json")):
        read = Results.read(results)
        scores[(results.parent.parent.name, results.parent.name)] = {
            split: {lang: (s.accuracy, s.macro_f1, s.confusion_matrix) for lang, s in block.languages.items()}
            for split, block in read.splits.items()}
    return scores


@pytest.fixture(scope="module")
def sequential(tiny_bert, toy_umsab, tmp_path_factory) -> tuple[Path, list[str]]:
    tmp = tmp_path_factory.mktemp("sweep")
    overrides = _overrides(tiny_bert, toy_umsab, tmp)
    out = tmp / "sequential"
    records = sweep_module.run_sweep(RECIPES, SEEDS, out, overrides)
    assert [r["status"] for r in records] == ["complete"] * 2
    return out, overrides


def test_jobs_2_gives_the_sequential_scores(sequential, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)  # the CPU path, whatever this machine has
    monkeypatch.setattr(sweep_module, "cpu_count", lambda: 2)
    reference, overrides = sequential
    out = tmp_path / "parallel"
    command = ["sweep", *RECIPES, "--seeds", ",".join(map(str, SEEDS)), "--out", str(out), "--jobs", "2"]
    for override in overrides:
        command += ["--set", override]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "OMP_NUM_THREADS=" in printed  # the cores were divided between the two jobs
    assert len(_scores(out)) == 2
    assert _scores(out) == _scores(reference)
    ledger = json.loads((out / "sweep.json").read_text())
    assert ledger["jobs"] == 2 and {r["status"] for r in ledger["runs"]} == {"complete"}
    assert all(Path(r["log"]).is_file() for r in ledger["runs"])
    # resumable: the same command again skips every finished run
    assert main(command) == 0
    assert capsys.readouterr().out.count("done already, skipped") == 2


def test_ray_backend_gives_the_sequential_scores(sequential, tmp_path):
    pytest.importorskip("ray", reason="the ray package is not installed (pip install 'xlingual[ray]')")
    reference, overrides = sequential
    out = tmp_path / "ray"
    records = sweep_module.run_sweep(RECIPES, SEEDS, out, overrides, jobs=2, backend="ray", gpus_per_run=0)
    assert [r["status"] for r in records] == ["complete"] * 2
    assert {r["placement"]["backend"] for r in records} == {"ray"}
    assert _scores(out) == _scores(reference)


def test_a_failed_run_does_not_stop_the_others(tiny_bert, toy_umsab, tmp_path, capsys):
    overrides = _overrides(tiny_bert, toy_umsab, tmp_path)
    broken = tmp_path / "broken.yaml"  # loads (the sweep checks that first), fails when its run reads the data
    broken.write_text("name: broken\ndata:\n  root: " + str(tmp_path / "no-such-data") + "\n")
    out = tmp_path / "sweep"
    command = ["sweep", str(broken), RECIPES[1], "--seeds", "1", "--out", str(out), "--jobs", "2"]
    for override in overrides:
        if not override.startswith("data.root"):
            command += ["--set", override]
    command += ["--set", "data.target_languages=spanish,german"]
    code = main(command)
    captured = capsys.readouterr()
    assert code == 1
    assert "1 of 2 runs failed:" in captured.err
    assert "broken seed 1: error: data folder not found" in captured.err
    assert (out / "umsab_e5small_plain" / "seed1" / "results.json").is_file()
    ledger = json.loads((out / "sweep.json").read_text())
    failed = [r for r in ledger["runs"] if r["status"].startswith("failed")]
    assert len(failed) == 1 and failed[0]["error"].startswith("error: data folder not found")


def test_local_slots_divide_cores_and_gpus():
    assert sweep_module.local_slots(1) == [{}]  # one job: the run's own defaults, as before
    cpu = sweep_module.local_slots(2, gpus=0, cpus=8)
    assert [s["OMP_NUM_THREADS"] for s in cpu] == ["4", "4"]
    assert sweep_module.local_slots(3, gpus=0, cpus=8)[0]["OMP_NUM_THREADS"] == "2"  # 3 × 2 ≤ 8: never over
    gpu = sweep_module.local_slots(2, gpus=4)
    assert [s["CUDA_VISIBLE_DEVICES"] for s in gpu] == ["0", "1"]
    with pytest.raises(ConfigError, match="--jobs 3: this machine has 2 CPU core"):
        sweep_module.local_slots(3, gpus=0, cpus=2)
    with pytest.raises(ConfigError, match="--jobs 4: this machine has 2 GPU"):
        sweep_module.local_slots(4, gpus=2)
    with pytest.raises(ConfigError, match="--jobs: must be at least 1"):
        sweep_module.local_slots(0)


def test_visible_gpus_are_respected(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert [s["CUDA_VISIBLE_DEVICES"] for s in sweep_module.local_slots(2, gpus=2)] == ["3", "5"]


def test_ray_missing_is_one_line(monkeypatch, tiny_bert, toy_umsab, tmp_path, capsys):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    command = ["sweep", RECIPES[1], "--seeds", "1", "--out", str(tmp_path / "s"), "--backend", "ray"]
    for override in _overrides(tiny_bert, toy_umsab, tmp_path):
        command += ["--set", override]
    assert main(command) == 2
    expected = "error: --backend ray: needs the ray package (pip install 'xlingual[ray]')"
    assert capsys.readouterr().err.strip() == expected


def test_last_error_reads_the_runs_error_line(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("loading\rtrain 50%\rtrain 100%\nerror: training.epochs: must be positive, got 0\n")
    assert sweep_module.last_error(log) == "error: training.epochs: must be positive, got 0"
    log.write_text("Traceback (most recent call last):\n  ...\nRuntimeError: boom\n")
    assert sweep_module.last_error(log) == "RuntimeError: boom"


def test_ray_refuses_what_the_cluster_cannot_give(sequential, tmp_path):
    pytest.importorskip("ray", reason="the ray package is not installed (pip install 'xlingual[ray]')")
    _, overrides = sequential
    with pytest.raises(ConfigError, match=r"each run asks for 64 CPU\(s\) and the cluster has"):
        sweep_module.run_sweep(RECIPES[:1], [1], tmp_path / "s", overrides, backend="ray", cpus_per_run=64)
    with pytest.raises(ConfigError, match="--cpus-per-run: must be positive"):
        sweep_module.run_sweep(RECIPES[:1], [1], tmp_path / "s", overrides, backend="ray", cpus_per_run=0)
    assert not (tmp_path / "s" / "umsab_e5small").exists()


def test_a_retry_reports_its_own_error_not_an_earlier_one(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("error: data folder not found: /old\n")
    offset = log.stat().st_size
    with log.open("a") as handle:
        handle.write("Traceback (most recent call last):\nRuntimeError: new failure\n")
    assert sweep_module.last_error(log, offset) == "RuntimeError: new failure"


def test_an_interrupted_parallel_sweep_starts_nothing_more(tiny_bert, toy_umsab, tmp_path, monkeypatch):
    """Ctrl-C while runs are in flight: the running ones are told to stop, the queued ones never start."""
    import os
    import signal
    import threading

    monkeypatch.setattr(sweep_module, "cpu_count", lambda: 2)
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    launched, signalled = [], []
    gate = threading.Event()

    class Process:
        def __init__(self):
            self.code = None

        def poll(self):
            return self.code

        def send_signal(self, number):
            signalled.append(number)
            self.code = -number
            gate.set()

    def fake_launch(command, env, log, echo=False, cwd=None, started=None):
        process = Process()
        started(process)
        launched.append(command)
        if len(launched) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C reaches the sweep while two runs are in flight
        gate.wait(timeout=30)
        return process.code

    monkeypatch.setattr(sweep_module, "launch", fake_launch)
    overrides = _overrides(tiny_bert, toy_umsab, tmp_path)
    # Ctrl-C as a terminal delivers it: a shell's background job (`pytest … &`) starts with SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            sweep_module.run_sweep(RECIPES, [1, 2, 3], tmp_path / "s", overrides, jobs=2)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(launched) == 2, "the four queued runs never started"
    assert len(signalled) == 2, "both runs in flight were told to stop"
