"""The runner owns a run's stages: callbacks see them in order, and nothing is written before the folder stage."""

from __future__ import annotations

import pytest
from conftest import tiny_recipe_overrides

import xlingual
from xlingual.config import load_recipe
from xlingual.errors import DataError
from xlingual.results import Results
from xlingual.runner import STAGES, Runner


class Recorder(xlingual.Callback):
    """Every event in order, with what the run folder held at that moment."""

    def __init__(self, out) -> None:
        self.out = out
        self.events: list[tuple] = []

    def on_stage_begin(self, record):
        self.events.append(("begin", record["stage"], self.out.exists()))

    def on_stage_end(self, record):
        assert record["seconds"] >= 0
        self.events.append(("end", record["stage"], self.out.exists()))

    def on_train_begin(self, record):
        self.events.append(("train_begin",))

    def on_train_end(self, record):
        self.events.append(("train_end",))

    def on_save(self, record):
        self.events.append(("save", record["what"], (self.out / "results.json").exists()))

    def on_evaluate(self, record):
        assert isinstance(record["results"], Results) and record["results"].splits
        self.events.append(("evaluate", (self.out / "results.json").exists()))


def recipe(tiny_bert, toy_umsab, out, **extra):
    return load_recipe(None, tiny_recipe_overrides(tiny_bert, toy_umsab, out, **{"training.epochs": 1, **extra}))


def test_callbacks_see_every_stage_in_order(tiny_bert, toy_umsab, tmp_path):
    out = tmp_path / "run"
    recorder = Recorder(out)
    run = Runner(recipe(tiny_bert, toy_umsab, out), callbacks=[recorder], progress=False).run()
    assert run.folder == out and (out / "results.json").is_file()
    stages = [(kind, name) for kind, name, *_ in (e for e in recorder.events if e[0] in ("begin", "end"))]
    assert stages == [(kind, name) for name in STAGES for kind in ("begin", "end")]
    # nothing exists before the folder stage: a mistake in the recipe, the data or the model leaves no trace
    assert [e[2] for e in recorder.events if e[0] == "begin" and e[1] in ("check", "data", "model", "folder")] == [
        False] * 4
    names = [e[0] if e[0] not in ("begin", "end") else f"{e[0]}:{e[1]}" for e in recorder.events]
    assert names.index("begin:train") < names.index("train_begin") < names.index("train_end") < names.index(
        "end:train")
    assert ("save", "checkpoint", False) in recorder.events  # the checkpoint is saved before it is scored
    assert ("evaluate", False) in recorder.events  # the scores reach callbacks before results.json is written
    assert recorder.events.index(("save", "results", True)) > names.index("begin:write")


def test_a_failing_stage_ends_the_run_without_its_end_event(tiny_bert, toy_umsab, tmp_path):
    out = tmp_path / "run"
    recorder = Recorder(out)
    broken = recipe(tiny_bert, toy_umsab, out, **{"data.root": str(tmp_path / "missing")})
    with pytest.raises(DataError, match="missing"):
        Runner(broken, callbacks=[recorder], progress=False).run()
    assert [e[:2] for e in recorder.events] == [("begin", "check"), ("end", "check"), ("begin", "data")]
    assert not out.exists()


def test_plain_objects_with_some_events_are_callbacks_too(tiny_bert, toy_umsab, tmp_path):
    seen = []

    class Stages:
        def on_stage_end(self, record):
            seen.append(record["stage"])

    xlingual.fit(recipe(tiny_bert, toy_umsab, tmp_path / "run"), train=(["good", "bad", "fine"] * 4,
                                                                         ["positive", "negative", "neutral"] * 4),
                 callbacks=[Stages()], progress=False)
    assert seen == list(STAGES)


class Stages(xlingual.Callback):
    def __init__(self) -> None:
        self.begun, self.ended, self.saved = [], [], []

    def on_stage_begin(self, record):
        self.begun.append(record["stage"])

    def on_stage_end(self, record):
        self.ended.append(record["stage"])

    def on_save(self, record):
        self.saved.append(record["what"])


def test_soup_interpolate_and_evaluate_are_jobs_with_the_same_events(train_tiny, tmp_path):
    from xlingual.merging import InterpolateJob, SoupJob, interpolate, soup
    from xlingual.runner import EvaluateJob, evaluate_run

    run = train_tiny(**{"training.epochs": 1})
    twin = train_tiny(out=tmp_path / "twin", **{"training.epochs": 1, "training.seed": 2})
    for job, make in ((SoupJob, lambda cb: soup([run, twin], tmp_path / "soup", progress=False, callbacks=cb)),
                      (InterpolateJob, lambda cb: interpolate(run, [0.5], tmp_path / "wiseft", head="kept",
                                                              progress=False, callbacks=cb))):
        seen = Stages()
        out = make([seen])
        assert seen.begun == seen.ended == list(job.stages) and seen.saved == ["checkpoint", "results"]
        assert (out / "results.json").is_file()
    seen = Stages()
    result = evaluate_run(run, progress=False, name="again", callbacks=[seen])
    assert seen.begun == seen.ended == list(EvaluateJob.stages) and seen.saved == ["results"]
    assert all(result.matches_saved.values())  # the same scores as the run's own results.json
    seen = Stages()
    evaluate_run(run, progress=False, callbacks=[seen])  # nothing to write: no write stage
    assert seen.begun == list(EvaluateJob.stages)[:-1]
