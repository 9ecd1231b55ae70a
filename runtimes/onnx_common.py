"""ONNX export (cached) and ONNX Runtime session helpers shared by the two ORT adapters."""

from __future__ import annotations

import collections
import contextlib
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import ConfigError
from harness.contract import Inputs, ModelHandle, self_contained_onnx
from runtimes.artifacts import ensure_artifact, ensure_quantized

ONNX_FILE = "model.onnx"
# Opsets each exporter really produces (torch 2.13): the dynamo exporter's operator library starts at
# 18 and converts lower requests on a best-effort basis, keeping 18 when that fails
# (torch/onnx/_internal/exporter/_compat.py, TORCHLIB_OPSET); TorchScript's goes up to 20
# (torch.onnx._constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET).
OPSETS = {"dynamo": (18, 23), "torchscript": (7, 20)}


def check_opset(exporter: str, opset: int | None) -> None:
    low, high = OPSETS[exporter]
    if opset is not None and not low <= opset <= high:
        raise ConfigError(f"runtime.opset={opset} is not allowed with runtime.exporter={exporter}: it produces "
                          f"opsets {low} to {high} (or null for its default)")  # fmt: skip


def onnx_opset(model: Any) -> int:
    return next(int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx"))


def checked_onnx(path: Path) -> int:
    """Load an ONNX file the way a format-checked loader should: no external data (a file from
    the cache must not make ONNX Runtime read other files: contract.self_contained_onnx), a valid
    graph. Returns its opset. Raises ConfigError naming the file when it fails either check."""
    import onnx

    model = self_contained_onnx(path)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # ValidationError: a damaged or foreign file
        raise ConfigError(f"{path} is not a valid ONNX model ({type(exc).__name__}: {exc})") from None
    return onnx_opset(model)


def export_onnx(runtime: Any, handle: ModelHandle, exporter: str, opset: int | None) -> tuple[Path, int]:
    """(the model as ONNX with dynamic batch (and sequence) axes, cached on disk and format-checked;
    its opset as read back from the file)."""
    import onnx
    import torch

    def write(directory: Path) -> None:
        example = tuple(handle.example[name] for name in handle.input_names)
        common = {"input_names": handle.input_names, "output_names": ["logits"], "opset_version": opset}
        if exporter == "dynamo":
            dims = tuple(
                {axis: torch.export.Dim.DYNAMIC for axis in handle.dynamic_dims.get(name, {})}
                for name in handle.input_names
            )
            torch.onnx.export(handle.module, example, str(directory / ONNX_FILE), dynamic_shapes=dims,
                              dynamo=True, external_data=False, **common)  # fmt: skip
        else:
            axes = {name: dict(handle.dynamic_dims.get(name, {})) for name in handle.input_names}
            axes["logits"] = {0: "batch"}
            torch.onnx.export(handle.module, example, str(directory / ONNX_FILE), dynamic_axes=axes,
                              dynamo=False, **common)  # fmt: skip
        produced = checked_onnx(directory / ONNX_FILE)
        if opset is not None and produced != opset:
            raise RuntimeError(f"runtime.opset={opset} was asked for; {exporter} produced opset {produced}")

    versions = {"torch": torch.__version__, "onnx": onnx.__version__}
    try:
        import onnxscript

        versions["onnxscript"] = onnxscript.__version__
    except ImportError:
        pass
    path = ensure_artifact(runtime, handle, "onnx", versions, write) / ONNX_FILE
    return path, checked_onnx(path)


def quantize_onnx(runtime: Any, handle: ModelHandle, onnx_path: Path, dynamic: bool) -> Path:
    """The ONNX model quantized by ONNX Runtime's own tools, cached: `quant_pre_process` first, then
    `quantize_static` to QDQ (calibrated on `handle.calibration`; u8 activations, s8 per-channel weights, as
    its docstring recommends for CPUs) or `quantize_dynamic` (s8 weights, activations at run time).
    Transformers quantize MatMul/Gemm only: QDQ around Add/Softmax carries BERT's additive attention mask
    (float32 min) through an 8-bit range and ruins the logits.
    https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html"""
    import onnx
    import onnxruntime
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    op_types = ["MatMul", "Gemm"] if handle.kind == "transformer" else None
    calibration = handle.calibration

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(calibration.batches if calibration else [])

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else numpy_inputs(batch, handle.input_names)

    def write(directory: Path) -> None:
        # absolute: the quantizer runs in a scratch cwd, where a relative cache path names nothing
        source, out = Path(onnx_path).absolute(), (directory / ONNX_FILE).absolute()
        with tempfile.TemporaryDirectory(prefix="harness-ort-quant-") as scratch, contextlib.chdir(scratch):
            pre = Path(scratch) / "pre.onnx"  # quant_pre_process writes temporary files into the cwd
            # skip_symbolic_shape: ORT's symbolic shape inference misreads the dynamo exporter's Shape(start, end)
            quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
            if dynamic:
                model = onnx.load(str(pre))
                del model.graph.value_info[:]  # stale initializer shapes break quantize_dynamic's Gemm rewrite
                onnx.save(model, str(pre))
                quantize_dynamic(str(pre), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=op_types)
            else:
                quantize_static(str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                                op_types_to_quantize=op_types)  # fmt: skip
        checked_onnx(out)

    kind = "onnx_int8_dynamic" if dynamic else "onnx_int8"
    samples = len(calibration.batches) if calibration and not dynamic else None
    tool = "quantize_dynamic" if dynamic else "quantize_static QDQ U8S8 per-channel"
    quantizer = {"tool": tool, "op_types": op_types, "samples": samples}
    versions = {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__}
    path = ensure_quantized(runtime, handle, kind, versions, quantizer, write) / ONNX_FILE
    checked_onnx(path)
    return path


def numpy_inputs(inputs: Inputs, names: list[str]) -> dict[str, np.ndarray]:
    return {name: inputs[name].numpy() for name in names}


def output_precision(session: Any) -> str:
    kind = session.get_outputs()[0].type  # e.g. "tensor(float)"
    return {"tensor(float)": "fp32", "tensor(bfloat16)": "bf16", "tensor(float16)": "fp16"}.get(kind, kind)


def operator_times(profile_path: Path) -> dict[str, float]:
    """Milliseconds per operator type (per execution provider's subgraph for fused ones) in an ONNX
    Runtime profiling trace (chrome trace JSON: Node events, `dur` in microseconds)."""
    totals: dict[str, float] = collections.defaultdict(float)
    for event in json.loads(Path(profile_path).read_text()):
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            totals[event.get("args", {}).get("op_name", "?")] += event.get("dur", 0) / 1000.0
    return dict(totals)


def provider_placement(profile_path: str) -> dict[str, int]:
    """Distinct graph nodes each execution provider ran, from an ORT profiling trace."""
    with open(profile_path) as handle:
        events = json.load(handle)
    nodes: dict[str, set[str]] = collections.defaultdict(set)
    for event in events:
        provider = event.get("args", {}).get("provider")
        if provider and event.get("cat") == "Node":
            nodes[provider].add(event["name"])
    Path(profile_path).unlink(missing_ok=True)
    return {provider: len(names) for provider, names in nodes.items()}
