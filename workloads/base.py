"""What a workload provides: a model that maps named input tensors to logits, and labelled data.

One module per workload; its `WORKLOAD` attribute names the class. Loading and preprocessing
happen here, outside any timed region. Every problem the data or the model files reveal is a
`ConfigError` (the row says `invalid`, with one line), never a library traceback.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from harness.config import ConfigError
from harness.contract import CalibrationData, Inputs, ModelHandle, self_contained_onnx, tensor_hash

__all__ = ["CalibrationData", "Inputs", "ModelHandle", "tensor_hash"]  # the contract, re-exported for workloads

OFFLINE_PREFIX = "offline:"
DATA_KEY_CHUNK = 64  # samples per make_batch call while hashing what is fed to the model

MODEL_FILE_SUFFIXES = (".onnx", ".xml")  # a model already converted (and maybe quantized): run as it is


def looks_like_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~")) or Path(value).suffix in {
        ".csv", ".json", ".jsonl", ".safetensors", ".pt", ".pth", ".bin", *MODEL_FILE_SUFFIXES,
    }  # fmt: skip


def model_file_hash(path: Path) -> str:
    """SHA-256 of a model file (with its weights file: an IR's .bin beside the .xml)."""
    from harness.cache import file_sha256

    parts = [path] + ([path.with_suffix(".bin")] if path.suffix == ".xml" else [])
    return hashlib.sha256("".join(file_sha256(p, follow_links=True) for p in parts if p.exists()).encode()).hexdigest()


def prebuilt_model_hash(path: Path, reference_hash: str) -> str:
    """The identity of a model file run as it is: its content (model_file_hash) and its reference
    model's (`reference_hash`, model_hash of the fp32 module it is scored against). A reference edited
    in place at the same path changes the reference outputs, so it must change every key that holds
    them (accuracy scores, references). Refuses (ConfigError) an ONNX file with external data: the
    hash would not cover those files (contract.self_contained_onnx)."""
    if path.suffix == ".onnx":
        self_contained_onnx(path)
    return hashlib.sha256(f"file:{model_file_hash(path)} reference:{reference_hash}".encode()).hexdigest()


def _file_signature(path: Path) -> tuple[list[tuple[set[str], list[int | None]]], list[list[int | None]]]:
    """(each input's names and dims, each output's dims) of a model file; None for a dynamic
    dimension, [] for an unknown rank. An OpenVINO IR port may carry several names."""
    if path.suffix == ".onnx":
        graph = self_contained_onnx(path).graph
        initializers = {t.name for t in graph.initializer}

        def dims(value: Any) -> list[int | None]:
            if not value.type.tensor_type.HasField("shape"):
                return []
            return [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]

        inputs = [({v.name}, dims(v)) for v in graph.input if v.name not in initializers]
        return inputs, [dims(v) for v in graph.output]
    import openvino as ov

    try:
        model = ov.Core().read_model(str(path))
    except Exception as exc:  # a damaged or foreign IR
        raise ConfigError(f"{path} is not a readable OpenVINO IR ({type(exc).__name__})") from None

    def ov_dims(port: Any) -> list[int | None]:
        shape = port.get_partial_shape()
        return [] if shape.rank.is_dynamic else [d.get_length() if d.is_static else None for d in shape]

    inputs = [(set(port.get_names()) or {port.get_any_name()}, ov_dims(port)) for port in model.inputs]
    return inputs, [ov_dims(p) for p in model.outputs]


def _shape_text(dims: list[int | None]) -> str:
    return "x".join("?" if d is None else str(d) for d in dims)


def check_prebuilt(handle: ModelHandle, batch: Inputs) -> None:
    """A model file run as it is must take the workload's inputs and give its reference's outputs, or it
    cannot be run or scored: checked on the file's declared signature before anything is timed. Refuses
    (ConfigError, one line) inputs other than the workload's (by name), a static dimension (batch,
    sequence, image size) other than the measured batch's, more than one output, and an output whose
    static class dimension differs from the reference's `n_outputs`. What the file leaves dynamic is
    checked on the runtime's first output (harness/job.py check_outputs)."""
    if handle.prebuilt is None:
        return
    path, where = handle.prebuilt, f"the model file {str(handle.prebuilt)!r}"
    inputs, outputs = _file_signature(path)
    wanted = set(handle.input_names)
    by_name = {name: dims for names, dims in inputs for name in names & wanted}
    if len(inputs) != len(wanted) or set(by_name) != wanted:
        given = ", ".join(sorted(min(names) for names, _ in inputs)) or "none"
        raise ConfigError(f"{where} takes inputs {given} but the workload feeds {', '.join(handle.input_names)}")
    for name in handle.input_names:
        shape, declared = list(batch[name].shape), by_name[name]
        fits = len(declared) == len(shape) and all(d in (None, s) for d, s in zip(declared, shape, strict=True))
        if declared and not fits:
            raise ConfigError(f"{where} takes {name} of shape {_shape_text(declared)} but the job feeds "
                              f"{_shape_text(shape)}; export it with dynamic axes or run it at its shape")  # fmt: skip
    if len(outputs) != 1:
        raise ConfigError(f"{where} has {len(outputs)} outputs; the harness scores one (the logits)")
    out = outputs[0]
    if out and (len(out) != 2 or out[1] not in (None, handle.n_outputs)):
        raise ConfigError(f"{where} gives outputs of shape {_shape_text(out)} but its reference model scores "
                          f"{handle.n_outputs} classes (batch x {handle.n_outputs})")  # fmt: skip


def require_existing_path(key: str, value: str, allowed: str) -> None:
    """Reject a path-looking value that does not exist, in one line."""
    if looks_like_path(value) and not Path(value).expanduser().exists():
        raise ConfigError(f"{key}={value!r} does not exist; allowed: {allowed}")


def missing_calibration(dataset: str, calibration: str | None, offline_dataset: str, allowed: str) -> str | None:
    """Why static quantization cannot calibrate (None: it can): data other than the workload's offline set
    needs a calibration_dataset disjoint from it (`allowed`: what may be given). Checked before any job
    runs (config.JobSpec.validate, through the options' calibration_problem)."""
    if calibration is None and dataset != offline_dataset:
        return (f"runtime.precision=int8 on workload.dataset={dataset!r} needs calibration data disjoint from the "
                f"eval set: give workload.calibration_dataset ({allowed})")  # fmt: skip
    return None


def check_calibration_data(calibration: str | None, split: str, offline_dataset: str, allowed: str) -> None:
    """workload.calibration_dataset and calibration_split, checked as workload.dataset is (before any job
    loads a model) and named as themselves: `offline_dataset` is the workload's offline data (its train
    split calibrates when `calibration` is None), `allowed` says what else may be given. Raises ConfigError."""
    if calibration in (None, offline_dataset) and split != "train":
        raise ConfigError(f"workload.calibration_split={split!r} has no effect: without a calibration_dataset it "
                          f"calibrates on {offline_dataset}'s train split; leave it at train")  # fmt: skip
    if calibration is None:
        return
    if not calibration.strip():
        raise ConfigError(f"workload.calibration_dataset={calibration!r} is empty; allowed: {allowed}, "
                          f"{offline_dataset}, or null")  # fmt: skip
    if calibration.startswith(OFFLINE_PREFIX) and calibration != offline_dataset:
        raise ConfigError(f"workload.calibration_dataset={calibration!r} is unknown; offline dataset: "
                          f"{offline_dataset} (its train split)")  # fmt: skip
    require_existing_path("workload.calibration_dataset", calibration, f"{allowed}, or {offline_dataset}")


def model_hash(module: torch.nn.Module, architecture: str = "") -> str:
    """Weights (every tensor of the state dict) and architecture (the module tree as printed, plus
    `architecture`, e.g. a transformers config): a config edited in place changes it too."""
    digest = hashlib.sha256(tensor_hash(module.state_dict()).encode())
    digest.update(repr(module).encode())
    digest.update(architecture.encode())
    return digest.hexdigest()


def array_hash(*arrays: Any) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def sample_hashes(workload: Any) -> list[str]:
    """The hash of each eval sample's tensors, as fed to the model."""
    return [tensor_hash(workload.make_batch([i])) for i in range(workload.n_samples)]


@dataclass
class LabelSource:
    """Every label the data source holds (not only the sampled ones), for checking against the model.

    `values`: all labels of the source as class indices (after any label map); `declared`: the
    number of classes the source itself declares (class folders, a dataset's class names), if any;
    `what`: how to name the source in messages."""

    values: np.ndarray
    declared: int | None
    what: str


def check_labels(source: LabelSource, n_outputs: int, label_map_name: str | None = None) -> None:
    """Labels must be class indices of this model, whichever samples `n_samples` draws.

    Raises ConfigError when a label is outside 0..n_outputs-1, or when the source declares a number
    of classes that differs from the model's outputs and no label map relates the two."""
    values = np.asarray(source.values)
    if values.size:
        low, high = int(values.min()), int(values.max())
        if low < 0 or high >= n_outputs:
            distinct = np.unique(values)
            shown = ", ".join(str(v) for v in distinct[:8]) + (", ..." if len(distinct) > 8 else "")
            raise ConfigError(
                f"{source.what} has labels {shown} ({len(distinct)} distinct, {low}..{high}) but the model scores "
                f"{n_outputs} classes (0..{n_outputs - 1}); give labels of this model's classes"
            )
    if source.declared is not None and label_map_name is None and source.declared != n_outputs:
        raise ConfigError(
            f"{source.what} has {source.declared} classes but the model scores {n_outputs}; "
            f"give a model with {source.declared} outputs, or a label_map relating the two"
        )


class Workload(ABC):
    """A model and its evaluation data. Subclasses define `Options` (a dataclass)."""

    name: ClassVar[str]
    Options: ClassVar[type]

    def __init__(self, options: Any, seed: int, cache_dir: Path) -> None:
        self.options = options
        self.seed = seed
        self.cache_dir = Path(cache_dir)
        self.labels: np.ndarray = np.zeros(0, dtype=np.int64)
        self.cache_notes: list[str] = []  # cache entries rebuilt because they were damaged

    def prepare_assets(self, log: Any = print) -> None:  # noqa: B027 - optional hook
        """One-off, cached preparation (e.g. fitting the offline classification head)."""

    @abstractmethod
    def load_eval_set(self) -> None:
        """Load and preprocess the evaluation data; sets `self.labels`. Raises ConfigError for
        data the harness can name as bad."""

    @abstractmethod
    def load_model(self) -> ModelHandle:
        """Load the fp32 model in eval mode. Raises ConfigError for model files that cannot be used."""

    @abstractmethod
    def make_batch(self, indices: list[int]) -> Inputs:
        """The model inputs for these eval samples (already preprocessed)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Result columns describing this workload: model, dataset, seq_len, ..."""

    @abstractmethod
    def label_source(self) -> LabelSource:
        """All labels of the data source, for `check_labels`."""

    def label_map_name(self) -> str | None:
        """The label map relating the source's classes to the model's, if one is in use."""
        return None

    def calibration_options(self, n_samples: int) -> Any:
        """The options of a workload over the calibration split (same model and preprocessing).
        Raises ConfigError when this workload has none."""
        raise ConfigError(f"workload {self.name} has no calibration data for quantization")

    def calibration_data(self, n_samples: int) -> CalibrationData:
        """`n_samples` seeded samples of the calibration split, checked to share no sample with the eval
        set (by the hash of what is fed). Raises ConfigError when the split holds fewer samples or
        shares some with the eval set."""
        options = self.calibration_options(n_samples)
        calibration = type(self)(options, self.seed, self.cache_dir)
        calibration.load_eval_set()
        source = f"{options.dataset}:{options.split}"
        if calibration.n_samples < n_samples:
            raise ConfigError(f"runtime.calibration_samples={n_samples} is more than the calibration split {source} "
                              f"holds ({calibration.n_samples}); allowed: 1 to {calibration.n_samples}")  # fmt: skip
        hashes = sample_hashes(calibration)
        shared = set(hashes) & set(sample_hashes(self))
        if shared:
            raise ConfigError(f"{len(shared)} calibration samples from {source} also occur in the eval set; "
                              "calibrate on a split disjoint from it")  # fmt: skip
        digest = hashlib.sha256("".join(hashes).encode()).hexdigest()
        batches = [calibration.make_batch([i]) for i in range(calibration.n_samples)]
        return CalibrationData(batches, hashes, digest, f"{source} ({calibration.n_samples} seeded samples)")

    def data_key(self) -> str:
        """Hash of the eval set as fed to the model: every input tensor of every sample (built by
        `make_batch` in fixed chunks) and the labels. Workloads whose batching changes the inputs
        (padding to the longest sample) override this with a batch-independent equivalent."""
        digest = hashlib.sha256(array_hash(self.labels).encode())
        for start in range(0, self.n_samples, DATA_KEY_CHUNK):
            batch = self.make_batch(list(range(start, min(start + DATA_KEY_CHUNK, self.n_samples))))
            digest.update(tensor_hash(batch).encode())
        return digest.hexdigest()

    @property
    def n_samples(self) -> int:
        return len(self.labels)

    def batches(self, batch_size: int) -> list[list[int]]:
        """Eval indices in batches; the last batch is filled up by repeating its last sample
        so that every call has the measured batch shape (the repeats are not scored)."""
        indices = list(range(self.n_samples))
        out = []
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            out.append(chunk + [chunk[-1]] * (batch_size - len(chunk)))
        return out
