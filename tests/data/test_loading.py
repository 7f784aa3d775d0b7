"""Data layer: readers for UMSAB folders, CSV/TSV/JSONL and hub ids; label schemes; batching."""

from __future__ import annotations

import json

import pytest

from xlingual.config import DataConfig
from xlingual.data.batching import collate, inference_batches, training_batches
from xlingual.data.loading import load_examples
from xlingual.errors import ConfigError, DataError
from xlingual.labels import LabelScheme


def data_config(**kwargs) -> DataConfig:
    return DataConfig(**kwargs).validate()  # a validated copy: validation never changes what it checks


def test_umsab_reader(toy_umsab):
    examples = load_examples(data_config(root=str(toy_umsab), target_languages=["spanish"]), "es", "train")
    assert len(examples) == 96 and examples.labels[:3] == [0, 1, 2] and examples.language == "spanish"
    texts = (toy_umsab / "spanish" / "train_text.txt").read_text().split("\n")
    assert examples.texts == texts


def test_umsab_reader_names_missing_language_and_split(toy_umsab, tmp_path):
    with pytest.raises(DataError, match=r"no folder for language 'french'.*found: english, german, spanish"):
        load_examples(data_config(root=str(toy_umsab)), "french", "test")
    with pytest.raises(DataError, match="split 'dev' not found"):
        load_examples(data_config(root=str(toy_umsab), dev_split="dev"), "english", "dev")
    with pytest.raises(DataError, match="data folder not found"):
        load_examples(data_config(root=str(tmp_path / "nope")), "english", "train")


def test_umsab_length_mismatch_and_bad_label(tmp_path):
    folder = tmp_path / "english"
    folder.mkdir()
    (folder / "train_text.txt").write_text("a\nb\nc")
    (folder / "train_labels.txt").write_text("0\n1")
    with pytest.raises(DataError, match=r"has 3 lines but .*train_labels.txt has 2"):
        load_examples(data_config(root=str(tmp_path)), "english", "train")
    (folder / "train_labels.txt").write_text("0\n1\n7")
    with pytest.raises(DataError, match=r"train_labels\.txt:3: label '7' is not in label scheme 'sentiment3'"):
        load_examples(data_config(root=str(tmp_path)), "english", "train")


def test_empty_text_and_bad_encoding_name_the_line(tmp_path):
    folder = tmp_path / "english"
    folder.mkdir()
    (folder / "train_text.txt").write_text("fine\n   \nok")
    (folder / "train_labels.txt").write_text("0\n1\n2")
    with pytest.raises(DataError, match=r"train_text\.txt:2: the text is empty"):
        load_examples(data_config(root=str(tmp_path)), "english", "train")
    (folder / "train_text.txt").write_bytes(b"fine\nbad \xff byte\nok")
    with pytest.raises(DataError, match=r"train_text\.txt:2: not valid UTF-8"):
        load_examples(data_config(root=str(tmp_path)), "english", "train")


def test_csv_tsv_jsonl_readers(tmp_path):
    (tmp_path / "en_train.csv").write_text('review,stars\n"good, really",5\nmeh,3\nawful,1\n')
    (tmp_path / "en_train.tsv").write_text("review\tstars\ngood\t5\nawful\t1\n")
    rows = [{"review": "bueno", "stars": 5, "lang": "es"}, {"review": "good", "stars": 4, "lang": "en"},
            {"review": "malo", "stars": 2, "lang": "spa"}]
    (tmp_path / "all.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    common = {"text_column": "review", "label_column": "stars", "label_scheme": "stars5_to_sentiment3"}
    csv = load_examples(data_config(format="csv", root=str(tmp_path / "{language}_{split}.csv"), **common),
                        "english", "train")
    assert csv.texts == ["good, really", "meh", "awful"] and csv.labels == [2, 1, 0]
    tsv = load_examples(data_config(format="tsv", root=str(tmp_path / "{language}_{split}.tsv"), **common),
                        "english", "train")
    assert tsv.labels == [2, 0]
    jsonl = load_examples(data_config(format="jsonl", root=str(tmp_path / "all.jsonl"), language_column="lang",
                                      **common), "spanish", "train")
    assert jsonl.texts == ["bueno", "malo"] and jsonl.labels == [2, 0]


def test_csv_missing_column_is_named(tmp_path):
    (tmp_path / "english_train.csv").write_text("review,label\nhello,0\n")
    with pytest.raises(DataError, match=r"english_train\.csv:2: no 'text' column.*columns: review, label"):
        load_examples(data_config(format="csv", root=str(tmp_path / "{language}_{split}.csv")), "english", "train")


def test_jsonl_with_dropped_labels(tmp_path):
    rows = [{"text": "me encanta", "klass": "P"}, {"text": "nada", "klass": "NONE"}, {"text": "odio", "klass": "N"},
            {"text": "ok", "klass": "NEU"}]
    (tmp_path / "spanish.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    config = data_config(format="jsonl", root=str(tmp_path / "{language}.jsonl"), label_column="klass",
                         drop_labels=["NONE"])
    examples = load_examples(config, "spanish", "test")
    assert examples.texts == ["me encanta", "odio", "ok"] and examples.labels == [2, 0, 1]


def test_unlabeled_loading_never_reads_labels(toy_umsab, tmp_path):
    (tmp_path / "spanish").mkdir()
    (tmp_path / "spanish" / "train_text.txt").write_text("hola\nadios")
    examples = load_examples(data_config(root=str(tmp_path)), "spanish", "train", labelled=False)
    assert examples.labels is None and examples.texts == ["hola", "adios"]


def test_hub_offline_error_is_clear(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError(
            "Couldn't reach 'cardiffnlp/tweet_sentiment_multilingual' on the Hub (LocalEntryNotFound)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    config = data_config(format="hub", root="cardiffnlp/tweet_sentiment_multilingual", dev_split="validation")
    with pytest.raises(DataError, match=r"could not load hub dataset 'cardiffnlp/tweet_sentiment_multilingual' "
                                        "config 'spanish' split 'test'.*local files"):
        load_examples(config, "spanish", "test")


def test_hub_reader_with_language_configs(monkeypatch):
    import datasets

    fake = {"spanish": datasets.Dataset.from_dict(
        {"text": ["bueno", "malo"], "label": [2, 0]},
        features=datasets.Features({"text": datasets.Value("string"),
                                    "label": datasets.ClassLabel(names=["negative", "neutral", "positive"])}))}
    monkeypatch.setattr(datasets, "load_dataset", lambda name, config, split, revision=None: fake[config])
    examples = load_examples(data_config(format="hub", root="some/dataset"), "es", "test")
    assert examples.texts == ["bueno", "malo"] and examples.labels == [2, 0]


def test_label_schemes():
    five = LabelScheme.build("stars5_to_binary")
    assert [five.encode(s, "x") for s in (1, 2, 3, 4, 5)] == [0, 0, None, 1, 1]
    three = LabelScheme.build("sentiment3", label_map={"NEU": "neutral"})
    assert [three.encode(s, "x") for s in ("P", "N", "NEU", "2", 0, "Positive")] == [2, 0, 1, 2, 0, 2]
    custom = LabelScheme.build("custom", label_names=["sad", "happy"])
    assert custom.encode("happy", "x") == 1 and custom.encode("0", "x") == 0
    with pytest.raises(ConfigError, match="unknown scheme 'sentiment5'"):
        LabelScheme.build("sentiment5")
    with pytest.raises(ConfigError, match="not a class of scheme"):
        LabelScheme.build("binary", label_map={"x": "neutral"})


def test_training_batches_cover_each_example_once_and_are_deterministic():
    lengths = [(i * 7) % 23 + 1 for i in range(103)]
    batches = training_batches(lengths, 8, seed=1, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(103))
    assert batches == training_batches(lengths, 8, seed=1, epoch=0)
    assert batches != training_batches(lengths, 8, seed=1, epoch=1)
    shards = [training_batches(lengths, 8, seed=1, epoch=0, num_shards=2, shard=r) for r in (0, 1)]
    assert len(shards[0]) == len(shards[1])
    assert not set(i for b in shards[0] for i in b) & set(i for b in shards[1] for i in b)


def test_length_grouping_cuts_padding():
    import random

    rng = random.Random(0)
    lengths = [rng.randint(5, 120) for _ in range(2000)]

    def padded(batches):
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    grouped = padded(training_batches(lengths, 32, 0, 0, group_by_length=True))
    plain = padded(training_batches(lengths, 32, 0, 0, group_by_length=False))
    assert grouped < 0.7 * plain


def test_inference_batches_sorted_and_complete():
    lengths = [3, 9, 1, 7, 7, 2]
    batches = list(inference_batches(lengths, 4))
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert [lengths[i] for i in batches[0]] == [9, 7, 7, 3]


def test_collate_pads_right_and_masks():
    batch = collate([[5, 6, 7], [8]], pad_token_id=1, labels=[2, 0])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [2, 0]


def test_hub_translation_pairs(monkeypatch):
    """Pairs from a hub dataset: the hub's ``translation`` convention, or one column per language."""
    import datasets

    from xlingual.data.pairs import load_pairs

    fake = {
        ("opus/like", "en-es"): datasets.Dataset.from_dict(
            {"translation": [{"en": "good", "es": "bueno"}, {"en": "bad", "es": "malo"}]}),
        ("cols/like", None): datasets.Dataset.from_dict({"eng": ["hello"], "deu": ["hallo"]}),
    }
    seen = []

    def load_dataset(name, config, split):
        seen.append((name, config, split))
        if (name, config) not in fake:
            raise ConnectionError(f"Couldn't reach '{name}' on the Hub")
        return fake[(name, config)]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    pairs = load_pairs("opus/like", "es", format="hub", hub_config="en-{iso}")
    assert (pairs.source, pairs.target, pairs.language) == (["good", "bad"], ["bueno", "malo"], "spanish")
    assert seen[-1] == ("opus/like", "en-es", "train")
    pairs = load_pairs("cols/like", "german", format="hub", split="test")
    assert (pairs.source, pairs.target) == (["hello"], ["hallo"]) and seen[-1][2] == "test"
    with pytest.raises(DataError, match=r"columns named en and fr; columns: \['eng', 'deu'\]"):
        load_pairs("cols/like", "french", format="hub")
    with pytest.raises(DataError, match=r"could not load translation pairs from hub dataset 'x/y'.*Tatoeba-style"):
        load_pairs("x/y", "es", format="hub")
