"""A linear probe: logistic regression on standardised frozen features."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class Probe:
    weight: torch.Tensor  # on standardised features
    bias: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def head(self) -> torch.nn.Module:
        """Standardise-then-classify as two ordinary layers (an eval-mode BatchNorm1d, then Linear).
        Subtracting the mean *before* the product keeps the logits small and well-conditioned even
        when the features are huge, as a random ResNet's are."""
        norm = torch.nn.BatchNorm1d(len(self.mean), affine=False, eps=0.0)
        linear = torch.nn.Linear(self.weight.shape[1], self.weight.shape[0])
        with torch.no_grad():
            norm.running_mean.copy_(self.mean)
            norm.running_var.copy_(self.std**2)
            linear.weight.copy_(self.weight)
            linear.bias.copy_(self.bias)
        return torch.nn.Sequential(norm, linear).eval()

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) of one Linear on the raw features: W (x - m) / s + b = (W / s) x + (b - W m / s).
        Fine for bounded features (BERT's tanh pooler); ill-conditioned for huge ones."""
        weight = self.weight.double() / self.std.double()
        return weight.float(), (self.bias.double() - weight @ self.mean.double()).float()


def fit_linear_probe(features: torch.Tensor, labels: torch.Tensor, n_classes: int) -> Probe:
    """L2-regularised logistic regression (LBFGS) on standardised features."""
    feats = features.double()
    mean, std = feats.mean(0), feats.std(0).clamp_min(1e-6)
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
    return Probe(linear.weight.detach().clone(), linear.bias.detach().clone(), mean.float(), std.float())
