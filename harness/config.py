"""Typed job configuration, validated plainly (no Hydra needed).

A job is one (workload, runtime, batch size, threads) point of a sweep. Everything a
child process needs travels as the JSON of a `JobSpec`. Every field's annotation is its
rule (harness/options.py checks values against it); the caps keep sizes this machine can
hold from turning into a crash an hour later (README: "Bad input").
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from harness.options import (
    AFTER_CONVERSION,
    STATIC_INT8,
    THREADS,
    ConfigError,
    available_cores,
    check_fields,
    check_value,
    default_of,
    fields_marked,
    markers,
    parse_options,
)

__all__ = ["ConfigError", "UnsupportedError", "JobSpec", "MeasureConfig", "ComponentConfig", "RuntimeConfig",
           "PRECISIONS", "available_cores", "parse_options"]  # fmt: skip

# int8: static post-training quantization by the runtime's own quantizer, calibrated on data disjoint from the
# eval set; int8_dynamic: weights quantized ahead, activations at run time (ONNX Runtime's quantize_dynamic)
PRECISIONS = ("fp32", "bf16", "int8", "int8_dynamic")
Precision = Literal["fp32", "bf16", "int8", "int8_dynamic"]
QUANTIZED = ("int8", "int8_dynamic")
MAX_BATCH = 1024  # samples per call; larger batches are bad input (README: "Bad input")
MAX_TIMEOUT_S = 7 * 24 * 3600.0


def component_class(kind: str, module: str) -> type:
    """The class a workload or runtime module names (`WORKLOAD` / `RUNTIME`); ConfigError when there
    is none. Importing runs the module: `module` must come from the local conf/ or the command line,
    never from a results file (README: "Trust model")."""
    try:
        return getattr(importlib.import_module(module), kind.upper())
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{kind}.module={module!r} cannot be loaded: {exc}") from None


class UnsupportedError(RuntimeError):
    """A runtime cannot do what was asked (e.g. a precision): the row says status=unsupported."""


@dataclass
class MeasureConfig:
    """How long and how often to call the model. Times are wall-clock seconds."""

    warmup_calls: Annotated[int, Field(ge=0, le=100_000)] = 5
    warmup_s: Annotated[float, Field(ge=0, le=3600)] = 1.0
    min_calls: Annotated[int, Field(ge=1, le=10_000_000)] = 20
    min_s: Annotated[float, Field(ge=0, le=86_400)] = 2.0
    max_s: Annotated[float, Field(ge=0, le=86_400)] = 30.0
    # stop once the p50's 95% CI half-width is within this fraction of the p50
    target_ci_rel: Annotated[float, Field(ge=0, le=1)] = 0.01
    max_calls: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000
    burst_calls: Annotated[int, Field(ge=1, le=1000)] = 10  # baseline=paired: calls per alternating burst

    def validate(self) -> MeasureConfig:
        check_fields(self, "measure")
        if self.max_s < self.min_s:
            raise ConfigError(f"measure.max_s={self.max_s} is not allowed: it must be >= measure.min_s={self.min_s}")
        if self.max_calls < self.min_calls:
            raise ConfigError(
                f"measure.max_calls={self.max_calls} is not allowed: it must be >= measure.min_calls={self.min_calls}"
            )
        return self


MAX_TARGET_QPS = 1_000_000  # server: the highest arrival rate asked for (and the qps search's cap)
# server: the most arrivals one run may schedule (target_qps x max_s): each is an array entry and may become a
# latency, and a row holds at most 10**7 (results.MAX_LATENCIES_PER_ROW, measure.max_calls' cap)
MAX_SERVER_ARRIVALS = 10_000_000


@dataclass
class ScenarioConfig:
    """How requests reach the model, in MLPerf LoadGen's terms (https://github.com/mlcommons/inference/
    blob/master/loadgen/README.md): `single_stream` one call after the other (latency percentiles);
    `offline` `streams` requests in flight at all times (samples per second over wall time); `server`
    requests arriving as a Poisson process at `target_qps`, latency counted from arrival (queueing
    included), with `latency_bound_ms` the p99 it must meet; `search` bisects for the highest rate
    that meets it, as LoadGen's server mode does."""

    name: Literal["single_stream", "offline", "server"] = "single_stream"
    streams: Annotated[int, Field(ge=1, le=64), THREADS] = 1  # requests in flight (offline) / servers (server)
    target_qps: Annotated[float | None, Field(gt=0, le=MAX_TARGET_QPS)] = None  # server: arrivals per second
    latency_bound_ms: Annotated[float | None, Field(gt=0, le=3_600_000)] = None  # server: the p99 to meet
    search: bool = False  # server: find the highest target_qps whose p99 meets latency_bound_ms

    def validate(self) -> ScenarioConfig:
        if self.name == "single_stream" and self.streams != 1:
            raise ConfigError(f"scenario.streams={self.streams} is not allowed with single_stream: one call at a "
                              "time; use scenario=offline or server")  # fmt: skip
        if self.name == "server":
            if self.latency_bound_ms is None:
                raise ConfigError("scenario=server needs scenario.latency_bound_ms, the p99 latency to meet (ms)")
            if self.target_qps is None and not self.search:
                raise ConfigError("scenario=server needs scenario.target_qps (arrivals per second) or search=true")
        elif self.target_qps is not None or self.latency_bound_ms is not None or self.search:
            raise ConfigError(f"scenario.target_qps/latency_bound_ms/search have no effect with {self.name}: they "
                              "belong to scenario=server")  # fmt: skip
        return self


def max_server_qps(measure: MeasureConfig) -> float:
    """The highest arrival rate a server run can use with this plan: MAX_TARGET_QPS, and no more than
    MAX_SERVER_ARRIVALS expected in the `max_s` window."""
    return min(MAX_TARGET_QPS, MAX_SERVER_ARRIVALS / measure.max_s) if measure.max_s > 0 else MAX_TARGET_QPS


def min_server_qps(measure: MeasureConfig) -> float:
    """The lowest arrival rate a server run can use with this plan: one that expects `min_calls` (at
    least one) requests within the `max_s` window. Below it the window is likely to stay empty."""
    return max(measure.min_calls, 1) / measure.max_s if measure.max_s > 0 else math.inf


@dataclass
class ComponentConfig:
    """A workload or a runtime: its name, the module implementing it, and its options."""

    name: str
    module: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RuntimeConfig(ComponentConfig):
    precision: Precision = "fp32"
    python: str | None = None  # interpreter the job runs under; None = the harness's own
    setup_hint: str = ""  # how to create that interpreter when it is missing


@dataclass
class JobSpec:
    """Everything one job needs; JSON-serialisable so a child process can rebuild it."""

    workload: ComponentConfig
    runtime: RuntimeConfig
    batch: Annotated[int, Field(ge=1, le=MAX_BATCH)] = 1
    threads: Annotated[int | None, Field(ge=1), THREADS] = None  # None: every core this process may use
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = 0
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    timeout_s: Annotated[float, Field(ge=1, le=MAX_TIMEOUT_S)] = 1800.0
    cache_dir: str = "outputs/cache"
    # paired: time eager fp32 in the same child in alternating bursts (harness/measure.py, measure_paired)
    baseline: Literal["none", "paired"] = "none"
    pin_cores: bool = True  # run the child on `threads` cores only (os.sched_setaffinity)
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    # fixed: every timed call on one batch; dataset: the timed calls cycle over the eval batches
    timing_inputs: Literal["fixed", "dataset"] = "fixed"
    profile: bool = False  # per-operator profile after the measurement, saved under jobs/<run_id>/

    def validate(self) -> JobSpec:
        """Check every field against its declared type; fill `threads`. Raises ConfigError."""
        for f in dataclasses.fields(self):
            if f.name not in ("workload", "runtime", "measure", "scenario"):
                setattr(self, f.name, check_value(JobSpec, f.name, getattr(self, f.name), f.name))
        if self.threads is None:
            self.threads = available_cores()
        # absolute from here on: a runtime may change its working directory (ORT's quantizer does)
        self.cache_dir = str(Path(self.cache_dir).expanduser().absolute())
        measure = self.measure if isinstance(self.measure, dict) else dataclasses.asdict(self.measure)
        self.measure = parse_options(MeasureConfig, measure, "measure")
        scenario = self.scenario if isinstance(self.scenario, dict) else dataclasses.asdict(self.scenario)
        self.scenario = parse_options(ScenarioConfig, scenario, "scenario")
        floor, ceiling = min_server_qps(self.measure), max_server_qps(self.measure)
        qps = self.scenario.target_qps
        if self.scenario.name == "server" and self.measure.max_s <= 0:
            raise ConfigError(f"measure.max_s={self.measure.max_s:g} is not allowed with scenario=server: requests "
                              "arrive during max_s seconds; use more than 0")  # fmt: skip
        if self.scenario.name == "server" and qps is not None and qps > ceiling:
            raise ConfigError(
                f"scenario.target_qps={qps:g} is not allowed with measure.max_s={self.measure.max_s:g}: it schedules "
                f"more than {MAX_SERVER_ARRIVALS:,} requests; use at most {ceiling:g} qps or a shorter max_s"
            )
        if self.scenario.name == "server" and not self.scenario.search and qps is not None and qps < floor:
            raise ConfigError(
                f"scenario.target_qps={qps:g} is not allowed with measure.max_s={self.measure.max_s:g} and "
                f"measure.min_calls={self.measure.min_calls}: it expects fewer than min_calls requests in the "
                f"window; use at least {floor:g} qps or raise measure.max_s"
            )
        if self.baseline == "paired" and self.scenario.name != "single_stream":
            raise ConfigError(f"baseline=paired times one call at a time: it needs scenario=single_stream, not "
                              f"{self.scenario.name}")  # fmt: skip
        self.runtime.precision = check_value(RuntimeConfig, "precision", self.runtime.precision, "runtime.precision")
        parsed = {}
        for kind, component in (("workload", self.workload), ("runtime", self.runtime)):
            for key in ("name", "module"):
                if not isinstance(getattr(component, key), str) or not getattr(component, key):
                    raise ConfigError(f"{kind}.{key}={getattr(component, key)!r} is not allowed: it must be a name")
            if not isinstance(component.options, dict):
                raise ConfigError(f"{kind} options must be a mapping, got {type(component.options).__name__}")
            parsed[kind] = parse_options(component_class(kind, component.module).Options, component.options, kind)
            # as checked: a quoted "false" is recorded (and hashed) as false
            component.options = {k: getattr(parsed[kind], k) for k in component.options}
        self._check_model_file(parsed["workload"], parsed["runtime"])
        self._check_precision_options(parsed["workload"], "workload")
        self._check_precision_options(parsed["runtime"], "runtime")
        # static quantization calibrates: on what is known before any job runs (a runtime without int8 says
        # `unsupported` itself, as its row)
        offers = "int8" in getattr(component_class("runtime", self.runtime.module), "precisions", ())
        if self.runtime.precision == "int8" and offers:
            if problem := getattr(parsed["workload"], "calibration_problem", lambda: None)():
                raise ConfigError(problem)
        self._check_within_threads(parsed["runtime"])
        return self

    def _check_within_threads(self, runtime_options: Any) -> None:
        """Every stream or thread count (`scenario.streams` and the runtime's THREADS options) at most the
        job's `threads`: the job runs on that many cores (pinned to them), and each stream needs one; more
        would be cut down by the runtime, or oversubscribe the cores, while the row records the request."""
        counts = [("scenario.streams", self.scenario.streams)] + [
            (f"runtime.{f.name}", getattr(runtime_options, f.name)) for f in dataclasses.fields(runtime_options)
            if THREADS in markers(type(runtime_options), f.name) and getattr(runtime_options, f.name) is not None
        ]  # fmt: skip
        for key, value in counts:
            if value > self.threads:
                raise ConfigError(f"{key}={value} is not allowed with threads={self.threads}: it must be at most "
                                  f"{self.threads}, the cores the job runs on")  # fmt: skip

    def _check_precision_options(self, options: Any, kind: str) -> None:
        """An option of static INT8 quantization (STATIC_INT8: its calibration data and samples) set at another
        precision would be ignored while the row records it (and its config_hash holds it): refused, as other
        options without effect are. `kind`: "workload" or "runtime", naming the option."""
        if self.runtime.precision == "int8":
            return
        for name in fields_marked(type(options), STATIC_INT8):
            if (value := getattr(options, name)) != default_of(type(options), name):
                raise ConfigError(f"{kind}.{name}={value} has no effect at runtime.precision="
                                  f"{self.runtime.precision!r}: it applies to static INT8 quantization "
                                  "(runtime.precision=int8) only")  # fmt: skip

    def _check_model_file(self, workload_options: Any, runtime_options: Any) -> None:
        """A model given as a file (ONNX, OpenVINO IR) runs only on runtimes that run such files, as it is:
        a runtime option that shapes the conversion (any not marked AFTER_CONVERSION, e.g. the ONNX
        exporter or opset), set to other than its default, would be ignored and is refused."""
        prebuilt = getattr(workload_options, "prebuilt_file", lambda: None)()
        if prebuilt is None:
            return
        suffix = Path(prebuilt).suffix
        accepted = getattr(component_class("runtime", self.runtime.module), "accepts_files", ())
        if suffix not in accepted:
            raise ConfigError(
                f"the model {prebuilt!r} is a {suffix} file; runtime {self.runtime.name!r} runs PyTorch "
                "modules only: use openvino (.xml, .onnx), onnxruntime, onnxruntime_openvino (.onnx)"
            )
        if self.runtime.precision != "fp32":
            raise ConfigError(f"runtime.precision={self.runtime.precision!r} is not allowed with a model file: it runs "
                              "as it is (an INT8 file is read back as INT8); use fp32")  # fmt: skip
        options = type(runtime_options)
        for name in (f.name for f in dataclasses.fields(options)):
            value = getattr(runtime_options, name)
            if AFTER_CONVERSION not in markers(options, name) and value != default_of(options, name):
                raise ConfigError(f"runtime.{name}={value!r} has no effect on the model file {prebuilt!r}: it "
                                  "shapes the conversion, and a model file runs as it is")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        """Rebuild a spec from `to_dict()` output. Raises ConfigError when the structure is not
        a spec's (a damaged or foreign `config_json`)."""
        try:
            data = dict(data)
            data["workload"] = ComponentConfig(**data["workload"])
            data["runtime"] = RuntimeConfig(**data["runtime"])
            data["measure"] = MeasureConfig(**data.get("measure", {}))
            data["scenario"] = ScenarioConfig(**data.get("scenario", {}))
            for group in ("workload", "runtime"):  # read with .get() before any validation
                if not isinstance(data[group].options, dict):
                    raise TypeError(f"{group}.options is a {type(data[group].options).__name__}, not a mapping")
            return cls(**data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a job configuration ({type(exc).__name__}: {exc})") from None

    def config_hash(self) -> str:
        """Identity of what is measured; where results and caches go is not part of it."""
        text = json.dumps(measured_identity(self.to_dict()), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def measured_identity(config: dict) -> dict:
    """A configuration in JobSpec.to_dict() form without where and how long it ran (`cache_dir`,
    `timeout_s`, `runtime.setup_hint`): what identifies the measurement. JobSpec.config_hash hashes
    it; analysis compares stored configurations (`config_json`, possibly foreign or old, so a key may
    be missing) by it."""
    identity = {k: v for k, v in config.items() if k not in ("cache_dir", "timeout_s")}
    if isinstance(identity.get("runtime"), dict):
        identity["runtime"] = {k: v for k, v in identity["runtime"].items() if k != "setup_hint"}
    return identity
