"""The full benchmark grid at real size with the offline defaults (measured, never asserted).

Both workloads x every configured runtime x batch 1, 4, 8, 32 at fp32, then bf16 for the runtimes
that offer it (both lists derived from conf/ and the runtimes' declared precisions). Each stage is
one resumable multirun into the same directory: re-running this script skips every job that already
has an `ok` row, so an interrupted grid continues where it stopped.

    python benchmarks/grid.py [--out outputs/benchmark] [--workloads bert,resnet101] [--batches 1,4,8,32] [--no-bf16]
Then `python -m harness.report outputs/benchmark` renders the tables and plots.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness.catalog import runtime_names, runtimes_offering  # noqa: E402

# from conf/ and each runtime's declared precisions: a runtime added as one module and one yaml is swept
RUNTIMES = ",".join(runtime_names())
BF16_RUNTIMES = ",".join(runtimes_offering("bf16"))


def stage(out: Path, workloads: str, runtimes: str, batches: str, precision: str, extra: list[str]) -> int:
    command = [
        sys.executable, "-m", "harness", "-m", f"workload={workloads}", f"runtime={runtimes}",
        f"batch={batches}", f"runtime.precision={precision}", f"hydra.sweep.dir={out}", *extra,
    ]  # fmt: skip
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("outputs/benchmark"))
    parser.add_argument("--workloads", default="bert,resnet101")
    parser.add_argument("--batches", default="1,4,8,32")
    parser.add_argument("--no-bf16", action="store_true")
    parser.add_argument("extra", nargs="*", help="more Hydra overrides, e.g. measure.max_s=10")
    args = parser.parse_args()
    codes = [stage(args.out, args.workloads, RUNTIMES, args.batches, "fp32", args.extra)]
    if not args.no_bf16:
        codes.append(stage(args.out, args.workloads, BF16_RUNTIMES, args.batches, "bf16", args.extra))
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
