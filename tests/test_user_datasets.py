"""Users' own datasets: no dev split, non-ISO language names, long texts, evaluation on other data, moved runs,
and layouts written by others (the Multilingual Amazon Reviews Corpus as its dataset card describes it)."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, tiny_recipe_overrides, toy_sentences, write_umsab

from xlingual.config import DataConfig
from xlingual.data.holdout import stratified_holdout
from xlingual.data.loading import load_examples
from xlingual.data.truncation import cut, encode, head_tail_sizes
from xlingual.errors import ConfigError, DataError


def data_config(**kwargs) -> DataConfig:
    return DataConfig(**kwargs).validate()  # a validated copy: validation never changes what it checks


def train_test_only(root: Path) -> Path:
    """The toy UMSAB layout without val files, as many downloaded datasets ship."""
    return write_umsab(root, {"train": 96, "test": 36})


# ----------------------------------------------------------------------------- dev hold-out


def test_stratified_holdout_keeps_class_shares_and_is_seeded():
    labels = [0] * 60 + [1] * 30 + [2] * 10
    dev = stratified_holdout(labels, 20, seed=3)
    assert Counter(labels[i] for i in dev) == {0: 12, 1: 6, 2: 2}
    assert dev == stratified_holdout(labels, 20, seed=3)
    assert dev != stratified_holdout(labels, 20, seed=4)
    assert dev == sorted(set(dev)) and len(dev) == 20
    # quotas that do not divide evenly still sum to the count asked for
    assert len(stratified_holdout([0, 0, 0, 1, 1, 2, 2], 3, seed=0)) == 3


def test_dev_fraction_holds_out_a_stratified_part_of_train(tmp_path):
    root = train_test_only(tmp_path / "data")
    config = data_config(root=str(root), target_languages=["spanish"], dev_fraction=0.25, dev_seed=7)
    train = load_examples(config, "english", "train")
    dev = load_examples(config, "english", "dev")
    assert len(dev) == 24 and len(train) == 72
    assert Counter(dev.labels) == {0: 8, 1: 8, 2: 8}  # the toy train split is balanced: so is the dev part
    assert not set(dev.indices) & set(train.indices) and sorted(dev.indices + train.indices) == list(range(96))
    assert "dev hold-out" in dev.origin and "dev_seed=7" in dev.origin
    again = load_examples(config, "english", "dev")
    assert again.indices == dev.indices and again.texts == dev.texts
    other = load_examples(data_config(root=str(root), target_languages=["spanish"], dev_fraction=0.25, dev_seed=8),
                          "english", "dev")
    assert other.indices != dev.indices


def test_missing_dev_split_error_suggests_dev_fraction(tmp_path):
    root = train_test_only(tmp_path / "data")
    with pytest.raises(DataError, match=r"split 'val' not found.*data\.dev_fraction.*data\.dev_root"):
        load_examples(data_config(root=str(root), target_languages=["spanish"]), "english", "dev")


def test_dev_root_reads_dev_from_elsewhere(tmp_path):
    root = train_test_only(tmp_path / "data")
    dev_root = write_umsab(tmp_path / "dev", {"val": 12})
    dev = load_examples(data_config(root=str(root), target_languages=["spanish"], dev_root=str(dev_root)),
                        "english", "dev")
    assert len(dev) == 12 and str(dev_root) in dev.origin


@pytest.mark.parametrize(("settings", "message"), [
    ({"dev_fraction": 1.5}, "data.dev_fraction: must be between 0 and 1"),
    ({"dev_size": 0}, "data.dev_size: must be a positive integer"),
    ({"dev_fraction": 0.1, "dev_root": "x"}, "set only one of"),
])
def test_dev_settings_are_checked(settings, message):
    with pytest.raises(ConfigError, match=message):
        data_config(**settings)


def test_dev_size_larger_than_train_is_a_data_error(tmp_path):
    root = train_test_only(tmp_path / "data")
    with pytest.raises(DataError, match=r"data.dev_size=96 holds out 96 of 96 examples"):
        load_examples(data_config(root=str(root), target_languages=["spanish"], dev_size=96), "english", "dev")


# ----------------------------------------------------------------------------- language names


def test_jp_folder_mapped_to_japanese(tmp_path):
    root = write_umsab(tmp_path / "data")
    (root / "spanish").rename(root / "jp")  # Webis-CLS-10 names its Japanese folder 'jp'
    with pytest.raises(DataError, match=r"no folder for language 'japanese'.*map it with data.language_names"):
        load_examples(data_config(root=str(root), target_languages=["japanese"]), "japanese", "test")
    config = data_config(root=str(root), target_languages=["jp"], language_names={"ja": "jp"})
    assert config.target_languages == ["japanese"] and config.language_names == {"japanese": "jp"}
    examples = load_examples(config, "jp", "test")
    assert examples.language == "japanese" and str(root / "jp") in examples.origin and len(examples) == 36


def test_language_names_in_templates_columns_and_hub_configs(tmp_path, monkeypatch):
    # a path template
    for split in ("train", "test"):
        (tmp_path / f"jp_{split}.csv").write_text("text,label\nsugoi,positive\n", encoding="utf-8")
    config = data_config(format="csv", root=str(tmp_path / "{language}_{split}.csv"), target_languages=["japanese"],
                         language_names={"japanese": "jp"})
    assert load_examples(config, "japanese", "test").texts == ["sugoi"]
    # a language column
    (tmp_path / "all.csv").write_text("text,label,lang\nsugoi,positive,jp\ngood,positive,en\n", encoding="utf-8")
    config = data_config(format="csv", root=str(tmp_path / "all.csv"), language_column="lang",
                         target_languages=["japanese"], language_names={"japanese": "jp"})
    examples = load_examples(config, "japanese", "test")
    assert examples.texts == ["sugoi"] and examples.language == "japanese"
    unmapped = data_config(format="csv", root=str(tmp_path / "all.csv"), language_column="lang",
                           target_languages=["japanese"])
    with pytest.raises(DataError, match=r"unknown language 'jp' in column 'lang'.*data.language_names"):
        load_examples(unmapped, "japanese", "test")
    # a hub config name
    import datasets

    seen = []

    def fake(name, config_name, split, revision=None):
        seen.append(config_name)
        return datasets.Dataset.from_dict({"text": ["sugoi"], "label": ["positive"]})

    monkeypatch.setattr(datasets, "load_dataset", fake)
    config = data_config(format="hub", root="someone/reviews", target_languages=["japanese"],
                         language_names={"japanese": "jp"})
    assert load_examples(config, "japanese", "test").language == "japanese" and seen == ["jp"]


def test_language_names_are_checked():
    with pytest.raises(ConfigError, match=r"data.language_names.klingon: unknown language"):
        data_config(language_names={"klingon": "tlh"})
    with pytest.raises(ConfigError, match=r"'X' names both japanese and chinese"):
        data_config(language_names={"japanese": "x", "chinese": "X"})


# ----------------------------------------------------------------------------- a layout written by others

# The Multilingual Amazon Reviews Corpus (amazon_reviews_multi) as its dataset card documents it: these columns,
# language codes de/en/es/fr/ja/zh, stars 1-5, splits train/validation/test, configs per language + all_languages.
MARC_COLUMNS = ["review_id", "product_id", "reviewer_id", "stars", "review_body", "review_title", "language",
                "product_category"]


def marc_rows(language: str, split: str, n: int = 10) -> list[dict]:
    seed = {"train": 1, "validation": 2, "test": 3}[split]
    texts, _ = toy_sentences({"de": "german", "en": "english", "es": "spanish"}.get(language, "english"), n, seed)
    return [{"review_id": f"{language}_{split}_{i:07d}", "product_id": f"product_{language}_{i % 3}",
             "reviewer_id": f"reviewer_{language}_{i}", "stars": 1 + i % 5, "review_body": text,
             "review_title": text.split()[0], "language": language, "product_category": "home"}
            for i, text in enumerate(texts)]


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def test_amazon_reviews_multi_in_one_file_with_a_language_column(tmp_path):
    for split in ("train", "validation", "test"):
        rows = [row for lang in ("de", "en", "es", "fr", "ja", "zh") for row in marc_rows(lang, split)]
        write_csv(tmp_path / f"all_languages_{split}.csv", rows, MARC_COLUMNS)
    config = data_config(format="csv", root=str(tmp_path / "all_languages_{split}.csv"), language_column="language",
                         text_column="review_body", label_column="stars", label_scheme="stars5_to_sentiment3",
                         dev_split="validation", target_languages=["de", "ja", "zh"])
    assert config.target_languages == ["german", "japanese", "chinese"]
    german = load_examples(config, "german", "validation")
    assert len(german) == 10 and german.language == "german"
    assert german.texts == [row["review_body"] for row in marc_rows("de", "validation")]
    # stars 1-2 negative, 3 neutral, 4-5 positive
    assert german.labels == [[0, 0, 1, 2, 2][i % 5] for i in range(10)]
    assert len(load_examples(config, "japanese", "test")) == 10


def test_folder_of_per_language_csv_files_named_by_language(tmp_path):
    # one file per language (en.csv, de.csv, ja.csv), every split in it, told apart by a split column
    for language in ("en", "de", "ja"):
        rows = [{**row, "split": split} for split in ("train", "test") for row in marc_rows(language, split)]
        write_csv(tmp_path / "reviews" / f"{language}.csv", rows, [*MARC_COLUMNS, "split"])
    config = data_config(format="csv", root=str(tmp_path / "reviews" / "{language}.csv"), split_column="split",
                         text_column="review_body", label_column="stars", label_scheme="stars5_to_binary",
                         drop_labels=["3"], target_languages=["german", "japanese"], dev_fraction=0.25)
    test = load_examples(config, "japanese", "test")
    assert len(test) == 8 and test.language == "japanese"  # two 3-star reviews dropped
    train, dev = load_examples(config, "english", "train"), load_examples(config, "english", "dev")
    assert len(train) + len(dev) == 8 and len(dev) == 2 and set(dev.labels) == {0, 1}
    assert sorted(train.texts + dev.texts) != sorted(load_examples(config, "english", "test").texts)


def test_one_file_for_every_split_needs_a_split_column():
    from xlingual.config import load_recipe
    from xlingual.protocol import ProtocolError, check_protocol

    base = ["data.format=csv", "data.root=reviews/{language}.csv"]
    with pytest.raises(ProtocolError, match=r"the train and test splits would be the same rows"):
        check_protocol(load_recipe(None, base))
    check_protocol(load_recipe(None, [*base, "data.split_column=split"]))


def test_amazon_reviews_multi_from_the_hub_with_iso_configs(monkeypatch):
    import datasets

    def fake(name, config_name, split, revision=None):
        assert name == "amazon_reviews_multi"
        return datasets.Dataset.from_list(marc_rows(config_name, split))

    monkeypatch.setattr(datasets, "load_dataset", fake)
    config = data_config(format="hub", root="amazon_reviews_multi", hub_config="{iso}", text_column="review_body",
                         label_column="stars", label_scheme="stars5_to_sentiment3", dev_split="validation",
                         target_languages=["es"])
    examples = load_examples(config, "spanish", "validation")
    assert examples.language == "spanish" and len(examples) == 10 and "config 'es'" in examples.origin


# ----------------------------------------------------------------------------- truncation


def test_head_tail_cut_keeps_first_and_last_tokens():
    ids = list(range(100))
    k, m = head_tail_sizes(20)
    assert (k, m) == (5, 15)
    assert cut(ids, 20, "head+tail") == ids[:5] + ids[-15:]
    assert cut(ids, 20, "head") == ids[:20] and cut(ids, 20, "tail") == ids[-20:]
    assert cut(ids[:10], 20, "head+tail") == ids[:10]
    assert head_tail_sizes(510) == (127, 383)  # Sun et al. 2019: 128 + 382


def test_encode_keeps_prefix_and_special_tokens(tiny_bert):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    words = ["good", "i", "it", "is", "the", "very", "table", "today", "report", "bus", "sad", "bad"]
    text = " ".join(words)
    for strategy in ("head", "tail", "head+tail"):
        ids, truncated = encode(tokenizer, [text, "good"], 10, "query : ", strategy)
        assert truncated == 1 and len(ids[0]) == 10 and len(ids[1]) == 5
        tokens = tokenizer.convert_ids_to_tokens(ids[0])
        assert tokens[:3] == ["[CLS]", "query", ":"] and tokens[-1] == "[SEP]"
        body = tokens[3:-1]  # 10 - 2 special tokens - 2 prefix tokens: 6 text tokens fit; head+tail keeps 1 + 5
        expected = {"head": words[:6], "tail": words[-6:], "head+tail": words[:1] + words[-5:]}[strategy]
        assert body == expected, strategy
    reference = tokenizer(["query : " + text], truncation=True, max_length=10)["input_ids"]
    assert encode(tokenizer, [text], 10, "query : ", "head")[0] == reference  # head = transformers' truncation


def test_truncation_lines_warn_only_above_the_threshold():
    from xlingual.data.truncation import TruncationStats, truncation_messages, truncation_report

    stats = {"train": {"english": TruncationStats(100, 10)}, "test": {"spanish": TruncationStats(10, 6),
                                                                       "german": TruncationStats(10, 0)}}
    lines = truncation_messages(stats, 128, "head")
    assert lines == [
        "truncation: english/train: 10 of 100 texts (10.0%) are longer than model.max_length=128 tokens and were "
        "cut (head)",
        "warning: spanish/test: 6 of 10 texts (60.0%) are longer than model.max_length=128 tokens and were cut "
        "(head); raise model.max_length, or set data.truncation: head+tail to keep the end too"]
    report = truncation_report(stats, 128, "head")
    assert report["splits"]["test"]["spanish"] == {"n": 10, "truncated": 6, "fraction": 0.6}
    assert report["splits"]["test"]["german"]["fraction"] == 0.0 and report["warn_above_fraction"] == 0.1


# ----------------------------------------------------------------------------- end to end on the tiny model


def test_train_test_only_dataset_trains_with_dev_fraction(tiny_bert, tmp_path, capsys):
    import xlingual

    root = train_test_only(tmp_path / "data")
    runs = []
    for seed in (1, 2):
        overrides = tiny_recipe_overrides(tiny_bert, root, tmp_path / f"run{seed}", **{
            "data.dev_fraction": 0.25, "training.seed": seed, "model.max_length": 8, "data.truncation": "head+tail"})
        runs.append(xlingual.train(REPO / "recipes/umsab_e5small.yaml", overrides, progress=False))
    err = capsys.readouterr().err
    results = [json.loads((run / "results.json").read_text()) for run in runs]
    assert results[0]["training"]["best_epoch"] in (1, 2)  # selected on the held-out dev part
    holdout = json.loads((runs[0] / "dev_holdout.json").read_text())["english"]
    assert holdout["n"] == 24 and holdout["per_class"] == {"negative": 8, "neutral": 8, "positive": 8}
    recorded = results[0]["protocol"]["dev_holdout"]
    assert recorded["file"] == "dev_holdout.json" and recorded["languages"]["english"]["sha256"] == holdout["sha256"]
    assert "indices" not in recorded["languages"]["english"]
    # the hold-out depends on data.dev_seed only: both training seeds select on the same examples
    assert results[1]["protocol"]["dev_holdout"]["languages"]["english"]["sha256"] == holdout["sha256"]
    # long texts: max_length 8 cuts most toy sentences; counted per language and split, with a warning
    cut_block = results[0]["truncation"]
    assert cut_block["strategy"] == "head+tail" and cut_block["max_length"] == 8
    english_test = cut_block["splits"]["test"]["english"]
    assert english_test["n"] == 36 and 0 < english_test["truncated"] <= 36
    assert english_test["fraction"] == round(english_test["truncated"] / 36, 4)
    assert set(cut_block["splits"]) == {"train", "dev", "test"}
    line = next(line for line in err.splitlines() if "english/test:" in line)
    assert line.startswith("warning: english/test: ") and "were cut (head+tail); raise model.max_length" in line
    assert xlingual.load(runs[0]).truncation == "head+tail"  # predict cuts as training did
    # the overlap warning's count is kept (short toy sentences repeat across splits)
    config = data_config(root=str(root), target_languages=["spanish", "german"], dev_fraction=0.25)
    train = load_examples(config, "english", "train")
    tested = {t for lang in ("english", "spanish", "german") for t in load_examples(config, lang, "test").texts}
    overlap = sum(text in tested for text in train.texts)
    assert overlap > 0 and f"warning: {overlap} training texts also appear in the evaluation data" in err
    assert results[0]["train_eval_overlap"] == {"count": overlap, "train_examples": 72}


def test_evaluation_on_other_data_is_a_result_of_its_own(train_tiny, tmp_path, capsys):
    from xlingual.cli import main
    from xlingual.reports.compare import comparison_table, load_runs

    run = train_tiny()
    other = write_umsab(tmp_path / "other", {"train": 9, "val": 9, "test": 24})
    for language in ("english", "spanish", "german"):  # different examples than the run's test sets
        texts, labels = toy_sentences(language, 24, seed=99)
        (other / language / "test_text.txt").write_text("\n".join(texts), encoding="utf-8")
        (other / language / "test_labels.txt").write_text("\n".join(map(str, labels)), encoding="utf-8")
    capsys.readouterr()
    out = tmp_path / "on-other"
    assert main(["evaluate", str(run), "--set", f"data.root={other}", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "reproduces results.json" not in printed
    assert "evaluated on other data" in printed and str(other / "spanish") in printed
    result = json.loads((out / "results.json").read_text())
    assert result["status"] == "complete" and result["kind"] == "evaluation"
    assert result["evaluation"]["kind"] == "other-data" and result["evaluation"]["original_run"] == str(run.resolve())
    assert result["evaluation"]["other_data"] == ["test/english", "test/spanish", "test/german"]
    assert str(other / "german") in result["splits"]["test"]["test_files"]["german"]
    assert result["splits"]["test"]["test_fingerprints"]["german"].startswith("sha256:")
    assert result["splits"]["test"]["languages"]["german"]["n"] == 24 and "matches_saved" not in result
    assert (out / "predictions" / "german.test.jsonl").is_file()

    # same data: a reproduction check, and no claim of other data
    assert main(["evaluate", str(run), "--name", "again", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "reproduces results.json: 3/3 language scores identical" in printed and "other data" not in printed
    assert json.loads((run / "evaluations" / "again" / "results.json").read_text())["evaluation"]["kind"] == "in-domain"

    # compare puts the cross-domain result beside the in-domain run, as a row of its own
    table = comparison_table(load_runs([run, out]), n_resamples=50)
    assert set(table.recipes) == {"umsab_e5small", "umsab_e5small @ on-other"}
    assert any("different test examples for german" in flag for flag in table.flags)

    # a longer max_length than the encoder has positions for is refused in one line, not a crash in the model
    assert main(["evaluate", str(run), "--set", "model.max_length=999", "--no-progress"]) == 2
    assert "model.max_length: 999 is over the checkpoint's encoder limit of 64 tokens" in capsys.readouterr().err

    # an evaluation never overwrites the run or a folder holding something else
    assert main(["evaluate", str(run), "--out", str(run), "--no-progress"]) == 2
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert main(["evaluate", str(run), "--out", str(tmp_path / "mine"), "--no-progress"]) == 2
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_run_with_relative_paths_evaluates_from_another_directory(tiny_bert, toy_umsab, tmp_path, monkeypatch,
                                                                  capsys):
    import shutil

    from xlingual.cli import main

    work = tmp_path / "project"
    shutil.copytree(toy_umsab, work / "data" / "umsab")
    monkeypatch.chdir(work)
    overrides = tiny_recipe_overrides(tiny_bert, Path("data/umsab"), Path("runs/r"))
    args = [arg for o in overrides for arg in ("--set", o)]
    assert main(["train", str(REPO / "recipes/umsab_e5small.yaml"), "--no-progress", *args]) == 0
    paths = json.loads((work / "runs/r/paths.json").read_text())
    assert paths["paths"]["data.root"] == {"typed": "data/umsab", "resolved": str(work / "data" / "umsab")}
    assert json.loads((work / "runs/r/results.json").read_text())["paths"] == paths
    assert "data/umsab" in (work / "runs/r/config.yaml").read_text()  # the typed form stays
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["evaluate", os.path.relpath(work / "runs/r"), "--languages", "spanish", "--no-progress"]) == 0
    assert "reproduces results.json: 1/1 language scores identical" in capsys.readouterr().out
