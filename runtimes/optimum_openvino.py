"""optimum-intel: OpenVINO the way Hugging Face users run it — `OVModelForSequenceClassification`
exported from the model's directory by optimum's own exporter, and for INT8 optimum's own
`OVQuantizer` with full static quantization (`OVQuantizationConfig`, NNCF underneath), called as a
transformers model (`model(**inputs).logits`). Next to the hand-built `openvino` row it shows what
users of that path really get.

optimum-intel 2.2.0 needs transformers <= 5.5, so this runtime runs in its own interpreter
(`.venv-optimum`, `make setup-optimum`); without it rows say `unavailable`. It loads Hugging Face (or
timm) model directories only: a torchvision ResNet gives `unsupported`. Both exports are cached
(optimum's output is OpenVINO IR with its config, verified like every cache entry).
https://huggingface.co/docs/optimum/main/en/intel/openvino/optimization
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from harness.config import UnsupportedError
from harness.contract import Inputs, ModelHandle
from harness.options import AFTER_CONVERSION, STATIC_INT8
from runtimes.artifacts import ensure_artifact, ensure_quantized
from runtimes.base import Effective, Runtime
from runtimes.int8 import int8_columns, openvino_int8_share

F32 = {"INFERENCE_PRECISION_HINT": "f32"}  # OpenVINO would pick bf16 on this CPU


@dataclass
class OptimumOpenVINOOptions:
    # int8: samples OVQuantizer calibrates on; None: optimum-intel's default (num_samples or 128)
    calibration_samples: Annotated[int | None, Field(ge=1, le=100_000), STATIC_INT8, AFTER_CONVERSION] = None


class OptimumOpenVINORuntime(Runtime):
    Options = OptimumOpenVINOOptions
    options: OptimumOpenVINOOptions
    precisions = ("fp32", "int8")
    precision_after_conversion = True  # one fp32 export serves both: INT8 is a quantized artifact made from it
    default_calibration_samples = 128  # optimum/intel/openvino/configuration.py: subset_size = num_samples or 128
    kinds = ("transformer",)
    kinds_reason = "optimum-intel loads Hugging Face (or timm) model directories, and a torchvision model has none"

    def prepare(self, handle: ModelHandle) -> None:
        if handle.source_dir is None:
            raise UnsupportedError(
                "optimum-intel loads Hugging Face (or timm) model directories only; this model has none (a "
                "torchvision ResNet: OVModelForImageClassification rejects it with TypeError)"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local directory: nothing to fetch
        from optimum.intel import OVModelForSequenceClassification

        self.input_names = handle.input_names
        exported = self._export(handle)
        directory = self._quantize(handle, exported) if self.precision == "int8" else exported
        started = time.perf_counter()
        config = {**F32, "INFERENCE_NUM_THREADS": str(self.threads), "PERFORMANCE_HINT": "LATENCY"}
        self.model = OVModelForSequenceClassification.from_pretrained(directory, ov_config=config, compile=True)
        self.accepted = [port.get_any_name() for port in self.model.model.inputs]
        self.times.compile_s = time.perf_counter() - started

    def _versions(self) -> dict[str, str]:
        from importlib.metadata import version

        import openvino
        import transformers

        return {"optimum-intel": version("optimum-intel"), "transformers": transformers.__version__,
                "openvino": openvino.__version__}  # fmt: skip

    def _export(self, handle: ModelHandle) -> Path:
        from optimum.intel import OVModelForSequenceClassification

        def build(directory: Path) -> None:
            model = OVModelForSequenceClassification.from_pretrained(
                handle.source_dir, export=True, compile=False, ov_config=F32
            )
            model.save_pretrained(directory)

        # the shared bookkeeping: key, cache_hit, artifact_path and key (a quantized key holds it)
        return ensure_artifact(self, handle, "optimum_openvino", self._versions(), build)

    def _quantize(self, handle: ModelHandle, exported: Path) -> Path:
        import nncf
        from optimum.intel import OVConfig, OVModelForSequenceClassification, OVQuantizationConfig, OVQuantizer

        calibration = handle.calibration
        assert calibration is not None

        def build(directory: Path) -> None:
            model = OVModelForSequenceClassification.from_pretrained(exported, compile=False, ov_config=F32)
            accepted = {port.get_any_name() for port in model.model.inputs}
            samples = [{n: b[n].numpy() for n in handle.input_names if n in accepted} for b in calibration.batches]
            config = OVConfig(quantization_config=OVQuantizationConfig(num_samples=len(samples)))
            OVQuantizer.from_pretrained(model).quantize(calibration_dataset=nncf.Dataset(samples), ov_config=config,
                                                        save_directory=directory)  # fmt: skip

        quantizer = {"OVQuantizationConfig": len(calibration.batches)}
        return ensure_quantized(self, handle, "optimum_openvino_int8", self._versions(), quantizer, build)

    def adapt_inputs(self, inputs: Inputs) -> dict[str, Any]:
        return {name: inputs[name] for name in self.input_names if name in self.accepted}

    def run(self, inputs: dict[str, Any]) -> Any:
        return self.model(**inputs).logits

    def to_numpy(self, output: Any) -> np.ndarray:
        return np.array(output, dtype=np.float32, copy=True)

    def concurrency_unsupported(self) -> str | None:
        return "optimum's OVModel runs every call on its one infer request (model.request)"

    def profile(self, inputs: Any, out_dir: Path, calls: int) -> tuple[Path, dict[str, float]]:
        from runtimes.openvino_common import openvino_profile

        feed = {name: value.numpy() for name, value in inputs.items()}
        return openvino_profile(self.model.model, {**F32, "INFERENCE_NUM_THREADS": str(self.threads)}, feed, calls,
                                out_dir)  # fmt: skip

    def effective(self) -> Effective:
        from runtimes.openvino_common import ov_precision_name

        compiled = self.model.request  # optimum keeps the ov.CompiledModel here
        precision = ov_precision_name(compiled.get_property("INFERENCE_PRECISION_HINT"))
        # optimum's exporter picks its own attention (SDPA), whatever workload.attention says: read it back
        types = {op.get_type_name() for op in self.model.model.get_ops()}
        extra: dict[str, Any] = {
            "optimum_inputs": ",".join(self.accepted),
            "attention_effective": "sdpa" if "ScaledDotProductAttention" in types else "eager",
        }
        if self.precision == "int8":
            precision, columns = int8_columns(openvino_int8_share(compiled), precision, "OpenVINO execution graph")
            extra.update(columns)
        return Effective(precision=precision, threads=int(compiled.get_property("INFERENCE_NUM_THREADS")), extra=extra)

    def version(self) -> str:
        versions = self._versions()
        return f"optimum-intel {versions['optimum-intel']} / openvino {versions['openvino']}"


RUNTIME = OptimumOpenVINORuntime
