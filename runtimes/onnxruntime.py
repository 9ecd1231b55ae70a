"""ONNX Runtime, CPU execution provider, on the model exported to ONNX (cached)."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from harness.config import QUANTIZED
from harness.contract import Inputs, ModelHandle
from harness.options import AFTER_CONVERSION, STATIC_INT8, THREADS
from runtimes.base import Effective, Runtime
from runtimes.int8 import int8_columns, ort_int8_share
from runtimes.onnx_common import (
    check_opset,
    checked_onnx,
    export_onnx,
    numpy_inputs,
    operator_times,
    output_precision,
    quantize_onnx,
)


@dataclass
class OnnxRuntimeOptions:
    graph_optimization_level: Annotated[Literal["disable", "basic", "extended", "all"], AFTER_CONVERSION] = "all"
    intra_op_threads: Annotated[int | None, Field(ge=1), THREADS, AFTER_CONVERSION] = None  # None: the job's threads
    # > 1 runs independent graph branches in parallel (ORT_PARALLEL execution mode); 1: sequential
    inter_op_threads: Annotated[int, Field(ge=1), THREADS, AFTER_CONVERSION] = 1
    exporter: Literal["dynamo", "torchscript"] = "dynamo"  # dynamo (torch.export-based) | torchscript (legacy)
    opset: int | None = None  # None: the exporter's default; the range depends on the exporter (validate)
    # int8: samples quantize_static calibrates on (it gives no default; None: 300, as NNCF's guidance)
    calibration_samples: Annotated[int | None, Field(ge=1, le=100_000), STATIC_INT8, AFTER_CONVERSION] = None

    def validate(self) -> None:
        check_opset(self.exporter, self.opset)


class OnnxRuntimeCPU(Runtime):
    Options = OnnxRuntimeOptions
    options: OnnxRuntimeOptions
    precisions = ("fp32", "int8", "int8_dynamic")
    precision_after_conversion = True  # one fp32 ONNX file serves every precision a provider offers
    accepts_files = (".onnx",)

    def session_options(self) -> Any:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[self.options.graph_optimization_level]
        # with several streams, each concurrent run gets its share of the cores (recorded: threads_effective)
        so.intra_op_num_threads = self.options.intra_op_threads or max(1, self.threads // self.streams)
        so.inter_op_num_threads = self.options.inter_op_threads
        # inter-op threads only act in parallel execution mode: asked for, it is switched on
        so.execution_mode = (
            ort.ExecutionMode.ORT_PARALLEL if self.options.inter_op_threads > 1 else ort.ExecutionMode.ORT_SEQUENTIAL
        )
        return so

    def provider_list(self) -> list[Any]:
        return ["CPUExecutionProvider"]

    def prepare(self, handle: ModelHandle) -> None:
        import onnxruntime as ort

        self.input_names = handle.input_names
        self.prebuilt = handle.prebuilt is not None
        if handle.prebuilt is not None:  # a model file runs as it is, once checked like a cached one
            self.onnx_path, self.onnx_opset = handle.prebuilt, checked_onnx(handle.prebuilt)
        else:
            self.onnx_path, self.onnx_opset = export_onnx(self, handle, self.options.exporter, self.options.opset)
        if self.precision in QUANTIZED:
            self.onnx_path = quantize_onnx(self, handle, self.onnx_path, dynamic=self.precision == "int8_dynamic")
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
            "ort_execution_mode": str(so.execution_mode).rsplit(".", 1)[-1],
            "onnx_opset": self.onnx_opset,
        }
        precision = output_precision(self.session)
        if self.precision in QUANTIZED or self.prebuilt:
            precision, counts = int8_columns(self.int8_share(), precision, self.int8_source)
            extra.update(counts)
        return Effective(precision=precision, threads=so.intra_op_num_threads, extra=extra)

    int8_source = "ONNX Runtime's optimized graph (optimized_model_filepath)"

    def profile(self, inputs: Any, out_dir: Path, calls: int) -> tuple[Path, dict[str, float]]:
        """ONNX Runtime's own profiler (SessionOptions.enable_profiling) on a second session: milliseconds
        per operator type from its trace, saved under `out_dir`."""
        import onnxruntime as ort

        so = self.session_options()
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(out_dir) / "profile-onnxruntime")
        session = ort.InferenceSession(str(self.onnx_path), so, providers=self.provider_list())
        for _ in range(calls):
            session.run(None, inputs)
        path = Path(session.end_profiling())
        return path, operator_times(path)

    def int8_share(self) -> tuple[float, int, int]:
        """Dump the graph the CPU EP really runs (a second session, same options) and count its kernels."""
        import onnxruntime as ort

        with tempfile.TemporaryDirectory(prefix="harness-ort-graph-") as private:
            so = self.session_options()
            so.optimized_model_filepath = f"{private}/optimized.onnx"
            ort.InferenceSession(str(self.onnx_path), so, providers=["CPUExecutionProvider"])
            return ort_int8_share(Path(private) / "optimized.onnx")

    def version(self) -> str:
        import onnxruntime as ort

        return ort.__version__


RUNTIME = OnnxRuntimeCPU
