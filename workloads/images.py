"""What every image classifier workload shares: the data (the offline Fashion-MNIST subset, image
folders, `datasets` hub ids), faithful conversion of each image mode to 8-bit RGB, the ImageNet eval
transform, labels and label maps, calibration splits, and model files run as they are.

`workloads/resnet101.py` (ResNet-101 with the offline probe) and `workloads/torchvision_classifier.py`
(any torchvision classification model by name) build on it.
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from harness.config import ConfigError
from harness.options import DATA_ONLY, STATIC_INT8
from workloads import tables
from workloads.base import (
    MODEL_FILE_SUFFIXES,
    OFFLINE_PREFIX,
    Inputs,
    LabelSource,
    ModelHandle,
    Workload,
    check_calibration_data,
    looks_like_path,
    missing_calibration,
    model_hash,
    prebuilt_model_hash,
    require_existing_path,
)

OFFLINE_DATASET = "offline:fashion-mnist"
OFFLINE_SPLITS = ("test", "train")
OFFLINE_CLASSES = 10
FASHION_FILE = Path(__file__).parent / "data" / "fashion_mnist_subset.npz"
IMAGENET_CLASSES = 1000
EXIF_ORIENTATION = 0x0112  # EXIF 2.32 (CIPA DC-008), tag 274: 1 is "as stored"
# Imagenette's 10 classes (sorted folder order) -> ImageNet-1k indices.
LABEL_MAPS = {"imagenette": [0, 217, 482, 491, 497, 566, 569, 571, 574, 701]}
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
# torchvision's ImageFolder extensions (IMG_EXTENSIONS) plus GIF and the other Netpbm formats
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pbm", ".pnm"}
# Modes Pillow converts to RGB exactly (palette, bilevel, grey, CMYK, YCbCr); alpha is dropped, as
# torchvision's default image loader does (`ImageFolder`'s pil_loader: img.convert("RGB")).
PILLOW_EXACT_MODES = {"RGB", "RGBA", "RGBX", "RGBa", "L", "LA", "La", "1", "P", "PA", "CMYK", "YCbCr"}
SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
MAX_SAMPLES = 1_000_000


@dataclass
class ImageDataOptions:
    """The data options every image workload has; subclasses add `weights` and `reference_weights`."""

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
    calibration_dataset: Annotated[str | None, DATA_ONLY, STATIC_INT8] = None
    calibration_split: Annotated[str, DATA_ONLY, STATIC_INT8] = "train"

    def calibration_problem(self) -> str | None:
        """Why static quantization cannot calibrate with these options (None: it can): missing_calibration."""
        allowed = "an image folder or `datasets` id"
        return missing_calibration(self.dataset, self.calibration_dataset, OFFLINE_DATASET, allowed)

    def prebuilt_file(self) -> str | None:
        """The model file to run as it is, when `weights` names one."""
        weights = getattr(self, "weights", "")
        return weights if Path(weights).suffix in MODEL_FILE_SUFFIXES else None

    @property
    def torch_weights(self) -> str:
        """The PyTorch weights: `weights`, or for a model file its `reference_weights`."""
        reference = getattr(self, "reference_weights", None)
        return reference if self.prebuilt_file() and reference else getattr(self, "weights", "")

    def validate_model_file(self) -> None:
        reference = getattr(self, "reference_weights", None)
        if self.prebuilt_file():
            if not Path(self.prebuilt_file() or "").expanduser().is_file():
                raise ConfigError(f"workload.weights={self.prebuilt_file()!r} does not exist")
            if reference is None:
                raise ConfigError(f"workload.weights={self.prebuilt_file()!r} is a model file: give "
                                  "workload.reference_weights, the fp32 weights it is compared with")  # fmt: skip
        elif reference is not None:
            raise ConfigError(f"workload.reference_weights={reference!r} has no effect: it belongs to a "
                              "model file (.onnx, .xml) in workload.weights")  # fmt: skip

    def validate_data(self) -> None:
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
        calibration = self.calibration_dataset
        if calibration is not None and looks_like_path(calibration) and self.calibration_split != "train":
            raise ConfigError(f"workload.calibration_split={self.calibration_split!r} has no effect on the "
                              f"image folder {calibration!r} (its class folders are the data); leave it "
                              "at train")  # fmt: skip
        if not hub:
            for key, value, default in (("subset", self.subset, None), ("image_column", self.image_column, "image"),
                                        ("label_column", self.label_column, "label")):  # fmt: skip
                if value != default:
                    raise ConfigError(f"workload.{key}={value!r} has no effect on {self.dataset!r}: it applies to "
                                      f"`datasets` hub ids only; leave it at {default!r}")  # fmt: skip
        require_existing_path(
            "workload.dataset", self.dataset, f"an image folder, a `datasets` id, or {OFFLINE_DATASET}"
        )
        check_calibration_data(calibration, self.calibration_split, OFFLINE_DATASET, "an image folder, a `datasets` id")


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


def output_count(model: torch.nn.Module) -> int:
    """Classes a classifier scores: the out_features of its last Linear layer (ResNet's fc, MobileNet's
    and ViT's heads)."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    return int(linears[-1].out_features)


def load_state_dict_file(path: Path, key: str) -> dict[str, torch.Tensor]:
    """A state_dict from .safetensors, or .pt/.pth read with weights_only=True; ConfigError otherwise."""
    from safetensors.torch import load_file

    try:
        state = load_file(str(path)) if path.suffix == ".safetensors" else torch.load(path, weights_only=True)
    except Exception as exc:  # safetensors / unpickler errors: not a weights-only state_dict
        raise ConfigError(f"{key} cannot be read as a weights-only state_dict ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{key} is not a state_dict of tensors")
    return state


def load_into(model: torch.nn.Module, state: dict[str, torch.Tensor], key: str, what: str) -> None:
    """Load `state` into `model` strictly: every tensor's shape is checked against the model's first
    (ConfigError naming the first that differs), then missing or unused keys (load_state_dict, strict)."""
    own = model.state_dict()
    for name, tensor in state.items():
        if name in own and tuple(tensor.shape) != tuple(own[name].shape):
            raise ConfigError(f"{key} does not fit {what} ({name} has shape {list(tensor.shape)}, "
                              f"the model's is {list(own[name].shape)})")  # fmt: skip
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ConfigError(f"{key} does not fit {what} ({first})") from None


class ImageWorkload(Workload):
    """Images in, class logits out: everything but loading the model (`load_model`) and describing it."""

    def __init__(self, options: ImageDataOptions, seed: int, cache_dir: Path) -> None:
        super().__init__(options, seed, cache_dir)
        self._images = np.zeros(0, dtype=np.uint8)
        self._grey = True
        self._modes: Counter[str] = Counter()
        self._mode_list: list[str] = []
        self._all_labels = np.zeros(0, dtype=np.int64)
        self._declared_classes: int | None = None

    def _model_classes(self) -> int:
        """Outputs a seeded random model gets: one per class the data scores against."""
        if self.options.label_map:
            return IMAGENET_CLASSES
        return self._declared_classes or (int(self._all_labels.max()) + 1 if self._all_labels.size else 1)

    def handle(self, model: torch.nn.Module, kind: str) -> ModelHandle:
        """The ModelHandle of an fp32 image model (or, with a model file in `weights`, of its reference)."""
        prebuilt = self.options.prebuilt_file()
        reference = model_hash(model)  # a model file's identity holds its reference model's too
        return ModelHandle(
            prebuilt=Path(prebuilt).expanduser() if prebuilt else None,
            module=model,
            input_names=["pixel_values"],
            dynamic_dims={"pixel_values": {0: "batch"}},
            example=self.make_batch([0, min(1, self.n_samples - 1)]),
            model_hash=prebuilt_model_hash(Path(prebuilt).expanduser(), reference) if prebuilt else reference,
            kind=kind,
            n_outputs=output_count(model),
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
        frames = getattr(image, "n_frames", 1)
        # which frame is "the" image is a guess in an animated GIF or a multi-page TIFF; a JPEG carrying a
        # second image (MPO: phones' gain maps, stereo pairs) names its first as the primary one (CIPA
        # DC-007), which is what Pillow and torchvision's ImageFolder read
        if frames > 1 and image.format != "MPO":
            raise ConfigError(f"dataset {self.options.dataset!r}: image {name} holds {frames} frames; give "
                              "single-frame images")  # fmt: skip
        # EXIF orientation is not applied, as torchvision's ImageFolder (PIL's default loader) reads files:
        # the pixels as stored. An image a viewer would show rotated is counted apart in `image_modes`.
        orientation = image.getexif().get(EXIF_ORIENTATION, 1)
        mode = image.mode if orientation in (1, None) else f"{image.mode}+exif-orientation-{orientation}"
        return image_to_rgb(image, name), mode

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

    def calibration_options(self, n_samples: int) -> ImageDataOptions:
        opts = self.options
        if problem := opts.calibration_problem():
            raise ConfigError(problem)
        if opts.calibration_dataset in (None, OFFLINE_DATASET):
            return dataclasses.replace(opts, dataset=OFFLINE_DATASET, split="train", n_samples=n_samples)
        split = opts.calibration_split if not Path(opts.calibration_dataset).expanduser().is_dir() else "test"
        return dataclasses.replace(opts, dataset=opts.calibration_dataset, split=split, n_samples=n_samples)

    def label_source(self) -> LabelSource:
        return LabelSource(self._all_labels, self._declared_classes, f"dataset {self.options.dataset!r}")

    def label_map_name(self) -> str | None:
        return self.options.label_map

    def data_columns(self, model: str) -> dict[str, Any]:
        if self.options.prebuilt_file():
            model = f"{self.options.prebuilt_file()} (a model file; reference: {self.options.reference_weights})"
        return {
            "model": model,
            "dataset": f"{self.options.dataset}:{self.options.split}",
            "seq_len": None,
            "image_size": self.options.image_size,
            "image_modes": json.dumps(dict(sorted(self._modes.items())), separators=(",", ":")),
        }
