"""Tests on the real multilingual-e5-small encoder and UMSAB data from ../shared (marker ``real``).

They skip with a reason where ../shared is absent. Kept small (a subset, one short epoch)
so they check the real code path — XLM-R SentencePiece vocabulary, mean pooling over a
BERT without pooler weights, every UMSAB language — not the accuracy of the recipe.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO

import xlingual

pytestmark = pytest.mark.real


def test_real_encoder_trains_and_scores_every_umsab_language(e5_small, umsab_real, tmp_path):
    overrides = [f"model.name={e5_small}", f"data.root={umsab_real}", "data.max_train_examples=96",
                 "data.max_eval_examples=24", "training.epochs=1", "training.batch_size=16",
                 f"output_dir={tmp_path / 'run'}"]
    run = xlingual.train(REPO / "recipes" / "umsab_e5small_lora.yaml", overrides, progress=False)
    results = json.loads((run / "results.json").read_text())
    languages = results["splits"]["test"]["languages"]
    assert sorted(languages) == ["arabic", "english", "french", "german", "hindi", "italian", "portuguese", "spanish"]
    assert all(m["n"] == 24 for m in languages.values())
    size = sum(p.stat().st_size for p in (run / "checkpoint").glob("adapter_model.safetensors"))
    assert 0 < size < 10 * 2**20
    classifier = xlingual.load(run)
    rows = [json.loads(line) for line in (run / "predictions" / "hindi.test.jsonl").read_text().splitlines()]
    assert [p.label for p in classifier.predict([r["text"] for r in rows])] == [r["prediction"] for r in rows]


def test_real_encoder_embeddings_align_translations(e5_small):
    """The pretrained encoder already places translations close: a sanity check of loading and pooling."""
    import torch

    from xlingual.config import load_recipe
    from xlingual.inference import Classifier
    from xlingual.labels import LabelScheme
    from xlingual.modeling.build import build_model

    recipe = load_recipe(None, [f"model.name={e5_small}", "model.text_prefix=query: "])
    model, tokenizer = build_model(recipe, LabelScheme.build("sentiment3"))
    classifier = Classifier(model, tokenizer)
    english = classifier.embed(["I love this film", "The train is late again", "My cat sleeps all day"])
    spanish = classifier.embed(["Me encanta esta película", "El tren llega tarde otra vez",
                                "Mi gato duerme todo el día"])
    similarity = torch.nn.functional.normalize(english, dim=-1) @ torch.nn.functional.normalize(spanish, dim=-1).T
    assert similarity.argmax(dim=1).tolist() == [0, 1, 2]


def test_subword_sampling_and_code_switching_on_the_real_tokenizer_and_word_lists(e5_small, umsab_real):
    from transformers import AutoTokenizer

    from xlingual.config import CodeSwitchConfig
    from xlingual.data.augment import SubwordSampler
    from xlingual.data.code_switch import load_code_switcher

    tokenizer = AutoTokenizer.from_pretrained(e5_small)
    sampler = SubwordSampler(tokenizer)
    for language in ("english", "spanish", "arabic", "hindi"):
        tweets = (umsab_real / language / "train_text.txt").read_text(encoding="utf-8").split("\n")[:50]
        for seed, tweet in enumerate(tweets):
            ids = tokenizer("query: " + tweet)["input_ids"]
            view = sampler.sample(ids, seed)
            assert view == sampler.sample(ids, seed) and tokenizer.decode(view) == tokenizer.decode(ids), tweet
    dictionaries = umsab_real.parent / "dictionaries"
    if not (dictionaries / "en-es.txt").is_file():
        pytest.skip(f"real-data test: {dictionaries} not found")
    config = CodeSwitchConfig(dictionaries=str(dictionaries / "en-{code}.txt"))
    switcher, record = load_code_switcher(config, ["spanish", "hindi", "german"], seed=1)
    assert record["languages"] == ["german", "spanish"] and record["without_word_list"] == ["hindi"]
    english = (umsab_real / "english" / "train_text.txt").read_text(encoding="utf-8").split("\n")
    _, counts = switcher.switch(english, 0)
    assert 0.2 < counts["replaced"] / counts["covered"] < 0.8 and counts["covered"] / counts["words"] > 0.3


def test_real_encoder_student_with_soft_labels_code_switching_and_consistency(e5_small, umsab_real, tmp_path):
    """Every part of the target-text family on the real encoder, on a subset: a teacher, its pseudo-labels, and a
    student trained on soft targets, code-switched English and consistency on target text at once."""
    from xlingual.cli import main

    dictionaries = umsab_real.parent / "dictionaries"
    if not (dictionaries / "en-es.txt").is_file():
        pytest.skip(f"real-data test: {dictionaries} not found")
    base = [f"model.name={e5_small}", f"data.root={umsab_real}", "data.max_train_examples=64",
            "data.max_eval_examples=16", "training.epochs=1", "data.target_languages=[spanish]"]
    teacher = xlingual.train(REPO / "recipes" / "umsab_e5small.yaml", [*base, f"output_dir={tmp_path / 't'}"],
                             progress=False)
    pseudo = tmp_path / "pseudo"
    assert main(["pseudo-label", str(teacher), "--out", str(pseudo), "--rule", "class-balanced", "--k", "8"]) == 0
    student = xlingual.train(REPO / "recipes" / "umsab_e5small_consistency.yaml", [
        *base, f"output_dir={tmp_path / 's'}", f"data.pseudo_labeled={{root: {pseudo}, targets: soft}}",
        f"data.code_switch={{dictionaries: '{dictionaries}/en-{{code}}.txt'}}",
        "alignment.unlabeled_target.max_examples=32"], progress=False)
    results = json.loads((student / "results.json").read_text())
    protocol = results["protocol"]
    assert protocol["target_resources"] == ["unlabeled-target", "bilingual-dictionary", "pseudo-labels"]
    assert protocol["cost"]["runs"] == 2.0 and protocol["pseudo_labels"]["targets"] == "soft"
    assert protocol["code_switch"]["languages"] == ["spanish"] and protocol["code_switch"]["replaced_of_words"] > 0.1
    log = [json.loads(line) for line in (student / "logs" / "train_log.jsonl").read_text().splitlines()]
    assert any("consistency" in record for record in log)
