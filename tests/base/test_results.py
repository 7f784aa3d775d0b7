"""results.json is typed and versioned: written once, read by every consumer, old files read, newer refused."""

from __future__ import annotations

import json

import pytest

from xlingual.io import atomic_write_json
from xlingual.reports.compare import load_runs
from xlingual.results import (
    SCHEMA_VERSION,
    AveragingProtocolRecord,
    CostRecord,
    Results,
    ResultsError,
    SoupRecord,
    TrainingRecord,
    TruncationRecord,
)

UNVERSIONED = {  # the layout written before the schema existed (no schema_version, no training.objectives)
    "status": "complete", "recipe": "old", "method": "full", "model": "m", "seed": 3,
    "source_language": "english", "target_languages": ["spanish"],
    "label_scheme": {"name": "binary", "names": ["negative", "positive"]},
    "protocol": {"target_resources": ["zero-shot"], "model_selection": "source-dev", "files": {"train": "t"}},
    "trust_remote_code": False, "training": {"global_step": 4},
    "splits": {"test": {"languages": {
        "english": {"n": 2, "accuracy": 1.0, "macro_f1": 1.0, "per_class_f1": {"negative": 1.0, "positive": 1.0},
                    "confusion_matrix": [[1, 0], [0, 1]], "role": "source"},
        "spanish": {"n": 2, "accuracy": 0.5, "macro_f1": 0.333, "per_class_f1": {"negative": 0.667, "positive": 0.0},
                    "confusion_matrix": [[1, 0], [1, 0]], "role": "target"}},
        "summary": {"source_macro_f1": 1.0}, "seconds": 0.1, "samples_per_second": 40.0,
        "test_files": {"english": "a", "spanish": "b"}}},
    "wall_seconds": 1.0, "processes": 1, "versions": {"xlingual": "0.1.0"},
}


def test_an_unversioned_file_is_read_as_schema_1():
    results = Results.from_dict(UNVERSIONED)
    assert results.schema_version == 1 and results.scores("test", "spanish").macro_f1 == 0.333
    assert results.protocol.resources == ("zero-shot",) and results.scores("test", "german") is None
    written = results.to_dict()
    assert {k: v for k, v in written.items() if k != "schema_version"} == {
        **UNVERSIONED, "splits": {"test": {**UNVERSIONED["splits"]["test"], "test_fingerprints": {}}}}


def test_newer_or_incomplete_files_are_refused_by_name(tmp_path):
    with pytest.raises(ResultsError, match=rf"schema_version {SCHEMA_VERSION + 1} is newer .* upgrade xlingual"):
        Results.from_dict({**UNVERSIONED, "schema_version": SCHEMA_VERSION + 1})
    broken = {k: v for k, v in UNVERSIONED.items() if k != "label_scheme"}
    path = tmp_path / "run" / "results.json"
    atomic_write_json(path, broken)
    with pytest.raises(ResultsError, match=r"results\.json: label_scheme: missing"):
        Results.read(path)
    atomic_write_json(tmp_path / "ok" / "results.json", UNVERSIONED)
    with pytest.warns(UserWarning, match=r"label_scheme: missing .*skipped"):
        runs = load_runs([tmp_path])
    assert [run.recipe for run in runs] == ["old"]


def test_the_trainer_writes_the_current_schema(train_tiny):
    run = train_tiny(**{"training.epochs": 1})
    data = json.loads((run / "results.json").read_text())
    assert list(data)[:3] == ["schema_version", "status", "recipe"] and data["schema_version"] == SCHEMA_VERSION
    results = Results.read(run / "results.json")
    assert results.complete and results.to_dict() == data
    assert results.training.objectives == [] and results.training.global_step > 0
    # every record is typed, not loose keys a reader could drop
    assert isinstance(results.training, TrainingRecord) and isinstance(results.truncation, TruncationRecord)
    assert results.train_eval_overlap.train_examples > 0 and results.truncation.max_length > 0
    assert "data.root" in results.paths.paths
    assert isinstance(results.protocol.cost, CostRecord) and results.protocol.cost.runs == 1.0
    assert isinstance(results.protocol.checkpoint_averaging, AveragingProtocolRecord)  # the default averages


def test_evaluation_results_and_unknown_keys_survive_a_round_trip():
    evaluation = {
        **UNVERSIONED, "kind": "evaluation", "run": "runs/old-seed3",
        "evaluation": {"kind": "other-data", "evaluated_on": "reviews", "original_run": "/abs/runs/old-seed3",
                       "original_recipe": "old", "overrides": ["data.root=reviews"], "same_data_as_run": [],
                       "other_data": ["test/english", "test/spanish"]},
        "protocol": {**UNVERSIONED["protocol"], "dev_holdout": {"file": "dev_holdout.json", "languages": {}}},
        "truncation": {"max_length": 8, "strategy": "head", "splits": {}},
        "paths": {"paths": {}}, "train_eval_overlap": {"count": 0, "train_examples": 4},
        "written_to": "out/results.json", "from_a_later_minor_version": {"kept": True},
    }
    results = Results.from_dict(evaluation)
    assert results.other_data and results.evaluation.evaluated_on == "reviews"
    assert results.protocol.dev_holdout.file == "dev_holdout.json"
    assert results.extra == {"from_a_later_minor_version": {"kept": True}}
    written = results.to_dict()
    assert {k: v for k, v in written.items() if k != "schema_version"} == {
        **evaluation, "splits": {"test": {**UNVERSIONED["splits"]["test"], "test_fingerprints": {}}}}
    assert not Results.from_dict(UNVERSIONED).other_data


def test_records_are_typed_and_keep_what_another_version_wrote():
    data = {**UNVERSIONED, "training": {"global_step": 4, "resumed_from_step": 2, "new_counter": 7},
            "soup": {"kind": "uniform", "ingredients": [{"ingredient": "a", "kept": True}], "kept": ["a"],
                     "source_dev_macro_f1": None, "seeds": [1, 2]},
            "truncation": {"strategy": "head", "max_length": 8, "warn_above_fraction": 0.1, "splits": {}}}
    results = Results.from_dict(data)
    assert isinstance(results.training, TrainingRecord) and results.training.resumed_from_step == 2
    assert results.training.extra == {"new_counter": 7}  # unknown to this version: kept, and written back
    assert isinstance(results.soup, SoupRecord) and results.soup.seeds == [1, 2]
    assert results.truncation.max_length == 8 and results.interpolation is None
    written = results.to_dict()
    assert written["training"] == data["training"] and written["soup"] == data["soup"]
    assert "interpolation" not in written  # an optional record is written only when set


def test_records_given_as_mappings_become_typed():
    """Writers build records as plain mappings (the loop's summary, paths.json); readers always get types."""
    results = Results(status="complete", source_language="english",
                      label_scheme=Results.from_dict(UNVERSIONED).label_scheme, splits={},
                      training={"global_step": 3}, paths={"cwd": "/x", "paths": {}})
    assert results.training.global_step == 3 and results.paths.cwd == "/x"
    assert Results.from_dict(results.to_dict()).to_dict() == results.to_dict()
    assert Results(status="complete", source_language="english", label_scheme=results.label_scheme,
                   splits={}).to_dict()["training"] == {}  # a soup's or an evaluation's: empty, as before


def test_a_record_set_after_construction_is_typed_too():
    results = Results.from_dict(UNVERSIONED)
    results.soup = {"kind": "uniform", "ingredients": [], "kept": []}
    assert isinstance(results.soup, SoupRecord) and results.soup.kind == "uniform"
    assert results.to_dict()["soup"] == {"kind": "uniform", "ingredients": [], "kept": []}


def test_reading_a_record_like_the_dict_it_was_still_works_and_warns():
    results = Results.from_dict({**UNVERSIONED, "training": {"global_step": 4, "new_counter": 7}})
    with pytest.warns(DeprecationWarning, match=r"TrainingRecord\['global_step'\] is deprecated.*\.global_step"):
        assert results.training["global_step"] == 4
    with pytest.warns(DeprecationWarning):
        assert results.training["new_counter"] == 7
    with pytest.warns(DeprecationWarning), pytest.raises(KeyError):
        results.training["never_written"]
