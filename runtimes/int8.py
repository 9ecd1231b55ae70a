"""Reading back how much of a quantized model really computes in INT8.

A quantizer's output says what was asked, not what runs: OpenVINO may keep a layer in f32, ONNX
Runtime may leave QuantizeLinear/DequantizeLinear pairs around a float MatMul, inductor may not
lower a pattern to oneDNN. Each function here inspects what the runtime executes and returns
(int8 share of the heavy ops, int8 heavy ops, heavy ops); `precision_label` turns it into
`precision_effective`: `int8` (all heavy ops), `int8+fp32` (some), or the float precision (none).
Heavy ops are the matrix products: convolutions, fully connected layers, matmuls.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

INT8_TYPES = ("u8", "i8")
OV_HEAVY = {"Convolution", "GroupConvolution", "FullyConnected", "MatMul", "Deconvolution"}
# ONNX Runtime's integer kernels (contrib ops included) and the float ones they replace. MatMulNBits and
# MatMulBnb4 hold 2-8 bit (4-bit) weights but multiply float activations in float (weight-only compression,
# onnxruntime's ContribOperators.md): float heavy ops, as OpenVINO's weight-only layers are.
ORT_INT8 = {"QLinearConv", "QLinearMatMul", "QGemm", "MatMulInteger", "ConvInteger", "DynamicQuantizeMatMul",
            "MatMulIntegerToFloat", "QAttention", "QLinearConvTranspose"}  # fmt: skip
ORT_FLOAT = {"Conv", "MatMul", "Gemm", "FusedConv", "FusedMatMul", "FusedGemm", "Attention", "MultiHeadAttention",
             "NhwcFusedConv", "ConvTranspose", "MatMulNBits", "MatMulBnb4"}  # fmt: skip
TORCH_HEAVY = ("aten.conv2d", "aten.conv1d", "aten.linear", "aten.matmul", "aten.bmm", "aten.addmm", "aten.mm")


def precision_label(share: float, otherwise: str = "fp32") -> str:
    if share >= 1.0:
        return "int8"
    return "int8+" + otherwise if share > 0 else otherwise


def share_of(int8: int, heavy: int) -> tuple[float, int, int]:
    return (int8 / heavy if heavy else 0.0), int8, heavy


def openvino_int8_share(compiled: Any) -> tuple[float, int, int]:
    """From an OpenVINO CompiledModel's execution graph: a heavy layer counts as INT8 when its
    activation input arrives as u8/i8 (`runtimePrecision` alone also reads u8 for weight-only
    compression and for masks; the runtime model's rt_info is an RTMap: index it)."""
    int8 = heavy = 0
    for op in compiled.get_runtime_model().get_ordered_ops():
        if op.get_rt_info()["layerType"].astype(str) not in OV_HEAVY:
            continue
        heavy += 1
        int8 += op.input(0).get_element_type().get_type_name() in INT8_TYPES
    return share_of(int8, heavy)


def onnx_node_types(path: Path) -> Counter[str]:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return Counter(node.op_type for node in model.graph.node)


def ort_int8_share(optimized: Path) -> tuple[float, int, int]:
    """From the graph ONNX Runtime's CPU EP optimized (SessionOptions.optimized_model_filepath)."""
    kinds = onnx_node_types(optimized)
    int8 = sum(n for k, n in kinds.items() if k in ORT_INT8)
    return share_of(int8, int8 + sum(n for k, n in kinds.items() if k in ORT_FLOAT))


def torch_int8_share(graph_module: Any, inductor_counters: dict[str, int]) -> tuple[float, int, int]:
    """Heavy aten ops of a PT2E-converted FX graph, against the quantized conv/linear patterns inductor
    lowered to oneDNN (its `qconv_/qlinear_weight_prepack_matcher_count` counters)."""
    heavy = sum(1 for node in graph_module.graph.nodes if node.op == "call_function"
                and str(node.target).startswith(TORCH_HEAVY))  # fmt: skip
    int8 = sum(v for k, v in inductor_counters.items() if k.endswith("weight_prepack_matcher_count")
               and k.startswith(("qconv", "qlinear")))  # fmt: skip
    return share_of(int8, heavy)


def torchscript_int8_share(graph: Any) -> tuple[float, int, int]:
    """IPEX: heavy ops inside oneDNN Graph (LLGA) fusion groups that hold quantize/dequantize nodes
    run in INT8; heavy ops left at the top level run in float."""
    heavy_kinds = ("aten::linear", "aten::_convolution", "aten::conv2d", "aten::matmul", "aten::bmm", "aten::addmm")
    int8 = heavy = 0
    for node in graph.nodes():
        if "LlgaFusionGroup" in node.kind() and node.hasAttribute("Subgraph"):
            inner = [m.kind() for m in node.g("Subgraph").nodes()]
            quantized = any("quantize" in k for k in inner)
            count = sum(k in heavy_kinds for k in inner)
            heavy += count
            int8 += count if quantized else 0
        elif node.kind() in heavy_kinds or node.kind().startswith(("ipex_prepack::", "torch_ipex::")):
            heavy += 1
    return share_of(int8, heavy)


def int8_columns(counts: tuple[float, int, int], float_precision: str, source: str) -> tuple[str, dict[str, Any]]:
    """(precision_effective, row columns) for a quantized runtime's read-back."""
    share, int8, heavy = counts
    extra = {"int8_op_share": share, "int8_ops": int8, "heavy_ops": heavy, "int8_source": source}
    return precision_label(share, float_precision), extra
