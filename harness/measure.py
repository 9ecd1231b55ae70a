"""The measuring loop and its statistics. A plain library: no Hydra, no torch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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
) -> Measurement:
    """Warm up, then time `call()` until min calls and min time are reached and the p50's CI
    is narrow enough, or until max time. Only `call()` sits between the two clock reads."""
    clock = time.perf_counter_ns
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
