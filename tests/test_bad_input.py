"""Bad input: one clear line naming the bad value and what is allowed, exit code 2, no
traceback, and no rows lost."""

from __future__ import annotations

import re
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
        (["--cfg", "job", "-m", "runtime=eager,openvino"], ["--cfg is not allowed with -m"]),  # Hydra's traceback
        # a qps search with no window (NaN in the arrival schedule), a schedule of 8.6e10 arrivals (966 GiB),
        # and a cap that the message did not name
        (
            ["scenario=server", "scenario.search=true", "measure.max_s=0", "measure.min_s=0"],
            ["measure.max_s=0 is not allowed with scenario=server", "more than 0"],
        ),
        (
            ["scenario=server", "scenario.target_qps=1000000", "measure.max_s=86400", "measure.min_s=0"],
            ["scenario.target_qps=1e+06", "at most 115.741 qps"],
        ),
        (["scenario=server", "scenario.target_qps=1e308"], ["scenario.target_qps=1e+308", "> 0 and <= 1000000"]),
        # calibration data was only checked by each job, after loading the model, and named as workload.dataset
        (
            ["runtime=openvino", "runtime.precision=int8", "workload.calibration_dataset=/nonexistent.csv"],
            ["workload.calibration_dataset='/nonexistent.csv' does not exist", ".csv"],
        ),
        (["workload.calibration_dataset=offline:bogus"], ["workload.calibration_dataset='offline:bogus' is unknown"]),
        (["workload.calibration_dataset=''"], ["workload.calibration_dataset='' is empty"]),
        (["workload.calibration_split=test"], ["workload.calibration_split='test' has no effect", "train"]),
        (
            ["workload=tiny_bert", "runtime=openvino", "runtime.precision=int8"],
            ["runtime.precision=int8 on workload.dataset=", "needs calibration data disjoint", "calibration_dataset"],
        ),
        (
            ["workload=resnet101", "workload.calibration_dataset=offline:synthetic-sentiment"],
            ["workload.calibration_dataset='offline:synthetic-sentiment' is unknown"],
        ),
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


# -- what only the data or model files reveal: refused in one line, never scored ------------------------------


def _onnx_classifier(
    path: Path,
    *,
    classes: int = 10,
    batch: object = "N",
    input_name: str = "pixel_values",
    outputs: int = 1,
    class_dim: object = "classes",
    external: bool = False,
) -> Path:
    """A tiny image classifier as an ONNX file: pixel_values [batch, 3, 32, 32] -> logits [batch, classes]."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((3, classes)).astype(np.float32), "w")
    nodes = [
        helper.make_node("GlobalAveragePool", [input_name], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["logits"]),
    ]
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, class_dim])]
    for k in range(1, outputs):
        nodes.append(helper.make_node("Identity", ["logits"], [f"extra{k}"]))
        outs.append(helper.make_tensor_value_info(f"extra{k}", TensorProto.FLOAT, [batch, class_dim]))
    inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch, 3, 32, 32])]
    model = helper.make_model(helper.make_graph(nodes, "tiny", inputs, outs, [weight]),
                              opset_imports=[helper.make_opsetid("", 17)])  # fmt: skip
    model.ir_version = 8
    if external:
        onnx.save(model, str(path), save_as_external_data=True, location=path.name + ".data", size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path


def _handle(options: dict, cache: Path):
    """The loaded workload and ModelHandle of the torchvision workload (tiny MobileNet) with `options`."""
    from harness.options import parse_options
    from workloads.torchvision_classifier import TorchvisionOptions, TorchvisionWorkload

    base = {"arch": "mobilenet_v3_small", "weights": "random", "image_size": 32, "n_samples": 4}
    workload = TorchvisionWorkload(parse_options(TorchvisionOptions, {**base, **options}, "workload"), 0, cache)
    workload.load_eval_set()
    return workload, workload.load_model()


def test_a_model_files_identity_holds_its_reference_model(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """Scores and references of a model file are cached by model_hash: a reference model edited in place
    at the same path must change it (it held only the path: stale max_abs_diff and agreement)."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    from harness.options import parse_options
    from workloads.bert import BertOptions, BertWorkload

    onnx_file = _onnx_classifier(tmp_path / "model.onnx")
    state = tmp_path / "reference.pt"
    torch.save(_handle({}, tmp_path)[1].module.state_dict(), state)
    options = {"weights": str(onnx_file), "reference_weights": str(state)}
    before = _handle(options, tmp_path)[1].model_hash
    changed = {k: v + 1 if v.is_floating_point() else v for k, v in torch.load(state, weights_only=True).items()}
    torch.save(changed, state)
    assert _handle(options, tmp_path)[1].model_hash != before

    reference = tmp_path / "bert"
    shutil.copytree(tiny_bert_dir, reference)

    def bert_hash() -> str:
        values = {"model": str(tmp_path / "model.onnx"), "reference_model": str(reference), "n_samples": 4}
        workload = BertWorkload(parse_options(BertOptions, values, "workload"), 0, tmp_path)
        workload.load_eval_set()
        return workload.load_model().model_hash

    before = bert_hash()
    weights = load_file(str(reference / "model.safetensors"))
    weights["classifier.bias"] = weights["classifier.bias"] + 1
    save_file(weights, str(reference / "model.safetensors"), metadata={"format": "pt"})
    assert bert_hash() != before


def test_an_onnx_file_with_external_data_is_refused_for_every_runtime(tmp_path: Path) -> None:
    """Its hash would not cover the .data file (openvino read it, and a replaced one gave a stale cached row)."""
    from harness.config import ConfigError

    onnx_file = _onnx_classifier(tmp_path / "split.onnx", external=True)
    assert (tmp_path / "split.onnx.data").exists()
    with pytest.raises(ConfigError, match="refers to external data files"):
        _handle({"weights": str(onnx_file), "reference_weights": "random"}, tmp_path)


@pytest.mark.parametrize(
    ("file_options", "batch", "needle"),
    [
        ({"classes": 1, "class_dim": 1}, 2, "outputs of shape ?x1 but its reference model scores 10 classes"),
        ({"outputs": 3}, 2, "has 3 outputs; the harness scores one"),
        ({"batch": 1}, 2, "takes pixel_values of shape 1x3x32x32 but the job feeds 2x3x32x32"),
        ({"input_name": "ids"}, 1, "takes inputs ids but the workload feeds pixel_values"),
    ],
)
def test_a_model_file_must_take_the_workloads_inputs_and_give_its_references_outputs(
    tmp_path: Path, file_options: dict, batch: int, needle: str
) -> None:
    from harness.config import ConfigError
    from workloads.base import check_prebuilt

    onnx_file = _onnx_classifier(tmp_path / "model.onnx", **file_options)
    workload, handle = _handle({"weights": str(onnx_file), "reference_weights": "random"}, tmp_path)
    with pytest.raises(ConfigError, match="^the model file") as caught:
        check_prebuilt(handle, workload.make_batch([0] * batch))
    assert needle in str(caught.value) and "\n" not in str(caught.value)
    if file_options.get("batch") == 1:  # at its own static batch the file is accepted
        check_prebuilt(handle, workload.make_batch([0]))


def test_a_model_file_whose_dynamic_outputs_differ_is_invalid_before_timing(cli, tmp_path: Path) -> None:
    """3 classes against a 10-class reference, left dynamic in the file: the first call's outputs show it
    (it was an error row after timing, `operands could not be broadcast`, or a broadcast score)."""
    onnx_file = _onnx_classifier(tmp_path / "three.onnx", classes=3)
    run = cli("workload=tiny_torchvision", f"workload.weights={onnx_file}", "workload.reference_weights=random",
              "runtime=onnxruntime", "batch=2", "results_dir=res")  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[-1]
    assert row["status"] == "invalid" and "gives outputs of shape 2x3" in row["error"], row["error"]
    assert pd.isna(row.get("throughput_sps")), "refused before anything was timed"


def test_non_finite_outputs_and_weights_are_never_scored(tmp_path: Path) -> None:
    """argmax over NaN is class 0: a NaN model scored accuracy 0.5 and agreement 1.0. NaN from a runtime
    whose reference is finite is the runtime's fault (an error row), in the reference the model's."""
    from types import SimpleNamespace

    import numpy as np
    import torch

    from harness.config import ConfigError
    from harness.job import check_finite_weights, score

    labels, reference = np.array([0, 1, 1]), np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    with pytest.raises(RuntimeError, match="runtime's outputs hold 2 non-finite values .* in 1 of 3 samples"):
        score(np.array([[np.nan, np.nan], [0.0, 1.0], [0.0, 1.0]]), labels, reference)
    with pytest.raises(ConfigError, match="eager fp32 reference outputs hold 1 non-finite"):
        score(reference, labels, np.array([[np.inf, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    assert score(reference, labels, reference)["accuracy"] == 1.0
    model = torch.nn.Linear(4, 2)
    with torch.no_grad():
        model.bias[0] = float("nan")
    with pytest.raises(ConfigError, match="non-finite .* weights in 1 tensors \\(bias\\)"):
        check_finite_weights(SimpleNamespace(module=model))


def test_a_nan_classifier_bias_makes_the_row_invalid(cli, tmp_path: Path, tiny_bert_dir: Path) -> None:
    import shutil

    from safetensors.torch import load_file, save_file

    model = tmp_path / "nan-bert"
    shutil.copytree(tiny_bert_dir, model)
    weights = load_file(str(model / "model.safetensors"))
    weights["classifier.bias"][0] = float("nan")
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    run = cli("workload=tiny_bert", f"workload.model={model}", "results_dir=res")
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-3000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[-1]
    assert row["status"] == "invalid" and "classifier.bias" in row["error"] and pd.isna(row.get("accuracy"))


def test_checkpoint_weights_the_config_has_no_place_for_are_refused(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """config.json with 1 layer, checkpoint with 2: layer 1's weights were dropped silently (half the FLOPs)."""
    import json
    import shutil

    from harness.config import ConfigError
    from harness.options import parse_options
    from workloads.bert import BertOptions, BertWorkload

    model = tmp_path / "one-layer"
    shutil.copytree(tiny_bert_dir, model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 1}))
    options = parse_options(BertOptions, {"model": str(model), "dataset": "offline:synthetic-sentiment",
                                          "n_samples": 4}, "workload")  # fmt: skip
    workload = BertWorkload(options, 0, tmp_path)
    workload.load_eval_set()
    with pytest.raises(ConfigError, match="checkpoint weights have no place .* bert.encoder.layer.1"):
        workload.load_model()


def test_models_and_input_sizes_that_do_not_fit_are_built_right_or_one_line(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    """ViT was never built for image_size (its builders take it through **kwargs): every vit_* run at
    32 px was an error row; inception_v3 at 32 px failed in a library conv (error row); a tokenizer
    without a pad token failed in transformers. The first two are the model and sizes the user chose,
    the third their model directory: each an invalid row's one line."""
    import json
    import shutil

    import torch

    from harness.config import ConfigError
    from harness.job import memory_estimate_bytes
    from harness.options import parse_options
    from workloads.bert import BertOptions, BertWorkload

    _, handle = _handle({"arch": "vit_b_16", "n_samples": 2}, tmp_path)
    with torch.inference_mode():
        logits = handle.module(*[handle.example[n] for n in handle.input_names])
    assert tuple(logits.shape) == (2, 10) and handle.module.image_size == 32
    _, handle = _handle({"arch": "inception_v3", "n_samples": 2}, tmp_path)
    with pytest.raises(
        ConfigError, match="model cannot run on the workload's inputs \\(shape pixel_values 2x3x32x32\\): .*image_size"
    ):
        memory_estimate_bytes(handle, 1)
    model = tmp_path / "nopad"
    shutil.copytree(tiny_bert_dir, model)
    settings = json.loads((model / "tokenizer_config.json").read_text())
    (model / "tokenizer_config.json").write_text(json.dumps({**settings, "pad_token": None}))
    options = parse_options(BertOptions, {"model": str(model), "dataset": "offline:synthetic-sentiment",
                                          "n_samples": 4}, "workload")  # fmt: skip
    with pytest.raises(ConfigError, match="its tokenizer has no padding token"):
        BertWorkload(options, 0, tmp_path).load_eval_set()


def test_labels_are_ascii_integers_or_class_names() -> None:
    """`--1` and `²` passed the old digit check and int() raised a traceback; `1_0` was read as 10."""
    from harness.config import ConfigError
    from workloads.tables import label_column

    frame = pd.DataFrame({"label": ["1", "+1", " 0 ", "1.0", "1e0", "--1", "²", "1_0", "١"]})
    assert label_column(frame.iloc[:5], "d.csv", "label", None).tolist() == [1, 1, 0, 1, 1]
    with pytest.raises(ConfigError, match=r"'--1', '1_0', '²', '١' at rows 6, 7, 8, 9"):
        label_column(frame, "d.csv", "label", None)


def test_texts_without_visible_content_are_refused(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """Zero-width, format and control characters pass str.strip: they were scored as [CLS][SEP]."""
    from harness.config import ConfigError
    from harness.options import parse_options
    from workloads.bert import BertOptions, BertWorkload
    from workloads.tables import text_column

    frame = pd.DataFrame({"text": ["good", "\u200b\u200b", "\ufeff", "fine", "\u2060", "\x00\x01"]})
    with pytest.raises(ConfigError, match="empty or missing text at rows 2, 3, 5, 6"):
        text_column(frame, "d.csv", "text")
    data = tmp_path / "accents.csv"  # visible, but the uncased tokenizer strips a lone accent: no token left
    pd.DataFrame({"text": ["a good film", "\u0301", "bad"], "label": [1, 0, 0]}).to_csv(data, index=False)
    options = parse_options(BertOptions, {"model": str(tiny_bert_dir), "dataset": str(data)}, "workload")
    with pytest.raises(ConfigError, match="1 texts give the tokenizer .* no tokens but special ones"):
        BertWorkload(options, 0, tmp_path).load_eval_set()


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["runtime=openvino", "threads=1", "scenario=offline", "scenario.streams=2"],
         ["scenario.streams=2 is not allowed with threads=1"]),
        (["runtime=onnxruntime", "threads=1", "scenario=offline", "scenario.streams=2"],
         ["scenario.streams=2 is not allowed with threads=1"]),
        (["runtime=onnxruntime", "threads=1", "runtime.intra_op_threads=2"],
         ["runtime.intra_op_threads=2 is not allowed with threads=1"]),
        (["workload.split=validation"], ["workload.split='validation' has no effect on the file"]),
        (["workload.calibration_dataset=${oc.env:HARNESS_TEST_TINY_DATA}", "workload.calibration_split=validation"],
         ["workload.calibration_split='validation' has no effect on the file"]),
        # calibration at a precision that does not calibrate: ignored, yet recorded and hashed
        (["runtime=openvino", "runtime.calibration_samples=16"],
         ["runtime.calibration_samples=16 has no effect at runtime.precision='fp32'", "runtime.precision=int8"]),
        (["runtime=onnxruntime", "runtime.precision=int8_dynamic", "runtime.calibration_samples=16"],
         ["runtime.calibration_samples=16 has no effect at runtime.precision='int8_dynamic'"]),
        (["runtime=openvino", "workload.calibration_dataset=${oc.env:HARNESS_TEST_TINY_DATA}"],
         ["workload.calibration_dataset=", "has no effect at runtime.precision='fp32'"]),
    ],
)  # fmt: skip
def test_options_that_would_be_ignored_or_exceed_the_jobs_cores_are_refused(cli, args: list, needles: list) -> None:
    assert_one_clear_line(cli("workload=tiny_bert", *args), *needles)


def test_options_that_shape_a_conversion_have_no_effect_on_a_model_file(cli, tmp_path: Path) -> None:
    """A model file runs as it is: an exporter or opset asked for would be ignored while the row records it."""
    onnx_file = _onnx_classifier(tmp_path / "model.onnx")
    (tmp_path / "reference.pt").write_bytes(b"")  # never read: the command is refused before any job
    for option, value in (("opset", "20"), ("exporter", "torchscript")):
        run = cli("workload=tiny_resnet", f"workload.weights={onnx_file}", f"workload.reference_weights={tmp_path}/"
                  "reference.pt", "runtime=onnxruntime", f"runtime.{option}={value}")  # fmt: skip
        assert_one_clear_line(run, f"runtime.{option}=", f"has no effect on the model file '{onnx_file}'")


def test_the_openvino_eps_threads_are_divided_among_streams(tmp_path: Path) -> None:
    from runtimes.onnxruntime_openvino import OnnxRuntimeOpenVINO

    runtime = OnnxRuntimeOpenVINO(OnnxRuntimeOpenVINO.Options(), "fp32", 2, tmp_path)
    runtime.streams = 2
    assert runtime.provider_list()[0][1]["num_of_threads"] == "1" and runtime.ep_threads() == 1


def test_a_resnet_state_dict_of_the_wrong_shapes_is_refused(tmp_path: Path) -> None:
    import torch

    from harness.config import ConfigError
    from harness.options import parse_options
    from workloads.resnet101 import ResNetOptions, ResNetWorkload

    state = tmp_path / "scalar-fc.pt"
    torch.save({"fc.weight": torch.tensor(1.0), "fc.bias": torch.zeros(10)}, state)
    options = parse_options(ResNetOptions, {"weights": str(state), "image_size": 32, "n_samples": 2}, "workload")
    workload = ResNetWorkload(options, 0, tmp_path)
    workload.load_eval_set()
    with pytest.raises(ConfigError, match="is not a ResNet-101 state_dict \\(fc.weight of shape \\[\\]"):
        workload.load_model()


def test_duplicate_headers_multi_frame_images_and_netpbm_files(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from harness.config import ConfigError
    from harness.options import parse_options
    from workloads.resnet101 import ResNetOptions, ResNetWorkload
    from workloads.tables import read_table

    table = tmp_path / "twice.csv"
    table.write_text("text,label,label\ngood,1,0\n")
    with pytest.raises(ConfigError, match="names column\\(s\\) 'label' more than once"):
        read_table(table)
    # a UTF-8 BOM hid the first `label` from csv.reader, and pandas then scored the first (all-0) column
    table.write_bytes("\ufefflabel,text,label\n0,good,1\n".encode())
    with pytest.raises(ConfigError, match="^dataset .* names column\\(s\\) 'label' more than once"):
        read_table(table)
    table.write_bytes("\ufefftext,label\ngood,1\n".encode())
    assert list(read_table(table).columns) == ["text", "label"], "a BOM alone is no problem"
    table.write_text('"text,label\n' + "good film,1\n" * 20_000)  # an unclosed quote: a header of 220 KB
    with pytest.raises(ConfigError, match="is unreadable \\(ParserError: .*EOF inside string"):
        read_table(table)  # was csv.Error "field larger than field limit": an error row, exit 1
    for name, text, needle in (("twice.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": 1, "label": 0}\n',
                                "names key(s) 'label' more than once in one record (line 2)"),
                               ("twice.json", '[{"text": "a", "label": 1, "label": 0}]',
                                "names key(s) 'label' more than once in one record;")):  # fmt: skip
        (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError, match=re.escape(needle)):
            read_table(tmp_path / name)
    # a U+2028 inside a JSON string is no line end (str.splitlines took it for one and stopped checking)
    (tmp_path / "sep.jsonl").write_text('{"text": "a\u2028b", "label": 1}\n{"text": "b", "label": 0, "label": 1}\n')
    with pytest.raises(ConfigError, match=re.escape("names key(s) 'label' more than once in one record (line 2)")):
        read_table(tmp_path / "sep.jsonl")

    def folder(name: str, write) -> ResNetWorkload:
        for k in range(2):
            (tmp_path / name / f"c{k}").mkdir(parents=True)
            write(tmp_path / name / f"c{k}")
        options = parse_options(ResNetOptions, {"weights": "random", "dataset": str(tmp_path / name),
                                                "image_size": 32}, "workload")  # fmt: skip
        return ResNetWorkload(options, 0, tmp_path)

    picture = Image.fromarray(np.full((40, 40, 3), 90, dtype=np.uint8))
    netpbm = folder("ppm", lambda d: picture.save(d / "a.ppm"))
    netpbm.load_eval_set()
    assert netpbm.n_samples == 2, "ImageFolder reads .ppm: so does the harness"
    other = Image.fromarray(np.zeros((40, 40, 3), dtype=np.uint8))
    animated = folder("gif", lambda d: picture.save(d / "a.gif", save_all=True, append_images=[other]))
    with pytest.raises(ConfigError, match="holds 2 frames"):
        animated.load_eval_set()
    # a JPEG carrying a second image (MPO, as phones write gain maps) names its first as the primary one
    mpo = folder("mpo", lambda d: picture.save(d / "a.jpg", format="MPO", save_all=True, append_images=[other]))
    assert Image.open(next((tmp_path / "mpo" / "c0").iterdir())).format == "MPO"
    mpo.load_eval_set()
    assert mpo.n_samples == 2


def test_help_says_what_the_tool_is_and_how_to_start(cli) -> None:
    """`--help` opened with Hydra's generic "cli is powered by Hydra."."""
    run = cli("--help")
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith("harness: how fast and how faithfully"), run.stdout[:300]
    assert "python -m harness -m runtime=eager,openvino batch=1,8" in run.stdout
    assert "powered by Hydra" not in run.stdout
    assert "runtime: compile, eager, export, ipex," in run.stdout  # Hydra's groups and config still follow
