"""No wrong number recorded as ok: conversion caches keyed by everything that changes them,
reference outputs and data_hash over the data as fed, labels checked against the model, data and
model problems as one `invalid` line, faithful image conversion, thread options checked, and
the timed shape recorded (issue 10's cases, each with the right outcome)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.cache import identity_key
from harness.config import ConfigError, parse_options
from harness.options import AFTER_CONVERSION, DATA_ONLY, markers, option_values
from runtimes.artifacts import artifact_identity

# -- kind 1: a cache never serves an artifact made for another configuration ------------------------


@pytest.mark.slow  # minutes of real sweeps: `make test-all` (make test stays near 20 min)
def test_image_size_sweep_never_reuses_the_other_sizes_artifact(cli, tmp_path: Path) -> None:
    """The reported case: 32 then 64 pixels into a fresh cache. Each size gets its own artifact."""
    run = cli("-m", "workload=tiny_resnet", "runtime=openvino,onnxruntime,export", "workload.image_size=32,64",
              f"cache_dir={tmp_path / 'fresh-cache'}", "hydra.sweep.dir=sweep")  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv")
    assert len(frame) == 6 and (frame["status"] == "ok").all(), frame[["runtime", "status", "error"]].to_string()
    assert (frame["agreement"] == 1.0).all() and (frame["max_rel_diff"] < 1e-4).all()
    cached = frame[frame["runtime"] != "export"]  # export never reuses a cached program (it unpickles)
    assert not cached["cache_hit"].astype(bool).any(), "a 64-pixel job must not reuse the 32-pixel artifact"
    assert sorted(frame["timed_shape"].unique()) == ["pixel_values 1x3x32x32", "pixel_values 1x3x64x64"]


def _workload(kind: str, options: dict, cache: Path):
    from harness.config import component_class

    cls = component_class("workload", f"workloads.{kind}")
    workload = cls(parse_options(cls.Options, options, "workload"), 0, cache)
    workload.prepare_assets(log=lambda _: None)
    workload.load_eval_set()
    handle = workload.load_model()
    handle.graph_options = option_values(workload.options, excluding=DATA_ONLY)
    return workload, handle


def _runtime(name: str, options: dict, precision: str, cache: Path):
    from harness.config import component_class

    cls = component_class("runtime", f"runtimes.{name}")
    return cls(parse_options(cls.Options, options, "runtime"), precision, 1, cache)


KINDS = {"openvino": "openvino_ir", "onnxruntime": "onnx", "onnxruntime_openvino": "onnx"}


def _build(name: str, handle, runtime) -> str:
    """Convert for real into the runtime's cache; the artifact in a canonical form: its weights' bytes and
    its graph's structure without the node names a converter numbers per process."""
    import hashlib
    import re

    import onnx

    from runtimes.onnx_common import export_onnx
    from runtimes.openvino_common import convert_to_ir

    if name == "openvino":
        xml = convert_to_ir(runtime, handle)
        graph = re.sub(r' name="[^"]*"', "", xml.read_text())
        return hashlib.sha256(graph.encode() + xml.with_suffix(".bin").read_bytes()).hexdigest()
    model = onnx.load(str(export_onnx(runtime, handle, runtime.options.exporter, runtime.options.opset)[0]))
    digest = hashlib.sha256()
    for node in model.graph.node:
        digest.update(f"{node.domain}:{node.op_type}:{len(node.input)}:{len(node.output)}".encode())
        for attribute in sorted(node.attribute, key=lambda a: a.name):
            if attribute.type != onnx.AttributeProto.GRAPH:
                digest.update(attribute.SerializeToString())
    for initializer in model.graph.initializer:
        digest.update(onnx.numpy_helper.to_array(initializer).tobytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def option_alternatives(tiny_bert_dir: Path, tiny_sentiment_csv: Path, tmp_path_factory) -> dict:
    """Base options of each tiny workload, and for every option a different valid value."""
    data = tmp_path_factory.mktemp("alt-data")
    frame = pd.read_csv(tiny_sentiment_csv)
    frame.rename(columns={"text": "sentence", "label": "target"}).to_csv(data / "renamed.csv", index=False)
    frame.iloc[::-1].to_csv(data / "reversed.csv", index=False)
    other_model = data / "other-model"
    shutil.copytree(tiny_bert_dir, other_model)
    config = json.loads((other_model / "config.json").read_text())
    config["layer_norm_eps"] = 1e-3  # same weights, another architecture setting
    (other_model / "config.json").write_text(json.dumps(config))
    folder = data / "images"
    _image_folder(folder, n_classes=10, per_class=1)
    from safetensors.torch import save_file

    from workloads.resnet101 import seeded_resnet101

    other_weights = data / "other.safetensors"
    save_file({k: v.contiguous() for k, v in seeded_resnet101(1, 10).state_dict().items()}, str(other_weights))
    bert = {"model": str(tiny_bert_dir), "dataset": str(tiny_sentiment_csv), "seq_len": 16}
    resnet = {"weights": "random", "image_size": 32, "n_samples": 4}
    return {
        "bert": (bert, {
            "model": str(other_model), "dataset": str(data / "reversed.csv"), "n_samples": 6, "seq_len": 24,
            "padding": "longest", "attention": "sdpa",
            "text_column": ("sentence", {"dataset": str(data / "renamed.csv"), "label_column": "target"}),
            "label_column": ("target", {"dataset": str(data / "renamed.csv"), "text_column": "sentence"}),
            # refused on local files (test_bad_input): a value that differs cannot be given here
            "split": None, "subset": None,
            "calibration_dataset": str(data / "reversed.csv"), "calibration_split": None,  # int8 only
            "reference_model": None,  # a model file's reference: test_int8
        }),
        "resnet101": (resnet, {
            "weights": str(other_weights), "image_size": 64, "n_samples": 5, "split": "train",
            "dataset": str(folder), "label_map": "imagenette",
            "subset": None, "image_column": None, "label_column": None,  # hub ids only (refused otherwise)
            "calibration_dataset": str(folder), "calibration_split": None, "reference_weights": None,
        }),
    }  # fmt: skip


def _image_folder(root: Path, n_classes: int, per_class: int, mode: str = "RGB") -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    for k in range(n_classes):
        (root / f"class{k:02d}").mkdir(parents=True, exist_ok=True)
        for j in range(per_class):
            picture = Image.fromarray(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)).convert(mode)
            picture.save(root / f"class{k:02d}/{j}.png")


@pytest.mark.parametrize("workload_kind", ["bert", pytest.param("resnet101", marks=pytest.mark.slow)])
def test_two_configurations_share_an_artifact_only_when_it_is_really_the_same(
    workload_kind: str, option_alternatives: dict, tmp_path: Path, shared_cache: Path
) -> None:
    """For each converting runtime, change one workload option, runtime option or the precision at a
    time. Different keys are fine; equal keys are only allowed for options declared not to change
    the artifact (DATA_ONLY, AFTER_CONVERSION, precision applied after conversion). Runtime options
    so declared must not reach the converter at all (its arguments are the conversion options), and
    a workload option so declared must give a byte-identical artifact when converted separately."""
    from harness.config import component_class

    base, alternatives = option_alternatives[workload_kind]
    options_cls = component_class("workload", f"workloads.{workload_kind}").Options
    fields = [f.name for f in dataclasses.fields(options_cls)]
    assert sorted(alternatives) == sorted(fields), "every workload option needs an alternative value here"
    _, base_handle = _workload(workload_kind, base, shared_cache)
    workload_variants = []
    for option, value in alternatives.items():
        if value is None:
            continue
        value, extra = value if isinstance(value, tuple) else (value, {})
        _, handle = _workload(workload_kind, {**base, **extra, option: value}, shared_cache)
        workload_variants.append((option, DATA_ONLY in markers(options_cls, option), handle))
    built: dict[tuple[str, str], str] = {}  # (kind, variant) -> manifest
    neutral = 0
    for name, kind in KINDS.items():
        base_rt = _runtime(name, {}, "fp32", tmp_path / "a")
        base_key = identity_key(artifact_identity(base_rt, base_handle, kind, {}))
        for option, declared, handle in workload_variants:
            if identity_key(artifact_identity(base_rt, handle, kind, {})) != base_key:
                continue
            assert declared, f"{name}: workload.{option} leaves the key alone but is not declared DATA_ONLY"
            for label, candidate in (("base", base_handle), (option, handle)):
                if (kind, label) not in built:
                    base_rt.cache_dir = tmp_path / kind / label
                    built[kind, label] = _build(name, candidate, base_rt)
            assert built[kind, option] == built[kind, "base"], f"{name}: workload.{option} changed the artifact"
            neutral += 1
        runtime_variants = [(f"runtime.{f.name}", AFTER_CONVERSION in markers(base_rt.Options, f.name),
                             _runtime(name, {f.name: _runtime_alternative(name, f.name)}, "fp32", tmp_path))
                            for f in dataclasses.fields(base_rt.Options)
                            if _runtime_alternative(name, f.name) is not None]  # fmt: skip
        if "bf16" in base_rt.precisions:
            bf16 = _runtime(name, {}, "bf16", tmp_path)
            runtime_variants.append(("precision", base_rt.precision_after_conversion, bf16))
        for label, declared, runtime in runtime_variants:
            if identity_key(artifact_identity(runtime, base_handle, kind, {})) != base_key:
                continue
            assert declared, f"{name}: {label} leaves the key alone but is not declared artifact-neutral"
            assert runtime.conversion_options() == base_rt.conversion_options(), label
            neutral += 1
    assert neutral >= 6, "the artifact-neutral options were exercised"
    if workload_kind == "bert":
        assert built, "a data-only option that leaves the converter's inputs alone was converted and compared"


def _runtime_alternative(runtime: str, option: str):
    return {
        "performance_hint": "THROUGHPUT", "num_streams": 1, "cache_dir": "/tmp/harness-ov-blobs",
        "graph_optimization_level": "basic", "intra_op_threads": 1, "inter_op_threads": 2, "exporter": "torchscript",
        "opset": 20 if runtime != "openvino" else None, "device_type": None,
    }.get(option)  # fmt: skip


def test_attention_and_architecture_changes_reach_the_key(option_alternatives: dict, shared_cache: Path) -> None:
    """Options that change the traced graph but not the weights (attention, a config value such as
    layer_norm_eps) must change the conversion key; a test fails when one is dropped from it."""
    base, alternatives = option_alternatives["bert"]
    _, base_handle = _workload("bert", base, shared_cache)
    runtime = _runtime("openvino", {}, "fp32", shared_cache)
    key = identity_key(artifact_identity(runtime, base_handle, "openvino_ir", {}))
    for option in ("attention", "model"):
        _, handle = _workload("bert", {**base, option: alternatives[option]}, shared_cache)
        assert identity_key(artifact_identity(runtime, handle, "openvino_ir", {})) != key, option
    _, sdpa = _workload("bert", {**base, "attention": "sdpa"}, shared_cache)
    assert sdpa.model_hash == base_handle.model_hash, "attention leaves the weights alone"
    assert sdpa.graph_options["attention"] == "sdpa"


# -- kind 2: reference outputs and data_hash follow what is fed to the model ------------------------------


def test_a_tokenizer_setting_changes_data_hash_and_reference(
    cli, tmp_path: Path, tiny_bert_dir: Path, tiny_sentiment_csv: Path
) -> None:
    from transformers import AutoTokenizer

    cased = tmp_path / "cased-model"
    shutil.copytree(tiny_bert_dir, cased)
    AutoTokenizer.from_pretrained(tiny_bert_dir, do_lower_case=False).save_pretrained(cased)
    data = tmp_path / "capitals.csv"
    frame = pd.read_csv(tiny_sentiment_csv)
    frame["text"] = frame["text"].str.upper()
    frame.to_csv(data, index=False)
    cache = tmp_path / "cache"
    run = cli("-m", "workload=tiny_bert", f"workload.model={tiny_bert_dir},{cased}", f"workload.dataset={data}",
              f"cache_dir={cache}", "hydra.sweep.dir=sweep")  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    rows = pd.read_csv(tmp_path / "sweep" / "results.csv")
    assert rows["model_hash"].nunique() == 1, "same weights"
    assert rows["data_hash"].nunique() == 2, "different token ids are different data"
    assert len(list((cache / "reference").glob("*/logits.npy"))) == 2, "each gets its own reference"
    assert (rows["agreement"] == 1.0).all()
    assert rows.loc[rows["model"] == str(cased), "unk_token_share"].iloc[0] > 0, "cased text on an uncased vocab"


# -- kind 3 and 4: labels and data or model problems are one invalid line -----------------------------------


def _write_csv(path: Path, texts: list, labels: list) -> Path:
    pd.DataFrame({"text": texts, "label": labels}).to_csv(path, index=False)
    return path


def _invalid_row(cli, tmp_path: Path, *args: str) -> tuple[str, object]:
    run = cli(*args, "results_dir=res")
    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    lines = run.harness_lines()
    assert len(lines) == 1, run.stderr[-3000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[-1]
    assert row["status"] == "invalid" and "\n" not in row["error"]
    return row["error"], run


def test_labels_outside_the_models_classes_are_invalid_whatever_is_sampled(cli, tmp_path: Path) -> None:
    texts = [f"review number {k} was fine" for k in range(40)]
    labels = [k % 2 for k in range(36)] + [2, 3, 3, 2]  # classes 2 and 3 are rare: n_samples=4 may miss them
    data = _write_csv(tmp_path / "four.csv", texts, labels)
    error, _ = _invalid_row(cli, tmp_path, "workload=tiny_bert", f"workload.dataset={data}", "workload.n_samples=4")
    assert "labels 0, 1, 2, 3" in error and "scores 2 classes" in error


def test_class_folders_must_match_the_model_outputs(cli, tmp_path: Path) -> None:
    _image_folder(tmp_path / "seven", n_classes=7, per_class=1)
    state = tmp_path / "ten.safetensors"
    from safetensors.torch import save_file

    from workloads.resnet101 import seeded_resnet101

    save_file({k: v.contiguous() for k, v in seeded_resnet101(0, 10).state_dict().items()}, str(state))
    error, _ = _invalid_row(cli, tmp_path, "workload=tiny_resnet", f"workload.dataset={tmp_path / 'seven'}",
                            f"workload.weights={state}")  # fmt: skip
    assert "has 7 classes but the model scores 10" in error
    error, _ = _invalid_row(cli, tmp_path, "workload=tiny_resnet", f"workload.dataset={tmp_path / 'seven'}",
                            "workload.label_map=imagenette")  # fmt: skip
    assert "label_map='imagenette' maps 10 classes" in error and "has 7" in error


@pytest.mark.parametrize(
    ("texts", "labels", "needles"),
    [
        (["good film", "", "bad film"], [1, 0, 0], ["empty or missing text at row 2"]),
        (["good film", "   ", "bad film", ""], [1, 0, 0, 1], ["rows 2, 4"]),
        (["good film", "bad film"], ["positive", "negative"], ["'negative', 'positive'", "LABEL_0, LABEL_1"]),
        (["good film", "bad film"], [1.5, 0], ["'1.5'"]),
        (["good film", "bad film"], [1e300, 0], ["'1e+300'"]),  # an integer, but no int64 and no class
        (["good film", "bad film"], [1, None], ["missing labels at row 2"]),
    ],
)
def test_bad_text_and_labels_are_one_line(cli, tmp_path: Path, texts: list, labels: list, needles: list) -> None:
    data = _write_csv(tmp_path / "bad.csv", texts, labels)
    error, _ = _invalid_row(cli, tmp_path, "workload=tiny_bert", f"workload.dataset={data}")
    for needle in needles:
        assert needle in error, error


def test_text_na_is_text_and_string_labels_use_the_models_names(cli, tmp_path: Path, tiny_bert_dir: Path) -> None:
    """Policy: "NA" is a review like any other (keep_default_na=False); text labels are looked up in
    the model's label2id (here, as in the offline models, negative/positive)."""
    model = tmp_path / "named"
    shutil.copytree(tiny_bert_dir, model)
    config = json.loads((model / "config.json").read_text())
    config.update(id2label={"0": "negative", "1": "positive"}, label2id={"negative": 0, "positive": 1})
    (model / "config.json").write_text(json.dumps(config))
    data = _write_csv(tmp_path / "na.csv", ["NA", "great film", "null", "awful film"],
                      ["Positive", "positive", "negative", "negative"])  # fmt: skip
    run = cli("workload=tiny_bert", f"workload.model={model}", f"workload.dataset={data}", "results_dir=res")
    assert run.returncode == 0, run.stderr[-3000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]
    assert row["status"] == "ok" and row["n_eval_samples"] == 4


def test_seq_len_beyond_the_position_table_is_invalid(cli, tmp_path: Path) -> None:
    error, _ = _invalid_row(cli, tmp_path, "workload=tiny_bert", "workload.seq_len=256")
    assert "workload.seq_len=256" in error and "128 tokens (max_position_embeddings)" in error


@pytest.mark.parametrize("content", ["empty", "config-only", "no-tokenizer"])
def test_a_directory_without_a_usable_model_is_invalid(cli, tmp_path: Path, tiny_bert_dir: Path, content: str) -> None:
    model = tmp_path / "model"
    model.mkdir()
    if content != "empty":
        shutil.copy(tiny_bert_dir / "config.json", model)
    if content == "no-tokenizer":
        shutil.copy(tiny_bert_dir / "model.safetensors", model)
    error, _ = _invalid_row(cli, tmp_path, "workload=tiny_bert", f"workload.model={model}")
    expected = {"empty": "holds no config.json", "config-only": "holds no weights", "no-tokenizer": "no tokenizer"}
    assert expected[content] in error and "install" not in error


def test_weights_missing_from_a_checkpoint_are_invalid(cli, tmp_path: Path, tiny_bert_dir: Path) -> None:
    from safetensors.torch import load_file, save_file

    model = tmp_path / "headless"
    shutil.copytree(tiny_bert_dir, model)
    state = {k: v for k, v in load_file(str(model / "model.safetensors")).items() if not k.startswith("classifier")}
    save_file(state, str(model / "model.safetensors"), metadata={"format": "pt"})
    error, _ = _invalid_row(cli, tmp_path, "workload=tiny_bert", f"workload.model={model}")
    assert "missing from its checkpoint" in error and "classifier" in error


# -- kind 5: images are converted faithfully or rejected --------------------------------------------------


def test_sixteen_bit_grey_images_keep_their_picture(tmp_path: Path) -> None:
    from PIL import Image

    from workloads.resnet101 import ResNetOptions, ResNetWorkload

    gradient = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    for k in range(2):
        (tmp_path / "data" / f"c{k}").mkdir(parents=True)
        Image.fromarray(gradient).save(tmp_path / "data" / f"c{k}" / "g.png")
        Image.fromarray((gradient // 257).astype(np.uint8)).save(tmp_path / "data" / f"c{k}" / "g8.png")
    options = parse_options(ResNetOptions, {"weights": "random", "dataset": str(tmp_path / "data"),
                                            "image_size": 32}, "workload")  # fmt: skip
    workload = ResNetWorkload(options, 0, tmp_path)
    workload.load_eval_set()
    sixteen, eight = workload.make_batch([0])["pixel_values"], workload.make_batch([1])["pixel_values"]
    assert float(sixteen.std()) > 0.5, "not a flat white image"
    assert (sixteen - eight).abs().max() < 0.05, "the same picture as its 8-bit copy"
    assert json.loads(workload.describe()["image_modes"]) == {"I;16": 2, "L": 2}


def test_an_exif_orientation_is_counted_not_silently_ignored(tmp_path: Path) -> None:
    """A JPEG a viewer shows rotated (EXIF orientation 6) is read as stored, as torchvision's ImageFolder
    does; the row said only {"RGB": n}. It is counted apart."""
    from PIL import Image

    from workloads.resnet101 import ResNetOptions, ResNetWorkload

    for k in range(2):
        (tmp_path / "data" / f"c{k}").mkdir(parents=True)
        exif = Image.Exif()
        exif[0x0112] = 6
        Image.new("RGB", (80, 40), "white").save(tmp_path / "data" / f"c{k}" / "turned.jpg", exif=exif)
        Image.new("RGB", (80, 40), "white").save(tmp_path / "data" / f"c{k}" / "plain.jpg")
    options = parse_options(ResNetOptions, {"weights": "random", "dataset": str(tmp_path / "data"),
                                            "image_size": 32}, "workload")  # fmt: skip
    workload = ResNetWorkload(options, 0, tmp_path)
    workload.load_eval_set()
    assert json.loads(workload.describe()["image_modes"]) == {"RGB": 2, "RGB+exif-orientation-6": 2}


def test_unconvertible_images_are_rejected_in_one_line(tmp_path: Path) -> None:
    from PIL import Image

    from workloads.images import image_to_rgb

    with pytest.raises(ConfigError, match="outside 0..1 or 0..255"):
        image_to_rgb(Image.fromarray(np.full((4, 4), 1e6, dtype=np.float32)), "huge.tif")
    unit = image_to_rgb(Image.fromarray(np.full((4, 4), 0.5, dtype=np.float32)), "half.tif")
    assert np.asarray(unit)[0, 0].tolist() == [128, 128, 128]


# -- kind 6 and 7: thread options checked, timed shape recorded ---------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["runtime=onnxruntime", "runtime.intra_op_threads=64"],
        ["runtime=onnxruntime_openvino", "runtime.inter_op_threads=64"],
        ["runtime=openvino", "runtime.num_streams=64"],
        ["threads=64"],
    ],
)
def test_every_thread_and_stream_count_is_checked_against_the_cores(cli, args: list[str]) -> None:
    run = cli("workload=tiny_resnet", *args)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    (line,) = run.harness_lines()
    assert "=64 is not allowed" in line and "the cores this process may use" in line


def test_the_accuracy_pass_runs_the_graph_that_was_timed(shared_cache: Path) -> None:
    """The accuracy pass made its inputs inside inference mode, the timed ones outside: torch.compile guards
    on the dispatch keys, so it compiled the model a second time for the accuracy pass (13 of a tiny
    ResNet compile job's 35 s) and scored a graph other than the one timed."""
    import torch

    from harness.job import accuracy_pass

    workload, _ = _workload("resnet101", {"weights": "random", "image_size": 32, "n_samples": 6}, shared_cache)
    compiled = torch.compile(lambda pixel_values: pixel_values.flatten(1)[:, :10] * 2.0, backend="eager")
    runtime = type("Runtime", (), {"adapt_inputs": lambda self, batch: batch["pixel_values"],
                                   "run": lambda self, x: compiled(x),
                                   "to_numpy": lambda self, y: y.numpy()})()  # fmt: skip
    timing_batch = workload.make_batch([0, 1])  # as run_job makes it: before inference mode
    torch._dynamo.reset()
    with torch.inference_mode(), torch._dynamo.config.patch(error_on_recompile=True):
        runtime.run(runtime.adapt_inputs(timing_batch))  # the timed graph
        logits = accuracy_pass(workload, runtime, 2, emit=lambda *a, **k: None)  # raised RecompileError
    assert logits.shape == (6, 10)
    torch._dynamo.reset()


def test_the_row_says_what_shape_was_timed(cli, tmp_path: Path) -> None:
    run = cli("workload=tiny_bert", "workload.padding=longest", "batch=2", "results_dir=res")
    assert run.returncode == 0, run.stderr[-3000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]
    length = int(row["timed_shape"].split()[1].rstrip(",").split("x")[1])
    assert row["seq_len"] == 16 and length < 16, row["timed_shape"]
    assert row["timed_shape"] == f"input_ids 2x{length}, attention_mask 2x{length}, token_type_ids 2x{length}"


def test_every_library_version_and_the_float_artifact_reach_the_int8_and_accuracy_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new torch rebuilt the float IR but the INT8 IR made from the old one was reused (its key held only
    openvino and nncf); a new nncf rebuilt the INT8 IR but its accuracy came from the cache (the accuracy key
    held only the runtime's own version). Every key holds every shaping library's version, and a quantized
    artifact's key holds its float artifact's key."""
    from harness import envinfo, job
    from runtimes.artifacts import ensure_quantized
    from runtimes.base import PrepareTimes

    handle = type("Handle", (), {"artifact_identity": lambda self: {"model": "m"}, "calibration": None,
                                 "model_hash": "m"})()  # fmt: skip
    runtime = type("Runtime", (), {"cache_dir": tmp_path, "conversion_options": lambda self: {}})()
    made: list[Path] = []

    def quantized(float_key: str) -> Path:
        runtime.times = PrepareTimes(artifact_key=float_key, cache_hit=True)
        return ensure_quantized(runtime, handle, "int8", {"nncf": "3.4"}, {}, lambda d: (made.append(d),
                                (d / "m").write_text("x")))  # fmt: skip

    first = quantized("float-from-torch-a")
    assert quantized("float-from-torch-a") == first and len(made) == 1, "the same float artifact: reused"
    assert quantized("float-from-torch-b") != first and len(made) == 2, "another float artifact: quantized again"

    spec = type("Spec", (), {"workload": type("W", (), {"options": {}})(), "runtime": type("R", (), {
        "name": "openvino", "module": "runtimes.openvino", "options": {}, "precision": "int8"})(),
        "batch": 1, "threads": 1})()  # fmt: skip
    before = job.accuracy_key(spec, handle, "d", "openvino 2026.4")
    versions = {**envinfo.library_versions(), "nncf": "9.9.9"}
    monkeypatch.setattr(envinfo, "library_versions", lambda: versions)
    assert job.accuracy_key(spec, handle, "d", "openvino 2026.4") != before
    assert artifact_identity(runtime, handle, "onnx", {})["libraries"]["nncf"] == "9.9.9"
