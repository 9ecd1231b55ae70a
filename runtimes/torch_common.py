"""Helpers shared by the PyTorch-based runtimes."""

from __future__ import annotations

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
NAMES = {dtype: name for name, dtype in DTYPES.items()}


def module_precision(module: torch.nn.Module) -> str:
    """The precision the module's floating-point weights are actually stored in."""
    dtypes = {p.dtype for p in module.parameters() if p.is_floating_point()}
    return "+".join(sorted(NAMES.get(d, str(d)) for d in dtypes)) or "none"


def cast_float_inputs(inputs: dict[str, torch.Tensor], precision: str) -> dict[str, torch.Tensor]:
    dtype = DTYPES[precision]
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in inputs.items()}
