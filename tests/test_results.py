"""Result files: the documented schema, concurrent appends, readable with no options."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import results


def _append(args: tuple[str, int]) -> None:
    directory, k = args
    row = {"run_id": f"run{k}", "config_hash": f"h{k}", "status": "ok", "latency_ms_p50": float(k + 1)}
    results.append_result(Path(directory), row, np.arange(k + 1, dtype=float))


def test_concurrent_writers_keep_every_row(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_append, [(str(tmp_path), k) for k in range(12)])
    frame = pd.read_csv(tmp_path / "results.csv")  # no options needed
    assert sorted(frame["run_id"]) == sorted(f"run{k}" for k in range(12))
    assert list(frame.columns[: len(results.COLUMNS)]) == results.COLUMNS
    parquet = pd.read_parquet(tmp_path / "results.parquet")
    assert len(parquet) == 12
    latencies = results.read_latencies(tmp_path)
    assert latencies.groupby("run_id").size().to_dict() == {f"run{k}": k + 1 for k in range(12)}


def test_completed_hashes_only_counts_ok_rows(tmp_path: Path) -> None:
    results.append_result(tmp_path, {"run_id": "a", "config_hash": "good", "status": "ok"})
    results.append_result(tmp_path, {"run_id": "b", "config_hash": "bad", "status": "error", "error": "x"})
    assert results.completed(tmp_path).ok == {("good", 0)}


def test_reading_an_empty_directory_gives_the_schema_and_a_missing_one_an_error(tmp_path: Path) -> None:
    frame = results.read_results(tmp_path)
    assert frame.empty and list(frame.columns) == results.COLUMNS
    with pytest.raises(results.ResultsError, match="nothing does not exist"):
        results.read_results(tmp_path / "nothing")
