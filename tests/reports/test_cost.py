"""Cost in training-run equivalents: each distinct training behind a model counts once."""

from __future__ import annotations

from xlingual.config import RecipeConfig
from xlingual.cost import combined_cost, run_cost, training_cost
from xlingual.io import atomic_write_json
from xlingual.results import ProtocolRecord


def write_run(folder, cost):
    """A results.json that records only what cost accounting reads."""
    atomic_write_json(folder / "results.json", {
        "status": "complete", "source_language": "english", "label_scheme": {"name": "b", "names": ["n", "p"]},
        "splits": {}, "protocol": {**ProtocolRecord().__dict__, "cost": cost}})
    return folder


def test_students_of_one_teacher_share_its_cost_in_a_soup(tmp_path):
    seeds = [write_run(tmp_path / f"default{i}", {"runs": 1.0, "own_training": 1.0, "teachers": []})
             for i in range(3)]
    teacher = write_run(tmp_path / "soup", combined_cost(seeds))
    assert run_cost(teacher) == 3.0
    students = [write_run(tmp_path / f"student{i}", {"runs": 4.0, "own_training": 1.0,
                                                     "teachers": [{"run": str(teacher), "runs": 3.0}]})
                for i in range(3)]
    assert run_cost(students[0]) == 4.0
    assert combined_cost(students)["runs"] == 6.0  # 3 teachers + 3 students, not 3 × 4
    assert combined_cost([*students, *seeds])["runs"] == 6.0  # the teachers' runs again: still once


def test_a_teacher_that_moved_counts_as_recorded_and_old_runs_count_one(tmp_path):
    old = tmp_path / "old"
    old.mkdir()  # a run from before cost accounting (no results.json here at all)
    assert run_cost(old) == 1.0
    student = write_run(tmp_path / "student", {"runs": 4.0, "own_training": 1.0,
                                               "teachers": [{"run": str(tmp_path / "gone"), "runs": 3.0}]})
    assert run_cost(student) == 4.0


def test_an_ensemble_of_runs_that_share_a_teacher_counts_it_once(tmp_path):
    teacher = write_run(tmp_path / "teacher", {"runs": 1.0, "own_training": 1.0, "teachers": []})
    a, b = (write_run(tmp_path / name, {"runs": 2.0, "own_training": 1.0, "teachers": [{"run": str(teacher),
                                                                                          "runs": 1.0}]})
            for name in ("a", "b"))
    cost = training_cost(RecipeConfig(), [{"run": str(a)}, {"run": str(b)}])
    assert cost["runs"] == 4.0 and [m["runs"] for m in cost["teachers"]] == [2.0, 2.0]  # 1 + a + b + teacher


def test_a_moved_teacher_of_several_students_counts_once(tmp_path):
    gone = str(tmp_path / "gone")  # a 3-run teacher whose folder moved: its cost as recorded, once
    students = [write_run(tmp_path / f"s{i}", {"runs": 4.0, "own_training": 1.0,
                                               "teachers": [{"run": gone, "runs": 3.0}]}) for i in range(2)]
    assert combined_cost(students)["runs"] == 5.0
    assert training_cost(RecipeConfig(), [{"run": gone}, {"run": gone}])["runs"] == 2.0  # 1 + the moved run's 1
