"""Conversions (ONNX files, OpenVINO IR) cached on disk, keyed by everything that determines them.

The key is derived, not listed by hand: the model's identity and the exact inputs the converter
sees (`ModelHandle.artifact_identity`: weights and architecture, the workload options that shape
the graph, input names, shapes, dtypes and dynamic dims), every runtime option not marked
AFTER_CONVERSION (and the precision, unless the runtime applies it after conversion), the
versions of every library that can shape an artifact (envinfo.library_versions, beside the ones the
runtime names), and the harness code that converts (cache.code_fingerprint). A quantized artifact's
key holds its float artifact's key.
Entries are content-verified on every reuse (harness/cache.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.cache import cached_entry, code_fingerprint, identity_key
from harness.contract import ModelHandle


def artifact_identity(runtime: Any, handle: ModelHandle, kind: str, versions: dict[str, str]) -> dict[str, Any]:
    """What determines the artifact of `kind` that `runtime` makes from `handle`."""
    from harness import envinfo

    return {"kind": kind, **handle.artifact_identity(), "conversion": runtime.conversion_options(),
            "versions": versions, "libraries": envinfo.library_versions(),
            "harness_code": code_fingerprint()}  # fmt: skip


def ensure_artifact(
    runtime: Any, handle: ModelHandle, kind: str, versions: dict[str, str], writer: Callable[[Path], None]
) -> Path:
    """The verified artifact directory, made by `writer(directory)` when missing or damaged. Records
    convert_s (0 on a hit), cache_hit, artifact_mb and cache_note into `runtime.times`."""
    key = identity_key(artifact_identity(runtime, handle, kind, versions))
    entry = cached_entry(runtime.cache_dir / "conversions", kind, key, writer)
    runtime.times.convert_s = entry.build_s
    runtime.times.cache_hit = entry.hit
    runtime.times.artifact_mb = entry.size_mb
    runtime.times.artifact_path = str(entry.path)
    runtime.times.artifact_key = key
    runtime.times.cache_note = entry.note
    return entry.path


def ensure_quantized(
    runtime: Any,
    handle: ModelHandle,
    kind: str,
    versions: dict[str, str],
    quantizer: dict[str, Any],
    writer: Callable[[Path], None],
) -> Path:
    """The verified quantized artifact, made by `writer(directory)` when missing or damaged. Its key adds
    to the float artifact's identity the calibration data's hash (None for dynamic quantization) and every
    quantizer option. Records quantize_s (0 on a hit) and cache_note into `runtime.times`."""
    calibration = handle.calibration.data_hash if handle.calibration is not None else None
    identity = {
        **artifact_identity(runtime, handle, kind, versions),
        "calibration": calibration,
        "quantizer": quantizer,
        "float_artifact": runtime.times.artifact_key,  # None for a model file (its hash is in the identity)
    }
    entry = cached_entry(runtime.cache_dir / "conversions", kind, identity_key(identity), writer)
    runtime.times.quantize_s = entry.build_s
    runtime.times.cache_hit = bool(runtime.times.cache_hit) and entry.hit
    runtime.times.artifact_mb = entry.size_mb
    runtime.times.artifact_path = str(entry.path)
    runtime.times.cache_note = "; ".join(n for n in (runtime.times.cache_note, entry.note) if n) or None
    return entry.path
