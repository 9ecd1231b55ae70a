"""Parent side: run each job in a fresh child process and record exactly one row for it.

The parent blocks on the child's event pipe (select with the job's remaining time) and never
polls: on a 2-core machine a busy parent would steal a core from the measurement.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness import results
from harness.config import JobSpec
from harness.envinfo import PROJECT_ROOT, machine_columns
from harness.machine import host_lock
from harness.progress import JobProgress

LOG_TAIL_LINES = 12


@dataclass
class JobOutcome:
    row: dict[str, Any]
    skipped: bool = False
    latencies_ms: np.ndarray | None = field(default=None, repr=False)
    skip_reason: str = ""
    notes: list[str] = field(default_factory=list)  # damaged result files found and what was done

    @property
    def status(self) -> str:
        return str(self.row.get("status"))


def resolve_interpreter(python: str | None) -> Path:
    if not python:
        return Path(sys.executable)
    path = Path(python).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def identity_columns(spec: JobSpec, run_id: str, repeat: int = 0) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "config_hash": spec.config_hash(),
        "repeat": repeat,
        "workload": spec.workload.name,
        "runtime": spec.runtime.name,
        "batch_size": spec.batch,
        "precision_requested": spec.runtime.precision,
        "threads": spec.threads,
        "seed": spec.seed,
        "config_json": json.dumps(spec.to_dict(), sort_keys=True),
        **machine_columns(),
    }


def run_job_isolated(
    spec: JobSpec,
    results_dir: Path,
    *,
    force: bool = False,
    since: datetime | None = None,
    repeat: int = 0,
    label: str = "",
    rerun_command: str = "",
    config_yaml: str = "",
    gather: bool = True,
) -> JobOutcome:
    """Run one validated job (repeat number `repeat`) in a child process and append its row to
    `results_dir` (`gather=False`: write only its row file, for a launcher's worker on another node;
    the driver gathers the tables). Skipped when it is finished (results.Finished: the newest row of
    (config_hash, repeat) is ok, or this harness commit found the configuration unsupported; unless `force`;
    with `since` (force_since), only such a row started at or after it counts)
    or when another process is measuring it right now (two sweeps into one directory split the work).
    Raises ConfigError when `results_dir` is not writable, before anything runs."""
    results_dir = Path(results_dir)
    results.check_writable(results_dir)
    config_hash = spec.config_hash()

    def finished() -> JobOutcome | None:
        done = results.completed(results_dir, since=since)
        if (force and since is None) or (config_hash, repeat) not in done:
            return None
        status, reason = done.reason(config_hash, repeat)
        return JobOutcome(row={"config_hash": config_hash, "repeat": repeat, "status": status}, skipped=True,
                          skip_reason=reason)  # fmt: skip

    if (outcome := finished()) is not None:
        return outcome
    with results.claim(results_dir, config_hash, repeat) as mine:
        if not mine:
            return JobOutcome(row={"config_hash": config_hash, "repeat": repeat, "status": None}, skipped=True,
                              skip_reason="another sweep into this directory is measuring it now")  # fmt: skip
        if (outcome := finished()) is not None:  # finished while we waited
            return outcome
        return _run_claimed(spec, results_dir, repeat, label, rerun_command, config_yaml, gather)


def _run_claimed(
    spec: JobSpec, results_dir: Path, repeat: int, label: str, rerun_command: str, config_yaml: str, gather: bool
) -> JobOutcome:
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    row = identity_columns(spec, run_id, repeat)
    row["started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if rerun_command:
        row["rerun_command"] = rerun_command
    job_dir = results_dir / "jobs" / run_id
    job_dir.mkdir(parents=True, exist_ok=True)
    results.atomic_write(job_dir / "spec.json", lambda p: p.write_text(json.dumps(spec.to_dict(), indent=2)))
    if config_yaml:
        # the resolved config, beside the results
        results.atomic_write(job_dir / "config.yaml", lambda p: p.write_text(config_yaml))
    row["log_path"] = str((job_dir / "job.log").resolve())

    started = time.monotonic()
    interpreter = resolve_interpreter(spec.runtime.python)
    latencies = None
    if not interpreter.exists():
        hint = f"; create it with `{spec.runtime.setup_hint}`" if spec.runtime.setup_hint else ""
        row.update(status="unavailable", error=f"interpreter {interpreter} not found{hint}")
    else:
        # One measurement per machine at a time, from this sweep or any other (harness/machine.py).
        with host_lock(label or run_id) as waited:
            row["host_lock_wait_s"] = waited
            child_row, latencies = _run_child(spec, interpreter, job_dir, label or run_id)
        row.update(child_row)
    row["duration_s"] = time.monotonic() - started
    notes = results.append_result(results_dir, row, latencies, gather=gather)
    return JobOutcome(row=row, latencies_ms=latencies, notes=notes)


def _child_env(spec: JobSpec) -> dict[str, str]:
    env = dict(os.environ)
    # Thread pools size themselves at import time: tell them before the child starts.
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(spec.threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Inductor's on-disk caches hold pickles, and a warm one makes compile_s depend on earlier runs.
    env["TORCHINDUCTOR_FX_GRAPH_CACHE"] = "0"
    env["TORCHINDUCTOR_AUTOGRAD_CACHE"] = "0"
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    return env


def _run_child(spec: JobSpec, interpreter: Path, job_dir: Path, label: str) -> tuple[dict[str, Any], np.ndarray | None]:
    read_fd, write_fd = os.pipe()
    log_path = job_dir / "job.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(interpreter), "-m", "harness.worker", str(job_dir / "spec.json"), str(write_fd)],
            pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=_child_env(spec), cwd=os.getcwd(), start_new_session=True,
        )  # fmt: skip
    os.close(write_fd)  # only the child holds the write end: EOF means the child is gone

    progress = JobProgress(label)
    row: dict[str, Any] = {}
    latencies = None
    got_result = timed_out = False
    deadline = time.monotonic() + spec.timeout_s
    buffer = b""
    with selectors.DefaultSelector() as selector, os.fdopen(read_fd, "rb", buffering=0) as pipe:
        selector.register(pipe, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(timeout=remaining):  # blocks until data or timeout
                timed_out = True
                break
            chunk = pipe.read(65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                event = json.loads(line)
                if event["event"] == "started":
                    row.update(
                        python_version=event["python_version"],
                        torch_version=event["torch_version"],
                        transformers_version=event.get("transformers_version"),
                    )
                elif event["event"] == "phase":
                    progress.update(event)
                elif event["event"] == "result":
                    row.update(event["row"])
                    if event.get("latencies_ms"):
                        latencies = np.asarray(event["latencies_ms"], dtype=np.float64)
                    got_result = True
    if timed_out:
        _kill_group(process)
    returncode = process.wait()  # the child has closed its pipe: it is exiting, so this is short
    progress.close(row.get("status") if got_result else None)

    if timed_out:
        row.update(status="timeout", error=f"no result within timeout_s={spec.timeout_s:g}; child killed")
    elif not got_result:
        row.update(status="crashed", error=_crash_text(returncode, log_path))
    return row, latencies


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _crash_text(returncode: int, log_path: Path) -> str:
    if returncode < 0:
        name = signal.Signals(-returncode).name
        what = f"child killed by {name}" + (" (out of memory?)" if name == "SIGKILL" else "")
    else:
        what = f"child exited with code {returncode} without a result"
    tail = log_path.read_text(errors="replace").strip().splitlines()[-LOG_TAIL_LINES:]
    return what + (" | log tail: " + " / ".join(line.strip() for line in tail if line.strip()) if tail else "")
