"""ONNX Runtime with the OpenVINO execution provider (device CPU), on the same cached ONNX.

The EP runs the subgraphs OpenVINO supports and leaves the rest to the CPU EP. One profiled
call in prepare counts the nodes each provider ran (`ort_openvino_nodes`, `ort_cpu_nodes`):
BERT exported with SDPA attention splits into many subgraphs; eager attention gives one.
The EP does not report its precision, so it is set explicitly (INFERENCE_PRECISION_HINT via
`load_config`) and `precision_source` says it was configured, not read back.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from harness.config import QUANTIZED
from harness.contract import ModelHandle
from harness.options import AFTER_CONVERSION, MACHINE_LOCAL
from runtimes.base import Effective
from runtimes.int8 import openvino_int8_share
from runtimes.onnx_common import output_precision, provider_placement
from runtimes.onnxruntime import OnnxRuntimeCPU, OnnxRuntimeOptions
from runtimes.openvino_common import OV_PRECISION

EP = "OpenVINOExecutionProvider"


@dataclass
class OnnxRuntimeOpenVINOOptions(OnnxRuntimeOptions):
    device_type: Annotated[Literal["CPU"], AFTER_CONVERSION] = "CPU"  # this harness measures CPUs
    cache_dir: Annotated[str | None, AFTER_CONVERSION, MACHINE_LOCAL] = None  # the EP's compiled-blob cache


class OnnxRuntimeOpenVINO(OnnxRuntimeCPU):
    Options = OnnxRuntimeOpenVINOOptions
    options: OnnxRuntimeOpenVINOOptions
    precisions = ("fp32", "bf16", "int8", "int8_dynamic")
    # the EP bundles its own OpenVINO and exposes no execution graph: the same ONNX compiled by the
    # openvino package stands in for it
    int8_source = "proxy: the same ONNX compiled by the openvino package (the EP exposes no execution graph)"

    def int8_share(self) -> tuple[float, int, int]:
        import openvino as ov

        compiled = ov.Core().compile_model(str(self.onnx_path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        return openvino_int8_share(compiled)

    def ep_threads(self) -> int:
        """The OpenVINO EP's threads: as the CPU EP's intra-op threads, with several streams each
        concurrent run gets its share of the cores (recorded as threads_effective)."""
        return self.options.intra_op_threads or max(1, self.threads // self.streams)

    def provider_list(self) -> list[Any]:
        threads = self.ep_threads()
        ov_config = {"CPU": {"INFERENCE_PRECISION_HINT": OV_PRECISION[self.precision],
                             "INFERENCE_NUM_THREADS": str(threads)}}  # fmt: skip
        options = {
            "device_type": self.options.device_type,
            "num_of_threads": str(threads),
            "load_config": json.dumps(ov_config),
        }
        if self.options.cache_dir:
            options["cache_dir"] = self.options.cache_dir
        return [(EP, options), "CPUExecutionProvider"]

    def prepare(self, handle: ModelHandle) -> None:
        import onnxruntime as ort

        super().prepare(handle)  # the cached ONNX export and the measured session (timed as compile_s)
        # One profiled call on a separate session tells which provider ran which node.
        with tempfile.TemporaryDirectory(prefix="harness-ort-profile-") as private:
            profiled = self.session_options()
            profiled.enable_profiling = True
            profiled.profile_file_prefix = f"{private}/ort_profile"
            probe = ort.InferenceSession(str(self.onnx_path), profiled, providers=self.provider_list())
            probe.run(None, self.adapt_inputs(handle.timing_example or handle.example))
            self.placement = provider_placement(probe.end_profiling())

    def effective(self) -> Effective:
        base = super().effective()
        ov_nodes = self.placement.get(EP, 0)
        cpu_nodes = self.placement.get("CPUExecutionProvider", 0)
        base.extra.update(
            ort_openvino_nodes=ov_nodes,
            ort_cpu_nodes=cpu_nodes,
            precision_source="configured (the EP does not report it)",
            fallback=f"{cpu_nodes} nodes ran on the CPU EP" if cpu_nodes else None,
        )
        if EP not in self.session.get_providers():
            base.extra["fallback"] = "OpenVINO EP not active: everything ran on the CPU EP"
            return base
        # the threads the EP was given (configured: the session reports no options of the EP), not the idle
        # CPU EP's intra-op threads
        base.threads = self.ep_threads()
        if self.precision in QUANTIZED or self.prebuilt:  # read back through the proxy (int8_share)
            base.extra["precision_source"] = self.int8_source
            return base
        # Inputs/outputs stay fp32; what OpenVINO computes in is the configured hint, where the CPU can
        # (on an AVX2-only CPU a bf16 hint ran fp32, bit for bit, and the row said bf16)
        base.precision = self.precision if output_precision(self.session) == "fp32" else output_precision(self.session)
        if base.precision != "fp32" and not cpu_computes(base.precision):
            base.precision = "fp32"
            base.extra["precision_source"] = (f"proxy: the openvino package's CPU plugin lists no {self.precision} "
                                              "(OPTIMIZATION_CAPABILITIES); the EP does not report it")  # fmt: skip
        return base


def cpu_computes(precision: str) -> bool:
    """Whether OpenVINO's CPU plugin (the openvino package, standing in for the EP's bundled copy) can
    compute in `precision` ("bf16", "fp16") here: its OPTIMIZATION_CAPABILITIES (OpenVINO docs,
    "Query Device Properties") list BF16 only where the CPU has it (AVX512_BF16 or AMX)."""
    import openvino as ov

    return precision.upper() in {str(c).upper() for c in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")}


RUNTIME = OnnxRuntimeOpenVINO
