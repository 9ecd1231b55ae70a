"""Tidy result files that cannot be damaged by a crash, and are checked when read.

The truth of a results directory is one file per job, `rows/<run_id>.json` (the row and its raw
latencies), written atomically: a temporary file, fsync, rename, fsync of the directory. A
writer killed at any point leaves either a whole row file or none (its temporary file is
ignored), so a half-written row never counts as a finished job. `results.csv`,
`results.parquet` and `latencies.parquet` are views gathered from the row files (atomically
too) after every append and by `python -m harness.gather DIR`; they are never read back to
write, so a damaged view cannot spread — the next gather rewrites it and says so.

Directories written before row files existed are imported once: from `results.parquet` when it
is intact, else from the complete rows of `results.csv`; the damaged file is kept beside them
(`*.damaged-<time>`), and one line says what was recovered.

Files given to report, compare and rerun are checked (`check_frame`): unreadable, empty, foreign
(no harness columns) or mistyped files raise ResultsError, one line, never a traceback.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import decimal
import errno
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.cache import file_sha256, present
from harness.config import MAX_BATCH, ConfigError
from harness.envinfo import git_sha
from harness.locking import open_own_lock
from harness.untrusted import (
    MAX_FILE_BYTES,
    TERMINAL_CONTROLS,
    first_link,
    json_loads,
    printable,
    read_regular,
    read_regular_bytes,
)

# The documented columns, in order (README: "Result columns"). Extra columns follow them.
COLUMNS = [
    "run_id", "config_hash", "repeat", "workload", "model", "model_hash", "dataset", "data_hash", "runtime",
    "batch_size", "seq_len",
    "precision_requested", "precision_effective", "threads", "status", "error", "n_calls",
    "latency_ms_p50", "latency_ms_p50_ci_low", "latency_ms_p50_ci_high", "latency_ms_p90",
    "latency_ms_p95", "latency_ms_p99", "latency_ms_mean", "latency_ms_std", "latency_ms_min",
    "latency_ms_max", "throughput_sps", "first_inference_ms", "prepare_s", "peak_rss_mb",
    "accuracy", "f1", "agreement", "max_abs_diff", "n_eval_samples", "cpu_model", "cpu_flags",
    "hostname", "python_version", "torch_version", "transformers_version", "runtime_version", "harness_git_sha",
    "harness_code",
    "started_at", "duration_s",
]  # fmt: skip
# What a file must hold to be read as harness results, and the columns that must be numbers.
REQUIRED_COLUMNS = ["run_id", "workload", "runtime", "batch_size", "precision_requested", "status"]
NUMERIC_COLUMNS = [
    "repeat", "batch_size", "threads", "n_calls", "latency_ms_p50", "latency_ms_p50_ci_low", "latency_ms_p50_ci_high",
    "latency_ms_p90", "latency_ms_p95", "latency_ms_p99", "latency_ms_mean", "latency_ms_std", "latency_ms_min",
    "latency_ms_max", "throughput_sps", "first_inference_ms", "prepare_s", "peak_rss_mb", "accuracy", "f1",
    "agreement", "max_abs_diff", "n_eval_samples", "duration_s",
    # the extra columns report, compare and rerun compute with (README: "More columns follow these")
    "streams", "target_qps", "offered_qps", "achieved_qps", "latency_bound_ms", "max_qps_meeting_bound",
    "latency_ms_p99_ci_low", "latency_ms_p99_ci_high", "timed_batches", "timed_len_min", "timed_len_median",
    "timed_len_max",
    "speedup_vs_eager", "speedup_vs_eager_ci_low", "speedup_vs_eager_ci_high", "baseline_latency_ms_p50",
    "paired_bursts", "other_cpu_share", "steal_share", "load_avg_1min", "cpu_freq_mhz", "calib_gemm_ms_before",
    "calib_gemm_ms_after", "host_lock_wait_s", "gflops_per_call", "gflops_per_s", "gemm_peak_gflops_fp32",
    "gemm_peak_gflops_bf16", "int8_op_share", "accuracy_delta_vs_fp32", "predicted_majority_share",
    "reference_majority_share", "max_rel_diff", "threads_effective", "requests_unserved", "accuracy_s", "reference_s",
]  # fmt: skip
# Text that may look like a number: a hostname 007 or 12345, a python_version 3.10, a hash of digits. read_csv
# guessed them ints and floats (007 read 7; a host not a string was grouped as "": its runs and failures uncounted).
TEXT_COLUMNS = [
    "run_id", "config_hash", "workload", "model", "model_hash", "dataset", "data_hash", "runtime",
    "precision_requested", "precision_effective", "status", "error", "cpu_model", "cpu_flags", "hostname",
    "python_version", "torch_version", "transformers_version", "runtime_version", "harness_git_sha", "harness_code",
    "started_at", "scenario", "config_json",
]  # fmt: skip
# What read_csv reads as missing by default (pandas.read_csv, `na_values`): kept for numbers; text is missing
# only where empty (a host named NA or None is a host: read as missing, its runs were grouped under no host)
CSV_MISSING = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
               "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]  # fmt: skip
# Counts the tools turn into ints (int(), range(), "x streams"): each a whole number in [0, MAX_COUNT] when present.
# batch_size has its own, narrower range (config.MAX_BATCH).
INTEGER_COLUMNS = [
    "repeat", "threads", "n_calls", "n_eval_samples", "streams", "timed_batches", "paired_bursts",
    "threads_effective", "requests_unserved",
]  # fmt: skip
MAX_COUNT = 2**31 - 1  # a C int: more than any count a run makes (measure.max_calls is at most 10**7)
# Columns read together (report's load text, its speed-up CIs): a file holding one of them gets the others as
# empty cells, so a row that lacks a partner reads as "not recorded", never as a KeyError.
COLUMN_GROUPS = [
    ("target_qps", "achieved_qps", "latency_bound_ms"),
    ("timed_len_min", "timed_len_median", "timed_len_max"),
    ("latency_ms_p99_ci_low", "latency_ms_p99_ci_high"),
    ("speedup_vs_eager_ci_low", "speedup_vs_eager_ci_high"),
    ("calib_gemm_ms_before", "calib_gemm_ms_after"),
]
NAMING_COLUMNS = ["run_id", "workload", "runtime", "status"]  # each row names these (a precision may be missing)
# A row holds about 130 columns; the checks below go column by column (about 2 ms each): 200,000 empty columns
# in a 1.7 MB CSV kept report and compare busy for minutes.
MAX_COLUMNS = 2000
# What report, compare and the summary compute from the rows (and pandas' merge indicator): a file cannot supply them.
COMPUTED_COLUMNS = {
    "n_runs", "settings", "settings_original", "variant", "load", "source", "verdict", "differs", "accuracy_change",
    "agreement_change", "paired_speedup", "paired_speedup_ci_low", "paired_speedup_ci_high", "between_run_cv",
    "latency_ms_p50_between_ci_low", "latency_ms_p50_between_ci_high", "speedup_vs_eager_between_ci_low",
    "speedup_vs_eager_between_ci_high", "unstable", "runs_busy", "runs_short", "runs_other_software",
    "latency_ms_p50_runs", "host", "test_verdict", "runs_a", "runs_b", "figure_of_merit", "figure_runs",
    "figure_between_ci_low", "figure_between_ci_high", "figure_n_runs", "runs_failed", "runs_failed_why", "lineage",
    "failed_a", "failed_b", "failed_runs", "evidence", "min_effect", "p50_ratio", "own_host",
}  # fmt: skip

# Status values. Only "ok" rows carry measurements.
OK = "ok"
# (low, high]: what an ok row's measured column can hold; anything else is damage, never a measurement.
# A latency lies above the clock's 1 ns resolution and below a week (no job's timeout allows more).
LATENCY_RANGE_MS = (1e-6, 7 * 86_400_000.0)
# Raw latencies one row file may hold: what measure.max_calls allows at most (config.MeasureConfig), and the
# calls still in flight when a concurrent run reaches it (fewer than scenario.streams, at most 64).
MAX_LATENCIES_PER_ROW = 10_000_000 + 64
MEASURABLE = {
    **{c: LATENCY_RANGE_MS for c in ("latency_ms_p50", "latency_ms_p50_ci_low", "latency_ms_p50_ci_high",
                                     "latency_ms_p90", "latency_ms_p99", "latency_ms_mean")},
    "throughput_sps": (0.0, 1e12),
    "max_qps_meeting_bound": (0.0, 1e12),  # its cost (1 / rate) ranks and divides: 0 or inf is no rate
}  # fmt: skip
# [low, high]: what any row's column can hold where it holds a value (score() and the drivers compute them);
# an accuracy of 1e308 broke the trade-off plot, an infinite rate divided by zero in the Decision.
RANGES = {
    **{c: (0.0, 1.0) for c in ("accuracy", "f1", "agreement", "predicted_majority_share", "reference_majority_share",
                               "int8_op_share", "steal_share")},
    "accuracy_delta_vs_fp32": (-1.0, 1.0),
    **{c: (0.0, math.inf) for c in ("max_abs_diff", "max_rel_diff")},  # inf where outputs overflowed
    **{c: (0.0, 1e12) for c in ("target_qps", "offered_qps", "achieved_qps", "gflops_per_call", "gflops_per_s",
                                "gemm_peak_gflops_fp32", "gemm_peak_gflops_bf16")},
    # a ratio of two latencies: never 0 (log(0) in the heatmap and the runs' geometric mean)
    **{c: (1e-9, 1e12) for c in ("speedup_vs_eager", "speedup_vs_eager_ci_low", "speedup_vs_eager_ci_high")},
}  # fmt: skip
FAILED_STATUSES = ("error", "crashed", "timeout")  # the sweep exits non-zero when a job ends so
INVALID = "invalid"  # bad user input found while the job ran (unreadable data, missing column)
UNSUPPORTED = "unsupported"
NOT_RUN_STATUSES = (UNSUPPORTED, "unavailable")  # an honest "cannot", with the reason in `error`
STATUSES = (OK, *FAILED_STATUSES, INVALID, *NOT_RUN_STATUSES)

RESULTS_CSV = "results.csv"
RESULTS_PARQUET = "results.parquet"
LATENCIES_PARQUET = "latencies.parquet"
ROWS_DIR = "rows"
LOCK_FILE = ".results.lock"
VIEWS = (RESULTS_CSV, RESULTS_PARQUET, LATENCIES_PARQUET)  # gathered from the row files, never read to write
VIEWS_RECORD = ".views.sha256.json"
ROW_FORMAT = 1
# `.<name>.<pid>@<host>.tmp` (older harnesses: `.<name>.<pid>.tmp`): whose writer it was, for gather's cleanup
TMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)(?:@(?P<host>[^/]+))?\.tmp$")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # a row file's name: never a path
COMMITTED_SHA = re.compile(r"^[0-9a-f]{7,40}$")  # envinfo.git_sha of a clean checkout (not -dirty, not unknown)
STALE_TMP_S = 60.0  # a row file is written in milliseconds: a temporary file this old was abandoned
NESTED_TYPES = (list, tuple, dict, set, frozenset, np.ndarray)  # what no cell of a results file may hold
NO_LOCKS = (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS)  # a filesystem without flock (some NFS set-ups)


class ResultsError(ValueError):
    """A results file or directory that cannot be read as harness results; the message is one line."""


class LostRows(str):
    """A note (one line) saying that rows or their evidence were not read: a damaged row file skipped,
    a row not imported, incomplete CSV rows, unusable raw latencies. A gate (compare
    --fail-on-regression) fails on these, and only on these: a rewritten view loses nothing."""


@dataclass
class Gathered:
    """Rows gathered from a directory, and what was wrong on the way (one line each)."""

    frame: pd.DataFrame
    latencies: pd.DataFrame
    notes: list[str] = field(default_factory=list)


# -- atomic files ---------------------------------------------------------------------------------
def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Any) -> None:
    """`write(tmp_path)`, fsync, rename over `path`, fsync the directory: readers and crashes see the
    old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}@{socket.gethostname()}.tmp")
    tmp.unlink(missing_ok=True)  # its name is predictable: a link planted there must not be written through
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def check_run_id(run_id: object) -> str:
    """`run_id` when it can name a row file (letters, digits, `.`, `_`, `-`; no path), else ValueError:
    a stored run_id must never choose where a file is written."""
    if not isinstance(run_id, str) or not RUN_ID.match(run_id) or run_id.strip(".") == "":
        raise ValueError(f"run_id {str(run_id)[:80]!r} is not a plain name (letters, digits, '.', '_', '-')")
    return run_id


# What a sweep and a gather write in a results directory: directories, and files it replaces or opens.
WRITTEN_DIRS = {ROWS_DIR: "row files", "jobs": "job logs", ".claims": "job claims"}
WRITTEN_FILES = (LOCK_FILE, *VIEWS, VIEWS_RECORD, "summary.csv", "summary.parquet")  # summary.SUMMARY_CSV/_PARQUET


SWEEP_DIR_OPTIONS = "results_dir= or hydra.sweep.dir="


def check_writable(directory: Path, results_places: bool = True, option: str = SWEEP_DIR_OPTIONS) -> None:
    """ConfigError (one line) unless `directory` is, or can be made, a writable directory.
    Probes by creating a file (permission bits say nothing for root; `chattr +i` does), in the
    directory and in each of its WRITTEN_DIRS that exists. With `results_places` (a sweep's or gather's
    directory, not a report's) every place a run writes is checked too, so a damaged directory is
    refused before any job runs instead of failing after a measurement: each of WRITTEN_DIRS must be
    a directory when present, no file of WRITTEN_FILES may be a directory (a view is replaced by
    rename), and the lock file must be a regular file (it is opened for writing: a FIFO would block,
    a link would truncate what it names). `option`: how the one line tells the user to choose another."""
    directory = Path(directory)
    existing = _writable_place(directory, f"results directory {str(directory)!r}", option)
    if results_places and existing == directory:
        for name, what in WRITTEN_DIRS.items():
            place = directory / name
            if os.path.lexists(place) and not place.is_dir():
                raise ConfigError(f"results directory {str(directory)!r} cannot be used: {place} is not a directory "
                                  f"(the harness keeps its {what} there); move it away")  # fmt: skip
        for name in WRITTEN_FILES:
            try:
                mode = os.lstat(directory / name).st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(mode) or (name == LOCK_FILE and not stat.S_ISREG(mode)):
                raise ConfigError(f"results directory {str(directory)!r} cannot be used: {directory / name} is "
                                  f"{'a directory' if stat.S_ISDIR(mode) else 'no regular file'} where the harness "
                                  "writes a file; move it away")  # fmt: skip
    for probe in [directory / sub for sub in WRITTEN_DIRS if (directory / sub).is_dir()]:
        _writable_place(probe, f"results directory {str(directory)!r}", "results_dir= or hydra.sweep.dir=")


def check_cache_dir(directory: Path) -> None:
    """ConfigError (one line) unless `directory` is, or can be made, a directory this process can write:
    checked before any job (a file given as cache_dir, or an unwritable one, made every job an error row
    after its model was loaded)."""
    _writable_place(Path(directory), f"cache_dir={str(directory)!r}", "cache_dir=")


def _writable_place(directory: Path, label: str, setting: str) -> Path:
    """The nearest existing directory at or above `directory`, once a file could be created in it
    (permission bits say nothing for root; `chattr +i` does); else ConfigError naming `label` and the
    `setting` that chooses another place."""
    existing = directory
    while not os.path.lexists(existing) and existing != existing.parent:
        existing = existing.parent
    if existing.is_symlink() and not existing.exists():  # an unmounted disk behind a link: not "made" by mkdir
        raise ConfigError(f"{label} cannot be used: {existing} is a symbolic link to {os.readlink(existing)!r}, "
                          "which does not exist")  # fmt: skip
    if not existing.is_dir():
        raise ConfigError(f"{label} cannot be used: {existing} is a file, not a directory")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".harness-write-probe-"):
            pass
    except OSError as exc:
        raise ConfigError(f"{label} is not writable (creating a file in {existing} failed: {exc.strerror}); "
                          f"choose another with {setting}") from None  # fmt: skip
    return existing


def check_no_links(directory: Path) -> None:
    """ResultsError (one line, naming the first link) when `directory` holds a symbolic link anywhere
    (untrusted.first_link). A results directory may come from elsewhere, and the harness and Hydra
    write at fixed names inside it (`.results.lock`, `rows/`, `jobs/`, `.claims/`, `plots/`, `reruns/`,
    `<n>/.hydra/overrides.yaml`, `multirun.yaml`): a link there would have them write outside it.
    The harness makes no links, so a directory it wrote passes; the check runs before any write."""
    try:
        link = first_link(Path(directory))
    except OSError as exc:
        raise ResultsError(f"results directory {directory} cannot be checked: {exc.strerror}") from None
    if link is not None:
        raise ResultsError(
            f"{link} is a symbolic link; a results directory the harness writes into must hold none "
            "(one from elsewhere could have it write outside the directory): remove it or copy the files"
        )


def check_hydra_places(directory: Path) -> None:
    """ResultsError (one line) when a place Hydra writes in its output `directory` is a symbolic link or
    holds one: `multirun.yaml`, `.hydra/`, `<task>.log`, and the numbered job folders `<n>/` (their
    `.hydra/*.yaml` and logs). Only those places: with `hydra.run.dir=.` Hydra's directory is a whole
    checkout, whose `.venv` holds links of its own (results.check_no_links guards the results directory)."""
    directory = Path(directory)
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name) if directory.is_dir() else []
    except OSError as exc:
        raise ResultsError(f"Hydra's output directory {directory} cannot be listed: {exc.strerror}") from None
    for entry in entries:
        hydra_writes = entry.name in ("multirun.yaml", ".hydra") or entry.name.endswith(".log") or entry.name.isdigit()
        if not hydra_writes:
            continue
        link = Path(entry.path) if entry.is_symlink() else None
        if link is None and entry.is_dir(follow_symlinks=False):
            try:
                link = first_link(Path(entry.path))
            except OSError as exc:
                raise ResultsError(f"{entry.path} cannot be checked: {exc.strerror}") from None
        if link is not None:
            raise ResultsError(f"{link} is a symbolic link where Hydra writes its records; remove it or choose "
                               "another hydra.run.dir / hydra.sweep.dir (one from elsewhere could have Hydra write "
                               "outside the directory)")  # fmt: skip


# -- rows -----------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    """`value` as JSON can hold it: a row imported from an older parquet file may hold timestamps,
    bytes, arrays or decimals. Non-finite numbers and missing values (NaT) become null, dates ISO 8601
    text, bytes text (undecodable bytes as escapes), arrays, tuples and sets lists, anything else its text."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    elif isinstance(value, np.timedelta64):
        value = pd.Timedelta(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return [_jsonable(item) for item in (sorted(value, key=str) if isinstance(value, set | frozenset) else value)]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, pd.Timestamp | datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, decimal.Decimal):
        return _jsonable(float(value))
    return str(value)


def write_row(results_dir: Path, row: dict[str, Any], latencies_ms: np.ndarray | None = None,
              rows_dir: Path | None = None) -> Path:  # fmt: skip
    """The job's row file, written atomically (see the module docstring), into `rows_dir` (default
    `results_dir/rows`; the legacy import stages its rows elsewhere)."""
    rows = Path(results_dir) / ROWS_DIR if rows_dir is None else Path(rows_dir)
    rows.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": ROW_FORMAT,
        "row": {k: _jsonable(v) for k, v in row.items()},
        "latencies_ms": [] if latencies_ms is None else [float(x) for x in np.asarray(latencies_ms, dtype=float)],
    }
    path = rows / f"{check_run_id(row['run_id'])}.json"
    atomic_write(path, lambda p: p.write_text(json.dumps(payload, allow_nan=False)))
    return path


def _read_row_file(path: Path) -> tuple[dict[str, Any], list[float]]:
    """(row, raw latencies) of one row file, or ValueError: not a harness row file, more than
    MAX_LATENCIES_PER_ROW raw latencies (counted before parsing: a small file of short numbers would
    otherwise take gigabytes), or a raw latency that is not a finite number in LATENCY_RANGE_MS (JSON
    `NaN` made the raw-latency test's p NaN, which a gate read as "no difference")."""
    text = read_regular(path)
    if text.count(",") > MAX_LATENCIES_PER_ROW + 100_000:  # the row's own fields hold far fewer commas
        raise ValueError(f"more than {MAX_LATENCIES_PER_ROW} values")
    payload = json_loads(text)
    if not isinstance(payload, dict) or payload.get("format") != ROW_FORMAT or not isinstance(payload.get("row"), dict):
        raise ValueError("not a harness row file")
    latencies = payload.get("latencies_ms") or []
    if not isinstance(latencies, list) or not all(isinstance(x, int | float) and not isinstance(x, bool)
                                                  for x in latencies):  # fmt: skip
        raise ValueError("latencies are not a list of numbers")
    if len(latencies) > MAX_LATENCIES_PER_ROW:
        raise ValueError(f"more than {MAX_LATENCIES_PER_ROW} raw latencies")
    low, high = LATENCY_RANGE_MS
    if not all(low < x <= high for x in latencies):  # NaN compares False: refused too
        raise ValueError(f"a raw latency outside ({low:g}, {high:g}] ms or not a number")
    return payload["row"], latencies


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    extra = [c for c in frame.columns if c not in COLUMNS]
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame[COLUMNS + sorted(extra)]


def _empty_latencies() -> pd.DataFrame:
    return pd.DataFrame({"run_id": pd.Series(dtype=str), "call_index": pd.Series(dtype=np.int64),
                         "latency_ms": pd.Series(dtype=np.float64)})  # fmt: skip


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):  # no such process; a pid no process can have
        return False
    except PermissionError:
        return True
    return True


def _read_rows(results_dir: Path, tidy: bool = False) -> Gathered:
    """The row files of `results_dir` (damaged ones skipped, each with a note). Only `tidy` (gather, which
    holds the directory's lock and writes there) removes what a dead writer left: a reader (report, compare,
    rerun) may be reading a directory it cannot or must not write."""
    rows, long, notes = [], [], []
    for path in sorted((Path(results_dir) / ROWS_DIR).glob("*.json")):
        try:
            row, latencies = _read_row_file(path)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)[:100]
            notes.append(
                LostRows(f"{path} is damaged ({type(exc).__name__}: {why}); skipped, its job counts as not run")
            )
            continue
        rows.append(row)
        if latencies:
            long.append(pd.DataFrame({"run_id": str(row.get("run_id")), "call_index": np.arange(len(latencies)),
                                      "latency_ms": np.asarray(latencies, dtype=np.float64)}))  # fmt: skip
    for tmp in sorted((Path(results_dir) / ROWS_DIR).glob(".*.tmp")):  # a writer that died before its rename
        note = _abandoned(tmp, tidy)
        if note:
            notes.append(note)
    frame = _ordered(pd.DataFrame(rows)) if rows else _ordered(pd.DataFrame())
    latencies = pd.concat(long, ignore_index=True) if long else _empty_latencies()
    return Gathered(frame, latencies, notes)


def _abandoned(tmp: Path, tidy: bool = False) -> str | None:
    """A line naming a half-written row file whose writer died, or None while it may still be
    writing. A dead writer on this host is certain (its pid) and, when `tidy`, its file is removed (a
    failed removal is said, not raised); a writer on
    another node (a cluster's shared directory) is presumed dead once its file is STALE_TMP_S old,
    and its file is left for that node."""
    match = TMP_NAME.match(tmp.name)
    if not match:
        return None
    try:
        regular = stat.S_ISREG(tmp.lstat().st_mode)
    except OSError:  # gone meanwhile: its writer renamed it
        return None
    if not regular:  # a directory, link or FIFO named like one: never ours to remove
        return f"{tmp} is named like a half-written row file but is no regular file; skipped, left as it is"
    pid, host = int(match["pid"]), match["host"]
    if host in (None, socket.gethostname()):
        if _pid_alive(pid):
            return None
        if not tidy:
            return f"{tmp} was left half-written by a writer that died (pid {pid}); skipped"
        try:
            tmp.unlink(missing_ok=True)
        except OSError as exc:
            return (
                f"{tmp} was left half-written by a writer that died (pid {pid}); skipped, not removed ({exc.strerror})"
            )
        return f"{tmp} was left half-written by a writer that died (pid {pid}); skipped and removed"
    try:
        age = time.time() - tmp.stat().st_mtime
    except OSError:
        return None
    if age < STALE_TMP_S:
        return None
    return f"{tmp} was left half-written on {host} (pid {pid}, {age:.0f} s ago); skipped"


@contextlib.contextmanager
def _views_lock(results_dir: Path) -> Iterator[None]:
    """One gather at a time in a directory (flock), where the filesystem can lock; where it cannot,
    gather goes on without: every view is written atomically, so the worst case is a stale view
    that the next gather rewrites."""
    import fcntl

    path = results_dir / LOCK_FILE
    try:  # never through a planted link, never blocking on a FIFO (a link or FIFO is replaced: locking.open_own_lock)
        fd = open_own_lock(path)
    except OSError as exc:  # e.g. a directory where the lock belongs (check_writable says so before a sweep)
        raise ResultsError(f"{path} cannot be opened as the gather lock ({exc.strerror}); move it away") from None
    with os.fdopen(fd, "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in NO_LOCKS:
                raise
            yield
            return
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- legacy directories (results.csv/parquet, no row files) ---------------------------------------------
def _complete_csv_rows(path: Path) -> tuple[pd.DataFrame, str | None]:
    """The rows of a CSV that have every field; (frame, what was wrong or None). A file that does not
    end in a newline was cut: its last row is dropped even when its field count looks whole."""
    text = read_regular(path, errors="replace")
    with _csv_field_limit(len(text) + 1):  # a whole field is never cut (the csv module stops at 128 KiB)
        frame, problem = _whole_csv_rows(text)
    twice = frame.columns[frame.columns.duplicated()]
    if len(twice):  # which copy is the value? read_csv took the first, an import the last: neither
        raise ResultsError(f"{path}: column {printable(str(twice[0]))!r} appears twice in its header; a results file "
                           "names each column once")  # fmt: skip
    return frame, problem


@contextlib.contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """csv's field size limit raised to `limit` (at most the file, itself at most MAX_FILE_BYTES) while
    a CSV is read, then put back: the limit is module state that other readers share."""
    old = csv.field_size_limit(max(limit, csv.field_size_limit()))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _whole_csv_rows(text: str) -> tuple[pd.DataFrame, str | None]:
    problem = None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return pd.DataFrame(), "no header"
    good = []
    last_kept = False  # whether the file's last record is in `good`
    try:
        for fields in reader:
            last_kept = len(fields) == len(header)
            if last_kept:
                good.append(fields)
            else:
                problem = f"a row with {len(fields)} of {len(header)} fields"
    except csv.Error as exc:
        problem, last_kept = f"cut inside a field ({exc})", False
    if last_kept and not text.endswith(("\n", "\r")):
        good.pop()
        problem = problem or "cut inside its last row (no final newline)"
    frame = pd.DataFrame(good, columns=header).replace("", None)
    return frame, problem


def _import_legacy(results_dir: Path) -> list[str]:
    """Row files for a directory written before they existed. Returns notes (one line each).
    The rows are written into a staging directory that becomes `rows/` only when every row is in it:
    a failure on the way leaves the directory as it was (no half `rows/` that a second gather would
    take for the whole truth) and raises ResultsError, one line. Values JSON cannot hold (timestamps,
    bytes, arrays) are stored as text or lists (_jsonable); check_frame judges them when read."""
    csv_path, parquet_path = results_dir / RESULTS_CSV, results_dir / RESULTS_PARQUET
    if not csv_path.exists() and not parquet_path.exists():
        return []
    notes, frames, damaged = [], [], []
    if parquet_path.exists():
        try:
            frames.append(pd.read_parquet(io.BytesIO(read_regular_bytes(parquet_path))))  # never blocks on a FIFO
        except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for damaged files
            damaged.append((parquet_path, f"unreadable ({type(exc).__name__})"))
    if csv_path.exists():
        try:
            rows, problem = _complete_csv_rows(csv_path)
        except OSError as exc:
            rows, problem = pd.DataFrame(), f"unreadable ({exc.strerror})"
        if problem:
            damaged.append((csv_path, problem))
        frames.append(rows)
    # a parquet category (e.g. `status`) is read as its plain values, as check_frame reads it (`&` of a
    # categorical refused the whole import)
    frames = [f.astype({c: object for c in f.columns if isinstance(f[c].dtype, pd.CategoricalDtype)})
              for f in frames if not f.empty]  # fmt: skip
    found = pd.concat(frames, ignore_index=True) if frames else None
    latencies = _empty_latencies()
    latencies_path = results_dir / LATENCIES_PARQUET
    if latencies_path.exists():
        try:
            latencies = _checked_latencies(pd.read_parquet(io.BytesIO(read_regular_bytes(latencies_path))),
                                           latencies_path)  # fmt: skip
        except Exception as exc:  # unreadable or foreign: kept beside the views, the rows are imported without
            why = str(exc) if isinstance(exc, ResultsError) else type(exc).__name__
            damaged.append((latencies_path, f"unreadable ({why})"))
    by_run = {str(k): g for k, g in latencies.groupby(latencies["run_id"].astype(str))} if len(latencies) else {}
    imported, unusable, skipped = 0, 0, 0
    staging = Path(tempfile.mkdtemp(dir=results_dir, prefix=".rows-import-"))
    try:
        if found is not None and "run_id" not in found:
            skipped = len(found)
        if found is not None and "run_id" in found:
            # a copy without run_id or status is no row; another copy of the same run_id may be whole
            no_id = ~found["run_id"].map(lambda v: not _absent(v) and bool(v))
            no_status = ~no_id & (found["status"].map(_absent) if "status" in found else True)
            found_whole = found[~no_id & ~no_status].drop_duplicates("run_id", keep="first")  # parquet first: typed
            lost_ids = set(found.loc[no_status, "run_id"].astype(str)) - set(found_whole["run_id"].astype(str))
            skipped += int(no_id.sum()) + len(lost_ids)
            found = found_whole
            for record in found.to_dict("records"):
                try:
                    check_run_id(record["run_id"])
                except ValueError as exc:
                    notes.append(LostRows(f"{results_dir}: a row was not imported: {exc}"))
                    skipped += 1
                    continue
                row = {str(k): _typed(str(k), _jsonable(v)) for k, v in record.items()}
                mine = by_run.get(row["run_id"])
                raw = None
                if mine is not None:
                    raw = mine.sort_values("call_index")["latency_ms"].to_numpy(dtype=np.float64)
                    low, high = LATENCY_RANGE_MS
                    if len(raw) > MAX_LATENCIES_PER_ROW or not np.all((raw > low) & (raw <= high)):
                        raw, unusable = None, unusable + 1
                write_row(results_dir, row, raw, rows_dir=staging)
                imported += 1
        _fsync_dir(staging)
        try:
            os.rename(staging, results_dir / ROWS_DIR)  # whole, or not at all
        except OSError:  # a job wrote its row file meanwhile: move the imported ones in beside it
            for path in staging.glob("*.json"):
                if not (results_dir / ROWS_DIR / path.name).exists():
                    os.replace(path, results_dir / ROWS_DIR / path.name)
            shutil.rmtree(staging, ignore_errors=True)
        _fsync_dir(results_dir)
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ResultsError(f"{results_dir}: the older result files cannot be imported ({type(exc).__name__}: "
                           f"{first}); nothing was changed") from None  # fmt: skip
    if skipped:  # the views are rebuilt from the row files: the only copy of a row not imported stays beside them
        for path in (parquet_path, csv_path, latencies_path):
            if path.exists() and path not in {p for p, _ in damaged}:
                damaged.append((path, f"{skipped} row(s) without a usable run_id or status were not imported"))
    orphans = set(by_run) - set(found["run_id"].astype(str) if found is not None and "run_id" in found else ())
    if orphans and latencies_path.exists() and latencies_path not in {p for p, _ in damaged}:
        # raw latencies of rows that were not imported (their table was damaged): the only copy, kept
        damaged.append((latencies_path, f"the raw latencies of {len(orphans)} run(s) whose rows were not imported"))
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for path, problem in damaged:
        kept = path.with_name(f"{path.name}.damaged-{stamp}")
        os.replace(path, kept)
        notes.append(LostRows(f"{path} was damaged ({problem}); kept as {kept.name}"))
    if unusable:
        low, high = LATENCY_RANGE_MS
        notes.append(LostRows(f"{latencies_path}: the raw latencies of {unusable} row(s) were not finite numbers "
                              f"in ({low:g}, {high:g}] ms; those rows were imported without them"))  # fmt: skip
    if damaged or imported:
        notes.append(f"{results_dir}: {imported} complete rows recovered into {ROWS_DIR}/ from the older result files")
    return notes


def _checked_latencies(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """A raw-latency table (run_id, call_index, latency_ms) read from a file, or ResultsError naming
    what it lacks: a foreign latencies.parquet without run_id raised KeyError in the import and compare."""
    missing = [c for c in ("run_id", "latency_ms") if c not in frame.columns]
    if missing:
        raise ResultsError(f"{path} is not a harness latency file: no column {', '.join(missing)}")
    latency = pd.to_numeric(frame["latency_ms"], errors="coerce")
    if frame["latency_ms"].notna().sum() != latency.notna().sum():
        raise ResultsError(f"{path}: column 'latency_ms' holds values that are not numbers")
    index = pd.to_numeric(frame["call_index"], errors="coerce") if "call_index" in frame else None
    return pd.DataFrame({"run_id": frame["run_id"].map(key_text),  # 123.0 meets row "123"
                         "call_index": np.arange(len(frame)) if index is None else index,
                         "latency_ms": latency.astype(np.float64)})  # fmt: skip


def _typed(column: str, value: Any) -> Any:
    if value is None or column not in NUMERIC_COLUMNS:
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() and column in ("repeat", "batch_size", "threads", "n_calls") else number


# -- gathering ------------------------------------------------------------------------------------
@contextlib.contextmanager
def interrupt_deferred() -> Iterator[None]:
    """Ctrl-C inside the block is held until it ends, then raised (KeyboardInterrupt): the views and their
    digests are written together. Cut between the two, the next run called every view "damaged or changed
    since the harness wrote it". Only in the main thread, and only where Ctrl-C raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:  # ignored (a background job), or a handler of someone else
        yield
        return
    held: list[int] = []
    signal.signal(signal.SIGINT, lambda number, _frame: held.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held:
        raise KeyboardInterrupt


def rows_written_since(results_dir: Path, since: datetime.datetime) -> int:
    """How many row files in `results_dir` were written at or after `since` (their modification time: a
    row file is written once, atomically): what an interrupted run finished."""
    rows = Path(results_dir) / ROWS_DIR
    try:
        return sum(1 for p in rows.glob("*.json") if p.is_file() and p.stat().st_mtime >= since.timestamp())
    except OSError:
        return 0


def gather(results_dir: Path) -> Gathered:
    """Rewrite results.csv, results.parquet and latencies.parquet from the row files (importing an
    older directory first). Notes say what was damaged or stale and what was done about it. A Ctrl-C
    meanwhile takes effect when the views are whole (interrupt_deferred)."""
    with interrupt_deferred():
        return _gather(results_dir)


def _gather(results_dir: Path) -> Gathered:
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    with _views_lock(results_dir):
        notes = [] if (results_dir / ROWS_DIR).is_dir() else _import_legacy(results_dir)
        gathered = _read_rows(results_dir, tidy=True)
        gathered.notes[:0] = notes
        written = _written_views(results_dir)
        for name in VIEWS:
            path = results_dir / name
            if not notes and present(path) and written.get(name) != _view_digest(path):
                gathered.notes.append(f"{path} was damaged or changed since the harness wrote it; rewritten from "
                                      f"the {len(gathered.frame)} row files")  # fmt: skip
        frame = gathered.frame
        atomic_write(results_dir / RESULTS_CSV, lambda p: frame.to_csv(p, index=False))
        atomic_write(results_dir / RESULTS_PARQUET, lambda p: _for_parquet(frame).to_parquet(p, index=False))
        atomic_write(results_dir / LATENCIES_PARQUET, lambda p: gathered.latencies.to_parquet(p, index=False))
        from harness.summary import SUMMARY_CSV, SUMMARY_PARQUET, summarize

        try:
            summary = summarize(check_frame(frame, str(results_dir)) if len(frame) else frame)
        except ResultsError as exc:  # one damaged row file must not stop the views (nor the sweep writing them)
            gathered.notes.append(f"summary not written: {exc}")
            summary = summarize(frame.iloc[0:0])
        atomic_write(results_dir / SUMMARY_CSV, lambda p: summary.to_csv(p, index=False))
        atomic_write(results_dir / SUMMARY_PARQUET, lambda p: _for_parquet(summary).to_parquet(p, index=False))
        digests = {name: file_sha256(results_dir / name) for name in VIEWS}
        atomic_write(results_dir / VIEWS_RECORD, lambda p: p.write_text(json.dumps(digests)))
    return gathered


def _view_digest(path: Path) -> str | None:
    """The SHA-256 of a view, or None when it is no regular file (a FIFO or a link planted in a
    directory from elsewhere: hashing it would block or read another file; it is rewritten)."""
    try:
        return file_sha256(path)
    except OSError:
        return None


def _written_views(results_dir: Path) -> dict[str, str]:
    """The SHA-256 of each view as the harness last wrote it (empty when unknown)."""
    try:
        record = json_loads(read_regular(results_dir / VIEWS_RECORD))
        return record if isinstance(record, dict) else {}
    except (OSError, ValueError, UnicodeDecodeError):
        return {}


def append_result(
    results_dir: Path, row: dict[str, Any], latencies_ms: np.ndarray | None = None, *, gather: bool = True
) -> list[str]:
    """Write one job's row file, then gather the views (`gather=False`: the row file only; a launcher's
    worker leaves the tables to the driver, so no lock is shared between nodes). Returns the gather's notes."""
    with interrupt_deferred():  # the row and the views it belongs in, together
        write_row(results_dir, row, latencies_ms)
        return _gathered_notes(results_dir) if gather else []


def _gathered_notes(results_dir: Path) -> list[str]:
    return gather(results_dir).notes


def _for_parquet(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: None if v is None or v != v else str(v))
    return frame


# -- reading (report, compare, rerun, resume) -------------------------------------------------------
def _absent(value: Any) -> bool:
    """A cell that holds nothing: None, or NaN (how pandas and CSV show an empty one)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _derived_config_hash(row: pd.Series) -> str:
    """A configuration key for a row that carries no config_hash: its workload, runtime, batch size,
    precision and stored configuration (config_json), hashed (sha256, 16 hex digits)."""
    parts = [str(row.get(c)) for c in ("workload", "runtime", "batch_size", "precision_requested", "config_json")]
    return "derived-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def check_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """`frame` with the harness's columns and numeric types, or ResultsError naming what is wrong."""
    if frame.empty and not len(frame.columns):
        raise ResultsError(f"{source} holds no result rows")
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ResultsError(f"{source} is not a harness results file: no column {', '.join(missing)}")
    if len(frame.columns) > MAX_COLUMNS:
        raise ResultsError(f"{source} has {len(frame.columns)} columns; a harness results file has fewer than "
                           f"{MAX_COLUMNS}")  # fmt: skip
    frame = frame.drop(columns=[c for c in frame.columns if str(c).startswith("_") or c in COMPUTED_COLUMNS])
    # every documented column, empty where a file lacks it: an older file without `accuracy` read as None
    # (object), and report and compare then subtracted and compared None
    frame = _ordered(frame.copy())
    # ISO 8601 text sorts in time order (a parquet's timestamps become that text); a number among the texts
    # made every sort of the rows raise: read as not recorded
    started = frame["started_at"].map(lambda v: _jsonable(v) if isinstance(v, datetime.date | np.datetime64) else v)
    frame["started_at"] = started.where(started.map(lambda v: isinstance(v, str)))
    # rows without a config_hash (a foreign or older file) are told apart by what they measured: all of
    # them read as one configuration, and the report showed three runtimes as one row
    unnamed = frame["config_hash"].map(lambda v: _absent(v) or str(v) == "")
    if unnamed.any():
        frame["config_hash"] = frame["config_hash"].astype(object)
        frame.loc[unnamed, "config_hash"] = frame.loc[unnamed].apply(_derived_config_hash, axis=1)
    for column in frame.columns:  # a parquet category (e.g. `status`) compares and groups as its plain values
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(object)
    for column in frame.columns:  # a row file is JSON, a parquet cell may be an array: one value per cell only
        nested = frame[column].map(lambda v: isinstance(v, NESTED_TYPES))
        if nested.any():
            row = int(np.flatnonzero(nested.to_numpy())[0]) + 1
            raise ResultsError(f"{source}: column {column!r} holds a {type(frame[column][nested].iloc[0]).__name__} "
                               f"(row {row}), not a single value")  # fmt: skip
    for group in COLUMN_GROUPS:
        if any(c in frame.columns for c in group):
            for column in group:
                if column not in frame.columns:
                    frame[column] = np.nan
    for column in [c for c in NUMERIC_COLUMNS if c in frame.columns]:
        # a JSON true/false is no number (to_numeric read "repeat": true as repeat 1, a finished job)
        truth = frame[column].map(lambda v: isinstance(v, bool | np.bool_))
        numbers = pd.to_numeric(frame[column].where(~truth, "not a number"), errors="coerce")
        bad = numbers.isna() & frame[column].notna() & (frame[column].astype(str).str.strip() != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            value = frame[column][bad].iloc[0]
            shown = str(bool(value)).lower() if isinstance(value, bool | np.bool_) else repr(value)  # JSON's word
            raise ResultsError(f"{source}: column {column!r} holds {shown} (row {row}), not a number")
        frame[column] = numbers
    for column in [c for c in INTEGER_COLUMNS if c in frame.columns]:
        values = frame[column]
        bad = values.notna() & ~(np.isfinite(values) & (values >= 0) & (values <= MAX_COUNT) & (values % 1 == 0))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise ResultsError(f"{source}: column {column!r} holds {float(values[bad].iloc[0])!r} (row {row}); it "
                               f"must be an integer from 0 to {MAX_COUNT}")  # fmt: skip
    # text is printed: a terminal must not act on what a file from elsewhere holds
    for column in frame.select_dtypes(include=["object", "string"]).columns:
        acting = frame[column].map(lambda v: isinstance(v, str) and TERMINAL_CONTROLS.search(v) is not None)
        if acting.any():
            frame.loc[acting, column] = frame.loc[acting, column].map(printable)
    ok = frame["status"].astype(str) == OK
    if ok.any() and ("latency_ms_p50" not in frame.columns or frame.loc[ok, "latency_ms_p50"].isna().any()):
        missing = ok if "latency_ms_p50" not in frame.columns else ok & frame["latency_ms_p50"].isna()
        run_id = frame.loc[missing[missing].index[0], "run_id"]
        raise ResultsError(f"{source}: an ok row (run_id {run_id!r}) has no latency_ms_p50; every ok row is a "
                           "measurement and carries one")  # fmt: skip
    for column, (low, high) in MEASURABLE.items():
        if column not in frame.columns:
            continue
        values = frame.loc[ok, column]
        bad = values.notna() & ~(np.isfinite(values) & (values > low) & (values <= high))
        if bad.any():
            run_id = frame.loc[bad[bad].index[0], "run_id"]
            raise ResultsError(f"{source}: column {column!r} holds {float(values[bad].iloc[0])!r} in an ok row (run_id "
                               f"{run_id!r}); it must be a number in ({low:g}, {high:g}]")  # fmt: skip
    for column, (low, high) in RANGES.items():
        if column not in frame.columns:
            continue
        values = frame[column]
        bad = values.notna() & ~((values >= low) & (values <= high))
        if bad.any():
            run_id = frame.loc[bad[bad].index[0], "run_id"]
            raise ResultsError(f"{source}: column {column!r} holds {float(values[bad].iloc[0])!r} (run_id {run_id!r}); "
                               f"it must be a number in [{low:g}, {high:g}]")  # fmt: skip
    ladder = [c for c in ("latency_ms_min", "latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "latency_ms_max")
              if c in frame.columns]  # fmt: skip
    values = frame.loc[ok, ladder]
    below = values.lt(values.cummax(axis=1) * (1 - 1e-9))  # a quantile below a lower one (gaps skipped)
    if below.to_numpy().any():
        index = below.any(axis=1).idxmax()
        raise ResultsError(f"{source}: row {frame.loc[index, 'run_id']!r} has {below.loc[index].idxmax()} below a "
                           f"lower quantile ({', '.join(ladder)} must not decrease): the row is damaged")  # fmt: skip
    if {"latency_ms_p50_ci_low", "latency_ms_p50_ci_high"} <= set(frame.columns):
        p50, low, high = (frame.loc[ok, f"latency_ms_p50{end}"] for end in ("", "_ci_low", "_ci_high"))
        outside = (low > p50 * (1 + 1e-9)) | (high < p50 * (1 - 1e-9))  # NaN bounds (not established) compare False
        if outside.any():
            raise ResultsError(f"{source}: row {frame.loc[outside[outside].index[0], 'run_id']!r} has its p50 outside "
                               "its own 95% CI (latency_ms_p50_ci_low/high): the row is damaged")  # fmt: skip
    unknown = sorted(set(frame["status"].dropna().astype(str)) - set(STATUSES))
    if unknown:
        raise ResultsError(f"{source}: status {unknown[0]!r} is not one of {', '.join(STATUSES)}")
    for column in NAMING_COLUMNS:
        named = frame[column].map(lambda v: not _absent(v) and str(v) != "")
        if not named.all():
            raise ResultsError(f"{source}: column {column!r} is empty in row {int(np.flatnonzero(~named)[0]) + 1}")
        frame[column] = frame[column].astype(str)
    twice = frame["run_id"].duplicated()
    if twice.any():  # a run_id keys its raw latencies and its rerun command: two rows cannot share one
        row = int(np.flatnonzero(twice.to_numpy())[0]) + 1
        raise ResultsError(f"{source}: run_id {frame['run_id'][twice].iloc[0]!r} names two rows (row {row} again)")
    for column in [c for c in TEXT_COLUMNS if c in frame.columns]:  # a JSON row or a parquet file may hold numbers
        frame[column] = frame[column].map(lambda v: v if isinstance(v, str) or _absent(v) or v is pd.NA
                                          else recorded_text(v)).astype(object)  # fmt: skip
    batch = frame["batch_size"]  # plots, panels and per-sample figures divide and group by it
    whole = (batch.isna() & (frame["status"] != OK)) | ((batch >= 1) & (batch <= MAX_BATCH) & (batch % 1 == 0))
    if not whole.all():
        row = int(np.flatnonzero(~whole.to_numpy())[0]) + 1
        raise ResultsError(f"{source}: column 'batch_size' holds {float(batch[~whole].iloc[0])!r} (row {row}); "
                           f"it must be an integer from 1 to {MAX_BATCH}")  # fmt: skip
    return _ordered(frame).copy()  # one block per dtype again: the checks above set columns one by one


def read_results(path: Path, notes: list[str] | None = None) -> pd.DataFrame:
    """Rows of a results directory (its row files) or of one results.csv/.parquet file, checked.
    A directory with no rows gives an empty frame with the schema; an unreadable, foreign or
    mistyped file raises ResultsError. Notes on damaged row files are appended to `notes`."""
    path = Path(path)
    if path.is_dir():
        if (path / ROWS_DIR).is_dir():
            gathered = _read_rows(path)
            if notes is not None:
                notes.extend(gathered.notes)
            return check_frame(gathered.frame, str(path)) if len(gathered.frame) else gathered.frame
        legacy = path / RESULTS_PARQUET if (path / RESULTS_PARQUET).exists() else path / RESULTS_CSV
        if not legacy.exists():
            return _ordered(pd.DataFrame())
        path = legacy
    if not path.exists():
        raise ResultsError(f"{path} does not exist; give a sweep directory or a results.csv/.parquet file")
    path = path.resolve()  # a file named on the command line may be a link; what it names is read
    if not path.is_file():  # a FIFO or device would block or never end
        raise ResultsError(f"{path} is not a regular file")
    if path.stat().st_size == 0:
        raise ResultsError(f"{path} is empty")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ResultsError(f"{path} is larger than {MAX_FILE_BYTES} bytes: not a harness results file")
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(io.BytesIO(read_regular_bytes(path)))  # never blocks on what replaced it
        elif path.suffix == ".csv":
            # a file cut mid-row (copied while written, truncated in transit): whole rows only, said once
            try:
                whole, problem = _complete_csv_rows(path)
            except OSError as exc:
                raise ResultsError(f"{path} cannot be read ({exc.strerror})") from None
            if problem and whole.empty:
                raise ResultsError(f"{path} cannot be read: no complete row ({problem})")
            if problem and notes is not None:
                notes.append(LostRows(f"{path} is damaged ({problem}); its incomplete rows are skipped"))
            text = io.StringIO()
            whole.to_csv(text, index=False)  # whole rows back to CSV: read_csv types them as it always did
            text.seek(0)
            missing = {c: [""] if c in TEXT_COLUMNS else CSV_MISSING for c in whole.columns}
            frame = (pd.read_csv(text, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False, na_values=missing)
                     if len(whole.columns) else pd.DataFrame())  # fmt: skip
        else:
            raise ResultsError(f"{path} is not a .csv or .parquet results file")
    except ResultsError:
        raise
    except Exception as exc:  # ParserError, UnicodeDecodeError, ArrowInvalid, ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ResultsError(f"{path} cannot be read ({type(exc).__name__}: {first})") from None
    return check_frame(frame, str(path))


def read_latencies(results_dir: Path) -> pd.DataFrame:
    """Raw latencies, long format (run_id, call_index, latency_ms): from the row files, else the view
    (ResultsError when that view lacks run_id or latency_ms)."""
    results_dir = Path(results_dir)
    if (results_dir / ROWS_DIR).is_dir():
        return _read_rows(results_dir).latencies
    path = results_dir / LATENCIES_PARQUET
    if not path.exists():
        return _empty_latencies()
    try:  # through untrusted.read_regular_bytes: a FIFO or a link to /dev/zero there would block pandas
        frame = pd.read_parquet(io.BytesIO(read_regular_bytes(path)))
    except Exception:  # a damaged view: raw latencies are optional evidence
        return _empty_latencies()
    return _checked_latencies(frame, path)  # a foreign one (no run_id column): ResultsError, one line


def recorded_text(value: object) -> str:
    """A recorded value as text, with 2.0 written 2: a CSV column with gaps reads its integers back as
    floats. Strings stay as they are, so hashes such as "1e50..." are never read as numbers."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def key_text(value: object) -> str:
    """A value as a join key: recorded_text, with a missing value (NaN, None) as "" so that it meets
    its like (NaN never equals NaN)."""
    return "" if pd.isna(value) else recorded_text(value)  # type: ignore[call-overload]


# a run that started and failed; "unsupported" / "unavailable" (an IPEX venv not set up yet) never ran
RAN_AND_FAILED = (*FAILED_STATUSES, INVALID)


def started_seconds(started_at: object) -> float:
    """A row's started_at as POSIX seconds (UTC; utc_time reads any offset, a space for the T), for ordering
    rows; -inf where it is missing or no time: such a row is the oldest, never the newest (sorted as text,
    23:00-05:00 came before 01:18+00:00 of the next day, and a row without a time was newest and replaced
    the ok run of its repeat unseen)."""
    return t.timestamp() if (t := utc_time(started_at)) is not None else -math.inf


def started_order(frame: pd.DataFrame) -> pd.Series:
    """Per row, started_seconds (-inf for every row when the frame has no started_at)."""
    if "started_at" not in frame:
        return pd.Series(-math.inf, index=frame.index, dtype=float)
    return frame["started_at"].map(started_seconds).astype(float)


def by_start(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` oldest first by started_order (stable: rows started alike keep their order)."""
    return frame.iloc[np.argsort(started_order(frame).to_numpy(), kind="stable")]


def standing(frame: pd.DataFrame, by_host: bool = True) -> pd.DataFrame:
    """The rows that stand for their repeat: of the rows of one configuration, host (all hosts as one
    when not `by_host`), lineage (analysis.load's sweep, where given) and `repeat`, the newest by
    started_at (started_order: a row without a time is the oldest). A repeat measured again (force=true, or a
    resume after it crashed) is that repeat: pooled with the run it replaced, 2 repeats read as 3 runs, a
    crash already redone kept the configuration "failed" for good, and an ok run replaced by a failed
    one still stood in the report, compare and a resume. Rows without a repeat number (older files), and
    rows that never ran (unsupported, unavailable), each stand alone."""
    if frame.empty or "repeat" not in frame or "config_hash" not in frame:
        return frame
    repeat = frame["repeat"].map(key_text)
    # a row that never ran (unsupported, unavailable: an IPEX venv missing at a forced re-run) replaces nothing
    ran = frame["status"].isin((OK, *RAN_AND_FAILED)) if "status" in frame else True
    alone = "run " + frame["run_id"].astype(str) if "run_id" in frame else pd.Series(
        [f"row {i}" for i in range(len(frame))], index=frame.index)  # fmt: skip
    repeat = repeat.where((repeat != "") & ran, alone)
    host = frame["hostname"].map(key_text) if by_host and "hostname" in frame else pd.Series("", index=frame.index)
    # two independent sweeps given together (analysis.load's `lineage`) are two sweeps: their repeat 0s are two runs
    lineage = frame["lineage"].map(key_text) if "lineage" in frame else pd.Series("", index=frame.index)
    key = frame["config_hash"].astype(str) + "\x1f" + host + "\x1f" + lineage + "\x1f" + repeat
    keyed = pd.DataFrame({"key": key, "started_at": frame.get("started_at")}, index=frame.index)  # not a wide copy
    newest = by_start(keyed).drop_duplicates("key", keep="last")
    return frame[frame.index.isin(newest.index)]


def utc_time(text: object) -> datetime.datetime | None:
    """An ISO 8601 time (`started_at`, `force_since`) as an aware UTC datetime; a time without a zone is
    UTC, as the harness writes started_at. None for anything else (a missing or damaged cell)."""
    if not isinstance(text, str):
        return None
    try:
        value = datetime.datetime.fromisoformat(text.strip())
        return value.replace(tzinfo=datetime.UTC) if value.tzinfo is None else value.astimezone(datetime.UTC)
    except (ValueError, OverflowError):  # 0001-01-01T00:00:00+01:00 lies before the first representable UTC time
        return None


def started_since(frame: pd.DataFrame, since: datetime.datetime | None) -> pd.Series:
    """Per row: started at or after `since` (all True when `since` is None; False where started_at is
    missing or no time)."""
    if since is None:
        return pd.Series(True, index=frame.index)
    return started_order(frame) >= since.timestamp()


@dataclass(frozen=True)
class Finished:
    """What a resumed sweep skips: `(config_hash, repeat) in finished`. A repeat is finished when the
    newest of its rows that ran, on any host (standing), is ok and of this harness code (`harness_code`;
    rows from before it was recorded count; those of other code are `other_code`: measured again, as the
    summary counts one software's runs). A repeat whose newest row failed is measured again, even after
    an older ok row (a forced re-run that crashed). Every
    repeat of a configuration is when its newest row says that this very harness commit on this host
    found it `unsupported` (the code's answer, which another run gives again, not a measurement).
    Another or an uncommitted harness, another host (a cluster node, a teammate's results) or force=true
    (e.g. after installing a library) asks again; force_since=T only for repeats whose newest row started
    before T (completed's `since`: an interrupted forced sweep resumed)."""

    ok: frozenset[tuple[str, int]] = frozenset()
    unsupported: dict[str, str] = field(default_factory=dict)  # config_hash -> the row's error, printable
    other_code: frozenset[tuple[str, int]] = frozenset()  # ok only in rows of other harness code: run again
    since: datetime.datetime | None = None  # force_since: only rows started at or after it count

    def __contains__(self, key: object) -> bool:
        return key in self.ok or (isinstance(key, tuple) and bool(key) and key[0] in self.unsupported)

    def reason(self, config_hash: str, repeat: int) -> tuple[str, str]:
        """(the status the skipped job stands for, why it was skipped: one line)."""
        after = f", started at or after force_since={self.since:%Y-%m-%dT%H:%M:%SZ}" if self.since else ""
        if (config_hash, repeat) in self.ok:
            return OK, f"an ok row with config_hash {config_hash}, repeat {repeat}{after}, exists"
        return UNSUPPORTED, (f"this harness commit found config_hash {config_hash} unsupported on this host{after} "
                             f"({self.unsupported[config_hash]}); force=true tries again")  # fmt: skip


def _settled_unsupported(frame: pd.DataFrame, since: datetime.datetime | None = None) -> dict[str, str]:
    """config_hash -> error of the configurations whose newest row is `unsupported`, made by this
    (committed) harness on this host (see Finished), at or after `since` when given."""
    sha = git_sha()
    if not COMMITTED_SHA.match(sha) or not {"harness_git_sha", "hostname", "started_at"} <= set(frame.columns):
        return {}
    newest = by_start(frame.assign(_hash=frame["config_hash"].astype(str))).drop_duplicates("_hash", keep="last")
    same = newest[(newest["status"] == UNSUPPORTED) & (newest["harness_git_sha"].astype(str) == sha)
                  & (newest["hostname"].astype(str) == socket.gethostname())
                  & started_since(newest, since)]  # fmt: skip
    settled = {}
    for config_hash, error in zip(same["_hash"], same.get("error", pd.Series(None, index=same.index)), strict=True):
        why = " ".join(str(error).split())[:200] if isinstance(error, str) and error.strip() else "no reason recorded"
        settled[config_hash] = printable(why)
    return settled


def completed(results_dir: Path, notes: list[str] | None = None, since: datetime.datetime | None = None) -> Finished:
    """What a resumed sweep skips (Finished): jobs whose newest row is ok, and configurations this harness
    commit found unsupported here; with `since` (force_since), only those whose row started at or after
    it. Only whole row files count (a writer killed mid-row leaves none). The rows are checked as report
    checks them (check_frame): a row report refuses (an ok row with a zero p50, an infinite repeat, ...)
    raises ResultsError, one line, instead of counting as a finished job."""
    frame = _read_rows(Path(results_dir)).frame if (Path(results_dir) / ROWS_DIR).is_dir() else None
    if frame is None:
        if (Path(results_dir) / RESULTS_CSV).exists() or (Path(results_dir) / RESULTS_PARQUET).exists():
            found = gather(results_dir).notes  # an older directory: import it first (what it recovered, said)
            if notes is not None:
                notes.extend(found)
            frame = _read_rows(Path(results_dir)).frame
        else:
            return Finished()
    if len(frame):
        frame = check_frame(frame, str(results_dir))
    # a repeat is as its newest row that ran (standing): an ok run replaced by a failed forced re-run is not
    # finished. An ok row without a repeat number (an older file) is repeat 0 here, as the keys below read it,
    # and a newer failure of repeat 0 replaces it; a failure without one stands alone, as everywhere
    repeats = pd.to_numeric(frame["repeat"], errors="coerce") if "repeat" in frame else pd.Series(np.nan, frame.index)
    repeats = repeats.where(repeats.notna() | (frame["status"] != OK), 0)
    ok = standing(frame.assign(repeat=repeats), by_host=False)
    ok = ok[(ok["status"] == OK) & started_since(ok, since)]
    keys = pd.Series(list(zip(ok["config_hash"].astype(str), pd.to_numeric(ok["repeat"], errors="coerce").fillna(0)
                              .astype(int), strict=True)), index=ok.index, dtype=object)  # fmt: skip
    from harness.cache import code_fingerprint  # here: cache imports nothing of results, but keep it lazy

    # an ok row of other harness code is no finished repeat: the summary counts one software's runs, so
    # skipping it left a resumed sweep with fewer usable runs than `repeats` (older rows without one count)
    code = ok["harness_code"] if "harness_code" in ok else pd.Series(np.nan, index=ok.index)
    mine = code.isna() | (code.astype(str) == code_fingerprint())
    return Finished(frozenset(keys[mine]), _settled_unsupported(frame, since),
                    frozenset(keys[~mine]) - frozenset(keys[mine]), since)  # fmt: skip


def check_resumable(results_dir: Path) -> list[str]:
    """ConfigError (one line) when an existing `results_dir` holds rows a resumed sweep cannot trust
    (completed raises ResultsError): said before any job runs, as report would say it. Returns the notes
    of importing an older directory (a damaged results.csv kept aside, the rows recovered): to be said."""
    notes: list[str] = []
    if not Path(results_dir).is_dir():
        return notes
    try:
        completed(results_dir, notes)
    except ResultsError as exc:
        culprits = _refused_row_files(Path(results_dir), exc)
        which = f"move {', '.join(map(str, culprits))} away" if culprits else "move the damaged row file away"
        raise ConfigError(f"results directory {str(results_dir)!r} cannot be resumed: {exc}; {which} or choose "
                          "another results directory") from None  # fmt: skip
    return notes


def _refused_row_files(results_dir: Path, refusal: ResultsError) -> list[Path]:
    """The row files behind a refusal of the whole directory, to name them: each file check_frame
    refuses on its own, else (a refusal of two rows together, such as a shared run_id) the files of the
    run_id the message names. At most 3; an empty list when none can be told."""
    files = sorted((results_dir / ROWS_DIR).glob("*.json"))
    alone = []
    for path in files:
        try:
            row, _ = _read_row_file(path)
            check_frame(_ordered(pd.DataFrame([row])), str(path))
        except ResultsError:
            alone.append(path)
        except (OSError, ValueError, UnicodeDecodeError):
            continue  # skipped when read: not what was refused
        if len(alone) == 3:
            break
    if alone:
        return alone
    named = re.search(r"run_id '([^']+)'", str(refusal))
    if not named:
        return []
    matches = []
    for path in files:
        try:
            if str(_read_row_file(path)[0].get("run_id")) == named.group(1):
                matches.append(path)
        except (OSError, ValueError, UnicodeDecodeError):
            continue
    return matches[:3]


@contextlib.contextmanager
def claim(results_dir: Path, config_hash: str, repeat: int) -> Iterator[bool]:
    """Claim one job for measuring: True while this process holds it, False when another process
    (another sweep into the same directory) does. A lock held by a dead process is free again
    (flock), so a crashed sweep never blocks the job."""
    import fcntl

    claims = Path(results_dir) / ".claims"
    claims.mkdir(parents=True, exist_ok=True)
    with os.fdopen(open_own_lock(claims / f"{config_hash}-r{repeat}.lock"), "rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        except OSError as exc:  # a filesystem that cannot lock: no claim, the job runs
            if exc.errno not in NO_LOCKS:
                raise
            yield True
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
