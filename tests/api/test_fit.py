"""Training from data in memory: Datasets, DataFrames and lists, returning the trained classifier."""

from __future__ import annotations

import datasets
import pandas as pd
import pytest
from conftest import tiny_recipe_overrides, toy_sentences

import xlingual
from xlingual.config import load_recipe
from xlingual.errors import DataError
from xlingual.results import Results

LABELS = ("negative", "neutral", "positive")


def table(language: str, n: int, seed: int) -> dict[str, list]:
    texts, labels = toy_sentences(language, n, seed)
    return {"review": texts, "sentiment": [LABELS[i] for i in labels], "lang": [language] * n}


@pytest.fixture
def tiny(tiny_bert, toy_umsab, tmp_path):
    return load_recipe(None, tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "run", **{"training.epochs": 3}))


def test_fit_from_a_dataset_and_a_dataframe_returns_the_classifier(tiny, tmp_path):
    mapping = {"review": "text", "sentiment": "label", "lang": "language"}
    train = datasets.Dataset.from_dict(table("english", 96, 0))
    test = pd.concat([pd.DataFrame(table(lang, 30, 2)) for lang in ("english", "spanish", "german")])
    dev = toy_sentences("english", 30, 1)  # (texts, label ids): no mapping needed

    class Recorder:
        def __init__(self):
            self.logs, self.epochs = [], []

        def on_log(self, record):
            self.logs.append(record)

        def on_epoch_end(self, record):
            self.epochs.append(record)

    recorder = Recorder()
    classifier = xlingual.fit(tiny, train=train, dev={"english": dev}, test=test, column_mapping=mapping,
                              callbacks=[recorder], progress=False)
    assert classifier.predict("good").label in LABELS
    report = classifier.report
    assert list(report.splits["test"].languages) == ["english", "spanish", "german"]
    assert report.target_languages == ["spanish", "german"]
    assert report.protocol.files["train"] == "in-memory Dataset (96 rows)"
    assert Results.read(classifier.run_folder / "results.json") == report
    assert (classifier.run_folder / "call.txt").read_text().startswith("xlingual.fit(")
    assert [record["epoch"] for record in recorder.epochs] == [1, 2, 3]
    assert all("selection_macro_f1" in record for record in recorder.epochs)
    assert recorder.logs and all("task" in r or "selection_macro_f1" in r for r in recorder.logs)
    # the public evaluate() gives what the run wrote, on the same data
    scores = xlingual.evaluate(classifier, test, column_mapping=mapping)
    assert scores.languages["spanish"].macro_f1 == pytest.approx(report.scores("test", "spanish").macro_f1)
    assert set(scores.summary) >= {"source_macro_f1", "target_avg_macro_f1", "transfer_gap_macro_f1"}


def test_fit_with_unlabeled_target_text_and_an_objective(tiny, tmp_path):
    tiny.alignment.losses = [xlingual.config.LossConfig("coral")]
    texts, labels = toy_sentences("english", 96, 0)
    classifier = xlingual.fit(tiny, train=(texts, labels), test={"spanish": toy_sentences("spanish", 30, 2)},
                              unlabeled_target={"spanish": toy_sentences("spanish", 64, 3)[0]}, progress=False)
    assert classifier.report.protocol.target_resources == ["unlabeled-target"]
    assert classifier.report.protocol.model_selection == "last-epoch"  # no dev data given


def test_fit_refuses_target_labels_in_training(tiny):
    train = pd.DataFrame({"text": ["good", "bueno"], "label": [2, 2], "language": ["en", "es"]})
    with pytest.raises(DataError, match=r"train: rows in spanish; training data is source-language"):
        xlingual.fit(tiny, train=train, progress=False)
    with pytest.raises(DataError, match=r"train: no 'label' column \(did you mean 'labels'\?\)"):
        xlingual.fit(tiny, train={"text": ["good"], "labels": [2]}, progress=False)


def test_fit_code_switches_the_in_memory_english_as_train_does(tiny, tmp_path):
    (tmp_path / "en-es.txt").write_text("good\tbueno\nbad\tmalo\nthe\tel\nis\tes\n", encoding="utf-8")
    tiny.data.code_switch = load_recipe(None, [f"data.code_switch={{dictionaries: '{tmp_path}/en-{{code}}.txt', "
                                               "fraction: 1.0}"]).data.code_switch
    tiny.training.epochs = 1
    test = pd.concat([pd.DataFrame(table(lang, 12, 2)) for lang in ("english", "spanish")])
    classifier = xlingual.fit(tiny, train=datasets.Dataset.from_dict(table("english", 48, 0)), test=test,
                              column_mapping={"review": "text", "sentiment": "label", "lang": "language"},
                              progress=False)
    record = classifier.report.protocol.code_switch
    assert classifier.report.protocol.target_resources == ["bilingual-dictionary"]
    assert record.replaced_of_covered == 1.0 and record.languages == ["spanish"]
    tiny.data.code_switch.fraction = "half"  # a bad value is one line naming the key, not a traceback
    with pytest.raises(xlingual.XlingualError, match=r"data\.code_switch\.fraction"):
        xlingual.fit(tiny, train=datasets.Dataset.from_dict(table("english", 48, 0)), test=test,
                     column_mapping={"review": "text", "sentiment": "label", "lang": "language"}, progress=False)
