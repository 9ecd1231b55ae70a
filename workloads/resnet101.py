"""ResNet-101 image classifier (torchvision), with the offline probe model.

`weights`: a torchvision enum name (`IMAGENET1K_V1`, `IMAGENET1K_V2`, `DEFAULT`; needs the
torch hub cache), a local state_dict (.safetensors, or .pt/.pth read with weights_only=True),
`random` (seeded init, one output per class of the data), `offline:fashion-probe` — seeded
random init with its `fc` replaced by a linear probe fitted once on Fashion-MNIST features and cached —
or a model file (.onnx, .xml) with `reference_weights`. The data side is workloads/images.py.
"""

from __future__ import annotations

import hashlib
import inspect
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.cache import cached_entry, identity_key
from harness.config import ConfigError
from workloads.base import OFFLINE_PREFIX
from workloads.images import (
    IMAGENET_CLASSES,
    OFFLINE_CLASSES,
    ImageDataOptions,
    ImageWorkload,
    fashion_images,
    gray_to_input,
    load_into,
    load_state_dict_file,
)
from workloads.probe import Probe, fit_linear_probe

OFFLINE_WEIGHTS = "offline:fashion-probe"
TORCHVISION_WEIGHTS = ("IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT")
PROBE_TRAIN_PER_CLASS = 100
PROBE_FILE = "model.safetensors"


@dataclass
class ResNetOptions(ImageDataOptions):
    weights: str = OFFLINE_WEIGHTS
    # when `weights` is a model file (.onnx, .xml: e.g. an INT8 model made elsewhere): the fp32 weights it is
    # compared with
    reference_weights: str | None = None

    def validate(self) -> None:
        self.validate_model_file()
        allowed = f"{', '.join(TORCHVISION_WEIGHTS)}, random, {OFFLINE_WEIGHTS}, or a state_dict file"
        weights = self.torch_weights
        if weights.startswith(OFFLINE_PREFIX) and weights != OFFLINE_WEIGHTS:
            raise ConfigError(f"workload.weights={weights!r} is unknown; allowed: {allowed}")
        if (
            weights not in (*TORCHVISION_WEIGHTS, "random", OFFLINE_WEIGHTS)
            and not Path(weights).expanduser().is_file()
        ):
            raise ConfigError(f"workload.weights={weights!r} does not exist; allowed: {allowed}")
        self.validate_data()


def seeded_resnet101(seed: int, num_classes: int = IMAGENET_CLASSES) -> torch.nn.Module:
    from torchvision.models import resnet101

    torch.manual_seed(seed)
    return resnet101(weights=None, num_classes=num_classes)


def fit_fashion_probe(seed: int, image_size: int, out_path: Path, log: Any = print) -> None:
    """Seeded random ResNet-101 features + a logistic-regression `fc` fitted on Fashion-MNIST."""
    from safetensors.torch import save_file

    started = time.monotonic()
    model = seeded_resnet101(seed).eval()
    images, labels = fashion_images("train")
    keep = np.concatenate([np.flatnonzero(labels == c)[:PROBE_TRAIN_PER_CLASS] for c in range(OFFLINE_CLASSES)])
    images, labels = images[keep], labels[keep]
    body = torch.nn.Sequential(*list(model.children())[:-1], torch.nn.Flatten())
    features = []
    with torch.inference_mode():
        for start in range(0, len(images), 16):
            features.append(body(gray_to_input(images[start : start + 16], image_size)))
            if start % 160 == 0:
                log(f"probe features {start}/{len(images)}")
    model.fc = fit_linear_probe(torch.cat(features), torch.from_numpy(labels), OFFLINE_CLASSES).head()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out_path))
    log(f"probe fitted in {time.monotonic() - started:.0f}s")


def probe_head_shape(features: int, classes: int) -> torch.nn.Module:
    """An empty head of the probe's architecture, to load its saved weights into."""
    zeros = torch.zeros(features)
    return Probe(torch.zeros(classes, features), torch.zeros(classes), zeros, torch.ones(features)).head()


class ResNetWorkload(ImageWorkload):
    name = "resnet101"
    Options = ResNetOptions
    options: ResNetOptions

    def _probe_dir(self) -> Path:
        code = hashlib.sha256(
            "".join(inspect.getsource(f) for f in (fit_fashion_probe, fit_linear_probe, Probe, gray_to_input)).encode()
        ).hexdigest()
        key = identity_key({"size": self.options.image_size, "seed": self.seed, "per_class": PROBE_TRAIN_PER_CLASS,
                            "code": code}, 12)  # fmt: skip
        return self.cache_dir / "models" / f"resnet101-fashion-probe-{key}"

    def prepare_assets(self, log: Any = print) -> None:
        if self.options.torch_weights != OFFLINE_WEIGHTS:
            return
        target = self._probe_dir()

        def build(directory: Path) -> None:
            log("one-off prepare: fitting the offline ResNet-101 Fashion-MNIST probe (a few minutes)")
            fit_fashion_probe(self.seed, self.options.image_size, directory / PROBE_FILE, log)

        entry = cached_entry(target.parent, ".", target.name, build)
        if entry.note:
            self.cache_notes.append(entry.note)

    def load_model(self) -> Any:
        from torchvision.models import ResNet101_Weights, resnet101

        weights = self.options.torch_weights
        key = f"workload.weights={weights!r}"
        if weights == OFFLINE_WEIGHTS:
            from safetensors.torch import load_file

            model = seeded_resnet101(self.seed)
            model.fc = probe_head_shape(model.fc.in_features, OFFLINE_CLASSES)
            model.load_state_dict(load_file(str(self._probe_dir() / PROBE_FILE)))
        elif weights == "random":
            model = seeded_resnet101(self.seed, self._model_classes())
        elif weights in TORCHVISION_WEIGHTS:
            try:
                model = resnet101(weights=ResNet101_Weights[weights])  # needs the torch hub cache offline
            except Exception as exc:  # no cache and no network: URLError, or a damaged download
                raise ConfigError(f"{key} cannot be loaded (not in the torch hub cache and not downloadable "
                                  f"here?): {type(exc).__name__}: {exc}") from None  # fmt: skip
        else:
            state = load_state_dict_file(Path(weights).expanduser(), key)
            fc = state.get("fc.weight")
            if not isinstance(fc, torch.Tensor) or fc.ndim != 2 or fc.shape[0] < 1:
                shape = f"fc.weight of shape {list(fc.shape)}" if isinstance(fc, torch.Tensor) else "no fc.weight"
                raise ConfigError(f"{key} is not a ResNet-101 state_dict ({shape}; expected classes x 2048)")
            model = resnet101(weights=None, num_classes=state["fc.weight"].shape[0])
            load_into(model, state, key, "ResNet-101")
        return self.handle(model.float().eval(), "cnn")

    def describe(self) -> dict[str, Any]:
        weights = self.options.weights
        model = {
            OFFLINE_WEIGHTS: "resnet101 seeded random init + Fashion-MNIST linear probe (offline:fashion-probe)",
            "random": f"resnet101 seeded random init (seed {self.seed})",
        }.get(weights, f"resnet101 {weights}")
        return self.data_columns(model)


WORKLOAD = ResNetWorkload
