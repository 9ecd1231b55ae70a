"""The measuring loop and its statistics. A plain library: no Hydra, no torch.

`measure` times one callable; `measure_paired` alternates short bursts of a baseline (eager fp32)
and the runtime in the same process, so both see the same machine state, and gives the speed-up
with a confidence interval from the burst pairs (`ratio_ci`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from harness.config import MeasureConfig

Z_95 = 1.959963984540054
CHECK_EVERY_CALLS = 10  # how often the stopping rule is evaluated (outside the timed region)


def median_ci(latencies_ms: np.ndarray) -> tuple[float, float]:
    """Distribution-free 95% CI of the median from order statistics (binomial ranks)."""
    n = len(latencies_ms)
    if n < 6:  # too few calls for any order-statistic interval narrower than the full range
        return float(np.min(latencies_ms)), float(np.max(latencies_ms))
    ordered = np.sort(latencies_ms)
    half = Z_95 * math.sqrt(n) / 2
    low = max(int(math.floor(n / 2 - half)), 0)
    high = min(int(math.ceil(n / 2 + half)), n - 1)
    return float(ordered[low]), float(ordered[high])


def ci_relative_half_width(latencies_ms: np.ndarray) -> float:
    low, high = median_ci(latencies_ms)
    median = float(np.median(latencies_ms))
    return (high - low) / 2 / median if median > 0 else math.inf


@dataclass
class Measurement:
    latencies_ms: np.ndarray  # one entry per timed call
    warmup_calls: int
    stop_reason: str  # "ci_target" | "max_s" | "max_calls"
    samples_per_call: int
    wall_s: float | None = None  # set when calls overlap (async requests): throughput = samples / wall time

    def summary(self) -> dict[str, float]:
        lat = self.latencies_ms
        ci_low, ci_high = median_ci(lat)
        p50 = float(np.percentile(lat, 50))
        return {
            "n_calls": int(len(lat)),
            "latency_ms_p50": p50,
            "latency_ms_p50_ci_low": ci_low,
            "latency_ms_p50_ci_high": ci_high,
            "latency_ms_p90": float(np.percentile(lat, 90)),
            "latency_ms_p95": float(np.percentile(lat, 95)),
            "latency_ms_p99": float(np.percentile(lat, 99)),
            "latency_ms_mean": float(np.mean(lat)),
            "latency_ms_std": float(np.std(lat, ddof=1)) if len(lat) > 1 else 0.0,
            "latency_ms_min": float(np.min(lat)),
            "latency_ms_max": float(np.max(lat)),
            # sequential calls: samples over the summed call time; overlapping calls: over wall time
            "throughput_sps": self.samples_per_call * len(lat) / (self.wall_s or float(np.sum(lat)) / 1000.0),
            "warmup_calls": self.warmup_calls,
            "stop_reason": self.stop_reason,
        }


def measure(
    call: Callable[[], object],
    cfg: MeasureConfig,
    samples_per_call: int,
    on_progress: Callable[[int, float], None] | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> Measurement:
    """Warm up, then time `call()` until min calls and min time are reached and the p50's CI
    is narrow enough, or until max time. Only `call()` sits between the two clock reads.
    `clock` (ns) is replaceable for tests."""
    warmup_end = clock() + int(cfg.warmup_s * 1e9)
    warmups = 0
    while warmups < cfg.warmup_calls or clock() < warmup_end:
        call()
        warmups += 1

    durations_ns: list[int] = []
    started = clock()
    min_end, max_end = started + int(cfg.min_s * 1e9), started + int(cfg.max_s * 1e9)
    while True:
        t0 = clock()
        call()
        t1 = clock()
        durations_ns.append(t1 - t0)

        n = len(durations_ns)
        if n >= cfg.max_calls:
            reason = "max_calls"
            break
        if t1 >= max_end:  # a hard cap: slow calls may stop before min_calls (n_calls says so)
            reason = "max_s"
            break
        if n % CHECK_EVERY_CALLS == 0:
            lat = np.asarray(durations_ns) / 1e6
            rel = ci_relative_half_width(lat)
            if on_progress is not None:
                on_progress(n, rel)
            if n >= cfg.min_calls and t1 >= min_end and rel <= cfg.target_ci_rel:
                reason = "ci_target"
                break
    return Measurement(np.asarray(durations_ns, dtype=np.float64) / 1e6, warmups, reason, samples_per_call)


def ratio_ci(ratios: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """(geometric mean, CI low, CI high) of ratios: a Student t interval on their logarithms, so a
    speed-up of 2 and a slow-down of 0.5 weigh the same (Fleming & Wallace, "How not to lie with
    statistics: the correct way to summarize benchmark results", CACM 1986). Fewer than 2 ratios
    give no interval (NaN), never an invented one."""
    logs = np.log(np.asarray(ratios, dtype=np.float64))
    if len(logs) == 0:
        return math.nan, math.nan, math.nan
    center = float(np.exp(np.mean(logs)))
    if len(logs) < 2:
        return center, math.nan, math.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(logs) - 1) * np.std(logs, ddof=1) / math.sqrt(len(logs))
    return center, float(np.exp(np.mean(logs) - half)), float(np.exp(np.mean(logs) + half))


MIN_PAIRS = 5  # burst pairs before the ratio's CI may stop the loop


@dataclass
class PairedMeasurement:
    """The runtime's calls (as a Measurement) and the baseline's, timed in alternating bursts."""

    runtime: Measurement
    baseline_latencies_ms: np.ndarray
    ratios: np.ndarray  # per burst pair: baseline median / runtime median (> 1: the runtime is faster)

    def summary(self) -> dict[str, float | int | str]:
        speedup, low, high = ratio_ci(self.ratios)
        return {
            **self.runtime.summary(),
            "speedup_vs_eager": speedup,
            "speedup_vs_eager_ci_low": low,
            "speedup_vs_eager_ci_high": high,
            "paired_bursts": int(len(self.ratios)),
            "baseline_latency_ms_p50": float(np.median(self.baseline_latencies_ms)),
        }


def measure_paired(
    call: Callable[[], object],
    baseline: Callable[[], object],
    cfg: MeasureConfig,
    samples_per_call: int,
    on_progress: Callable[[int, float], None] | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> PairedMeasurement:
    """Warm both up, then alternate bursts of `cfg.burst_calls` calls of each (ABBA order, so neither
    always goes first) until at least MIN_PAIRS pairs, `min_calls` runtime calls and `min_s` have
    passed and the speed-up's 95% CI half-width is within `target_ci_rel` of it, or `max_s` passes.
    Only the call sits between the two clock reads; `clock` (ns) is replaceable for tests."""
    warmups = 0
    for target in (baseline, call):
        warmup_end = clock() + int(cfg.warmup_s * 1e9)
        count = 0
        while count < cfg.warmup_calls or clock() < warmup_end:
            target()
            count += 1
        warmups = max(warmups, count)

    def burst(target: Callable[[], object]) -> list[int]:
        durations = []
        for _ in range(cfg.burst_calls):
            t0 = clock()
            target()
            durations.append(clock() - t0)
        return durations

    runtime_ns: list[int] = []
    baseline_ns: list[int] = []
    ratios: list[float] = []
    started = clock()
    min_end, max_end = started + int(cfg.min_s * 1e9), started + int(cfg.max_s * 1e9)
    while True:
        if len(ratios) % 2 == 0:
            base, mine = burst(baseline), burst(call)
        else:
            mine, base = burst(call), burst(baseline)
        runtime_ns += mine
        baseline_ns += base
        ratios.append(float(np.median(base) / np.median(mine)))
        now = clock()
        center, low, high = ratio_ci(np.asarray(ratios))
        rel = (high - low) / 2 / center if len(ratios) > 1 else math.inf
        if on_progress is not None:
            on_progress(len(runtime_ns), rel)
        if len(runtime_ns) >= cfg.max_calls:
            reason = "max_calls"
            break
        if now >= max_end:
            reason = "max_s"
            break
        if (
            len(ratios) >= MIN_PAIRS
            and len(runtime_ns) >= cfg.min_calls
            and now >= min_end
            and rel <= cfg.target_ci_rel
        ):
            reason = "ci_target"
            break
    runtime = Measurement(np.asarray(runtime_ns, dtype=np.float64) / 1e6, warmups, reason, samples_per_call)
    return PairedMeasurement(runtime, np.asarray(baseline_ns, dtype=np.float64) / 1e6, np.asarray(ratios))
