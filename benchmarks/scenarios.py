"""Load scenarios at real size (measured, never asserted): throughput against streams, latency against
load, timing over real inputs, and the harness's OpenVINO offline throughput beside OpenVINO's own
`benchmark_app` on the same IR.

Stages (each a resumable multirun into --out; `--stages` picks some):
  offline   both workloads x every configured runtime, scenario=offline, streams 1 and 2, batch 1
  server    both workloads x every runtime, scenario=server with the qps search (p99 bound per workload)
  inputs    BERT, padding=longest, timing_inputs fixed and dataset, batch 1, 4, 8, every runtime
  ovapp     OpenVINO offline (streams 2, batch 1) then `benchmark_app -hint throughput` on the IR that
            row ran (from its `artifact_path`), back to back, per workload; the ratio goes to
            <out>/benchmark_app.csv

    python benchmarks/scenarios.py [--out outputs/scenarios] [--stages offline,server,inputs,ovapp]
                                   [--runtimes eager,openvino,...] [extra Hydra overrides, e.g. measure.max_s=5]
Then `python -m harness.report outputs/scenarios` renders the tables; `latency_vs_load.png` and
`throughput_vs_streams.png` are written into --out by this script.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from harness import results  # noqa: E402
from harness.catalog import runtime_names  # noqa: E402

RUNTIMES = ",".join(runtime_names())  # every configured runtime unless --runtimes names fewer
EXTRA: list[str] = []  # Hydra overrides from the command line, given to every stage
# p99 bounds for the server search: about 4x each workload's batch-1 latency on this 2-core machine
BOUND_MS = {"bert": 50.0, "resnet101": 500.0}
BENCHMARK_APP_S = 20  # benchmark_app's -t: as long as the harness's longest timed window (measure.max_s)


def harness(out: Path, *overrides: str) -> int:
    command = [sys.executable, "-m", "harness", "-m", *overrides, *EXTRA, f"hydra.sweep.dir={out}"]
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, check=False).returncode


def stage_offline(out: Path) -> int:
    return harness(out, "workload=bert,resnet101", f"runtime={RUNTIMES}", "batch=1", "scenario=offline",
                   "scenario.streams=1,2")  # fmt: skip


def stage_server(out: Path) -> int:
    codes = [
        harness(
            out,
            f"workload={workload}",
            f"runtime={RUNTIMES}",
            "batch=1",
            "scenario=server",
            "scenario.search=true",
            f"scenario.latency_bound_ms={bound}",
        )  # fmt: skip
        for workload, bound in BOUND_MS.items()
    ]
    return max(codes)


def stage_inputs(out: Path) -> int:
    return harness(out, "workload=bert", "workload.padding=longest", f"runtime={RUNTIMES}", "batch=1,4,8",
                   "timing_inputs=fixed,dataset")  # fmt: skip


def benchmark_app_fps(xml: str, shapes: str, streams: int | None) -> tuple[float, str]:
    """Throughput (FPS = samples/s at batch 1) that `benchmark_app -hint throughput` reports on `xml`,
    in f32 (OpenVINO's bf16 default would not be the same computation), and its command line. With
    `streams`, `-hint none -nstreams N` (benchmark_app allows -nstreams only without a hint)."""
    command = [str(Path(sys.executable).with_name("benchmark_app")), "-m", xml, "-d", "CPU", "-hint", "throughput",
               "-infer_precision", "f32", "-t", str(BENCHMARK_APP_S), "-data_shape", shapes]  # fmt: skip
    if streams is not None:  # benchmark_app refuses -nstreams beside a hint: the hint goes, streams are set
        command[command.index("-hint") + 1] = "none"
        command += ["-nstreams", str(streams)]
    print("+", " ".join(command), flush=True)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = re.search(r"Throughput:\s+([\d.]+)\s+FPS", done.stdout)
    if done.returncode or not found:
        raise RuntimeError(f"benchmark_app failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    return float(found.group(1)), " ".join(command)


def stage_ovapp(out: Path) -> int:
    code = harness(out, "workload=bert,resnet101", "runtime=openvino", "batch=1", "scenario=offline",
                   "scenario.streams=2")  # fmt: skip
    frame = results.read_results(out)
    rows = frame[(frame["runtime"] == "openvino") & (frame["status"] == "ok") & (frame["streams"] == 2)
                 & (frame["batch_size"] == 1) & (frame["precision_requested"] == "fp32")]  # fmt: skip
    table = []
    for _, row in rows.drop_duplicates("workload", keep="last").iterrows():
        dims = re.findall(r"(\w+) (\d+)x(\d+(?:x\d+)*)", str(row["timed_shape"]))
        shapes = ",".join(f"{name}[{batch},{rest.replace('x', ',')}]" for name, batch, rest in dims)
        xml = str(Path(row["artifact_path"]) / "model.xml")
        for streams in (None, int(row["ov_num_streams"])):
            fps, command = benchmark_app_fps(xml, shapes, streams)
            table.append({"workload": row["workload"], "harness_sps": row["throughput_sps"],
                          "harness_streams": row["ov_num_streams"], "benchmark_app_fps": fps,
                          "benchmark_app_streams": "its choice" if streams is None else streams,
                          "harness_over_benchmark_app": row["throughput_sps"] / fps, "command": command})  # fmt: skip
    pd.DataFrame(table).to_csv(out / "benchmark_app.csv", index=False)
    print(pd.DataFrame(table).drop(columns="command").to_string(index=False))
    return code


def plots(out: Path) -> None:
    """throughput_vs_streams.png and latency_vs_load.png (p99 at each rate the server search tried),
    from the newest ok row of each configuration (a configuration measured again with force=true)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = results.read_results(out)
    ok = frame[frame["status"] == "ok"].sort_values("started_at").drop_duplicates("config_hash", keep="last")
    if "streams" in ok and "scenario" in ok:
        offline = ok[ok["scenario"] == "offline"]
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for ax, (workload, group) in zip(axes, offline.groupby("workload"), strict=False):
            for runtime, lines in group.groupby("runtime"):
                lines = lines.sort_values("streams")
                ax.plot(lines["streams"], lines["throughput_sps"], marker="o", label=runtime)
            ax.set(title=f"{workload}: offline throughput (batch 1)", xlabel="streams (requests in flight)",
                   ylabel="samples/s", xticks=[1, 2])  # fmt: skip
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "throughput_vs_streams.png", dpi=110)
        plt.close(fig)
    if "qps_search" in ok:
        server = ok[ok["qps_search"].notna()]
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        for ax, (workload, group) in zip(axes, server.groupby("workload"), strict=False):
            for _, row in group.iterrows():
                points = sorted((float(q), float(p)) for q, p in re.findall(r"([\d.]+) qps: p99 ([\d.]+) ms",
                                                                              row["qps_search"]))  # fmt: skip
                ax.plot([q for q, _ in points], [p for _, p in points], marker="o", label=row["runtime"])
            ax.axhline(BOUND_MS.get(workload, 0), color="k", linestyle="--", linewidth=1)
            ax.set(title=f"{workload}: server p99 against arrival rate (batch 1)", xlabel="arrivals per second",
                   ylabel="p99 latency from arrival (ms)", yscale="log")  # fmt: skip
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "latency_vs_load.png", dpi=110)
        plt.close(fig)


STAGES = {"offline": stage_offline, "server": stage_server, "inputs": stage_inputs, "ovapp": stage_ovapp}


def main() -> int:
    global RUNTIMES
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("outputs/scenarios"))
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--runtimes", default=RUNTIMES, help="comma-separated, from conf/runtime/")
    parser.add_argument("extra", nargs="*", help="more Hydra overrides, e.g. measure.max_s=5")
    args = parser.parse_args()
    RUNTIMES = args.runtimes
    EXTRA[:] = args.extra
    unknown_runtimes = set(RUNTIMES.split(",")) - set(runtime_names())
    if unknown_runtimes:
        print(f"scenarios: unknown runtime(s) {', '.join(sorted(unknown_runtimes))}; allowed: "
              f"{', '.join(runtime_names())}", file=sys.stderr)  # fmt: skip
        return 2
    unknown = set(args.stages.split(",")) - set(STAGES)
    if unknown:
        print(f"scenarios: unknown stage(s) {', '.join(sorted(unknown))}; allowed: {', '.join(STAGES)}",
              file=sys.stderr)  # fmt: skip
        return 2
    codes = [STAGES[name](args.out) for name in args.stages.split(",")]
    plots(args.out)
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
