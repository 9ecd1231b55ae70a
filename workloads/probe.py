"""A linear probe: logistic regression on frozen features, folded into one Linear layer."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fit_linear_probe(features: torch.Tensor, labels: torch.Tensor, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of a Linear layer that classifies the *raw* features.

    Fits L2-regularised logistic regression (LBFGS) on standardised features, then folds the
    standardisation in: W (x - m) / s + b = (W / s) x + (b - W m / s)."""
    feats = features.double()
    mean, std = feats.mean(0), feats.std(0).clamp_min(1e-12)
    z = ((feats - mean) / std).float()
    linear = torch.nn.Linear(z.shape[1], n_classes)
    optimizer = torch.optim.LBFGS(linear.parameters(), lr=1, max_iter=300, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(linear(z), labels) + 1e-3 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        weight = linear.weight.double() / std
        bias = linear.bias.double() - weight @ mean
    return weight.float(), bias.float()
