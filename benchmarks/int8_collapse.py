"""Why every INT8 quantizer collapses the offline ResNet-101 (docs/RESULTS.md, INT8): how much of its
pooled features depends on the image, and what INT8 rounding of those features alone does to the probe.
Eager fp32 on 200 Fashion-MNIST test images; the probe is fitted into --cache-dir first if absent.

    python benchmarks/int8_collapse.py [--cache-dir outputs/cache]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workloads.images import fashion_images, gray_to_input  # noqa: E402
from workloads.resnet101 import ResNetOptions, ResNetWorkload  # noqa: E402

N_IMAGES = 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, default=Path("outputs/cache"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    workload = ResNetWorkload(ResNetOptions(), 0, args.cache_dir.resolve())  # the harness's defaults (seed 0)
    workload.prepare_assets()
    model = workload.load_model().module
    images, labels = fashion_images("test")
    images, labels = images[:N_IMAGES], torch.from_numpy(labels[:N_IMAGES])
    body = torch.nn.Sequential(*list(model.children())[:-1], torch.nn.Flatten())
    with torch.inference_mode():
        features = torch.cat([body(gray_to_input(images[i : i + 20], 224)) for i in range(0, N_IMAGES, 20)])
        accuracy = (model.fc(features).argmax(1) == labels).float().mean()
        mean = features.mean(0)
        cosine = torch.nn.functional.cosine_similarity(features[:, None], features[None], dim=-1)
        between = cosine[~torch.eye(N_IMAGES, dtype=torch.bool)]
        step = features.abs().max() / 127  # one step of a symmetric per-tensor INT8 scale
        rounded = torch.round(features / step).clamp(-127, 127) * step
        accuracy_rounded = (model.fc(rounded).argmax(1) == labels).float().mean()
    print(f"fp32 probe accuracy on {N_IMAGES} test images: {accuracy:.3f}")
    print(f"cosine similarity of the pooled features of two different images: median {between.median():.6f}, "
          f"min {between.min():.6f}")  # fmt: skip
    print(f"image-dependent part: median |f - mean| per feature {(features - mean).abs().median():.4g}; "
          f"one INT8 step of a per-tensor scale {step:.4g}")  # fmt: skip
    print(f"probe accuracy after INT8 rounding of the pooled features alone: {accuracy_rounded:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
