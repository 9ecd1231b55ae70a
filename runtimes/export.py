"""torch.export: the whole model captured as one ATen graph with a dynamic batch (and
sequence) dimension, saved as a .pt2 archive, loaded back and run as a module.

The program is never reused from the conversion cache: `torch.export.load` unpickles parts of
the archive (torch warns: "uses pickle under the hood ... never load data from an untrusted
source"), and a cache is input from whoever wrote it (README: "Trust model"). Each job exports
afresh (convert_s) and round-trips the archive through a private temporary directory.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import torch
from pydantic import Field

from harness.contract import Inputs, ModelHandle
from harness.options import STATIC_INT8
from runtimes.base import Effective, Runtime
from runtimes.int8 import int8_columns, torch_int8_share
from runtimes.torch_common import DTYPES, inductor_counters, module_precision, positional_inputs, pt2e_int8

PROGRAM_FILE = "program.pt2"


@dataclass
class ExportOptions:
    strict: bool = False  # strict=True traces with TorchDynamo's stricter checks
    # int8: samples the PT2E observers calibrate on (torchao gives no default; None: 300, as NNCF's guidance)
    calibration_samples: Annotated[int | None, Field(ge=1, le=100_000), STATIC_INT8] = None


class ExportRuntime(Runtime):
    Options = ExportOptions
    precisions = ("fp32", "bf16", "int8")
    options: ExportOptions

    def prepare(self, handle: ModelHandle) -> None:
        """Export (for int8: the PT2E-quantized program, then compiled by inductor with freezing, which
        lowers its quantize/dequantize pairs to oneDNN int8 kernels), save, load back."""
        self.input_names = handle.input_names
        module = handle.module.to(DTYPES[self.precision]).eval()
        if self.precision == "int8":
            started = time.perf_counter()
            module = self.quantized = pt2e_int8(module, handle, self.adapt_inputs(handle.example))
            self.times.quantize_s = time.perf_counter() - started
        # The example has batch >= 2: torch.export specialises a dimension it sees as 0 or 1.
        example = tuple(self.adapt_inputs(handle.example))
        dynamic = tuple(
            {axis: torch.export.Dim.DYNAMIC for axis in handle.dynamic_dims.get(name, {})} for name in self.input_names
        )
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="harness-export-") as private:  # mode 0700: only this user
            path = Path(private) / PROGRAM_FILE
            program = torch.export.export(module, example, dynamic_shapes=dynamic, strict=self.options.strict)
            torch.export.save(program, path)
            self.times.convert_s = time.perf_counter() - started
            self.times.artifact_mb = path.stat().st_size / 2**20
            started = time.perf_counter()
            self.program = torch.export.load(path)  # the file this job just wrote, nobody else's
        self.module = self.program.module()
        if self.precision == "int8":  # eager q/dq ops compute in fp32; inductor runs them as int8
            self.module = torch.compile(self.module)
            self.module(*self.adapt_inputs(handle.timing_example or handle.example))
            self.lowered = inductor_counters()  # after the first compile: a later recompile would count again
        self.times.compile_s = time.perf_counter() - started

    def adapt_inputs(self, inputs: Inputs) -> list[torch.Tensor]:
        return positional_inputs(inputs, self.input_names, self.precision)

    def run(self, inputs: list[torch.Tensor]) -> Any:
        return self.module(*inputs)

    def effective(self) -> Effective:
        if self.precision == "int8":
            counts = torch_int8_share(self.quantized, self.lowered)
            precision, extra = int8_columns(counts, "fp32", "inductor's oneDNN int8 lowerings (counters)")
            return Effective(precision=precision, threads=torch.get_num_threads(), extra=extra)
        precision = module_precision(self.module) if any(True for _ in self.module.parameters()) else self.precision
        return Effective(precision=precision, threads=torch.get_num_threads())

    def version(self) -> str:
        return torch.__version__


RUNTIME = ExportRuntime
