"""The core as a plain library, without Hydra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.config import ComponentConfig, JobSpec, MeasureConfig, RuntimeConfig
from harness.runner import run_job_isolated

QUICK = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=3, min_s=0, max_s=0.5, target_ci_rel=0.5)


def bert_spec(model: Path, data: Path, cache: Path, **runtime: object) -> JobSpec:
    return JobSpec(
        workload=ComponentConfig(
            "bert", "workloads.bert", {"model": str(model), "dataset": str(data), "seq_len": 24, "padding": "longest"}
        ),
        runtime=RuntimeConfig("eager", "runtimes.eager", **runtime),  # type: ignore[arg-type]
        batch=2, threads=1, measure=QUICK, cache_dir=str(cache),
    ).validate()  # fmt: skip


def test_run_job_isolated_without_hydra(tiny_bert_dir: Path, tiny_sentiment_csv: Path, tmp_path: Path) -> None:
    outcome = run_job_isolated(bert_spec(tiny_bert_dir, tiny_sentiment_csv, tmp_path / "cache"), tmp_path / "out")
    row = outcome.row
    assert row["status"] == "ok", row.get("error")
    assert row["threads"] == 1 and row["threads_effective"] == 1
    assert row["n_eval_samples"] == 12 and row["agreement"] == 1.0
    assert outcome.latencies_ms is not None and len(outcome.latencies_ms) == row["n_calls"]
    assert len(pd.read_csv(tmp_path / "out" / "results.csv")) == 1
    reference = list((tmp_path / "cache" / "reference").glob("*/logits.npy"))
    assert len(reference) == 1 and np.load(reference[0]).shape == (12, 2)


def test_bf16_is_an_explicit_choice_and_read_back(
    tiny_bert_dir: Path, tiny_sentiment_csv: Path, tmp_path: Path
) -> None:
    spec = bert_spec(tiny_bert_dir, tiny_sentiment_csv, tmp_path / "cache", precision="bf16")
    row = run_job_isolated(spec, tmp_path / "out").row
    assert row["status"] == "ok", row.get("error")
    assert row["precision_requested"] == "bf16" and row["precision_effective"] == "bf16"
    assert row["max_abs_diff"] > 0, "bf16 cannot match the fp32 reference bit for bit"


def test_a_missing_interpreter_is_reported_as_unavailable(
    tiny_bert_dir: Path, tiny_sentiment_csv: Path, tmp_path: Path
) -> None:
    spec = bert_spec(tiny_bert_dir, tiny_sentiment_csv, tmp_path / "cache", python="/no/such/python",
                     setup_hint="make setup-something")  # fmt: skip
    row = run_job_isolated(spec, tmp_path / "out").row
    assert row["status"] == "unavailable"
    assert "/no/such/python" in row["error"] and "make setup-something" in row["error"]


@pytest.mark.parametrize("padding", ["max_length", "longest"])
def test_bert_batches_have_the_padding_asked_for(tiny_bert_dir: Path, tiny_sentiment_csv: Path, padding: str) -> None:
    from workloads.bert import BertOptions, BertWorkload

    options = BertOptions(model=str(tiny_bert_dir), dataset=str(tiny_sentiment_csv), seq_len=40, padding=padding)
    options.validate()
    workload = BertWorkload(options, 0, Path("/nonexistent-cache"))
    workload.load_eval_set()
    batch = workload.make_batch([0, 1, 2])
    assert set(batch) == {"input_ids", "attention_mask", "token_type_ids"}
    assert batch["input_ids"].shape[0] == 3
    assert (batch["input_ids"].shape[1] == 40) == (padding == "max_length")


def test_resnet_offline_data_shapes() -> None:
    from workloads.resnet101 import ResNetOptions, ResNetWorkload

    options = ResNetOptions(weights="random", n_samples=10, image_size=64)
    options.validate()
    workload = ResNetWorkload(options, 0, Path("/nonexistent-cache"))
    workload.load_eval_set()
    assert workload.n_samples == 10 and set(workload.labels) <= set(range(10))
    assert workload.make_batch([0, 1, 2, 3])["pixel_values"].shape == (4, 3, 64, 64)
    assert [len(b) for b in workload.batches(4)] == [4, 4, 4]


def test_probe_head_stays_well_conditioned_on_huge_features() -> None:
    """Random ResNet features are ~1e4 with a small spread: folding the standardisation into one
    Linear would make logits a difference of huge numbers; the head subtracts the mean first."""
    import torch

    from workloads.probe import fit_linear_probe

    torch.manual_seed(0)
    features = 1e4 + torch.randn(400, 16) * 0.05
    labels = (features[:, 3] > 1e4).long()
    probe = fit_linear_probe(features, labels, 2)
    with torch.no_grad():
        logits = probe.head()(features)
    assert logits.abs().max() < 100
    assert (logits.argmax(1) == labels).float().mean() > 0.95
    weight, bias = probe.folded()
    assert bias.abs().max() > 1e5, "folded, each logit would be a difference of numbers ~1e5"


def test_a_configuration_this_commit_found_unsupported_is_not_asked_again(
    tiny_bert_dir: Path, tiny_sentiment_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`unsupported` is the code's answer, not a measurement: the same commit gives it again, so a resumed
    sweep or a later repeat skips it and says why; another (or an uncommitted) harness, or force, asks again."""
    from harness import envinfo, results

    sha = {"now": "0123456789ab"}  # a clean checkout's sha, whatever this working tree is
    monkeypatch.setattr(envinfo, "git_sha", lambda: sha["now"])
    monkeypatch.setattr(results, "git_sha", lambda: sha["now"])
    spec = bert_spec(tiny_bert_dir, tiny_sentiment_csv, tmp_path / "cache", precision="int8")
    out = tmp_path / "out"
    first = run_job_isolated(spec, out)
    assert first.row["status"] == "unsupported" and not first.skipped, first.row.get("error")
    again = run_job_isolated(spec, out, repeat=1)
    assert again.skipped and again.status == "unsupported"
    assert "this harness commit found" in again.skip_reason and "int8" in again.skip_reason
    assert run_job_isolated(spec, out, repeat=1, force=True).row["status"] == "unsupported"
    for other in ("fedcba987654", "0123456789ab-dirty", "unknown"):
        sha["now"] = other
        assert not run_job_isolated(spec, out).skipped, other
    assert len(pd.read_csv(out / "results.csv")) == 5
