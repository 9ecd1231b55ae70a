"""torch.compile(backend="openvino").

Three traps this adapter makes visible instead of hiding:
- precision: without INFERENCE_PRECISION_HINT the backend runs bf16 on bf16-capable CPUs, so
  the hint goes through the backend's own `config` option and is read back from every
  OpenVINO model it compiled;
- threads: the backend ignores torch.set_num_threads, so INFERENCE_NUM_THREADS goes through
  `config` too and is read back;
- fallback: on any error the backend silently compiles the graph with inductor instead; the
  adapter counts those fallbacks (`ov_fallbacks_to_inductor`) and the partitions that did run
  on OpenVINO (`ov_compiled_partitions`). A partition whose OpenVINO execution fails at run time
  falls back to native PyTorch for good, said only at DEBUG level by the backend's `execute`
  logger: the adapter listens there and counts those too (`ov_fallbacks_to_torch`).
ResNet needs `aot_autograd` (the default for CNN workloads here).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any

import torch
from pydantic import Field

from harness.cache import checked_directory, identity_key, seal
from harness.config import UnsupportedError
from harness.contract import Inputs, ModelHandle
from harness.options import AFTER_CONVERSION, STATIC_INT8
from runtimes.artifacts import artifact_identity
from runtimes.base import Effective, Runtime
from runtimes.int8 import int8_columns, openvino_int8_share, share_of
from runtimes.openvino_common import OV_PRECISION, ov_precision_name


@dataclass
class OpenVINOCompileOptions:
    aot_autograd: bool | None = None  # None: on for CNN workloads (ResNet fails without it), off otherwise
    dynamic: bool | None = None
    # the backend's own on-disk cache of compiled partitions; it names entries by the graph's code and
    # input shapes only (not the weights), so the harness gives every model identity its own directory
    model_caching: Annotated[bool, AFTER_CONVERSION] = False
    # int8: samples NNCF calibrates on; None: its default subset_size (300)
    calibration_samples: Annotated[int | None, Field(ge=1, le=100_000), STATIC_INT8, AFTER_CONVERSION] = None


def nncf_torch_int8(handle: ModelHandle) -> torch.nn.Module:
    """NNCF's post-training quantization on the exported torch graph (its documented torch.fx path), for
    OpenVINO's torch.compile backend to run; calibrated on `handle.calibration`."""
    import nncf

    dynamic = tuple(
        {axis: torch.export.Dim.DYNAMIC for axis in handle.dynamic_dims.get(name, {})} for name in handle.input_names
    )
    example = tuple(handle.example[n] for n in handle.input_names)
    graph = torch.export.export(handle.module, example, dynamic_shapes=dynamic, strict=True).module()
    calibration = handle.calibration
    assert calibration is not None
    dataset = nncf.Dataset(calibration.batches, lambda batch: tuple(batch[n] for n in handle.input_names))
    model_type = nncf.ModelType.TRANSFORMER if handle.kind == "transformer" else None
    return nncf.quantize(graph, dataset, subset_size=len(calibration.batches), model_type=model_type)


class _FallbackCounter(logging.Handler):
    """Collects the backend's DEBUG-level 'Falling back to native PyTorch execution' messages."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "Falling back to native PyTorch" in message:
            self.messages.append(message.split(". Falling back")[0][:300])


class OpenVINOCompileRuntime(Runtime):
    Options = OpenVINOCompileOptions
    precisions = ("fp32", "bf16", "int8")
    options: OpenVINOCompileOptions

    def prepare(self, handle: ModelHandle) -> None:
        import openvino.torch  # noqa: F401 - registers the "openvino" backend
        from openvino.frontend.pytorch.torchdynamo import backend as ov_backend
        from openvino.frontend.pytorch.torchdynamo import execute as ov_execute

        torch._dynamo.reset()
        ov_execute.compiled_cache.clear()
        self._execute = ov_execute
        self.native_fallbacks = _FallbackCounter()
        ov_execute.logger.addHandler(self.native_fallbacks)
        ov_execute.logger.setLevel(logging.DEBUG)
        self.fallbacks: list[str] = []
        original_fallback = ov_backend.compile_fx

        def counted_fallback(subgraph: Any, example_inputs: Any) -> Any:
            self.fallbacks.append(f"{len(list(subgraph.graph.nodes))} nodes")
            return original_fallback(subgraph, example_inputs)

        ov_backend.compile_fx = counted_fallback  # the backend's silent except-branch calls this
        self.aot_autograd = self.options.aot_autograd if self.options.aot_autograd is not None else handle.kind == "cnn"
        import openvino as ov

        identity = artifact_identity(self, handle, "openvino_compile", {"openvino": ov.__version__,
                                                                         "torch": torch.__version__})  # fmt: skip
        identity["calibration"] = handle.calibration.data_hash if handle.calibration else None
        key = identity_key(identity)
        self.backend_cache = self.cache_dir / "conversions" / "openvino_compile" / key
        if self.options.model_caching:
            self.times.cache_note = checked_directory(self.backend_cache)
        backend_options = {
            "device": "CPU",
            "aot_autograd": self.aot_autograd,
            "model_caching": self.options.model_caching,
            "cache_dir": str(self.backend_cache),
            "config": {
                "INFERENCE_PRECISION_HINT": OV_PRECISION[self.precision],
                "INFERENCE_NUM_THREADS": str(self.threads),
            },
        }
        self.input_names = handle.input_names
        target = handle.module
        if self.precision == "int8":
            started = time.perf_counter()
            target = nncf_torch_int8(handle)
            self.times.quantize_s = time.perf_counter() - started
        self.compiled = torch.compile(target, backend="openvino", options=backend_options, dynamic=self.options.dynamic)
        started = time.perf_counter()
        self.run(self.adapt_inputs(handle.timing_example or handle.example))
        self.times.compile_s = time.perf_counter() - started
        if self.precision == "int8":
            share, int8, heavy = self.int8_counts()
            if int8 == 0:
                raise UnsupportedError(
                    f"NNCF's torch path quantized the exported graph, but none of the {heavy} heavy layers "
                    "OpenVINO's torch.compile backend compiled runs in INT8 on this stack: torch 2.13 ignores the "
                    "backend's inline_inbuilt_nn_modules=False, so the quantized weights reach OpenVINO as graph "
                    "inputs, not constants, and its low-precision transformations do not apply"
                )
        if self.options.model_caching:
            seal(self.backend_cache)

    def concurrency_unsupported(self) -> str | None:
        return ("OpenVINO's torch.compile backend keeps one infer request per compiled partition "
                "(torchdynamo execute.req_cache), so concurrent calls would share it")  # fmt: skip

    def int8_counts(self) -> tuple[float, int, int]:
        """INT8 heavy layers over all heavy layers, summed over the OpenVINO partitions compiled."""
        int8 = heavy = 0
        for compiled in self._execute.compiled_cache.values():
            _, n_int8, n_heavy = openvino_int8_share(compiled)
            int8, heavy = int8 + n_int8, heavy + n_heavy
        return share_of(int8, heavy)

    def adapt_inputs(self, inputs: Inputs) -> list[torch.Tensor]:
        return [inputs[name] for name in self.input_names]

    def run(self, inputs: list[torch.Tensor]) -> Any:
        return self.compiled(*inputs)

    def effective(self) -> Effective:
        models = list(self._execute.compiled_cache.values())
        precisions = sorted({ov_precision_name(m.get_property("INFERENCE_PRECISION_HINT")) for m in models})
        threads = sorted({int(m.get_property("INFERENCE_NUM_THREADS")) for m in models})
        if self.fallbacks:  # inductor ran (part of) the model in the module's own dtype
            precisions.append("fp32(inductor)")
        native = self.native_fallbacks.messages
        if native:
            precisions.append("fp32(native torch)")
        fallbacks = [f"inductor for a {f} graph" for f in self.fallbacks]
        fallbacks += [f"native PyTorch for a partition OpenVINO failed to run ({m})" for m in native]
        extra = {
            "ov_compiled_partitions": len(models),
            "ov_fallbacks_to_inductor": len(self.fallbacks),
            "ov_fallbacks_to_torch": len(native),
            "fallback": "; ".join(fallbacks) or None,
            "aot_autograd": self.aot_autograd,
        }
        precision = "+".join(precisions) or "none"
        if self.precision == "int8":
            precision, columns = int8_columns(self.int8_counts(), precision, "OpenVINO execution graphs")
            extra.update(columns)
        return Effective(precision=precision, threads=threads[0] if len(threads) == 1 else None, extra=extra)

    def version(self) -> str:
        import openvino as ov

        return f"openvino {ov.__version__} / torch {torch.__version__}"

    def close(self) -> None:
        if hasattr(self, "native_fallbacks"):
            self._execute.logger.removeHandler(self.native_fallbacks)
        if self.options.model_caching and hasattr(
            self, "backend_cache"
        ):  # partitions compiled after prepare (new shapes) join the manifest
            seal(self.backend_cache)


RUNTIME = OpenVINOCompileRuntime
