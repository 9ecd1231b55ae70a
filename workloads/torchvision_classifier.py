"""Any torchvision classification model by name (`arch`: resnet50, mobilenet_v3_large, vit_b_16, ...),
so a user can ask the harness's question of their own model. The data side is workloads/images.py.

`weights`: `auto` (the architecture's DEFAULT weights when they are in the torch hub cache, else a
seeded random init with one output per class of the data — the row's `model` says which),
`DEFAULT` or an enum name of the architecture's weights (needs the hub cache offline), `random`, a
local state_dict (.safetensors, or .pt/.pth read with weights_only=True), or a model file (.onnx,
.xml) with `reference_weights`. Pretrained ImageNet weights score 1000 classes: give data labelled
in ImageNet's classes (e.g. Imagenette with `label_map: imagenette`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness.config import ConfigError
from workloads.images import ImageDataOptions, ImageWorkload, load_into, load_state_dict_file

TRANSFORMER_PREFIXES = ("vit_", "swin_", "maxvit_")  # attention models: quantizers treat them as transformers


def classification_models() -> list[str]:
    """The names torchvision lists among its classification models."""
    from harness.compat import ensure_torchvision

    ensure_torchvision()
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def cached_weights(arch: str, name: str) -> Any | None:
    """The weights enum member `name` of `arch` when its file is in the torch hub cache, else None."""
    import torchvision

    member = torchvision.models.get_model_weights(arch)[name]
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(member.url).name
    return member if path.is_file() else None


@dataclass
class TorchvisionOptions(ImageDataOptions):
    arch: str = "resnet50"  # a torchvision classification model (torchvision.models.list_models)
    weights: str = "auto"  # auto | DEFAULT | an enum name | random | a state_dict file | a model file
    # when `weights` is a model file (.onnx, .xml): the fp32 weights it is compared with
    reference_weights: str | None = None

    def validate(self) -> None:
        models = classification_models()
        if self.arch not in models:
            raise ConfigError(f"workload.arch={self.arch!r} is not a torchvision classification model; allowed: "
                              f"{', '.join(models[:12])}, ... ({len(models)} in all)")  # fmt: skip
        self.validate_model_file()
        weights = self.torch_weights
        if weights not in ("auto", "random") and not Path(weights).expanduser().is_file():
            import torchvision

            names = ["DEFAULT", *(w.name for w in torchvision.models.get_model_weights(self.arch))]
            if weights not in names:
                raise ConfigError(f"workload.weights={weights!r} is not allowed for {self.arch}: auto, random, a "
                                  f"state_dict file, or one of {', '.join(names)}")  # fmt: skip
        self.validate_data()


class TorchvisionWorkload(ImageWorkload):
    name = "torchvision"
    Options = TorchvisionOptions
    options: TorchvisionOptions

    def _build(self, classes: int, weights: Any = None) -> torch.nn.Module:
        import torchvision

        kwargs: dict[str, Any] = {} if weights is not None else {"num_classes": classes}
        builder = torchvision.models.get_model_builder(self.options.arch)
        torch.manual_seed(self.seed)
        if weights is None:  # ViT: positions for this input size; its builders take it through **kwargs
            try:
                return builder(weights=None, image_size=self.options.image_size, **kwargs)
            except TypeError as exc:  # a model of no fixed input size (ResNet, ...): built without it
                if "image_size" not in str(exc):
                    raise
            torch.manual_seed(self.seed)
        return builder(weights=weights, **kwargs)

    def _weights(self) -> tuple[Any, str]:
        """(the weights enum member to load, or None for a seeded init or a state_dict; the `model` text)."""
        import torchvision

        weights, arch = self.options.torch_weights, self.options.arch
        if weights == "auto":
            member = cached_weights(arch, "DEFAULT")
            if member is not None:
                return member, f"{arch} {member.name} (from the torch hub cache)"
            return None, f"{arch} seeded random init (seed {self.seed}; no cached weights)"
        if weights == "random":
            return None, f"{arch} seeded random init (seed {self.seed})"
        if Path(weights).expanduser().is_file():
            return None, f"{arch} {weights}"
        member = torchvision.models.get_model_weights(arch)[weights]
        return member, f"{arch} {member.name}"

    def load_model(self) -> Any:
        weights, arch = self.options.torch_weights, self.options.arch
        key = f"workload.weights={weights!r}"
        member, _ = self._weights()
        if member is not None:
            try:
                model = self._build(0, member)  # from the torch hub cache; offline there is no download
            except Exception as exc:
                raise ConfigError(f"{key} cannot be loaded for {arch} (not in the torch hub cache and not "
                                  f"downloadable here?): {type(exc).__name__}: {exc}") from None  # fmt: skip
        else:
            model = self._build(self._model_classes())
            if Path(weights).expanduser().is_file():
                load_into(model, load_state_dict_file(Path(weights).expanduser(), key), key, arch)
        kind = "transformer" if arch.startswith(TRANSFORMER_PREFIXES) else "cnn"
        return self.handle(model.float().eval(), kind)

    def describe(self) -> dict[str, Any]:
        return {**self.data_columns(self._weights()[1]), "arch": self.options.arch}


WORKLOAD = TorchvisionWorkload
