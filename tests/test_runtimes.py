"""Every runtime on both tiny workloads: ok rows that agree with eager, honest precision and
threads, cached conversions, and the library failures we know of, pinned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.catalog import runtime_class, runtime_names, runtimes_offering
from tests.conftest import CliResult
from tests.test_config import RUNTIMES

# derived from conf/ and what each runtime declares: a runtime added as one module and one yaml is tested here
ALL_RUNTIMES = runtime_names()
BF16_RUNTIMES = runtimes_offering("bf16")
MAX_REL_DIFF_FP32 = 1e-4  # fp32 reorderings; bf16 is ~1e-2
KINDS = {"bert": "transformer", "resnet101": "cnn"}


def test_the_studys_eight_runtimes_and_optimum_are_configured() -> None:
    study = {
        "eager",
        "compile",
        "export",
        "openvino",
        "openvino_compile",
        "ipex",
        "onnxruntime",
        "onnxruntime_openvino",
    }
    assert sorted(RUNTIMES) == ALL_RUNTIMES and study | {"optimum_openvino"} == set(ALL_RUNTIMES)


def runs(workload: str, runtime: str) -> bool:
    return KINDS[workload] in runtime_class(runtime).kinds


def _grid(cli: Any, cwd: Path, *workloads_and_batches: tuple[str, str]) -> tuple[pd.DataFrame, CliResult]:
    """Every runtime on each (workloads, batches) multirun, at threads=1, into one sweep directory: its rows,
    and the first run that failed (else the last)."""
    runs = [cli("-m", f"workload={workloads}", f"runtime={','.join(ALL_RUNTIMES)}", f"batch={batches}", "threads=1",
                "hydra.sweep.dir=sweep", timeout=1800) for workloads, batches in workloads_and_batches]  # fmt: skip
    return pd.read_csv(cwd / "sweep" / "results.csv"), next((r for r in runs if r.returncode != 0), runs[-1])


@pytest.fixture(scope="module")
def fp32_grid(tmp_path_factory: pytest.TempPathFactory, cli_factory) -> tuple[pd.DataFrame, CliResult]:
    """Every runtime on both tiny workloads at batch 1, and on tiny BERT at batch 3 too (a dynamic batch
    dimension and the cached conversion reused; ResNet at batch 3 is `make test-all`'s, to keep make test short)."""
    cwd = tmp_path_factory.mktemp("grid")
    return _grid(cli_factory(cwd), cwd, ("tiny_bert,tiny_resnet", "1"), ("tiny_bert", "3"))


def _check_every_runtime_agrees(frame: pd.DataFrame, run: CliResult, n_rows: int) -> None:
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(frame) == n_rows
    able = frame.apply(lambda r: runs(r["workload"], r["runtime"]), axis=1)
    assert (frame.loc[~able, "status"] == "unsupported").all(), "a runtime says so when it cannot run a model kind"
    frame = frame[able]
    bad = frame[frame["status"] != "ok"]
    assert bad.empty, bad[["workload", "runtime", "batch_size", "status", "error"]].to_string()
    assert (frame["agreement"] == 1.0).all()
    worst = frame.loc[frame["max_rel_diff"].idxmax()]
    assert worst["max_rel_diff"] < MAX_REL_DIFF_FP32, worst[["workload", "runtime", "max_rel_diff"]].to_dict()


def test_every_runtime_runs_both_workloads_and_agrees_with_eager(fp32_grid) -> None:
    _check_every_runtime_agrees(*fp32_grid, n_rows=len(ALL_RUNTIMES) * 3)


@pytest.mark.slow  # a minute and a half: `make test-all` (make test stays near 20 min)
def test_every_runtime_runs_resnet_at_batch_1_and_3_and_reuses_its_conversions(cli, tmp_path: Path) -> None:
    frame, run = _grid(cli, tmp_path, ("tiny_resnet", "1,3"))
    _check_every_runtime_agrees(frame, run, n_rows=len(ALL_RUNTIMES) * 2)
    _check_conversions_reused(frame)


def test_every_runtime_reports_fp32_and_the_thread_count_it_was_given(fp32_grid) -> None:
    frame, _ = fp32_grid
    assert (frame["precision_requested"] == "fp32").all()
    frame = frame[frame["status"] == "ok"]
    wrong = frame[(frame["precision_effective"] != "fp32") | (frame["threads_effective"] != 1)]
    assert wrong.empty, wrong[["workload", "runtime", "precision_effective", "threads_effective"]].to_string()


def test_conversions_are_cached_and_reused_across_batch_sizes(fp32_grid) -> None:
    _check_conversions_reused(fp32_grid[0])


def _check_conversions_reused(frame: pd.DataFrame) -> None:
    converted = frame[frame["runtime"].isin(["openvino", "onnxruntime", "onnxruntime_openvino"])]
    assert converted.groupby(["workload", "runtime"])["batch_size"].nunique().max() == 2
    for (_, _runtime), group in converted.groupby(["workload", "runtime"]):
        assert group["artifact_mb"].gt(0).all()
        if group["batch_size"].nunique() > 1:
            assert (group["cache_hit"] == 1).any(), "the second batch size must hit the cache"
    hits = converted[converted["cache_hit"] == 1]
    assert (hits["convert_s"] == 0).all()
    export = frame[frame["runtime"] == "export"]  # never from the cache: torch.export.load unpickles
    assert export["cache_hit"].isna().all() and (export["convert_s"] > 0).all() and (export["artifact_mb"] > 0).all()
    ok = frame[frame["status"] == "ok"]  # an unsupported row never prepared anything
    assert (ok["compile_s"] >= 0).all() and (ok["prepare_s"] > 0).all()


def test_placement_and_fallbacks_are_recorded(fp32_grid) -> None:
    frame, _ = fp32_grid
    ort_ov = frame[frame["runtime"] == "onnxruntime_openvino"]
    assert (ort_ov["ort_openvino_nodes"] >= 1).all()
    bert = ort_ov[ort_ov["workload"] == "bert"]
    assert (bert["ort_openvino_nodes"] == 1).all() and (bert["ort_cpu_nodes"] == 0).all(), (
        "eager attention: one subgraph"
    )
    ov_compile = frame[frame["runtime"] == "openvino_compile"]
    assert (ov_compile["ov_fallbacks_to_inductor"] == 0).all() and (ov_compile["ov_compiled_partitions"] >= 1).all()


@pytest.mark.slow  # minutes of real sweeps: `make test-all` (make test stays near 20 min)
def test_bf16_rows_are_labelled_bf16_or_unsupported(cli, tmp_path: Path) -> None:
    run = cli("-m", "workload=tiny_bert,tiny_resnet", f"runtime={','.join(ALL_RUNTIMES)}", "runtime.precision=bf16",
              "hydra.sweep.dir=sweep", timeout=1800)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv")
    assert len(frame) == len(ALL_RUNTIMES) * 2 and (frame["precision_requested"] == "bf16").all()
    offered = frame[frame["runtime"].isin(BF16_RUNTIMES)]
    # IPEX keeps some BERT weights (embeddings, LayerNorm) in fp32 under bf16: reported as "bf16+fp32".
    # OpenVINO runs fp32 on a CPU without bf16 (AVX2 only) and says so.
    from runtimes.onnxruntime_openvino import cpu_computes

    fp32_here = offered["runtime"].str.startswith(("openvino", "onnxruntime_openvino")) & (not cpu_computes("bf16"))
    labelled = offered["precision_effective"].isin(["bf16", "bf16+fp32"]) | (
        fp32_here & (offered["precision_effective"] == "fp32")
    )
    bad = offered[(offered["status"] != "ok") | ~labelled]
    assert bad.empty, bad[["workload", "runtime", "status", "precision_effective", "error"]].to_string()
    assert (offered["max_rel_diff"] > 0).all(), "bf16 cannot match the fp32 reference exactly"
    others = frame[~frame["runtime"].isin(BF16_RUNTIMES)]
    assert (others["status"] == "unsupported").all() and others["error"].str.contains("fp32").all()


def test_the_ort_openvino_ep_says_fp32_where_the_cpu_cannot_compute_bf16(cli, tmp_path: Path) -> None:
    """The EP reports no precision: on an AVX2-only CPU a bf16 row said bf16 while its outputs matched
    fp32 bit for bit. OpenVINO's CPU capabilities decide, and the row says where the figure came from."""
    from runtimes.onnxruntime_openvino import cpu_computes

    run = cli("workload=tiny_bert", "runtime=onnxruntime_openvino", "runtime.precision=bf16", "results_dir=res")
    assert run.returncode == 0, run.stderr[-3000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[-1]
    if cpu_computes("bf16"):
        assert row["precision_effective"] == "bf16" and row["precision_source"].startswith("configured")
    else:
        assert row["precision_effective"] == "fp32" and "lists no bf16" in row["precision_source"], row.to_dict()


def test_openvino_compile_without_aot_autograd_fails_on_resnet_with_the_library_message(cli, tmp_path: Path) -> None:
    """Pinned: OpenVINO 2026.4's torch.compile backend cannot trace ResNet without aot_autograd."""
    run = cli("workload=tiny_resnet", "runtime=openvino_compile", "runtime.aot_autograd=false", "results_dir=res")
    assert run.returncode == 1
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]
    assert row["status"] == "error"
    assert "sources must not be empty" in row["error"]
    assert pd.isna(row["latency_ms_p50"])
