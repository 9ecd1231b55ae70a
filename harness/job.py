"""One job, run inside the child process: load, prepare, measure, score.

`run_job` is a plain function: give it a validated `JobSpec` and it returns the measured
columns and the raw latencies. The parent adds identity and environment columns.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness import envinfo
from harness.cache import cached_entry, cached_value, code_fingerprint, discard, identity_key, lookup
from harness.config import (
    ConfigError,
    JobSpec,
    UnsupportedError,
    component_class,
    max_server_qps,
    min_server_qps,
    parse_options,
)
from harness.machine import WindowProbe, calibration_ms, gemm_peak_gflops
from harness.measure import (
    measure,
    measure_concurrent,
    measure_paired,
    measure_server,
    search_server_qps,
    warm_up,
)
from harness.options import DATA_ONLY, option_values
from harness.untrusted import json_loads, json_number, read_regular

Emit = Callable[..., None]  # emit(phase, **details): progress to the parent
REFERENCE_FILE = "logits.npy"


def shape_text(inputs: dict[str, Any]) -> str:
    """'input_ids 1x14, attention_mask 1x14' — the shapes of a batch, in input order."""
    return ", ".join(f"{name} {'x'.join(str(d) for d in tensor.shape)}" for name, tensor in inputs.items())


def _reference_key(workload: Any, handle: Any, data_hash: str, batch_size: int) -> str:
    # the libraries too: an interpreter of its own (optimum's transformers 5.5) computes its own reference
    return identity_key({"workload": workload.name, "model": handle.model_hash, "graph": handle.graph_options,
                         "data": data_hash, "batch": batch_size, "libraries": envinfo.library_versions(),
                         "harness_code": code_fingerprint()})  # fmt: skip


def _load_reference(path: Path, workload: Any, handle: Any) -> np.ndarray:
    """The reference array of a cache entry. A manifest detects damage, not forgery: the file must
    still be a plain array of the right shape. Raises OSError or ValueError."""
    logits = np.load(path / REFERENCE_FILE, allow_pickle=False)
    if logits.ndim != 2 or logits.shape != (workload.n_samples, handle.n_outputs):
        raise ValueError(f"shape {logits.shape}, not ({workload.n_samples}, {handle.n_outputs})")
    if not np.issubdtype(logits.dtype, np.floating):  # text arrays load without pickle too
        raise ValueError(f"{logits.dtype} values, not floats")
    return logits


def cached_reference(workload: Any, handle: Any, data_hash: str, batch_size: int, cache_dir: Path) -> np.ndarray | None:
    """The eager fp32 reference outputs (shape (n_samples, n_outputs)) if an earlier job already
    computed them for this model, data and batch size; None otherwise (or when the entry is damaged:
    the job then makes its own pass, which refills it)."""
    path = lookup(cache_dir, "reference", _reference_key(workload, handle, data_hash, batch_size))
    if path is None:
        return None
    try:
        return _load_reference(path, workload, handle)
    except (OSError, ValueError):
        return None


def reference_logits(
    workload: Any,
    handle: Any,
    data_hash: str,
    batch_size: int,
    cache_dir: Path,
    emit: Emit,
    computed: np.ndarray | None = None,
) -> tuple[np.ndarray, str | None]:
    """Eager fp32 outputs of the whole eval set, in the job's batching, shape (n_samples, n_outputs);
    cached per model (weights, architecture, graph options), data as fed, and batch size. When the
    entry is missing it is filled with `computed` (eager fp32's own accuracy pass: no second pass)
    or by an eager pass over `handle.module`. Returns (logits, a note when a damaged entry was rebuilt)."""
    import torch

    def build(directory: Path) -> None:
        if computed is not None:
            np.save(directory / REFERENCE_FILE, computed)
            return
        emit("reference", detail="computing eager fp32 reference outputs (cached for later jobs)")
        outputs = []
        with torch.inference_mode():
            for indices in workload.batches(batch_size):
                inputs = workload.make_batch(indices)
                outputs.append(handle.module(*[inputs[n] for n in handle.input_names]).float().numpy())
        np.save(directory / REFERENCE_FILE, np.concatenate(outputs)[: workload.n_samples])

    key = _reference_key(workload, handle, data_hash, batch_size)
    return cached_value(cache_dir, "reference", key, build, lambda path: _load_reference(path, workload, handle),
                        "was not a plain array")  # fmt: skip


ACTIVATIONS_ALIVE = 4  # at most a few of the largest activations are alive at once in an inference pass
MEMORY_HEADROOM = 0.9
MODEL_COPIES = 3  # the loaded module, a converted copy, the runtime's own (a generous upper bound)


def _nbytes(value: Any) -> int:
    if hasattr(value, "element_size") and hasattr(value, "numel"):
        return int(value.element_size() * value.numel())
    if isinstance(value, list | tuple):
        return sum(_nbytes(v) for v in value)
    if hasattr(value, "values") and callable(value.values):
        return sum(_nbytes(v) for v in value.values())
    return 0


def memory_estimate_bytes(handle: Any, batch: int) -> int:
    """A rough upper bound of the memory a job at `batch` needs: the model `MODEL_COPIES` times, plus per
    sample its input and `ACTIVATIONS_ALIVE` times its largest activation (measured with forward hooks on
    the 2-sample example). That forward is the model's first: a model that cannot take the workload's
    inputs (an image smaller than its kernels, a fixed input size) raises ConfigError naming the shape,
    since the model and its input sizes are the user's choice, not the runtime's fault."""
    import torch

    largest: list[int] = [0]
    hooks = [m.register_forward_hook(lambda _m, _i, out: largest.append(_nbytes(out))) for m in handle.module.modules()]
    try:
        with torch.inference_mode():
            handle.module(*[handle.example[n] for n in handle.input_names])
    except Exception as exc:  # whatever the model's own code raises on inputs it cannot take
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ConfigError(f"the model cannot run on the workload's inputs (shape {shape_text(handle.example)}): "
                          f"{type(exc).__name__}: {first}; choose input sizes the model takes (workload options "
                          "such as image_size or seq_len)") from None  # fmt: skip
    finally:
        for hook in hooks:
            hook.remove()
    samples = next(iter(handle.example.values())).shape[0]
    per_sample = (_nbytes(handle.example) + ACTIVATIONS_ALIVE * max(largest)) / samples
    params = sum(p.element_size() * p.numel() for p in handle.module.parameters())
    return int(MODEL_COPIES * params + batch * per_sample)


def check_memory(handle: Any, batch: int) -> None:
    """ConfigError when the job cannot fit the memory this machine has free (README: "Bad input")."""
    import psutil

    need, free = memory_estimate_bytes(handle, batch), psutil.virtual_memory().available
    if need > MEMORY_HEADROOM * free:
        raise ConfigError(
            f"batch={batch} needs about {need / 2**30:.1f} GiB for this model and input size but "
            f"{free / 2**30:.1f} GiB are free; use a smaller batch"
        )


def check_finite_weights(handle: Any) -> None:
    """Every floating-point tensor of the fp32 model (parameters and buffers) must be finite: a NaN or
    infinite weight gives NaN logits, whose argmax would be scored as class 0. ConfigError naming the
    tensors, at load, before anything is timed."""
    import torch

    bad = [name for name, tensor in handle.module.state_dict().items()
           if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]  # fmt: skip
    if bad:
        shown = ", ".join(bad[:4]) + ", ..." * (len(bad) > 4)
        raise ConfigError(f"the model has non-finite (NaN or infinite) weights in {len(bad)} tensors ({shown}); "
                          "its outputs cannot be scored")  # fmt: skip


def check_outputs(output: np.ndarray, batch: int, handle: Any) -> None:
    """The runtime's outputs of one call must be logits of shape (batch, n_outputs): a model file whose
    outputs differ from its reference's would be scored by broadcasting (or fail after timing).
    ConfigError for a model file (its outputs are the user's), RuntimeError otherwise (a runtime bug)."""
    expected = (batch, handle.n_outputs)
    if output.shape != expected:
        what = f"the model file {str(handle.prebuilt)!r}" if handle.prebuilt is not None else "the runtime"
        message = (f"{what} gives outputs of shape {'x'.join(map(str, output.shape))} but the reference model "
                   f"scores {handle.n_outputs} classes ({'x'.join(map(str, expected))} per call)")  # fmt: skip
        raise ConfigError(message) if handle.prebuilt is not None else RuntimeError(message)


def _require_finite(logits: np.ndarray, what: str, error: type[Exception]) -> None:
    finite = np.isfinite(logits)
    if not finite.all():
        samples = int(np.sum(~finite.all(axis=1)))
        raise error(f"{what} hold {int(np.sum(~finite))} non-finite values (NaN or infinite) in {samples} "
                    f"of {len(logits)} samples; accuracy and agreement from them would mean nothing")  # fmt: skip


def score(logits: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> dict[str, float | None]:
    """Non-finite outputs (NaN, inf) are never scored: argmax would score NaN as class 0, a number that
    means nothing. In the reference (the model's own fp32 outputs) that is the model's problem
    (ConfigError: an `invalid` row); from a runtime whose reference is finite it is the runtime's
    (RuntimeError: an `error` row saying how many), as a bf16 or INT8 overflow would be.

    Accuracy (and binary F1) against the labels; agreement and logit differences against the eager
    fp32 reference; the accuracy change from that reference (`accuracy_delta_vs_fp32`); and the share
    of the most often predicted class (`predicted_majority_share`; a model collapsed to one class, as the
    study's INT8 BERT did, shows as ~1 where the reference's `reference_majority_share` is lower).
    Shapes: (n_samples, n_outputs)."""
    _require_finite(reference, "the eager fp32 reference outputs", ConfigError)
    _require_finite(logits, "the runtime's outputs", RuntimeError)
    predicted = logits.argmax(axis=1)
    accuracy = float(np.mean(predicted == labels))
    result: dict[str, float | None] = {
        "accuracy": accuracy,
        "f1": None,
        "agreement": float(np.mean(predicted == reference.argmax(axis=1))),
        "max_abs_diff": float(np.max(np.abs(logits.astype(np.float64) - reference))),
        "accuracy_delta_vs_fp32": accuracy - float(np.mean(reference.argmax(axis=1) == labels)),
        "predicted_majority_share": float(np.bincount(predicted).max() / len(predicted)),
        "reference_majority_share": float(np.bincount(reference.argmax(axis=1)).max() / len(labels)),
    }
    # relative to the largest reference logit: random-weight models have logits in the hundreds
    result["max_rel_diff"] = result["max_abs_diff"] / max(float(np.max(np.abs(reference))), 1e-12)
    if logits.shape[1] == 2:  # binary F1 of the positive class (index 1)
        tp = float(np.sum((predicted == 1) & (labels == 1)))
        fp = float(np.sum((predicted == 1) & (labels == 0)))
        fn = float(np.sum((predicted == 0) & (labels == 1)))
        result["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return result


ACCURACY_FILE = "accuracy.json"
ACCURACY_COLUMNS = ("accuracy", "f1", "agreement", "max_abs_diff", "max_rel_diff", "accuracy_delta_vs_fp32",
                    "predicted_majority_share", "reference_majority_share")  # fmt: skip


def accuracy_key(spec: JobSpec, handle: Any, data_hash: str, runtime_version: str) -> str:
    """What the scores of a job depend on: model, data as fed, every workload and runtime option, the
    calibration data, precision, batch, threads, versions and the harness code (cache.code_fingerprint:
    a scoring or runtime change since the entry was made) — not the measurement plan, the repeat or
    the baseline."""
    import torch

    return identity_key({
        "model": handle.model_hash, "workload": spec.workload.options, "data": data_hash,
        "calibration": handle.calibration.data_hash if handle.calibration is not None else None,
        "runtime": spec.runtime.name, "module": spec.runtime.module, "options": spec.runtime.options,
        "precision": spec.runtime.precision, "batch": spec.batch, "threads": spec.threads,
        "versions": [runtime_version, torch.__version__], "libraries": envinfo.library_versions(),
        "harness_code": code_fingerprint(),
    })  # fmt: skip


def cached_accuracy(cache_dir: Path, key: str) -> dict[str, Any] | None:
    """The scores stored for `key`, if a verified entry holds them (MLPerf's accuracy mode, once)."""
    path = lookup(cache_dir, "accuracy", key)
    if path is None:
        return None
    try:
        stored = json_loads(read_regular(path / ACCURACY_FILE))
        return {name: _score_value(name, stored[name]) for name in ACCURACY_COLUMNS}
    except (OSError, ValueError, KeyError, TypeError):  # a damaged, foreign or doctored entry
        discard(cache_dir, "accuracy", key)  # scored again and stored right
        return None


def _score_value(name: str, value: Any) -> float | None:
    """A stored score, if it can be what score() computes for `name` (a JSON number: shares in [0, 1],
    the accuracy change in [-1, 1], differences >= 0 or NaN where the outputs held NaN; f1 may be
    null, where the model is not binary). Raises ValueError."""
    if value is None and name == "f1":
        return None
    if name.startswith("max_"):
        return json_number(value, 0.0, math.inf, nan_ok=True)
    return json_number(value, -1.0 if name == "accuracy_delta_vs_fp32" else 0.0, 1.0)


MAX_FLOPS_PER_CALL = 1e18  # a cached count above this (an exaFLOP per call) is no inference call's


def flops_per_call(handle: Any, batch: dict[str, Any], cache_dir: Path) -> float:
    """Floating-point operations of one call on `batch` (torch.utils.flop_counter: matmuls and
    convolutions, 2 per multiply-add), counted once per model, graph options and input shapes."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    def build(directory: Path) -> None:
        counter = FlopCounterMode(display=False)
        with torch.inference_mode(), counter:
            handle.module(*[batch[n] for n in handle.input_names])
        (directory / "flops.json").write_text(json.dumps({"flops": counter.get_total_flops()}))

    key = identity_key({"model": handle.model_hash, "graph": handle.graph_options, "shape": shape_text(batch)})

    def read(path: Path) -> float:  # a doctored count (no JSON number, or none a call can have) is refused
        return json_number(json_loads(read_regular(path / "flops.json"))["flops"], 0, MAX_FLOPS_PER_CALL)

    return cached_value(cache_dir, "flops", key, build, read, "held no FLOP count")[0]


def flops_by_batch(handle: Any, batches: list[dict[str, Any]], cache_dir: Path) -> list[float]:
    """FLOPs of a call on each of `batches` (flops_per_call, counted once per shape), in order."""
    counts: dict[str, float] = {}
    for batch in batches:
        if (shape := shape_text(batch)) not in counts:
            counts[shape] = flops_per_call(handle, batch, cache_dir)
    return [counts[shape_text(batch)] for batch in batches]


def mean_flops_of_timed_calls(per_batch: list[float], n_calls: int, streams: int = 1) -> float:
    """FLOPs of the mean timed call, over the calls actually timed: they cycle over the batches from the
    first (one batch for timing_inputs=fixed; with padding=longest each its own length), `streams`
    cycles side by side for the offline driver's own threads (each stream from the first batch, the
    calls shared out evenly), one cycle otherwise. The mean over every prepared batch was 2.5x the timed
    calls' when a run stopped after the first 10 of 64 batches (the short ones)."""
    if not per_batch or n_calls < 1:
        return math.nan
    streams = max(1, min(streams, n_calls))
    calls = [n_calls // streams + (1 if s < n_calls % streams else 0) for s in range(streams)]
    cycle, total = sum(per_batch), 0.0
    for count in calls:
        whole, rest = divmod(count, len(per_batch))
        total += whole * cycle + sum(per_batch[:rest])
    return total / n_calls


MAX_TIMED_BATCHES = 64  # timing_inputs=dataset: cycle over at most this many eval batches
MAX_TIMED_MB = 512  # ... and at most this much input memory


def timed_batches(workload: Any, spec: JobSpec) -> list[Any]:
    """The eval set in the job's batching, for the timed calls to cycle over (timing_inputs=dataset):
    with padding=longest the shapes change from call to call, as in service. Capped at
    MAX_TIMED_BATCHES batches and MAX_TIMED_MB of inputs (the row says how many: timed_batches). The
    last batch, filled up with repeats of its last sample, is left out when there are full ones: a
    throughput of `batch` samples per call must not count the repeats (9 samples at batch 4 read 33% high).
    Raises ConfigError (an `invalid` row) when even the first batch holds repeats: fewer eval samples than
    `batch` (3 samples at batch 4 read 33% high)."""
    batches = workload.batches(spec.batch)
    if len(batches) > 1 and len(set(batches[-1])) < spec.batch:
        batches = batches[:-1]
    elif batches and len(set(batches[0])) < spec.batch:  # the only batch holds repeats: no call of `batch` samples
        have = len(set(batches[0]))
        raise ConfigError(f"timing_inputs=dataset at batch={spec.batch} needs at least {spec.batch} eval samples; "
                          f"the eval set has {have}: lower batch or use timing_inputs=fixed")  # fmt: skip
    out, size = [], 0.0
    for indices in batches[:MAX_TIMED_BATCHES]:
        batch = workload.make_batch(indices)
        size += sum(t.element_size() * t.numel() for t in batch.values()) / 2**20
        if out and size > MAX_TIMED_MB:
            break
        out.append(batch)
    return out


def timed_shapes(batches: list[dict[str, Any]]) -> dict[str, Any]:
    """What was timed: the first batch's shapes, how many batches, and for token inputs (a first input of
    shape [batch, tokens]) the range of lengths."""
    first = next(iter(batches[0].values()))
    lengths = [int(next(iter(b.values())).shape[1]) for b in batches] if first.ndim == 2 else []
    return {
        "timed_shape": shape_text(batches[0]),
        "timed_batches": len(batches),
        "timed_len_min": min(lengths) if lengths else None,
        "timed_len_median": float(np.median(lengths)) if lengths else None,
        "timed_len_max": max(lengths) if lengths else None,
    }


def _status_kb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float | None:
    """Resident memory of this process now (MiB, /proc/self/status VmRSS)."""
    kb = _status_kb("VmRSS")
    return kb / 1024 if kb is not None else None


def reset_peak_rss() -> None:
    """Start a new peak (VmHWM) here: writing 5 to /proc/self/clear_refs resets it (Linux >= 4.0,
    Documentation/filesystems/proc.rst), so the peak of the timed window can be read after it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float | None:
    kb = _status_kb("VmHWM")
    return kb / 1024 if kb is not None else None


def measure_scenario(spec: JobSpec, runtime: Any, baseline: Any, batches: list[Any], emit: Emit) -> Any:
    """One measuring loop for every runtime: the scenario's driver (harness/measure.py) times what the
    runtime supplies — calls on adapted inputs, or its own request queue."""
    progress = lambda n, rel: emit("measure", calls=n, ci_rel=rel)  # noqa: E731
    scenario = spec.scenario
    inputs = [runtime.adapt_inputs(b) for b in batches]
    if scenario.name == "single_stream":
        calls = runtime.stream_calls(inputs, 0)
        if baseline is not None:
            references = baseline.stream_calls([baseline.adapt_inputs(b) for b in batches], 0)
            return measure_paired(calls, references, spec.measure, spec.batch, on_progress=progress)
        return measure(calls, spec.measure, spec.batch, on_progress=progress)
    reason = runtime.concurrency_unsupported()
    if reason and scenario.streams > 1:
        raise UnsupportedError(f"scenario={scenario.name} with {scenario.streams} streams: {reason}")
    streams = [runtime.stream_calls(inputs, s) for s in range(scenario.streams)]
    import torch

    # torch's inference mode is per thread: the drivers' threads enter it as this one has
    context = torch.inference_mode
    if scenario.name == "offline":
        queue = runtime.request_queue(inputs, scenario.streams)
        return measure_concurrent(None if queue else streams, spec.measure, spec.batch, scenario.streams,
                                  request_queue=queue, n_inputs=len(inputs), on_progress=progress,
                                  thread_context=context)  # fmt: skip
    rng = np.random.default_rng(spec.seed)
    if not scenario.search:
        return measure_server(streams, spec.measure, spec.batch, scenario.target_qps, scenario.latency_bound_ms,
                              rng, on_progress=progress, thread_context=context)  # fmt: skip
    warmed = sum(warm_up(list(stream), spec.measure) for stream in streams)  # once: every probe is then warm
    start = scenario.target_qps or 1000.0 / float(np.median(measure(streams[0], spec.measure, spec.batch).latencies_ms))
    best, tried, bracketed = search_server_qps(
        lambda qps: measure_server(streams, spec.measure, spec.batch, qps, scenario.latency_bound_ms, rng,
                                   warm=False, thread_context=context),
        start, scenario.latency_bound_ms, min_qps=min_server_qps(spec.measure),
        max_qps=max_server_qps(spec.measure),
    )  # fmt: skip
    best.warmup_calls += warmed  # the job's warm-up, beside the probe's first call per server
    best.extra["qps_search"] = "; ".join(
        f"{q:.2f} qps: " + ("no request arrived" if math.isnan(p) else f"p99 {p:.2f} ms{' ok' if ok else ''}")
        for q, p, ok in tried
    )
    best.extra["max_qps_meeting_bound"] = max((q for q, _, ok in tried if ok), default=None)
    # every rate up to the cap met the bound: the answer is only a lower bound of the capacity
    best.extra["max_qps_is_lower_bound"] = best.extra["max_qps_meeting_bound"] is not None and not bracketed
    return best


PROFILE_CALLS = 10
PROFILE_TOP = 10


def profile_columns(runtime: Any, inputs: Any, job_dir: Path) -> dict[str, Any]:
    """A per-operator profile of PROFILE_CALLS calls after the measurement (profilers slow calls down,
    so never during it), saved under the job's directory; the row gets the top operators by time share."""
    path, totals = runtime.profile(inputs, job_dir, PROFILE_CALLS)
    whole = sum(totals.values())
    top = sorted(totals.items(), key=lambda item: -item[1])[:PROFILE_TOP]
    return {
        "profile_file": str(Path(path).resolve()),  # absolute, as log_path
        "profile_top_ops": json.dumps([[name, round(ms / whole, 4) if whole else None] for name, ms in top]),
    }


def run_job(spec: JobSpec, emit: Emit, job_dir: Path | None = None) -> tuple[dict[str, Any], np.ndarray]:
    """Load, prepare, measure and score one job (in this process); returns (row columns, raw
    latencies in ms). Raises ConfigError (invalid), UnsupportedError, or the library's error."""
    import torch

    from runtimes.eager import EagerRuntime
    from workloads.base import check_labels, check_prebuilt

    torch.manual_seed(spec.seed)
    torch.set_num_threads(spec.threads)
    cache_dir = Path(spec.cache_dir)
    row: dict[str, Any] = {"calib_gemm_ms_before": calibration_ms(spec.threads)}

    workload_cls = component_class("workload", spec.workload.module)
    runtime_cls = component_class("runtime", spec.runtime.module)
    workload_options = parse_options(workload_cls.Options, spec.workload.options, "workload")
    runtime_options = parse_options(runtime_cls.Options, spec.runtime.options, "runtime")
    # Built first: a runtime that cannot do what is asked says so before any model is loaded.
    runtime = runtime_cls(runtime_options, spec.runtime.precision, spec.threads, cache_dir)
    runtime.streams = spec.scenario.streams
    if spec.scenario.streams > 1:  # torch's intra-op pool is shared by the streams' threads: split it
        torch.set_num_threads(max(1, spec.threads // spec.scenario.streams))
    workload = workload_cls(workload_options, spec.seed, cache_dir)

    emit("assets")
    workload.prepare_assets(log=lambda message: emit("assets", detail=message))
    emit("data")
    workload.load_eval_set()
    row.update(workload.describe(), n_eval_samples=workload.n_samples)

    emit("load")
    load_started = time.perf_counter()
    handle = workload.load_model()
    load_s = time.perf_counter() - load_started
    row["rss_after_load_mb"] = rss_mb()
    handle.graph_options = option_values(workload_options, excluding=DATA_ONLY)
    if handle.kind not in runtime.kinds:
        why = f" ({runtime.kinds_reason})" if runtime.kinds_reason else ""
        raise UnsupportedError(f"{spec.runtime.name} runs {' and '.join(runtime.kinds)} models only{why}; "
                               f"{spec.workload.name} is a {handle.kind}")  # fmt: skip
    check_labels(workload.label_source(), handle.n_outputs, workload.label_map_name())
    check_finite_weights(handle)
    check_memory(handle, spec.batch)
    # What was measured, beyond its name: a changed checkpoint, config or data shows up here.
    data_hash = workload.data_key()
    row["model_hash"], row["data_hash"] = handle.model_hash[:16], data_hash[:16]
    notes = list(workload.cache_notes)
    timing_batch = workload.make_batch([i % workload.n_samples for i in range(spec.batch)])  # built once
    handle.timing_example = timing_batch
    check_prebuilt(handle, timing_batch)  # a model file takes these inputs and gives the reference's outputs
    row["timed_shape"] = shape_text(timing_batch)
    row["scenario"], row["timing_inputs"] = spec.scenario.name, spec.timing_inputs
    # built before prepare, which may change the module the FLOPs are counted on
    batches = timed_batches(workload, spec) if spec.timing_inputs == "dataset" else [timing_batch]
    batch_flops = flops_by_batch(handle, batches, cache_dir)
    peak = gemm_peak_gflops(spec.threads)
    row["gemm_peak_gflops_fp32"], row["gemm_peak_gflops_bf16"] = peak["fp32"], peak["bf16"]

    if spec.runtime.precision == "int8":  # static quantization calibrates on a split disjoint from the eval set
        emit("calibration")
        handle.calibration = workload.calibration_data(runtime.calibration_samples())
        row["calibration"] = handle.calibration.source
        row["calibration_samples"] = len(handle.calibration.batches)
    row["runtime_version"] = runtime.version()
    key = accuracy_key(spec, handle, data_hash, row["runtime_version"])
    scores = cached_accuracy(cache_dir, key)
    reference = None
    row["reference_s"] = row["accuracy_s"] = None  # set when this job makes the pass (same columns either way)
    reference_started = time.perf_counter()
    if scores is None and not runtime.is_reference():  # before prepare: prepare may change the module
        reference, note = reference_logits(workload, handle, data_hash, spec.batch, cache_dir, emit)
        notes += [note] if note else []
        row["reference_s"] = time.perf_counter() - reference_started
    elif scores is None:  # eager fp32: another runtime's job may already have made this very pass
        reference = cached_reference(workload, handle, data_hash, spec.batch, cache_dir)
    baseline = None
    if spec.baseline == "paired" and runtime.is_reference():  # eager fp32 against itself: 1 by definition
        row["baseline"] = "none: this row is the eager fp32 baseline (its speed-up is 1 by definition)"
    elif spec.baseline == "paired":  # eager fp32 on its own copy of the fp32 model, in this process
        baseline = EagerRuntime(EagerRuntime.Options(), "fp32", spec.threads, cache_dir)
        baseline.prepare(dataclasses.replace(handle, module=copy.deepcopy(handle.module)))

    emit("prepare")
    try:
        with torch.inference_mode():
            prepare_started = time.perf_counter()
            runtime.prepare(handle)
            row["prepare_s"] = load_s + time.perf_counter() - prepare_started
            row["load_s"] = load_s
            row.update(vars(runtime.times))
            notes += [runtime.times.cache_note] if runtime.times.cache_note else []

            inputs = runtime.adapt_inputs(timing_batch)
            started = time.perf_counter_ns()
            first = runtime.run(inputs)
            row["first_inference_ms"] = (time.perf_counter_ns() - started) / 1e6
            check_outputs(runtime.to_numpy(first), spec.batch, handle)  # before anything is timed

            emit("measure")
            row.update(timed_shapes(batches))
            row["rss_after_prepare_mb"] = rss_mb()
            reset_peak_rss()
            probe = WindowProbe()
            probe.start()
            result = measure_scenario(spec, runtime, baseline, batches, emit)
            row.update(probe.stop())
            row["peak_rss_timed_mb"] = peak_rss_mb()
            row.update(result.summary())
            if baseline is not None:
                row["baseline"] = f"eager fp32, torch {torch.__version__}, same process, alternating bursts"
            # over the calls timed, as each stream cycled over the batches (the offline threads driver: one
            # cycle per stream; the request queue and the server take the batches in one sequence)
            own_cycles = spec.scenario.streams if row.get("driver") == "threads" else 1
            row["gflops_per_call"] = mean_flops_of_timed_calls(batch_flops, int(row["n_calls"]), own_cycles) / 1e9
            # the rate the timed window sustained: calls per second (overlapping calls: per wall second)
            row["gflops_per_s"] = row["gflops_per_call"] * row["throughput_sps"] / spec.batch
            if spec.profile and job_dir is not None:
                emit("profile")
                row.update(profile_columns(runtime, inputs, job_dir))

            if scores is not None:
                emit("accuracy", detail="cached: scored by an earlier run of this configuration; no accuracy pass")
                row["accuracy_source"] = "cached"
            else:
                if reference is not None and runtime.is_reference():
                    # eager fp32's outputs on this model, data and batching, made by an earlier job: the pass itself
                    emit("accuracy", detail="eager fp32: scored on the cached reference outputs; no second eager pass")
                    logits = reference
                    row["accuracy_source"] = "reference"
                else:
                    accuracy_started = time.perf_counter()
                    logits = accuracy_pass(workload, runtime, spec.batch, emit)
                    row["accuracy_s"] = time.perf_counter() - accuracy_started
                    if reference is None:  # eager fp32: its own pass is the reference
                        reference, note = reference_logits(workload, handle, data_hash, spec.batch, cache_dir, emit,
                                                           computed=logits)  # fmt: skip
                        notes += [note] if note else []
                    row["accuracy_source"] = "measured"
                scores = score(logits, workload.labels, reference)
                cached_entry(cache_dir, "accuracy", key,
                             lambda d: (d / ACCURACY_FILE).write_text(json.dumps(scores)))  # fmt: skip
            row.update(scores)

        effective = runtime.effective()
        row["precision_effective"] = effective.precision
        row["threads_effective"] = effective.threads
        row.update(effective.extra)
    finally:
        runtime.close()
    row["cache_note"] = "; ".join(notes) or None
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    row["calib_gemm_ms_after"] = calibration_ms(spec.threads)  # the same threads as before, whatever the job left
    latencies = result.runtime.latencies_ms if baseline is not None else result.latencies_ms
    return row, latencies


def accuracy_pass(workload: Any, runtime: Any, batch: int, emit: Emit) -> np.ndarray:
    """The runtime's logits for the whole eval set, shape (n_samples, n_outputs), in batches of the
    job's size (the last one filled up by repeating its last sample; the repeats are dropped). Inputs are
    made as the timed ones are (outside inference mode, then adapt_inputs in the caller's mode): inference
    tensors there made torch.compile guard on the dispatch keys, compile the model a second time for
    the accuracy pass (13 of a tiny ResNet job's 35 s) and score another graph than the one timed."""
    import torch

    emit("accuracy", done=0, total=workload.n_samples)
    outputs = []
    for k, indices in enumerate(workload.batches(batch)):
        with torch.inference_mode(False):
            made = workload.make_batch(indices)
        batch_inputs = runtime.adapt_inputs(made)
        outputs.append(runtime.to_numpy(runtime.run(batch_inputs)))
        emit("accuracy", done=min((k + 1) * batch, workload.n_samples), total=workload.n_samples)
    return np.concatenate(outputs)[: workload.n_samples]


def interpreter_columns() -> dict[str, str]:
    import torch

    return {"python_version": platform.python_version(), "torch_version": torch.__version__,
            "transformers_version": envinfo.library_versions()["transformers"]}  # fmt: skip
