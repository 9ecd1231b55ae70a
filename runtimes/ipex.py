"""Intel Extension for PyTorch: `ipex.optimize`, then TorchScript trace + freeze (`mode: jit`)
or `torch.compile(backend="ipex")` (`mode: compile`).

IPEX 2.8 refuses any torch but 2.8.*, so this runtime runs under its own interpreter
(`.venv-ipex`, made by `make setup-ipex`); a missing venv gives `status=unavailable`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Literal

import torch

from runtimes.base import Effective, Runtime
from runtimes.torch_common import DTYPES, module_precision
from workloads.base import Inputs, ModelHandle


@dataclass
class IpexOptions:
    mode: Literal["jit", "compile"] = "jit"  # jit: trace + freeze after ipex.optimize; compile: backend="ipex"


class IpexRuntime(Runtime):
    Options = IpexOptions
    precisions = ("fp32", "bf16")
    options: IpexOptions

    def _autocast(self) -> Any:
        if self.precision == "bf16":
            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, handle: ModelHandle) -> None:
        import intel_extension_for_pytorch as ipex

        self.input_names = handle.input_names
        example = self.adapt_inputs(handle.timing_example or handle.example)
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

    def adapt_inputs(self, inputs: Inputs) -> list[torch.Tensor]:
        return [inputs[name] for name in self.input_names]

    def run(self, inputs: list[torch.Tensor]) -> Any:
        if self.options.mode == "jit":  # the casts are baked into the traced graph
            return self.compiled(*inputs)
        with self._autocast():
            return self.compiled(*inputs)

    def effective(self) -> Effective:
        return Effective(
            precision=module_precision(self.optimized),
            threads=torch.get_num_threads(),
            extra={"ipex_mode": self.options.mode},
        )

    def version(self) -> str:
        import intel_extension_for_pytorch as ipex

        return f"ipex {ipex.__version__} / torch {torch.__version__}"


RUNTIME = IpexRuntime
