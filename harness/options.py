"""Typed options: every option is checked against its declared type, in one place.

Each component declares its options as a dataclass whose field annotations are the rules
(`int`, `bool`, `Literal[...]`, `Annotated[int, Field(ge=1, le=64)]`, `str | None`, ...);
`parse_options` validates a plain dict against them with pydantic (lax mode: "false" is
False, 3.0 is 3; but a boolean is never a number, and "maybe" is no boolean) and turns
any violation into one line naming the key, the value and what is allowed. Markers in
`Annotated` metadata add the rules pydantic cannot know:

- `THREADS`: a thread or stream count; at most the cores this process may use.
- `STATIC_INT8`: an option of static INT8 quantization (its calibration); it has no effect at another precision.
- `AFTER_CONVERSION`: a runtime option applied after conversion (a compile or session
  setting); it does not change a cached conversion artifact.
- `DATA_ONLY`: a workload option that selects data, not the model or its inputs' form;
  it does not change a cached conversion artifact.
- `MACHINE_LOCAL`: a path into a cache on the machine that ran the job; a re-run from a results
  file uses its own machine's instead (harness/rerun.py).

pydantic documents the lax-mode conversions: https://docs.pydantic.dev/latest/concepts/conversion_table/
"""

from __future__ import annotations

import dataclasses
import functools
import os
import types
import typing
from typing import Annotated, Any, Literal, Union

from pydantic import TypeAdapter, ValidationError


class ConfigError(ValueError):
    """Bad user input. Its message is one line naming the bad value and what is allowed."""


@dataclasses.dataclass(frozen=True)
class _Marker:
    name: str


THREADS = _Marker("threads")
STATIC_INT8 = _Marker("static_int8")
AFTER_CONVERSION = _Marker("after_conversion")
DATA_ONLY = _Marker("data_only")
MACHINE_LOCAL = _Marker("machine_local")


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), not the machine's total."""
    return len(os.sched_getaffinity(0))


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


def markers(cls: type, name: str) -> set[_Marker]:
    """The markers (THREADS, STATIC_INT8, AFTER_CONVERSION, DATA_ONLY, MACHINE_LOCAL) on field
    `name` of dataclass `cls`."""
    hint = _hints(cls)[name]
    metadata = getattr(hint, "__metadata__", ()) if typing.get_origin(hint) is Annotated else ()
    return {m for m in metadata if isinstance(m, _Marker)}


def fields_marked(cls: type, marker: _Marker) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if marker in markers(cls, f.name)]


def default_of(cls: type, name: str) -> Any:
    """The default of field `name` of dataclass `cls` (its default_factory called), where defaults live."""
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default


def _strip(hint: Any) -> tuple[Any, list[Any]]:
    """(the bare type, its Annotated metadata)."""
    if typing.get_origin(hint) is Annotated:
        args = typing.get_args(hint)
        return args[0], list(args[1:])
    return hint, []


def _union_members(hint: Any) -> list[Any]:
    if typing.get_origin(hint) in (Union, types.UnionType):
        return list(typing.get_args(hint))
    return [hint]


def describe(hint: Any) -> str:
    """What a field allows, in words: 'an integer from 1 to 64', 'one of jit, compile', 'true or false'."""
    bare, metadata = _strip(hint)
    members = _union_members(bare)
    optional = type(None) in members
    members = [m for m in members if m is not type(None)]
    low = high = None
    for item in metadata:
        for constraint in getattr(item, "metadata", [item]):
            low = getattr(constraint, "ge", low)
            high = getattr(constraint, "le", high)
            if getattr(constraint, "gt", None) is not None:
                low = f"> {constraint.gt}"
    parts = []
    for member in members:
        inner, inner_meta = _strip(member)
        if inner_meta:
            parts.append(describe(member))
        elif typing.get_origin(inner) is Literal:
            parts.append("one of " + ", ".join(str(v) for v in typing.get_args(inner)))
        elif inner is bool:
            parts.append("true or false")
        elif inner in (int, float):
            word = "an integer" if inner is int else "a number"
            if isinstance(low, str):
                parts.append(f"{word} {low}" + (f" and <= {high}" if high is not None else ""))
            elif low is not None and high is not None:
                parts.append(f"{word} from {low} to {high}")
            elif low is not None:
                parts.append(f"{word} >= {low}")
            elif high is not None:
                parts.append(f"{word} <= {high}")
            else:
                parts.append(word)
        elif inner is str:
            parts.append("a string")
        else:
            parts.append(getattr(inner, "__name__", str(inner)))
    text = " or ".join(parts) or "null"
    return text + (" (or null)" if optional else "")


def _not_allowed(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"{key}={value!r} is not allowed: {key} must be {allowed}")


def _is_bool_type(hint: Any) -> bool:
    bare, _ = _strip(hint)
    return any(_strip(m)[0] is bool for m in _union_members(bare))


@functools.cache
def _field_adapter(cls: type, name: str) -> TypeAdapter[Any]:
    return TypeAdapter(_hints(cls)[name])


def check_value(cls: type, name: str, value: Any, key: str) -> Any:
    """`value` of field `name` of dataclass `cls`, checked against its declared type (and, for
    THREADS fields, the core count); `key` names it in the ConfigError raised otherwise."""
    hint = _hints(cls)[name]
    if isinstance(value, bool) and not _is_bool_type(hint):  # pydantic's lax mode would read True as 1
        raise _not_allowed(key, value, describe(hint))
    # a switch is true or false (as the message says), or its quoted text: lax mode also read force=no,
    # off, 0, yes and y as booleans, which no message admitted
    if _is_bool_type(hint) and value is not None and not isinstance(value, bool):
        if not (isinstance(value, str) and value.strip().lower() in ("true", "false")):
            raise _not_allowed(key, value, describe(hint))
    try:
        value = _field_adapter(cls, name).validate_python(value)
    except ValidationError:
        raise _not_allowed(key, value, describe(hint)) from None
    if THREADS in markers(cls, name) and value is not None and value > available_cores():
        raise ConfigError(
            f"{key}={value} is not allowed: {key} must be at most {available_cores()}, the cores this process may use"
        )
    return value


def parse_options(cls: type, values: dict[str, Any], prefix: str) -> Any:
    """`cls(**values)` after checking every value against its declared type.

    `prefix` names the option group in messages ("runtime", "workload", "measure"). Raises
    ConfigError (one line: key, value, what is allowed) for an unknown key, a value of the
    wrong type or out of range, or a thread/stream count above the core count; then runs the
    dataclass's own `validate()` (cross-field rules) when it has one."""
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"unknown {prefix} option {unknown[0]!r}; allowed: {', '.join(names)}")
    options = cls(**{name: check_value(cls, name, value, f"{prefix}.{name}") for name, value in values.items()})
    validate = getattr(options, "validate", None)
    if validate is not None:
        validate()
    return options


def check_fields(instance: Any, prefix: str) -> None:
    """Check every field of a dataclass instance against its declared type, in place (ConfigError)."""
    dotted = f"{prefix}." if prefix else ""
    for f in dataclasses.fields(instance):
        setattr(instance, f.name, check_value(type(instance), f.name, getattr(instance, f.name), dotted + f.name))


def option_values(options: Any, excluding: _Marker | None = None) -> dict[str, Any]:
    """The options as a dict, without the fields carrying the marker `excluding`."""
    cls = type(options)
    return {
        f.name: getattr(options, f.name)
        for f in dataclasses.fields(cls)
        if excluding is None or excluding not in markers(cls, f.name)
    }
