"""``xlingual compare`` on fabricated run folders with known numbers: loading, the table, baselines, the CLI."""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import pytest
from conftest import png_size
from fabricated_runs import ALIGN, BASE, LABELS, make_sweep, right_then_wrong, write_run  # tests/reports/

from xlingual.io import atomic_write_json, atomic_write_text
from xlingual.metrics.classification import classification_metrics
from xlingual.reports.compare import (
    ComparisonError,
    ComparisonWarning,
    compare_recipes,
    comparison_table,
    load_runs,
    register,
    table_csv,
    table_markdown,
)


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    return make_sweep(tmp_path)


def test_load_runs_finds_runs_and_skips_unfinished(sweep, tmp_path):
    write_run(sweep / "broken" / "seed1", "broken", 1, {"english": 5})
    results = json.loads((sweep / "broken" / "seed1" / "results.json").read_text())
    results["status"] = "running"
    atomic_write_json(sweep / "broken" / "seed1" / "results.json", results)
    atomic_write_text(sweep / "killed" / "command.txt", "xlingual train x.yaml\n")
    with pytest.warns(ComparisonWarning) as caught:
        runs = load_runs([sweep, sweep / "base" / "seed1"])  # the second path repeats a run: read once
    messages = " ".join(str(w.message) for w in caught)
    assert "not complete" in messages and "did not finish" in messages
    assert sorted((r.recipe, r.seed) for r in runs) == [("align", 1), ("align", 2), ("align", 3),
                                                         ("base", 1), ("base", 2), ("base", 3)]
    with pytest.raises(ComparisonError):
        load_runs([tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ComparisonError):
        load_runs([tmp_path / "empty"])

def test_table_numbers_by_hand(sweep):
    table = comparison_table(load_runs([sweep]), n_resamples=200)
    assert table.columns == ["english", "spanish", "target_avg", "transfer_gap"]
    assert table.flags == []
    base, align = table.recipes["base"], table.recipes["align"]
    assert base.seeds == [1, 2, 3] and base.n_seeds == 3
    # accuracy: english 0.9, 0.8, 0.7; spanish 0.6, 0.5, 0.4; gap 0.3 each seed
    assert base.cell("english", "accuracy").mean == pytest.approx(0.8)
    assert base.cell("english", "accuracy").std == pytest.approx(0.1)
    assert base.cell("spanish", "accuracy").mean == pytest.approx(0.5)
    assert base.cell("target_avg", "accuracy").mean == pytest.approx(0.5)
    assert base.cell("transfer_gap", "accuracy").mean == pytest.approx(0.3)
    assert base.cell("transfer_gap", "accuracy").std == pytest.approx(0.0)
    assert align.cell("english", "accuracy").std == pytest.approx(0.0)
    assert align.cell("spanish", "accuracy").mean == pytest.approx(0.8)
    assert align.cell("transfer_gap", "accuracy").mean == pytest.approx(0.1)
    assert align.cell("transfer_gap", "accuracy").std == pytest.approx(0.1)
    # macro-F1: mean and sample std of the per-seed values
    f1 = [classification_metrics(*right_then_wrong(10, BASE[s]["spanish"]), LABELS)["macro_f1"] for s in (1, 2, 3)]
    assert base.cell("spanish", "macro_f1").mean == pytest.approx(statistics.mean(f1))
    assert base.cell("spanish", "macro_f1").std == pytest.approx(statistics.stdev(f1))
    # intervals: t over seeds, bootstrap over examples around the mean
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # t_{0.975, 2}
    assert base.cell("english", "accuracy").ci_seeds == pytest.approx([0.8 - half, 0.8 + half])
    for column in table.columns:
        for metric in ("accuracy", "macro_f1"):
            cell = base.cell(column, metric)
            low, high = cell.ci_examples
            assert low <= cell.mean <= high
    markdown = table_markdown(table, "accuracy")
    assert "| base | 3 | – | 80.0 ± 10.0 | 50.0 ± 10.0 | 50.0 ± 10.0 | 30.0 ± 0.0 |" in markdown
    assert "| align | 3 | – | 90.0 ± 0.0 | 80.0 ± 10.0 | 80.0 ± 10.0 | 10.0 ± 10.0 |" in markdown
    intervals = markdown.split("confidence intervals of")[1].splitlines()
    header = next(line for line in intervals if line.startswith("| recipe | over"))
    seeds_row = next(line for line in intervals if line.startswith("| base | seeds"))
    assert header.count("|") == seeds_row.count("|") and "cost" not in header  # each interval under its column
    csv_lines = table_csv(table).splitlines()
    assert csv_lines[0].startswith("recipe,column,role,metric")
    assert len(csv_lines) == 1 + 2 * 4 * 2  # recipes x columns x metrics

def test_compare_recipes_significance(sweep):
    runs = load_runs([sweep])
    result = compare_recipes(runs, "align", "base", metric="accuracy", n_resamples=500)
    spanish = result["languages"]["spanish"]
    assert spanish["delta"] == pytest.approx(0.8 - 0.5)
    assert spanish["ci"][0] <= spanish["delta"] <= spanish["ci"][1]
    assert 0 < spanish["p_value"] <= 1 and 0 < spanish["p_value_permutation"] <= 1
    assert spanish["seed_test"]["seeds"] == [1, 2, 3] and spanish["seed_test"]["n_pairs"] == 3
    assert spanish["cohens_d_examples"] > 0
    assert result["target_avg"]["delta"] == pytest.approx(0.3)
    assert result["shared_seeds"] == [1, 2, 3]
    # a recipe against an exact copy of itself: nothing to find
    for seed, right in BASE.items():
        write_run(sweep / "copy" / f"seed{seed}", "copy", seed, right)
    same = compare_recipes(load_runs([sweep]), "base", "copy", n_resamples=300)
    assert same["target_avg"]["p_value"] > 0.9 and same["languages"]["english"]["p_value_permutation"] > 0.9
    with pytest.raises(ComparisonError, match="did you mean 'base'"):
        compare_recipes(runs, "align", "bsae")

def test_cmd_compare_writes_everything(sweep, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="xlingual")
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(["compare", str(sweep), "--out", str(out), "--significance", "align", "base",
                              "--metric", "accuracy", "--bootstrap", "200"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "## accuracy (%)" in printed and "## Significance: align vs base" in printed
    for name in ("table.md", "table.csv", "table.json", "significance.json", "language_bars.png",
                 "gap_heatmap.png", "training_curves/base-seed1.png"):
        assert (out / name).is_file(), name
        assert f"wrote {out / name}" in printed

    def strict(value: str) -> None:
        raise ValueError(f"non-standard JSON constant {value}")

    table = json.loads((out / "table.json").read_text(), parse_constant=strict)
    significance = json.loads((out / "significance.json").read_text(), parse_constant=strict)
    assert table["recipes"]["base"]["columns"]["english"]["accuracy"]["mean"] == pytest.approx(0.8)
    assert significance["languages"]["spanish"]["delta"] == pytest.approx(0.3)
    # default output folder: <sweep>/comparison
    args = parser.parse_args(["compare", str(sweep), "--bootstrap", "0", "--no-plots"])
    assert args.func(args) == 0
    assert (sweep / "comparison" / "table.md").is_file()
    assert not (sweep / "comparison" / "language_bars.png").exists()

def write_diagnostics(run: Path, retrieval: dict[str, float]) -> None:
    """What `xlingual diagnose RUN` leaves in RUN/diagnostics (only the fields compare reads matter)."""
    languages = {lang: {"retrieval_at_1_en_to_x": value, "retrieval_at_1_x_to_en": value} for lang, value in
                 retrieval.items()}
    atomic_write_json(run / "diagnostics" / "diagnostics.json", {"languages": languages})

def test_alignment_scatter_pairs_retrieval_with_target_average(sweep, tmp_path, capsys):
    from scipy import stats as scipy_stats

    from xlingual.reports.alignment import alignment_points

    retrieval = {("base", 1): 0.5, ("base", 2): 0.4, ("align", 1): 0.9, ("align", 2): 0.7, ("align", 3): 0.8}
    for (recipe, seed), value in retrieval.items():
        # a language only some runs measured is left out of every run's average
        write_diagnostics(sweep / recipe / f"seed{seed}", {"spanish": value, **({"german": 0.0} if seed == 1 else {})})
    runs = load_runs([sweep])
    with pytest.warns(ComparisonWarning, match="german measured in some runs, not all"):
        result = alignment_points(runs, metric="accuracy")
    assert result is not None and result["retrieval_languages"] == ["spanish"]
    points = {(p["recipe"], p["seed"]): p for p in result["points"]}
    assert set(points) == set(retrieval)  # base seed 3 has no diagnostics: not on the plot
    # target average = Spanish accuracy = n_right / 10 (BASE / ALIGN above)
    assert points[("align", 2)]["target_avg"] == pytest.approx(0.8)
    assert points[("base", 2)]["retrieval_at_1"] == pytest.approx(0.4)
    xs = [retrieval[k] for k in points]
    ys = [{**{("base", s): BASE[s]["spanish"] for s in BASE}, **{("align", s): ALIGN[s]["spanish"] for s in ALIGN}}[k]
          / 10 for k in points]
    assert result["pearson_r"]["value"] == pytest.approx(scipy_stats.pearsonr(xs, ys).statistic)
    assert result["spearman_rho"]["value"] == pytest.approx(scipy_stats.spearmanr(xs, ys).statistic)

    parser = argparse.ArgumentParser(prog="xlingual")
    register(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(["compare", str(sweep), "--out", str(out), "--bootstrap", "0"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "alignment vs transfer: 5 runs with diagnostics (retrieval@1 en→spanish); Pearson r = " in printed
    assert json.loads((out / "alignment.json").read_text())["points"]
    width, height = png_size(out / "transfer_vs_retrieval.png")
    assert width > 300 and height > 200

def test_runs_without_diagnostics_give_no_alignment_plot_and_broken_ones_warn(sweep, tmp_path):
    from xlingual.reports.alignment import alignment_points

    assert alignment_points(load_runs([sweep])) is None
    atomic_write_text(sweep / "base" / "seed1" / "diagnostics" / "diagnostics.json", "{not json")
    write_diagnostics(sweep / "align" / "seed1", {"spanish": 0.9})
    with pytest.warns(ComparisonWarning, match="unreadable diagnostics"):
        result = alignment_points(load_runs([sweep]))
    assert result is not None and len(result["points"]) == 1 and result["pearson_r"] is None

def test_baseline_deltas_pair_each_recipe_on_the_seeds_it_shares_with_the_baseline(sweep, tmp_path, capsys):
    from xlingual.reports.comparison import baseline_deltas

    write_run(sweep / "late" / "seed2", "late", 2, {"english": 9, "spanish": 9})
    write_run(sweep / "late" / "seed3", "late", 3, {"english": 9, "spanish": 9})
    write_run(sweep / "alone" / "seed7", "alone", 7, {"english": 9, "spanish": 9})
    result = baseline_deltas(load_runs([sweep]), "base", metric="accuracy", n_resamples=200)
    align, late = result["recipes"]["align"], result["recipes"]["late"]
    # Spanish accuracy: align 0.7/0.8/0.9 vs base 0.6/0.5/0.4; late 0.9/0.9 vs base seeds 2, 3 only (0.5/0.4)
    assert align["seeds"] == [1, 2, 3] and align["per_seed_delta"] == pytest.approx([0.1, 0.3, 0.5])
    assert align["delta"] == pytest.approx(0.3) and align["seed_test"] is not None
    assert late["seeds"] == [2, 3] and late["b"] == pytest.approx(0.45) and late["delta"] == pytest.approx(0.45)
    assert late["per_seed_delta"] == pytest.approx([0.4, 0.5])
    assert late["ci"][0] <= 0.45 <= late["ci"][1]
    assert "alone" not in result["recipes"] and any("alone: no seed in common" in n for n in result["notes"])
    with pytest.raises(ComparisonError, match=r"baseline recipe 'bse'.*did you mean 'base'"):
        baseline_deltas(load_runs([sweep]), "bse")

    parser = argparse.ArgumentParser(prog="xlingual")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["compare", str(sweep), "--out", str(tmp_path / "out"), "--baseline", "base",
                              "--bootstrap", "100", "--no-plots", "--metric", "accuracy"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "## Target average against base (accuracy, test split, paired on shared seeds)" in printed
    assert "| late | 2,3 | 90.0 | 45.0 | 45.0 |" in printed
    assert json.loads((tmp_path / "out" / "baseline.json").read_text())["recipes"]["align"]["seeds"] == [1, 2, 3]

def test_diagnostics_older_than_the_run_or_measured_differently_are_flagged(sweep):
    import os

    from xlingual.reports.alignment import alignment_points

    write_diagnostics(sweep / "align" / "seed1", {"spanish": 0.9})
    write_diagnostics(sweep / "align" / "seed2", {"spanish": 0.8})
    stale = sweep / "base" / "seed1" / "diagnostics" / "diagnostics.json"
    write_diagnostics(sweep / "base" / "seed1", {"spanish": 0.5})
    results = sweep / "base" / "seed1" / "results.json"
    os.utime(stale, (results.stat().st_mtime - 60, results.stat().st_mtime - 60))  # the run was trained again
    with pytest.warns(ComparisonWarning, match="older than the run's results.json"):
        result = alignment_points(load_runs([sweep]))
    assert {p["recipe"] for p in result["points"]} == {"align"}
    stale.unlink()
    atomic_write_json(sweep / "align" / "seed2" / "diagnostics" / "diagnostics.json",
                      {"max_pairs": 100, "languages": {"spanish": {"retrieval_at_1_en_to_x": 0.8}}})
    with pytest.warns(ComparisonWarning, match="different pairs, pair counts or text prefixes"):
        alignment_points(load_runs([sweep]))


def test_soups_of_different_seed_sets_are_members_of_one_recipe_and_pair_by_their_seeds(tmp_path):
    """Soups have no seed; soups of seeds {1,2}, {1,3}, {2,3} are three members, not one run and two skipped."""
    from xlingual.reports.comparison import baseline_deltas

    def soup_run(recipe, seeds, spanish):
        folder = write_run(tmp_path / recipe / "+".join(map(str, seeds)), recipe, None,
                           {"english": 9, "spanish": spanish})
        results = json.loads((folder / "results.json").read_text())
        results["soup"] = {"kind": "uniform", "ingredients": [], "kept": [], "source_dev_macro_f1": None,
                           "seeds": list(seeds)}
        atomic_write_json(folder / "results.json", results)

    for seeds, (a, b) in {(1, 2): (8, 6), (1, 3): (7, 6), (2, 3): (9, 5)}.items():
        soup_run("cs-soup", seeds, a)
        soup_run("base-soup", seeds, b)
    runs = load_runs([tmp_path])
    table = comparison_table(runs, n_resamples=0)
    assert table.recipes["cs-soup"].n_seeds == 3 and table.skipped is None
    result = baseline_deltas(runs, "base-soup", metric="accuracy", n_resamples=100)
    row = result["recipes"]["cs-soup"]
    assert row["seeds"] == ["1+2", "1+3", "2+3"] and row["per_seed_delta"] == pytest.approx([0.2, 0.1, 0.4])
