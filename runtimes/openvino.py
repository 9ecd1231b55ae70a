"""OpenVINO SDK: `openvino.convert_model` -> IR cached on disk (fp32 weights kept) ->
`Core.compile_model` on CPU with an explicit precision hint and thread count.

Without INFERENCE_PRECISION_HINT, OpenVINO runs bf16 on CPUs with bf16 support: the hint
is always set, and the effective precision is read back from the compiled model.
With num_requests > 1, an AsyncInferQueue keeps that many requests in flight: throughput
is over all requests, latency is per request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from harness.config import MeasureConfig
from harness.measure import Measurement, ci_relative_half_width
from harness.options import AFTER_CONVERSION, MACHINE_LOCAL, THREADS
from runtimes.artifacts import ensure_artifact, ensure_quantized
from runtimes.base import Effective, Runtime
from runtimes.int8 import int8_columns, openvino_int8_share
from workloads.base import Inputs, ModelHandle

# the precision hint: for int8, the layers NNCF left in float run in f32 (OpenVINO would pick bf16 here)
OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "int8": "f32", "int8_dynamic": "f32"}
FROM_OV_PRECISION = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}
IR_FILE = "model.xml"


@dataclass
class OpenVINOOptions:
    performance_hint: Annotated[Literal["LATENCY", "THROUGHPUT", "CUMULATIVE_THROUGHPUT"], AFTER_CONVERSION] = "LATENCY"
    # None: chosen by the performance hint; each stream runs on at least one core
    num_streams: Annotated[int | None, Field(ge=1), THREADS, AFTER_CONVERSION] = None
    # > 1: async throughput mode with an AsyncInferQueue
    num_requests: Annotated[int, Field(ge=1, le=256), AFTER_CONVERSION] = 1
    # OpenVINO's compiled-blob cache (CACHE_DIR); None: off
    cache_dir: Annotated[str | None, AFTER_CONVERSION, MACHINE_LOCAL] = None
    # int8: samples NNCF calibrates on; None: its default subset_size (300)
    calibration_samples: Annotated[int | None, Field(ge=1, le=100_000), AFTER_CONVERSION] = None


def ov_precision_name(value: Any) -> str:
    text = value.to_string() if hasattr(value, "to_string") else str(value)
    return FROM_OV_PRECISION.get(text, text)


def convert_to_ir(runtime: Runtime, handle: ModelHandle) -> Path:
    """The model as OpenVINO IR with dynamic input dims, cached (runtimes/artifacts.py); weights stay fp32."""
    import openvino as ov
    import torch

    def write(directory: Path) -> None:
        example = tuple(handle.example[name] for name in handle.input_names)
        model = ov.convert_model(handle.module, example_input=example)
        for port, name in zip(model.inputs, handle.input_names, strict=True):
            port.get_tensor().set_names({name})
        ov.save_model(model, str(directory / IR_FILE), compress_to_fp16=False)  # fp32 means fp32

    versions = {"openvino": ov.__version__, "torch": torch.__version__}
    return ensure_artifact(runtime, handle, "openvino_ir", versions, write) / IR_FILE


def quantize_ir(runtime: Runtime, handle: ModelHandle, ir_path: Path) -> Path:
    """The IR quantized to INT8 by NNCF's post-training quantization (nncf.quantize; ModelType.TRANSFORMER
    for transformers, which also applies SmoothQuant), calibrated on `handle.calibration`, cached
    (https://docs.openvino.ai/2025/openvino-workflow/model-optimization-guide/quantizing-models-post-training/basic-quantization-flow.html)."""
    import nncf
    import openvino as ov

    calibration = handle.calibration
    assert calibration is not None
    model_type = "transformer" if handle.kind == "transformer" else None

    def write(directory: Path) -> None:
        model = ov.Core().read_model(str(ir_path))
        dataset = nncf.Dataset(calibration.batches, lambda batch: {n: batch[n].numpy() for n in handle.input_names})
        quantized = nncf.quantize(model, dataset, subset_size=len(calibration.batches),
                                  model_type=nncf.ModelType.TRANSFORMER if model_type else None)  # fmt: skip
        ov.save_model(quantized, str(directory / IR_FILE), compress_to_fp16=False)

    versions = {"openvino": ov.__version__, "nncf": nncf.__version__}
    quantizer = {"tool": "nncf.quantize", "model_type": model_type, "subset_size": len(calibration.batches)}
    return ensure_quantized(runtime, handle, "openvino_ir_int8", versions, quantizer, write) / IR_FILE


class OpenVINORuntime(Runtime):
    Options = OpenVINOOptions
    precisions = ("fp32", "bf16", "int8")
    precision_after_conversion = True  # the IR stays fp32; INFERENCE_PRECISION_HINT is set when compiling
    accepts_files = (".xml", ".onnx")
    options: OpenVINOOptions

    def compile_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": OV_PRECISION[self.precision],
            "INFERENCE_NUM_THREADS": self.threads,
            "PERFORMANCE_HINT": self.options.performance_hint,
        }
        if self.options.num_streams is not None:
            config["NUM_STREAMS"] = self.options.num_streams
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
        self.compiled = core.compile_model(core.read_model(str(ir_path)), "CPU", self.compile_config())
        self.request = self.compiled.create_infer_request()
        self.times.compile_s = time.perf_counter() - started

    def adapt_inputs(self, inputs: Inputs) -> dict[str, np.ndarray]:
        # The IR takes the fp32 inputs; a bf16 hint converts inside the plugin.
        return {name: inputs[name].numpy() for name in self.input_names}

    def run(self, inputs: dict[str, np.ndarray]) -> Any:
        return self.request.infer(inputs, share_inputs=True)

    def to_numpy(self, output: Any) -> np.ndarray:
        return np.array(output[0], dtype=np.float32, copy=True)

    def overlaps_calls(self) -> bool:
        return self.options.num_requests > 1

    def measure_custom(self, inputs: Any, cfg: MeasureConfig, batch: int, on_progress: Any) -> Measurement | None:
        if self.options.num_requests == 1:
            return None
        import openvino as ov

        queue = ov.AsyncInferQueue(self.compiled, self.options.num_requests)
        latencies_ns: list[int] = []
        recording = [False]

        def done(request: Any, started_ns: int) -> None:
            if recording[0]:
                latencies_ns.append(time.perf_counter_ns() - started_ns)

        queue.set_callback(done)
        clock = time.perf_counter_ns
        warmup_end = clock() + int(cfg.warmup_s * 1e9)
        for _ in range(max(cfg.warmup_calls, len(queue))):
            queue.start_async(inputs, clock())
        while clock() < warmup_end:
            queue.start_async(inputs, clock())
        queue.wait_all()

        recording[0] = True
        submitted = 0
        started = clock()
        min_end, max_end = started + int(cfg.min_s * 1e9), started + int(cfg.max_s * 1e9)
        while True:
            queue.start_async(inputs, clock())  # blocks while every request is busy
            submitted += 1
            now = clock()
            if submitted >= cfg.max_calls:
                reason = "max_calls"
                break
            if now >= max_end:
                reason = "max_s"
                break
            if submitted % 10 == 0 and len(latencies_ns) >= 10:
                rel = ci_relative_half_width(np.asarray(latencies_ns) / 1e6)
                on_progress(len(latencies_ns), rel)
                if submitted >= cfg.min_calls and now >= min_end and rel <= cfg.target_ci_rel:
                    reason = "ci_target"
                    break
        queue.wait_all()
        wall_s = (clock() - started) / 1e9
        return Measurement(np.asarray(latencies_ns, dtype=np.float64) / 1e6, cfg.warmup_calls, reason, batch, wall_s)

    def effective(self) -> Effective:
        get = self.compiled.get_property
        extra = {
            "ov_performance_hint": str(get("PERFORMANCE_HINT")),
            "ov_num_streams": int(get("NUM_STREAMS")),
            "ov_num_requests": self.options.num_requests,
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
