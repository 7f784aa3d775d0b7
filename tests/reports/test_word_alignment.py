"""Word lists induced from translation pairs (SimAlign-style): the alignment rule and the command."""

from __future__ import annotations

import json

import torch

from xlingual.cli import main
from xlingual.data.code_switch import read_word_list
from xlingual.word_alignment import mutual_argmax


def test_mutual_argmax_keeps_only_pairs_that_choose_each_other():
    source = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    target = torch.tensor([[0.0, 1.0], [1.0, 0.1]])
    # 0 ↔ target 1 and 1 ↔ target 0 choose each other; source 2's best (target 0 or 1) prefers another word
    assert mutual_argmax(torch.nn.functional.normalize(source, dim=1),
                         torch.nn.functional.normalize(target, dim=1)) == [(0, 1), (1, 0)]
    assert mutual_argmax(torch.zeros(0, 2), target) == []


def test_induce_word_list_writes_a_list_code_switching_reads(tiny_bert, toy_pairs, tmp_path, capsys):
    out = tmp_path / "lists"
    assert main(["induce-word-list", str(toy_pairs), "--model", str(tiny_bert), "--languages", "es,de",
                 "--out", str(out), "--layer", "2", "--min-count", "1", "--no-progress"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["languages"]) == {"spanish", "german"} and manifest["layer"] == 2
    for language, code in (("spanish", "es"), ("german", "de")):
        entry = manifest["languages"][language]
        pairs = read_word_list(out / f"en-{code}.txt")
        assert entry["english_words"] == len(pairs) and entry["entries"] == sum(map(len, pairs.values()))
        assert entry["aligned_word_pairs"] > 0 and all(en not in found for en, found in pairs.items())
    printed = capsys.readouterr().out
    assert "data.code_switch.dictionaries=" in printed and "covers" in printed
    spanish = manifest["languages"]["spanish"]["coverage"]
    assert spanish["text"].endswith("(English side)") and 0 < spanish["covered"] <= spanish["words"]
    # coverage of the user's own text: the share of its words that are keys of the list
    known = sorted(read_word_list(out / "en-es.txt"))
    text = tmp_path / "train_text.txt"
    text.write_text(f"{known[0]} zzzunknown, {known[0].upper()} @{known[0]} qqq\n{known[-1]} 42", encoding="utf-8")
    again = tmp_path / "again"
    assert main(["induce-word-list", str(toy_pairs), "--model", str(tiny_bert), "--languages", "es", "--out",
                 str(again), "--layer", "2", "--min-count", "1", "--coverage-text", str(text), "--no-progress"]) == 0
    record = json.loads((again / "manifest.json").read_text())["languages"]["spanish"]["coverage"]
    assert record == {"text": str(text), "words": 5, "covered": 3, "share": 0.6}  # a @mention is no word
    assert main(["induce-word-list", str(toy_pairs), "--model", str(tiny_bert), "--languages", "es",
                 "--out", str(out), "--no-progress"]) == 2  # nothing written over
    assert "choose a new (or empty) folder" in capsys.readouterr().err
    assert main(["induce-word-list", str(toy_pairs), "--languages", "es", "--out", str(tmp_path / "x")]) == 2
    assert "--model" in capsys.readouterr().err and not (tmp_path / "x").exists()
