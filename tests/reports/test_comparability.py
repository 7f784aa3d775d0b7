"""Which runs compare like for like (reports/comparability.py): mixed label schemes refused, other protocols flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fabricated_runs import make_sweep, write_run  # tests/reports/

from xlingual.io import atomic_write_json
from xlingual.reports.compare import (
    ComparisonError,
    comparison_table,
    load_runs,
    table_markdown,
)


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    return make_sweep(tmp_path)


def test_mixing_label_schemes_is_refused(sweep):
    write_run(sweep / "binary" / "seed1", "binary", 1, {"english": 8, "spanish": 6},
              scheme=("sentiment2", ["negative", "positive"]))
    with pytest.raises(ComparisonError, match="label schemes"):
        comparison_table(load_runs([sweep]), n_resamples=0)

def test_flags_resources_oracle_and_test_files(sweep):
    write_run(sweep / "selftrain" / "seed1", "selftrain", 1, {"english": 9, "spanish": 8},
              target_resources=("unlabeled-target",), model_selection="oracle-target-dev",
              test_files={"spanish": "other/spanish/test.txt"})
    table = comparison_table(load_runs([sweep]), n_resamples=0)
    flags = " | ".join(table.flags)
    assert "target-side resources" in flags and "unlabeled-target (selftrain)" in flags
    assert "oracle model selection" in flags and "selftrain" in flags
    assert "different test examples for spanish" in flags and "other/spanish/test.txt" in flags
    markdown = table_markdown(table)
    assert "- **warning:** different target-side resources" in markdown
    assert table.recipes["selftrain"].cell("english", "accuracy").std is None  # one seed

def test_runs_with_extra_source_data_are_flagged_as_another_protocol(sweep):
    folder = write_run(sweep / "more_english" / "seed1", "more_english", 1, {"english": 9, "spanish": 8})
    results = json.loads((folder / "results.json").read_text())
    results["protocol"]["extra_source_data"] = {"files": "extra/", "train_examples": 500}
    (folder / "results.json").write_text(json.dumps(results))
    flags = " | ".join(comparison_table(load_runs([sweep]), n_resamples=0).flags)
    assert "extra source-language training data in more_english" in flags
    only = comparison_table(load_runs([sweep / "more_english"]), n_resamples=0).flags
    assert not any("extra source" in flag for flag in only)  # all of one protocol: nothing to flag
    other = write_run(sweep / "balanced" / "seed1", "balanced", 1, {"english": 9, "spanish": 8})
    results = json.loads((other / "results.json").read_text())
    results["protocol"]["extra_source_data"] = {"files": "extra/", "train_examples": 300, "class_balanced": True}
    (other / "results.json").write_text(json.dumps(results))
    both = " | ".join(comparison_table(load_runs([sweep / "more_english", sweep / "balanced"]),
                                       n_resamples=0).flags)
    assert "different extra source data" in both and "300 training examples, class-balanced (balanced)" in both

def test_same_test_content_under_another_path_is_not_flagged(sweep):
    """A run that named the data folder ``../shared/...`` and one that named it by absolute path
    scored the same examples: the content fingerprint from the predictions says so."""
    folder = write_run(sweep / "relative" / "seed1", "relative", 1, {"english": 9, "spanish": 8})
    results = json.loads((folder / "results.json").read_text())
    results["splits"]["test"]["test_files"]["spanish"] = "../elsewhere/spanish/test.txt"
    atomic_write_json(folder / "results.json", results)
    flags = " | ".join(comparison_table(load_runs([sweep]), n_resamples=0).flags)
    assert "different test examples" not in flags
