"""What a workload provides: a model that maps named input tensors to logits, and labelled data.

One module per workload; its `WORKLOAD` attribute names the class. Loading and preprocessing
happen here, outside any timed region.
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

OFFLINE_PREFIX = "offline:"

Inputs = dict[str, torch.Tensor]


def looks_like_path(value: str) -> bool:
    return value.startswith(("/", "./", "../", "~")) or Path(value).suffix in {
        ".csv", ".json", ".jsonl", ".safetensors", ".pt", ".pth", ".bin",
    }  # fmt: skip


def require_existing_path(key: str, value: str, allowed: str) -> None:
    """Reject a path-looking value that does not exist, in one line."""
    if looks_like_path(value) and not Path(value).expanduser().exists():
        raise ConfigError(f"{key}={value!r} does not exist; allowed: {allowed}")


@dataclass
class ModelHandle:
    """What a runtime gets to convert: an fp32 eval-mode module taking the inputs in
    `input_names` order (positionally) and returning logits, plus shape information."""

    module: torch.nn.Module
    input_names: list[str]
    dynamic_dims: dict[str, dict[int, str]]  # input name -> {axis: symbolic name}
    example: Inputs  # batch >= 2 so exporters can treat the batch dim as dynamic
    content_hash: str  # of the weights, for conversion cache keys
    kind: str  # "transformer" | "cnn": some runtimes need per-kind options
    timing_example: Inputs | None = None  # the measured batch: lazy compilers compile on it in prepare


def tensor_hash(tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous().cpu()
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()


def array_hash(*arrays: Any) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class Workload(ABC):
    """A model and its evaluation data. Subclasses define `Options` (a dataclass)."""

    name: ClassVar[str]
    Options: ClassVar[type]

    def __init__(self, options: Any, seed: int, cache_dir: Path) -> None:
        self.options = options
        self.seed = seed
        self.cache_dir = Path(cache_dir)
        self.labels: np.ndarray = np.zeros(0, dtype=np.int64)

    def prepare_assets(self, log: Any = print) -> None:  # noqa: B027 - optional hook
        """One-off, cached preparation (e.g. fitting the offline classification head)."""

    @abstractmethod
    def load_eval_set(self) -> None:
        """Load and preprocess the evaluation data; sets `self.labels`."""

    @abstractmethod
    def load_model(self) -> ModelHandle:
        """Load the fp32 model in eval mode."""

    @abstractmethod
    def make_batch(self, indices: list[int]) -> Inputs:
        """The model inputs for these eval samples (already preprocessed)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Result columns describing this workload: model, dataset, seq_len, ..."""

    @abstractmethod
    def data_key(self) -> str:
        """Hash of the preprocessed eval data, for the reference-output cache."""

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
