"""Alignment diagnostics: the metrics on toy matrices with known answers, and ``diagnose`` end to end on tiny BERT."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SHARED, png_size, toy_sentences

from xlingual.errors import XlingualError
from xlingual.reports.diagnostics import (
    diagnose,
    language_id_probe_accuracy,
    linear_cka,
    load_embedder,
    mean_cosine_true_vs_random,
    pca_2d,
    register,
    retrieval_accuracy,
)


def random_matrix(n: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def random_rotation(d: int, seed: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(random_matrix(d, d, seed))
    return q


# ----------------------------------------------------------------------------- metrics


def test_identical_translations_retrieve_perfectly_and_have_cka_one():
    a = random_matrix(50, 16, 0)
    assert retrieval_accuracy(a, a.clone()) == 1.0
    assert retrieval_accuracy(a.clone(), a) == 1.0
    assert linear_cka(a, a.clone()) == pytest.approx(1.0, abs=1e-12)


def test_retrieval_counts_misses_and_accepts_numpy():
    a = np.eye(4)
    b = a[[1, 0, 2, 3]]  # first two swapped: rows 2 and 3 still find their partner
    assert retrieval_accuracy(a, b) == 0.5
    assert retrieval_accuracy(b, a) == 0.5
    assert retrieval_accuracy(a, b, chunk=1) == 0.5  # chunking gives the same answer


def test_cka_is_invariant_to_rotation_and_isotropic_scaling():
    x = random_matrix(200, 12, 1)
    assert linear_cka(x, 3.5 * x @ random_rotation(12, 2)) == pytest.approx(1.0, abs=1e-10)
    y = random_matrix(200, 12, 3) + 0.5 * x
    base = linear_cka(x, y)
    assert 0.05 < base < 0.95
    assert linear_cka(x @ random_rotation(12, 4) * 0.01, y) == pytest.approx(base, abs=1e-10)
    assert linear_cka(x, y @ random_rotation(12, 5) * 7.0) == pytest.approx(base, abs=1e-10)
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x), abs=1e-12)


def test_cka_is_near_zero_for_independent_matrices():
    assert linear_cka(random_matrix(4000, 8, 6), random_matrix(4000, 8, 7)) < 0.02


def test_cka_gram_form_matches_feature_form_when_n_is_below_d():
    x, y = random_matrix(10, 40, 8), random_matrix(10, 40, 9)
    # with n < d the Gram form is used; computed by hand here in the feature form
    xc, yc = x - x.mean(0), y - y.mean(0)
    expected = float((yc.T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc.T @ yc).norm()))
    assert linear_cka(x, y) == pytest.approx(expected, rel=1e-10)
    assert linear_cka(x, y[:, :5]) == pytest.approx(
        float((yc[:, :5].T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc[:, :5].T @ yc[:, :5]).norm())), rel=1e-10)


def test_true_pairs_are_closer_than_random_pairs():
    a = random_matrix(300, 32, 10)
    b = a + 0.1 * random_matrix(300, 32, 11)
    true, other = mean_cosine_true_vs_random(a, b, seed=0)
    assert true > 0.95
    assert abs(other) < 0.1
    assert mean_cosine_true_vs_random(a, b, seed=0) == (true, other)  # seeded: reproducible


def test_random_pairs_never_match_their_own_partner():
    a = random_matrix(2, 4, 12)
    true, other = mean_cosine_true_vs_random(a, a, seed=3)
    assert true == pytest.approx(1.0)
    assert other == pytest.approx(float(torch.nn.functional.cosine_similarity(a[0], a[1], dim=0)))


def test_language_probe_separates_clusters_and_is_at_chance_for_one_distribution():
    shift = torch.zeros(16, dtype=torch.float64)
    shift[0] = 6.0
    separated = {"english": random_matrix(150, 16, 13), "spanish": random_matrix(150, 16, 14) + shift,
                 "german": random_matrix(150, 16, 15) - shift}
    assert language_id_probe_accuracy(separated, seed=0) >= 0.98
    same = {"english": random_matrix(300, 16, 16), "spanish": random_matrix(300, 16, 17)}
    assert 0.35 < language_id_probe_accuracy(same, seed=0) < 0.65
    assert language_id_probe_accuracy(same, seed=0) == language_id_probe_accuracy(same, seed=0)


def test_pca_shape_and_first_component_follows_the_largest_variance():
    x = random_matrix(500, 6, 18)
    direction = torch.nn.functional.normalize(torch.tensor([1.0, 2.0, 0.0, -1.0, 0.0, 0.5], dtype=torch.float64),
                                              dim=0)
    x = x + 10.0 * random_matrix(500, 1, 19) * direction + 3.0
    coordinates = pca_2d(x)
    assert coordinates.shape == (500, 2)
    centred = x - x.mean(0)
    along = centred @ direction
    assert abs(float(torch.corrcoef(torch.stack([coordinates[:, 0], along]))[0, 1])) > 0.99
    assert coordinates[:, 0].var() > 10 * coordinates[:, 1].var()
    assert coordinates.mean(0).abs().max() < 1e-9  # centred
    assert pca_2d(x.numpy()).shape == (500, 2)


# ----------------------------------------------------------------------------- end to end


def write_pairs(root: Path, n: int = 20) -> Path:
    """A tiny Tatoeba-style folder from the toy vocabulary (line i of each file translates line i)."""
    root.mkdir(parents=True, exist_ok=True)
    english, _ = toy_sentences("english", n, seed=5)
    for language, iso3 in (("spanish", "spa"), ("german", "deu")):
        other, _ = toy_sentences(language, n, seed=5)
        (root / f"tatoeba.{iso3}-eng.{iso3}").write_text("\n".join(other) + "\n", encoding="utf-8")
        (root / f"tatoeba.{iso3}-eng.eng").write_text("\n".join(english) + "\n", encoding="utf-8")
    return root


def check_result(result: dict, out: Path, languages: list[str]) -> None:
    assert result["written"] == [str(out / "diagnostics.json"), str(out / "pca.png")]
    saved = json.loads((out / "diagnostics.json").read_text(encoding="utf-8"))
    assert saved == result
    assert list(saved["languages"]) == languages
    for row in saved["languages"].values():
        assert row["pairs"] == 20
        for key in ("retrieval_at_1_en_to_x", "retrieval_at_1_x_to_en"):
            assert 0.0 <= row[key] <= 1.0
        assert -1.0 <= row["cosine_random"] <= 1.0
        assert row["cka"] is None or 0.0 <= row["cka"] <= 1.0 + 1e-9
    probe = saved["language_id_probe"]
    assert probe["languages"] == ["english", *languages]
    assert 0.0 <= probe["accuracy"] <= 1.0
    width, height = png_size(out / "pca.png")
    assert width >= 400 and height >= 300


def test_diagnose_end_to_end_on_tiny_bert(tiny_bert, tmp_path):
    pairs = write_pairs(tmp_path / "tatoeba")
    out = tmp_path / "diag"
    result = diagnose(tiny_bert, pairs, ["spanish", "de"], out=out, progress=False)
    check_result(result, out, ["spanish", "german"])
    assert result["kind"] == "encoder" and result["pca"]["source"] == "translation pairs"
    assert result["pca"]["points"] == sum(result["language_id_probe"]["sentences"]) <= 60
    again = diagnose(tiny_bert, pairs, ["spanish", "de"], out=tmp_path / "again", progress=False)
    assert again["languages"] == result["languages"]  # deterministic


def test_diagnose_plots_labelled_test_data(tiny_bert, toy_umsab, tmp_path):
    pairs = write_pairs(tmp_path / "tatoeba")
    out = tmp_path / "diag"
    result = diagnose(tiny_bert, pairs, ["spanish"], data_root=toy_umsab, max_pairs=20, out=out, progress=False)
    check_result(result, out, ["spanish"])
    assert result["pca"]["points"] == 2 * 36  # english + spanish test splits of the toy data


def fake_run(tiny_bert: Path, folder: Path) -> Path:
    """A run folder with an untrained checkpoint (saved, not trained) and a recipe naming its languages."""
    from xlingual.checkpoint import save_checkpoint
    from xlingual.config import load_recipe
    from xlingual.labels import LabelScheme
    from xlingual.modeling.build import build_model

    recipe = load_recipe(None, [f"model.name={tiny_bert}", "model.max_length=32"])
    model, tokenizer = build_model(recipe, LabelScheme.build("sentiment3"))
    model.config.text_prefix = "query: "
    save_checkpoint(model, tokenizer, folder / "checkpoint")
    (folder / "config.yaml").write_text("data:\n  target_languages: [spanish, french]\n", encoding="utf-8")
    return folder


def test_diagnose_a_run_folder_uses_its_languages_prefix_and_folder(tiny_bert, tmp_path):
    run = fake_run(tiny_bert, tmp_path / "run")
    pairs = write_pairs(tmp_path / "tatoeba")
    result = diagnose(run, pairs, progress=False)
    check_result(result, run / "diagnostics", ["spanish"])
    assert result["kind"] == "run" and result["text_prefix"] == "query: "
    assert result["skipped_languages"] == ["french"]  # in the recipe, but no pairs in the folder
    assert load_embedder(run / "checkpoint", "").text_prefix == ""


def test_diagnose_an_encoder_writes_beside_the_working_directory(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pairs = write_pairs(tmp_path / "tatoeba")
    result = diagnose(tiny_bert, pairs, ["german"], max_pairs=5, progress=False)
    assert result["written"][0] == str(Path("diagnostics-tiny-bert") / "diagnostics.json")
    assert (tmp_path / "diagnostics-tiny-bert" / "pca.png").is_file()


def test_load_embedder_applies_the_text_prefix(tiny_bert):
    assert load_embedder(tiny_bert).text_prefix == ""
    classifier = load_embedder(tiny_bert, "query: ")
    assert classifier.text_prefix == "query: "
    assert classifier.embed(["me encanta"]).shape == (1, 32)


def test_user_mistakes_name_the_path(tiny_bert, tmp_path):
    pairs = write_pairs(tmp_path / "tatoeba")
    with pytest.raises(XlingualError, match="nowhere"):
        diagnose(tmp_path / "nowhere", pairs, ["spanish"], out=tmp_path / "d", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(XlingualError, match=r"empty: no config\.json"):
        diagnose(tmp_path / "empty", pairs, ["spanish"], out=tmp_path / "d", progress=False)
    with pytest.raises(XlingualError, match="no-pairs"):
        diagnose(tiny_bert, tmp_path / "no-pairs", ["spanish"], out=tmp_path / "d", progress=False)
    with pytest.raises(XlingualError, match=r"tatoeba.*'french'"):
        diagnose(tiny_bert, pairs, ["french"], out=tmp_path / "d", progress=False)
    with pytest.raises(XlingualError, match="klingon"):
        diagnose(tiny_bert, pairs, ["klingon"], out=tmp_path / "d", progress=False)
    with pytest.raises(XlingualError, match="max-pairs"):
        diagnose(tiny_bert, pairs, ["spanish"], max_pairs=1, out=tmp_path / "d", progress=False)
    with pytest.raises(XlingualError, match="no-data"):
        diagnose(tiny_bert, pairs, ["spanish"], data_root=tmp_path / "no-data", out=tmp_path / "d", progress=False)
    assert not (tmp_path / "d").exists()


def test_cli_prints_table_and_paths(tiny_bert, tmp_path, capsys):
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    pairs = write_pairs(tmp_path / "tatoeba")
    out = tmp_path / "diag"
    args = parser.parse_args(["diagnose", str(tiny_bert), "--pairs", str(pairs), "--languages", "spanish,german",
                              "--max-pairs", "10", "--out", str(out), "--no-progress"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "| language | retrieval@1 en→x | x→en | cos true | cos random | CKA |" in printed
    assert "| spanish |" in printed and "| german |" in printed and "average" in printed
    assert "language-ID probe accuracy:" in printed
    assert f"wrote {out / 'pca.png'}" in printed
    args = parser.parse_args(["diagnose", str(tiny_bert), "--pairs", str(pairs), "--languages", "es",
                              "--max-pairs", "10", "--out", str(out), "--json", "--no-progress"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out)["languages"]["spanish"]["pairs"] == 10


@pytest.mark.real
def test_untrained_e5_small_retrieves_spanish_translations(e5_small, tmp_path):
    pairs = SHARED / "data" / "tatoeba"
    if not (pairs / "tatoeba.spa-eng.spa").is_file():
        pytest.skip(f"real-data test: {pairs} not found (../shared is not beside the checkout)")
    result = diagnose(e5_small, pairs, ["spanish"], max_pairs=200, out=tmp_path / "diag", text_prefix="query: ",
                      progress=False)
    spanish = result["languages"]["spanish"]
    assert spanish["retrieval_at_1_en_to_x"] > 0.8
    assert spanish["retrieval_at_1_x_to_en"] > 0.8
    assert spanish["cosine_true"] > spanish["cosine_random"]
