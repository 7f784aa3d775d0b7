"""Soups, checkpoint averaging from snapshots, WiSE-FT interpolation and the linear probe, on the tiny model."""

from __future__ import annotations

import shutil

import pytest
import torch
from conftest import png_size
from safetensors.torch import load_file

from xlingual.checkpoint import load_checkpoint
from xlingual.cli import main
from xlingual.errors import RunFolderError
from xlingual.io import read_json
from xlingual.merging import interpolate, soup
from xlingual.modeling.weight_space import encoder_state, pretrained_encoder_state, set_interpolation
from xlingual.training.linear_probe import fit_linear_head


def _weights(run):
    return load_file(str(run / "checkpoint" / "model.safetensors"))


def test_soup_of_identical_runs_is_the_run(train_tiny, tmp_path):
    run = train_tiny()
    twin = tmp_path / "twin"
    shutil.copytree(run, twin)
    out = soup([run, twin], tmp_path / "soup", progress=False)
    original, souped = _weights(run), _weights(out)
    assert original.keys() == souped.keys()
    for key, value in original.items():
        assert torch.equal(souped[key], value), key
    results, saved = read_json(out / "results.json"), read_json(run / "results.json")
    assert results["soup"]["kept"] == [str(run), str(twin)] and results["recipe"].endswith("-soup")
    assert results["splits"]["test"]["languages"] == saved["splits"]["test"]["languages"]
    assert results["protocol"]["cost"]["runs"] == 2.0 and saved["protocol"]["cost"]["runs"] == 1.0  # two trainings


def test_a_soup_keeps_the_target_resources_of_every_ingredient(train_tiny, tmp_path):
    """A student's pseudo-labels stay in its weights: souped with a zero-shot run, the soup is not zero-shot."""
    from xlingual.io import atomic_write_json

    run = train_tiny()
    student = tmp_path / "student"
    shutil.copytree(run, student)
    record = read_json(student / "results.json")
    record["protocol"]["target_resources"] = ["pseudo-labels"]
    atomic_write_json(student / "results.json", record)
    out = soup([run, student], tmp_path / "soup", progress=False)
    assert read_json(out / "results.json")["protocol"]["target_resources"] == ["pseudo-labels"]
    same = soup([run, tmp_path / "soup"], tmp_path / "again", progress=False)  # zero-shot and pseudo-labels
    assert read_json(same / "results.json")["protocol"]["target_resources"] == ["pseudo-labels"]


def test_soup_of_snapshots_equals_the_in_run_average(train_tiny, tmp_path):
    run = train_tiny(**{"training.epochs": 3, "averaging.keep_snapshots": "true"})
    snapshots = sorted((run / "snapshots").glob("*.safetensors"))
    out = soup(snapshots, tmp_path / "averaged", progress=False)
    for key, value in _weights(run).items():
        assert torch.allclose(_weights(out)[key], value, atol=1e-6), key
    assert read_json(out / "results.json")["seed"] == read_json(run / "results.json")["seed"]  # one run's seed
    assert read_json(out / "results.json")["protocol"]["cost"]["runs"] == 1.0  # one training's snapshots


def test_one_snapshot_is_evaluated_alone_and_one_run_is_refused(train_tiny, tmp_path):
    run = train_tiny(**{"training.epochs": 2, "averaging.keep_snapshots": "true", "averaging.save": "selected"})
    first = sorted((run / "snapshots").glob("*.safetensors"))[0]  # epoch 1, whatever English dev picked
    out = soup([first], tmp_path / "epoch1", progress=False)
    saved = _weights(out)
    for key, value in load_file(str(first)).items():
        assert torch.equal(saved[key], value), key
    results = read_json(out / "results.json")
    assert results["protocol"]["weight_space"] == f"snapshot {first}"
    # neither English-dev selection nor averaging chose it: compare must not present it as either
    assert results["protocol"]["model_selection"] == f"fixed snapshot ({first.stem})"
    assert results["protocol"].get("checkpoint_averaging") is None and results["recipe"].endswith("-snapshot")
    with pytest.raises(RunFolderError, match="at least two ingredients"):
        soup([run], tmp_path / "alone", progress=False)


def test_greedy_soup_records_each_ingredient(train_tiny, tmp_path):
    runs = [train_tiny(out=tmp_path / f"seed{seed}", **{"training.seed": seed}) for seed in (1, 2)]
    out = soup(runs, tmp_path / "greedy", greedy=True, progress=False)
    record = read_json(out / "results.json")["soup"]
    assert record["kind"] == "greedy" and record["ingredients"][0]["kept"]
    scores = [r["dev_macro_f1"] for r in record["ingredients"]]
    assert scores == sorted(scores, reverse=True)
    # a soup of several seeds has no seed of its own (so `compare --baseline` never pairs it with one)
    seed = read_json(out / "results.json")["seed"]
    if len(record["kept"]) == 2:
        assert seed is None and record["seeds"] == [1, 2]
    else:
        assert seed == int(record["kept"][0][-1]) and "seeds" not in record


@pytest.mark.parametrize("change, message", [
    ({"data.label_scheme": "custom", "data.label_names": "[bad,meh,good]"}, "different labels"),
    ({"recipe": "recipes/umsab_e5small_lora.yaml"}, "different method"),
    ({"recipe": "recipes/umsab_e5small_lora.yaml", "lora.r": 4}, "different LoRA"),
    ({"model": "xlmr"}, "different base model"),
])
def test_soup_refuses_runs_that_cannot_be_averaged(train_tiny, tiny_xlmr, tmp_path, capsys, change, message):
    change = dict(change)
    first = train_tiny("recipes/umsab_e5small_lora.yaml" if change.get("recipe") and "lora.r" in change
                       else "recipes/umsab_e5small.yaml", out=tmp_path / "a")
    recipe = change.pop("recipe", "recipes/umsab_e5small.yaml")
    model = tiny_xlmr if change.pop("model", None) else None
    second = train_tiny(recipe, out=tmp_path / "b", model=model, **change)
    capsys.readouterr()
    assert main(["soup", str(first), str(second), "--out", str(tmp_path / "soup")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and str(second) in err
    assert not (tmp_path / "soup").exists()


def test_soup_refuses_a_folder_that_is_not_a_run(train_tiny, tmp_path, capsys):
    run = train_tiny()
    (tmp_path / "notes").mkdir()
    capsys.readouterr()
    assert main(["soup", str(run), str(tmp_path / "notes"), "--out", str(tmp_path / "soup")]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


def test_interpolation_ends_are_the_pretrained_and_the_fine_tuned_encoder(train_tiny, tiny_bert):
    run = train_tiny()
    model, _ = load_checkpoint(run)
    fine_tuned = encoder_state(model)
    pretrained = pretrained_encoder_state(model, str(tiny_bert))
    assert any(not torch.equal(pretrained[k], fine_tuned[k]) for k in fine_tuned)
    set_interpolation(model, pretrained, fine_tuned, 0.0)
    assert all(torch.equal(encoder_state(model)[k], pretrained[k]) for k in fine_tuned)
    set_interpolation(model, pretrained, fine_tuned, 1.0)
    assert all(torch.equal(encoder_state(model)[k], fine_tuned[k]) for k in fine_tuned)
    set_interpolation(model, pretrained, fine_tuned, 0.5)
    key = next(k for k in fine_tuned if not torch.equal(pretrained[k], fine_tuned[k]))
    assert torch.allclose(encoder_state(model)[key], (pretrained[key] + fine_tuned[key]) / 2, atol=1e-6)


@pytest.mark.parametrize("head", ["refit", "kept"])
def test_interpolate_chooses_alpha_on_source_dev_and_writes_a_run(train_tiny, tmp_path, head):
    run = train_tiny(**{"training.epochs": 3})
    out = interpolate(run, [0.0, 0.5], tmp_path / "wiseft", head=head, analysis=True, progress=False)
    results = read_json(out / "results.json")
    record = results["interpolation"]
    assert record["alphas"] == [0.0, 0.5, 1.0] and set(record["source_dev_macro_f1"]) == {"0", "0.5", "1"}
    best = max(record["source_dev_macro_f1"].values())
    assert record["source_dev_macro_f1"][f"{record['chosen_alpha']:g}"] == best
    assert record["chosen_on"] == "source-dev" and "WiSE-FT" in results["protocol"]["weight_space"]
    assert set(record["analysis"]) == {"0", "0.5", "1"}
    assert png_size(out / "interpolation_curve.png")[0] > 300
    assert results["recipe"].endswith(f"wiseft-{head}")
    if head == "kept":  # at α = 1 with the head kept, the run's own model comes back
        assert record["analysis"]["1"]["test"]["languages"] == {
            lang: m["macro_f1"] for lang, m in read_json(run / "results.json")["splits"]["test"]["languages"].items()}


def test_interpolate_refuses_alpha_outside_the_unit_interval(train_tiny, tmp_path, capsys):
    run = train_tiny()
    assert main(["interpolate", str(run), "--alpha", "0.5,1.5", "--out", str(tmp_path / "w")]) == 2
    assert "[0, 1]" in capsys.readouterr().err


def test_linear_probe_recovers_a_separable_rule():
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(300, 8, generator=generator)
    labels = (features @ torch.randn(3, 8, generator=generator).T).argmax(1)  # linearly separable by construction
    weight, bias = fit_linear_head(features, labels, 3)
    accuracy = ((features @ weight.T + bias).argmax(1) == labels).float().mean().item()
    assert weight.shape == (3, 8) and accuracy > 0.95
