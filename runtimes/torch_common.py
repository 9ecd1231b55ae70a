"""Helpers shared by the PyTorch-based runtimes."""

from __future__ import annotations

import torch

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
NAMES = {dtype: name for name, dtype in DTYPES.items()}


def module_precision(module: torch.nn.Module) -> str:
    """The precision the module's floating-point weights are actually stored in."""
    dtypes = {p.dtype for p in module.parameters() if p.is_floating_point()}
    return "+".join(sorted(NAMES.get(d, str(d)) for d in dtypes)) or "none"


def positional_inputs(inputs: dict[str, torch.Tensor], names: list[str], precision: str) -> list[torch.Tensor]:
    """The inputs in the module's argument order, floating-point ones in the run's precision."""
    dtype = DTYPES[precision]
    return [inputs[n].to(dtype) if inputs[n].is_floating_point() else inputs[n] for n in names]
