"""Checkpoint averaging: the maths on tiny tensors, and a run that averages its epoch-end snapshots."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from xlingual.io import read_json
from xlingual.training.averaging import RunningAverage, average_state_dicts


def test_average_of_identical_states_is_the_state():
    state = {"w": torch.randn(3, 4), "b": torch.randn(4).half(), "ids": torch.arange(3)}
    averaged = average_state_dicts([state, {k: v.clone() for k, v in state.items()}, state])
    for key, value in state.items():
        assert averaged[key].dtype == value.dtype
        assert torch.equal(averaged[key], value)


def test_running_average_is_the_uniform_mean():
    states = [{"w": torch.full((2,), float(i))} for i in (1, 2, 6)]
    assert torch.allclose(average_state_dicts(states)["w"], torch.full((2,), 3.0))
    running = RunningAverage()
    running.update(states[0])
    saved = running.state_dict()
    restored = RunningAverage()
    restored.load_state_dict(saved, {"w": torch.float32})
    for state in states[1:]:
        restored.update(state)
    assert restored.count == 3 and torch.allclose(restored.result()["w"], torch.full((2,), 3.0))


@pytest.mark.parametrize("bad", [{"v": torch.zeros(2)}, {"w": torch.zeros(3)}])
def test_average_refuses_mismatched_states(bad):
    with pytest.raises(ValueError, match="cannot average"):
        average_state_dicts([{"w": torch.zeros(2)}, bad])


def test_run_averages_epoch_snapshots_and_keeps_them(train_tiny):
    run = train_tiny(**{"training.epochs": 3, "averaging.keep_snapshots": "true", "averaging.save": "averaged"})
    results = read_json(run / "results.json")
    averaging = results["training"]["averaging"]
    assert averaging["snapshots"] == 3 and averaging["saved"] == "averaged"
    assert 0 <= averaging["selection_macro_f1"] <= 1
    assert results["protocol"]["checkpoint_averaging"]["saved"] == "averaged"
    snapshots = sorted((run / "snapshots").glob("*.safetensors"))
    assert len(snapshots) == 3
    expected = average_state_dicts(load_file(str(p)) for p in snapshots)
    saved = load_file(str(run / "checkpoint" / "model.safetensors"))
    for key, value in expected.items():
        assert torch.allclose(saved[key], value, atol=1e-6), key


def test_one_snapshot_warns_that_the_average_is_the_last_checkpoint(train_tiny, capsys):
    run = train_tiny(**{"training.epochs": 1, "averaging.save": "averaged"})
    assert read_json(run / "results.json")["training"]["averaging"]["snapshots"] == 1
    err = capsys.readouterr().err
    assert "one snapshot only" in err and "averaging.every_steps" in err


def test_run_can_keep_the_selected_checkpoint_beside_the_average(train_tiny):
    run = train_tiny(**{"training.epochs": 2, "averaging.save": "selected"})
    results = read_json(run / "results.json")
    assert results["training"]["averaging"]["saved"] == "selected"
    assert not (run / "snapshots").exists()
