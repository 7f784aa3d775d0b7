"""The compare plots and the training curves (reports/plots.py): readable PNGs from fabricated runs and logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import png_size
from fabricated_runs import make_sweep  # tests/reports/

from xlingual.io import atomic_write_text
from xlingual.reports.compare import (
    comparison_table,
    load_runs,
)
from xlingual.reports.plots import plot_gap_heatmap, plot_language_bars, plot_training_curves, read_train_log


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    return make_sweep(tmp_path)


def test_plots_are_readable_pngs(sweep, tmp_path):
    table = comparison_table(load_runs([sweep]), n_resamples=100)
    bars = plot_language_bars(table, tmp_path / "bars.png")
    heat = plot_gap_heatmap(table, tmp_path / "heat.png", "accuracy")
    curves = plot_training_curves(sweep / "align" / "seed1", tmp_path / "curves.png")
    for path in (bars, heat, curves):
        width, height = png_size(path)
        assert width >= 400 and height >= 200

def self_training_log(tagged: bool, round_selection: bool = True) -> list[dict]:
    """A source phase of 6 steps (2 epochs), then a self-training round whose steps count from 1 again."""
    source = [{"step": s, "epoch": s / 3, "task": 1.0 - s / 10, "mmd": 0.5} for s in range(1, 7)]
    source[2:2] = [{"epoch": 1, "step": 3, "selection_macro_f1": 0.5}]
    source.append({"epoch": 2, "step": 6, "selection_macro_f1": 0.6})
    round_ = [{"step": s, "epoch": s / 4, "task": 0.4} for s in range(1, 5)]
    if round_selection:
        round_.append({"epoch": 1, "step": 4, "selection_macro_f1": 0.55})
    if tagged:
        round_ = [{**r, "round": 1} for r in round_]
    return source + round_

@pytest.mark.parametrize("tagged", [True, False])
def test_training_log_keeps_the_source_phase_and_the_self_training_round(tagged, tmp_path):
    """Round steps restart at 1: they must follow the source phase, not overwrite it (old logs have no tag)."""
    cut_line = '{"step": 5, "ta'  # a killed run's last line
    lines = [json.dumps(r) for r in self_training_log(tagged)] + [cut_line]
    atomic_write_text(tmp_path / "logs" / "train_log.jsonl", "\n".join(lines))
    steps, selection = read_train_log(tmp_path)
    assert [(r["round"], r["step"]) for r in steps] == [(0, s) for s in range(1, 7)] + [(1, s) for s in range(1, 5)]
    assert [(r["round"], r["epoch"]) for r in selection] == [(0, 1), (0, 2), (1, 1)]
    assert png_size(plot_training_curves(tmp_path, tmp_path / "curves.png"))[0] >= 400

def test_training_curves_of_a_round_cut_before_its_selection(tmp_path):
    atomic_write_text(tmp_path / "logs" / "train_log.jsonl",
                      "\n".join(json.dumps(r) for r in self_training_log(True, round_selection=False)) + "\n")
    assert png_size(plot_training_curves(tmp_path, tmp_path / "curves.png"))[0] >= 400
