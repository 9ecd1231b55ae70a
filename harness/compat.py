"""The one place that works around packaging problems of the pinned stack.

torchvision 0.28 from PyPI is built against a CUDA torch; beside the CPU torch wheel its
compiled ops do not load and `import torchvision` fails with
"operator torchvision::nms does not exist" (transformers imports torchvision too).
Registering the schemas of those two ops lets the Python package load; nothing this project
runs (ResNet, BERT) calls them, and calling them still fails loudly (no kernel).
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Any

_MISSING_OPS_MESSAGE = "torchvision::nms does not exist"


def ensure_torchvision() -> None:
    """Make `import torchvision` work, without importing it (about 1 s: a process that never uses it,
    such as the sweep's parent, does not pay): when torchvision's compiled ops cannot load, register
    the schemas of the two ops its Python package needs before anything imports it."""
    if _KEEP_ALIVE or ("torchvision" in sys.modules and hasattr(sys.modules["torchvision"], "models")):
        return  # schemas registered already, or torchvision imported whole
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: an import fails as it would anyway
    import torch

    # the file torchvision.extension loads (one name per extension suffix of this interpreter)
    libraries = [Path(spec.submodule_search_locations[0]) / f"_C{suffix}" for suffix in EXTENSION_SUFFIXES]
    library_path = next((p for p in libraries if p.is_file()), None)
    if library_path is None:
        return _import_registering_on_failure()
    try:
        torch.ops.load_library(str(library_path))
        return  # its ops load: torchvision needs nothing from us
    except OSError:
        pass
    _register_missing_schemas(torch)


def _register_missing_schemas(torch: Any) -> None:
    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
    _KEEP_ALIVE.append(library)  # the schemas live as long as the Library object


def _import_registering_on_failure() -> None:
    """Where the compiled ops' file cannot be found: import, and on the known failure register and retry."""
    try:
        import torchvision  # noqa: F401

        return
    except RuntimeError as exc:
        if _MISSING_OPS_MESSAGE not in str(exc):
            raise
    import torch

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]  # drop the half-imported package before trying again
    _register_missing_schemas(torch)
    import torchvision  # noqa: F401


_KEEP_ALIVE: list[object] = []
