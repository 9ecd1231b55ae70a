"""ONNX export (cached) and ONNX Runtime session helpers shared by the two ORT adapters."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import ConfigError
from runtimes.artifacts import artifact_key, ensure_artifact
from runtimes.base import PrepareTimes
from workloads.base import Inputs, ModelHandle

ONNX_FILE = "model.onnx"
EXPORTERS = ("dynamo", "torchscript")
OPT_LEVELS = ("disable", "basic", "extended", "all")


def check_exporter(exporter: str) -> None:
    if exporter not in EXPORTERS:
        raise ConfigError(f"runtime.exporter={exporter!r} is not allowed: choose one of {', '.join(EXPORTERS)}")


def export_onnx(handle: ModelHandle, cache_dir: Path, times: PrepareTimes, exporter: str, opset: int | None) -> Path:
    """The model as ONNX with dynamic batch (and sequence) axes, cached on disk."""
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
        onnx.checker.check_model(str(directory / ONNX_FILE))

    versions = {"torch": torch.__version__, "onnx": onnx.__version__}
    try:
        import onnxscript

        versions["onnxscript"] = onnxscript.__version__
    except ImportError:
        pass
    key = artifact_key(handle, "onnx", {"exporter": exporter, "opset": opset}, versions)
    return ensure_artifact(cache_dir, "onnx", key, times, write) / ONNX_FILE


def numpy_inputs(inputs: Inputs, names: list[str]) -> dict[str, np.ndarray]:
    return {name: inputs[name].numpy() for name in names}


def output_precision(session: Any) -> str:
    kind = session.get_outputs()[0].type  # e.g. "tensor(float)"
    return {"tensor(float)": "fp32", "tensor(bfloat16)": "bf16", "tensor(float16)": "fp16"}.get(kind, kind)


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
