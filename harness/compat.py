"""The one place that works around packaging problems of the pinned stack.

torchvision 0.28 from PyPI is built against a CUDA torch; beside the CPU torch wheel its
compiled ops do not load and `import torchvision` fails with
"operator torchvision::nms does not exist" (transformers imports torchvision too).
Registering the schemas of those two ops lets the Python package load; nothing this project
runs (ResNet, BERT) calls them, and calling them still fails loudly (no kernel).
"""

from __future__ import annotations

import sys

_MISSING_OPS_MESSAGE = "torchvision::nms does not exist"


def ensure_torchvision() -> None:
    """Import torchvision, registering the missing op schemas only when the import needs them."""
    if "torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "models"):
        return
    try:
        import torchvision  # noqa: F401

        return
    except RuntimeError as exc:
        if _MISSING_OPS_MESSAGE not in str(exc):
            raise
    import torch

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]  # drop the half-imported package before trying again
    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
    _KEEP_ALIVE.append(library)  # the schemas live as long as the Library object
    import torchvision  # noqa: F401


_KEEP_ALIVE: list[object] = []
