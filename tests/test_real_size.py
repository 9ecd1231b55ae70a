"""Real-size runs with the offline defaults (slow: `make test-all`). The first run fine-tunes the
BERT head and fits the ResNet probe into the cache (a few minutes), as `make run` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.envinfo import PROJECT_ROOT

pytestmark = pytest.mark.slow
CACHE = os.environ.get("HARNESS_TEST_CACHE", str(PROJECT_ROOT / "outputs" / "cache"))


def run_harness(cwd: Path, *overrides: str) -> None:
    """`python -m harness` with the shared offline-model cache; it must exit 0."""
    run = subprocess.run([sys.executable, "-m", "harness", *overrides, f"cache_dir={CACHE}"], cwd=cwd,
                         capture_output=True, text=True, timeout=3600,
                         env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)))  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]


def test_offline_defaults_are_accurate_and_agree_with_eager(tmp_path: Path) -> None:
    run_harness(tmp_path, "-m", "workload=bert,resnet101", "runtime=eager,openvino", "measure.max_s=5",
                "hydra.sweep.dir=sweep")  # fmt: skip
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv").set_index(["workload", "runtime"])
    assert (frame["status"] == "ok").all()
    assert frame.loc[("bert", "eager"), "accuracy"] > 0.9
    assert frame.loc[("resnet101", "eager"), "accuracy"] > 0.6  # chance is 0.1
    assert (frame["agreement"] >= 0.99).all()
    assert (frame["precision_effective"] == "fp32").all()


def test_bert_base_probe_is_bert_base_shaped_and_well_above_chance(tmp_path: Path) -> None:
    run_harness(tmp_path, "workload=study_bert", "workload.n_samples=200", "runtime=eager", "measure=quick",
                "hydra.run.dir=run")  # fmt: skip
    row = pd.read_csv(tmp_path / "run" / "results.csv").iloc[0]
    assert row["status"] == "ok"
    assert "BERT-base-shaped" in row["model"]
    assert row["accuracy"] > 0.9  # chance is 0.5 (seeded random weights throughout gave 0.52)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(Path(CACHE) / "models" / "bert-base-probe-v2-seed0")
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (12, 768, 12)
