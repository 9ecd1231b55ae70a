"""The one measuring loop and its statistics. A plain library: no Hydra, no torch.

A runtime supplies only what to call; the drivers here decide when and time it:
- `measure`: single stream — one call after the other (MLPerf LoadGen's SingleStream);
- `measure_paired`: single stream, alternating short bursts of a baseline (eager fp32) and the
  runtime in the same process, so both see the same machine state (`ratio_ci`);
- `measure_concurrent`: offline — `streams` requests in flight at all times, from one thread per
  stream calling a blocking callable, or through a runtime's own request queue (OpenVINO's
  AsyncInferQueue); throughput over wall time;
- `measure_server`: server — requests arrive as a Poisson process; latency counts from arrival.
Each driver takes a sequence of calls and cycles through it (`timing_inputs=dataset`: one call per
eval batch), warming every call up first so a compiler sees every shape before the clock runs.
Between the two clock reads of a timed call there is the call and nothing else.

Threads: the concurrent and server drivers call from threads of their own. Each thread enters
`thread_context` (e.g. torch.inference_mode, which is per thread) and warms its own calls before the
clock starts; an exception in any of them stops the measurement and is raised in the caller.
"""

from __future__ import annotations

import contextlib
import functools
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from harness.config import MeasureConfig

CHECK_EVERY_CALLS = 10  # how often the stopping rule is evaluated (outside the timed region)
CHECK_EVERY_S = 0.25  # concurrent drivers: how often the main thread looks at the stopping rule
Call = Callable[[], object]
ThreadContext = Callable[[], contextlib.AbstractContextManager[Any]]  # entered once by each driver thread


def median_ci(latencies_ms: np.ndarray) -> tuple[float, float]:
    """Distribution-free 95% CI of the median: quantile_ci at q = 0.5, exact binomial ranks, so it
    covers the median with at least 95% for every n (a normal approximation of the ranks falls short
    at n = 21, 26, 31, ...). With fewer than 6 calls even [min, max] covers the median with less than
    95% (1 - 2 * 0.5**n: 50% for 2 calls, 94% for 5), so the interval is (NaN, NaN): not established."""
    return quantile_ci(latencies_ms, 0.5)


@functools.lru_cache(maxsize=4096)
def order_statistic_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int, int]:
    """0-based ranks (low, high) of the order statistics bounding a distribution-free CI of the
    q-quantile of n values: where the binomial (n, q) distribution leaves (1 - confidence) / 2 on each
    side (Hahn & Meeker, Statistical Intervals, 1991, ch. 5). low = -1 or high = n: no such order
    statistic inside the sample (that bound is not established). Cached: the stopping rule asks often."""
    from scipy import stats  # here, not at import: a sweep's parent imports this module, ~0.7 s

    tail = (1 - confidence) / 2
    return int(stats.binom.ppf(tail, n, q)) - 1, int(stats.binom.ppf(1 - tail, n, q))


def quantile_ci(latencies_ms: np.ndarray, q: float, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free CI of the q-quantile from order statistics (order_statistic_ranks; Hahn &
    Meeker, Statistical Intervals, 1991, ch. 5). When n is too small for a rank inside the sample, that
    bound is NaN: the quantile is not established (e.g. a p99 needs 368 calls at 95%)."""
    n = len(latencies_ms)
    if n == 0:
        return math.nan, math.nan
    ordered = np.sort(latencies_ms)
    low_rank, high_rank = order_statistic_ranks(n, q, confidence)
    low = float(ordered[low_rank]) if low_rank >= 0 else math.nan
    high = float(ordered[high_rank]) if high_rank < n else math.nan
    return low, high


def ci_relative_half_width(latencies_ms: np.ndarray) -> float:
    low, high = median_ci(latencies_ms)
    median = float(np.median(latencies_ms))
    return (high - low) / 2 / median if median > 0 and not math.isnan(low) else math.inf


@dataclass
class Measurement:
    latencies_ms: np.ndarray  # one entry per timed call (request)
    warmup_calls: int
    stop_reason: str  # "ci_target" | "max_s" | "max_calls"
    samples_per_call: int
    wall_s: float | None = None  # set when calls overlap: throughput = samples / wall time
    extra: dict[str, Any] = field(default_factory=dict)  # the driver's own columns (streams, qps, ...)
    # server: requests never served, their wait until the run gave up on them (lower bounds; no column)
    censored_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def summary(self) -> dict[str, Any]:
        lat = self.latencies_ms
        ci_low, ci_high = median_ci(lat)
        p99_low, p99_high = quantile_ci(lat, 0.99)
        return {
            "n_calls": int(len(lat)),
            "latency_ms_p50": float(np.percentile(lat, 50)),
            "latency_ms_p50_ci_low": ci_low,
            "latency_ms_p50_ci_high": ci_high,
            "latency_ms_p90": float(np.percentile(lat, 90)),
            "latency_ms_p95": float(np.percentile(lat, 95)),
            "latency_ms_p99": float(np.percentile(lat, 99)),
            "latency_ms_p99_ci_low": p99_low,
            "latency_ms_p99_ci_high": p99_high,
            "p99_established": bool(not math.isnan(p99_high)),
            "latency_ms_mean": float(np.mean(lat)),
            "latency_ms_std": float(np.std(lat, ddof=1)) if len(lat) > 1 else 0.0,
            "latency_ms_min": float(np.min(lat)),
            "latency_ms_max": float(np.max(lat)),
            # sequential calls: samples over the summed call time; overlapping calls: over wall time
            "throughput_sps": self.samples_per_call * len(lat) / (self.wall_s or float(np.sum(lat)) / 1000.0),
            "warmup_calls": self.warmup_calls,
            "stop_reason": self.stop_reason,
            **self.extra,
        }


def _cycle(calls: Sequence[Call] | Call) -> list[Call]:
    return list(calls) if isinstance(calls, Sequence) else [calls]


def warm_up(calls: Sequence[Call], cfg: MeasureConfig, clock: Callable[[], int] = time.perf_counter_ns) -> int:
    """At least `warmup_calls` calls and `warmup_s` seconds, and every call at least once."""
    end = clock() + int(cfg.warmup_s * 1e9)
    count = 0
    while count < max(cfg.warmup_calls, len(calls)) or clock() < end:
        calls[count % len(calls)]()
        count += 1
    return count


def measure(
    call: Sequence[Call] | Call,
    cfg: MeasureConfig,
    samples_per_call: int,
    on_progress: Callable[[int, float], None] | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> Measurement:
    """Single stream. Warm up, then time calls (cycling through `call` when it is a sequence) until
    min calls and min time are reached and the p50's CI is narrow enough, or until max time. Only the
    call sits between the two clock reads. `clock` (ns) is replaceable for tests."""
    calls = _cycle(call)
    _preload_statistics()  # the stopping rule's CI ranks come from scipy: imported before timing
    warmups = warm_up(calls, cfg, clock)
    durations_ns: list[int] = []
    started = clock()
    min_end, max_end = started + int(cfg.min_s * 1e9), started + int(cfg.max_s * 1e9)
    while True:
        target = calls[len(durations_ns) % len(calls)]
        t0 = clock()
        target()
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
            rel = ci_relative_half_width(np.asarray(durations_ns) / 1e6)
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
    from scipy import stats

    half = stats.t.ppf(0.5 + confidence / 2, len(logs) - 1) * np.std(logs, ddof=1) / math.sqrt(len(logs))
    return center, float(np.exp(np.mean(logs) - half)), float(np.exp(np.mean(logs) + half))


MIN_PAIRS = 5  # burst pairs before the ratio's CI may stop the loop


@dataclass
class PairedMeasurement:
    """The runtime's calls (as a Measurement) and the baseline's, timed in alternating bursts."""

    runtime: Measurement
    baseline_latencies_ms: np.ndarray
    ratios: np.ndarray  # per burst pair: baseline median / runtime median (> 1: the runtime is faster)

    def summary(self) -> dict[str, Any]:
        speedup, low, high = ratio_ci(self.ratios)
        return {
            **self.runtime.summary(),
            "speedup_vs_eager": speedup,
            "speedup_vs_eager_ci_low": low,
            "speedup_vs_eager_ci_high": high,
            "paired_bursts": int(len(self.ratios)),
            "baseline_latency_ms_p50": float(np.median(self.baseline_latencies_ms)),
        }

    @property
    def latencies_ms(self) -> np.ndarray:
        return self.runtime.latencies_ms


def measure_paired(
    call: Sequence[Call] | Call,
    baseline: Sequence[Call] | Call,
    cfg: MeasureConfig,
    samples_per_call: int,
    on_progress: Callable[[int, float], None] | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> PairedMeasurement:
    """Warm both up, then alternate bursts of `cfg.burst_calls` calls of each (ABBA order, so neither
    always goes first; both cycle through their calls in step) until at least MIN_PAIRS pairs,
    `min_calls` runtime calls and `min_s` have passed and the speed-up's 95% CI half-width is within
    `target_ci_rel` of it, or `max_s` passes (checked after every call: a hard cap, as in single stream;
    a burst it cuts short still pairs with its partner's calls so far) or the runtime's calls reach
    `max_calls`. Only the call sits between the two clock reads; `clock` (ns) is replaceable for tests."""
    _preload_statistics()  # ratio_ci's first scipy import would land between two bursts
    calls, baselines = _cycle(call), _cycle(baseline)
    warmups = max(warm_up(baselines, cfg, clock), warm_up(calls, cfg, clock))

    def burst(targets: list[Call], start: int, limit: int) -> list[int]:
        """Up to `limit` calls (at least one), ending after the call during which max_s passed."""
        durations = []
        for k in range(max(min(cfg.burst_calls, limit), 1)):
            target = targets[(start + k) % len(targets)]
            t0 = clock()
            target()
            t1 = clock()
            durations.append(t1 - t0)
            if t1 >= max_end:  # max_s is a hard cap here too: checked after each call, not each pair
                break
        return durations

    runtime_ns: list[int] = []
    baseline_ns: list[int] = []
    ratios: list[float] = []
    started = clock()
    min_end, max_end = started + int(cfg.min_s * 1e9), started + int(cfg.max_s * 1e9)
    while True:
        position, limit = len(runtime_ns), cfg.max_calls - len(runtime_ns)  # max_calls caps the runtime's calls
        baseline_first = len(ratios) % 2 == 0
        first = burst(baselines if baseline_first else calls, position, limit)
        # out of time after the first burst: its partner is not run (the first pair always is: one ratio)
        second = burst(calls if baseline_first else baselines, position, limit) if ratios == [] or (
            clock() < max_end) else []  # fmt: skip
        base, mine = (first, second) if baseline_first else (second, first)
        runtime_ns += mine
        baseline_ns += base
        if mine and base:
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


class RequestQueue(Protocol):
    """A runtime's own asynchronous request queue (OpenVINO's AsyncInferQueue): `start(k, done)` submits
    a request on input k (blocking while every request is busy) and calls `done()` from another thread
    when it completes; `wait_all()` returns when none is in flight; `wait_idle()` when one is free (the
    driver waits there before it reads the clock: a request's latency is from submission to completion)."""

    def start(self, k: int, done: Callable[[], None]) -> None: ...

    def wait_all(self) -> None: ...

    def wait_idle(self) -> None: ...


class _Recorder:
    """Latencies from concurrent workers, and the stopping rule evaluated on them."""

    def __init__(self, cfg: MeasureConfig, clock: Callable[[], int], cap_calls: bool = True) -> None:
        """`cfg.max_calls` latencies stop new calls; calls in flight then still complete and count (each
        did its work inside the wall time: dropping them understated throughput 2x with 4 streams), so
        n_calls exceeds max_calls by fewer than `streams` (results.MAX_LATENCIES_PER_ROW allows it).
        `cap_calls=False`: the caller caps the calls itself (the server caps its arrivals; its last one
        served must not end the arrival window early)."""
        self.cfg, self.clock, self.cap_calls = cfg, clock, cap_calls
        self.lock = threading.Lock()
        self.latencies_ns: list[int] = []
        self.last_ns: int | None = None  # when the last recorded call completed
        self.stop = threading.Event()
        self.reason = "max_s"
        self.error: BaseException | None = None

    def failed(self, error: BaseException) -> None:
        """A driver thread raised: keep the first error and stop everything."""
        with self.lock:
            self.error = self.error or error
        self.stop.set()

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def add(self, ns: int) -> None:
        now = self.clock()
        with self.lock:
            self.latencies_ns.append(ns)
            self.last_ns = now
            if self.cap_calls and len(self.latencies_ns) >= self.cfg.max_calls and not self.stop.is_set():
                self.reason = "max_calls"
                self.stop.set()

    def watch(self, started: int, on_progress: Callable[[int, float], None] | None) -> None:
        """Block the calling thread until the rule says stop (waking every CHECK_EVERY_S)."""
        min_end, max_end = started + int(self.cfg.min_s * 1e9), started + int(self.cfg.max_s * 1e9)
        # wake at max_s itself, not up to CHECK_EVERY_S after it
        while not self.stop.wait(min(CHECK_EVERY_S, max((max_end - self.clock()) / 1e9, 0.001))):
            now = self.clock()
            with self.lock:
                latencies = np.asarray(self.latencies_ns, dtype=np.float64) / 1e6
            rel = ci_relative_half_width(latencies) if len(latencies) >= 2 else math.inf
            if on_progress is not None:
                on_progress(len(latencies), rel)
            if now >= max_end and len(latencies):  # a call longer than max_s still gives one latency
                self.reason = "max_s"
                break
            if len(latencies) >= self.cfg.min_calls and now >= min_end and rel <= self.cfg.target_ci_rel:
                self.reason = "ci_target"
                break
        self.stop.set()


def _threads(
    targets: Sequence[Callable[[], None]], recorder: _Recorder, thread_context: ThreadContext, ready: threading.Barrier
) -> list[threading.Thread]:
    """One started daemon thread per target, each in `thread_context`; an exception goes to the
    recorder and breaks `ready`, the barrier each target waits on (with the caller) once it is ready."""

    def run(target: Callable[[], None]) -> None:
        try:
            with thread_context():
                target()
        except BaseException as error:  # noqa: BLE001 - raised again in the caller
            recorder.failed(error)
            ready.abort()

    threads = [threading.Thread(target=run, args=(target,), daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    return threads


def _start_together(ready: threading.Barrier, recorder: _Recorder, threads: list[threading.Thread]) -> None:
    """Wait until every thread is ready; when one failed instead, wait for all to end and raise its error."""
    try:
        ready.wait()
    except threading.BrokenBarrierError:
        recorder.stop.set()
        for thread in threads:
            thread.join()
        recorder.raise_error()
        raise


def measure_concurrent(
    calls: Sequence[Sequence[Call]] | None,
    cfg: MeasureConfig,
    samples_per_call: int,
    streams: int,
    request_queue: RequestQueue | None = None,
    n_inputs: int = 1,
    on_progress: Callable[[int, float], None] | None = None,
    clock: Callable[[], int] = time.perf_counter_ns,
    thread_context: ThreadContext = contextlib.nullcontext,
) -> Measurement:
    """Offline: keep `streams` requests in flight until the stopping rule (min calls and time, the
    p50's CI of the per-request latency, or max time, once at least one request finished) says stop.
    Either one thread per stream warms and then calls its own blocking callables (`calls[s]`, cycled;
    a single stream runs on the calling thread, as a single server does), or `request_queue` keeps them
    in flight (it blocks while all are busy). Throughput is samples over
    wall time; latency is per request. Raises what a stream's call raised."""
    recorder = _Recorder(cfg, clock)
    _preload_statistics()  # the watcher's CI ranks come from scipy: imported before timing
    if request_queue is None:
        assert calls is not None and len(calls) == streams
        warmups = [0] * streams

        def serve(stream: Sequence[Call]) -> None:
            k = 0
            while not recorder.stop.is_set():
                target = stream[k % len(stream)]
                t0 = clock()
                target()
                recorder.add(clock() - t0)
                k += 1

        def worker(index: int, stream: Sequence[Call]) -> None:
            warmups[index] = warm_up(list(stream), cfg, clock)
            ready.wait()
            serve(stream)

        if streams == 1:  # on this thread, whose OpenMP team is warm (benchmarks/thread_idle.py)
            with thread_context():
                warmups[0] = warm_up(list(calls[0]), cfg, clock)
                started = clock()
                watcher = threading.Thread(target=recorder.watch, args=(started, on_progress), daemon=True)
                watcher.start()
                try:
                    serve(calls[0])
                finally:
                    recorder.stop.set()
                    watcher.join()
        else:
            # the start is read as the barrier opens, before any stream is let go: read after it (on this
            # thread), streams' first calls began before it and 2 streams summed 2.04x the wall time
            opened: list[int] = []
            ready = threading.Barrier(streams + 1, action=lambda: opened.append(clock()))
            threads = _threads([lambda i=i, c=c: worker(i, c) for i, c in enumerate(calls)], recorder,
                               thread_context, ready)  # fmt: skip
            _start_together(ready, recorder, threads)
            started = opened[0]
            recorder.watch(started, on_progress)
            for thread in threads:
                thread.join()
        warmed = sum(warmups)
    else:
        # as warm_up: at least warmup_calls requests (every input, every stream) and warmup_s seconds
        warm_until, warmed = clock() + int(cfg.warmup_s * 1e9), 0
        while warmed < max(cfg.warmup_calls, n_inputs, streams) or clock() < warm_until:
            request_queue.start(warmed % n_inputs, lambda: None)
            warmed += 1
        request_queue.wait_all()

        def feed() -> None:
            ready.wait()
            k = 0
            while not recorder.stop.is_set():
                request_queue.wait_idle()  # a request's latency starts when it is submitted, not while it waits
                t0 = clock()
                request_queue.start(k % n_inputs, lambda t0=t0: recorder.add(clock() - t0))
                k += 1

        opened = []
        ready = threading.Barrier(2, action=lambda: opened.append(clock()))  # the start, before feed is let go
        threads = _threads([feed], recorder, thread_context, ready)
        _start_together(ready, recorder, threads)
        started = opened[0]
        recorder.watch(started, on_progress)
        threads[0].join()
        request_queue.wait_all()
    # throughput counts the recorded calls over the time until the last of them completed
    wall_s = ((recorder.last_ns or clock()) - started) / 1e9
    recorder.raise_error()
    latencies = np.asarray(recorder.latencies_ns, dtype=np.float64) / 1e6
    extra = {"streams": streams, "driver": "request queue" if request_queue is not None else "threads"}
    return Measurement(latencies, warmed, recorder.reason, samples_per_call, wall_s, extra)


def poisson_arrivals(rate_qps: float, duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Arrival times (s from the start) of a Poisson process: exponential gaps with mean 1/rate."""
    gaps = rng.exponential(1.0 / rate_qps, size=max(16, int(rate_qps * duration_s * 1.5) + 16))
    times = np.cumsum(gaps)
    while times[-1] < duration_s:  # rare: draw more
        times = np.concatenate([times, times[-1] + np.cumsum(rng.exponential(1.0 / rate_qps, size=len(gaps)))])
    return times[times < duration_s]


def _preload_statistics() -> None:
    """Import scipy.stats before a driver starts: a driver that evaluates a scipy statistic while it
    measures (the server's p99 rule, the paired ratio's t interval, the stopping rule's CI ranks) paid
    the first import (1.2 s on a 2-core machine) inside its measuring window — as latency of every
    request queued meanwhile."""
    from scipy import stats  # noqa: F401


SERVER_PERCENTILE = 0.99


def server_p99(measurement: Measurement) -> float:
    """The p99 (ms) over every request that arrived in a server run: the served ones' latencies and,
    for requests still unserved when the run gave up on them, their wait until then (a lower bound,
    above the latency bound: see measure_server). What `meets_latency_bound` and the qps search judge.
    LoadGen's percentile, no interpolation: the sorted latencies' element at index floor(n * 0.99)
    (mlcommons/inference loadgen/results.cc, PerformanceSummary::ProcessLatencies), so the verdict
    depends on how many requests exceed the bound, not on by how much: with numpy's interpolated
    percentile 1 of 50 requests at 101 ms read 56 ms and met a 100 ms bound."""
    every = np.sort(np.concatenate([measurement.latencies_ms, measurement.censored_ms]))
    if not len(every):
        return math.inf
    return float(every[min(int(len(every) * SERVER_PERCENTILE), len(every) - 1)])


ARRIVAL_DRAWS = 3  # a qps search's tries of a rate whose window saw no arrival (each a new Poisson draw)


class NoArrivals(ValueError):
    """A server window in which no request arrived (a Poisson draw of zero): it shows nothing either way."""


def measure_server(
    calls: Sequence[Sequence[Call]],
    cfg: MeasureConfig,
    samples_per_call: int,
    target_qps: float,
    latency_bound_ms: float,
    rng: np.random.Generator,
    on_progress: Callable[[int, float], None] | None = None,
    warm: bool = True,
    thread_context: ThreadContext = contextlib.nullcontext,
) -> Measurement:
    """Server: requests arrive as a Poisson process at `target_qps` for up to `cfg.max_s` seconds
    (stopping earlier once min calls and min time passed and the p99 is established, or at max_calls);
    `len(calls)` servers take them first in, first out. A request's latency runs from its scheduled
    arrival to its completion, queueing included (no coordinated omission: an arrival the issuer was
    late for still counts from when it was due, and one due before the stop is queued at the stop).
    Each server warms its calls first (`warm`: the full warm-up; else one call each, as a fresh
    thread's first call costs more). A single server runs on the calling thread, the issuer beside it:
    torch work on a second Python thread pays after every idle gap, 35 ms against 18 ms for a
    transformer that takes 21 ms back to back (benchmarks/thread_idle.py).
    At the stop no request arrives any more and the queue drains for at most `latency_bound_ms` (as
    LoadGen waits for every issued query, but bounded): a request still queued then has waited longer
    than the bound, so whether each request met the bound is known exactly, and an overloaded server
    fails it however short the window. Those are `requests_unserved`; they enter the p99 that decides
    `meets_latency_bound` (server_p99) with their wait, a lower bound. `max_calls` caps the arrivals (so
    the served latencies too). Meeting the bound needs an arrival window of at least the bound and
    `min_s`: a shorter one cannot show an overload, and `meets_latency_bound` is None (not established).
    The run lasts at most `max_s` + `latency_bound_ms`. Columns: target, offered (arrivals in the window
    per second: one Poisson draw) and achieved (served per second of the run) qps, unserved requests,
    the bound and whether the p99 meets it. Raises what a server's call raised, ValueError when nothing
    was served."""
    _preload_statistics()
    clock = time.perf_counter_ns
    pending: queue.Queue[tuple[int, int] | None] = queue.Queue()
    recorder = _Recorder(cfg, clock, cap_calls=False)  # the schedule caps the arrivals at max_calls
    warmups = [0] * len(calls)
    first_calls = MeasureConfig(warmup_calls=0, warmup_s=0.0)
    bound_ns = int(latency_bound_ms * 1e6)
    given_up_ms: list[float] = []  # requests not served: how long each had waited when given up (> the bound)
    late = {"due": np.zeros(0, dtype=np.int64), "next": 0}  # arrivals due before the stop the issuer never reached
    late_lock = threading.Lock()
    closed = threading.Event()
    arrivals = poisson_arrivals(target_qps, cfg.max_s, rng)
    times: dict[str, int] = {}

    def take() -> tuple[int, int] | None:
        """The next request: the queue's, then (after the stop) the late arrivals' in order; None: none left."""
        item = pending.get()
        if item is not None:
            return item
        pending.put(None)  # the stop mark stays for every other server (a blocked get() must see one)
        with late_lock:
            k = late["next"]
            if k >= len(late["due"]):
                return None
            late["next"] = k + 1
            return k, int(late["due"][k])

    def server(index: int, stream: Sequence[Call]) -> None:
        if len(calls) > 1:  # a thread of its own: warm up there (one server warms before this is called)
            warmups[index] = warm_up(list(stream), cfg if warm else first_calls)
            ready.wait()
        while (item := take()) is not None:
            k, due = item
            now = clock()
            # past the drain deadline every queued request has waited longer than the bound: not served
            if recorder.error is not None or (closed.is_set() and now >= times["deadline"]):
                given_up_ms.append((now - due) / 1e6)
                continue
            stream[k % len(stream)]()
            recorder.add(clock() - due)

    def issue() -> None:
        """Put each request in the queue at its arrival time until the stopping rule; then hand the
        arrivals already due to the servers, set the drain deadline and close."""
        started = times["started"] = clock()
        due_at = started + (arrivals * 1e9).astype(np.int64)  # each arrival's due time (ns)
        issued = 0
        try:
            issued = schedule(started, due_at)
        finally:  # whatever happened, the servers are told to stop
            stopped = times["stopped"] = clock()
            due = due_at[issued:]
            with late_lock:  # max_calls caps the arrivals of the run, these included
                late["due"] = due[due <= stopped][: max(cfg.max_calls - issued, 0)]
            times["offered"] = issued + len(late["due"])
            # the scheduled time of the last request offered: a window cut short ends there (LoadGen)
            times["last_due"] = int(due_at[times["offered"] - 1]) if times["offered"] else started
            times["deadline"] = stopped + bound_ns
            closed.set()
            pending.put(None)

    def schedule(started: int, due_at: np.ndarray) -> int:
        """Issue arrivals on time until the rule says stop; returns how many were issued (or given up)."""
        min_end, max_end = started + int(cfg.min_s * 1e9), started + int(cfg.max_s * 1e9)
        k = 0
        while k < len(arrivals):
            due = int(due_at[k])
            if k >= cfg.max_calls:  # max_calls arrivals: the window ends, everything in it is served or counted
                recorder.reason = "max_calls"
                return k
            if recorder.error is not None:  # a failed server
                return k
            if due > max_end:  # the window is over: at max_s, not at its last arrival (served per second)
                return window_end(k)
            now = clock()
            if now - due > bound_ns:  # an issuer this late: every arrival due before now - bound has waited past
                behind = min(int(np.searchsorted(due_at, now - bound_ns)), cfg.max_calls)  # the bound: given up
                given_up_ms.extend(((now - due_at[k:behind]) / 1e6).tolist())
                k = behind
                continue
            if due > now and recorder.stop.wait((due - now) / 1e9):  # the arrival schedule: a timer, not a poll;
                return k  # a failed server (or Ctrl-C on its thread) wakes it at once
            pending.put((k, due))
            if k % CHECK_EVERY_CALLS == 0:
                done = len(recorder.latencies_ns)
                if on_progress is not None:
                    on_progress(done, math.nan)
                if done >= max(cfg.min_calls, 1) and clock() >= min_end:
                    _, p99_high = quantile_ci(np.asarray(recorder.latencies_ns, dtype=np.float64), 0.99)
                    if not math.isnan(p99_high):
                        recorder.reason = "p99_established"
                        return k + 1
            k += 1
        return window_end(len(arrivals))

    def window_end(issued: int) -> int:
        """Wait for the end of the window (max_s) and return `issued`: a window of max_s stopped at its last
        arrival (2.84 s of 3) and `achieved_qps` divided the served requests by less than `offered_qps`
        did (3.52 served per second against 3.33 offered, none unserved)."""
        left = times["started"] + int(cfg.max_s * 1e9) - clock()
        if left > 0:
            recorder.stop.wait(left / 1e9)  # a failed server (or Ctrl-C) still wakes it at once
        return issued

    if len(calls) == 1:  # one server on this thread, whose OpenMP team is warm; the issuer beside it
        issuer = threading.Thread(target=issue, daemon=True)
        with thread_context():
            warmups[0] = warm_up(list(calls[0]), cfg if warm else first_calls)
            issuer.start()
            try:
                server(0, calls[0])
            except BaseException as error:
                recorder.failed(error)  # the issuer stops at its next arrival
                raise
            finally:
                issuer.join()
    else:
        ready = threading.Barrier(len(calls) + 1)
        servers = _threads([lambda i=i, c=c: server(i, c) for i, c in enumerate(calls)], recorder, thread_context,
                           ready)  # fmt: skip
        _start_together(ready, recorder, servers)
        issue()
        for thread in servers:
            thread.join()
    recorder.raise_error()
    started, offered = times["started"], times["offered"]
    wall_s = (clock() - started) / 1e9
    latencies = np.asarray(recorder.latencies_ns, dtype=np.float64) / 1e6
    if not offered:
        raise NoArrivals(f"no request arrived in {cfg.max_s} s at {target_qps} qps (a Poisson draw of none): "
                         "raise measure.max_s or scenario.target_qps")  # fmt: skip
    if not len(latencies):
        raise ValueError(f"no request was served in {cfg.max_s} s at {target_qps} qps: raise measure.max_s or "
                         "scenario.target_qps")  # fmt: skip
    untaken = late["due"][late["next"] :]  # late arrivals no server reached: given up at the deadline
    censored = np.concatenate([given_up_ms, (times["deadline"] - untaken) / 1e6])
    if recorder.reason == "max_s":  # the whole window (the issuer waits out max_s): arrivals per second of it
        window_s, offered_qps = cfg.max_s, offered / cfg.max_s
    else:  # cut short (max_calls, p99 established) at the last offered request's scheduled time: as LoadGen,
        # (n - 1) / that time, [begin, end) (loadgen/results.cc); n / it overstated the rate (102 for 100 qps)
        window_s = (times["last_due"] - started) / 1e9
        offered_qps = (offered - 1) / window_s if offered > 1 and window_s > 0 else math.nan
    extra = {
        "streams": len(calls), "target_qps": target_qps,
        "offered_qps": offered_qps,
        "achieved_qps": len(latencies) / wall_s if wall_s else math.nan,  # served, not issued: overload shows
        "requests_unserved": len(censored), "latency_bound_ms": latency_bound_ms,
    }  # fmt: skip
    measurement = Measurement(latencies, sum(warmups), recorder.reason, samples_per_call, wall_s, extra, censored)
    met = bool(server_p99(measurement) <= latency_bound_ms)
    # a window shorter than the bound (or min_s) cannot show an overload (max_calls=50 arrivals at 300,000 qps
    # came in 0.2 ms and were all served within a 100 ms bound): meeting it is then not established (None);
    # missing it is (the drain showed requests past the bound)
    established = window_s >= max(latency_bound_ms / 1000, cfg.min_s)
    measurement.extra["meets_latency_bound"] = met if established or not met else None
    return measurement


def search_server_qps(
    run_at: Callable[[float], Measurement],
    start_qps: float,
    latency_bound_ms: float,
    steps: int = 7,
    min_qps: float = 0.0,
    max_qps: float = math.inf,
) -> tuple[Measurement, list[tuple[float, float, bool]], bool]:
    """The highest arrival rate whose p99 meets the bound, as LoadGen's server mode finds it: double
    from `start_qps` until the bound fails (or `max_qps` is reached; halve from a start that fails,
    down to `min_qps`), then bisect `steps` times between
    the last rate that met it and the first that did not. Each rate is judged as its run judges itself
    (`meets_latency_bound`: server_p99, unserved requests included). Never probes below `min_qps` (a
    rate too low for any request to arrive in the window): when even that fails, the search stops there.
    A rate whose run could not establish meeting the bound (too short a window) counts as failing; one
    whose window saw no arrival (NoArrivals) is drawn again, ARRIVAL_DRAWS times in all, then counts as
    failing (its p99 NaN). Raises ValueError when no rate tried saw an arrival.
    Returns (the run at the best rate that met the bound, else the lowest tried; every (qps, p99, met)
    tried; whether a rate that really missed the bound bounds the answer — False when every rate up to
    `max_qps` met it or the next one was merely not established, so the answer is only a lower bound) —
    no rate met the bound when no entry's `met` is true."""
    tried: list[tuple[float, float, bool]] = []
    runs: dict[float, Measurement] = {}
    missed: set[float] = set()  # rates that really failed (not merely unestablished: too short a window)
    probed: set[float] = set()  # every rate run, with or without arrivals

    def probe(qps: float) -> bool:
        probed.add(qps)
        for _ in range(ARRIVAL_DRAWS):  # nothing arrived (at the floor, e^-min_calls of the time): draw again
            try:
                result = run_at(qps)
                break
            except NoArrivals:
                continue
        else:  # every draw empty: this rate shows nothing, as a failing one
            tried.append((qps, math.nan, False))
            return False
        runs[qps] = result
        verdict = result.extra.get("meets_latency_bound")
        if verdict is False:
            missed.add(qps)
        tried.append((qps, server_p99(result), bool(verdict)))
        return bool(verdict)

    good, bad = 0.0, math.inf
    qps = min(max(start_qps, min_qps), max_qps)
    while True:  # bracket: double while the bound is met, halve while it fails, until both are seen
        if probe(qps):
            good, following = qps, min(qps * 2, max_qps)
        else:
            bad, following = qps, max(qps / 2, min_qps)
        if (good > 0 and bad < math.inf) or following in probed:  # bracketed, or at the cap or the floor
            break
        qps = following
    for _ in range(steps if good > 0 and bad < math.inf else 0):  # bisect the bracket
        qps = (good + bad) / 2
        if probe(qps):
            good = qps
        else:
            bad = qps
    if not runs:
        raise ValueError(f"no request arrived at any rate tried ({', '.join(f'{q:g}' for q, _, _ in tried)} qps): "
                         "raise measure.max_s")  # fmt: skip
    best = good if good > 0 else min(runs)
    return runs[best], tried, bad in missed
