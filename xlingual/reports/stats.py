"""Uncertainty for transfer scores: bootstrap intervals, paired tests, intervals over seeds.

numpy (and scipy for the t distribution), seeded (``numpy.random.default_rng(seed)``) and vectorised: a bootstrap of
1000 resamples of a few thousand test examples takes a fraction of a second, so
``xlingual compare`` can afford an interval on every cell of its table.

Predictions are label indices. Wherever a function takes ``pred``, it also accepts a 2-D
array ``(seeds, examples)``: several runs' predictions on the same examples, whose metric
is averaged over the runs. The bootstrap then resamples examples once and applies the
same resample to every run, so an interval is about the seed-averaged score under a new
draw of test examples (test-set uncertainty; use :func:`seed_ci` for seed variance).

Functions named ``*_average`` take one array per language: each language's examples are
resampled independently (their test sets are independent samples) and the metric is
averaged over languages, which is what the "target average" column reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy import stats as scipy_stats

from ..metrics.classification import confusion_matrix, f1_per_class

Metric = Literal["macro_f1", "accuracy"]
METRICS: tuple[str, ...] = ("macro_f1", "accuracy")
METRIC_LABELS: dict[str, str] = {"macro_f1": "macro-F1", "accuracy": "accuracy"}

# elements of the (resamples x examples) work arrays per chunk: bounds memory to ~100 MB
_CHUNK_ELEMENTS = 2_000_000
# a resampled difference counts as "at least as extreme" within this tolerance (float noise)
_TOLERANCE = 1e-12

# ----------------------------------------------------------------------------- point estimates


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def _systems(gold: np.ndarray, pred: Sequence[int] | np.ndarray) -> np.ndarray:
    """``pred`` as a 2-D int array (runs, examples), checked against the gold labels."""
    array = np.asarray(pred, dtype=np.int64)
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != len(gold):
        raise ValueError(f"predictions of shape {np.shape(pred)} do not match {len(gold)} gold labels")
    if array.shape[0] == 0:
        raise ValueError("no predictions")
    return array


def _gold(gold: Sequence[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(gold, dtype=np.int64)
    if array.ndim != 1:
        raise ValueError("gold labels must be a 1-D sequence")
    if not len(array):
        raise ValueError("no examples to score")
    return array


def _num_labels(num_labels: int | None, *arrays: np.ndarray) -> int:
    """The number of classes: given, or one more than the largest label seen (classes are indices)."""
    seen = max(int(a.max()) for a in arrays) + 1
    if num_labels is None:
        return seen
    if seen > num_labels or min(int(a.min()) for a in arrays) < 0:
        raise ValueError(f"labels outside 0..{num_labels - 1}")
    return num_labels


def _row_scores(gold_rows: np.ndarray, pred_rows: np.ndarray, num_labels: int, metric: str) -> np.ndarray:
    """The metric of every row of ``(rows, examples)`` arrays at once.

    Macro-F1 needs one confusion matrix per row: the codes ``gold * k + pred`` are offset
    by ``row * k * k`` so that a single ``np.bincount`` counts all rows' matrices.
    """
    if metric == "accuracy":
        return (gold_rows == pred_rows).mean(axis=-1)
    rows = pred_rows.shape[0]
    k = num_labels
    codes = gold_rows * k + pred_rows + (np.arange(rows, dtype=np.int64) * k * k)[:, None]
    counts = np.bincount(codes.ravel(), minlength=rows * k * k).reshape(rows, k, k).astype(float)
    true_positive = np.diagonal(counts, axis1=1, axis2=2)
    denominator = counts.sum(axis=1) + counts.sum(axis=2)
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive), where=denominator > 0)
    return f1.mean(axis=1)


def score(gold: Sequence[int], pred: Sequence[int] | np.ndarray, metric: Metric = "macro_f1",
          num_labels: int | None = None) -> float:
    """The metric on all examples (averaged over runs for 2-D ``pred``), as a fraction.

    Goes through :mod:`xlingual.metrics.classification`, so it equals what results.json holds.
    """
    _check_metric(metric)
    gold_array = _gold(gold)
    systems = _systems(gold_array, pred)
    k = _num_labels(num_labels, gold_array, systems)
    values = []
    for row in systems:
        if metric == "accuracy":
            values.append(float(np.mean(row == gold_array)))
        else:
            values.append(float(f1_per_class(confusion_matrix(gold_array, row, k)).mean()))
    return float(np.mean(values))


# ----------------------------------------------------------------------------- bootstrap engine


def _resampled_scores(gold: np.ndarray, systems: Sequence[np.ndarray], num_labels: int, metric: str,
                      n_resamples: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Seed-averaged metric of each system on the same ``n_resamples`` bootstrap resamples of examples."""
    n = len(gold)
    width = n * sum(len(s) for s in systems)
    chunk = max(1, _CHUNK_ELEMENTS // max(width, 1))
    out = [np.empty(n_resamples) for _ in systems]
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        gold_rows = gold[idx]
        for system, target in zip(systems, out, strict=True):
            pred_rows = system[:, idx].reshape(-1, n)  # (runs * chunk, n)
            gold_tiled = np.broadcast_to(gold_rows, (len(system), *gold_rows.shape)).reshape(-1, n)
            scores = _row_scores(gold_tiled, pred_rows, num_labels, metric).reshape(len(system), -1)
            target[start:stop] = scores.mean(axis=0)
    return out


def _prepare(golds: Sequence[Sequence[int]], *preds: Sequence) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Per-language gold arrays and, for each system, its per-language 2-D prediction arrays."""
    gold_arrays = [_gold(g) for g in golds]
    if not gold_arrays:
        raise ValueError("no languages given")
    systems = []
    for pred in preds:
        if len(pred) != len(gold_arrays):
            raise ValueError(f"{len(pred)} prediction arrays for {len(gold_arrays)} languages")
        systems.append([_systems(g, p) for g, p in zip(gold_arrays, pred, strict=True)])
    return gold_arrays, systems


def _weights(weights: Sequence[float] | None, count: int) -> np.ndarray:
    """Language weights: a plain average unless given (e.g. +1 source, -1/T targets for the gap)."""
    if weights is None:
        return np.full(count, 1.0 / count)
    array = np.asarray(weights, dtype=float)
    if array.shape != (count,):
        raise ValueError(f"{len(array)} weights for {count} languages")
    return array


def bootstrap_scores(golds: Sequence[Sequence[int]], preds: Sequence, metric: Metric = "macro_f1",
                     n_resamples: int = 1000, seed: int = 0, num_labels: int | None = None) -> list[np.ndarray]:
    """Bootstrap distribution ``(n_resamples,)`` of the metric of each language, resampled independently.

    Returned per language so callers can combine them (target average, transfer gap)
    without resampling again.
    """
    _check_metric(metric)
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    gold_arrays, (systems,) = _prepare(golds, preds)
    rng = np.random.default_rng(seed)
    out = []
    for gold, system in zip(gold_arrays, systems, strict=True):
        k = _num_labels(num_labels, gold, system)
        out.append(_resampled_scores(gold, [system], k, metric, n_resamples, rng)[0])
    return out


def percentile_interval(distribution: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The central ``confidence`` percentile interval of a bootstrap distribution."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    alpha = 1 - confidence
    low, high = np.quantile(distribution, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_ci_average(golds: Sequence[Sequence[int]], preds: Sequence, metric: Metric = "macro_f1",
                         n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                         num_labels: int | None = None, weights: Sequence[float] | None = None) -> tuple[float, float]:
    """Percentile interval of a (weighted) average of per-language metrics, e.g. the target average."""
    distributions = bootstrap_scores(golds, preds, metric, n_resamples, seed, num_labels)
    combined = np.tensordot(_weights(weights, len(distributions)), np.stack(distributions), axes=1)
    return percentile_interval(combined, confidence)


def bootstrap_ci(gold: Sequence[int], pred: Sequence[int] | np.ndarray, metric: Metric = "macro_f1",
                 n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
                 num_labels: int | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval of the metric, resampling test examples with replacement."""
    return bootstrap_ci_average([gold], [pred], metric, n_resamples, confidence, seed, num_labels)


# ----------------------------------------------------------------------------- paired tests


def _two_sided_p(extreme: int, n_resamples: int) -> float:
    """(count + 1) / (resamples + 1): never 0, since the observed split is one of the possible ones."""
    return (extreme + 1) / (n_resamples + 1)


def paired_bootstrap_test_average(golds: Sequence[Sequence[int]], preds_a: Sequence, preds_b: Sequence,
                                  metric: Metric = "macro_f1", n_resamples: int = 1000, confidence: float = 0.95,
                                  seed: int = 0, num_labels: int | None = None,
                                  weights: Sequence[float] | None = None) -> dict[str, object]:
    """Paired bootstrap test of A − B on an average over languages (two-sided).

    Both systems are scored on the same resamples; the p-value is the share of resampled
    differences at least as far from the observed difference as the observed difference
    is from 0 (the bootstrap distribution shifted to the null, Berg-Kirkpatrick et al. 2012).
    """
    _check_metric(metric)
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    gold_arrays, (systems_a, systems_b) = _prepare(golds, preds_a, preds_b)
    w = _weights(weights, len(gold_arrays))
    rng = np.random.default_rng(seed)
    point_a = point_b = 0.0
    dist_a = np.zeros(n_resamples)
    dist_b = np.zeros(n_resamples)
    for weight, gold, a, b in zip(w, gold_arrays, systems_a, systems_b, strict=True):
        k = _num_labels(num_labels, gold, a, b)
        point_a += weight * score(gold, a, metric, k)
        point_b += weight * score(gold, b, metric, k)
        resampled_a, resampled_b = _resampled_scores(gold, [a, b], k, metric, n_resamples, rng)
        dist_a += weight * resampled_a
        dist_b += weight * resampled_b
    delta = point_a - point_b
    deltas = dist_a - dist_b
    extreme = int(np.sum(np.abs(deltas - delta) >= abs(delta) - _TOLERANCE))
    return {"metric": metric, "a": float(point_a), "b": float(point_b), "delta": float(delta),
            "ci": list(percentile_interval(deltas, confidence)), "confidence": confidence,
            "p_value": _two_sided_p(extreme, n_resamples), "n_resamples": n_resamples}


def paired_bootstrap_test(gold: Sequence[int], pred_a: Sequence[int] | np.ndarray, pred_b: Sequence[int] | np.ndarray,
                          metric: Metric = "macro_f1", n_resamples: int = 1000, seed: int = 0,
                          confidence: float = 0.95, num_labels: int | None = None) -> dict[str, object]:
    """Paired bootstrap test of A − B over the same test examples: p_value, delta (full data), ci of delta."""
    return paired_bootstrap_test_average([gold], [pred_a], [pred_b], metric, n_resamples, confidence, seed,
                                         num_labels)


def paired_permutation_test_average(golds: Sequence[Sequence[int]], preds_a: Sequence, preds_b: Sequence,
                                    metric: Metric = "macro_f1", n_resamples: int = 1000, seed: int = 0,
                                    num_labels: int | None = None,
                                    weights: Sequence[float] | None = None) -> dict[str, object]:
    """Approximate randomisation test of A − B on an average over languages (two-sided).

    Under the null the two systems are exchangeable on every example, so each resample
    swaps A's and B's predictions on a random half of the examples. With several runs per
    system (2-D arrays, paired row by row) an example is swapped in every pair at once.
    """
    _check_metric(metric)
    if n_resamples < 1:
        raise ValueError("n_resamples must be at least 1")
    gold_arrays, (systems_a, systems_b) = _prepare(golds, preds_a, preds_b)
    w = _weights(weights, len(gold_arrays))
    rng = np.random.default_rng(seed)
    delta = 0.0
    permuted = np.zeros(n_resamples)
    for weight, gold, a, b in zip(w, gold_arrays, systems_a, systems_b, strict=True):
        if a.shape != b.shape:
            raise ValueError(f"the permutation test pairs runs one to one: {len(a)} runs against {len(b)}")
        k = _num_labels(num_labels, gold, a, b)
        delta += weight * (score(gold, a, metric, k) - score(gold, b, metric, k))
        n, runs = len(gold), len(a)
        chunk = max(1, _CHUNK_ELEMENTS // (2 * n * runs))
        for start in range(0, n_resamples, chunk):
            stop = min(start + chunk, n_resamples)
            swap = rng.random((stop - start, n)) < 0.5  # (chunk, n), shared by all run pairs
            swapped_a = np.where(swap[None], b[:, None, :], a[:, None, :]).reshape(-1, n)
            swapped_b = np.where(swap[None], a[:, None, :], b[:, None, :]).reshape(-1, n)
            gold_rows = np.broadcast_to(gold, swapped_a.shape)
            diff = (_row_scores(gold_rows, swapped_a, k, metric) - _row_scores(gold_rows, swapped_b, k, metric))
            permuted[start:stop] += weight * diff.reshape(runs, -1).mean(axis=0)
    extreme = int(np.sum(np.abs(permuted) >= abs(delta) - _TOLERANCE))
    return {"metric": metric, "delta": float(delta), "p_value": _two_sided_p(extreme, n_resamples),
            "n_resamples": n_resamples}


def paired_permutation_test(gold: Sequence[int], pred_a: Sequence[int] | np.ndarray,
                            pred_b: Sequence[int] | np.ndarray, metric: Metric = "macro_f1",
                            n_resamples: int = 1000, seed: int = 0, num_labels: int | None = None) -> dict[str, object]:
    """Approximate randomisation test of A − B over the same examples: p_value and delta (full data)."""
    return paired_permutation_test_average([gold], [pred_a], [pred_b], metric, n_resamples, seed, num_labels)


# ----------------------------------------------------------------------------- effect sizes


def cohens_d_paired(a: Sequence[float], b: Sequence[float]) -> float:
    """Cohen's d_z of paired values: mean difference over the standard deviation of the differences.

    For per-example correctness (1 right, 0 wrong) this is the standardised accuracy gain;
    0 when nothing differs, ±inf when every pair differs by the same amount.
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size < 2:
        return math.nan
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    if sd == 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / sd


def correctness_effect_size(golds: Sequence[Sequence[int]], preds_a: Sequence, preds_b: Sequence) -> float:
    """d_z of the per-example difference in correctness (averaged over runs), pooled over languages.

    Macro-F1 does not decompose into examples; correctness does, so this gives one
    standardised effect for either metric's test.
    """
    gold_arrays, (systems_a, systems_b) = _prepare(golds, preds_a, preds_b)
    right_a = np.concatenate([(a == g).mean(axis=0) for g, a in zip(gold_arrays, systems_a, strict=True)])
    right_b = np.concatenate([(b == g).mean(axis=0) for g, b in zip(gold_arrays, systems_b, strict=True)])
    return cohens_d_paired(right_a, right_b)


# ----------------------------------------------------------------------------- Student t (scipy)


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    return float(scipy_stats.t.cdf(t, df))


def t_critical(df: int, confidence: float = 0.95) -> float:
    """Two-sided critical value ``t_{df, 1 − (1 − confidence)/2}``."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    return float(scipy_stats.t.ppf(1 - (1 - confidence) / 2, df))


def seed_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """t interval of the mean over seeds; (nan, nan) with fewer than 2 seeds (no spread to estimate)."""
    array = np.asarray(values, dtype=float)
    if array.size < 2:
        return math.nan, math.nan
    mean = float(array.mean())
    half = t_critical(array.size - 1, confidence) * float(array.std(ddof=1)) / math.sqrt(array.size)
    return mean - half, mean + half


def paired_t_test(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> dict[str, object]:
    """Paired t test of A − B over matched seeds: p_value, delta, t interval of delta, Cohen's d_z."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if diff.size < 2:
        raise ValueError("a paired t test needs at least 2 pairs")
    mean, sd, df = float(diff.mean()), float(diff.std(ddof=1)), diff.size - 1
    if sd == 0:
        t, p = (0.0, 1.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0)
    else:
        t = mean / (sd / math.sqrt(diff.size))
        p = min(1.0, 2 * (1 - t_cdf(abs(t), df)))
    low, high = seed_ci(diff, confidence)
    return {"delta": mean, "ci": [low, high], "confidence": confidence, "t": t, "df": df, "p_value": p,
            "cohens_d": cohens_d_paired(a, b), "n_pairs": int(diff.size)}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (controls the family-wise error over several languages)."""
    p = np.asarray(p_values, dtype=float)
    order = np.argsort(p)
    adjusted = np.empty_like(p)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()
