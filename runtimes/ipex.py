"""Intel Extension for PyTorch: `ipex.optimize`, then TorchScript trace + freeze (`mode: jit`)
or `torch.compile(backend="ipex")` (`mode: compile`).

IPEX 2.8 refuses any torch but 2.8.*, so this runtime runs under its own interpreter
(`.venv-ipex`, made by `make setup-ipex`); a missing venv gives `status=unavailable`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import torch
from pydantic import Field

from harness.config import UnsupportedError
from harness.contract import Inputs, ModelHandle
from harness.options import STATIC_INT8
from runtimes.base import Effective, Runtime
from runtimes.int8 import int8_columns, torchscript_int8_share
from runtimes.torch_common import DTYPES, module_precision


@dataclass
class IpexOptions:
    mode: Literal["jit", "compile"] = "jit"  # jit: trace + freeze after ipex.optimize; compile: backend="ipex"
    # int8: samples IPEX's observers calibrate on (IPEX gives no default; None: 300, as NNCF's guidance)
    calibration_samples: Annotated[int | None, Field(ge=1, le=100_000), STATIC_INT8] = None


def keep_attention_mask() -> None:
    """transformers leaves out the attention mask of a batch without padding
    (masking_utils._ignore_bidirectional_mask_sdpa); IPEX's `prepare` records the op sequence of its
    example, and a calibration batch with other padding then fails ("...dynamic control flow!"). Adding a
    mask of zeros is exact, so this job always builds it (this process only)."""
    import transformers.masking_utils as masking

    if hasattr(masking, "_ignore_bidirectional_mask_sdpa"):
        masking._ignore_bidirectional_mask_sdpa = lambda *args, **kwargs: False


class IpexRuntime(Runtime):
    Options = IpexOptions
    precisions = ("fp32", "bf16", "int8")
    options: IpexOptions

    def _autocast(self) -> Any:
        if self.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, handle: ModelHandle) -> None:
        import intel_extension_for_pytorch as ipex

        self.input_names = handle.input_names
        example = self.adapt_inputs(handle.timing_example or handle.example)
        if self.precision == "int8":
            self._prepare_int8(handle, example)
            return
        started = time.perf_counter()
        self.optimized = ipex.optimize(handle.module.eval(), dtype=DTYPES[self.precision], inplace=False)
        with self._autocast():
            if self.options.mode == "jit":
                traced = torch.jit.trace(self.optimized, tuple(example), check_trace=False, strict=False)
                self.compiled = torch.jit.freeze(traced)
            else:
                torch._dynamo.reset()
                self.compiled = torch.compile(self.optimized, backend="ipex")
            for _ in range(2):  # TorchScript's profiling executor optimises on the first calls
                self.compiled(*example)
        self.times.compile_s = time.perf_counter() - started

    def _prepare_int8(self, handle: ModelHandle, example: list[torch.Tensor]) -> None:
        """IPEX's static INT8 recipe: prepare with its default static qconfig mapping, calibrate, convert,
        trace and freeze (oneDNN Graph fuses the quantized ops on the profiling runs).
        https://intel.github.io/intel-extension-for-pytorch/cpu/latest/tutorials/features/int8_overview.html"""
        import intel_extension_for_pytorch as ipex
        from intel_extension_for_pytorch.quantization import convert, prepare

        if self.options.mode != "jit":
            raise UnsupportedError("IPEX's static INT8 recipe traces with TorchScript: use runtime.mode=jit")
        if handle.kind == "transformer":
            keep_attention_mask()
        started = time.perf_counter()
        self.optimized = handle.module.eval()
        prepared = prepare(self.optimized, ipex.quantization.default_static_qconfig_mapping,
                           example_inputs=tuple(example), inplace=False)  # fmt: skip
        for batch in handle.calibration.batches:
            prepared(*self.adapt_inputs(batch))
        converted = convert(prepared)
        self.times.quantize_s = time.perf_counter() - started
        started = time.perf_counter()
        self.compiled = torch.jit.freeze(torch.jit.trace(converted, tuple(example), check_trace=False, strict=False))
        for _ in range(2):  # oneDNN Graph fuses on the profiling executor's second call
            self.compiled(*example)
        self.int8_graph = self.compiled.graph_for(*example)
        self.times.compile_s = time.perf_counter() - started

    def adapt_inputs(self, inputs: Inputs) -> list[torch.Tensor]:
        return [inputs[name] for name in self.input_names]

    def run(self, inputs: list[torch.Tensor]) -> Any:
        if self.options.mode == "jit":  # the casts are baked into the traced graph
            return self.compiled(*inputs)
        with self._autocast():
            return self.compiled(*inputs)

    def effective(self) -> Effective:
        precision, extra = module_precision(self.optimized), {"ipex_mode": self.options.mode}
        if self.precision == "int8":
            counts = torchscript_int8_share(self.int8_graph)
            precision, columns = int8_columns(counts, precision, "oneDNN Graph fusion groups of the frozen graph")
            extra.update(columns)
        return Effective(precision=precision, threads=torch.get_num_threads(), extra=extra)

    def version(self) -> str:
        import intel_extension_for_pytorch as ipex

        return f"ipex {ipex.__version__} / torch {torch.__version__}"


RUNTIME = IpexRuntime
