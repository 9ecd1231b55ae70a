"""One job, run inside the child process: load, prepare, measure, score.

`run_job` is a plain function: give it a validated `JobSpec` and it returns the measured
columns and the raw latencies. The parent adds identity and environment columns.
"""

from __future__ import annotations

import importlib
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from harness.config import JobSpec, build_options
from harness.locking import file_lock
from harness.measure import measure

Emit = Callable[..., None]  # emit(phase, **details): progress to the parent


def load_component(module_name: str, attribute: str) -> type:
    module = importlib.import_module(module_name)
    return getattr(module, attribute)


def reference_logits(
    workload: Any, handle: Any, data_hash: str, batch_size: int, cache_dir: Path, emit: Emit
) -> np.ndarray:
    """Eager fp32 outputs of the whole eval set, in the job's batching; cached per model+data+batch."""
    import torch

    key = f"{workload.name}-{handle.content_hash[:16]}-{data_hash}-b{batch_size}"
    path = cache_dir / "reference" / f"{key}.npy"
    with file_lock(path.with_suffix(".lock")):
        if path.exists():
            return np.load(path)
        emit("reference", detail="computing eager fp32 reference outputs (cached for later jobs)")
        outputs = []
        with torch.inference_mode():
            for indices in workload.batches(batch_size):
                inputs = workload.make_batch(indices)
                outputs.append(handle.module(*[inputs[n] for n in handle.input_names]).float().numpy())
        logits = np.concatenate(outputs)[: workload.n_samples]
        tmp = path.with_name(path.stem + ".tmp.npy")
        np.save(tmp, logits)
        tmp.rename(path)
        return logits


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

    torch.manual_seed(spec.seed)
    torch.set_num_threads(spec.threads)
    cache_dir = Path(spec.cache_dir)

    workload_cls = load_component(spec.workload.module, "WORKLOAD")
    runtime_cls = load_component(spec.runtime.module, "RUNTIME")
    workload_options = build_options(workload_cls.Options, spec.workload.options, "workload")
    runtime_options = build_options(runtime_cls.Options, spec.runtime.options, "runtime")
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
    # What was measured, beyond its name: a changed checkpoint or data file shows up here.
    row["model_hash"], row["data_hash"] = handle.content_hash[:16], workload.data_key()[:16]
    reference = reference_logits(workload, handle, row["data_hash"], spec.batch, cache_dir, emit)
    timing_batch = workload.make_batch([i % workload.n_samples for i in range(spec.batch)])  # built once
    handle.timing_example = timing_batch

    emit("prepare")
    row["runtime_version"] = runtime.version()
    try:
        with torch.inference_mode():
            prepare_started = time.perf_counter()
            runtime.prepare(handle)
            row["prepare_s"] = load_s + time.perf_counter() - prepare_started
            row["load_s"] = load_s
            row.update(vars(runtime.times))

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
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return row, result.latencies_ms


def interpreter_columns() -> dict[str, str]:
    import torch

    return {"python_version": platform.python_version(), "torch_version": torch.__version__}
