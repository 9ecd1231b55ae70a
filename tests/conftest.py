"""Shared fixtures: tiny models and data made on the spot, and a helper that runs the CLI."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.compat import ensure_torchvision
from harness.envinfo import PROJECT_ROOT

ensure_torchvision()  # before anything imports transformers (see harness/compat.py)

TEST_CONF = Path(__file__).parent / "conf"


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def harness_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("harness:")]


@contextlib.contextmanager
def immutable(path: Path) -> Iterator[None]:
    """`path` unwritable while inside: `chattr +i` (root ignores permission bits), always undone."""
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.fixture(scope="session", autouse=True)
def private_host_cache(tmp_path_factory: pytest.TempPathFactory):
    """Machine facts the tests measure (the GEMM peak) go to a directory of their own, inherited by
    every child: a figure measured beside the tests' own work must never reach the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_HOST_CACHE", str(tmp_path_factory.mktemp("host-cache")))
        yield


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded 2-layer BERT classifier saved with save_pretrained, so the HF loading path runs."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from workloads.bert import minilm_dir

    out = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, num_labels=2,
    )  # fmt: skip
    BertForSequenceClassification(config).eval().save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(out)
    return out


def _sentiment_csv(directory: Path, split: str, n: int) -> Path:
    import pandas as pd

    from workloads import sentiment_data

    texts, labels = sentiment_data.generate(split, n)
    path = directory / f"{split}.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def tiny_sentiment_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _sentiment_csv(tmp_path_factory.mktemp("data"), "test", 12)


@pytest.fixture(scope="session")
def tiny_calibration_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Texts of the synthetic set's training split: calibration data disjoint from tiny_sentiment_csv."""
    return _sentiment_csv(tmp_path_factory.mktemp("calibration"), "train", 40)


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def cli_factory(tiny_bert_dir: Path, tiny_sentiment_csv: Path, shared_cache: Path):
    """cli_factory(cwd)(*overrides) runs `python -m harness` in cwd with the tiny workloads
    (tiny_bert, tiny_resnet) available, a short measurement plan, and a shared cache."""
    return lambda cwd: _cli_runner(cwd, tiny_bert_dir, tiny_sentiment_csv, shared_cache)


@pytest.fixture
def cli(cli_factory, tmp_path: Path):
    """`python -m harness` in tmp_path (see cli_factory)."""
    return cli_factory(tmp_path)


def _cli_runner(tmp_path: Path, tiny_bert_dir: Path, tiny_sentiment_csv: Path, shared_cache: Path):
    def run(*args: str, timeout: float = 900, env: dict[str, str] | None = None) -> CliResult:
        full_env = dict(
            os.environ,
            PYTHONPATH=str(PROJECT_ROOT),
            HARNESS_TEST_TINY_BERT=str(tiny_bert_dir),
            HARNESS_TEST_TINY_DATA=str(tiny_sentiment_csv),
            **(env or {}),
        )
        command = [
            sys.executable, "-m", "harness", f"hydra.searchpath=[file://{TEST_CONF}]",
            f"cache_dir={shared_cache}", "measure=quick", *args,
        ]  # fmt: skip
        proc = subprocess.run(command, cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=timeout)
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run
