"""Facts about the machine and software that every result row carries."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import socket
import subprocess
from pathlib import Path

from harness.cache import code_fingerprint

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Distributions whose version can change a converted or quantized model, or the scores of one: every cache
# key of an artifact, an accuracy or a reference holds all of them (keys that listed a few by hand reused an
# INT8 model made by another nncf, or by another torch's float export, and the accuracy scored on it).
SHAPING_DISTRIBUTIONS = (
    "torch", "torchvision", "transformers", "tokenizers", "numpy", "onnx", "onnxscript", "onnxruntime-openvino",
    "onnxruntime", "openvino", "nncf", "torchao", "optimum", "optimum-intel", "intel-extension-for-pytorch",
)  # fmt: skip


@functools.cache
def library_versions() -> dict[str, str | None]:
    """{distribution: installed version or None} for SHAPING_DISTRIBUTIONS in this interpreter, read
    from the installed metadata (importlib.metadata: nothing is imported)."""
    versions: dict[str, str | None] = {}
    for name in SHAPING_DISTRIBUTIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


# The flags that decide which kernels inference runtimes pick on x86.
INTERESTING_FLAGS = (
    "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
    "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
)  # fmt: skip


@functools.cache
def cpu_info() -> tuple[str, str]:
    """(model name, space-separated subset of relevant CPU flags)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name":
            model = value.strip()
        elif key == "flags":
            flags = set(value.split())
            break
    return model, " ".join(f for f in INTERESTING_FLAGS if f in flags)


@functools.cache
def git_sha() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_columns() -> dict[str, str]:
    model, flags = cpu_info()
    return {
        "cpu_model": model,
        "cpu_flags": flags,
        "hostname": socket.gethostname(),
        "harness_git_sha": git_sha(),
        "harness_code": code_fingerprint(),
    }
