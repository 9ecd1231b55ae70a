"""Bad input: one clear line naming the bad value and what is allowed, exit code 2, no
traceback, and no rows lost."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest


def assert_one_clear_line(run, *needles: str) -> None:
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    lines = run.harness_lines()
    assert len(lines) == 1, run.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["runtime=nope"], ["unknown runtime 'nope'", "allowed:", "eager"]),
        (["-m", "runtime=eager,nope"], ["unknown runtime 'nope'", "eager"]),
        (["workload=gpt"], ["unknown workload 'gpt'", "bert", "resnet101"]),
        (["batch=0"], ["batch=0", "an integer from 1 to 1024"]),
        (["batch=abc"], ["batch='abc'", "an integer from 1 to 1024"]),
        (["-m", "batch=4,-1"], ["batch=-1", "an integer from 1 to 1024"]),
        (["threads=999"], ["threads=999", "at most"]),
        (["workload.model=/no/such/model"], ["workload.model='/no/such/model' does not exist", "Hugging Face id"]),
        (["workload.dataset=/no/such/data.csv"], ["workload.dataset='/no/such/data.csv' does not exist", ".csv"]),
        (["workload=resnet101", "workload.weights=/no/such.pt"], ["workload.weights='/no/such.pt'", "IMAGENET1K_V2"]),
        (["workload.padding=sideways"], ["workload.padding='sideways'", "one of max_length, longest"]),
        (["workload.seqlen=3"], ["unknown key 'workload.seqlen'", "seq_len"]),
        (["batchh=3"], ["unknown key 'batchh'", "batch"]),
        (["+workload.seqlen=3"], ["unknown workload option 'seqlen'", "allowed: model"]),
        (["batch=1,2"], ["'batch=1,2' is a sweep", "-m"]),
        (["runtime.precision=fp8"], ["runtime.precision='fp8'", "fp32, bf16"]),
        (["measure.min_calls=0"], ["measure.min_calls=0", "an integer from 1 to"]),
        (["batch=[1"], ["cannot parse"]),
    ],
)
def test_bad_values_are_named_in_one_line(cli, args: list[str], needles: list[str]) -> None:
    assert_one_clear_line(cli(*args), *needles)


@pytest.mark.slow  # minutes of real sweeps: `make test-all` (make test stays near 20 min)
def test_bad_input_keeps_the_rows_already_in_the_results_directory(cli, tmp_path: Path) -> None:
    good = cli("workload=tiny_resnet", "results_dir=res")
    assert good.returncode == 0, good.stderr[-2000:]
    before = (tmp_path / "res" / "results.csv").read_text()
    bad = cli("-m", "workload=tiny_resnet", "batch=1,0", "results_dir=res")
    assert_one_clear_line(bad, "batch=0")
    assert (tmp_path / "res" / "results.csv").read_text() == before


def test_data_errors_found_at_run_time_mark_the_row_and_keep_the_others(cli, tmp_path: Path) -> None:
    no_text = tmp_path / "no_text.csv"
    pd.DataFrame({"sentence": ["a fine film"], "label": [1]}).to_csv(no_text, index=False)
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"{not json at all\n\x00\xff")
    run = cli("-m", "workload=tiny_bert", f"workload.dataset={no_text},{garbage},${{oc.env:HARNESS_TEST_TINY_DATA}}",
              "hydra.sweep.dir=sweep")  # fmt: skip
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv")
    assert sorted(frame["status"]) == ["invalid", "invalid", "ok"]
    errors = " | ".join(frame["error"].dropna())
    assert "has no column 'text'; its columns: sentence, label" in errors
    assert "garbage.jsonl' is unreadable" in errors
    lines = run.harness_lines()
    assert len(lines) == 2 and all("invalid" in line for line in lines)
