"""predictions/<language>.<split>.jsonl: the one reader returns records in index order and names a bad line."""

from __future__ import annotations

import json

import pytest

from xlingual.evaluation.predictions import predictions_file, read_predictions


def test_records_come_back_in_index_order_and_a_bad_line_is_named(tmp_path):
    path = predictions_file(tmp_path, "spanish", "test")
    rows = [{"index": 1, "text": "b", "label": "neutral", "prediction": "positive", "probabilities": [0.1, 0.2, 0.7]},
            {"index": 0, "text": "a", "label": "negative", "prediction": "negative", "probabilities": [0.8, 0.1, 0.1]}]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    records = read_predictions(path)
    assert path.name == "spanish.test.jsonl"
    assert [(r.index, r.text, r.label, r.prediction) for r in records] == [(0, "a", "negative", "negative"),
                                                                           (1, "b", "neutral", "positive")]
    path.write_text(json.dumps(rows[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"spanish\.test\.jsonl:2: not a prediction record"):
        read_predictions(path)
