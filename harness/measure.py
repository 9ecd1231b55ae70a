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
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from harness.config import MeasureConfig

Z_95 = 1.959963984540054
CHECK_EVERY_CALLS = 10  # how often the stopping rule is evaluated (outside the timed region)
CHECK_EVERY_S = 0.25  # concurrent drivers: how often the main thread looks at the stopping rule
Call = Callable[[], object]
ThreadContext = Callable[[], contextlib.AbstractContextManager[Any]]  # entered once by each driver thread


def median_ci(latencies_ms: np.ndarray) -> tuple[float, float]:
    """Distribution-free 95% CI of the median from order statistics (binomial ranks). With fewer than
    6 calls even [min, max] covers the median with less than 95% (1 - 2 * 0.5**n: 50% for 2 calls,
    94% for 5), so the interval is (NaN, NaN): not established, as quantile_ci says of a p99."""
    n = len(latencies_ms)
    if n < 6:
        return math.nan, math.nan
    ordered = np.sort(latencies_ms)
    half = Z_95 * math.sqrt(n) / 2
    low = max(int(math.floor(n / 2 - half)), 0)
    high = min(int(math.ceil(n / 2 + half)), n - 1)
    return float(ordered[low]), float(ordered[high])


def quantile_ci(latencies_ms: np.ndarray, q: float, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free CI of the q-quantile from order statistics: the ranks where the binomial
    (n, q) distribution leaves (1 - confidence) / 2 on each side (Hahn & Meeker, Statistical
    Intervals, 1991, ch. 5). When n is too small for an upper rank inside the sample, the upper bound
    is NaN: that quantile is not established (e.g. a p99 needs 368 calls at 95%)."""
    n = len(latencies_ms)
    if n == 0:
        return math.nan, math.nan
    from scipy import stats  # here, not at import: a sweep's parent imports this module, ~0.7 s

    ordered = np.sort(latencies_ms)
    tail = (1 - confidence) / 2
    low_rank = int(stats.binom.ppf(tail, n, q)) - 1  # 0-based index of the order statistic
    high_rank = int(stats.binom.ppf(1 - tail, n, q))
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
    `target_ci_rel` of it, or `max_s` passes. Only the call sits between the two clock reads; `clock`
    (ns) is replaceable for tests."""
    calls, baselines = _cycle(call), _cycle(baseline)
    warmups = max(warm_up(baselines, cfg, clock), warm_up(calls, cfg, clock))

    def burst(targets: list[Call], start: int) -> list[int]:
        durations = []
        for k in range(cfg.burst_calls):
            target = targets[(start + k) % len(targets)]
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
        position = len(runtime_ns)
        if len(ratios) % 2 == 0:
            base, mine = burst(baselines, position), burst(calls, position)
        else:
            mine, base = burst(calls, position), burst(baselines, position)
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


class RequestQueue(Protocol):
    """A runtime's own asynchronous request queue (OpenVINO's AsyncInferQueue): `start(k, done)` submits
    a request on input k (blocking while every request is busy) and calls `done()` from another thread
    when it completes; `wait_all()` returns when none is in flight."""

    def start(self, k: int, done: Callable[[], None]) -> None: ...

    def wait_all(self) -> None: ...


class _Recorder:
    """Latencies from concurrent workers, and the stopping rule evaluated on them."""

    def __init__(self, cfg: MeasureConfig, clock: Callable[[], int]) -> None:
        self.cfg, self.clock = cfg, clock
        self.lock = threading.Lock()
        self.latencies_ns: list[int] = []
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
        with self.lock:
            self.latencies_ns.append(ns)
            if len(self.latencies_ns) >= self.cfg.max_calls:
                self.reason = "max_calls"
                self.stop.set()

    def watch(self, started: int, on_progress: Callable[[int, float], None] | None) -> None:
        """Block the calling thread until the rule says stop (waking every CHECK_EVERY_S)."""
        min_end, max_end = started + int(self.cfg.min_s * 1e9), started + int(self.cfg.max_s * 1e9)
        while not self.stop.wait(CHECK_EVERY_S):
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
            ready = threading.Barrier(streams + 1)
            threads = _threads([lambda i=i, c=c: worker(i, c) for i, c in enumerate(calls)], recorder,
                               thread_context, ready)  # fmt: skip
            _start_together(ready, recorder, threads)
            started = clock()
            recorder.watch(started, on_progress)
            for thread in threads:
                thread.join()
        warmed = sum(warmups)
    else:
        warmed = max(cfg.warmup_calls, n_inputs, streams)
        for k in range(warmed):
            request_queue.start(k % n_inputs, lambda: None)
        request_queue.wait_all()

        def feed() -> None:
            ready.wait()
            k = 0
            while not recorder.stop.is_set():
                t0 = clock()
                request_queue.start(k % n_inputs, lambda t0=t0: recorder.add(clock() - t0))
                k += 1

        ready = threading.Barrier(2)
        threads = _threads([feed], recorder, thread_context, ready)
        _start_together(ready, recorder, threads)
        started = clock()
        recorder.watch(started, on_progress)
        threads[0].join()
        request_queue.wait_all()
    wall_s = (clock() - started) / 1e9
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
    """Server: requests arrive as a Poisson process at `target_qps` for `cfg.max_s` seconds (stopping
    earlier once min calls and min time passed and the p99 is established); `len(calls)` servers take
    them first in, first out. A request's latency runs from its arrival to its completion, queueing
    included. Each server warms its calls first (`warm`: the full warm-up; else one call each, as a
    fresh thread's first call costs more). A single server runs on the calling thread, the issuer
    beside it: torch work on a second Python thread pays after every idle gap, 35 ms against 18 ms
    for a transformer that takes 21 ms back to back (benchmarks/thread_idle.py). At the stop
    (max_s, max_calls, or the p99 established) requests still queued are not served, so an overloaded
    server never runs past the caps; they are counted (`requests_unserved`) and enter the p99 that
    decides `meets_latency_bound` with their wait until the stop, a lower bound of their latency.
    Columns: achieved and target qps, the p99 and whether it meets `latency_bound_ms`. Raises what a
    server's call raised, ValueError when nothing was served."""
    clock = time.perf_counter_ns
    pending: queue.Queue[tuple[int, int] | None] = queue.Queue()
    recorder = _Recorder(cfg, clock)
    warmups = [0] * len(calls)
    first_calls = MeasureConfig(warmup_calls=0, warmup_s=0.0)

    def server(index: int, stream: Sequence[Call]) -> None:
        if len(calls) > 1:  # a thread of its own: warm up there (one server warms before this is called)
            warmups[index] = warm_up(list(stream), cfg if warm else first_calls)
            ready.wait()
        # once the rule says stop (max_s, max_calls), what is still queued is left unserved: draining an
        # overloaded queue would run far past the hard caps
        while (item := pending.get()) is not None:
            k, arrival_ns = item
            if closed.is_set():
                waiting.append(arrival_ns)
                continue
            stream[k % len(stream)]()
            recorder.add(clock() - arrival_ns)

    closed = threading.Event()
    waiting: list[int] = []  # arrival times of requests still queued at the stop: never served

    arrivals = poisson_arrivals(target_qps, cfg.max_s, rng)
    times: dict[str, int] = {}

    def issue() -> None:
        """Put each request in the queue at its arrival time, until the stopping rule; then close."""
        started = times["started"] = clock()
        try:
            schedule(started)
        finally:  # whatever happened, the servers are told to stop
            times["stopped"] = clock()
            closed.set()
            for _ in calls:
                pending.put(None)

    def schedule(started: int) -> None:
        min_end, max_end = started + int(cfg.min_s * 1e9), started + int(cfg.max_s * 1e9)
        for k, at in enumerate(arrivals):
            if recorder.stop.is_set():  # max_calls, or a server failed
                break
            if clock() >= max_end:  # an issuer that fell behind its schedule stops at the hard cap too
                break
            due = started + int(at * 1e9)
            wait = (due - clock()) / 1e9
            if wait > 0:
                time.sleep(wait)  # the arrival schedule: a timer, not a poll
            pending.put((k, due))
            now = clock()
            if k % CHECK_EVERY_CALLS == 0:
                done = len(recorder.latencies_ns)
                if on_progress is not None:
                    on_progress(done, math.nan)
                if done >= max(cfg.min_calls, 1) and now >= min_end:
                    _, p99_high = quantile_ci(np.asarray(recorder.latencies_ns, dtype=np.float64), 0.99)
                    if not math.isnan(p99_high):
                        recorder.reason = "p99_established"
                        break

    if len(calls) == 1:  # one server on this thread, whose OpenMP team is warm; the issuer beside it
        issuer = threading.Thread(target=issue, daemon=True)
        with thread_context():
            warmups[0] = warm_up(list(calls[0]), cfg if warm else first_calls)
            issuer.start()
            try:
                server(0, calls[0])
            finally:
                recorder.stop.set()  # a failed call: the issuer stops at its next arrival
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
    started, stopped = times["started"], times["stopped"]
    wall_s = (clock() - started) / 1e9
    latencies = np.asarray(recorder.latencies_ns, dtype=np.float64) / 1e6
    if not len(latencies):
        raise ValueError(f"no request was served in {cfg.max_s} s at {target_qps} qps: raise measure.max_s or "
                         "scenario.target_qps")  # fmt: skip
    # an unserved request waited at least until the stop: its latency is censored there, so the p99 that
    # decides the bound counts it with that lower bound (leaving it out would flatter an overloaded server)
    censored = (stopped - np.asarray(waiting, dtype=np.float64)) / 1e6
    p99 = float(np.percentile(np.concatenate([latencies, censored]), 99))
    extra = {
        "streams": len(calls), "target_qps": target_qps,
        "achieved_qps": len(latencies) / wall_s if wall_s else math.nan,  # served, not issued: overload shows
        "requests_unserved": len(waiting), "latency_bound_ms": latency_bound_ms,
        "meets_latency_bound": bool(p99 <= latency_bound_ms),
    }  # fmt: skip
    return Measurement(latencies, sum(warmups), recorder.reason, samples_per_call, wall_s, extra)


def search_server_qps(
    run_at: Callable[[float], Measurement],
    start_qps: float,
    latency_bound_ms: float,
    steps: int = 7,
    min_qps: float = 0.0,
) -> tuple[Measurement, list[tuple[float, float, bool]]]:
    """The highest arrival rate whose p99 meets the bound, by bisection as LoadGen's server mode
    finds it: double from `start_qps` until the bound fails (or `steps` runs), then bisect between
    the last rate that met it and the first that did not. Never probes below `min_qps` (a rate too
    low for any request to arrive in the window): when even that fails, the search stops there.
    Returns (the run at the best rate that met the bound, else the lowest tried; every (qps, p99, met)
    tried) — no rate met the bound when no entry's `met` is true."""
    tried: list[tuple[float, float, bool]] = []
    runs: dict[float, Measurement] = {}

    def probe(qps: float) -> bool:
        result = run_at(qps)
        runs[qps] = result
        p99 = float(np.percentile(result.latencies_ms, 99)) if len(result.latencies_ms) else math.inf
        met = p99 <= latency_bound_ms
        tried.append((qps, p99, met))
        return met

    good, bad = 0.0, math.inf
    qps = max(start_qps, min_qps)
    for _ in range(steps):
        if qps in runs:  # already at the floor: halving further would leave the window empty
            break
        if probe(qps):
            good = qps
            qps = qps * 2 if bad == math.inf else (good + bad) / 2
        else:
            bad = qps
            qps = (good + bad) / 2 if good > 0 else max(qps / 2, min_qps)
    best = good if good > 0 else min(runs)
    return runs[best], tried
