"""Bootstrap intervals, paired tests and seed intervals (reports/stats.py) against numbers known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fabricated_runs import LABELS, right_then_wrong  # tests/reports/

from xlingual.metrics.classification import classification_metrics
from xlingual.reports import stats


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
