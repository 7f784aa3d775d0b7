"""Dictionary code-switching (data.code_switch): the switcher, the word lists, and a run that records it."""

from __future__ import annotations

import json

import pytest
from conftest import FILLER, REPO, WORDS, tiny_recipe_overrides

import xlingual
from xlingual.data.code_switch import WORD, CodeSwitcher, read_word_list
from xlingual.data.examples import Examples
from xlingual.errors import DataError
from xlingual.results import Results

TEXTS = ["I love this phone, it is GREAT!", "@anna the bus was late #bad", "Nothing to say 123 today", "", "don't"]


def test_an_empty_word_list_leaves_the_text_unchanged():
    switcher = CodeSwitcher({"spanish": {}}, fraction=1.0, seed=3)
    texts, counts = switcher.switch(TEXTS, epoch=0)
    assert texts == TEXTS and counts["replaced"] == 0 and counts["covered"] == 0 and counts["words"] > 10


def test_a_full_word_list_replaces_the_recorded_fraction():
    vocabulary = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa"]
    texts = [" ".join(vocabulary[(i * 3 + j) % 7] for j in range(4)) + "!" for i in range(400)]
    words = vocabulary
    full = {w: [w.upper() + "ES"] for w in words}
    switcher = CodeSwitcher({"spanish": full}, fraction=0.3, seed=1)
    switched, counts = switcher.switch(texts, epoch=0)
    changed = sum(a != b for t, s in zip(texts, switched, strict=True)
                  for a, b in zip(WORD.findall(t), WORD.findall(s), strict=True))
    assert counts["covered"] == counts["words"] == sum(len(WORD.findall(t)) for t in texts)
    assert changed == counts["replaced"]  # what the record says is what happened
    assert counts["replaced"] / counts["words"] == pytest.approx(0.3, abs=0.03)
    everything, all_counts = CodeSwitcher({"spanish": full}, fraction=1.0).switch(texts, 0)
    assert all_counts["replaced"] == all_counts["words"] and all(w.endswith("ES") for t in everything
                                                                 for w in WORD.findall(t))


def test_switching_is_seeded_per_epoch_keeps_case_and_skips_mentions_and_hashtags():
    lists = {"spanish": {"love": ["amo"], "bad": ["malo"], "bus": ["autobús"], "great": ["genial"], "phone":
                         ["teléfono", "móvil"]}, "german": {"great": ["toll"], "today": ["heute"]}}
    a, b = CodeSwitcher(lists, 1.0, seed=5), CodeSwitcher(lists, 1.0, seed=5)
    assert a.switch(TEXTS, 0) == b.switch(TEXTS, 0)
    texts, counts = a.switch(TEXTS, 0)
    assert texts[0].startswith("I amo this ") and ("GENIAL" in texts[0] or "TOLL" in texts[0])
    assert "#bad" in texts[1] and "@anna" in texts[1] and "autobús" in texts[1]  # a hashtag's word is not a word
    assert set(counts["into"]) <= {"spanish", "german"} and counts["replaced"] == sum(counts["into"].values())
    half = CodeSwitcher(lists, 0.5, seed=5)
    assert len({tuple(half.switch(TEXTS * 20, epoch)[0]) for epoch in range(4)}) > 1  # each epoch its own draw


def test_word_list_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "en-es.txt"
    path.write_text("good\tbueno\ngood\tbien\ngood\tbueno\n\nbad malo\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"en-es\.txt:5: expected 'english<TAB>translation'"):
        read_word_list(path)
    path.write_text("Good\tbueno\ngood\tbien\ngood\tbueno\n", encoding="utf-8")
    assert read_word_list(path) == {"good": ["bueno", "bien"]}
    with pytest.raises(DataError, match="word list not found"):
        read_word_list(tmp_path / "missing.txt")


def test_views_follow_select_and_concatenate():
    a = Examples(["x", "y"], [0, 1], "english", "train", "a", views=[["X", "Y"], ["x1", "y1"]])
    b = Examples(["z"], [2], "english", "train", "b")
    both = a.concatenate(b)
    assert both.views == [["X", "Y", "z"], ["x1", "y1", "z"]]
    assert both.select([2, 0], "train", "c").views == [["z", "X"], ["z", "x1"]]
    with pytest.raises(DataError, match="view"):
        Examples(["x"], [0], "english", "train", "d", views=[["x", "y"]])


def test_a_run_trains_on_code_switched_english_and_records_it(tiny_bert, toy_umsab, tmp_path):
    folder = tmp_path / "lists"
    folder.mkdir()
    english = [w for words in WORDS["english"].values() for w in words] + FILLER["english"]
    spanish = [w for words in WORDS["spanish"].values() for w in words] + FILLER["spanish"]
    (folder / "en-es.txt").write_text("".join(f"{e}\t{s}\n" for e, s in zip(english, spanish, strict=True)),
                                      encoding="utf-8")
    run = xlingual.train(REPO / "recipes" / "umsab_e5small.yaml", [
        *tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "run"),
        f"data.code_switch={{dictionaries: '{folder}/en-{{code}}.txt', fraction: 0.5}}"], progress=False)
    results = Results.read(run / "results.json")
    assert "bilingual-dictionary" in results.protocol.target_resources
    record = results.protocol.code_switch
    assert record.languages == ["spanish"] and record.without_word_list == ["german"]
    assert record.epochs == 2 and record.coverage == 1.0  # the toy English is all in the list
    assert 0.4 < record.replaced_of_words < 0.6 and set(record.replaced_into) == {"spanish"}
    assert len(record.files["spanish"]["sha256"]) == 64
    assert results.protocol.cost.runs == 1.0
    saved = json.loads((run / "results.json").read_text())
    assert saved["protocol"]["code_switch"]["fraction"] == 0.5
    with pytest.raises(xlingual.XlingualError, match="no word list for german"):
        xlingual.train(REPO / "recipes" / "umsab_e5small.yaml", [
            *tiny_recipe_overrides(tiny_bert, toy_umsab, tmp_path / "bad"),
            f"data.code_switch={{dictionaries: '{folder}/en-{{code}}.txt', languages: [german]}}"], progress=False)
    assert not (tmp_path / "bad").exists()
