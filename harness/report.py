"""`python -m harness.report PATH...`: tables, plots and flags for result sets.

Writes report.md, report.html and plots/*.png beside the data (in the first PATH's directory,
or --out). Per workload: a runtime x batch table (p50 with CI, p99, throughput, speed-up over
eager at the same batch and precision, accuracy, agreement, effective precision) and four
plots; then the environment and every row that deserves a second look.
"""

from __future__ import annotations

import argparse
import html
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from harness import analysis, results, untrusted  # noqa: E402
from harness.config import QUANTIZED, ConfigError, measured_identity  # noqa: E402
from harness.decision import DEFAULT_BUDGET_POINTS, plot_tradeoff, recommend  # noqa: E402
from harness.machine import busy_flags  # noqa: E402
from harness.summary import SOFTWARE, UNSTABLE_CV, failures_of, summarize  # noqa: E402
from harness.tool_args import ToolParser, bounded, run_tool  # noqa: E402

ACCURACY_DROP = 0.01  # more than 1 point below eager is flagged
MIN_AGREEMENT = 0.99
PROFILE_SHOWN = 5
COLLAPSED = 0.9  # one class predicted for 90% of the samples (where eager fp32 predicts it for fewer)


@dataclass
class Report:
    out_dir: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # workload -> table
    plots: dict[str, list[Path]] = field(default_factory=dict)  # workload -> PNGs
    flags: list[str] = field(default_factory=list)
    environment: dict[str, list[str]] = field(default_factory=dict)
    reruns: pd.DataFrame = field(default_factory=pd.DataFrame)
    decision: pd.DataFrame = field(default_factory=pd.DataFrame)
    profiles: pd.DataFrame = field(default_factory=pd.DataFrame)
    timing_inputs: pd.DataFrame = field(default_factory=pd.DataFrame)
    budget_points: float = DEFAULT_BUDGET_POINTS
    tradeoff_plots: list[Path] = field(default_factory=list)
    hosts: pd.DataFrame = field(default_factory=pd.DataFrame)  # the same configuration on each host (analysis)
    notes: list[str] = field(default_factory=list)  # damaged files skipped while reading, one line each


def _between(row: pd.Series) -> str:
    """The runs' geometric mean of the figure the row is judged on (its p50 in ms; an offline row's
    throughput, a qps search's highest rate: summary.figures_of) with its between-run 95% CI, or
    "single run"."""
    runs = row.get("n_runs")
    if pd.isna(runs) or runs < 2:
        return "single run"
    column = row.get("figure_of_merit")
    unit = FIGURE_UNITS.get(column, "ms") if isinstance(column, str) else "ms"
    center, low, high = (row.get(f"figure_{c}") for c in ("runs", "between_ci_low", "between_ci_high"))
    if unit == "ms":  # the p50 columns (summaries written before figure_of_merit hold only these)
        low, high = row.get("latency_ms_p50_between_ci_low"), row.get("latency_ms_p50_between_ci_high")
        center = row.get("latency_ms_p50_runs")
    with_figure = row.get("figure_n_runs")
    with_figure = int(runs) if unit == "ms" or pd.isna(with_figure) else int(with_figure)
    counted = f"{int(runs)} runs" if with_figure == int(runs) else f"{with_figure} of {int(runs)} runs"
    if with_figure < 2:  # the other runs found no rate meeting the bound
        return f"{center:.3f} {unit} from {counted}" if with_figure else f"no figure in any of {int(runs)} runs"
    text = f"{center:.3f} {unit} [{low:.3f}, {high:.3f}] ({counted}, CV {100 * row['between_run_cv']:.1f}%)"
    return text + (" unstable" if row.get("unstable") else "")


FIGURE_UNITS = {"throughput_sps": "samples/s", "max_qps_meeting_bound": "qps"}


def _speedup(row: pd.Series) -> str:
    if pd.notna(row.get("paired_speedup")):
        low, high = row.get("paired_speedup_ci_low"), row.get("paired_speedup_ci_high")
        interval = f" [{low:.2f}, {high:.2f}]" if pd.notna(low) and pd.notna(high) else ""
        # the paired baseline is eager fp32 whatever the row's precision; unpaired ones are over eager at it
        over = "" if row.get("precision_requested") == "fp32" else " vs eager fp32"
        return f"{row['paired_speedup']:.2f}{interval} paired{over}"
    if pd.isna(row.get("speedup_vs_eager")):
        return ""
    # a configuration run several times: of the runs' geometric means ("across runs"), not the newest
    return f"{row['speedup_vs_eager']:.2f}" + (" (runs)" if row.get("n_runs", 0) >= 2 else "")


def _peak_share(row: pd.Series) -> str:
    """GFLOP/s of the row over the machine's GEMM peak at its effective precision."""
    peak = row.get("gemm_peak_gflops_bf16" if str(row.get("precision_effective")).startswith("bf16")
                   else "gemm_peak_gflops_fp32")  # fmt: skip
    if pd.isna(row.get("gflops_per_s")) or pd.isna(peak) or not peak:
        return ""
    if str(row.get("precision_effective")).startswith("int8"):  # no INT8 peak is measured: operations/s only
        return f"{row['gflops_per_s']:.1f} GOP/s (int8)"
    if row["gflops_per_s"] > peak:  # the peak is the best GEMM torch runs here: a runtime can beat it
        return f"{row['gflops_per_s']:.1f} GFLOP/s, above the GEMM peak ({peak:.1f}): no share of peak"
    return f"{row['gflops_per_s']:.1f} GFLOP/s = {100 * row['gflops_per_s'] / peak:.0f}% of peak"


def _load(row: pd.Series) -> str:
    """How requests reached the model (the scenario), and for a server whether its p99 met the bound."""
    if pd.notna(row.get("target_qps")):
        met = analysis.bound_verdict(row)
        met += (
            " (a window shorter than the bound: raise measure.max_calls or max_s)" if met == "not established" else ""
        )
        offered = f"offered {row['offered_qps']:.1f}, " if pd.notna(row.get("offered_qps")) else ""
        text = (f"server {row['target_qps']:g} qps ({offered}achieved {row['achieved_qps']:.1f}): p99 bound "
                f"{row['latency_bound_ms']:g} ms {met}")  # fmt: skip
        if met == "met" and row.get("p99_established") in (False, "False", 0) and pd.notna(row.get("n_calls")):
            text += f" (by {int(row['n_calls'])} requests: too few to establish a p99, LoadGen asks 600+)"
        if pd.notna(row.get("max_qps_meeting_bound")):
            capped = row.get("max_qps_is_lower_bound") in (True, "True", 1)  # no rate tried failed
            text += f"; highest rate meeting it {'>= ' if capped else ''}{row['max_qps_meeting_bound']:g} qps"
            text += " (every rate tried met it: a lower bound)" if capped else ""
        elif isinstance(row.get("qps_search"), str) and row["qps_search"]:
            text += f"; qps search: no rate tried met the bound ({row['qps_search']})"
        if pd.notna(row.get("requests_unserved")) and row["requests_unserved"] > 0:
            text += f"; {int(row['requests_unserved'])} requests unserved, each past the bound (overloaded)"
        return text
    if pd.notna(row.get("streams")):
        streams = int(row["streams"])
        return f"offline, {streams} stream{'s' if streams != 1 else ''} ({row.get('driver')})"
    if pd.notna(row.get("timed_batches")) and row["timed_batches"] > 1:
        return f"single stream over {int(row['timed_batches'])} eval batches{_lengths(row)}"
    return "single stream"


def _lengths(row: pd.Series) -> str:
    if pd.isna(row.get("timed_len_min")):
        return ""
    return f" ({row['timed_len_min']:.0f}-{row['timed_len_max']:.0f} tokens, median {row['timed_len_median']:g})"


def timing_inputs_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows timed over the eval batches (timing_inputs=dataset) beside the same configuration timed on
    one fixed batch: the p50 (ms) under each, the ratio dataset/fixed of the figure the load is judged on
    (analysis.cost_of_work: the p50, an offline throughput), the time per sample (ms: 1000 / samples/s,
    true under any load; p50 / batch is not when requests overlap) and the lengths timed. A pair is one
    configuration in every setting but timing_inputs (threads, model, sequence length, scenario, ...) on
    one host; empty without pairs."""
    if frame.empty or "config_json" not in frame:
        return pd.DataFrame()
    configs = frame["config_json"].map(analysis.config_of)
    inputs = configs.map(lambda c: c.get("timing_inputs", "fixed"))
    rest = configs.map(lambda c: json.dumps(measured_identity({k: v for k, v in c.items() if k != "timing_inputs"}),
                                            sort_keys=True, default=str))  # fmt: skip
    key = ["_rest", "hostname"]
    ok = frame.assign(_rest=rest, _inputs=inputs, _cost=analysis.cost_of_work(frame))[frame["status"] == results.OK]
    ok = ok.assign(hostname=ok["hostname"].fillna("")) if "hostname" in ok else ok.assign(hostname="")
    fixed = ok[ok["_inputs"] == "fixed"].drop_duplicates(key, keep="last")
    paired = ok[ok["_inputs"] == "dataset"].merge(fixed, on=key, suffixes=("", "_fixed"))
    per_sample = lambda sps: f"{1000 / sps:.3f}" if pd.notna(sps) and sps > 0 else ""  # noqa: E731
    rows = []
    for _, r in paired.sort_values(["workload", "runtime", "batch_size"]).iterrows():
        rows.append({
            "workload": r["workload"], "runtime": r["runtime"], "batch": r["batch_size"],
            "precision": r["precision_requested"], "load": analysis.load_of(r["config_json"], with_inputs=False),
            "fixed: timed": r.get("timed_shape_fixed", ""),  # an older file may not have recorded these
            "dataset: timed": (f"{int(r['timed_batches'])} batches" if pd.notna(r.get("timed_batches"))
                               else "batches not recorded") + _lengths(r),  # fmt: skip
            "p50 ms fixed": f"{r['latency_ms_p50_fixed']:.3f}", "p50 ms dataset": f"{r['latency_ms_p50']:.3f}",
            "dataset / fixed": f"{r['_cost'] / r['_cost_fixed']:.2f}",
            "ms per sample fixed": per_sample(r["throughput_sps_fixed"]),
            "ms per sample dataset": per_sample(r["throughput_sps"]),
        })  # fmt: skip
    return pd.DataFrame(rows)


def _p99(row: pd.Series) -> str:
    if pd.isna(row.get("latency_ms_p99")):
        return ""
    established = row.get("p99_established")
    return f"{row['latency_ms_p99']:.3f}" + (" (not established)" if established in (False, "False", 0) else "")


def workload_table(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(["precision_requested", "runtime", "batch_size"])
    fmt = lambda v, f: "" if pd.isna(v) else format(v, f)  # noqa: E731
    return pd.DataFrame({
        "runtime": frame["runtime"], "batch": frame["batch_size"], "precision": frame["precision_requested"],
        "status": frame["status"], "p50 ms [95% CI] (one run)": frame.apply(analysis.p50_with_ci, axis=1, digits=3),
        "across runs [95% CI]": frame.apply(_between, axis=1),
        "p99 ms": frame.apply(_p99, axis=1),
        "load": frame.apply(_load, axis=1),
        "samples/s": frame["throughput_sps"].map(lambda v: fmt(v, ".1f")),
        "speed-up vs eager": frame.apply(_speedup, axis=1),
        "compute": frame.apply(_peak_share, axis=1),
        "accuracy": frame["accuracy"].map(lambda v: fmt(v, ".4f")),
        "agreement": frame["agreement"].map(lambda v: fmt(v, ".4f")),
        "effective precision": frame["precision_effective"].fillna(""),
        "variant": frame["variant"] if "variant" in frame else "",
    }).reset_index(drop=True)  # fmt: skip


def profile_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The top operators of every profiled row (profile=true), by share of the profiled time."""
    rows = []
    for _, r in frame.iterrows():
        text = r.get("profile_top_ops")
        if not isinstance(text, str) or not text.strip():
            continue
        try:
            top = untrusted.json_loads(text)
            ops = "; ".join(f"{name} {100 * share:.0f}%" for name, share in top[:PROFILE_SHOWN] if share is not None)
        except (ValueError, TypeError, OverflowError):
            ops = "(unreadable)"
        rows.append({"workload": r["workload"], "runtime": r["runtime"], "batch": r["batch_size"],
                     "precision": r["precision_requested"], "top operators": ops})  # fmt: skip
    return pd.DataFrame(rows)


def flagged_rows(frame: pd.DataFrame, costs: pd.Series | None = None) -> list[str]:
    """One line per thing a reader must know about a row of `frame` (one row per configuration and host).
    `costs`: per row, what its speed is judged on (analysis.cost_of_work, of its runs' centre where it
    ran several times; default: of the row itself)."""
    flags = []
    costs = analysis.cost_of_work(frame) if costs is None else costs

    several_hosts = "hostname" in frame and frame["hostname"].fillna("").nunique() > 1

    def label(r: pd.Series) -> str:  # the load too, unless single stream: one report may hold three eager rows
        load = r.get("load") if isinstance(r.get("load"), str) and r.get("load") not in ("", "single_stream") else ""
        variant = r.get("variant") if isinstance(r.get("variant"), str) else ""  # e.g. threads=1 beside threads=2
        host = analysis.host_label(r) if several_hosts else ""  # one flag per host, said which
        return f"{r['workload']} · {r['runtime']} · batch {r['batch_size']} · {r['precision_requested']}" + "".join(
            f" · {part}" for part in (variant, load, host) if part)  # fmt: skip

    eager = frame[(frame["runtime"] == "eager") & (frame["status"] == results.OK)]
    # eager's accuracy on the same samples (workload settings) and host, at the same batch and precision
    samples = analysis.same_samples(frame)
    measured_under = analysis.conditions(frame)  # read once: each row's settings are parsed from JSON
    eager_acc = eager.assign(_samples=samples[eager.index]).set_index(
        ["_samples", "batch_size", "precision_requested"])["accuracy"]  # fmt: skip
    eager_acc = eager_acc[~eager_acc.index.duplicated(keep="last")]
    for index, r in frame.iterrows():
        if r["status"] != results.OK:
            failed = r.get("runs_failed")  # every repeat that ran failed (with_runs: no ok run stands)
            runs = f" ({int(failed)} of its {int(failed)} runs failed)" if pd.notna(failed) and failed > 1 else ""
            flags.append(f"{label(r)}: status {r['status']}{runs}: {str(r['error'])[:300]}")
            continue
        base = eager_acc.get((samples[index], r["batch_size"], r["precision_requested"]))
        if base is not None and analysis.beyond_budget(100 * (base - r["accuracy"]), 100 * ACCURACY_DROP):
            flags.append(f"{label(r)}: accuracy {r['accuracy']:.4f} is more than 1 point below eager's {base:.4f}")
        if r["agreement"] < MIN_AGREEMENT:
            flags.append(f"{label(r)}: agreement with eager fp32 {r['agreement']:.4f} < {MIN_AGREEMENT}")
        requested = "int8" if r["precision_requested"] == "int8_dynamic" else str(r["precision_requested"])
        if str(r["precision_effective"]) != requested:
            flags.append(f"{label(r)}: effective precision {r['precision_effective']} differs from requested")
        # a model file runs as it is (requested fp32): what it ran in decides, as for a requested INT8
        if r["precision_requested"] in QUANTIZED or str(r.get("precision_effective")).startswith("int8"):
            flags += [f"{label(r)}: {problem}" for problem in int8_problems(r, frame, measured_under, costs)]
        if isinstance(r.get("attention_effective"), str) and r["attention_effective"] != r.get("attention"):
            flags.append(f"{label(r)}: ran {r['attention_effective']} attention, not workload.attention="
                         f"{r.get('attention')} (its exporter chose)")  # fmt: skip
        if isinstance(r.get("fallback"), str) and r["fallback"]:
            flags.append(f"{label(r)}: fallback: {r['fallback']}")
        if (min_calls := analysis.cut_short(r)) is not None:
            flags.append(f"{label(r)}: only {int(r['n_calls'])} timed call(s), fewer than measure.min_calls="
                         f"{min_calls}: measure.max_s cut the measurement short")  # fmt: skip
        batches, calls = pd.to_numeric(r.get("timed_batches"), errors="coerce"), r.get("n_calls")
        if pd.notna(batches) and pd.notna(calls) and batches > calls:  # timing_inputs=dataset, stopped early
            flags.append(f"{label(r)}: timed {int(calls)} calls over its {int(batches)} input batches: the batches "
                         "after those were never timed, so its figures describe the first ones only")  # fmt: skip
        if str(r.get("precision_effective")).startswith("bf16") and not native_bf16(r.get("cpu_flags")):
            flags.append(f"{label(r)}: bf16 ran on a CPU without native bf16 (no avx512_bf16 or amx_bf16 "
                         "in its flags): emulated, slow by design; its share of bf16 peak means little")  # fmt: skip
        for busy in busy_flags(r):
            flags.append(f"{label(r)}: measured on a busy or drifting machine: {busy}")
        if pd.notna(r.get("runs_busy")) and r["runs_busy"] > 0 and r.get("n_runs", 0) >= 2:
            flags.append(f"{label(r)}: {int(r['runs_busy'])} of its {int(r['n_runs'])} runs measured on a busy or "
                         "drifting machine (their rows say how); its between-run figures include them")  # fmt: skip
        if pd.notna(r.get("runs_short")) and r["runs_short"] > 0 and r.get("n_runs", 0) >= 2:
            flags.append(f"{label(r)}: {int(r['runs_short'])} of its {int(r['n_runs'])} runs timed fewer calls than "
                         "measure.min_calls (max_s cut them short); its between-run figures include them")  # fmt: skip
        if pd.notna(r.get("runs_failed")) and r["runs_failed"] > 0:
            runs = int(r["runs_failed"]) + int(r.get("n_runs", 0))
            flags.append(f"{label(r)}: {int(r['runs_failed'])} of its {runs} runs failed (newest: "
                         f"{r.get('runs_failed_why')}); its figures are of the others")  # fmt: skip
        if r.get("n_runs") == 2:
            flags.append(f"{label(r)}: only 2 runs: their between-run CI has 1 degree of freedom (t = 12.7) and "
                         "compare's test of them little power; run repeats=3 or more to decide")  # fmt: skip
        if r.get("unstable"):
            figure = FIGURE_UNITS.get(r.get("figure_of_merit"))
            what = "p50s" if figure is None else ("throughputs" if figure == "samples/s" else "highest rates")
            spread = analysis.beyond_text(100 * r["between_run_cv"], 100 * UNSTABLE_CV)
            flags.append(f"{label(r)}: unstable: its {int(r['n_runs'])} runs' {what} vary by "
                         f"{spread}% (CV > {100 * UNSTABLE_CV:g}%)")  # fmt: skip
        if pd.notna(r.get("figure_n_runs")) and r.get("n_runs", 0) > r["figure_n_runs"]:
            searched = r.get("figure_of_merit") == "max_qps_meeting_bound"
            what = "found no rate meeting the bound" if searched else "recorded no throughput"
            rest = "its across-runs figure is of the others" if r["figure_n_runs"] else "it has no figure to rank on"
            missing = int(r["n_runs"] - r["figure_n_runs"])
            flags.append(f"{label(r)}: {missing} of its {int(r['n_runs'])} runs {what}; {rest}")
        if pd.notna(r.get("runs_other_software")) and r["runs_other_software"] > 0:
            flags.append(f"{label(r)}: {int(r['runs_other_software'])} earlier run(s) with other software "
                         f"({', '.join(SOFTWARE)}) left out of its between-run figures")  # fmt: skip
    # a paired row's speed-up was timed beside its own eager (baseline=paired): it does not rest on eager's row
    paired = frame["paired_bursts"].notna() if "paired_bursts" in frame else pd.Series(False, frame.index)
    for index, r in eager.iterrows():  # the unpaired speed-ups under its conditions and precision are over it
        leaning = frame[(frame["runtime"] != "eager") & ~paired & measured_under.map(measured_under[index].__eq__)
                        & (frame["precision_requested"] == r["precision_requested"])]  # fmt: skip
        doubts = [*busy_flags(r), *(["too few calls for a p50 CI"] if pd.isna(r.get("latency_ms_p50_ci_low")) else [])]
        if doubts and not leaning.empty:
            flags.append(f"{label(r)}: doubt the speed-ups of {', '.join(sorted(set(leaning['runtime'])))} at this "
                         f"batch and precision: they are taken over this eager row ({'; '.join(doubts)})")  # fmt: skip
    env = analysis.environment(frame)
    # runtime versions differ by design; threads may differ by choice (both are in the tables); a runtime
    # with an interpreter of its own (IPEX) has its own torch and Python: mixed only within one runtime
    per_runtime = ("torch_version", "transformers_version", "python_version")
    mixed = {c: v for c, v in env.items() if len(v) > 1 and c not in ("threads", "runtime_version", *per_runtime)}
    for column in [c for c in per_runtime if len(env.get(c, [])) > 1]:
        if any(len(analysis.environment(group).get(column, [])) > 1 for _, group in frame.groupby("runtime")):
            mixed[column] = env[column]
    if mixed:
        flags.append("results from mixed environments: " + "; ".join(f"{c}: {', '.join(v)}" for c, v in mixed.items()))
    return flags


def native_bf16(cpu_flags: object) -> bool:
    """Whether a row's recorded CPU flags (/proc/cpuinfo) include a native bf16 instruction set:
    AVX512_BF16 or AMX-BF16 (Intel's and AMD's names for them). Unknown flags count as native: no
    claim is made without them."""
    if not isinstance(cpu_flags, str) or not cpu_flags.strip():
        return True
    return bool({"avx512_bf16", "amx_bf16"} & set(cpu_flags.split()))


def int8_problems(
    row: pd.Series, frame: pd.DataFrame, measured_under: pd.Series | None = None, costs: pd.Series | None = None
) -> list[str]:
    """What the accuracy guard sees in a quantized row of `frame`: accuracy lost against eager fp32,
    predictions collapsed to one class (the study's INT8 BERT), or no faster than the same runtime's fp32
    on the figure its load is judged on (analysis.cost_of_work: p50, offline throughput, a qps search's
    rate). `measured_under`: analysis.conditions(frame), when the caller has it (each row's settings are
    parsed from JSON); `costs`: per row of `frame`, its cost (default: cost_of_work of the rows as they are)."""
    problems = []
    delta = row.get("accuracy_delta_vs_fp32")
    if pd.notna(delta) and analysis.beyond_budget(-100 * delta, 100 * ACCURACY_DROP):
        below = analysis.beyond_text(-100 * delta, 100 * ACCURACY_DROP)
        problems.append(f"INT8 accuracy {row['accuracy']:.4f} is {below} points below eager fp32's")
    majority, reference = row.get("predicted_majority_share"), row.get("reference_majority_share")
    if pd.notna(majority) and pd.notna(reference) and majority >= COLLAPSED and reference < COLLAPSED:
        problems.append(f"predictions collapsed to one class ({100 * majority:.0f}% of samples; eager fp32: "
                        f"{100 * reference:.0f}%)")  # fmt: skip
    # the same runtime's fp32 under the very same conditions (samples, host, batch, threads, load, pinning)
    measured_under = analysis.conditions(frame) if measured_under is None else measured_under  # read once
    same = frame[
        measured_under.map(measured_under[row.name].__eq__)
        & (frame["runtime"] == row["runtime"])
        & (frame["precision_requested"] == "fp32")
        & (frame["status"] == results.OK)
        & (frame.index != row.name)  # a model file that ran INT8 is requested fp32: not its own baseline
        & ~frame.get("precision_effective", pd.Series("", frame.index)).astype(str).str.startswith("int8")
    ]
    costs = analysis.cost_of_work(frame) if costs is None else costs
    if not same.empty and costs[row.name] >= costs[same.index[-1]]:  # NaN (no rate met the bound): no claim
        mine, theirs = costs[row.name], costs[same.index[-1]]
        figure = analysis.figure_of(row)
        said = (f"{mine:.3f} ms against {theirs:.3f} ms" if figure is None else
                f"{1 / mine:.1f} against {1 / theirs:.1f} {FIGURE_UNITS[figure[1]]}")  # fmt: skip
        problems.append(f"INT8 is no faster than {row['runtime']} fp32 ({said})")
    return problems


def series_labels(frame: pd.DataFrame) -> pd.Series:
    """Per row, the line (or heatmap row) it belongs to in a plot over batch sizes: its runtime, with its
    load and variant where the rows hold several (a single-stream and an offline point of one runtime are
    no line, and their speed-ups fill no one cell)."""
    labels = frame["runtime"].astype(str)
    for column in ("load", "variant"):
        if column in frame and frame[column].fillna("").nunique() > 1:
            labels = labels + frame[column].fillna("").map(lambda v: f" · {v}" if v else "")
    return labels


def _lines_by_runtime(ax: plt.Axes, frame: pd.DataFrame, column: str, with_ci: bool) -> None:
    for runtime, group in frame.groupby(series_labels(frame)):
        group = group.sort_values("batch_size")
        if with_ci:
            # clipped: a foreign row's bounds may sit on the wrong side; NaN (not established) draws no bar
            low = (group[column] - group["latency_ms_p50_ci_low"]).clip(lower=0)
            high = (group["latency_ms_p50_ci_high"] - group[column]).clip(lower=0)
            ax.errorbar(group["batch_size"], group[column], yerr=[low, high], marker="o", capsize=3, label=runtime)
        else:
            ax.plot(group["batch_size"], group[column], marker="o", label=runtime)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted(frame["batch_size"].unique()))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("batch size (samples per call)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


@untrusted.literal_plot_text()
def plot_workload(frame: pd.DataFrame, workload: str, precision: str, out: Path, host: str = "") -> list[Path]:
    ok = frame[frame["status"] == results.OK]
    if ok.empty:
        return []
    out.mkdir(parents=True, exist_ok=True)
    # names from the rows (someone else's, maybe) never choose where a file goes
    stem, paths = untrusted.file_stem(*(str(p) for p in (workload, precision, host) if p)), []

    fig, ax = plt.subplots(figsize=(8, 5))
    _lines_by_runtime(ax, ok, "latency_ms_p50", with_ci=True)
    ax.set_yscale("log")
    untrusted.plain_log_ticks(ax.yaxis)
    ax.set_ylabel("p50 latency per call (ms, log scale; bars: 95% CI)")
    ax.set_title(f"{workload} ({precision}): p50 latency vs batch size")
    paths.append(save_figure(fig, out / f"{stem}-latency.png"))

    fig, ax = plt.subplots(figsize=(8, 5))
    _lines_by_runtime(ax, ok, "throughput_sps", with_ci=False)
    ax.set_ylabel("throughput (samples/s)")
    ax.set_title(f"{workload} ({precision}): throughput vs batch size")
    paths.append(save_figure(fig, out / f"{stem}-throughput.png"))

    grid = ok.assign(_series=series_labels(ok)).pivot_table(index="_series", columns="batch_size",
                                                            values="speedup_vs_eager", aggfunc="last")  # fmt: skip
    data = grid.to_numpy(dtype=float)
    if np.isfinite(data).any():  # no eager row at this precision: no speed-up to draw (an empty heatmap warned)
        paths.append(_speedup_heatmap(grid, data, workload, precision, out / f"{stem}-speedup.png"))

    per_runtime = ok.groupby("runtime")[["first_inference_ms", "prepare_s"]].median()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    per_runtime["first_inference_ms"].plot.barh(ax=axes[0], color="tab:orange")
    if (per_runtime["first_inference_ms"] > 0).any():  # a log axis needs a positive value to show
        axes[0].set_xscale("log")
        untrusted.plain_log_ticks(axes[0].xaxis)
    axes[0].set_xlabel("first inference after prepare (ms, log; median over batch sizes)")
    per_runtime["prepare_s"].plot.barh(ax=axes[1], color="tab:blue")
    axes[1].set_xlabel("prepare: load + convert + compile (s; median over batch sizes)")
    fig.suptitle(f"{workload} ({precision}): start-up costs per runtime")
    paths.append(save_figure(fig, out / f"{stem}-startup.png"))
    return paths


def _speedup_heatmap(grid: pd.DataFrame, data: np.ndarray, workload: str, precision: str, path: Path) -> Path:
    """Runtime x batch heatmap of the speed-up over eager (log2 colour scale, the value in each cell)."""
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(grid) + 2))
    limit = max(abs(np.log2(np.nanmax(data))), abs(np.log2(np.nanmin(data))), 0.1)
    image = ax.imshow(np.log2(data), cmap="RdYlGn", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(grid.columns)), [str(c) for c in grid.columns])
    ax.set_yticks(range(len(grid.index)), list(grid.index))
    for (i, j), value in np.ndenumerate(data):
        ax.text(j, i, "" if np.isnan(value) else f"{value:.2f}x", ha="center", va="center", fontsize=8)
    ax.set_xlabel("batch size")
    ax.set_title(
        f"{workload} ({precision}): speed-up over eager (the load's figure of merit), same batch,\n"
        "precision and load; paired rows over eager fp32 in their own process"
    )
    fig.colorbar(image, ax=ax, label="log2 speed-up (green: faster than eager)")
    return save_figure(fig, path)


def save_figure(fig: plt.Figure, path: Path) -> Path:
    """Saved atomically: a report directory may be someone else's, and a planted link there must be
    replaced, never followed (open() would write through it)."""
    fig.tight_layout()
    results.atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
    return path


def with_runs(frame: pd.DataFrame, latest: pd.DataFrame) -> pd.DataFrame:
    """`latest` (one row per configuration) with the between-run summary of all of `frame`'s runs."""
    summary = summarize(frame)
    latest = latest.assign(hostname=latest["hostname"].fillna(""))
    if summary.empty:
        return _without_ok_runs(frame, latest.assign(n_runs=np.nan, unstable=False))
    keep = {"n_runs": "n_runs", "latency_ms_p50": "latency_ms_p50_runs", "between_run_cv": "between_run_cv",
            "latency_ms_p50_between_ci_low": "latency_ms_p50_between_ci_low", "unstable": "unstable",
            "latency_ms_p50_between_ci_high": "latency_ms_p50_between_ci_high",
            "speedup_vs_eager": "paired_speedup", "speedup_vs_eager_between_ci_low": "paired_speedup_ci_low",
            "speedup_vs_eager_between_ci_high": "paired_speedup_ci_high",
            "runs_other_software": "runs_other_software", "runs_busy": "runs_busy",
            "runs_short": "runs_short", "runs_failed": "runs_failed", "runs_failed_why": "runs_failed_why",
            "figure_of_merit": "figure_of_merit", "figure_runs": "figure_runs",
            "figure_between_ci_low": "figure_between_ci_low", "figure_n_runs": "figure_n_runs",
            "figure_between_ci_high": "figure_between_ci_high"}  # fmt: skip
    summary = summary[[c for c in ["config_hash", "hostname", *keep] if c in summary]].rename(columns=keep)
    # the summary's figures, never a file's column of that name (or a merge suffix colliding with one)
    latest = latest.drop(columns=[c for c in summary.columns if c not in ("config_hash", "hostname")], errors="ignore")
    merged = _without_ok_runs(frame, latest.merge(summary, on=["config_hash", "hostname"], how="left"))
    one_run = merged["n_runs"].fillna(0) < 2  # a single paired row: its own within-process CI
    if "speedup_vs_eager_ci_low" in merged:
        for side in ("low", "high"):
            column = f"paired_speedup_ci_{side}"
            across = pd.to_numeric(merged[column], errors="coerce") if column in merged else np.nan
            own = pd.to_numeric(merged[f"speedup_vs_eager_ci_{side}"], errors="coerce")
            merged[column] = own.where(one_run, across)
    return merged


def _without_ok_runs(frame: pd.DataFrame, merged: pd.DataFrame) -> pd.DataFrame:
    """`merged` (with_runs' rows) where a configuration has no summary row (no ok run stands for any of
    its repeats: each failed, or was replaced by a failed re-run): n_runs 0, not unstable, and its failed
    runs counted (summary.failures_of), so the report says "status crashed (2 of its 2 runs failed)"."""
    merged = merged.assign(unstable=merged["unstable"].astype("boolean").fillna(False).astype(bool))
    alone = merged["n_runs"].isna()
    merged["n_runs"] = merged["n_runs"].fillna(0)
    for column in ("runs_failed", "runs_failed_why"):
        if column not in merged:
            merged[column] = np.nan if column == "runs_failed" else None
    merged["runs_failed_why"] = merged["runs_failed_why"].astype(object)
    for index in merged.index[alone]:
        merged.loc[index, "runs_failed"], merged.loc[index, "runs_failed_why"] = failures_of(frame, merged.loc[index])
    return merged


def with_runs_figures(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (one row per configuration, with_runs' columns) where a configuration judged on throughput or
    a qps search's rate (analysis.FIGURES) has that figure from 2+ runs: its throughput_sps or
    max_qps_meeting_bound replaced by the runs' geometric mean (summary's figure_runs), as its p50 is by
    theirs: the newest run alone stood for them."""
    out = frame.copy()
    if "figure_runs" not in frame:
        return out
    several = (pd.to_numeric(frame["figure_n_runs"], errors="coerce") >= 2) & (frame["status"] == results.OK)
    for column in (column for _, column in analysis.FIGURES.values()):
        chosen = several & (frame["figure_of_merit"] == column)
        if chosen.any():
            out.loc[chosen, column] = frame.loc[chosen, "figure_runs"]
    return out


def build(paths: Sequence[Path], out_dir: Path | None = None, budget_points: float = DEFAULT_BUDGET_POINTS) -> Report:
    notes: list[str] = []
    everything = analysis.load(paths, notes)
    # one row per configuration and host: rows that differ only in options (a calibration set, a hint) stay apart
    shown = analysis.latest(everything.assign(hostname=everything["hostname"].fillna("")), ["config_hash", "hostname"])
    frame = with_runs(everything, shown.assign(variant=analysis.variant_labels(shown)))
    # a configuration that ran several times stands for its runs' geometric mean: the newest run alone
    # made a 1.26x speed-up read 2.01x (one slow eager run) and ranked the choice on one process's luck
    centre = frame["latency_ms_p50"]
    if "latency_ms_p50_runs" in frame:
        centre = frame["latency_ms_p50_runs"].where(frame["n_runs"] >= 2, centre)
    figures = with_runs_figures(frame)  # offline and qps-search rows: their runs' figures too
    if "paired_speedup" in frame:  # and a paired speed-up (its own eager in each run) is of its runs too
        across = pd.to_numeric(frame["paired_speedup"], errors="coerce")
        figures = figures.assign(speedup_vs_eager=across.where(across.notna(), figures.get("speedup_vs_eager")))
    frame = frame.assign(speedup_vs_eager=analysis.with_speedup(figures, centre)["speedup_vs_eager"])
    # what the choice, the trade-off and the hosts view rank on
    by_runs = figures.assign(latency_ms_p50=centre, speedup_vs_eager=frame["speedup_vs_eager"])
    report = Report(out_dir=Path(out_dir) if out_dir else analysis.source_dir(Path(paths[0])), notes=notes)
    report.budget_points = budget_points
    report.decision = recommend(by_runs, budget_points)
    report.tradeoff_plots = [p for w in sorted(frame["workload"].unique())
                             if (p := plot_tradeoff(by_runs, w, report.out_dir / "plots")) is not None]  # fmt: skip
    several_hosts = frame["hostname"].nunique() > 1  # then per host: no table mixes two machines
    for key, group in frame.groupby(["workload", "precision_requested"] + (["hostname"] if several_hosts else [])):
        workload, precision, host = (*key, "")[:3]
        name = f"{workload} · {precision}" + (f" · {analysis.host_label(group.iloc[0])}" if host else "")
        report.tables[name] = workload_table(group)
        report.plots[name] = plot_workload(group, workload, precision, report.out_dir / "plots", host)
    report.hosts = analysis.hosts_view(by_runs)  # the p50 its speed-up is of
    report.flags = flagged_rows(frame, analysis.cost_of_work(figures, centre))
    report.profiles = profile_table(frame)
    report.timing_inputs = timing_inputs_table(frame)
    report.environment = analysis.environment(frame)
    # quoted: a run_id or path from someone else's file must not become shell syntax when pasted
    report.reruns = frame[["workload", "runtime", "batch_size", "precision_requested", "source", "run_id"]].assign(
        command=lambda f: [
            f"python -m harness.rerun {shlex.quote(str(s))} {shlex.quote(str(r))}"
            for s, r in zip(f["source"], f["run_id"], strict=True)
        ]  # fmt: skip
    )
    return report


def markdown_text(value: object) -> str:
    """`value` as inert Markdown text: result files may come from elsewhere, and Markdown viewers render
    inline HTML (CommonMark 0.31, "Raw HTML") and fetch images (`![a](url)`), so <, > and & are
    HTML-escaped and `[` backslash-escaped (CommonMark 0.31, "Backslash escapes"; every link, image
    and reference starts with one): no inline, reference or image link can form, nor a link reference
    definition (`[x]: url` in one cell
    and `![a][x]` in another rendered a remote image); a newline or a `|` would break a table row."""
    text = html.escape(" ".join(str(value).splitlines()), quote=False)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("[", "\\[")


def markdown_table(frame: pd.DataFrame) -> str:
    cells = lambda values: "| " + " | ".join(markdown_text(v) for v in values) + " |"  # noqa: E731
    lines = [cells(frame.columns), "| " + " | ".join("---" for _ in frame.columns) + " |"]
    return "\n".join(lines + [cells(row) for row in frame.itertuples(index=False)])


def to_markdown(report: Report) -> str:
    out = ["# Benchmark report", ""]
    for name, table in report.tables.items():
        out += [f"## {markdown_text(name)}", "", markdown_table(table), ""]
        out += [f"![{p.stem}](plots/{p.name})" for p in report.plots.get(name, [])] + [""]
    if not report.hosts.empty:
        out += ["## Hosts", "", "The same configuration on each host; a speed-up is over that host's own eager.", "",
                markdown_table(report.hosts), ""]  # fmt: skip
    out += ["## Decision", "", f"Fastest configuration per batch size within {report.budget_points:g} accuracy "
            "point(s) of eager fp32 (`--accuracy-budget`); faster ones and why they were excluded.", "",
            markdown_table(report.decision), ""]  # fmt: skip
    out += [f"![{p.stem}](plots/{p.name})" for p in report.tradeoff_plots] + [""]
    if not report.timing_inputs.empty:
        out += ["## Timed over real inputs vs one fixed batch", "", "`timing_inputs=dataset` cycles the timed "
                "calls over the eval batches (with `padding=longest` their lengths vary); `fixed` times one batch. "
                "Per-sample latency against batch size under each:", "",
                markdown_table(report.timing_inputs), ""]  # fmt: skip
    if not report.profiles.empty:
        out += ["## Per-operator profiles", "", "Share of the profiled calls' time (`profile=true`; files beside "
                "each job):", "", markdown_table(report.profiles), ""]  # fmt: skip
    out += ["## Environment", ""]
    out += [f"- **{markdown_text(k)}**: {markdown_text(', '.join(v))}" for k, v in report.environment.items()] + [""]
    out += ["## Flagged rows", ""] + ([f"- {markdown_text(f)}" for f in report.flags] or ["None."]) + [""]
    out += ["## Re-run a row", "", "Each row re-runs alone from what is stored with it, and compares itself:", ""]
    out += [markdown_table(report.reruns[["workload", "runtime", "batch_size", "precision_requested", "command"]])]
    return "\n".join(out) + "\n"


def to_html(report: Report) -> str:
    esc = html.escape
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>Benchmark report</title><style>",
             "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:13px}",
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}img{max-width:100%;margin:8px 0}",
             "</style></head><body><h1>Benchmark report</h1>"]  # fmt: skip
    for name, table in report.tables.items():
        parts += [f"<h2>{esc(name)}</h2>", table.to_html(index=False, escape=True)]
        parts += [f"<img src='plots/{esc(p.name)}' alt='{esc(p.stem)}'>" for p in report.plots.get(name, [])]
    if not report.hosts.empty:
        parts += ["<h2>Hosts</h2><p>The same configuration on each host; a speed-up is over that host's own eager.</p>",
                  report.hosts.to_html(index=False, escape=True)]  # fmt: skip
    parts += ["<h2>Decision</h2>", report.decision.to_html(index=False, escape=True)]
    parts += [f"<img src='plots/{esc(p.name)}' alt='{esc(p.stem)}'>" for p in report.tradeoff_plots]
    if not report.timing_inputs.empty:
        parts += [
            "<h2>Timed over real inputs vs one fixed batch</h2>",
            report.timing_inputs.to_html(index=False, escape=True),
        ]
    if not report.profiles.empty:
        parts += ["<h2>Per-operator profiles</h2>", report.profiles.to_html(index=False, escape=True)]
    parts += ["<h2>Environment</h2><ul>"]
    parts += [f"<li><b>{esc(k)}</b>: {esc(', '.join(v))}</li>" for k, v in report.environment.items()] + ["</ul>"]
    parts += ["<h2>Flagged rows</h2><ul>"] + [f"<li>{esc(f)}</li>" for f in report.flags or ["None."]] + ["</ul>"]
    parts += ["<h2>Re-run a row</h2>", report.reruns.drop(columns=["source", "run_id"]).to_html(index=False)]
    return "\n".join(parts + ["</body></html>"])


REPORT_FILES = ("report.md", "report.html")
PLOTS_DIR = "plots"


def check_output(out_dir: Path) -> None:
    """ConfigError (one line) unless the report can write everything it writes in `out_dir`: the
    directory and plots/ are directories it can create files in, or can make (probed by creating a
    file, see results.check_writable; nothing is left behind), plots/ is no symbolic link (a link to a directory
    elsewhere would take the PNGs there), and report.md, report.html and no plots/*.png are directories.
    Run before build, which writes the plots: a place found unusable afterwards loses the work."""
    out_dir = Path(out_dir)
    results.check_writable(out_dir, results_places=False)  # the report writes no views or locks
    plots = out_dir / PLOTS_DIR
    if plots.is_symlink():
        raise ConfigError(f"{plots} is a symbolic link; the report writes its plots into a directory of its own "
                          "there: remove it or choose another place with --out")  # fmt: skip
    if plots.exists() and not plots.is_dir():
        raise ConfigError(f"{plots} is no directory; the report writes its plots there: remove it or use --out")
    busy = [out_dir / name for name in REPORT_FILES if (out_dir / name).is_dir()]
    busy += sorted(p for p in plots.glob("*.png") if p.is_dir()) if plots.is_dir() else []
    if busy:
        raise ConfigError(f"{busy[0]} is a directory where the report writes a file: remove it or use --out")
    if plots.is_dir():
        results.check_writable(plots, results_places=False)  # a missing one is made in out_dir, probed above


def write(report: Report) -> tuple[Path, Path]:
    report.out_dir.mkdir(parents=True, exist_ok=True)
    md, page = report.out_dir / "report.md", report.out_dir / "report.html"
    results.atomic_write(md, lambda tmp: tmp.write_text(to_markdown(report)))  # replaces a link, never follows it
    results.atomic_write(page, lambda tmp: tmp.write_text(to_html(report)))
    return md, page


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m harness.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("paths", nargs="+", type=Path, help="sweep directories or results.csv/.parquet files")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: beside the first PATH)")
    parser.add_argument("--accuracy-budget", type=bounded(0, 100), default=DEFAULT_BUDGET_POINTS, metavar="POINTS",
                        help="the decision view's accuracy budget: points below eager fp32 (default 1)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        for path in args.paths:  # before anything is written: build gathers views into each directory
            if path.is_dir():
                results.check_no_links(path)
        check_output(args.out or analysis.source_dir(args.paths[0]))  # what build will write to, before it does
        report = build(args.paths, args.out, args.accuracy_budget)
    except (results.ResultsError, ConfigError) as exc:
        print(f"harness.report: {untrusted.one_line(str(exc))}", file=sys.stderr)
        return 2
    for note in dict.fromkeys(report.notes):
        print(f"harness.report: {untrusted.one_line(note)}", file=sys.stderr)
    md, page = write(report)
    print(f"report: {md}\nreport: {page}\nplots: {report.out_dir / 'plots'}")
    for flag in report.flags:
        print("flag: " + " ".join(str(flag).splitlines()))  # one line per flag, whatever a row holds
    return 0


if __name__ == "__main__":
    run_tool(main, "harness.report")
