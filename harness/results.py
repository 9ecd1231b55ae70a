"""Tidy result files: one row per job in results.csv / results.parquet, raw latencies long-format.

Several processes may append to the same directory; a lock file serialises the writers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.locking import file_lock

# The documented columns, in order (README: "Result columns"). Extra columns follow them.
COLUMNS = [
    "run_id", "config_hash", "workload", "model", "model_hash", "dataset", "data_hash", "runtime",
    "batch_size", "seq_len",
    "precision_requested", "precision_effective", "threads", "status", "error", "n_calls",
    "latency_ms_p50", "latency_ms_p50_ci_low", "latency_ms_p50_ci_high", "latency_ms_p90",
    "latency_ms_p95", "latency_ms_p99", "latency_ms_mean", "latency_ms_std", "latency_ms_min",
    "latency_ms_max", "throughput_sps", "first_inference_ms", "prepare_s", "peak_rss_mb",
    "accuracy", "f1", "agreement", "max_abs_diff", "n_eval_samples", "cpu_model", "cpu_flags",
    "hostname", "python_version", "torch_version", "runtime_version", "harness_git_sha",
    "started_at", "duration_s",
]  # fmt: skip

# Status values. Only "ok" rows carry measurements.
OK = "ok"
FAILED_STATUSES = ("error", "crashed", "timeout")  # the sweep exits non-zero when a job ends so
INVALID = "invalid"  # bad user input found while the job ran (unreadable data, missing column)
NOT_RUN_STATUSES = ("unsupported", "unavailable")  # an honest "cannot", with the reason in `error`

RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
LATENCIES_PARQUET = "latencies.parquet"
LOCK_FILE = ".results.lock"


def _replace(path: Path, write: Any) -> None:
    """Write through a temp file and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    extra = [c for c in frame.columns if c not in COLUMNS]
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame[COLUMNS + sorted(extra)]


def read_results(path: Path) -> pd.DataFrame:
    """Read results from a results.csv/.parquet file or a directory holding one."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_CSV
    if not path.exists():
        return _ordered(pd.DataFrame())
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    return _ordered(frame)


def append_result(results_dir: Path, row: dict[str, Any], latencies_ms: np.ndarray | None = None) -> None:
    """Append one job's row (and its raw latencies) to the directory's result files."""
    results_dir = Path(results_dir)
    with file_lock(results_dir / LOCK_FILE):
        frame = pd.concat(
            [read_results(results_dir), pd.DataFrame([row])], ignore_index=True
        ) if (results_dir / RESULTS_CSV).exists() else pd.DataFrame([row])  # fmt: skip
        frame = _ordered(frame)
        _replace(results_dir / RESULTS_CSV, lambda p: frame.to_csv(p, index=False))
        # CSV round-trips lose dtypes on all-empty columns; parquet wants consistent types.
        _replace(results_dir / RESULTS_PARQUET, lambda p: _for_parquet(frame).to_parquet(p, index=False))
        if latencies_ms is not None and len(latencies_ms):
            long = pd.DataFrame({
                "run_id": row["run_id"],
                "call_index": np.arange(len(latencies_ms), dtype=np.int64),
                "latency_ms": np.asarray(latencies_ms, dtype=np.float64),
            })  # fmt: skip
            path = results_dir / LATENCIES_PARQUET
            if path.exists():
                long = pd.concat([pd.read_parquet(path), long], ignore_index=True)
            _replace(path, lambda p: long.to_parquet(p, index=False))


def _for_parquet(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: None if v is None or v != v else str(v))
    return frame


def read_latencies(results_dir: Path) -> pd.DataFrame:
    path = Path(results_dir) / LATENCIES_PARQUET
    if not path.exists():
        return pd.DataFrame(columns=["run_id", "call_index", "latency_ms"])
    return pd.read_parquet(path)


def completed_hashes(results_dir: Path) -> set[str]:
    frame = read_results(results_dir)
    if frame.empty:
        return set()
    return set(frame.loc[frame["status"] == OK, "config_hash"].astype(str))
