"""Experiment trackers (``logging.report_to``): what a run writes is read back with each tracker's own reader."""

from __future__ import annotations

import json

import pytest

from xlingual.errors import ConfigError
from xlingual.results import Results
from xlingual.tracking import flat_config, numeric


def _expected_final(results: Results) -> dict[str, float]:
    values = {}
    for split, block in results.splits.items():
        for language, scores in block.languages.items():
            values[f"{split}/{language}/macro_f1"] = scores.macro_f1
        values[f"{split}/target_avg_macro_f1"] = block.summary["target_avg_macro_f1"]
        values[f"{split}/transfer_gap_macro_f1"] = block.summary["transfer_gap_macro_f1"]
    return values


def _log_records(run) -> list[dict]:
    return [json.loads(line) for line in (run / "logs" / "train_log.jsonl").read_text().splitlines()]


def test_tensorboard_events_read_back(train_tiny, tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed (pip install tensorboard)")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train_tiny(**{"logging.report_to": "tensorboard", "logging.project": "toy"})
    results = Results.read(run / "results.json")
    folders = sorted(p.parent for p in (run / "logs" / "trackers" / "toy").rglob("events.out.tfevents.*"))
    assert folders, "no TensorBoard event file"
    scalars: dict[str, list] = {}
    for folder in folders:
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        events.Reload()
        for tag in events.Tags()["scalars"]:
            scalars.setdefault(tag, []).extend(events.Scalars(tag))
    records = _log_records(run)
    steps = [r for r in records if "task" in r]
    # every logged step, with the JSONL's values
    assert [e.step for e in scalars["train/task"]] == [r["step"] for r in steps]
    assert [e.value for e in scalars["train/task"]] == pytest.approx([r["task"] for r in steps], rel=1e-6)
    # every epoch's selection score
    epochs = [r for r in records if "selection_macro_f1" in r]
    assert [e.value for e in scalars["selection/selection_macro_f1"]] == pytest.approx(
        [r["selection_macro_f1"] for r in epochs], rel=1e-6)
    # the final scores: every language, the target average and the gap
    for tag, value in _expected_final(results).items():
        assert scalars[tag][-1].value == pytest.approx(value, rel=1e-6), tag
    # the resolved config and the protocol's target resources, as hyper-parameters
    hparams = list((run / "logs" / "trackers" / "toy").rglob("hparams.yml"))
    assert hparams
    import yaml

    stored = yaml.safe_load(hparams[0].read_text())
    assert stored["training.seed"] == results.seed
    assert stored["protocol.target_resources"] == (",".join(results.protocol.target_resources) or "none")


def test_mlflow_file_store_read_back(train_tiny, tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow package is not installed (pip install mlflow-skinny)")
    from mlflow.tracking import MlflowClient

    store = f"file:{tmp_path / 'mlruns'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps the local file store behind a flag
    run = train_tiny(**{"logging.report_to": "mlflow", "logging.project": "toy-experiment",
                        "alignment.unlabeled_target": "{split: train}",
                        "alignment.losses": "[{name: mmd, weight: 0.1}]"})
    results = Results.read(run / "results.json")
    client = MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("toy-experiment")
    (found,) = client.search_runs([experiment.experiment_id])
    assert found.info.run_name == f"{results.recipe}-seed{results.seed}"
    assert found.info.status == "FINISHED"
    assert found.data.params["training.seed"] == str(results.seed)
    assert found.data.params["protocol.target_resources"] == ",".join(results.protocol.target_resources)
    assert "unlabeled-target" in found.data.params["protocol.target_resources"]
    for key, value in _expected_final(results).items():
        assert found.data.metrics[key] == pytest.approx(value, rel=1e-6), key
    records = [r for r in _log_records(run) if "task" in r]
    history = client.get_metric_history(found.info.run_id, "train/task")
    assert [(m.step, m.value) for m in history] == [(r["step"], pytest.approx(r["task"], rel=1e-6)) for r in records]
    assert client.get_metric_history(found.info.run_id, "train/mmd"), "the alignment term is logged too"


def test_report_to_none_writes_no_tracker_files(train_tiny):
    run = train_tiny()
    assert not (run / "logs" / "trackers").exists()


def test_a_missing_tracker_package_is_one_line(train_tiny, monkeypatch, tmp_path):
    import xlingual.tracking as tracking

    monkeypatch.setattr(tracking, "_installed", lambda name: False)
    with pytest.raises(ConfigError, match=r"logging.report_to: 'wandb' needs the wandb package"):
        train_tiny(out=tmp_path / "missing", **{"logging.report_to": "wandb"})
    assert not (tmp_path / "missing").exists(), "nothing is written before the check"


def test_unknown_tracker_and_mixed_none_are_refused(tiny_bert, toy_umsab, tmp_path):
    from conftest import REPO, tiny_recipe_overrides

    from xlingual.config import load_recipe

    base = tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "r")
    with pytest.raises(ConfigError, match="did you mean 'tensorboard'"):
        load_recipe(REPO / "recipes/umsab_e5small.yaml", [*base, "logging.report_to=tensorbord"])
    with pytest.raises(ConfigError, match="'none' and 'all' stand alone"):
        load_recipe(REPO / "recipes/umsab_e5small.yaml", [*base, "logging.report_to=none,mlflow"])


def test_flat_config_and_numeric_records():
    flat = flat_config({"a": {"b": 1, "c": None, "d": [1, 2]}, "e": "x", "f": True})
    assert flat == {"a.b": 1, "a.c": "null", "a.d": "[1, 2]", "e": "x", "f": True}
    assert numeric({"task": 0.5, "lr": 1e-3, "languages": ["es"], "signals": {"entropy": 0.2, "x": float("nan")},
                    "flag": True}) == {"task": 0.5, "lr": 1e-3, "signals/entropy": 0.2}


def test_callbacks_see_the_stages_in_order(tiny_bert, toy_umsab, tmp_path):
    from conftest import REPO

    from xlingual.runner import run_training
    from xlingual.testing import tiny_recipe_overrides

    class Recorder:
        def __init__(self) -> None:
            self.events: list[tuple[str, dict]] = []

        def on_train_begin(self, record):
            self.events.append(("begin", record))

        def on_log(self, record):
            self.events.append(("log", record))

        def on_epoch_end(self, record):
            self.events.append(("epoch", record))

        def on_train_end(self, record):
            self.events.append(("end", record))

    recorder = Recorder()
    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "run")
    run_training(str(REPO / "recipes/umsab_e5small.yaml"), overrides, progress=False, callbacks=[recorder])
    kinds = [kind for kind, _ in recorder.events]
    assert kinds[0] == "begin" and kinds[-1] == "end"
    assert recorder.events[0][1]["step"] == 0 and recorder.events[0][1]["total_steps"] > 0
    assert kinds.count("epoch") == 2 and "log" in kinds
    assert recorder.events[-1][1]["step"] == recorder.events[0][1]["total_steps"]


def test_a_failing_tracker_never_stops_the_run(train_tiny, monkeypatch, capsys):
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed (pip install tensorboard)")
    from accelerate import Accelerator

    calls = []

    def broken(self, values, step=None, log_kwargs=None):
        calls.append(step)
        raise ConnectionError("tracking server went away")

    monkeypatch.setattr(Accelerator, "log", broken)
    run = train_tiny(**{"logging.report_to": "tensorboard"})
    assert Results.read(run / "results.json").status == "complete"
    assert len(calls) == 1, "after the first failure the trackers are off"
    assert "a tracker failed to log (ConnectionError: tracking server went away)" in capsys.readouterr().err


def test_overwrite_replaces_the_runs_tracker_files_and_keeps_the_users(tiny_bert, toy_umsab, tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed (pip install tensorboard)")
    from conftest import REPO, tiny_recipe_overrides

    import xlingual

    run = tmp_path / "run"
    overrides = [*tiny_recipe_overrides(tiny_bert, toy_umsab, run), "logging.report_to=tensorboard",
                 "logging.project=p"]
    xlingual.train(REPO / "recipes/umsab_e5small.yaml", overrides, progress=False)
    first = set((run / "logs" / "trackers").rglob("events.out.tfevents.*"))
    notes = run / "logs" / "trackers" / "my-notes.txt"
    notes.write_text("the user's")
    xlingual.train(REPO / "recipes/umsab_e5small.yaml", overrides, progress=False, overwrite=True)
    second = set((run / "logs" / "trackers").rglob("events.out.tfevents.*"))
    assert first and second and not first & second, "the earlier run's event files are gone, the new ones there"
    assert len(list((run / "logs" / "trackers").rglob("hparams.yml"))) == 1
    assert notes.read_text() == "the user's"


def test_mlflow_without_a_usable_store_is_said_before_anything_is_written(train_tiny, monkeypatch, tmp_path):
    pytest.importorskip("mlflow", reason="the mlflow package is not installed (pip install mlflow-skinny)")
    import importlib.util

    import xlingual.tracking as tracking

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    real = importlib.util.find_spec
    monkeypatch.setattr(tracking.importlib.util, "find_spec",
                        lambda name, *a: None if name == "sqlalchemy" else real(name, *a))
    with pytest.raises(ConfigError, match="needs the full mlflow package"):
        train_tiny(out=tmp_path / "never", **{"logging.report_to": "mlflow"})
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("project", ["../elsewhere", "/abs", "a/b", ".."])
def test_project_must_be_a_plain_name(tiny_bert, toy_umsab, tmp_path, project):
    from conftest import REPO, tiny_recipe_overrides

    from xlingual.config import load_recipe

    base = tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "r")
    with pytest.raises(ConfigError, match=r"logging.project: .* must be a plain name"):
        load_recipe(REPO / "recipes/umsab_e5small.yaml", [*base, f"logging.project={project}"])
