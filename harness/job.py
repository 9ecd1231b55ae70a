"""One job, run inside the child process: load, prepare, measure, score.

`run_job` is a plain function: give it a validated `JobSpec` and it returns the measured
columns and the raw latencies. The parent adds identity and environment columns.
"""

from __future__ import annotations

import platform
import resource
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.cache import cached_entry, identity_key
from harness.config import ConfigError, JobSpec, component_class, parse_options
from harness.measure import measure
from harness.options import DATA_ONLY, option_values

Emit = Callable[..., None]  # emit(phase, **details): progress to the parent
REFERENCE_FILE = "logits.npy"


def shape_text(inputs: dict[str, Any]) -> str:
    """'input_ids 1x14, attention_mask 1x14' — the shapes of a batch, in input order."""
    return ", ".join(f"{name} {'x'.join(str(d) for d in tensor.shape)}" for name, tensor in inputs.items())


def reference_logits(
    workload: Any, handle: Any, data_hash: str, batch_size: int, cache_dir: Path, emit: Emit
) -> tuple[np.ndarray, str | None]:
    """Eager fp32 outputs of the whole eval set, in the job's batching, shape (n_samples, n_outputs);
    cached per model (weights, architecture, graph options), data as fed, and batch size.
    Returns (logits, a note when a damaged cache entry was rebuilt)."""
    import torch

    def build(directory: Path) -> None:
        emit("reference", detail="computing eager fp32 reference outputs (cached for later jobs)")
        outputs = []
        with torch.inference_mode():
            for indices in workload.batches(batch_size):
                inputs = workload.make_batch(indices)
                outputs.append(handle.module(*[inputs[n] for n in handle.input_names]).float().numpy())
        np.save(directory / REFERENCE_FILE, np.concatenate(outputs)[: workload.n_samples])

    key = identity_key({"workload": workload.name, "model": handle.model_hash, "graph": handle.graph_options,
                        "data": data_hash, "batch": batch_size})  # fmt: skip
    entry = cached_entry(cache_dir, "reference", key, build)
    try:  # a manifest detects damage, not forgery: the file must still be a plain array of the right shape
        logits = np.load(entry.path / REFERENCE_FILE, allow_pickle=False)
        if logits.ndim != 2 or logits.shape != (workload.n_samples, handle.n_outputs):
            raise ValueError(f"shape {logits.shape}, not ({workload.n_samples}, {handle.n_outputs})")
    except (OSError, ValueError) as exc:
        shutil.rmtree(entry.path)
        entry = cached_entry(cache_dir, "reference", key, build)
        logits = np.load(entry.path / REFERENCE_FILE, allow_pickle=False)
        return logits, f"cache entry {entry.path} was not a plain array ({exc}); rebuilt"
    return logits, entry.note


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
    the 2-sample example)."""
    import torch

    largest: list[int] = [0]
    hooks = [m.register_forward_hook(lambda _m, _i, out: largest.append(_nbytes(out))) for m in handle.module.modules()]
    try:
        with torch.inference_mode():
            handle.module(*[handle.example[n] for n in handle.input_names])
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


def score(logits: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> dict[str, float | None]:
    predicted = logits.argmax(axis=1)
    result: dict[str, float | None] = {
        "accuracy": float(np.mean(predicted == labels)),
        "f1": None,
        "agreement": float(np.mean(predicted == reference.argmax(axis=1))),
        "max_abs_diff": float(np.max(np.abs(logits.astype(np.float64) - reference))),
    }
    # relative to the largest reference logit: random-weight models have logits in the hundreds
    result["max_rel_diff"] = result["max_abs_diff"] / max(float(np.max(np.abs(reference))), 1e-12)
    if logits.shape[1] == 2:  # binary F1 of the positive class (index 1)
        tp = float(np.sum((predicted == 1) & (labels == 1)))
        fp = float(np.sum((predicted == 1) & (labels == 0)))
        fn = float(np.sum((predicted == 0) & (labels == 1)))
        result["f1"] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return result


def run_job(spec: JobSpec, emit: Emit) -> tuple[dict[str, Any], np.ndarray]:
    import torch

    from workloads.base import check_labels

    torch.manual_seed(spec.seed)
    torch.set_num_threads(spec.threads)
    cache_dir = Path(spec.cache_dir)

    workload_cls = component_class("workload", spec.workload.module)
    runtime_cls = component_class("runtime", spec.runtime.module)
    workload_options = parse_options(workload_cls.Options, spec.workload.options, "workload")
    runtime_options = parse_options(runtime_cls.Options, spec.runtime.options, "runtime")
    # Built first: a runtime that cannot do what is asked says so before any model is loaded.
    runtime = runtime_cls(runtime_options, spec.runtime.precision, spec.threads, cache_dir)
    workload = workload_cls(workload_options, spec.seed, cache_dir)

    emit("assets")
    workload.prepare_assets(log=lambda message: emit("assets", detail=message))
    emit("data")
    workload.load_eval_set()
    row: dict[str, Any] = {**workload.describe(), "n_eval_samples": workload.n_samples}

    emit("load")
    load_started = time.perf_counter()
    handle = workload.load_model()
    load_s = time.perf_counter() - load_started
    handle.graph_options = option_values(workload_options, excluding=DATA_ONLY)
    check_labels(workload.label_source(), handle.n_outputs, workload.label_map_name())
    check_memory(handle, spec.batch)
    # What was measured, beyond its name: a changed checkpoint, config or data shows up here.
    data_hash = workload.data_key()
    row["model_hash"], row["data_hash"] = handle.model_hash[:16], data_hash[:16]
    reference, note = reference_logits(workload, handle, data_hash, spec.batch, cache_dir, emit)
    notes = [*workload.cache_notes, *([note] if note else [])]
    timing_batch = workload.make_batch([i % workload.n_samples for i in range(spec.batch)])  # built once
    handle.timing_example = timing_batch
    row["timed_shape"] = shape_text(timing_batch)

    emit("prepare")
    row["runtime_version"] = runtime.version()
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
            runtime.run(inputs)
            row["first_inference_ms"] = (time.perf_counter_ns() - started) / 1e6

            emit("measure")
            progress = lambda n, rel: emit("measure", calls=n, ci_rel=rel)  # noqa: E731
            # Runtimes with their own execution model (async request queues) measure themselves.
            result = runtime.measure_custom(inputs, spec.measure, spec.batch, progress) or measure(
                lambda: runtime.run(inputs), spec.measure, spec.batch, on_progress=progress
            )
            row.update(result.summary())

            emit("accuracy", done=0, total=workload.n_samples)
            outputs = []
            for k, indices in enumerate(workload.batches(spec.batch)):
                batch_inputs = runtime.adapt_inputs(workload.make_batch(indices))
                outputs.append(runtime.to_numpy(runtime.run(batch_inputs)))
                emit("accuracy", done=min((k + 1) * spec.batch, workload.n_samples), total=workload.n_samples)
            logits = np.concatenate(outputs)[: workload.n_samples]
            row.update(score(logits, workload.labels, reference))

        effective = runtime.effective()
        row["precision_effective"] = effective.precision
        row["threads_effective"] = effective.threads
        row.update(effective.extra)
    finally:
        runtime.close()
    row["cache_note"] = "; ".join(notes) or None
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return row, result.latencies_ms


def interpreter_columns() -> dict[str, str]:
    import torch

    return {"python_version": platform.python_version(), "torch_version": torch.__version__}
