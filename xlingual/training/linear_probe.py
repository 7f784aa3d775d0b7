"""A linear head fitted on frozen, cached sentence features (multinomial logistic regression).

Used twice: LP-FT (Kumar et al., ICLR 2022, "Fine-Tuning can Distort Pretrained Features and
Underperform Out-of-Distribution") fits the head on the pretrained encoder before fine-tuning,
so the first gradient steps do not tear the features apart to fit a random head; WiSE-FT
interpolation refits the head to the moved encoder. The pooled features are computed once
(one forward pass over the data, no dropout), then the convex problem

    min_{W,b}  mean_i CE(W·x_i + b, y_i) + (λ/2)·‖W‖²

is solved full-batch with L-BFGS: seconds, not an epoch of fine-tuning.
"""

from __future__ import annotations

import torch

from ..data.batching import TokenizedExamples
from ..modeling.predict import pooled_features

DEFAULT_L2 = 1e-3
"""λ: a light ridge that only keeps W finite when the classes are separable; features are unscaled."""


def fit_linear_head(features: torch.Tensor, labels: list[int] | torch.Tensor, num_classes: int,
                    l2: float = DEFAULT_L2, max_iter: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """``(weight [classes, hidden], bias [classes])`` minimising cross-entropy + (λ/2)‖W‖² by L-BFGS."""
    x = features.double()
    y = torch.as_tensor(labels, dtype=torch.long)
    if len(x) != len(y) or not len(x):
        raise ValueError(f"a linear probe needs one label per feature row, got {len(x)} rows and {len(y)} labels")
    weight = torch.zeros(num_classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(num_classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9,
                                  tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight.T + bias, y) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    return weight.detach().float(), bias.detach().float()


def refit_head(model, train: TokenizedExamples, batch_size: int = 128, device: torch.device | str = "cpu",
               l2: float = DEFAULT_L2, progress: bool = False) -> dict[str, float]:
    """Replace ``model.classifier`` by the linear probe fitted on ``train``'s features under the current encoder.

    Returns the probe's accuracy and cross-entropy on ``train`` (its fit, not a held-out score)."""
    features = pooled_features(model, train, batch_size, device, progress, description="probe features")
    weight, bias = fit_linear_head(features, train.labels, model.classifier.out_features, l2)
    with torch.no_grad():
        model.classifier.weight.copy_(weight.to(model.classifier.weight))
        model.classifier.bias.copy_(bias.to(model.classifier.bias))
    logits = features @ weight.T + bias
    labels = torch.as_tensor(train.labels, dtype=torch.long)
    return {"train_accuracy": (logits.argmax(1) == labels).float().mean().item(),
            "train_loss": torch.nn.functional.cross_entropy(logits, labels).item(), "l2": l2}
