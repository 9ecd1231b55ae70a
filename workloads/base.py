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
from harness.contract import CalibrationData, Inputs, ModelHandle, tensor_hash

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


def require_existing_path(key: str, value: str, allowed: str) -> None:
    """Reject a path-looking value that does not exist, in one line."""
    if looks_like_path(value) and not Path(value).expanduser().exists():
        raise ConfigError(f"{key}={value!r} does not exist; allowed: {allowed}")


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
