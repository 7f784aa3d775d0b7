"""LP-FT, WiSE-FT as a recipe step, and EM label-prior correction."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from xlingual.config import load_recipe
from xlingual.errors import ConfigError
from xlingual.evaluation.prior_correction import (
    adjust_priors,
    calibrate,
    class_frequencies,
    em_priors,
    estimate_target_priors,
    fit_bcts,
    fit_label_shift,
)
from xlingual.io import read_json


def _posteriors(n: int, priors: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact posteriors of a 1-d Gaussian class model (means -2, 0, 2; unit variance) under ``priors``."""
    labels = torch.multinomial(priors, n, replacement=True, generator=generator)
    x = torch.randn(n, generator=generator) + (labels.float() - 1) * 2
    likelihood = torch.exp(-0.5 * (x[:, None] - torch.tensor([-2.0, 0.0, 2.0])) ** 2)
    return likelihood, labels


def test_em_recovers_a_known_prior_shift():
    generator = torch.Generator().manual_seed(0)
    source = torch.tensor([1 / 3, 1 / 3, 1 / 3])
    target = torch.tensor([0.6, 0.3, 0.1])
    likelihood, labels = _posteriors(20000, target, generator)
    posteriors = likelihood * source / (likelihood * source).sum(1, keepdim=True)  # a calibrated source model
    estimate, iterations = em_priors(posteriors, source)
    assert torch.allclose(estimate, target, atol=0.02) and iterations > 1
    before = (posteriors.argmax(1) == labels).float().mean()
    after = (adjust_priors(posteriors, source, estimate).argmax(1) == labels).float().mean()
    assert after > before + 0.02


def test_em_keeps_unshifted_priors_and_adjust_is_identity_at_equal_priors():
    generator = torch.Generator().manual_seed(1)
    priors = torch.tensor([0.2, 0.5, 0.3])
    likelihood, _ = _posteriors(20000, priors, generator)
    posteriors = likelihood * priors / (likelihood * priors).sum(1, keepdim=True)
    assert torch.allclose(em_priors(posteriors, priors)[0], priors, atol=0.02)
    assert torch.allclose(adjust_priors(posteriors, priors, priors), posteriors, atol=1e-6)
    assert torch.allclose(class_frequencies([0, 0, 1], 3), torch.tensor([3 / 6, 2 / 6, 1 / 6]))


def test_bcts_recovers_temperature_and_bias_and_stops_em_collapsing():
    """An under-confident model that leans to the middle class (like an epoch-1 fine-tuned model): EM on its raw
    posteriors drives that class's prior to 1 (every prediction one class); after bias-corrected temperature
    scaling fitted on labelled source dev data, EM finds the true target priors."""
    generator = torch.Generator().manual_seed(2)
    uniform = torch.tensor([1 / 3, 1 / 3, 1 / 3])
    lean = torch.tensor([0.0, 1.5, 0.0])

    def model(likelihood: torch.Tensor) -> torch.Tensor:
        return torch.softmax(likelihood.log() / 4 + lean, dim=1)

    dev_likelihood, dev_labels = _posteriors(5000, uniform, generator)
    temperature, bias = fit_bcts(model(dev_likelihood), dev_labels.tolist())
    assert temperature == pytest.approx(0.25, abs=0.03)  # undoes the division by 4
    assert torch.allclose(bias, -(lean - lean.mean()) / 0.25, atol=0.4)
    source = class_frequencies(dev_labels.tolist(), 3)
    for target in (uniform, torch.tensor([0.6, 0.3, 0.1])):
        likelihood, _ = _posteriors(20000, target, generator)
        raw, _ = em_priors(model(likelihood), source)
        assert raw.max() > 0.95  # the collapse
        estimate, _ = em_priors(calibrate(model(likelihood), temperature, bias), source)
        assert torch.allclose(estimate, target, atol=0.03)
        fit = fit_label_shift(model(dev_likelihood), dev_labels.tolist())  # the two steps as one call
        assert torch.allclose(estimate_target_priors(model(likelihood), fit)[0], estimate, atol=1e-5)
        mean = model(likelihood).mean(0)  # the plain mean stays pulled toward the model's lean
        assert (mean - target).abs().sum() > (estimate - target).abs().sum()


def test_prior_correction_in_a_run_is_recorded_as_transductive(train_tiny):
    run = train_tiny(**{"evaluation.prior_correction": "train"})
    results = read_json(run / "results.json")
    assert "prior-correction" in results["protocol"]["target_resources"]
    assert "transductive" in results["protocol"]["prior_correction"]
    record = results["splits"]["test"]["prior_correction"]
    assert set(record) == {"spanish", "german"}
    assert abs(sum(record["spanish"]["target_priors"]) - 1) < 1e-3 and record["spanish"]["texts"] == 96


def test_prior_correction_may_not_read_an_evaluated_split():
    with pytest.raises(ConfigError, match=r"evaluation\.prior_correction"):
        load_recipe(None, ["evaluation.prior_correction=test"])


def test_lp_ft_starts_from_the_probe_head(train_tiny):
    run = train_tiny(**{"training.lp_ft": "true", "training.epochs": 1})
    record = read_json(run / "results.json")["training"]["lp_ft"]
    assert record["train_accuracy"] > 0.5 and record["l2"] > 0


def test_interpolation_step_in_a_run_records_every_alpha(train_tiny):
    run = train_tiny(**{"interpolation.alphas": "[0.0,0.5]", "training.epochs": 2})
    record = read_json(run / "results.json")["training"]["interpolation"]
    assert record["alphas"] == [0.0, 0.5, 1.0] and record["head"] == "refit"
    assert record["selection_macro_f1"][f"{record['chosen_alpha']:g}"] == max(record["selection_macro_f1"].values())


def test_interpolation_needs_a_selection_split():
    with pytest.raises(ConfigError, match="interpolation"):
        load_recipe(None, ["interpolation.head=kept", "training.select_best_on=last"])


def _extra_folder(tmp_path):
    """60 labelled English toy sentences as a text/labels pair, like tweeteval_en_extra."""
    from conftest import toy_sentences

    folder = tmp_path / "extra"
    folder.mkdir()
    texts, labels = toy_sentences("english", 60, seed=9)
    (folder / "train_text.txt").write_text("\n".join(texts), encoding="utf-8")
    (folder / "train_labels.txt").write_text("\n".join(map(str, labels)), encoding="utf-8")
    return folder


def test_extra_source_data_is_appended_and_recorded(train_tiny, tmp_path):
    folder = _extra_folder(tmp_path)
    run = train_tiny(**{"data.extra_source.root": str(folder), "data.extra_source.max_examples": 50})
    results = read_json(run / "results.json")
    record = results["protocol"]["extra_source_data"]
    assert {k: record[k] for k in ("files", "train_examples", "class_balanced")} == {
        "files": str(folder), "train_examples": 96 + 50, "class_balanced": False}
    assert sum(record["train_label_counts"].values()) == 96 + 50
    assert results["training"]["samples"] == 2 * (96 + 50)  # two epochs over both


def test_class_balanced_draw_is_equal_where_classes_allow_and_fixed():
    from xlingual.data.examples import Examples

    labels = [0] * 40 + [1] * 100 + [2] * 10  # skewed like TweetEval (neutral-heavy), one class scarce
    texts = [f"t{i}" for i in range(len(labels))]
    examples = Examples(texts, labels, "english", "train", "extra")
    equal = examples.balanced_subsample(30)
    assert sorted(Counter(equal.labels).values()) == [10, 10, 10]
    short = examples.balanced_subsample(60)  # class 2 has 10: the other 50 split 25/25
    assert Counter(short.labels) == {0: 25, 1: 25, 2: 10}
    assert Counter(examples.balanced_subsample(None).labels) == {0: 10, 1: 10, 2: 10}
    assert examples.balanced_subsample(60).texts == short.texts  # the same draw for every seed
    assert all(examples.texts[i] == t for i, t in zip(short.indices, short.texts, strict=True))
    assert len(examples.balanced_subsample(1000)) == 150  # more than there are: everything, as balanced as it gets
    assert len(Examples([], [], "english", "train", "empty").balanced_subsample(None)) == 0


def test_class_balanced_extra_source_warns_when_classes_cannot_be_equal(tmp_path, capsys):
    from xlingual.data.loading import load_extra_source

    folder = tmp_path / "extra"
    folder.mkdir()  # no positive tweets at all: the draw balances what there is and says so
    (folder / "train_text.txt").write_text("\n".join(f"text {i}" for i in range(20)), encoding="utf-8")
    (folder / "train_labels.txt").write_text("\n".join(["0"] * 10 + ["1"] * 10), encoding="utf-8")
    recipe = load_recipe(None, [f"data.extra_source.root={folder}", "data.extra_source.class_balanced=true"])
    drawn = load_extra_source(recipe.data)
    assert Counter(drawn.labels) == {0: 10, 1: 10}
    assert "cannot give equal classes (negative 10, neutral 10, positive 0)" in capsys.readouterr().err


def test_class_balanced_extra_source_is_recorded(train_tiny, tmp_path):
    folder = _extra_folder(tmp_path)
    run = train_tiny(**{"data.extra_source.root": str(folder), "data.extra_source.max_examples": 30,
                        "data.extra_source.class_balanced": True})
    record = read_json(run / "results.json")["protocol"]["extra_source_data"]
    assert record["class_balanced"] is True and record["train_examples"] == 96 + 30
    from xlingual.data.loading import load_extra_source

    recipe = load_recipe(None, [f"data.extra_source.root={folder}", "data.extra_source.max_examples=30",
                                "data.extra_source.class_balanced=true"])
    assert sorted(Counter(load_extra_source(recipe.data).labels).values()) == [10, 10, 10]


def test_extra_source_must_exist(tmp_path):
    from xlingual.data.loading import load_extra_source
    from xlingual.errors import DataError

    recipe = load_recipe(None, [f"data.extra_source.root={tmp_path / 'nowhere'}"])
    with pytest.raises(DataError, match=r"extra_source\.root"):
        load_extra_source(recipe.data)


def test_evaluate_with_prior_correction_records_it_and_claims_no_reproduction(train_tiny, tmp_path, capsys):
    from xlingual.cli import main

    run = train_tiny()
    capsys.readouterr()
    out = tmp_path / "prior"
    assert main(["evaluate", str(run), "--set", "evaluation.prior_correction=train", "--out", str(out),
                 "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "reproduces results.json" not in printed and "label-prior correction" in printed
    results = read_json(out / "results.json")
    assert "prior-correction" in results["protocol"]["target_resources"]
    assert set(results["splits"]["test"]["prior_correction"]) == {"spanish", "german"}


def test_prior_correction_reads_texts_cut_as_the_recipe_cuts_them(tiny_bert, toy_umsab, tmp_path, monkeypatch):
    """EM's target text is tokenised as evaluation tokenises it (data.truncation), not always cut at its head."""
    from conftest import REPO
    from transformers import AutoTokenizer

    from xlingual.data.loading import label_scheme, load_examples
    from xlingual.evaluation import splits
    from xlingual.testing import tiny_recipe_overrides

    overrides = tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "run")
    cut = [*overrides, "model.max_length=6"]
    recipe = load_recipe(REPO / "recipes" / "umsab_e5small.yaml",
                         [*cut, "data.truncation=tail", "evaluation.prior_correction=train"])
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    seen = []

    def uniform(model, tokens, *args, **kwargs):
        seen.append(tokens)
        return torch.full((len(tokens), 3), 1 / 3)

    monkeypatch.setattr(splits, "predict_probabilities", uniform)
    splits.prior_adjustments(None, tokenizer, recipe, label_scheme(recipe.data), "cpu", None, {"spanish"})
    text = load_examples(recipe.data, "spanish", "train", labelled=False)
    tail = splits.tokenize(text, tokenizer, recipe).input_ids
    head = splits.tokenize(text, tokenizer, load_recipe(REPO / "recipes" / "umsab_e5small.yaml", cut)).input_ids
    assert tail != head  # the texts are long enough for the cut to matter
    assert seen[-1].input_ids == tail
