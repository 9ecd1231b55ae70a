"""ResNet-101 image classifier (torchvision).

`weights`: a torchvision enum name (`IMAGENET1K_V1`, `IMAGENET1K_V2`, `DEFAULT`; needs the
torch hub cache), a local state_dict (.safetensors, or .pt/.pth read with weights_only=True),
`random` (seeded init, 1000 classes), or `offline:fashion-probe` — seeded random init with
its `fc` replaced by a linear probe fitted once on Fashion-MNIST features and cached.
`dataset`: `offline:fashion-mnist` (the subset shipped in workloads/data), an image folder
(one sub-folder per class, sorted), or a `datasets` id (e.g. `frgfm/imagenette` with
`label_map: imagenette`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from harness.config import ConfigError, check_int
from workloads.base import (
    OFFLINE_PREFIX,
    Inputs,
    ModelHandle,
    Workload,
    array_hash,
    require_existing_path,
    tensor_hash,
)
from workloads.probe import Probe, fit_linear_probe

OFFLINE_WEIGHTS = "offline:fashion-probe"
OFFLINE_DATASET = "offline:fashion-mnist"
FASHION_FILE = Path(__file__).parent / "data" / "fashion_mnist_subset.npz"
TORCHVISION_WEIGHTS = ("IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT")
# Imagenette's 10 classes (sorted folder order) -> ImageNet-1k indices.
LABEL_MAPS = {"imagenette": [0, 217, 482, 491, 497, 566, 569, 571, 574, 701]}
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
PROBE_TRAIN_PER_CLASS = 100


@dataclass
class ResNetOptions:
    weights: str = OFFLINE_WEIGHTS
    dataset: str = OFFLINE_DATASET
    subset: str | None = None
    split: str = "test"
    image_column: str = "image"
    label_column: str = "label"
    label_map: str | None = None  # maps dataset class indices to the model's (e.g. imagenette)
    n_samples: int = 500
    image_size: int = 224

    def validate(self) -> None:
        self.n_samples = check_int("workload.n_samples", self.n_samples, 1)
        self.image_size = check_int("workload.image_size", self.image_size, 32, 1024)
        if self.label_map is not None and self.label_map not in LABEL_MAPS:
            raise ConfigError(
                f"workload.label_map={self.label_map!r} is unknown; allowed: null, {', '.join(LABEL_MAPS)}"
            )
        allowed_weights = f"{', '.join(TORCHVISION_WEIGHTS)}, random, {OFFLINE_WEIGHTS}, or a state_dict file"
        if self.weights.startswith(OFFLINE_PREFIX) and self.weights != OFFLINE_WEIGHTS:
            raise ConfigError(f"workload.weights={self.weights!r} is unknown; allowed: {allowed_weights}")
        if (
            self.weights not in (*TORCHVISION_WEIGHTS, "random", OFFLINE_WEIGHTS)
            and not Path(self.weights).expanduser().exists()
        ):
            raise ConfigError(f"workload.weights={self.weights!r} does not exist; allowed: {allowed_weights}")
        if self.dataset.startswith(OFFLINE_PREFIX) and self.dataset != OFFLINE_DATASET:
            raise ConfigError(f"workload.dataset={self.dataset!r} is unknown; offline dataset: {OFFLINE_DATASET}")
        require_existing_path(
            "workload.dataset", self.dataset, f"an image folder, a `datasets` id, or {OFFLINE_DATASET}"
        )


def fashion_images(split: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(FASHION_FILE) as data:
        return data[f"{split}_images"], data[f"{split}_labels"].astype(np.int64)


def gray_to_input(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8 N×28×28 grey images -> normalised N×3×size×size float tensor."""
    x = torch.from_numpy(images).float().div_(255).unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).expand(-1, 3, -1, -1)
    return (x - IMAGENET_MEAN) / IMAGENET_STD


def rgb_to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 N×H×W×3 (already resized and cropped) -> normalised N×3×H×W float tensor."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    return (x - IMAGENET_MEAN) / IMAGENET_STD


def seeded_resnet101(seed: int, num_classes: int = 1000) -> torch.nn.Module:
    from torchvision.models import resnet101

    torch.manual_seed(seed)
    return resnet101(weights=None, num_classes=num_classes)


def fit_fashion_probe(seed: int, image_size: int, out_path: Path, log: Any = print) -> None:
    """Seeded random ResNet-101 features + a logistic-regression `fc` fitted on Fashion-MNIST."""
    from safetensors.torch import save_file

    started = time.monotonic()
    model = seeded_resnet101(seed).eval()
    images, labels = fashion_images("train")
    keep = np.concatenate([np.flatnonzero(labels == c)[:PROBE_TRAIN_PER_CLASS] for c in range(10)])
    images, labels = images[keep], labels[keep]
    body = torch.nn.Sequential(*list(model.children())[:-1], torch.nn.Flatten())
    features = []
    with torch.inference_mode():
        for start in range(0, len(images), 16):
            features.append(body(gray_to_input(images[start : start + 16], image_size)))
            if start % 160 == 0:
                log(f"probe features {start}/{len(images)}")
    model.fc = fit_linear_probe(torch.cat(features), torch.from_numpy(labels), 10).head()
    tmp = out_path.with_name(out_path.name + ".tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.rename(out_path)
    log(f"probe fitted in {time.monotonic() - started:.0f}s")


def probe_head_shape(features: int, classes: int) -> torch.nn.Module:
    """An empty head of the probe's architecture, to load its saved weights into."""
    zeros = torch.zeros(features)
    return Probe(torch.zeros(classes, features), torch.zeros(classes), zeros, torch.ones(features)).head()


class ResNetWorkload(Workload):
    name = "resnet101"
    Options = ResNetOptions
    options: ResNetOptions

    def __init__(self, options: ResNetOptions, seed: int, cache_dir: Path) -> None:
        super().__init__(options, seed, cache_dir)
        self._images = np.zeros(0, dtype=np.uint8)
        self._grey = True

    def _probe_path(self) -> Path:
        return (
            self.cache_dir
            / "models"
            / f"resnet101-fashion-probe-v2-seed{self.seed}-{self.options.image_size}px.safetensors"
        )

    def prepare_assets(self, log: Any = print) -> None:
        if self.options.weights != OFFLINE_WEIGHTS or self._probe_path().exists():
            return
        from harness.locking import file_lock

        with file_lock(self._probe_path().with_suffix(".lock")):
            if not self._probe_path().exists():
                log("one-off prepare: fitting the offline ResNet-101 Fashion-MNIST probe (a few minutes)")
                fit_fashion_probe(self.seed, self.options.image_size, self._probe_path(), log)

    def load_model(self) -> ModelHandle:
        from safetensors.torch import load_file
        from torchvision.models import ResNet101_Weights, resnet101

        weights = self.options.weights
        if weights == OFFLINE_WEIGHTS:
            model = seeded_resnet101(self.seed)
            model.fc = probe_head_shape(model.fc.in_features, 10)
            model.load_state_dict(load_file(str(self._probe_path())))
        elif weights == "random":
            model = seeded_resnet101(self.seed)
        elif weights in TORCHVISION_WEIGHTS:
            model = resnet101(weights=ResNet101_Weights[weights])  # needs the torch hub cache offline
        else:
            path = Path(weights).expanduser()
            state = load_file(str(path)) if path.suffix == ".safetensors" else torch.load(path, weights_only=True)
            model = resnet101(weights=None, num_classes=state["fc.weight"].shape[0])
            model.load_state_dict(state)
        model = model.float().eval()
        return ModelHandle(
            module=model,
            input_names=["pixel_values"],
            dynamic_dims={"pixel_values": {0: "batch"}},
            example=self.make_batch([0, min(1, self.n_samples - 1)]),
            content_hash=tensor_hash(model.state_dict()),
            kind="cnn",
        )

    def load_eval_set(self) -> None:
        opts = self.options
        if opts.dataset == OFFLINE_DATASET:
            images, labels = fashion_images(opts.split if opts.split in ("train", "test") else "test")
            self._grey = True
        else:
            images, labels = self._read_images()
            self._grey = False
        if len(labels) > opts.n_samples:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(labels), opts.n_samples, replace=False))
            images, labels = images[keep], labels[keep]
        if opts.label_map:
            labels = np.asarray(LABEL_MAPS[opts.label_map])[labels]
        self._images, self.labels = images, labels

    def _read_images(self) -> tuple[np.ndarray, np.ndarray]:
        opts = self.options
        path = Path(opts.dataset).expanduser()
        if path.is_dir():
            classes = sorted(p for p in path.iterdir() if p.is_dir())
            files = [
                (f, k) for k, d in enumerate(classes) for f in sorted(d.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES
            ]
            if not files:
                raise ConfigError(
                    f"dataset {opts.dataset!r} holds no images; expected one sub-folder per class with "
                    f"{', '.join(sorted(IMAGE_SUFFIXES))} files"
                )
            pictures = [self._open_image(f) for f, _ in files]
            labels = [k for _, k in files]
        else:
            from workloads.bert import load_hf_dataset

            frame = load_hf_dataset(opts.dataset, opts.subset, opts.split)
            for column in (opts.image_column, opts.label_column):
                if column not in frame.columns:
                    raise ConfigError(
                        f"dataset {opts.dataset!r} has no column {column!r}; its columns: {', '.join(frame.columns)}"
                    )
            pictures = [self._open_image(item) for item in frame[opts.image_column]]
            labels = frame[opts.label_column].astype(int).tolist()
        return np.stack([self._crop(p) for p in pictures]), np.asarray(labels, dtype=np.int64)

    def _open_image(self, source: Any) -> Any:
        from PIL import Image, UnidentifiedImageError

        try:
            if isinstance(source, dict) and source.get("bytes"):  # datasets' Image feature as pandas
                import io

                source = io.BytesIO(source["bytes"])
            return Image.open(source).convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            raise ConfigError(f"dataset {self.options.dataset!r}: unreadable image {source!s} ({exc})") from None

    def _crop(self, image: Any) -> np.ndarray:
        """The usual ImageNet eval transform: resize the short side to 8/7 of the size, centre-crop."""
        size = self.options.image_size
        short = round(size * 8 / 7)
        w, h = image.size
        scale = short / min(w, h)
        image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))))
        w, h = image.size
        left, top = (w - size) // 2, (h - size) // 2
        return np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.uint8)

    def make_batch(self, indices: list[int]) -> Inputs:
        images = self._images[indices]
        pixels = gray_to_input(images, self.options.image_size) if self._grey else rgb_to_input(images)
        return {"pixel_values": pixels.contiguous()}

    def describe(self) -> dict[str, Any]:
        weights = self.options.weights
        model = {
            OFFLINE_WEIGHTS: "resnet101 seeded random init + Fashion-MNIST linear probe (offline:fashion-probe)",
            "random": f"resnet101 seeded random init (seed {self.seed})",
        }.get(weights, f"resnet101 {weights}")
        return {
            "model": model,
            "dataset": f"{self.options.dataset}:{self.options.split}",
            "seq_len": None,
            "image_size": self.options.image_size,
        }

    def data_key(self) -> str:
        return array_hash(self._images, self.labels) + f"-{self.options.image_size}"


WORKLOAD = ResNetWorkload
