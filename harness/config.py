"""Typed job configuration, validated plainly (no Hydra needed).

A job is one (workload, runtime, batch size, threads) point of a sweep. Everything a
child process needs travels as the JSON of a `JobSpec`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

PRECISIONS = ("fp32", "bf16")


class ConfigError(ValueError):
    """Bad user input. Its message is one line naming the bad value and what is allowed."""


class UnsupportedError(RuntimeError):
    """A runtime cannot do what was asked (e.g. a precision): the row says status=unsupported."""


def available_cores() -> int:
    return len(os.sched_getaffinity(0))


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """`value` as an int in [low, high], or a ConfigError naming `name`, the value and what is allowed."""
    allowed = f"an integer from {low} to {high}" if high is not None else f"an integer >= {low}"
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if isinstance(value, bool) or float(value) != int(value):
                raise ValueError
            value = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={value!r} is not allowed: {name} must be {allowed}") from None
    if value < low or (high is not None and value > high):
        raise ConfigError(f"{name}={value} is not allowed: {name} must be {allowed}")
    return value


def _check_number(name: str, value: Any, low: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not allowed: {name} must be a number >= {low}") from None
    if isinstance(value, bool) or number < low:
        raise ConfigError(f"{name}={value!r} is not allowed: {name} must be a number >= {low}")
    return number


def build_options(cls: type, values: dict[str, Any], what: str) -> Any:
    """Build the options dataclass `cls` from a plain dict, naming unknown keys in one line."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"unknown {what} option {unknown[0]!r}; allowed: {', '.join(names)}")
    options = cls(**values)
    validate = getattr(options, "validate", None)
    if validate is not None:
        validate()
    return options


@dataclass
class MeasureConfig:
    """How long and how often to call the model. Times are wall-clock seconds."""

    warmup_calls: int = 5
    warmup_s: float = 1.0
    min_calls: int = 20
    min_s: float = 2.0
    max_s: float = 30.0
    target_ci_rel: float = 0.01  # stop once the p50's 95% CI half-width is within 1% of the p50
    max_calls: int = 100_000

    def validate(self) -> MeasureConfig:
        self.warmup_calls = check_int("measure.warmup_calls", self.warmup_calls, 0)
        self.warmup_s = _check_number("measure.warmup_s", self.warmup_s, 0.0)
        self.min_calls = check_int("measure.min_calls", self.min_calls, 1)
        self.min_s = _check_number("measure.min_s", self.min_s, 0.0)
        self.max_s = _check_number("measure.max_s", self.max_s, 0.0)
        self.target_ci_rel = _check_number("measure.target_ci_rel", self.target_ci_rel, 0.0)
        self.max_calls = check_int("measure.max_calls", self.max_calls, self.min_calls)
        if self.max_s < self.min_s:
            raise ConfigError(f"measure.max_s={self.max_s} is not allowed: it must be >= measure.min_s={self.min_s}")
        return self


@dataclass
class ComponentConfig:
    """A workload or a runtime: its name, the module implementing it, and its options."""

    name: str
    module: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class RuntimeConfig(ComponentConfig):
    precision: str = "fp32"
    python: str | None = None  # interpreter the job runs under; None = the harness's own
    setup_hint: str = ""  # how to create that interpreter when it is missing


@dataclass
class JobSpec:
    """Everything one job needs; JSON-serialisable so a child process can rebuild it."""

    workload: ComponentConfig
    runtime: RuntimeConfig
    batch: int = 1
    threads: int | None = None
    seed: int = 0
    measure: MeasureConfig = field(default_factory=MeasureConfig)
    timeout_s: float = 1800.0
    cache_dir: str = "outputs/cache"

    def validate(self) -> JobSpec:
        cores = available_cores()
        self.batch = check_int("batch", self.batch, 1)
        self.threads = cores if self.threads is None else check_int("threads", self.threads, 1, cores)
        self.seed = check_int("seed", self.seed, 0)
        self.timeout_s = _check_number("timeout_s", self.timeout_s, 1.0)
        self.measure.validate()
        if self.runtime.precision not in PRECISIONS:
            raise ConfigError(
                f"runtime.precision={self.runtime.precision!r} is not allowed: choose one of {', '.join(PRECISIONS)}"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobSpec:
        data = dict(data)
        data["workload"] = ComponentConfig(**data["workload"])
        data["runtime"] = RuntimeConfig(**data["runtime"])
        data["measure"] = MeasureConfig(**data.get("measure", {}))
        return cls(**data)

    def config_hash(self) -> str:
        """Identity of what is measured; where results and caches go is not part of it."""
        identity = self.to_dict()
        for key in ("cache_dir", "timeout_s"):
            identity.pop(key)
        identity["runtime"].pop("setup_hint")
        text = json.dumps(identity, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
