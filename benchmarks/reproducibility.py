"""A/A test (measured, never asserted): the same grid measured twice, independently, and compared.

Each side: BERT fp32 x every configured runtime x batch 1 and 8, and ResNet-101 fp32 x every runtime
x batch 1, with repeats=3 and baseline=paired, into <out>/a and <out>/b (resumable). Then:
  - `harness.compare a b`: the share of rows with no meaningful difference;
  - the paired speed-ups: per configuration and side, the runs' speed-ups over eager summarised by their
    geometric mean and a t interval on their logarithms (as summary.py does for p50s); whether A's and
    B's intervals overlap; and the spread of the paired speed-up across all six runs beside the spread
    of the speed-up computed from separate jobs (eager's p50 / the runtime's p50, same repeat).
Writes <out>/aa.csv and prints a summary.

    python benchmarks/reproducibility.py [--out outputs/aa] [--sides a,b] [--workloads bert,resnet101]
                                         [extra Hydra overrides...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness import analysis  # noqa: E402
from harness.compare import compare  # noqa: E402
from harness.measure import ratio_ci  # noqa: E402

GRIDS = [("bert", "1,8"), ("resnet101", "1")]


def measure(out: Path, extra: list[str], workloads: list[str]) -> int:
    codes = []
    for workload, batches in [g for g in GRIDS if g[0] in workloads]:
        command = [sys.executable, "-m", "harness", "-m", f"workload={workload}", "runtime=glob(*)",
                   f"batch={batches}", "repeats=3", "baseline=paired", f"hydra.sweep.dir={out}", *extra]  # fmt: skip
        print("+", " ".join(command), flush=True)
        codes.append(subprocess.run(command, check=False).returncode)
    return max(codes)


def cv(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / np.mean(values)) if len(values) > 1 else float("nan")


def paired_table(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: each side's paired speed-up (geometric mean of its runs, 95% t interval on
    the logs), whether the intervals overlap, and the CV over all runs of the paired speed-up and of
    the speed-up from separate jobs."""
    key = ["workload", "runtime", "batch_size"]
    rows = []
    both = pd.concat([a.assign(side="a"), b.assign(side="b")])
    ok = both[both["status"] == "ok"]
    eager = ok[ok["runtime"] == "eager"].set_index(["side", "workload", "batch_size", "repeat"])["latency_ms_p50"]
    for (workload, runtime, batch), group in ok.groupby(key):
        if runtime == "eager" or "speedup_vs_eager" not in group:
            continue
        out = {"workload": workload, "runtime": runtime, "batch": batch}
        intervals = {}
        for side, runs in group.groupby("side"):
            speedups = runs["speedup_vs_eager"].dropna().to_numpy(dtype=float)
            if len(speedups) >= 2:
                center, low, high = ratio_ci(speedups)
                intervals[side] = (low, high)
                out[f"paired_{side}"] = center
                out[f"paired_{side}_ci"] = f"{intervals[side][0]:.3f}-{intervals[side][1]:.3f}"
        if len(intervals) == 2:
            (low_a, high_a), (low_b, high_b) = intervals["a"], intervals["b"]
            out["paired_cis_overlap"] = bool(low_a <= high_b and low_b <= high_a)
        # each row's own (within-process, burst) CI against every row's of the other side
        sides = {side: runs[["speedup_vs_eager_ci_low", "speedup_vs_eager_ci_high"]].dropna().to_numpy()
                 for side, runs in group.groupby("side")}  # fmt: skip
        pairs = [(la <= hb and lb <= ha) for la, ha in sides.get("a", []) for lb, hb in sides.get("b", [])]
        out["row_cis_overlapping"] = f"{sum(pairs)}/{len(pairs)}" if pairs else ""
        out["paired_cv_all_runs"] = cv(group["speedup_vs_eager"].dropna().to_numpy(dtype=float))
        separate = [eager.get((r["side"], workload, batch, r["repeat"]), np.nan) / r["latency_ms_p50"]
                    for _, r in group.iterrows()]  # fmt: skip
        out["separate_jobs_cv_all_runs"] = cv(np.array([s for s in separate if s == s]))
        rows.append(out)
    return pd.DataFrame(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("outputs/aa"))
    parser.add_argument("--sides", default="a,b", help="which sides to measure now (both are compared)")
    parser.add_argument("--workloads", default="bert,resnet101", help="which of the grids to measure")
    parser.add_argument("extra", nargs="*", help="more Hydra overrides for both sides")
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    codes = [measure(args.out / side, args.extra, workloads) for side in args.sides.split(",") if side]
    table, env_diff = compare([args.out / "a"], [args.out / "b"])
    verdicts = table["verdict"].fillna("")
    compared = table[table["p50_ratio"].notna()]
    quiet = compared["verdict"].str.startswith(("no meaningful", "no significant"))
    paired = paired_table(analysis.load([args.out / "a"]), analysis.load([args.out / "b"]))
    table.to_csv(args.out / "aa-compare.csv", index=False)
    paired.to_csv(args.out / "aa-paired.csv", index=False)
    print(table[["workload", "runtime", "batch_size", "p50_ratio", "verdict", "min_effect"]].to_string(index=False))
    print(paired.to_string(index=False))
    print(f"\nrows compared: {len(compared)} of {len(table)}; no meaningful difference: {int(quiet.sum())} "
          f"({100 * quiet.mean():.0f}%); verdicts: {verdicts.value_counts().to_dict()}")  # fmt: skip
    if "paired_cis_overlap" in paired:
        overlap = paired["paired_cis_overlap"].dropna()
        print(f"paired speed-up CIs of A and B overlap: {int(overlap.sum())} of {len(overlap)}")
        print(f"median CV over six runs: paired speed-up {100 * paired['paired_cv_all_runs'].median():.1f}%, "
              f"speed-up from separate jobs {100 * paired['separate_jobs_cv_all_runs'].median():.1f}%")  # fmt: skip
    if env_diff:
        print(f"environment differences: {env_diff}")
    return max(codes, default=0)


if __name__ == "__main__":
    sys.exit(main())
