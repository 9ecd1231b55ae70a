"""Labelled tables for the workloads: local .csv/.jsonl/.json files and `datasets` hub ids, read
without lossy conversions, and their text and label columns checked, each problem one line.

Missing-text policy (README: "Bad input"): the literal strings "NA", "null", "None", "nan" are text
like any other (pandas' `keep_default_na=False`), and read as such; an empty or blank text, a text
of no visible character (only zero-width, format or control characters: Unicode categories C* and
Z*), or a JSON null, is rejected with its row numbers. JSON is read without date or dtype guessing.
A CSV header naming a column twice is refused (pandas would rename the second `label.1` and the
first would be used silently), as pandas reads the header (a UTF-8 BOM is no part of a name); so is
a JSON object naming a key twice (the last one would win silently). Labels are integers written in
ASCII digits (an optional sign, or as a float like `1.0`) or class names; anything else (`--1`, `²`)
is refused naming rows.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.config import ConfigError

MAX_ROWS_NAMED = 8
INTEGER = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")  # 1.0, 1e3: ASCII only


def _rows(mask: np.ndarray) -> str:
    """1-based data-row numbers of the True entries, the first few of them."""
    rows = (np.flatnonzero(mask) + 1).tolist()
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_NAMED])
    return f"row{'s' if len(rows) > 1 else ''} {shown}{', ...' if len(rows) > MAX_ROWS_NAMED else ''}"


def read_table(path: Path) -> pd.DataFrame:
    """A local .csv/.jsonl/.json file as read, every cell kept as written. Raises ConfigError."""
    try:
        if path.suffix == ".csv":
            _check_header(path)
            return pd.read_csv(path, keep_default_na=False, dtype=str)
        if path.suffix in (".jsonl", ".json"):
            _check_json_keys(path, lines=path.suffix == ".jsonl")
            frame = pd.read_json(path, lines=path.suffix == ".jsonl", dtype=False, convert_dates=False)
            return frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)
    except ConfigError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, RecursionError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(f"dataset {str(path)!r} is unreadable ({type(exc).__name__}: {first})") from None
    raise ConfigError(f"dataset {str(path)!r} is not a .csv, .jsonl or .json file")


def _check_header(path: Path) -> None:
    """A CSV header must name each column once, as pandas reads it (csv.reader kept a UTF-8 BOM in the
    first name, so `\ufefflabel,text,label` passed and pandas then used the first `label`). Raises
    ConfigError naming the repeated names."""
    first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    header = [str(name) for name in first.iloc[0]] if len(first) else []
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ConfigError(f"dataset {str(path)!r} names column(s) {', '.join(map(repr, repeated))} more than once in "
                          "its header; which one is meant is a guess: rename or remove the duplicates")  # fmt: skip


def _check_json_keys(path: Path, lines: bool) -> None:
    """Every JSON object in the file names each key once (pandas keeps the last of two `label` keys
    without a word). Raises ConfigError naming the key and, for .jsonl, the line."""

    def refuse_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            raise _RepeatedKey(", ".join(map(repr, repeated)))
        return dict(pairs)

    text = path.read_text(encoding="utf-8")
    # lines end at "\n" only, as pandas reads them: str.splitlines also splits at U+2028 and other
    # characters a JSON string may hold unescaped
    chunks = enumerate(text.split("\n"), start=1) if lines else [(0, text)]
    for number, chunk in chunks:
        if not chunk.strip():
            continue
        try:
            json.loads(chunk, object_pairs_hook=refuse_twice)
        except _RepeatedKey as exc:
            where = f" (line {number})" if lines else ""
            raise ConfigError(f"dataset {str(path)!r} names key(s) {exc} more than once in one record{where}; which "
                              "one is meant is a guess: rename or remove the duplicates") from None  # fmt: skip
        except ValueError:
            continue  # not JSON: pandas says what is wrong with it; the other lines are still checked


class _RepeatedKey(Exception):
    """A JSON object naming a key twice (raised inside json.loads, turned into ConfigError)."""


def _no_content(value: Any) -> bool:
    """True for a text with no visible character: empty, blank, or only zero-width, format, control
    or separator characters (Unicode categories C* and Z*), which str.strip keeps."""
    return isinstance(value, str) and all(unicodedata.category(c)[0] in "CZ" for c in value)


def load_hf_dataset(name: str, subset: str | None, split: str) -> tuple[pd.DataFrame, list[str] | None]:
    """A `datasets` hub id (needs its cache or network; never runs remote code), as a frame, and
    the class names its label feature declares (None when it declares none)."""
    import datasets

    try:
        dataset = datasets.load_dataset(name, subset, split=split)
    except Exception as exc:  # datasets raises many types (connection, missing split, bad config)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(
            f"dataset {name!r} (subset {subset!r}, split {split!r}) cannot be loaded: {type(exc).__name__}: {first}"
        ) from None
    names = None
    for feature in dataset.features.values():
        if isinstance(feature, datasets.ClassLabel):
            names = list(feature.names)
    return dataset.to_pandas(), names


def require_columns(frame: pd.DataFrame, dataset: str, *columns: str) -> None:
    if frame.empty:
        raise ConfigError(f"dataset {dataset!r} holds no rows")
    for column in columns:
        if column not in frame.columns:
            raise ConfigError(
                f"dataset {dataset!r} has no column {column!r}; its columns: {', '.join(map(str, frame.columns))}"
            )


def text_column(frame: pd.DataFrame, dataset: str, column: str) -> list[str]:
    """The texts, as written. Empty or blank cells, texts of no visible character (zero-width, format,
    control characters only) and nulls are rejected with their row numbers."""
    values = frame[column]
    missing = values.isna().to_numpy() | values.map(_no_content).to_numpy()
    if missing.any():
        raise ConfigError(
            f"dataset {dataset!r} column {column!r} has empty or missing text at {_rows(missing)} (counting data "
            "rows from 1; blank or only invisible characters count as empty); fill or remove them"
        )
    not_text = values.map(lambda v: not isinstance(v, str | int | float)).to_numpy()
    if not_text.any():
        raise ConfigError(f"dataset {dataset!r} column {column!r} holds non-text values at {_rows(not_text)}")
    return [str(v) for v in values]


def label_column(frame: pd.DataFrame, dataset: str, column: str, names: Mapping[str, int] | None) -> np.ndarray:
    """Class indices of every row. Integers (also written as 1.0 or "1") are taken as they are;
    text labels are looked up in `names` (a model's label2id; exact, then case-insensitive).
    Raises ConfigError naming the rows or values that are neither."""
    values = frame[column]
    missing = values.isna().to_numpy() | values.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy()
    if missing.any():
        raise ConfigError(f"dataset {dataset!r} column {column!r} has missing labels at {_rows(missing)}")

    def as_index(value: Any) -> int | None:
        if isinstance(value, bool | np.bool_):
            return None
        if isinstance(value, int | np.integer):
            return int(value)
        if isinstance(value, float | np.floating):
            return int(value) if float(value).is_integer() else None
        if isinstance(value, str):  # ASCII digits only: int()/float() also take '²'-like digits and '1_0'
            text = value.strip()
            if INTEGER.fullmatch(text):
                return int(text)
            if not DECIMAL.fullmatch(text):
                return None
            number = float(text)
            return int(number) if number.is_integer() else None
        return None

    def in_range(value: Any) -> int | None:  # 1e300 is an integer too, and no model's class
        index = as_index(value)
        return index if index is None or abs(index) < 2**62 else None

    indices = values.map(in_range)
    unparsed = indices.isna().to_numpy()
    if unparsed.any() and names is not None:
        folded = {str(k).casefold(): v for k, v in names.items()}
        for position in np.flatnonzero(unparsed):
            text = str(values.iloc[position]).strip()
            index = names.get(text, folded.get(text.casefold()))
            if index is not None:
                indices.iloc[position] = int(index)
        unparsed = indices.isna().to_numpy()
    if unparsed.any():
        odd = sorted({str(v) for v in values[unparsed]})[:MAX_ROWS_NAMED]
        known = f"; the model's labels: {', '.join(map(str, names))}" if names else ""
        raise ConfigError(
            f"dataset {dataset!r} column {column!r} holds labels that are not class indices or names of this "
            f"model's classes: {', '.join(repr(v) for v in odd)} at {_rows(unparsed)}{known}"
        )
    return indices.astype(np.int64).to_numpy()
