"""ResNet-101 image classifier (torchvision).

`weights`: a torchvision enum name (`IMAGENET1K_V1`, `IMAGENET1K_V2`, `DEFAULT`; needs the
torch hub cache), a local state_dict (.safetensors, or .pt/.pth read with weights_only=True),
`random` (seeded init, one output per class of the data), or `offline:fashion-probe` — seeded
random init with its `fc` replaced by a linear probe fitted once on Fashion-MNIST features and cached.
`dataset`: `offline:fashion-mnist` (the subset shipped in workloads/data), an image folder
(one sub-folder per class, sorted), or a `datasets` id (e.g. `frgfm/imagenette` with
`label_map: imagenette`).

Images are converted to 8-bit RGB faithfully or rejected (`image_to_rgb`); the row counts the
images of each source mode (`image_modes`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import io
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from harness.cache import cached_entry, identity_key
from harness.config import ConfigError
from harness.options import DATA_ONLY
from workloads import tables
from workloads.base import (
    MODEL_FILE_SUFFIXES,
    OFFLINE_PREFIX,
    Inputs,
    LabelSource,
    ModelHandle,
    Workload,
    looks_like_path,
    model_file_hash,
    model_hash,
    require_existing_path,
)
from workloads.probe import Probe, fit_linear_probe

OFFLINE_WEIGHTS = "offline:fashion-probe"
OFFLINE_DATASET = "offline:fashion-mnist"
OFFLINE_SPLITS = ("test", "train")
OFFLINE_CLASSES = 10
FASHION_FILE = Path(__file__).parent / "data" / "fashion_mnist_subset.npz"
TORCHVISION_WEIGHTS = ("IMAGENET1K_V1", "IMAGENET1K_V2", "DEFAULT")
IMAGENET_CLASSES = 1000
# Imagenette's 10 classes (sorted folder order) -> ImageNet-1k indices.
LABEL_MAPS = {"imagenette": [0, 217, 482, 491, 497, 566, 569, 571, 574, 701]}
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
PROBE_TRAIN_PER_CLASS = 100
# Modes Pillow converts to RGB exactly (palette, bilevel, grey, CMYK, YCbCr); alpha is dropped, as
# torchvision's default image loader does (`ImageFolder`'s pil_loader: img.convert("RGB")).
PILLOW_EXACT_MODES = {"RGB", "RGBA", "RGBX", "RGBa", "L", "LA", "La", "1", "P", "PA", "CMYK", "YCbCr"}
SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
MAX_SAMPLES = 1_000_000


@dataclass
class ResNetOptions:
    weights: str = OFFLINE_WEIGHTS
    dataset: Annotated[str, DATA_ONLY] = OFFLINE_DATASET
    subset: Annotated[str | None, DATA_ONLY] = None
    split: Annotated[str, DATA_ONLY] = "test"
    image_column: Annotated[str, DATA_ONLY] = "image"
    label_column: Annotated[str, DATA_ONLY] = "label"
    # maps dataset class indices to the model's (e.g. imagenette)
    label_map: Annotated[Literal["imagenette"] | None, DATA_ONLY] = None
    n_samples: Annotated[int, Field(ge=1, le=MAX_SAMPLES), DATA_ONLY] = 500  # at most this many (seeded sample)
    image_size: Annotated[int, Field(ge=32, le=1024)] = 224
    # int8: where quantizers calibrate (disjoint from the eval set); None: the offline data's training split
    calibration_dataset: Annotated[str | None, DATA_ONLY] = None
    calibration_split: Annotated[str, DATA_ONLY] = "train"
    # when `weights` is a model file (.onnx, .xml: e.g. an INT8 model made elsewhere): the fp32 weights it is
    # compared with
    reference_weights: str | None = None

    def prebuilt_file(self) -> str | None:
        """The model file to run as it is, when `weights` names one."""
        return self.weights if Path(self.weights).suffix in MODEL_FILE_SUFFIXES else None

    @property
    def torch_weights(self) -> str:
        """The PyTorch weights: `weights`, or for a model file its `reference_weights`."""
        return self.reference_weights if self.prebuilt_file() and self.reference_weights else self.weights

    def validate(self) -> None:
        allowed_weights = f"{', '.join(TORCHVISION_WEIGHTS)}, random, {OFFLINE_WEIGHTS}, or a state_dict file"
        if self.prebuilt_file():
            if not Path(self.weights).expanduser().is_file():
                raise ConfigError(f"workload.weights={self.weights!r} does not exist")
            if self.reference_weights is None:
                raise ConfigError(f"workload.weights={self.weights!r} is a model file: give "
                                  "workload.reference_weights, the fp32 weights it is compared with")  # fmt: skip
        elif self.reference_weights is not None:
            raise ConfigError(f"workload.reference_weights={self.reference_weights!r} has no effect: it belongs to a "
                              "model file (.onnx, .xml) in workload.weights")  # fmt: skip
        weights = self.torch_weights
        if weights.startswith(OFFLINE_PREFIX) and weights != OFFLINE_WEIGHTS:
            raise ConfigError(f"workload.weights={weights!r} is unknown; allowed: {allowed_weights}")
        if (
            weights not in (*TORCHVISION_WEIGHTS, "random", OFFLINE_WEIGHTS)
            and not Path(weights).expanduser().is_file()
        ):
            raise ConfigError(f"workload.weights={weights!r} does not exist; allowed: {allowed_weights}")
        hub = not self.dataset.startswith(OFFLINE_PREFIX) and not looks_like_path(self.dataset)
        if self.dataset.startswith(OFFLINE_PREFIX):
            if self.dataset != OFFLINE_DATASET:
                raise ConfigError(f"workload.dataset={self.dataset!r} is unknown; offline dataset: {OFFLINE_DATASET}")
            if self.split not in OFFLINE_SPLITS:
                raise ConfigError(f"workload.split={self.split!r} is not a split of {OFFLINE_DATASET}; allowed: "
                                  f"{', '.join(OFFLINE_SPLITS)}")  # fmt: skip
        elif Path(self.dataset).expanduser().is_dir() and self.split != "test":
            raise ConfigError(f"workload.split={self.split!r} has no effect on an image folder (its class folders "
                              "are the data); leave it at test")  # fmt: skip
        if not hub:
            for key, value, default in (("subset", self.subset, None), ("image_column", self.image_column, "image"),
                                        ("label_column", self.label_column, "label")):  # fmt: skip
                if value != default:
                    raise ConfigError(f"workload.{key}={value!r} has no effect on {self.dataset!r}: it applies to "
                                      f"`datasets` hub ids only; leave it at {default!r}")  # fmt: skip
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


def image_to_rgb(image: Any, name: str) -> Any:
    """A Pillow image as an 8-bit RGB image with the same picture, or ConfigError naming the file.

    16-bit grey (I;16*) is scaled from 0..65535 to 0..255 (Pillow's own convert would clip it to white);
    32-bit integer (I) likewise when its values fit 16 bits; float (F) is read as 0..1 intensities when
    its values lie there, as 0..255 when they lie there; other modes Pillow converts exactly (alpha is
    dropped, as torchvision's loader does). Anything else is rejected rather than guessed."""
    from PIL import Image

    mode = image.mode
    if mode in PILLOW_EXACT_MODES:
        return image.convert("RGB")
    if mode in SIXTEEN_BIT_MODES or mode == "I":
        values = np.asarray(image).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ConfigError(f"image {name}: mode {mode} with values {values.min()}..{values.max()} outside 0..65535 "
                              "has no faithful 8-bit rendering; convert it first")  # fmt: skip
        grey = ((values * 255 + 32767) // 65535).astype(np.uint8)
    elif mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all() or values.min() < 0 or values.max() > 255:
            raise ConfigError(f"image {name}: float image with values outside 0..1 or 0..255 has no faithful 8-bit "
                              "rendering; convert it first")  # fmt: skip
        scale = 255.0 if values.max() <= 1.0 else 1.0
        grey = np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)
    else:
        raise ConfigError(f"image {name}: mode {mode} is not converted to RGB by this harness (allowed: "
                          f"{', '.join(sorted(PILLOW_EXACT_MODES | SIXTEEN_BIT_MODES | {'I', 'F'}))})")  # fmt: skip
    return Image.fromarray(grey, mode="L").convert("RGB")


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


def output_count(head: torch.nn.Module) -> int:
    """Classes a classification head scores: the out_features of its last Linear layer."""
    linears = [m for m in head.modules() if isinstance(m, torch.nn.Linear)]
    return int(linears[-1].out_features)


PROBE_FILE = "model.safetensors"


class ResNetWorkload(Workload):
    name = "resnet101"
    Options = ResNetOptions
    options: ResNetOptions

    def __init__(self, options: ResNetOptions, seed: int, cache_dir: Path) -> None:
        super().__init__(options, seed, cache_dir)
        self._images = np.zeros(0, dtype=np.uint8)
        self._grey = True
        self._modes: Counter[str] = Counter()
        self._all_labels = np.zeros(0, dtype=np.int64)
        self._declared_classes: int | None = None

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

    def _model_classes(self) -> int:
        """Outputs a seeded random model gets: one per class the data scores against."""
        if self.options.label_map:
            return IMAGENET_CLASSES
        return self._declared_classes or (int(self._all_labels.max()) + 1 if self._all_labels.size else 1)

    def _load_state_dict(self, path: Path) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        key = f"workload.weights={self.options.torch_weights!r}"
        try:
            state = load_file(str(path)) if path.suffix == ".safetensors" else torch.load(path, weights_only=True)
        except Exception as exc:  # safetensors / unpickler errors: not a weights-only state_dict
            raise ConfigError(f"{key} cannot be read as a weights-only state_dict ({type(exc).__name__})") from None
        if not isinstance(state, dict) or not isinstance(state.get("fc.weight"), torch.Tensor):
            raise ConfigError(f"{key} is not a ResNet-101 state_dict (no fc.weight tensor)")
        return state

    def load_model(self) -> ModelHandle:
        from torchvision.models import ResNet101_Weights, resnet101

        weights = self.options.torch_weights
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
                raise ConfigError(f"workload.weights={weights!r} cannot be loaded (not in the torch hub cache and not "
                                  f"downloadable here?): {type(exc).__name__}: {exc}") from None  # fmt: skip
        else:
            state = self._load_state_dict(Path(weights).expanduser())
            model = resnet101(weights=None, num_classes=state["fc.weight"].shape[0])
            try:
                model.load_state_dict(state)
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[0]
                raise ConfigError(f"workload.weights={weights!r} does not fit ResNet-101 ({first})") from None
        model = model.float().eval()
        prebuilt = self.options.prebuilt_file()
        return ModelHandle(
            prebuilt=Path(prebuilt).expanduser() if prebuilt else None,
            module=model,
            input_names=["pixel_values"],
            dynamic_dims={"pixel_values": {0: "batch"}},
            example=self.make_batch([0, min(1, self.n_samples - 1)]),
            model_hash=model_file_hash(Path(prebuilt).expanduser()) if prebuilt else model_hash(model),
            kind="cnn",
            n_outputs=output_count(model.fc),
        )

    def load_eval_set(self) -> None:
        opts = self.options
        if opts.dataset == OFFLINE_DATASET:
            images, labels = fashion_images(opts.split)
            self._grey, self._declared_classes = True, OFFLINE_CLASSES
            self._modes = Counter({"L": 0})  # counted over the sample below
        else:
            images, labels = self._read_images()
            self._grey = False
        if opts.label_map:
            mapping = LABEL_MAPS[opts.label_map]
            classes = self._declared_classes or int(labels.max()) + 1
            if classes != len(mapping) or labels.max() >= len(mapping):
                raise ConfigError(f"workload.label_map={opts.label_map!r} maps {len(mapping)} classes but dataset "
                                  f"{opts.dataset!r} has {classes}")  # fmt: skip
            labels = np.asarray(mapping)[labels]
        self._all_labels = labels
        if len(labels) > opts.n_samples:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(labels), opts.n_samples, replace=False))
            images, labels = images[keep], labels[keep]
            if opts.dataset != OFFLINE_DATASET:
                self._modes = Counter(self._mode_list[i] for i in keep)
        if opts.dataset == OFFLINE_DATASET:
            self._modes = Counter({"L": len(labels)})
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
            empty = [d.name for k, d in enumerate(classes) if not any(label == k for _, label in files)]
            if empty:
                raise ConfigError(f"dataset {opts.dataset!r}: class folder(s) {', '.join(empty[:5])} hold no images")
            sources: list[Any] = [f for f, _ in files]
            labels = np.asarray([k for _, k in files], dtype=np.int64)
            self._declared_classes = len(classes)
        else:
            frame, names = tables.load_hf_dataset(opts.dataset, opts.subset, opts.split)
            tables.require_columns(frame, opts.dataset, opts.image_column, opts.label_column)
            sources = list(frame[opts.image_column])
            labels = tables.label_column(frame, opts.dataset, opts.label_column, None)
            self._declared_classes = len(names) if names else None
        pictures, modes = [], []
        for source in sources:
            picture, mode = self._open_image(source)
            pictures.append(self._crop(picture))
            modes.append(mode)
        self._mode_list = modes
        self._modes = Counter(modes)
        return np.stack(pictures), labels

    def _open_image(self, source: Any) -> tuple[Any, str]:
        from PIL import Image

        name = str(source) if not isinstance(source, dict) else str(source.get("path") or "<image bytes>")
        try:
            if isinstance(source, dict) and source.get("bytes"):  # datasets' Image feature as pandas
                source = io.BytesIO(source["bytes"])
            image = Image.open(source)
            image.load()
        except Exception as exc:  # UnidentifiedImageError, truncated files, decompression bombs
            raise ConfigError(f"dataset {self.options.dataset!r}: unreadable image {name} "
                              f"({type(exc).__name__}: {exc})") from None  # fmt: skip
        return image_to_rgb(image, name), image.mode

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

    def calibration_options(self, n_samples: int) -> ResNetOptions:
        opts = self.options
        if opts.calibration_dataset is None and opts.dataset != OFFLINE_DATASET:
            raise ConfigError("quantization needs calibration data disjoint from the eval set: give "
                              "workload.calibration_dataset (an image folder or `datasets` id)")  # fmt: skip
        if opts.calibration_dataset in (None, OFFLINE_DATASET):
            return dataclasses.replace(opts, dataset=OFFLINE_DATASET, split="train", n_samples=n_samples)
        split = opts.calibration_split if not Path(opts.calibration_dataset).expanduser().is_dir() else "test"
        return dataclasses.replace(opts, dataset=opts.calibration_dataset, split=split, n_samples=n_samples)

    def label_source(self) -> LabelSource:
        return LabelSource(self._all_labels, self._declared_classes, f"dataset {self.options.dataset!r}")

    def label_map_name(self) -> str | None:
        return self.options.label_map

    def describe(self) -> dict[str, Any]:
        weights = self.options.weights
        model = {
            OFFLINE_WEIGHTS: "resnet101 seeded random init + Fashion-MNIST linear probe (offline:fashion-probe)",
            "random": f"resnet101 seeded random init (seed {self.seed})",
        }.get(weights, f"resnet101 {weights}")
        if self.options.prebuilt_file():
            model = f"{weights} (a model file; reference: {self.options.reference_weights})"
        return {
            "model": model,
            "dataset": f"{self.options.dataset}:{self.options.split}",
            "seq_len": None,
            "image_size": self.options.image_size,
            "image_modes": json.dumps(dict(sorted(self._modes.items())), separators=(",", ":")),
        }


WORKLOAD = ResNetWorkload
