"""PyTorch eager mode: the reference every other runtime is compared with."""

from __future__ import annotations

from typing import Any

import torch

from harness.contract import Inputs, ModelHandle
from runtimes.base import Effective, Runtime
from runtimes.torch_common import DTYPES, module_precision, positional_inputs


class EagerRuntime(Runtime):
    precisions = ("fp32", "bf16")

    def is_reference(self) -> bool:
        return self.precision == "fp32"

    def prepare(self, handle: ModelHandle) -> None:
        self.input_names = handle.input_names
        self.module = handle.module.to(DTYPES[self.precision]).eval()

    def adapt_inputs(self, inputs: Inputs) -> list[torch.Tensor]:
        return positional_inputs(inputs, self.input_names, self.precision)

    def run(self, inputs: list[torch.Tensor]) -> Any:
        return self.module(*inputs)

    def effective(self) -> Effective:
        return Effective(precision=module_precision(self.module), threads=torch.get_num_threads())

    def version(self) -> str:
        return torch.__version__


RUNTIME = EagerRuntime
