"""Widen a BERT exactly: every hidden state h of the small model becomes [h, h] in the wide one.

LayerNorm of [h, h] equals [LayerNorm(h), LayerNorm(h)] (same mean and variance), GELU and tanh act
elementwise, and a linear layer y = Wx + b becomes W' = 0.5 [[W, W], [W, W]], b' = [b, b]. Each
attention head's query, key and value become [q, q], [k, k], [v, v] (twice the head size), so the
scores would double and the 1/sqrt(head size) scale shrinks by sqrt(2); scaling the query by
1/sqrt(2) restores them. The wide model computes the small one's function (to float rounding)
at twice the width, which lets a BERT-base-shaped model carry a fine-tuned small model's skill.
"""

from __future__ import annotations

import torch

_LINEARS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
            "intermediate.dense", "output.dense")  # fmt: skip


def _duplicated(vector: torch.Tensor) -> torch.Tensor:
    return torch.cat([vector, vector])


def widen_linear(
    weight: torch.Tensor, bias: torch.Tensor, heads_out: int = 0, heads_in: int = 0, scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) mapping [x, x] to [y, y]; with `heads_out`/`heads_in` the output/input is laid
    out per attention head as (head, copy, dim) instead of (copy, hidden)."""
    out_features, in_features = weight.shape
    if heads_in:
        head_dim = in_features // heads_in
        wide = weight.reshape(out_features, heads_in, 1, head_dim).expand(-1, -1, 2, -1).reshape(out_features, -1)
    else:
        wide = torch.cat([weight, weight], 1)
    wide = wide * 0.5
    if heads_out:
        head_dim = out_features // heads_out
        wide = wide.reshape(heads_out, 1, head_dim, -1).expand(-1, 2, -1, -1).reshape(2 * out_features, -1)
        wide_bias = bias.reshape(heads_out, 1, head_dim).expand(-1, 2, -1).reshape(-1)
    else:
        wide, wide_bias = torch.cat([wide, wide], 0), _duplicated(bias)
    return wide * scale, wide_bias * scale


def widen_bert_state_dict(state: dict[str, torch.Tensor], num_heads: int) -> dict[str, torch.Tensor]:
    """The state dict of a `BertForSequenceClassification` at twice the hidden size (same layers,
    same number of heads of twice the size) that computes the same logits."""
    wide: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.startswith("bert.embeddings.") and key.endswith("_embeddings.weight"):
            wide[key] = torch.cat([value, value], 1)
        elif "LayerNorm" in key:
            wide[key] = _duplicated(value)
    layers = sorted({int(key.split(".")[3]) for key in state if key.startswith("bert.encoder.layer.")})
    for index in layers:
        for name in _LINEARS:
            prefix = f"bert.encoder.layer.{index}.{name}"
            per_head_out = name.startswith("attention.self.")
            wide[f"{prefix}.weight"], wide[f"{prefix}.bias"] = widen_linear(
                state[f"{prefix}.weight"],
                state[f"{prefix}.bias"],
                heads_out=num_heads if per_head_out else 0,
                heads_in=num_heads if name == "attention.output.dense" else 0,
                scale=2**-0.5 if name.endswith("query") else 1.0,
            )
    wide["bert.pooler.dense.weight"], wide["bert.pooler.dense.bias"] = widen_linear(
        state["bert.pooler.dense.weight"], state["bert.pooler.dense.bias"]
    )
    classifier = state["classifier.weight"]
    wide["classifier.weight"] = torch.cat([classifier, classifier], 1) * 0.5
    wide["classifier.bias"] = state["classifier.bias"].clone()
    return wide
