"""Helpers shared by the PyTorch-based runtimes."""

from __future__ import annotations

from typing import Any

import torch

# the dtype a module runs in; int8 paths quantize an fp32 module, so their float parts stay fp32
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "int8": torch.float32, "int8_dynamic": torch.float32}
NAMES = {torch.float32: "fp32", torch.bfloat16: "bf16"}


def module_precision(module: torch.nn.Module) -> str:
    """The precision the module's floating-point weights are actually stored in."""
    dtypes = {p.dtype for p in module.parameters() if p.is_floating_point()}
    return "+".join(sorted(NAMES.get(d, str(d)) for d in dtypes)) or "none"


def positional_inputs(inputs: dict[str, torch.Tensor], names: list[str], precision: str) -> list[torch.Tensor]:
    """The inputs in the module's argument order, floating-point ones in the run's precision."""
    dtype = DTYPES[precision]
    return [inputs[n].to(dtype) if inputs[n].is_floating_point() else inputs[n] for n in names]


def pt2e_int8(module: torch.nn.Module, handle: Any, example: list[torch.Tensor]) -> torch.fx.GraphModule:
    """Post-training static INT8 with PyTorch 2 Export quantization and the X86 Inductor quantizer
    (torchao 0.18: prepare_pt2e / convert_pt2e), calibrated on `handle.calibration`; inductor lowers the
    result to oneDNN int8 kernels when compiled with freezing on.
    https://pytorch.org/tutorials/prototype/pt2e_quant_x86_inductor.html

    The export is strict: non-strict export leaves `source_fn_stack` empty, so torch groups nodes by module
    and a module called twice (torchvision's Bottleneck reuses `self.relu`) becomes one partition with two
    outputs, which the quantizer refuses ("Input partition has more than one output node")."""
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as x86
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    dynamic = tuple(
        {axis: torch.export.Dim.DYNAMIC for axis in handle.dynamic_dims.get(name, {})} for name in handle.input_names
    )
    graph = torch.export.export(module, tuple(example), dynamic_shapes=dynamic, strict=True).module()
    quantizer = x86.X86InductorQuantizer().set_global(x86.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(graph, quantizer)
    for batch in handle.calibration.batches:
        prepared(*positional_inputs(batch, handle.input_names, "fp32"))
    torch._inductor.config.freezing = True  # int8 weight prepacking and oneDNN fusion happen on frozen weights
    return convert_pt2e(prepared)


def inductor_counters() -> dict[str, int]:
    from torch._dynamo.utils import counters

    return {k: int(v) for k, v in counters["inductor"].items()}
