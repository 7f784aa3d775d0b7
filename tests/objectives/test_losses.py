"""Alignment losses (CORAL, MMD, DANN, InfoNCE), gradient reversal, and pseudo-label selection."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
import torch
import torch.nn.functional as F

from xlingual.objectives.contrastive import TranslationInfoNCELoss
from xlingual.objectives.coral import CORALLoss
from xlingual.objectives.dann import DomainAdversarialLoss
from xlingual.objectives.gradient_reversal import GradientReversal, GradientReversalFunction, dann_coefficient
from xlingual.objectives.mmd import MMDLoss
from xlingual.training.pseudo_labels import select_pseudo_labels


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def optimise(loss_fn, parameter: torch.Tensor, steps: int = 20, lr: float = 0.1) -> list[float]:
    """Loss values over a few SGD steps on ``parameter``; the last value is after the last step."""
    optimiser = torch.optim.SGD([parameter], lr=lr)
    values = []
    for _ in range(steps):
        optimiser.zero_grad()
        loss = loss_fn()
        values.append(loss.item())
        loss.backward()
        optimiser.step()
    values.append(loss_fn().item())
    return values


# ----------------------------------------------------------------------------- registry


def test_each_objective_holds_its_own_loss():
    """One file per built-in objective: the pure loss module and the registered objective side by side."""
    from xlingual.objectives import get_objective

    for name, loss in {"coral": CORALLoss, "mmd": MMDLoss, "dann": DomainAdversarialLoss,
                       "contrastive": TranslationInfoNCELoss}.items():
        assert get_objective(name).__module__ == loss.__module__ == f"xlingual.objectives.{name}"


# ----------------------------------------------------------------------------- CORAL


def test_coral_is_zero_for_identical_covariance():
    source = randn(32, 6)
    shifted = source + torch.tensor([3.0, -1.0, 0.5, 10.0, 0.0, 2.0])
    assert CORALLoss()(source, shifted).item() == pytest.approx(0.0, abs=1e-6)


def test_coral_matches_hand_computed_2x2():
    # C_S = [[2, 2], [2, 2]], C_T = [[0.5, 1.5], [1.5, 4.5]]; diff² sum = 2.25 + 0.25 + 0.25 + 6.25 = 9; / (4·2²).
    source = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    target = torch.tensor([[0.0, 0.0], [1.0, 3.0]])
    assert CORALLoss()(source, target).item() == pytest.approx(9 / 16)


def test_coral_different_batch_sizes_and_symmetry():
    source, target = randn(10, 4, seed=1), randn(17, 4, seed=2) * 2
    loss = CORALLoss()
    expected = (torch.cov(source.T) - torch.cov(target.T)).pow(2).sum() / (4 * 16)
    assert loss(source, target).item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss(source, target).item() == pytest.approx(loss(target, source).item(), rel=1e-6)


def test_coral_runs_in_float32_under_autocast():
    source, target = randn(16, 8, seed=1), randn(16, 8, seed=2) * 1.5
    reference = CORALLoss()(source, target)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        loss = CORALLoss()(source.bfloat16(), target.bfloat16())
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(reference.item(), rel=0.05)


def test_coral_rejects_bad_shapes():
    with pytest.raises(ValueError):
        CORALLoss()(randn(4, 3), randn(4, 5))
    with pytest.raises(ValueError):
        CORALLoss()(randn(1, 3), randn(4, 3))


def test_coral_decreases_when_optimising_target():
    source = randn(64, 4, seed=1) * torch.tensor([3.0, 1.0, 0.5, 2.0])
    target = randn(64, 4, seed=2).requires_grad_()
    loss = CORALLoss()
    values = optimise(lambda: loss(source, target), target, lr=10.0)  # the 1/(4d²) scale makes gradients small
    assert values[-1] < 0.1 * values[0]


# ----------------------------------------------------------------------------- MMD


def test_mmd_small_for_same_distribution():
    value = MMDLoss()(randn(200, 8, seed=1), randn(200, 8, seed=2)).item()
    shifted = MMDLoss()(randn(200, 8, seed=1), randn(200, 8, seed=2) + 0.5).item()
    assert 0 <= value < 0.1
    assert value < shifted / 3


def test_mmd_grows_monotonically_with_mean_shift():
    source, noise = randn(200, 8, seed=1), randn(200, 8, seed=2)
    for unbiased in (False, True):
        values = [MMDLoss(unbiased=unbiased)(source, noise + shift).item() for shift in (0.0, 0.5, 1.0, 2.0)]
        assert values == sorted(values) and len(set(values)) == 4, values


def test_unbiased_mmd_averages_near_zero():
    biased, unbiased = [], []
    for seed in range(30):
        x, y = randn(50, 4, seed=2 * seed), randn(60, 4, seed=2 * seed + 1)
        biased.append(MMDLoss()(x, y).item())
        unbiased.append(MMDLoss(unbiased=True)(x, y).item())
    assert abs(statistics.mean(unbiased)) < 0.02
    assert min(unbiased) < 0  # no positive floor: the diagonal is really excluded
    assert statistics.mean(biased) > statistics.mean(unbiased) + 0.02  # the biased estimate is inflated


def test_mmd_matches_explicit_kernel_sums():
    x, y = randn(3, 2, seed=1), randn(4, 2, seed=2) + 1
    pooled = torch.cat([x, y])
    distances = [[float(((a - b) ** 2).sum()) for b in pooled] for a in pooled]
    off = sorted(distances[i][j] for i in range(7) for j in range(7) if i != j)
    median = off[(len(off) - 1) // 2]  # torch.median returns the lower middle value
    multipliers = (0.5, 1.0, 3.0)

    def k(i: int, j: int) -> float:
        return sum(math.exp(-distances[i][j] / (u * median)) for u in multipliers)

    def mean(pairs: list[tuple[int, int]]) -> float:
        return sum(k(i, j) for i, j in pairs) / len(pairs)

    xs, ys = range(3), range(3, 7)
    cross = mean([(i, j) for i in xs for j in ys])
    biased = mean([(i, j) for i in xs for j in xs]) + mean([(i, j) for i in ys for j in ys]) - 2 * cross
    unbiased = (mean([(i, j) for i in xs for j in xs if i != j]) + mean([(i, j) for i in ys for j in ys if i != j])
                - 2 * cross)
    assert MMDLoss(multipliers)(x, y).item() == pytest.approx(biased, rel=1e-4)
    assert MMDLoss(multipliers, unbiased=True)(x, y).item() == pytest.approx(unbiased, rel=1e-4)


def test_mmd_bandwidth_is_detached_and_gradient_finite():
    x, y = randn(8, 3, seed=1).requires_grad_(), randn(5, 3, seed=2).requires_grad_()
    MMDLoss()(x, y).backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    assert x.grad.abs().sum() > 0


def test_mmd_float32_under_autocast_and_validation():
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        loss = MMDLoss()(randn(20, 4, seed=1).bfloat16(), randn(20, 4, seed=2).bfloat16())
    assert loss.dtype == torch.float32
    with pytest.raises(ValueError):
        MMDLoss(kernel_multipliers=())
    with pytest.raises(ValueError):
        MMDLoss(unbiased=True)(randn(1, 3), randn(4, 3))


def test_mmd_decreases_when_optimising_target():
    source = randn(64, 4, seed=1)
    target = (randn(64, 4, seed=2) + 1.5).requires_grad_()
    loss = MMDLoss()
    values = optimise(lambda: loss(source, target), target, lr=5.0)
    assert values[-1] < 0.5 * values[0]


# ----------------------------------------------------------------------------- gradient reversal


@pytest.mark.parametrize("coefficient", [0.0, 0.3, 1.0, 2.5])
def test_gradient_reversal_negates_and_scales(coefficient: float):
    x = randn(4, 3).requires_grad_()
    upstream = randn(4, 3, seed=1)
    layer = GradientReversal(coefficient)
    out = layer(x)
    assert torch.equal(out, x)
    out.backward(upstream)
    assert torch.equal(x.grad, -coefficient * upstream)


def test_gradient_reversal_coefficient_is_mutable_and_function_works():
    layer = GradientReversal()
    assert layer.coefficient == 1.0
    layer.coefficient = 0.5
    x = torch.ones(3, requires_grad=True)
    layer(x).sum().backward()
    assert torch.equal(x.grad, torch.full((3,), -0.5))
    y = torch.ones(2, requires_grad=True)
    (GradientReversalFunction.apply(y, 2.0) * 3).sum().backward()
    assert torch.equal(y.grad, torch.full((2,), -6.0))


def test_dann_coefficient_schedule():
    assert dann_coefficient(0.0) == 0.0
    assert dann_coefficient(1.0) == pytest.approx(0.9999, abs=1e-4)
    assert dann_coefficient(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert dann_coefficient(0.3, gamma=2.0) == pytest.approx(2 / (1 + math.exp(-0.6)) - 1)
    values = [dann_coefficient(p / 20) for p in range(21)]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert all(0 <= v < 1 for v in values)


# ----------------------------------------------------------------------------- DANN


def test_domain_adversarial_gradient_signs():
    torch.manual_seed(0)
    loss = DomainAdversarialLoss(hidden_size=6, num_domains=2, discriminator_hidden=16, dropout=0.0)
    embeddings = randn(10, 6).requires_grad_()
    labels = torch.tensor([0, 1] * 5)
    coefficient = 0.4

    loss(embeddings, labels, coefficient).backward()
    reversed_input = embeddings.grad.clone()
    reversed_params = [p.grad.clone() for p in loss.discriminator.parameters()]

    embeddings.grad = None
    loss.zero_grad()
    F.cross_entropy(loss.discriminator(embeddings), labels).backward()  # the same loss without reversal
    for plain, got in zip(loss.discriminator.parameters(), reversed_params):
        assert got.abs().sum() > 0
        torch.testing.assert_close(got, plain.grad)
    assert reversed_input.abs().sum() > 0
    torch.testing.assert_close(reversed_input, -coefficient * embeddings.grad)


def test_domain_adversarial_architecture_and_multiclass():
    loss = DomainAdversarialLoss(hidden_size=8, num_domains=4)
    layers = list(loss.discriminator)
    assert [type(m) for m in layers] == [torch.nn.Linear, torch.nn.ReLU, torch.nn.Dropout, torch.nn.Linear]
    assert (layers[0].in_features, layers[0].out_features, layers[3].out_features) == (8, 256, 4)
    value = loss(randn(12, 8), torch.arange(12) % 4, 1.0)
    assert value.dim() == 0 and torch.isfinite(value)
    bf16 = loss(randn(12, 8).bfloat16(), torch.arange(12) % 4, 1.0)  # a bf16 encoder without autocast
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16)
    with pytest.raises(ValueError):
        DomainAdversarialLoss(hidden_size=8, num_domains=1)
    with pytest.raises(ValueError):
        loss(randn(12, 8), torch.arange(11) % 4, 1.0)


def test_domain_adversarial_accuracy_restores_mode():
    torch.manual_seed(0)
    loss = DomainAdversarialLoss(hidden_size=2, discriminator_hidden=8, dropout=0.5)
    embeddings = torch.cat([torch.full((5, 2), -3.0), torch.full((5, 2), 3.0)])
    labels = torch.tensor([0] * 5 + [1] * 5)
    parameters = list(loss.parameters())
    optimiser = torch.optim.SGD(parameters, lr=0.5)
    for _ in range(50):
        optimiser.zero_grad()
        loss(embeddings, labels, 1.0).backward()
        optimiser.step()
    assert loss.training
    accuracy = loss.accuracy(embeddings, labels)
    assert isinstance(accuracy, float) and accuracy == 1.0
    assert loss.training and loss.discriminator.training


def test_domain_adversarial_discriminator_learns_and_encoder_confuses():
    torch.manual_seed(0)
    source, target = randn(32, 4, seed=1) + 1.0, randn(32, 4, seed=2) - 1.0
    labels = torch.tensor([0] * 32 + [1] * 32)

    # The discriminator's own parameters descend the domain loss.
    loss = DomainAdversarialLoss(hidden_size=4, discriminator_hidden=16, dropout=0.0)
    embeddings = torch.cat([source, target])
    optimiser = torch.optim.SGD(loss.parameters(), lr=0.5)
    before = loss(embeddings, labels, 1.0).item()
    for _ in range(30):
        optimiser.zero_grad()
        loss(embeddings, labels, 1.0).backward()
        optimiser.step()
    trained = loss(embeddings, labels, 1.0).item()
    assert trained < 0.5 * before

    # With the discriminator fixed, embeddings updated through the reversal ascend it (domain confusion).
    for parameter in loss.parameters():
        parameter.requires_grad_(False)
    movable = embeddings.clone().requires_grad_()
    values = optimise(lambda: loss(movable, labels, 1.0), movable, steps=10, lr=1.0)
    assert values[-1] > values[0]


# ----------------------------------------------------------------------------- InfoNCE


def reference_info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float) -> float:
    """Symmetric InfoNCE with explicit loops over pairs."""
    n = a.shape[0]

    def cos(u: torch.Tensor, v: torch.Tensor) -> float:
        return float(torch.dot(u, v) / (torch.sqrt(torch.dot(u, u)) * torch.sqrt(torch.dot(v, v))))

    sim = [[cos(a[i], b[j]) / temperature for j in range(n)] for i in range(n)]
    forward = sum(-sim[i][i] + math.log(sum(math.exp(sim[i][j]) for j in range(n))) for i in range(n)) / n
    backward = sum(-sim[j][j] + math.log(sum(math.exp(sim[i][j]) for i in range(n))) for j in range(n)) / n
    return (forward + backward) / 2


@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0])
def test_info_nce_matches_loop_reference(temperature: float):
    a, b = randn(3, 5, seed=1), randn(3, 5, seed=2) * 3  # scale must not matter: cosine similarity
    expected = reference_info_nce(a, b, temperature)
    assert TranslationInfoNCELoss(temperature)(a, b).item() == pytest.approx(expected, rel=1e-4)


def test_info_nce_lower_for_aligned_pairs():
    a = randn(8, 16, seed=1)
    b = a + 0.1 * randn(8, 16, seed=2)
    loss = TranslationInfoNCELoss()
    assert loss(a, b).item() < loss(a, b[torch.tensor([1, 2, 3, 4, 5, 6, 7, 0])]).item()
    assert TranslationInfoNCELoss().temperature == 0.05
    with pytest.raises(ValueError):
        TranslationInfoNCELoss(temperature=0.0)
    with pytest.raises(ValueError):
        loss(a, b[:5])


def test_info_nce_decreases_when_optimising_translations():
    a = randn(8, 16, seed=1)
    b = randn(8, 16, seed=2).requires_grad_()
    loss = TranslationInfoNCELoss(temperature=0.1)
    values = optimise(lambda: loss(a, b), b, lr=1.0)
    assert values[-1] < 0.5 * values[0]


# ----------------------------------------------------------------------------- pseudo labels


PROBABILITIES = torch.tensor([
    [0.95, 0.03, 0.02],  # 0: class 0, confident
    [0.40, 0.35, 0.25],  # 1: below threshold
    [0.10, 0.85, 0.05],  # 2: class 1
    [0.91, 0.05, 0.04],  # 3: class 0
    [0.05, 0.05, 0.90],  # 4: class 2
    [0.99, 0.00, 0.01],  # 5: class 0, most confident
    [0.02, 0.97, 0.01],  # 6: class 1, most confident
    [0.80, 0.10, 0.10],  # 7: class 0, exactly at threshold
    [0.30, 0.30, 0.40],  # 8: below threshold
])


def test_pseudo_labels_without_balancing():
    indices, labels = select_pseudo_labels(PROBABILITIES, threshold=0.8, class_balanced=False)
    assert indices == [0, 2, 3, 4, 5, 6, 7]
    assert labels == [0, 1, 0, 2, 0, 1, 0]
    indices, labels = select_pseudo_labels(PROBABILITIES, threshold=0.8, max_per_class=2, class_balanced=False)
    assert (indices, labels) == ([0, 2, 4, 5, 6], [0, 1, 2, 0, 1])


def test_pseudo_labels_class_balanced():
    # Candidate counts: class 0 → 4, class 1 → 2, class 2 → 1; everyone keeps 1, the most confident.
    assert select_pseudo_labels(PROBABILITIES, threshold=0.8) == ([4, 5, 6], [2, 0, 1])
    # Class 2 drops out at 0.91; classes 0 (0, 3, 5) and 1 (6) keep one each.
    assert select_pseudo_labels(PROBABILITIES, threshold=0.91) == ([5, 6], [0, 1])
    # Rows 0-3: class 0 → {0 (0.95), 3 (0.91)}, class 1 → {2}; one each.
    assert select_pseudo_labels(PROBABILITIES[:4], threshold=0.8) == ([0, 2], [0, 1])
    # Rows 0, 2, 3, 5, 6 renumbered 0-4: class 0 → {0 (0.95), 2 (0.91), 3 (0.99)}, class 1 → {1 (0.85), 4 (0.97)}.
    # Two each, the most confident of class 0 being 3 and 0; max_per_class=1 keeps only the top one of each.
    subset = PROBABILITIES[[0, 2, 3, 5, 6]]
    assert select_pseudo_labels(subset, threshold=0.8) == ([0, 1, 3, 4], [0, 1, 0, 1])
    assert select_pseudo_labels(subset, threshold=0.8, max_per_class=1) == ([3, 4], [0, 1])
    assert select_pseudo_labels(subset, threshold=0.8, max_per_class=5) == ([0, 1, 3, 4], [0, 1, 0, 1])


def test_pseudo_labels_edge_cases():
    assert select_pseudo_labels(PROBABILITIES, threshold=0.999) == ([], [])
    assert select_pseudo_labels(torch.empty(0, 3), threshold=0.5) == ([], [])
    ties = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9]])
    assert select_pseudo_labels(ties, threshold=0.5) == ([0, 2], [0, 1])  # tie → lower index
    with pytest.raises(ValueError):
        select_pseudo_labels(torch.ones(3), threshold=0.5)
