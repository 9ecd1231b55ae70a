"""The full benchmark grid at real size with the offline defaults (measured, never asserted).

Both workloads x batch 1, 4, 8, 32 x each precision in --precisions (default fp32, bf16) for every
configured runtime that offers it (both lists derived from conf/ and the runtimes' declared
precisions). Each precision is one resumable multirun into the same directory: re-running this
script skips every job that already has an `ok` row, so an interrupted grid continues where it stopped.

    python benchmarks/grid.py [--out outputs/benchmark] [--workloads bert,resnet101] [--batches 1,4,8,32]
                              [--precisions fp32,bf16,int8] [extra Hydra overrides...]
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
PRECISIONS = sorted({p for name in runtime_names() for p in ("fp32", "bf16", "int8", "int8_dynamic")
                     if name in runtimes_offering(p)})  # fmt: skip


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
    parser.add_argument("--precisions", default="fp32,bf16", help=f"any of {', '.join(PRECISIONS)}")
    parser.add_argument("extra", nargs="*", help="more Hydra overrides, e.g. measure.max_s=10")
    args = parser.parse_args()
    precisions = args.precisions.split(",")
    unknown = [p for p in precisions if p not in PRECISIONS]
    if unknown:
        print(f"grid: unknown precision(s) {', '.join(unknown)}; allowed: {', '.join(PRECISIONS)}", file=sys.stderr)
        return 2
    codes = [stage(args.out, args.workloads, ",".join(runtimes_offering(p)), args.batches, p, args.extra)
             for p in precisions]  # fmt: skip
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
