"""OpenVINO helpers shared by the runtimes that use it (openvino, openvino_compile, the ORT OpenVINO EP,
optimum_openvino): precision names, the cached IR conversion and its NNCF quantization, and the
per-operator profile from OpenVINO's performance counters."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.contract import ModelHandle
from runtimes.artifacts import ensure_artifact, ensure_quantized

# the precision hint: for int8, the layers NNCF left in float run in f32 (OpenVINO would pick bf16 here)
OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "int8": "f32", "int8_dynamic": "f32"}
FROM_OV_PRECISION = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}
IR_FILE = "model.xml"


def ov_precision_name(value: Any) -> str:
    text = value.to_string() if hasattr(value, "to_string") else str(value)
    return FROM_OV_PRECISION.get(text, text)


def convert_to_ir(runtime: Any, handle: ModelHandle) -> Path:
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


def quantize_ir(runtime: Any, handle: ModelHandle, ir_path: Path) -> Path:
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


def openvino_profile(model: Any, config: dict[str, Any], inputs: Any, calls: int, out_dir: Path) -> tuple[Path, dict]:
    """OpenVINO's performance counters (PERF_COUNT) over `calls` calls of a separately compiled copy
    of `model` (an ov.Model): milliseconds per layer type, saved as JSON under `out_dir`."""
    import openvino as ov

    compiled = ov.Core().compile_model(model, "CPU", {**config, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    totals: dict[str, float] = defaultdict(float)
    for _ in range(calls):
        request.infer(inputs)
        for info in request.get_profiling_info():
            totals[info.node_type] += info.real_time.total_seconds() * 1000.0
    path = Path(out_dir) / "profile-openvino.json"
    path.write_text(json.dumps({"calls": calls, "ms_by_layer_type": dict(totals)}, indent=1))
    return path, dict(totals)
