"""OpenVINO SDK: `openvino.convert_model` -> IR cached on disk (fp32 weights kept) ->
`Core.compile_model` on CPU with an explicit precision hint and thread count.

Without INFERENCE_PRECISION_HINT, OpenVINO runs bf16 on CPUs with bf16 support: the hint
is always set, and the effective precision is read back from the compiled model.
Scenarios: single stream uses one infer request (LATENCY hint); offline keeps `streams` requests in
flight with an AsyncInferQueue; server gives each of its streams an infer request of its own. With
several streams the hint is THROUGHPUT and NUM_STREAMS = streams; with one, LATENCY (the row's
`ov_performance_hint` says which ran).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from harness.contract import Inputs, ModelHandle
from harness.options import AFTER_CONVERSION, MACHINE_LOCAL, STATIC_INT8, THREADS
from runtimes.base import Effective, Runtime
from runtimes.int8 import int8_columns, openvino_int8_share
from runtimes.openvino_common import OV_PRECISION, convert_to_ir, openvino_profile, ov_precision_name, quantize_ir


@dataclass
class OpenVINOOptions:
    # None: from the scenario's streams (one: LATENCY; several, offline or server: THROUGHPUT)
    performance_hint: Annotated[Literal["LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT"] | None, AFTER_CONVERSION] = (
        None
    )
    # None: the scenario's streams when it has several, else chosen by the hint; each stream needs a core
    num_streams: Annotated[int | None, Field(ge=1), THREADS, AFTER_CONVERSION] = None
    # OpenVINO's compiled-blob cache (CACHE_DIR); None: off
    cache_dir: Annotated[str | None, AFTER_CONVERSION, MACHINE_LOCAL] = None
    # int8: samples NNCF calibrates on; None: its default subset_size (300)
    calibration_samples: Annotated[int | None, Field(ge=1, le=100_000), STATIC_INT8, AFTER_CONVERSION] = None


class OpenVINORuntime(Runtime):
    Options = OpenVINOOptions
    precisions = ("fp32", "bf16", "int8")
    precision_after_conversion = True  # the IR stays fp32; INFERENCE_PRECISION_HINT is set when compiling
    accepts_files = (".xml", ".onnx")
    options: OpenVINOOptions

    def compile_config(self) -> dict[str, Any]:
        hint = self.options.performance_hint or ("THROUGHPUT" if self.streams > 1 else "LATENCY")
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": OV_PRECISION[self.precision],
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": hint,
        }
        streams = self.options.num_streams or (self.streams if self.streams > 1 else None)
        if streams is not None:
            config["NUM_STREAMS"] = streams
        if self.options.cache_dir:
            config["CACHE_DIR"] = self.options.cache_dir
        return config

    def prepare(self, handle: ModelHandle) -> None:
        import openvino as ov

        self.input_names = handle.input_names
        self.prebuilt = handle.prebuilt is not None  # a model file runs as it is (OpenVINO reads .xml and .onnx)
        ir_path = handle.prebuilt if handle.prebuilt is not None else convert_to_ir(self, handle)
        if self.precision == "int8":
            ir_path = quantize_ir(self, handle, ir_path)
        started = time.perf_counter()
        core = ov.Core()
        self.model = core.read_model(str(ir_path))
        self.compiled = core.compile_model(self.model, "CPU", self.compile_config())
        self.request = self.compiled.create_infer_request()
        self.times.compile_s = time.perf_counter() - started

    def adapt_inputs(self, inputs: Inputs) -> dict[str, np.ndarray]:
        # The IR takes the fp32 inputs; a bf16 hint converts inside the plugin.
        return {name: inputs[name].numpy() for name in self.input_names}

    def run(self, inputs: dict[str, np.ndarray]) -> Any:
        return self.request.infer(inputs, share_inputs=True)

    def to_numpy(self, output: Any) -> np.ndarray:
        return np.array(output[0], dtype=np.float32, copy=True)

    def stream_calls(self, inputs: list[Any], stream: int) -> list[Any]:
        """Each stream its own infer request: one request is not to be shared between threads."""
        request = self.request if stream == 0 else self.compiled.create_infer_request()
        return [lambda x=x: request.infer(x, share_inputs=True) for x in inputs]

    def request_queue(self, inputs: list[Any], streams: int) -> Any:
        """OpenVINO's AsyncInferQueue with `streams` requests (the THROUGHPUT hint's mode)."""
        import openvino as ov

        queue = ov.AsyncInferQueue(self.compiled, streams)
        queue.set_callback(lambda _request, done: done())

        class Queue:
            def start(self, k: int, done: Any) -> None:
                queue.start_async(inputs[k], done)  # blocks while every request is busy

            def wait_all(self) -> None:
                queue.wait_all()

            def wait_idle(self) -> None:
                queue.get_idle_request_id()  # blocks until a request is free (the next start_async takes it)

        return Queue()

    def profile(self, inputs: Any, out_dir: Path, calls: int) -> tuple[Path, dict[str, float]]:
        return openvino_profile(self.model, self.compile_config(), inputs, calls, out_dir)

    def effective(self) -> Effective:
        get = self.compiled.get_property
        extra = {
            "ov_performance_hint": str(get("PERFORMANCE_HINT")),
            "ov_num_streams": int(get("NUM_STREAMS")),
            "ov_optimal_num_requests": int(get("OPTIMAL_NUMBER_OF_INFER_REQUESTS")),
        }
        precision = ov_precision_name(get("INFERENCE_PRECISION_HINT"))
        if self.precision == "int8" or self.prebuilt:
            precision, counts = int8_columns(openvino_int8_share(self.compiled), precision, "OpenVINO execution graph")
            extra.update(counts)
        return Effective(precision=precision, threads=int(get("INFERENCE_NUM_THREADS")), extra=extra)

    def version(self) -> str:
        import openvino as ov

        return ov.__version__


RUNTIME = OpenVINORuntime
