"""On-disk cache of conversions (exported programs, ONNX files, OpenVINO IR).

Keyed by the model's weight hash, its input signature, the conversion options and the
versions of the libraries involved, so a cached artifact is reused across batch sizes and
sweeps and never across anything that could change it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.locking import file_lock
from runtimes.base import PrepareTimes
from workloads.base import ModelHandle


def artifact_key(handle: ModelHandle, kind: str, options: dict[str, Any], versions: dict[str, str]) -> str:
    identity = {
        "kind": kind,
        "weights": handle.content_hash,
        "inputs": handle.input_names,
        "dynamic": {k: {str(a): n for a, n in v.items()} for k, v in handle.dynamic_dims.items()},
        "input_dtypes": {k: str(v.dtype) for k, v in handle.example.items()},
        "options": options,
        "versions": versions,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:20]


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(f.stat().st_size for f in files) / 2**20


def ensure_artifact(cache_dir: Path, kind: str, key: str, times: PrepareTimes, writer: Callable[[Path], None]) -> Path:
    """The artifact directory for `key`, created by `writer(tmp_dir)` when missing.

    The directory appears atomically. Records into `times`: convert_s (0 on a cache hit),
    cache_hit and artifact_mb."""
    final = Path(cache_dir) / "conversions" / kind / key
    with file_lock(final.with_suffix(".lock")):
        times.cache_hit = final.exists()
        if not times.cache_hit:
            tmp = final.with_name(final.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            started = time.perf_counter()
            writer(tmp)
            times.convert_s = time.perf_counter() - started
            tmp.rename(final)
    times.artifact_mb = size_mb(final)
    return final
