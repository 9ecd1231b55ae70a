"""The contract between workloads and runtimes: what a workload hands a runtime to convert and run.

A workload (workloads/) turns data into `Inputs` (named tensors) and loads a model into a
`ModelHandle`; a runtime (runtimes/) converts the handle and runs `Inputs`. Neither imports the
other: both import this module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

Inputs = dict[str, torch.Tensor]


def tensor_hash(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous().cpu()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


@dataclass
class CalibrationData:
    """Samples for a quantizer to calibrate on, from a split disjoint from the eval set.

    `batches`: one sample per batch, as fed to the model (the workload's preprocessing);
    `sample_hashes`: a hash of each sample's tensors; `data_hash`: of all of them (cache keys);
    `source`: where they came from, for the row."""

    batches: list[Inputs]
    sample_hashes: list[str]
    data_hash: str
    source: str


@dataclass
class ModelHandle:
    """What a runtime gets to convert: an fp32 eval-mode module taking the inputs in
    `input_names` order (positionally) and returning logits of shape (batch, n_outputs), plus
    what identifies it for caches."""

    module: torch.nn.Module
    input_names: list[str]
    dynamic_dims: dict[str, dict[int, str]]  # input name -> {axis: symbolic name}
    example: Inputs  # batch >= 2 so exporters can treat the batch dim as dynamic
    model_hash: str  # weights and architecture (see model_hash())
    kind: str  # "transformer" | "cnn": some runtimes need per-kind options
    n_outputs: int  # classes the model scores (logits per sample)
    # the workload options that shape the model or its inputs (all but DATA_ONLY ones); set by the job
    graph_options: dict[str, Any] = field(default_factory=dict)
    timing_example: Inputs | None = None  # the measured batch: lazy compilers compile on it in prepare
    calibration: CalibrationData | None = None  # int8: what the quantizer calibrates on (set by the job)
    # a model file (ONNX, OpenVINO IR) that runs as it is; `module` is then its fp32 reference model
    prebuilt: Path | None = None
    source_dir: str | None = None  # the model's directory when it came from one (optimum exports from it)

    def artifact_identity(self) -> dict[str, Any]:
        """Everything about the model that determines a conversion of it: weights and architecture,
        the workload options that shape the graph, and the exact inputs a converter sees (names,
        shapes, dtypes and values: tracing converters bake value-dependent branches into the graph,
        e.g. transformers skips the attention mask of a batch without padding) with their declared
        dynamic dimensions."""
        return {
            "model": self.model_hash,
            "graph_options": self.graph_options,
            "inputs": [(n, list(self.example[n].shape), str(self.example[n].dtype)) for n in self.input_names],
            "example": tensor_hash(self.example),
            "dynamic": {k: {str(a): n for a, n in v.items()} for k, v in self.dynamic_dims.items()},
        }


def self_contained_onnx(path: Path) -> Any:
    """An ONNX file's ModelProto, read without external data; ConfigError naming the file when it cannot
    be read or refers to external data files: those would escape every check and hash of the file (a
    model file the user gave, or one from the cache), so no runtime reads one."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    from harness.config import ConfigError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # DecodeError: a damaged or foreign file
        raise ConfigError(f"{path} is not a valid ONNX model ({type(exc).__name__}: {exc})") from None
    if any(uses_external_data(t) for t in model.graph.initializer):
        raise ConfigError(f"{path} refers to external data files; the harness runs self-contained ONNX files only "
                          "(save it without save_as_external_data)")  # fmt: skip
    return model
