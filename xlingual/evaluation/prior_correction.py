"""Label-prior correction on unlabeled target text (transductive; reported separately).

Class priors differ between languages' data (a test set of mostly neutral tweets, say), and a
classifier trained on English carries English priors π_s. Saerens, Latinne & Decaestecker
(Neural Computation 2002), "Adjusting the Outputs of a Classifier to New a Priori
Probabilities", estimate the target priors π_t by EM on unlabeled target text alone:

    E-step:  p_t(y | x) = π_t(y)/π_s(y) · p_s(y | x)  /  Σ_y' π_t(y')/π_s(y') · p_s(y' | x)
    M-step:  π_t(y) = mean_x p_t(y | x)

starting from π_t = π_s. The corrected posteriors then re-weight the test predictions. Only
target *text* is used (never labels), so it is recorded in the protocol as a target-side resource.

EM is only as good as the posteriors it re-weights: on an over- or under-confident model it can drive
the priors to a corner (every prediction one class). Alexandari, Kundaje & Shrikumar (ICML 2020),
"Maximum Likelihood with Bias-Corrected Calibration is Hard-To-Beat at Label Shift Adaptation", calibrate
first with bias-corrected temperature scaling (BCTS), p(y|x) ∝ exp(z_y/T + b_y), fitted by likelihood on
labelled *source* dev data; :func:`fit_bcts` does that, and π_s is then the source dev label frequency.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def adjust_priors(probabilities: torch.Tensor, source_priors: torch.Tensor,
                  target_priors: torch.Tensor) -> torch.Tensor:
    """Posteriors under new priors: p(y|x) · π_t(y)/π_s(y), renormalised per row."""
    ratio = target_priors.double() / source_priors.double().clamp_min(1e-12)
    adjusted = probabilities.double() * ratio
    return (adjusted / adjusted.sum(dim=1, keepdim=True).clamp_min(1e-300)).to(probabilities.dtype)


def em_priors(probabilities: torch.Tensor, source_priors: torch.Tensor, max_iter: int = 1000,
              tol: float = 1e-8) -> tuple[torch.Tensor, int]:
    """EM estimate of the target priors from source-model posteriors on unlabeled target text.

    Returns ``(priors, iterations)``; ``priors`` sums to 1."""
    if probabilities.ndim != 2 or probabilities.shape[1] != len(source_priors):
        raise ValueError(f"probabilities must be [n, {len(source_priors)}], got {tuple(probabilities.shape)}")
    source = source_priors.double() / source_priors.double().sum()
    priors = source.clone()
    if not len(probabilities):
        return priors.float(), 0
    for iteration in range(1, max_iter + 1):
        updated = adjust_priors(probabilities.double(), source, priors).mean(dim=0)
        if (updated - priors).abs().max() < tol:
            return updated.float(), iteration
        priors = updated
    return priors.float(), max_iter


def class_frequencies(labels: list[int], num_classes: int) -> torch.Tensor:
    """π_s: the label distribution of the source training data (add-one smoothed, so no class has prior 0)."""
    counts = torch.bincount(torch.as_tensor(labels, dtype=torch.long), minlength=num_classes).double() + 1
    return (counts / counts.sum()).float()


def fit_bcts(probabilities: torch.Tensor, labels: list[int] | torch.Tensor,
             max_iter: int = 200) -> tuple[float, torch.Tensor]:
    """Bias-corrected temperature scaling on labelled source dev posteriors: ``(T, b)`` minimising the
    negative log-likelihood of softmax(log p / T + b) (log p equals the logits up to a per-row constant)."""
    logits = probabilities.double().clamp_min(1e-12).log()
    target = torch.as_tensor(labels, dtype=torch.long)
    log_temperature = torch.zeros((), dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(logits.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_temperature, bias], lr=0.5, max_iter=max_iter,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_temperature.exp() + bias, target)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_temperature.detach().exp()), (bias - bias.mean()).detach().float()


def calibrate(probabilities: torch.Tensor, temperature: float, bias: torch.Tensor) -> torch.Tensor:
    """Posteriors after BCTS: softmax(log p / T + b)."""
    logits = probabilities.double().clamp_min(1e-12).log() / temperature + bias.double()
    return torch.softmax(logits, dim=1).to(probabilities.dtype)


def fit_label_shift(dev_probabilities: torch.Tensor, dev_labels: list[int]) -> dict:
    """The source side of a label-shift estimate: BCTS fitted on labelled source dev posteriors, and π_s, the
    dev label frequency. :func:`estimate_target_priors` then needs only unlabeled target posteriors."""
    temperature, bias = fit_bcts(dev_probabilities, dev_labels)
    return {"temperature": temperature, "bias": bias,
            "source_priors": class_frequencies(dev_labels, dev_probabilities.shape[1]),
            "dev_examples": len(dev_labels)}


def estimate_target_priors(probabilities: torch.Tensor, fit: dict) -> tuple[torch.Tensor, int]:
    """Target priors by EM on calibrated posteriors (Alexandari et al. 2020): ``(priors, iterations)``.
    Unlike the posteriors' plain mean, which stays pulled toward the source prior the model was trained on,
    EM's fixed point is the maximum-likelihood prior of the target text."""
    return em_priors(calibrate(probabilities, fit["temperature"], fit["bias"]), fit["source_priors"])
