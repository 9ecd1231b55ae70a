"""Does the calibration GEMM before a job read slower than after it on a quiet machine? (measured, never
asserted; run it with nothing else running.)

Each trial is a fresh process, like a job: the calibration GEMM (harness.machine.calibration_ms) with a
given untimed warm-up, then `--work-s` seconds of BERT-sized fp32 matmuls standing in for the job, then
the calibration GEMM again. Prints the after/before ratios per warm-up: a median below 1 means the
"before" GEMM is biased slow, and rows get flagged as measured on a drifting machine (DRIFT) when the
machine did not drift.

    python benchmarks/calibration_warmup.py [--trials 10] [--work-s 3] [--warmups 0,0.2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TRIAL = """
import json, sys, time
import torch
sys.path.insert(0, {root!r})
from harness.machine import calibration_ms
torch.set_num_threads(2)
before = calibration_ms(2, warmup_s={warmup})
a, b = torch.randn(128, 768), torch.randn(768, 3072)
until = time.perf_counter() + {work_s}
while time.perf_counter() < until:
    torch.mm(a, b)
after = calibration_ms(2, warmup_s={warmup})
print(json.dumps([before, after]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--work-s", type=float, default=3.0)
    parser.add_argument("--warmups", default="0,0.2", help="untimed warm-up seconds to try, comma-separated")
    args = parser.parse_args()
    for warmup in (float(w) for w in args.warmups.split(",")):
        ratios = []
        for _ in range(args.trials):
            code = TRIAL.format(root=str(ROOT), warmup=warmup, work_s=args.work_s)
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
            before, after = json.loads(out.strip().splitlines()[-1])
            ratios.append(after / before)
        r = np.array(ratios)
        print(
            f"warm-up {warmup:.2f} s: after/before median {np.median(r):.3f}, min {r.min():.3f}, max {r.max():.3f}, "
            f"beyond 10%: {int((abs(r - 1) > 0.10).sum())} of {len(r)}"
        )


if __name__ == "__main__":
    main()
