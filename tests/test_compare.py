"""Bootstrap intervals, paired tests and ``xlingual compare`` on fabricated run folders with known numbers."""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
from conftest import png_size

from xlingual.evaluation.metrics import classification_metrics, transfer_summary
from xlingual.io import atomic_write_json, atomic_write_text
from xlingual.reports import stats
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
from xlingual.reports.plots import plot_gap_heatmap, plot_language_bars, plot_training_curves, read_train_log

LABELS = ["negative", "neutral", "positive"]


# ----------------------------------------------------------------------------- helpers


def right_then_wrong(n: int, n_right: int) -> tuple[list[int], list[int]]:
    """Gold cycling 0,1,2 and a prediction right on the first ``n_right`` examples, off by one class after."""
    gold = [i % 3 for i in range(n)]
    pred = [g if i < n_right else (g + 1) % 3 for i, g in enumerate(gold)]
    return gold, pred


def write_run(folder: Path, recipe: str, seed: int, right: dict[str, int], n: int = 10, source: str = "english",
              scheme: tuple[str, list[str]] = ("sentiment3", LABELS),
              target_resources: tuple[str, ...] = ("zero-shot",), model_selection: str = "source-dev",
              test_files: dict[str, str] | None = None, alignment: bool = False) -> Path:
    """A finished run folder: results.json, predictions/<lang>.test.jsonl, logs/train_log.jsonl."""
    name, names = scheme
    languages = {}
    for language, n_right in right.items():
        gold, pred = right_then_wrong(n, n_right)
        gold = [g % len(names) for g in gold]
        pred = [p % len(names) for p in pred]
        metrics = classification_metrics(gold, pred, names)
        metrics["role"] = "source" if language == source else "target"
        languages[language] = metrics
        prefix = (test_files or {}).get(language, "text")  # another test file means other texts
        lines = [json.dumps({"index": i, "text": f"{prefix} {i}", "label": names[g], "prediction": names[p],
                             "probabilities": [1.0 if c == p else 0.0 for c in range(len(names))]})
                 for i, (g, p) in enumerate(zip(gold, pred, strict=True))]
        atomic_write_text(folder / "predictions" / f"{language}.test.jsonl", "\n".join(lines) + "\n")
    files = {lang: f"data/{lang}/test.txt" for lang in right}
    files.update(test_files or {})
    log = []
    for step in range(1, 7):
        record = {"task": 1.0 / step, "total": 1.0 / step, "step": step, "epoch": step / 3, "lr": 1e-5}
        if alignment:
            record.update(mmd=0.5 / step, mmd_weight=0.1, total=1.0 / step + 0.05 / step)
        log.append(record)
        if step % 3 == 0:
            log.append({"epoch": step // 3, "step": step, "selection_macro_f1": 0.4 + 0.1 * step / 3,
                        "selection_accuracy": 0.5})
    atomic_write_text(folder / "logs" / "train_log.jsonl", "\n".join(json.dumps(r) for r in log) + "\n")
    results = {
        "status": "complete", "recipe": recipe, "method": "full", "seed": seed, "source_language": source,
        "target_languages": [lang for lang in right if lang != source],
        "label_scheme": {"name": name, "names": names},
        "protocol": {"target_resources": list(target_resources), "model_selection": model_selection,
                     "files": {"train": "data/english/train.txt"}},
        "splits": {"test": {"languages": languages, "summary": transfer_summary(languages, source),
                            "test_files": files}},
    }
    atomic_write_json(folder / "results.json", results)
    return folder


# accuracy = n_right / 10 per seed; chosen so means and standard deviations are easy by hand
BASE = {1: {"english": 9, "spanish": 6}, 2: {"english": 8, "spanish": 5}, 3: {"english": 7, "spanish": 4}}
ALIGN = {1: {"english": 9, "spanish": 7}, 2: {"english": 9, "spanish": 8}, 3: {"english": 9, "spanish": 9}}


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """sweep/<recipe>/seed<N>/: 2 recipes x 3 seeds x 2 languages (depth 2 below the sweep folder)."""
    root = tmp_path / "sweep"
    for seed, right in BASE.items():
        write_run(root / "base" / f"seed{seed}", "base", seed, right)
    for seed, right in ALIGN.items():
        write_run(root / "align" / f"seed{seed}", "align", seed, right, alignment=True)
    return root


# ----------------------------------------------------------------------------- stats


def test_batched_macro_f1_matches_the_package_metric():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, size=(5, 40))
    pred = rng.integers(0, 3, size=(5, 40))
    batched = stats._row_scores(gold, pred, 3, "macro_f1")
    expected = [classification_metrics(g, p, LABELS)["macro_f1"] for g, p in zip(gold, pred, strict=True)]
    assert batched == pytest.approx(expected)
    assert stats.score(gold[0], pred[0]) == pytest.approx(expected[0])
    assert stats.score(gold[0], pred[0], "accuracy") == pytest.approx(np.mean(gold[0] == pred[0]))


def test_identical_systems_are_not_significant():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 200)
    pred = np.where(rng.random(200) < 0.6, gold, rng.integers(0, 3, 200))
    for metric in ("macro_f1", "accuracy"):
        boot = stats.paired_bootstrap_test(gold, pred, pred, metric, n_resamples=500, seed=1)
        perm = stats.paired_permutation_test(gold, pred, pred, metric, n_resamples=500, seed=1)
        assert boot["p_value"] > 0.9 and perm["p_value"] > 0.9
        assert boot["delta"] == 0 and perm["delta"] == 0 and boot["ci"] == [0, 0]


@pytest.mark.parametrize("metric", ["macro_f1", "accuracy"])
def test_perfect_system_beats_half_wrong_one(metric):
    gold, half = right_then_wrong(200, 0)
    half = [g if i % 2 else p for i, (g, p) in enumerate(zip(gold, half, strict=True))]  # wrong on every other
    boot = stats.paired_bootstrap_test(gold, gold, half, metric, n_resamples=1000, seed=0)
    perm = stats.paired_permutation_test(gold, gold, half, metric, n_resamples=1000, seed=0)
    assert boot["p_value"] < 0.01 and perm["p_value"] < 0.01
    assert boot["delta"] == pytest.approx(stats.score(gold, gold, metric) - stats.score(gold, half, metric))
    assert boot["delta"] > 0 and boot["ci"][0] > 0
    if metric == "accuracy":
        assert boot["delta"] == pytest.approx(0.5)
        assert boot["ci"][0] <= 0.5 <= boot["ci"][1]
    # B against A: same p-value, opposite sign
    reverse = stats.paired_bootstrap_test(gold, half, gold, metric, n_resamples=1000, seed=0)
    assert reverse["delta"] == pytest.approx(-boot["delta"]) and reverse["p_value"] == boot["p_value"]


def test_bootstrap_ci_contains_the_estimate_and_narrows_with_n():
    widths = []
    for n in (90, 900):
        gold, pred = right_then_wrong(n, int(0.7 * n))
        pred = np.array(pred)
        pred[::10] = gold[:: 10]  # scatter the errors a little
        for metric in ("macro_f1", "accuracy"):
            low, high = stats.bootstrap_ci(gold, pred, metric, n_resamples=1000, seed=0)
            assert low <= stats.score(gold, pred, metric) <= high
            if metric == "accuracy":
                widths.append(high - low)
    assert widths[1] < widths[0] / 2  # ~ 1/sqrt(10) as wide with 10x the examples


def test_bootstrap_is_seeded_and_confidence_widens():
    gold, pred = right_then_wrong(120, 80)
    assert stats.bootstrap_ci(gold, pred, seed=5) == stats.bootstrap_ci(gold, pred, seed=5)
    narrow = stats.bootstrap_ci(gold, pred, confidence=0.8)
    wide = stats.bootstrap_ci(gold, pred, confidence=0.99)
    assert wide[0] < narrow[0] and narrow[1] < wide[1]


def test_several_runs_and_languages():
    gold, pred_a = right_then_wrong(60, 45)
    _, pred_b = right_then_wrong(60, 30)
    runs = np.stack([pred_a, pred_b])  # two seeds on the same examples: metric averaged
    assert stats.score(gold, runs, "accuracy") == pytest.approx((45 + 30) / 120)
    low, high = stats.bootstrap_ci(gold, runs, "accuracy", n_resamples=500)
    assert low < 0.625 < high
    # the target average over two languages: delta is the mean of the per-language deltas
    gold2, other = right_then_wrong(30, 10)
    result = stats.paired_bootstrap_test_average([gold, gold2], [pred_a, gold2], [pred_b, other], "accuracy",
                                                 n_resamples=300)
    assert result["delta"] == pytest.approx(((45 - 30) / 60 + (30 - 10) / 30) / 2)
    perm = stats.paired_permutation_test_average([gold, gold2], [pred_a, gold2], [pred_b, other], "accuracy",
                                                 n_resamples=300)
    assert perm["delta"] == pytest.approx(result["delta"]) and perm["p_value"] < 0.05
    weighted = stats.bootstrap_ci_average([gold, gold2], [pred_a, other], "accuracy", weights=[1, -1])
    assert weighted[0] <= 45 / 60 - 10 / 30 <= weighted[1]


def test_t_quantiles_and_seed_interval():
    """Textbook values of Student's t (scipy.stats underneath)."""
    assert stats.t_critical(2) == pytest.approx(4.3027, abs=1e-4)
    assert stats.t_critical(30, 0.99) == pytest.approx(2.750, abs=1e-3)
    assert stats.t_critical(12, 0.8) == pytest.approx(1.3562, abs=1e-4)
    assert 1.96 < stats.t_critical(1000) < 1.963
    assert stats.t_cdf(0, 4) == pytest.approx(0.5)
    assert stats.t_cdf(stats.t_critical(45, 0.95), 45) == pytest.approx(0.975, abs=1e-12)
    low, high = stats.seed_ci([1.0, 2.0, 3.0])
    assert (low, high) == pytest.approx((2 - 4.3027 / math.sqrt(3), 2 + 4.3027 / math.sqrt(3)), abs=1e-4)
    assert all(math.isnan(v) for v in stats.seed_ci([0.5]))
    with pytest.raises(ValueError):
        stats.t_critical(0)


def test_paired_t_test_effect_size_and_holm():
    result = stats.paired_t_test([0.9, 0.8, 0.7], [0.8, 0.6, 0.6])  # differences 0.1, 0.2, 0.1
    d = np.array([0.1, 0.2, 0.1])
    t = d.mean() / (d.std(ddof=1) / math.sqrt(3))
    assert result["delta"] == pytest.approx(d.mean()) and result["t"] == pytest.approx(t)
    assert result["cohens_d"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert 0 < result["p_value"] < 0.1 and result["df"] == 2
    assert stats.paired_t_test([0.5, 0.6], [0.5, 0.6])["p_value"] == 1.0
    assert stats.cohens_d_paired([1, 1, 0, 1], [1, 1, 0, 1]) == 0.0
    assert stats.holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])


# ----------------------------------------------------------------------------- compare


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
    assert table["columns"] == ["english", "spanish", "target_avg", "transfer_gap"]
    assert table["flags"] == []
    base, align = table["recipes"]["base"], table["recipes"]["align"]
    assert base["seeds"] == [1, 2, 3] and base["n_seeds"] == 3
    cols = base["columns"]
    # accuracy: english 0.9, 0.8, 0.7; spanish 0.6, 0.5, 0.4; gap 0.3 each seed
    assert cols["english"]["accuracy"]["mean"] == pytest.approx(0.8)
    assert cols["english"]["accuracy"]["std"] == pytest.approx(0.1)
    assert cols["spanish"]["accuracy"]["mean"] == pytest.approx(0.5)
    assert cols["target_avg"]["accuracy"]["mean"] == pytest.approx(0.5)
    assert cols["transfer_gap"]["accuracy"]["mean"] == pytest.approx(0.3)
    assert cols["transfer_gap"]["accuracy"]["std"] == pytest.approx(0.0)
    acols = align["columns"]
    assert acols["english"]["accuracy"]["std"] == pytest.approx(0.0)
    assert acols["spanish"]["accuracy"]["mean"] == pytest.approx(0.8)
    assert acols["transfer_gap"]["accuracy"]["mean"] == pytest.approx(0.1)
    assert acols["transfer_gap"]["accuracy"]["std"] == pytest.approx(0.1)
    # macro-F1: mean and sample std of the per-seed values
    f1 = [classification_metrics(*right_then_wrong(10, BASE[s]["spanish"]), LABELS)["macro_f1"] for s in (1, 2, 3)]
    assert cols["spanish"]["macro_f1"]["mean"] == pytest.approx(statistics.mean(f1))
    assert cols["spanish"]["macro_f1"]["std"] == pytest.approx(statistics.stdev(f1))
    # intervals: t over seeds, bootstrap over examples around the mean
    half = 4.302652729911275 * 0.1 / math.sqrt(3)  # t_{0.975, 2}
    assert cols["english"]["accuracy"]["ci_seeds"] == pytest.approx([0.8 - half, 0.8 + half])
    for column in table["columns"]:
        for metric in ("accuracy", "macro_f1"):
            cell = cols[column][metric]
            low, high = cell["ci_examples"]
            assert low <= cell["mean"] <= high
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
    flags = " | ".join(table["flags"])
    assert "target-side resources" in flags and "unlabeled-target (selftrain)" in flags
    assert "oracle model selection" in flags and "selftrain" in flags
    assert "different test examples for spanish" in flags and "other/spanish/test.txt" in flags
    markdown = table_markdown(table)
    assert "- **warning:** different target-side resources" in markdown
    assert table["recipes"]["selftrain"]["columns"]["english"]["accuracy"]["std"] is None  # one seed


def test_runs_with_extra_source_data_are_flagged_as_another_protocol(sweep):
    folder = write_run(sweep / "more_english" / "seed1", "more_english", 1, {"english": 9, "spanish": 8})
    results = json.loads((folder / "results.json").read_text())
    results["protocol"]["extra_source_data"] = {"files": "extra/", "train_examples": 500}
    (folder / "results.json").write_text(json.dumps(results))
    flags = " | ".join(comparison_table(load_runs([sweep]), n_resamples=0)["flags"])
    assert "extra source-language training data in more_english" in flags
    only = comparison_table(load_runs([sweep / "more_english"]), n_resamples=0)["flags"]
    assert not any("extra source" in flag for flag in only)  # all of one protocol: nothing to flag
    other = write_run(sweep / "balanced" / "seed1", "balanced", 1, {"english": 9, "spanish": 8})
    results = json.loads((other / "results.json").read_text())
    results["protocol"]["extra_source_data"] = {"files": "extra/", "train_examples": 300, "class_balanced": True}
    (other / "results.json").write_text(json.dumps(results))
    both = " | ".join(comparison_table(load_runs([sweep / "more_english", sweep / "balanced"]),
                                       n_resamples=0)["flags"])
    assert "different extra source data" in both and "300 training examples, class-balanced (balanced)" in both


def test_same_test_content_under_another_path_is_not_flagged(sweep):
    """A run that named the data folder ``../shared/...`` and one that named it by absolute path
    scored the same examples: the content fingerprint from the predictions says so."""
    folder = write_run(sweep / "relative" / "seed1", "relative", 1, {"english": 9, "spanish": 8})
    results = json.loads((folder / "results.json").read_text())
    results["splits"]["test"]["test_files"]["spanish"] = "../elsewhere/spanish/test.txt"
    atomic_write_json(folder / "results.json", results)
    flags = " | ".join(comparison_table(load_runs([sweep]), n_resamples=0)["flags"])
    assert "different test examples" not in flags


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


# ----------------------------------------------------------------------------- plots and CLI


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
