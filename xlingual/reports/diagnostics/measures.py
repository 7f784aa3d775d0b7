"""The alignment measures: pure functions, embedding matrices in, numbers out (retrieval, cosine of true vs random
pairs, linear CKA, a language-ID probe, PCA), testable on toy matrices and reusable in notebooks."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

    Matrix = torch.Tensor | np.ndarray


# ----------------------------------------------------------------------------- metrics


def _as_float64(x: Matrix) -> torch.Tensor:
    """A detached CPU float64 matrix, whatever came in (torch or numpy)."""
    # torch: slow to import, and this module works without it
    import torch

    tensor = x.detach().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(x)
    tensor = tensor.to(torch.float64)
    if tensor.ndim != 2:
        raise ValueError(f"expected an (n, d) matrix, got shape {tuple(tensor.shape)}")
    return tensor


def _paired(a: Matrix, b: Matrix, same_width: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = _as_float64(a), _as_float64(b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"paired matrices need the same number of rows, got {a.shape[0]} and {b.shape[0]}")
    if same_width and a.shape[1] != b.shape[1]:
        raise ValueError(f"matrices need the same width, got {a.shape[1]} and {b.shape[1]}")
    return a, b


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    # torch: slow to import, and this module works without it
    import torch

    return torch.nn.functional.normalize(x, dim=1, eps=1e-12)


def retrieval_accuracy(a: Matrix, b: Matrix, chunk: int = 1024) -> float:
    """Accuracy@1 of finding ``b[i]`` as ``a[i]``'s cosine nearest neighbour among all rows of ``b``.

    The standard bitext-mining check (as in LASER's Tatoeba evaluation): translations must be
    closer to each other than to any other sentence. Call it both ways; it is not symmetric.
    """
    # torch: slow to import, and this module works without it
    import torch

    a, b = _paired(a, b)
    if a.shape[0] == 0:
        raise ValueError("retrieval needs at least one pair")
    a, b = _unit_rows(a), _unit_rows(b)
    correct = 0
    for start in range(0, a.shape[0], chunk):  # chunks keep memory at chunk × n, not n × n
        nearest = (a[start:start + chunk] @ b.T).argmax(dim=1)
        correct += int((nearest == torch.arange(start, start + nearest.shape[0])).sum())
    return correct / a.shape[0]


def mean_cosine_true_vs_random(a: Matrix, b: Matrix, seed: int = 0) -> tuple[float, float]:
    """Mean cosine of true pairs ``(a[i], b[i])`` and of random non-matching pairs ``(a[i], b[j≠i])``.

    The random baseline matters: anisotropic encoders give every pair a high cosine, so
    only the gap between the two says whether translations are closer than chance.
    """
    # torch: slow to import, and this module works without it
    import torch

    a, b = _paired(a, b)
    n = a.shape[0]
    if n < 2:
        raise ValueError("random non-matching pairs need at least two pairs")
    a, b = _unit_rows(a), _unit_rows(b)
    true = (a * b).sum(dim=1).mean()
    generator = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, n, (n,), generator=generator)  # 1..n-1: never the row's own partner
    partner = (torch.arange(n) + shift) % n
    other = (a * b[partner]).sum(dim=1).mean()
    return float(true), float(other)


def linear_cka(a: Matrix, b: Matrix) -> float:
    """Linear centred kernel alignment (Kornblith et al., 2019) of two paired representations.

    ``||Yᵀ X||²_F / (||Xᵀ X||_F ||Yᵀ Y||_F)`` on column-centred data, in float64: 1 when one
    space is a rotation and scaling of the other, near 0 for unrelated ones. The widths
    may differ. ``nan`` when either side is constant (no variance to compare).
    """
    x, y = _paired(a, b, same_width=False)
    x = x - x.mean(dim=0, keepdim=True)
    y = y - y.mean(dim=0, keepdim=True)
    if x.shape[0] < max(x.shape[1], y.shape[1]):  # Gram form: the same value, cheaper when n < d
        gx, gy = x @ x.T, y @ y.T
        cross, norm_x, norm_y = (gx * gy).sum(), gx.norm(), gy.norm()
    else:
        cross = (y.T @ x).norm() ** 2
        norm_x, norm_y = (x.T @ x).norm(), (y.T @ y).norm()
    denominator = float(norm_x * norm_y)
    return float(cross) / denominator if denominator > 0 else math.nan


def _stratified_split(counts: Sequence[int], seed: int, train_share: float) -> tuple[list[int], list[int]]:
    """Row indices for a seeded 70/30 split within every class, so each language is in both parts."""
    rng = random.Random(seed)
    train, test = [], []
    offset = 0
    for count in counts:
        rows = list(range(offset, offset + count))
        rng.shuffle(rows)
        cut = min(max(1, round(train_share * count)), count - 1)
        train += rows[:cut]
        test += rows[cut:]
        offset += count
    return sorted(train), sorted(test)


def language_id_probe_accuracy(embeddings_by_language: dict[str, Matrix], seed: int = 0, steps: int = 100,
                               l2: float = 1e-3, train_share: float = 0.7) -> float:
    """Held-out accuracy of a linear classifier that guesses the language from an embedding.

    Multinomial logistic regression (standardised features, L2, ``steps`` LBFGS iterations
    from zero weights: deterministic) on a seeded stratified 70/30 split. Near chance means
    the space carries little language identity; near 1 means languages sit apart.
    """
    # torch: slow to import, and this module works without it
    import torch

    if len(embeddings_by_language) < 2:
        raise ValueError("the language-ID probe needs at least two languages")
    matrices = [_as_float64(m) for m in embeddings_by_language.values()]
    widths = {m.shape[1] for m in matrices}
    if len(widths) != 1:
        raise ValueError(f"every language needs embeddings of the same width, got {sorted(widths)}")
    counts = [m.shape[0] for m in matrices]
    if min(counts) < 2:
        raise ValueError("the language-ID probe needs at least two sentences per language")
    features = torch.cat(matrices)
    labels = torch.cat([torch.full((n,), k, dtype=torch.long) for k, n in enumerate(counts)])
    train, test = _stratified_split(counts, seed, train_share)
    x_train, x_test = features[train], features[test]
    mean, std = x_train.mean(dim=0), x_train.std(dim=0).clamp_min(1e-8)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    weight = torch.zeros(features.shape[1], len(counts), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(len(counts), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=steps, line_search_fn="strong_wolfe")
    y_train = labels[train]

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x_train @ weight + bias, y_train) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        predicted = (x_test @ weight + bias).argmax(dim=1)
    return float((predicted == labels[test]).double().mean())


def principal_components(x: Matrix, components: int = 2) -> tuple[torch.Tensor, list[float]]:
    """Projections onto the top principal components and the share of variance each explains."""
    # torch: slow to import, and this module works without it
    import torch

    x = _as_float64(x)
    centred = x - x.mean(dim=0, keepdim=True)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    axes = vh[:components]
    # SVD signs are arbitrary: make each axis's largest loading positive so plots are reproducible
    signs = torch.sign(axes.gather(1, axes.abs().argmax(dim=1, keepdim=True))).clamp_min(0) * 2 - 1
    axes = axes * signs
    projected = centred @ axes.T
    if projected.shape[1] < components:  # fewer dimensions than asked for: pad with zeros
        projected = torch.cat([projected, projected.new_zeros(x.shape[0], components - projected.shape[1])], 1)
    variance = singular.pow(2)
    total = float(variance.sum())
    shares = [float(v) / total if total > 0 else 0.0 for v in variance[:components]]
    return projected, shares + [0.0] * (components - len(shares))


def pca_2d(x: Matrix) -> torch.Tensor:
    """``(n, 2)`` coordinates of the centred rows on the two largest-variance directions (float64)."""
    return principal_components(x, 2)[0]
