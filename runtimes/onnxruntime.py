"""ONNX Runtime, CPU execution provider, on the model exported to ONNX (cached)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.config import ConfigError, check_int
from runtimes.base import Effective, Runtime
from runtimes.onnx_common import OPT_LEVELS, check_exporter, export_onnx, numpy_inputs, output_precision
from workloads.base import Inputs, ModelHandle


@dataclass
class OnnxRuntimeOptions:
    graph_optimization_level: str = "all"  # disable | basic | extended | all
    intra_op_threads: int | None = None  # None: the job's `threads`
    inter_op_threads: int = 1
    exporter: str = "dynamo"  # dynamo (torch.export-based) | torchscript (legacy)
    opset: int | None = None  # None: the exporter's default

    def validate(self) -> None:
        if self.graph_optimization_level not in OPT_LEVELS:
            raise ConfigError(
                f"runtime.graph_optimization_level={self.graph_optimization_level!r} is not allowed: "
                f"choose one of {', '.join(OPT_LEVELS)}"
            )
        if self.intra_op_threads is not None:
            self.intra_op_threads = check_int("runtime.intra_op_threads", self.intra_op_threads, 1)
        self.inter_op_threads = check_int("runtime.inter_op_threads", self.inter_op_threads, 1)
        check_exporter(self.exporter)


class OnnxRuntimeCPU(Runtime):
    Options = OnnxRuntimeOptions
    options: OnnxRuntimeOptions
    providers: tuple[str, ...] = ("CPUExecutionProvider",)

    def session_options(self) -> Any:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self.options.graph_optimization_level]
        so.intra_op_num_threads = self.options.intra_op_threads or self.threads
        so.inter_op_num_threads = self.options.inter_op_threads
        return so

    def provider_list(self) -> list[Any]:
        return ["CPUExecutionProvider"]

    def prepare(self, handle: ModelHandle) -> None:
        import onnxruntime as ort

        self.input_names = handle.input_names
        self.onnx_path = export_onnx(handle, self.cache_dir, self.times, self.options.exporter, self.options.opset)
        started = time.perf_counter()
        self.session = ort.InferenceSession(str(self.onnx_path), self.session_options(), providers=self.provider_list())
        self.times.compile_s = time.perf_counter() - started

    def adapt_inputs(self, inputs: Inputs) -> dict[str, np.ndarray]:
        return numpy_inputs(inputs, self.input_names)

    def run(self, inputs: dict[str, np.ndarray]) -> Any:
        return self.session.run(None, inputs)[0]

    def effective(self) -> Effective:
        so = self.session.get_session_options()
        extra = {
            "ort_providers": ",".join(self.session.get_providers()),
            "ort_graph_optimization_level": str(so.graph_optimization_level).rsplit(".", 1)[-1],
            "ort_inter_op_threads": so.inter_op_num_threads,
        }
        return Effective(precision=output_precision(self.session), threads=so.intra_op_num_threads, extra=extra)

    def version(self) -> str:
        import onnxruntime as ort

        return ort.__version__


RUNTIME = OnnxRuntimeCPU
