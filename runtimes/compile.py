"""torch.compile with the inductor backend. Compilation happens on the measured batch inside
prepare, so prepare_s holds the compile time and first_inference_ms a compiled call."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import torch
from pydantic import Field

from harness.contract import Inputs, ModelHandle
from harness.options import STATIC_INT8
from runtimes.base import Effective, Runtime
from runtimes.int8 import int8_columns, torch_int8_share
from runtimes.torch_common import DTYPES, inductor_counters, module_precision, positional_inputs, pt2e_int8


@dataclass
class CompileOptions:
    # "reduce-overhead" is CUDA graphs, which do nothing on a CPU: it is refused rather than ignored
    mode: Literal["default", "max-autotune", "max-autotune-no-cudagraphs"] = "default"
    dynamic: bool | None = None  # None: torch decides (static first, dynamic after a recompile)
    fullgraph: bool = False
    # int8: samples the PT2E observers calibrate on (torchao gives no default; None: 300, as NNCF's guidance)
    calibration_samples: Annotated[int | None, Field(ge=1, le=100_000), STATIC_INT8] = None


def dynamo_counters() -> dict[str, int]:
    """Graphs compiled and graph breaks so far: a break means part of the model ran eagerly."""
    from torch._dynamo.utils import counters

    return {
        "compiled_graphs": int(counters["stats"]["unique_graphs"]),
        "graph_breaks": int(sum(counters["graph_break"].values())),
    }


class CompileRuntime(Runtime):
    Options = CompileOptions
    precisions = ("fp32", "bf16", "int8")
    options: CompileOptions

    def prepare(self, handle: ModelHandle) -> None:
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
        self.input_names = handle.input_names
        self.module = handle.module.to(DTYPES[self.precision]).eval()
        target: torch.nn.Module = self.module
        if self.precision == "int8":
            started = time.perf_counter()
            target = self.quantized = pt2e_int8(self.module, handle, self.adapt_inputs(handle.example))
            self.times.quantize_s = time.perf_counter() - started
        self.compiled = torch.compile(
            target, mode=self.options.mode, dynamic=self.options.dynamic, fullgraph=self.options.fullgraph
        )
        started = time.perf_counter()
        self.run(self.adapt_inputs(handle.timing_example or handle.example))
        self.times.compile_s = time.perf_counter() - started
        self.lowered = inductor_counters()  # after the first compile: a later recompile would count again

    def adapt_inputs(self, inputs: Inputs) -> list[torch.Tensor]:
        return positional_inputs(inputs, self.input_names, self.precision)

    def run(self, inputs: list[torch.Tensor]) -> Any:
        return self.compiled(*inputs)

    def effective(self) -> Effective:
        extra: dict[str, Any] = {"compile_mode": self.options.mode, **dynamo_counters()}
        precision = module_precision(self.module)
        if self.precision == "int8":
            counts = torch_int8_share(self.quantized, self.lowered)
            precision, columns = int8_columns(counts, precision, "inductor's oneDNN int8 lowerings (counters)")
            extra.update(columns)
        return Effective(precision=precision, threads=torch.get_num_threads(), extra=extra)

    def version(self) -> str:
        return torch.__version__


RUNTIME = CompileRuntime
