"""The runtime adapter interface.

One module per runtime; its `RUNTIME` attribute names the class. A runtime is built with its
typed options, the requested precision and thread count, then:
  prepare(handle)  -> convert / compile (timed as prepare; conversions may be cached on disk)
  run(inputs)      -> logits, the call that is measured (nothing else is timed)
  effective()      -> what the runtime really does: precision, threads, fallbacks (read back)
  close()
Heavy imports happen inside methods, so the harness can read a runtime's options without
importing its library (the IPEX runtime lives in another interpreter).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.config import UnsupportedError
from harness.contract import Inputs, ModelHandle
from harness.options import AFTER_CONVERSION, option_values


@dataclass
class NoOptions:
    """For runtimes without options of their own."""


@dataclass
class Effective:
    """Settings read back from the runtime after prepare, not copied from the request."""

    precision: str
    threads: int | None
    extra: dict[str, Any] = field(default_factory=dict)  # fallbacks, streams, subgraphs, ...


@dataclass
class PrepareTimes:
    convert_s: float = 0.0  # export / conversion to another format (0 on a cache hit)
    compile_s: float = 0.0  # building the executable model from it
    cache_hit: bool | None = None  # None: this runtime has no conversion cache
    artifact_key: str | None = None  # the float artifact's cache key (a quantized artifact's key holds it)
    artifact_mb: float | None = None
    artifact_path: str | None = None  # the converted model on the measuring machine (for other tools; never read back)
    cache_note: str | None = None  # why a damaged cached artifact was rebuilt
    quantize_s: float | None = None  # calibration and quantization (0 on a cache hit; None: not quantized)


class Runtime(ABC):
    Options: ClassVar[type] = NoOptions
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    # True when the precision is applied after conversion (a compile hint), so one artifact serves all
    precision_after_conversion: ClassVar[bool] = False
    # calibration samples when the options leave it to the quantizer: NNCF's default subset_size, which
    # OpenVINO's post-training quantization guide also recommends ("for example, of 300 samples")
    default_calibration_samples: ClassVar[int] = 300
    accepts_files: ClassVar[tuple[str, ...]] = ()  # model files (workload.model=*.onnx) it runs as they are
    kinds: ClassVar[tuple[str, ...]] = ("transformer", "cnn")  # the ModelHandle kinds it can run
    kinds_reason: ClassVar[str] = ""  # why not the others (said in the `unsupported` row)

    def __init__(self, options: Any, precision: str, threads: int, cache_dir: Path) -> None:
        if precision not in self.precisions:
            raise UnsupportedError(
                f"{type(self).__name__} does not offer precision {precision!r}; it offers {', '.join(self.precisions)}"
            )
        self.options = options
        self.precision = precision
        self.threads = threads
        self.cache_dir = Path(cache_dir)
        self.times = PrepareTimes()
        self.streams = 1  # requests in flight (the scenario's streams; set by the job before prepare)

    @abstractmethod
    def prepare(self, handle: ModelHandle) -> None: ...

    def calibration_samples(self) -> int:
        """Samples to calibrate int8 on: the `calibration_samples` option, else the quantizer's default."""
        return getattr(self.options, "calibration_samples", None) or self.default_calibration_samples

    def is_reference(self) -> bool:
        """True for the runtime whose outputs are the reference (eager fp32): its accuracy pass is it."""
        return False

    def stream_calls(self, inputs: list[Any], stream: int) -> list[Callable[[], Any]]:
        """Blocking calls on prepared inputs for stream `stream` (the measuring drivers cycle through
        them; streams run in parallel threads). Default: `run` on each input, safe to share between
        threads for runtimes whose `run` is thread-safe."""
        return [lambda x=x: self.run(x) for x in inputs]

    def request_queue(self, inputs: list[Any], streams: int) -> Any:
        """A runtime's own asynchronous request queue for the offline scenario (harness.measure.RequestQueue),
        or None: threads calling `stream_calls` keep the requests in flight."""
        return None

    def concurrency_unsupported(self) -> str | None:
        """Why concurrent calls cannot run on this runtime (scenario offline/server with streams > 1)."""
        return None

    def profile(self, inputs: Any, out_dir: Path, calls: int) -> tuple[Path, dict[str, float]]:
        """Profile `calls` calls on `inputs` with the library's own profiler; save it under `out_dir`.
        Returns (the file, milliseconds per operator). Default: torch.profiler (CPU activities), for
        the PyTorch-based runtimes; others override it."""
        import torch

        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
            for _ in range(calls):
                self.run(inputs)
        path = Path(out_dir) / "profile-torch.json"
        profiler.export_chrome_trace(str(path))
        totals = {e.key: e.self_cpu_time_total / 1000.0 for e in profiler.key_averages() if e.self_cpu_time_total > 0}
        return path, totals

    def conversion_options(self) -> dict[str, Any]:
        """The options a conversion artifact depends on: every option not marked AFTER_CONVERSION,
        and the precision unless it is applied after conversion (runtimes/artifacts.py)."""
        options = option_values(self.options, excluding=AFTER_CONVERSION)
        if not self.precision_after_conversion:
            options["precision"] = self.precision
        return options

    def adapt_inputs(self, inputs: Inputs) -> Any:
        """Turn a prepared batch into what `run` takes (numpy, bf16, ...); called outside timing."""
        return inputs

    @abstractmethod
    def run(self, inputs: Any) -> Any:
        """One inference call on a prepared batch; returns the logits in the runtime's own type."""

    def to_numpy(self, output: Any) -> np.ndarray:
        """Logits as a float32 numpy copy (outside the timed region). A copy, because some
        runtimes reuse their output buffer on the next call."""
        if hasattr(output, "detach"):
            return output.detach().float().cpu().numpy().copy()
        return np.array(output, dtype=np.float32, copy=True)

    @abstractmethod
    def effective(self) -> Effective: ...

    @abstractmethod
    def version(self) -> str:
        """Version string of the library doing the work."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
